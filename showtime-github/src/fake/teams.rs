//! Organization teams: `GET /orgs/{org}/teams/{team_slug}/memberships/{username}`,
//! as GitHub documents it. An active or pending member gets `200` with
//! `role` and `state`; anyone else, and any unknown organization or team,
//! `404`. When the fake is told the token lacks the organization's
//! `members: read` permission ([`super::FakeGitHub::refuse_team_reads`]),
//! every membership read is GitHub's `403 Resource not accessible by
//! integration`.

use std::collections::BTreeMap;

use serde_json::json;

use super::server::{Ctx, Reply, error, not_found};
use super::util::percent_decode;

const MEMBERSHIP_DOCS: &str =
    "https://docs.github.com/rest/teams/members#get-team-membership-for-a-user";

/// One membership: the login as given, `member` or `maintainer`, `active`
/// or `pending`.
#[derive(Debug, Clone)]
pub(super) struct MembershipRec {
    pub(super) login: String,
    pub(super) role: String,
    pub(super) state: String,
}

/// The organization's teams: lower-cased `org/slug` → lower-cased login →
/// membership.
#[derive(Debug, Default)]
pub(super) struct Teams {
    pub(super) members: BTreeMap<String, BTreeMap<String, MembershipRec>>,
    /// Whether membership reads answer 403, as for a token without
    /// `members: read`.
    pub(super) refused: bool,
}

impl Teams {
    /// Sets `login`'s membership of `org/slug` (`state`: `active` or
    /// `pending`), or removes it (`None`).
    pub(super) fn set(&mut self, team: &str, login: &str, state: Option<&str>) {
        let members = self.members.entry(team.to_lowercase()).or_default();
        match state {
            Some(state) => {
                members.insert(
                    login.to_lowercase(),
                    MembershipRec {
                        login: login.to_owned(),
                        role: "member".to_owned(),
                        state: state.to_owned(),
                    },
                );
            }
            None => {
                members.remove(&login.to_lowercase());
            }
        }
    }
}

/// Routes `/orgs/…` (`segments` after `orgs`).
pub(super) fn route(teams: &Teams, ctx: &Ctx<'_>, segments: &[&str]) -> Reply {
    let [org, "teams", slug, "memberships", user] = segments else {
        return not_found();
    };
    if ctx.method != "GET" {
        return not_found();
    }
    if teams.refused {
        return error(
            403,
            "Resource not accessible by integration",
            MEMBERSHIP_DOCS,
        );
    }
    let decode = |s: &str| percent_decode(s, false).map(|s| s.to_lowercase());
    let (Some(org), Some(slug), Some(user)) = (decode(org), decode(slug), decode(user)) else {
        return not_found();
    };
    let Some(found) = teams
        .members
        .get(&format!("{org}/{slug}"))
        .and_then(|members| members.get(&user))
    else {
        return error(404, "Not Found", MEMBERSHIP_DOCS);
    };
    Reply::json(
        200,
        json!({
            "url": format!("{}/orgs/{org}/teams/{slug}/memberships/{}", ctx.api, found.login),
            "role": found.role,
            "state": found.state,
        }),
    )
}
