//! Team membership over real HTTP: one request per team and person,
//! remembered for the process; a pending invitation and a 404 are no
//! membership; a 403 names the `members: read` permission; and the engine
//! lets a team member below the permission level start an environment,
//! asking GitHub once.

use std::sync::Arc;

use showtime_core::Team;
use showtime_core::engine::{Engine, Ports};
use showtime_core::testing::World;

use super::*;

fn team(name: &str) -> Team {
    name.parse().unwrap()
}

fn login(name: &str) -> Login {
    name.parse().unwrap()
}

#[tokio::test]
async fn membership_is_one_request_then_remembered() {
    let fake = fake().await;
    fake.set_team_membership("acme/committers", "bob", Some("active"));
    fake.set_team_membership("acme/committers", "carol", Some("pending"));
    let host = host(&fake);
    let committers = team("acme/committers");

    assert!(
        host.team_membership(&committers, &login("bob"))
            .await
            .unwrap()
    );
    assert!(
        host.team_membership(&committers, &login("Bob"))
            .await
            .unwrap()
    );
    assert_eq!(
        log(&fake),
        ["GET /orgs/acme/teams/committers/memberships/bob"],
        "the second check makes no request"
    );

    // An invitation not yet accepted, a stranger, an unknown team.
    assert!(
        !host
            .team_membership(&committers, &login("carol"))
            .await
            .unwrap()
    );
    assert!(
        !host
            .team_membership(&committers, &login("dave"))
            .await
            .unwrap()
    );
    assert!(
        !host
            .team_membership(&team("acme/nobody"), &login("bob"))
            .await
            .unwrap()
    );
    assert_eq!(fake.requests().len(), 4);
    // Negative answers are remembered too.
    assert!(
        !host
            .team_membership(&committers, &login("dave"))
            .await
            .unwrap()
    );
    assert_eq!(fake.requests().len(), 4);
}

#[tokio::test]
async fn a_refused_read_names_the_members_read_permission_and_is_not_remembered() {
    let fake = fake().await;
    fake.set_team_membership("acme/committers", "bob", Some("active"));
    fake.refuse_team_reads(true);
    let host = host(&fake);
    let committers = team("acme/committers");

    let err = host
        .team_membership(&committers, &login("bob"))
        .await
        .unwrap_err();
    assert!(matches!(err, PortError::Permanent { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("members: read") && text.contains("acme/committers"),
        "{text}"
    );

    fake.refuse_team_reads(false);
    assert!(
        host.team_membership(&committers, &login("bob"))
            .await
            .unwrap()
    );
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn the_engine_lets_a_team_member_start_and_asks_github_once() {
    let fake = fake().await;
    seed_pr(&fake, 5, &["🎪 ⚡ showtime-trigger-start"]);
    fake.set_permission("bob", "read");
    fake.set_team_membership("acme/committers", "bob", Some("active"));
    let mut world = World::new();
    world.policy.allowed_teams = vec![team("acme/committers")];
    let ports = Ports {
        host: Arc::new(host(&fake)),
        ..world.ports()
    };
    let engine = Engine::new(ports, world.policy.clone());
    let outcome = engine
        .reconcile(pr(5), Event::Look, Some(login("bob")))
        .await
        .unwrap();

    assert_eq!(outcome.refusal(), None);
    assert_eq!(world.backend.calls("deploy"), 1);
    assert_eq!(fake.count("GET", "/orgs/"), 1);
    assert_eq!(fake.count("GET", "/repos/acme/widgets/collaborators/"), 1);
}
