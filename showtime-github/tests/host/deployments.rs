//! Environments recorded as GitHub deployments, counted from the fake's log.

use std::sync::Arc;

use showtime_core::Sha;
use showtime_core::ports::EnvId;
use showtime_github::deployments::Deployments;

use super::*;

const SECOND: &str = "5eadbee000000000000000000000000000000000";

fn env(n: u64, sha: &str) -> EnvId {
    EnvId::new(pr(n), sha.parse::<Sha>().unwrap().short())
}

#[tokio::test]
async fn an_environment_is_a_transient_deployment_of_its_commit() {
    let fake = fake().await;
    seed_pr(&fake, 7, &[]);
    let deployments = Deployments::new(Arc::new(host(&fake)));
    let first = env(7, SHA);
    let address = "127.0.0.1:8080".parse().unwrap();

    deployments
        .started(&first, &SHA.parse().unwrap())
        .await
        .unwrap();
    deployments.ready(&first, &address).await.unwrap();
    assert_eq!(
        log(&fake),
        [
            "GET /repos/acme/widgets/deployments",
            "POST /repos/acme/widgets/deployments",
            "POST /repos/acme/widgets/deployments/7000001/statuses",
            "POST /repos/acme/widgets/deployments/7000001/statuses",
        ],
        "one listing, then the id is remembered"
    );
    let made = &fake.deployments()[0];
    assert_eq!(made.environment, "pr-7");
    assert_eq!(made.sha, SHA);
    assert!(made.transient_environment && !made.production_environment);
    assert_eq!(made.required_contexts, Some(Vec::new()));
    assert_eq!(made.states(), ["in_progress", "success"]);
    assert_eq!(made.statuses[1].environment_url, "http://127.0.0.1:8080");

    // A new process: a rolling update lists once and finds the old one.
    fake.clear_requests();
    let later = Deployments::new(Arc::new(host(&fake)));
    let second = env(7, SECOND);
    later
        .started(&second, &SECOND.parse().unwrap())
        .await
        .unwrap();
    later.ready(&second, &address).await.unwrap();
    later.destroyed(&first).await.unwrap();
    assert_eq!(fake.requests().len(), 5, "{:?}", log(&fake));
    let all = fake.deployments();
    assert_eq!(all[0].states(), ["in_progress", "success", "inactive"]);
    assert_eq!(all[1].states(), ["in_progress", "success"]);
}

#[tokio::test]
async fn a_failure_stays_through_the_destroy_of_what_it_half_made() {
    let fake = fake().await;
    seed_pr(&fake, 7, &[]);
    let deployments = Deployments::new(Arc::new(host(&fake)));
    let id = env(7, SHA);
    deployments
        .started(&id, &SHA.parse().unwrap())
        .await
        .unwrap();
    let reason = "x".repeat(300);
    deployments.failed(&id, &reason).await.unwrap();
    deployments.destroyed(&id).await.unwrap();
    let made = &fake.deployments()[0];
    assert_eq!(made.states(), ["in_progress", "failure"]);
    assert_eq!(made.statuses[1].description.chars().count(), 140);

    // Started again: the same deployment, in progress again.
    deployments
        .started(&id, &SHA.parse().unwrap())
        .await
        .unwrap();
    deployments.destroyed(&id).await.unwrap();
    assert_eq!(fake.deployments().len(), 1);
    assert_eq!(
        fake.deployments()[0].states(),
        ["in_progress", "failure", "in_progress", "inactive"]
    );
}

#[tokio::test]
async fn an_environment_without_a_deployment_is_left_alone() {
    let fake = fake().await;
    seed_pr(&fake, 7, &[]);
    let deployments = Deployments::new(Arc::new(host(&fake)));
    let id = env(7, SHA);
    deployments.destroyed(&id).await.unwrap();
    deployments
        .ready(&id, &"127.0.0.1:1".parse().unwrap())
        .await
        .unwrap();
    assert!(fake.deployments().is_empty());
    assert_eq!(fake.requests().len(), 2, "one listing each: nothing known");
}
