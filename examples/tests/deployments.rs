//! GitHub Deployments end to end: the built `showtime` binary with
//! `[github] deployments = true`, against the fake GitHub, with the local
//! backend. Each environment is a transient deployment of `pr-42` whose
//! statuses follow it (`in_progress` → `success` with its URL, `failure`,
//! `inactive` once destroyed); with the setting off, nothing is asked of
//! the deployments API. Requests are counted from the fake's log; the
//! printed numbers are the ones the README quotes.

#![allow(clippy::unwrap_used)]

mod support;

use showtime_github::fake::FakeDeployment;
use support::site::*;
use support::*;

const ON: &str = "[github]\ndeployments = true\n";

/// The requests of the last command that went to the deployments API.
fn deployment_requests(site: &Site) -> usize {
    site.fake
        .requests()
        .iter()
        .filter(|r| r.path.contains("/deployments"))
        .count()
}

/// Runs `showtime args`, returning its JSON, its GitHub requests and how
/// many of them were the deployments API's.
async fn counted(site: &Site, args: &[&str]) -> (serde_json::Value, usize, usize) {
    let (run, n) = site.counted(args).await;
    let json = run.ok().json();
    (json, n, deployment_requests(site))
}

fn states(deployment: &FakeDeployment) -> Vec<&str> {
    deployment.states()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_environment_is_a_github_deployment_of_its_commit() {
    let site = Site::start("deployments").await;
    std::fs::write(site.dir.join("showtime.toml"), ON).unwrap();
    let mut counts = Vec::new();

    // Create: in progress while it is built and deployed, then success at
    // its URL (the PR's "View deployment").
    site.fake.add_labels_as_person(42, &[TRIGGER]);
    let (sync, n, d) = counted(&site, &["sync", "42", "--sha", HEAD, "--json"]).await;
    counts.push(("sync (create)", n, d));
    let first_url = url_of(&sync);
    let all = site.fake.deployments();
    assert_eq!(all.len(), 1, "{all:?}");
    let first = &all[0];
    assert_eq!(first.environment, "pr-42");
    assert_eq!(first.sha, HEAD, "ref = the full SHA");
    assert!(first.transient_environment && !first.production_environment);
    assert_eq!(first.required_contexts, Some(Vec::new()));
    assert_eq!(states(first), ["in_progress", "success"]);
    assert_eq!(
        first.statuses[1].environment_url.trim_end_matches('/'),
        first_url.trim_end_matches('/')
    );

    // A rolling update: a new deployment succeeds, the old one goes inactive.
    site.fake.set_head(42, SECOND);
    let (sync, n, d) = counted(
        &site,
        &["sync", "42", "--sha", SECOND, "--event", "push", "--json"],
    )
    .await;
    counts.push(("sync (rolling update)", n, d));
    let second_url = url_of(&sync);
    let all = site.fake.deployments();
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(states(&all[0]), ["in_progress", "success", "inactive"]);
    assert_eq!(all[1].sha, SECOND);
    assert_eq!(states(&all[1]), ["in_progress", "success"]);
    assert_eq!(
        all[1].statuses[1].environment_url.trim_end_matches('/'),
        second_url.trim_end_matches('/')
    );

    // Nothing to do: no deployment request.
    let (_, n, d) = counted(&site, &["sync", "42", "--json"]).await;
    counts.push(("sync (nothing to do)", n, d));
    assert_eq!(d, 0);

    // Stop: inactive.
    let (_, n, d) = counted(&site, &["stop", "42", "--json"]).await;
    counts.push(("stop", n, d));
    let all = site.fake.deployments();
    assert_eq!(states(&all[1]), ["in_progress", "success", "inactive"]);
    assert!(site.live().await.is_empty());

    for (command, n, d) in &counts {
        eprintln!(
            "GitHub requests: showtime {command} with deployments: {n} ({d} of them deployments)"
        );
    }
    let deployment_cost = |name: &str| counts.iter().find(|c| c.0 == name).unwrap().2;
    // One listing, one creation, in_progress, success.
    assert_eq!(deployment_cost("sync (create)"), 4, "{counts:?}");
    // The same, and the old one's inactive (found by the same listing).
    assert_eq!(deployment_cost("sync (rolling update)"), 5, "{counts:?}");
    // One listing, one inactive.
    assert_eq!(deployment_cost("stop"), 2, "{counts:?}");
    site.clean_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_start_is_a_failed_deployment() {
    let site = Site::start("deployments-failure").await;
    // An application that exits at once never answers its health check.
    std::fs::write(
        site.dir.join("showtime.toml"),
        format!("{ON}[local]\ncommand = [\"false\"]\nready_timeout_secs = 5\n"),
    )
    .unwrap();
    site.fake.add_labels_as_person(42, &[TRIGGER]);
    let run = site.showtime(&["sync", "42", "--json"]).await;
    assert_eq!(run.code, 4, "a step failed: {run:?}");
    let all = site.fake.deployments();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(
        states(&all[0]),
        ["in_progress", "failure"],
        "the destroy of what was half made keeps the failure"
    );
    assert!(!all[0].statuses[1].description.is_empty());
    site.clean_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_setting_off_nothing_is_asked_of_the_deployments_api() {
    let site = Site::start("deployments-off").await;
    site.fake.add_labels_as_person(42, &[TRIGGER]);
    let (_, created, d) = counted(&site, &["sync", "42", "--sha", HEAD, "--json"]).await;
    assert_eq!(d, 0);
    site.fake.set_head(42, SECOND);
    let (_, _, d) = counted(
        &site,
        &["sync", "42", "--sha", SECOND, "--event", "push", "--json"],
    )
    .await;
    assert_eq!(d, 0);
    let (_, stopped, d) = counted(&site, &["stop", "42", "--json"]).await;
    assert_eq!(d, 0);
    assert!(site.fake.deployments().is_empty());
    // The budgets of the lifecycle test (e2e.rs) hold unchanged.
    assert!(created <= 12 && stopped <= 8, "{created} {stopped}");
    site.clean_up().await;
}
