//! Access by team and per-team quotas (`[access]` in `showtime.toml`): a
//! person below the permission level may act as an active member of an
//! allowed team; a team's members share a quota. Each refusal names the
//! rule that refused.

use super::*;

const TEAM_A: &str = "org/a";
const TEAM_B: &str = "org/b";

fn team(name: &str) -> Team {
    name.parse().unwrap()
}

fn membership(name: &str, login: &str) -> Need {
    Need::Membership {
        team: team(name),
        login: login.parse().unwrap(),
    }
}

fn allowing(teams: &[&str]) -> Policy {
    Policy {
        allowed_teams: teams.iter().map(|t| team(t)).collect(),
        ..Policy::default()
    }
}

fn start_by(login: &str) -> Observation {
    obs(
        labels(&[START]),
        pr(HEAD),
        Event::Look,
        actor(login, None),
        None,
    )
}

// ---------------------------------------------------------------------------
// Access by team
// ---------------------------------------------------------------------------

#[test]
fn a_member_of_an_allowed_team_below_the_permission_level_may_start() {
    let policy = allowing(&[TEAM_A, TEAM_B]);
    let r = resolve_teams(
        start_by("bob"),
        &policy,
        Some(Permission::Read),
        &[],
        &[(TEAM_B, "bob")],
    );

    // Teams are asked in order, after the permission, until one answers.
    assert_eq!(
        r.asked,
        [
            Need::Permission,
            membership(TEAM_A, "bob"),
            membership(TEAM_B, "bob"),
            Need::Backend
        ]
    );
    assert_eq!(r.plan.refusal, None);
    assert_eq!(r.plan.reason, "create");
    assert_eq!(
        deployment(&r.plan).requested_by,
        Some("bob".parse().unwrap())
    );
}

#[test]
fn enough_permission_asks_for_no_team() {
    let policy = allowing(&[TEAM_A]);
    let r = resolve_teams(
        start_by("alice"),
        &policy,
        Some(Permission::Write),
        &[],
        &[],
    );

    assert_eq!(r.asked, [Need::Permission, Need::Backend]);
    assert_eq!(r.plan.reason, "create");
}

#[test]
fn neither_permission_nor_team_refuses_naming_both_rules() {
    let policy = allowing(&[TEAM_A, TEAM_B]);
    let r = resolve_teams(
        start_by("mallory"),
        &policy,
        Some(Permission::Read),
        &[],
        &[],
    );

    assert_eq!(
        r.asked,
        [
            Need::Permission,
            membership(TEAM_A, "mallory"),
            membership(TEAM_B, "mallory")
        ]
    );
    assert_eq!(r.plan.refusal, Some(Refusal::Permission));
    assert_eq!(steps(&r.plan), ["labels: consume start", "comment"]);
    assert_eq!(
        comment(&r.plan),
        "@mallory: refused. You have `read` permission (`write` is needed) and not an active \
         member of `org/a` or `org/b`. Nothing was changed."
    );
    assert!(!has_cloud_steps(&r.plan));
}

#[test]
fn a_membership_that_could_not_be_checked_refuses_and_quotes_the_error() {
    let mut o = start_by("bob");
    o.memberships.insert(
        (team(TEAM_A), "bob".parse().unwrap()),
        Membership::Unchecked {
            reason: "the token lacks `members: read`".into(),
        },
    );
    let r = resolve_teams(o, &allowing(&[TEAM_A]), Some(Permission::Read), &[], &[]);

    assert_eq!(r.asked, [Need::Permission]);
    assert_eq!(r.plan.refusal, Some(Refusal::Permission));
    let text = comment(&r.plan);
    assert!(
        text.contains("the membership of `org/a` could not be checked")
            && text.contains("members: read"),
        "{text}"
    );
}

#[test]
fn a_commit_pushed_by_a_team_member_deploys() {
    let o = obs(
        running(OLD, "48h"),
        pr(HEAD),
        Event::Push,
        actor("bob", None),
        None,
    );
    let backend = [env(PR, OLD, Health::Healthy, hours_ago(2))];
    let r = resolve_teams(
        o,
        &allowing(&[TEAM_A]),
        Some(Permission::Read),
        &backend,
        &[(TEAM_A, "bob")],
    );

    assert_eq!(r.plan.refusal, None);
    assert!(r.plan.reason.starts_with("rolling update"), "{}", r.plan);
}

#[test]
fn a_commit_pushed_by_someone_outside_the_teams_freezes_naming_both_rules() {
    let o = obs(
        running(OLD, "48h"),
        pr(HEAD),
        Event::Push,
        actor("mallory", None),
        None,
    );
    let backend = [env(PR, OLD, Health::Healthy, hours_ago(2))];
    let r = resolve_teams(
        o,
        &allowing(&[TEAM_A]),
        Some(Permission::Read),
        &backend,
        &[],
    );

    assert_eq!(r.plan.refusal, Some(Refusal::UntrustedCommit));
    assert_eq!(label_ops(&r.plan), [&LabelOp::Frozen(true)]);
    let text = comment(&r.plan);
    assert!(
        text.contains("not an active member of `org/a`") && text.contains("allowed team"),
        "{text}"
    );
}

// ---------------------------------------------------------------------------
// Per-team quotas
// ---------------------------------------------------------------------------

/// Environments of other PRs: #1 and #2 by members of `org/a` (carol,
/// dave), #3 by erin (not a member), #4 with no requester.
fn others() -> Vec<EnvInfo> {
    vec![
        requested_by(env(1, "1111111", Health::Healthy, hours_ago(5)), "carol"),
        requested_by(env(2, "2222222", Health::Healthy, hours_ago(5)), "dave"),
        requested_by(env(3, "3333333", Health::Healthy, hours_ago(5)), "erin"),
        env(4, "4444444", Health::Healthy, hours_ago(5)),
    ]
}

fn team_quota(max: usize) -> Policy {
    Policy {
        team_quotas: [(team(TEAM_A), max)].into(),
        ..Policy::default()
    }
}

const MEMBERS: &[(&str, &str)] = &[(TEAM_A, "alice"), (TEAM_A, "carol"), (TEAM_A, "dave")];

#[test]
fn team_quota_reached_refuses_the_start_naming_the_team() {
    let r = resolve_teams(
        start_by("alice"),
        &team_quota(2),
        Some(Permission::Write),
        &others(),
        MEMBERS,
    );

    assert_eq!(r.plan.refusal, Some(Refusal::TeamQuota));
    assert_eq!(r.plan.reason, "refused: team quota");
    assert_eq!(steps(&r.plan), ["labels: consume start", "comment"]);
    assert_eq!(
        comment(&r.plan),
        "@alice: not started, because team `org/a` has 2 of 2 environments (#1, #2). Stop an \
         environment or wait for one to expire."
    );
    // The requester first, then each requester of another environment once.
    assert_eq!(
        r.asked,
        [
            Need::Permission,
            Need::Backend,
            membership(TEAM_A, "alice"),
            membership(TEAM_A, "carol"),
            membership(TEAM_A, "dave"),
            membership(TEAM_A, "erin"),
        ]
    );
}

#[test]
fn team_quota_below_its_limit_lets_the_start_through() {
    let r = resolve_teams(
        start_by("alice"),
        &team_quota(3),
        Some(Permission::Write),
        &others(),
        MEMBERS,
    );

    assert_eq!(r.plan.refusal, None);
    assert_eq!(r.plan.reason, "create");
}

#[test]
fn team_quota_does_not_bind_someone_outside_the_team() {
    let r = resolve_teams(
        start_by("erin"),
        &team_quota(2),
        Some(Permission::Write),
        &others(),
        MEMBERS,
    );

    assert_eq!(r.plan.reason, "create");
    // Nobody else's membership is asked for once the requester is out.
    assert_eq!(
        r.asked,
        [Need::Permission, Need::Backend, membership(TEAM_A, "erin")]
    );
}

#[test]
fn team_quota_that_could_not_be_checked_refuses_and_says_so() {
    let mut o = start_by("alice");
    o.memberships.insert(
        (team(TEAM_A), "alice".parse().unwrap()),
        Membership::Unchecked {
            reason: "403".into(),
        },
    );
    let r = resolve_teams(o, &team_quota(2), Some(Permission::Write), &others(), &[]);

    assert_eq!(r.plan.refusal, Some(Refusal::TeamQuota));
    let text = comment(&r.plan);
    assert!(
        text.contains("the quota of team `org/a` could not be checked"),
        "{text}"
    );
}

#[test]
fn the_total_quota_is_checked_before_any_team_is_asked() {
    let policy = Policy {
        quota_total: Some(4),
        ..team_quota(2)
    };
    let r = resolve_teams(
        start_by("alice"),
        &policy,
        Some(Permission::Write),
        &others(),
        MEMBERS,
    );

    assert_eq!(r.plan.refusal, Some(Refusal::Quota));
    assert_eq!(r.asked, [Need::Permission, Need::Backend]);
}
