//! The GitHub Actions path, end to end: the built `showtime` run as the
//! shipped workflow runs it (`sync PR --check-only` in the `check` job, then
//! `sync PR --sha SHA` in `deploy` or `respond`), inside a GitHub Actions
//! context (`GITHUB_ACTIONS`, `GITHUB_EVENT_NAME`, and a payload file at
//! `GITHUB_EVENT_PATH` shaped like GitHub's), against the fake GitHub and
//! the local backend. The workflow passes no event flag: what happened and
//! who did it come from the payload, as they do for the webhook server.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashMap;

use serde_json::{Value, json};

use support::site::*;
use support::*;

/// The legacy up-label (the default name).
const UP: &str = "testenv-up";
/// A user with `triage`: may add labels, but below the `write` Showtime needs.
const TRIAGER: &str = "triager";

/// One GitHub Actions run: the event's payload, written where the runner
/// writes it, and the variables the runner sets.
struct ActionsRun {
    env: Vec<(String, String)>,
}

impl ActionsRun {
    /// A `pull_request_target` run for `action` on PR 42 (about `label`),
    /// caused by `sender`, with the PR at `head`; `edit` makes it a
    /// description edit.
    fn pull_request(site: &Site, action: &str, label: &str, sender: &str, head: &str) -> Self {
        let mut payload: Value =
            serde_json::from_slice(&pull_request_event(action, 42, label)).unwrap();
        payload["sender"] = user(sender, 1_000_001);
        payload["pull_request"]["head"]["sha"] = json!(head);
        if action == "edited" {
            payload["changes"] = json!({ "body": { "from": "Adds a date filter." } });
        }
        let path = site.dir.join(format!("event-{action}-{sender}.json"));
        std::fs::write(&path, serde_json::to_vec(&payload).unwrap()).unwrap();
        let vars = [
            ("GITHUB_ACTIONS", "true"),
            ("CI", "true"),
            ("GITHUB_EVENT_NAME", "pull_request_target"),
            ("GITHUB_EVENT_PATH", path.to_str().unwrap()),
            // The workflow's initiator, as the runner sets it: the sender.
            ("GITHUB_ACTOR", sender),
        ];
        ActionsRun {
            env: vars
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    fn vars(&self) -> Vec<(&str, &str)> {
        self.env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// The `check` job: `showtime sync PR --check-only`, its outputs. The
    /// job's token is read-only (`pull-requests: read`, `issues: read`):
    /// every request it makes must be a read.
    async fn check(&self, site: &Site) -> HashMap<String, String> {
        site.fake.clear_requests();
        let run = site
            .run_with(
                env!("CARGO_BIN_EXE_showtime"),
                &["sync", "42", "--check-only"],
                &self.vars(),
            )
            .await
            .ok();
        let requests = site.fake.requests();
        assert!(!requests.is_empty(), "the check job reads the PR");
        for request in requests {
            let query = request.path == "/graphql"
                && !request
                    .body
                    .as_deref()
                    .unwrap_or_default()
                    .contains("mutation");
            assert!(
                request.method == "GET" || query,
                "the check job's read-only token cannot {} {}",
                request.method,
                request.path
            );
        }
        run.stdout
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    /// The `deploy` or `respond` job: `showtime sync PR --sha TARGET_SHA`.
    async fn sync(&self, site: &Site, target: &str) -> Run {
        site.run_with(
            env!("CARGO_BIN_EXE_showtime"),
            &["sync", "42", "--sha", target],
            &self.vars(),
        )
        .await
    }
}

async fn start_site(name: &str, body: &str) -> Site {
    let site = Site::start(name).await;
    site.fake.set_body(42, Some(body));
    site.fake.set_permission(TRIAGER, "triage");
    site
}

/// The preview page of the PR's one environment.
async fn page(site: &Site) -> String {
    let status = site.showtime(&["status", "42", "--json"]).await.ok().json();
    let url = status["environments"][0]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("no environment: {status}"))
        .to_owned();
    fetch(&url).await.expect("the environment answers")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workflow_creates_updates_and_stops_from_the_event_alone() {
    let site = start_site("actions-lifecycle", "Adds a date filter.").await;

    // A maintainer adds the up-label: check says create, deploy creates.
    site.fake.add_labels_as_person(42, &[UP]);
    let run = ActionsRun::pull_request(&site, "labeled", UP, MAINTAINER, HEAD);
    let out = run.check(&site).await;
    assert_eq!(out["auth_status"], "authorized", "{out:?}");
    assert_eq!(out["action_needed"], "create_environment", "{out:?}");
    assert_eq!(out["build_needed"], "true", "{out:?}");
    assert_eq!(out["github_actor"], MAINTAINER, "{out:?}");
    run.sync(&site, &out["target_sha"]).await.ok();
    assert_eq!(site.live().await, ["pr-42-abc123f"]);
    assert!(
        site.showtime_labels(42)
            .contains(&"🎪 🚦 running".to_owned())
    );

    // The maintainer pushes: the event's sender is the pusher, whoever
    // GITHUB_ACTOR names (here the PR's author, who has no permission).
    site.fake.set_head(42, SECOND);
    let mut run = ActionsRun::pull_request(&site, "synchronize", UP, MAINTAINER, SECOND);
    for (k, v) in &mut run.env {
        if k == "GITHUB_ACTOR" {
            *v = AUTHOR.to_owned();
        }
    }
    let out = run.check(&site).await;
    assert_eq!(out["action_needed"], "rolling_update", "{out:?}");
    assert_eq!(out["github_actor"], MAINTAINER, "{out:?}");
    assert_eq!(out["target_sha"], SECOND, "{out:?}");
    run.sync(&site, SECOND).await.ok();
    assert_eq!(site.live().await, ["pr-42-5eadbee"]);
    assert!(page(&site).await.contains(SECOND));

    // The maintainer removes the up-label: the environment and its labels
    // go. The labels alone cannot tell a removal from "never added".
    assert!(site.fake.remove_label_as_person(42, UP));
    let run = ActionsRun::pull_request(&site, "unlabeled", UP, MAINTAINER, SECOND);
    let out = run.check(&site).await;
    assert_eq!(out["action_needed"], "destroy_environment", "{out:?}");
    assert_eq!(out["build_needed"], "false", "{out:?}");
    assert_eq!(out["sync_needed"], "true", "{out:?}");
    run.sync(&site, SECOND).await.ok();
    assert!(site.live().await.is_empty());
    assert_eq!(site.showtime_labels(42), Vec::<String>::new());
    let sticky = site.fake.comments(42).pop().unwrap().body;
    assert!(sticky.contains("destroyed"), "{sticky}");
    site.clean_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn description_flags_reach_the_environment_at_create_and_on_edit() {
    let site = start_site(
        "actions-flags",
        "Adds alert reports.\r\n\r\nFEATURE_ALERTS=true\r\n",
    )
    .await;
    site.fake.add_labels_as_person(42, &[UP]);
    let run = ActionsRun::pull_request(&site, "labeled", UP, MAINTAINER, HEAD);
    let out = run.check(&site).await;
    run.sync(&site, &out["target_sha"]).await.ok();
    let shown = page(&site).await;
    assert!(shown.contains("<code>ALERTS</code>: on"), "{shown}");
    assert!(
        site.showtime_labels(42)
            .contains(&"🎪 🚩 ALERTS=true".to_owned()),
        "the labels record it: {:?}",
        site.showtime_labels(42)
    );

    // The description is edited: the change applies without a rebuild.
    site.fake.set_body(
        42,
        Some("Adds alert reports.\r\n\r\nFEATURE_ALERTS=false\r\n"),
    );
    let run = ActionsRun::pull_request(&site, "edited", UP, MAINTAINER, HEAD);
    let out = run.check(&site).await;
    assert_eq!(out["action_needed"], "apply_config", "{out:?}");
    assert_eq!(out["build_needed"], "false", "{out:?}");
    run.sync(&site, HEAD).await.ok();
    let shown = page(&site).await;
    assert!(shown.contains("<code>ALERTS</code>: off"), "{shown}");
    assert!(
        site.showtime_labels(42)
            .contains(&"🎪 🚩 ALERTS=false".to_owned())
    );
    assert_eq!(site.live().await, ["pr-42-abc123f"], "no rebuild");
    site.clean_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outsiders_trigger_exits_3_with_a_reply_and_deploys_nothing() {
    let site = start_site("actions-outsider", "Adds a date filter.").await;
    site.fake
        .add_labels_as_person(42, &["🎪 ⚡ showtime-trigger-start"]);
    let run = ActionsRun::pull_request(
        &site,
        "labeled",
        "🎪 ⚡ showtime-trigger-start",
        TRIAGER,
        HEAD,
    );
    let out = run.check(&site).await;
    assert_eq!(out["auth_status"], "denied", "{out:?}");
    assert_eq!(out["permission_level"], "triage", "{out:?}");
    assert_eq!(out["sync_needed"], "true", "{out:?}");
    assert_eq!(out["build_needed"], "false", "{out:?}");

    // The `respond` job.
    let refused = run.sync(&site, &out["target_sha"]).await;
    assert_eq!(refused.code, 3, "{refused:?}");
    assert!(
        refused
            .stderr
            .contains("::warning title=Showtime refused::"),
        "the run's page shows it: {refused:?}"
    );
    let sticky = site.fake.comments(42).pop().unwrap().body;
    assert!(
        sticky.contains("@triager") && sticky.contains("refused"),
        "{sticky}"
    );
    assert!(site.live().await.is_empty(), "nothing deployed");
    assert_eq!(
        site.showtime_labels(42),
        Vec::<String>::new(),
        "the refused trigger is removed"
    );
    site.clean_up().await;
}
