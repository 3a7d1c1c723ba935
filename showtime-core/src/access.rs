//! Access: who may ask Showtime for something, and how many environments a
//! team's members may hold. Pure rules over facts the engine gathers (a
//! repository permission, team memberships); nothing here asks for them.
//!
//! # The rules
//!
//! * **Who may act.** A person may trigger, command, or push a commit that
//!   deploys when their repository permission is at least
//!   [`Policy::required_permission`], *or* when they are an active member of
//!   one of [`Policy::allowed_teams`]. Teams are consulted only when the
//!   permission alone does not allow, in the order configured, and the first
//!   active membership settles it: someone with `write` costs no team
//!   look-up. A pending invitation is not membership. A membership that
//!   could not be checked (a token without the `members: read` organization
//!   permission, say) counts as no membership, so access fails closed, and
//!   the refusal quotes the error.
//! * **Per-team quotas.** For each team of [`Policy::team_quotas`] the
//!   requester of a new environment is an active member of, the
//!   environments of other PRs whose requester is an active member of that
//!   team count against the team's quota; when they reach it, the new
//!   environment is refused. An environment with no recorded requester
//!   counts for no team. The quota applies however the requester was
//!   allowed (by permission or by team). A membership that could not be
//!   checked refuses the new environment, naming the error, rather than
//!   guessing.
//!
//! [`Policy::required_permission`]: crate::policy::Policy::required_permission
//! [`Policy::allowed_teams`]: crate::policy::Policy::allowed_teams
//! [`Policy::team_quotas`]: crate::policy::Policy::team_quotas

use std::collections::BTreeMap;

use crate::policy::Policy;
use crate::ports::{EnvInfo, Permission};
use crate::{Login, PrNumber, Team};

/// Whether a person belongs to a team, as the PR host answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Membership {
    /// An active member (GitHub: `state: active`).
    Active,
    /// Not a member, or only invited (GitHub: 404, or `state: pending`).
    Absent,
    /// The host could not tell; counted as no membership.
    Unchecked {
        /// The host's error, for a person.
        reason: String,
    },
}

impl Membership {
    /// Whether this is an active membership.
    pub fn is_active(&self) -> bool {
        *self == Membership::Active
    }

    /// The membership a host's answer says.
    pub(crate) fn of(read: Result<bool, crate::ports::PortError>) -> Self {
        match read {
            Ok(true) => Membership::Active,
            Ok(false) => Membership::Absent,
            Err(e) => Membership::Unchecked {
                reason: e.to_string(),
            },
        }
    }
}

/// The memberships known so far, by team and login.
pub type Memberships = BTreeMap<(Team, Login), Membership>;

/// Which rule let someone act.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// Their repository permission meets the policy's level.
    Permission,
    /// They are an active member of this allowed team.
    Team(Team),
}

/// The verdict of [`access`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// They may act, by this rule.
    Allowed(Grant),
    /// They may not: neither rule allows.
    Refused,
    /// Their membership of this team is needed first.
    Ask(Team),
}

/// What [`Engine::authorize`](crate::engine::Engine::authorize) found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The repository permission.
    pub permission: Permission,
    /// The memberships asked for (none when the permission sufficed).
    pub memberships: Memberships,
    /// The rule that allows; `None` when refused.
    pub grant: Option<Grant>,
}

impl Authorization {
    /// Whether the person may act.
    pub fn allowed(&self) -> bool {
        self.grant.is_some()
    }
}

/// Whether `login`, whose repository permission is `permission`, may act
/// under `policy`, given what is known of their memberships.
pub fn access(
    policy: &Policy,
    login: &Login,
    permission: Permission,
    memberships: &Memberships,
) -> Access {
    if permission >= policy.required_permission {
        return Access::Allowed(Grant::Permission);
    }
    for team in &policy.allowed_teams {
        match memberships.get(&(team.clone(), login.clone())) {
            None => return Access::Ask(team.clone()),
            Some(Membership::Active) => return Access::Allowed(Grant::Team(team.clone())),
            Some(Membership::Absent | Membership::Unchecked { .. }) => {}
        }
    }
    Access::Refused
}

/// Why [`access`] refused, naming each rule:
/// "`read` permission (`write` is needed) and not an active member of
/// `org/a` or `org/b`". Without allowed teams only the permission is
/// named.
pub fn refusal_reason(
    policy: &Policy,
    login: &Login,
    permission: Permission,
    memberships: &Memberships,
) -> String {
    let mut reason = format!(
        "`{permission}` permission (`{}` is needed)",
        policy.required_permission
    );
    if policy.allowed_teams.is_empty() {
        return reason;
    }
    let teams: Vec<String> = policy
        .allowed_teams
        .iter()
        .map(|t| format!("`{t}`"))
        .collect();
    reason.push_str(&format!(
        " and not an active member of {}",
        teams.join(" or ")
    ));
    for team in &policy.allowed_teams {
        if let Some(Membership::Unchecked { reason: why }) =
            memberships.get(&(team.clone(), login.clone()))
        {
            reason.push_str(&format!(
                " (the membership of `{team}` could not be checked: {why})"
            ));
        }
    }
    reason
}

/// The verdict of [`team_quota`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TeamQuota {
    /// No team quota is reached.
    Within,
    /// This person's membership of this team is needed first.
    Ask(Team, Login),
    /// The team's members already hold `max` environments or more: these PRs'.
    Reached {
        /// The team.
        team: Team,
        /// Its quota.
        max: usize,
        /// The PRs of its members' environments.
        prs: Vec<PrNumber>,
    },
    /// A membership this quota depends on could not be checked.
    Unchecked {
        /// The team.
        team: Team,
        /// Whose membership.
        login: Login,
        /// The host's error.
        reason: String,
    },
}

/// Whether `requester` may have one more environment under the policy's
/// per-team quotas, with `others` the environments of other PRs.
pub fn team_quota(
    policy: &Policy,
    requester: &Login,
    others: &[&EnvInfo],
    memberships: &Memberships,
) -> TeamQuota {
    for (team, &max) in &policy.team_quotas {
        let member = |login: &Login| memberships.get(&(team.clone(), login.clone()));
        match member(requester) {
            None => return TeamQuota::Ask(team.clone(), requester.clone()),
            Some(Membership::Absent) => continue,
            Some(Membership::Unchecked { reason }) => {
                return TeamQuota::Unchecked {
                    team: team.clone(),
                    login: requester.clone(),
                    reason: reason.clone(),
                };
            }
            Some(Membership::Active) => {}
        }
        let mut prs = Vec::new();
        for env in others {
            let Some(login) = &env.requested_by else {
                continue;
            };
            match member(login) {
                None => return TeamQuota::Ask(team.clone(), login.clone()),
                Some(Membership::Active) => prs.push(env.id.pr),
                Some(Membership::Absent) => {}
                Some(Membership::Unchecked { reason }) => {
                    return TeamQuota::Unchecked {
                        team: team.clone(),
                        login: login.clone(),
                        reason: reason.clone(),
                    };
                }
            }
        }
        if prs.len() >= max {
            return TeamQuota::Reached {
                team: team.clone(),
                max,
                prs,
            };
        }
    }
    TeamQuota::Within
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(s: &str) -> Login {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    fn team(s: &str) -> Team {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    fn policy_with_teams(teams: &[&str]) -> Policy {
        Policy {
            allowed_teams: teams.iter().map(|t| team(t)).collect(),
            ..Policy::default()
        }
    }

    #[test]
    fn permission_alone_allows_without_asking_for_teams() {
        let policy = policy_with_teams(&["org/a"]);
        let verdict = access(
            &policy,
            &login("al"),
            Permission::Write,
            &Memberships::new(),
        );
        assert_eq!(verdict, Access::Allowed(Grant::Permission));
    }

    #[test]
    fn teams_are_asked_in_order_and_the_first_active_one_allows() {
        let policy = policy_with_teams(&["org/a", "org/b"]);
        let bob = login("bob");
        let mut known = Memberships::new();
        assert_eq!(
            access(&policy, &bob, Permission::Read, &known),
            Access::Ask(team("org/a"))
        );
        known.insert((team("org/a"), bob.clone()), Membership::Absent);
        assert_eq!(
            access(&policy, &bob, Permission::Read, &known),
            Access::Ask(team("org/b"))
        );
        known.insert((team("org/b"), bob.clone()), Membership::Active);
        assert_eq!(
            access(&policy, &bob, Permission::Read, &known),
            Access::Allowed(Grant::Team(team("org/b")))
        );
    }

    #[test]
    fn an_unchecked_membership_refuses_and_says_why() {
        let policy = policy_with_teams(&["org/a"]);
        let bob = login("bob");
        let known: Memberships = [(
            (team("org/a"), bob.clone()),
            Membership::Unchecked {
                reason: "403".into(),
            },
        )]
        .into();
        assert_eq!(
            access(&policy, &bob, Permission::Read, &known),
            Access::Refused
        );
        let why = refusal_reason(&policy, &bob, Permission::Read, &known);
        assert_eq!(
            why,
            "`read` permission (`write` is needed) and not an active member of `org/a` \
             (the membership of `org/a` could not be checked: 403)"
        );
    }

    #[test]
    fn without_teams_only_the_permission_is_named() {
        let why = refusal_reason(
            &Policy::default(),
            &login("bob"),
            Permission::Triage,
            &Memberships::new(),
        );
        assert_eq!(why, "`triage` permission (`write` is needed)");
    }
}
