//! Access by team through the engine: memberships are asked of the host
//! only when the permission alone does not allow, once per run, and
//! [`Engine::authorize`] applies the planner's rule.

use showtime_core::Team;
use showtime_core::access::Grant;
use showtime_core::plan::Refusal;

use super::*;

const START: &str = "🎪 ⚡ showtime-trigger-start";

fn team(name: &str) -> Team {
    name.parse().unwrap()
}

fn world_with_team() -> World {
    let mut world = world();
    world.policy.allowed_teams = vec![team("org/committers")];
    world.host.set_permission("bob", Permission::Read);
    world
        .host
        .set_team_member(&team("org/committers"), "bob", true);
    world
}

#[tokio::test]
async fn a_team_member_below_the_permission_level_creates_an_environment() {
    let world = world_with_team();
    let pr = world.open_pr(1, A, "bob", &[START]);
    let outcome = world
        .engine()
        .reconcile(pr, Event::Look, login("bob"))
        .await
        .unwrap();

    assert_eq!(outcome.refusal(), None);
    assert_eq!(world.backend.calls("deploy"), 1);
    // One question to the host for the team, though the create took two
    // rounds.
    assert_eq!(world.host.calls("team_membership"), 1);
    assert_eq!(world.host.calls("permission"), 1);
}

#[tokio::test]
async fn a_writer_costs_no_team_question() {
    let world = world_with_team();
    let pr = world.open_pr(1, A, "maxime", &[START]);
    world
        .engine()
        .reconcile(pr, Event::Look, login("maxime"))
        .await
        .unwrap();

    assert_eq!(world.backend.calls("deploy"), 1);
    assert_eq!(world.host.calls("team_membership"), 0);
}

#[tokio::test]
async fn someone_outside_the_team_is_refused_with_both_rules_named() {
    let world = world_with_team();
    let pr = world.open_pr(1, A, "stranger", &[START]);
    let outcome = world
        .engine()
        .reconcile(pr, Event::Look, login("stranger"))
        .await
        .unwrap();

    assert_eq!(outcome.refusal(), Some(Refusal::Permission));
    assert_eq!(world.backend.calls("deploy"), 0);
    let body = &world.host.comments(pr)[0].body;
    assert!(
        body.contains(
            "`read` permission (`write` is needed) and not an active member of `org/committers`"
        ),
        "{body}"
    );
}

#[tokio::test]
async fn a_failing_membership_check_refuses_and_quotes_the_error() {
    let world = world_with_team();
    world.faults.on_method(
        "host.team_membership",
        vec![Fault::Fail(PortError::permanent(
            "the token lacks `members: read`",
        ))],
    );
    let pr = world.open_pr(1, A, "bob", &[START]);
    let outcome = world
        .engine()
        .reconcile(pr, Event::Look, login("bob"))
        .await
        .unwrap();

    assert_eq!(outcome.refusal(), Some(Refusal::Permission));
    let body = &world.host.comments(pr)[0].body;
    assert!(body.contains("members: read"), "{body}");
}

/// A refusal consumes the request; a read that would pass by itself (a rate
/// limit, an outage) must not refuse, or the request is lost.
#[tokio::test]
async fn a_permission_or_membership_read_that_may_pass_refuses_nothing() {
    let reset = chrono::DateTime::from_timestamp(4_000_000_000, 0).unwrap();
    let cases = [
        ("host.permission", "maxime"),
        ("host.team_membership", "bob"),
    ];
    for (method, person) in cases {
        let world = world_with_team();
        world
            .faults
            .on_method(method, vec![Fault::Fail(PortError::RateLimited { reset })]);
        let pr = world.open_pr(1, A, person, &[START]);
        let error = world
            .engine()
            .reconcile(pr, Event::Look, login(person))
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("rate limit"),
            "{method}: {error}"
        );
        assert_eq!(
            world.host.labels(pr),
            [START],
            "{method}: the request stays"
        );
        assert!(
            world.host.comments(pr).is_empty(),
            "{method}: nobody refused"
        );

        // Once the host answers, the request is carried out.
        world.faults.clear();
        let outcome = world
            .engine()
            .reconcile(pr, Event::Look, login(person))
            .await
            .unwrap();
        assert_eq!(outcome.refusal(), None, "{method}");
        assert_eq!(world.backend.calls("deploy"), 1, "{method}");
    }
}

#[tokio::test]
async fn authorize_applies_the_same_rule() {
    let world = world_with_team();
    let engine = world.engine();
    let bob = engine.authorize(&"bob".parse().unwrap()).await.unwrap();
    assert_eq!(bob.grant, Some(Grant::Team(team("org/committers"))));
    let maxime = engine.authorize(&"maxime".parse().unwrap()).await.unwrap();
    assert_eq!(maxime.grant, Some(Grant::Permission));
    assert!(maxime.memberships.is_empty());
    let stranger = engine
        .authorize(&"stranger".parse().unwrap())
        .await
        .unwrap();
    assert!(!stranger.allowed());
    assert_eq!(world.host.calls("team_membership"), 2);
}

#[tokio::test]
async fn a_team_quota_counts_the_members_environments() {
    let mut world = world();
    world.policy.team_quotas = [(team("org/committers"), 1)].into();
    world.policy.quota_per_requester = None;
    world.host.set_permission("carol", Permission::Write);
    for member in ["maxime", "carol"] {
        world
            .host
            .set_team_member(&team("org/committers"), member, true);
    }
    let first = world.open_pr(1, A, "carol", &[START]);
    world
        .engine()
        .reconcile(first, Event::Look, login("carol"))
        .await
        .unwrap();
    let second = world.open_pr(2, B, "maxime", &[START]);
    let outcome = world
        .engine()
        .reconcile(second, Event::Look, login("maxime"))
        .await
        .unwrap();

    assert_eq!(outcome.refusal(), Some(Refusal::TeamQuota));
    let body = &world.host.comments(second)[0].body;
    assert!(
        body.contains("team `org/committers` has 1 of 1 environments (#1)"),
        "{body}"
    );
    assert_eq!(world.backend.calls("deploy"), 1);
}
