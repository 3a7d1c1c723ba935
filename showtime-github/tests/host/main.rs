//! The GitHub adapter over real HTTP against the fake GitHub: every port
//! method, its request budget (counted from the fake's log), errors tried
//! once, GitHub Enterprise base URLs and App authentication, and the engine
//! end to end. One test binary; label transitions, conditional reads and
//! label-definition clean-up have modules of their own, the helpers live
//! here.

// A test fails by panicking; unwrapping known-good fixtures is the point.
#![allow(clippy::unwrap_used)]

mod definitions;
mod deployments;
mod reads;
mod teams;
mod transitions;

use showtime_core::plan::Event;
use showtime_core::ports::{CommentAt, Permission, PortError, PrHost, PrState};
use showtime_core::{Login, PrNumber};
use showtime_github::fake::{FakeGitHub, FakePr, FakeState, Fault};
use showtime_github::{Auth, GitHubConfig, GitHubHost};

const SHA: &str = "abc123f000000000000000000000000000000000";

async fn fake() -> FakeGitHub {
    FakeGitHub::start("acme", "widgets").await.unwrap()
}

fn config(url: &str) -> GitHubConfig {
    GitHubConfig::new("acme/widgets", Auth::Token("test-token".into()))
        .unwrap()
        .with_api_url(url)
}

fn host(fake: &FakeGitHub) -> GitHubHost {
    GitHubHost::new(config(&fake.url())).unwrap()
}

fn pr(n: u64) -> PrNumber {
    PrNumber::new(n).unwrap()
}

fn seed_pr(fake: &FakeGitHub, n: u64, labels: &[&str]) {
    fake.add_pull_request(FakePr {
        head_sha: SHA.to_owned(),
        author: "maxime".to_owned(),
        body: Some("Adds alerts.\n\nFEATURE_ALERTS=true".to_owned()),
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        ..FakePr::new(n)
    });
}

/// Requests other than the free ones, as `METHOD /path`.
fn log(fake: &FakeGitHub) -> Vec<String> {
    fake.requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.decoded_path()))
        .collect()
}

#[tokio::test]
async fn reads_a_pr_with_its_labels_in_one_request() {
    let fake = fake().await;
    seed_pr(&fake, 7, &["bug", "🎪 🎯 abc123f"]);
    let got = host(&fake).pull_request(pr(7)).await.unwrap();
    assert_eq!(got.number, pr(7));
    assert_eq!(got.state, PrState::Open);
    assert_eq!(got.head_sha.as_str(), SHA);
    assert_eq!(got.author.as_str(), "maxime");
    assert!(got.body.contains("FEATURE_ALERTS=true"));
    assert_eq!(got.labels, ["bug", "🎪 🎯 abc123f"]);
    assert_eq!(log(&fake), ["GET /repos/acme/widgets/pulls/7"]);

    fake.set_state(7, FakeState::Merged);
    assert_eq!(
        host(&fake).pull_request(pr(7)).await.unwrap().state,
        PrState::Merged
    );
    fake.set_state(7, FakeState::Closed);
    assert_eq!(
        host(&fake).pull_request(pr(7)).await.unwrap().state,
        PrState::Closed
    );
    let missing = host(&fake).pull_request(pr(8)).await.unwrap_err();
    assert!(matches!(missing, PortError::NotFound { .. }), "{missing:?}");
}

#[tokio::test]
async fn lists_open_prs_past_one_hundred_in_ceil_n_over_100_requests() {
    let fake = fake().await;
    for n in 1..=250 {
        seed_pr(&fake, n, &["🎪 ⌛ 48h"]);
    }
    fake.set_state(3, FakeState::Closed);
    fake.clear_requests();
    let open = host(&fake).open_pull_requests().await.unwrap();
    assert_eq!(open.len(), 249);
    assert!(open.iter().all(|p| p.labels == ["🎪 ⌛ 48h"]));
    assert_eq!(fake.count("GET", "/repos/acme/widgets/pulls"), 3);
}

#[tokio::test]
async fn adds_many_labels_in_one_request_and_never_replaces_the_set() {
    let fake = fake().await;
    seed_pr(&fake, 1, &["bug"]);
    let host = host(&fake);
    // Showtime read the PR; meanwhile a person adds a label.
    let seen = host.pull_request(pr(1)).await.unwrap();
    fake.add_labels_as_person(1, &["needs review"]);
    fake.clear_requests();
    let adds: Vec<String> = ["🎪 🎯 abc123f", "🎪 🚦 running", "🎪 ⌛ 48h"]
        .map(str::to_owned)
        .to_vec();
    host.add_labels(pr(1), &adds).await.unwrap();
    assert_eq!(fake.count("POST", "/repos/acme/widgets/issues/1/labels"), 1);
    assert_eq!(fake.requests().len(), 1);
    let labels = fake.labels(1);
    assert!(labels.contains(&"needs review".to_owned()), "{labels:?}");
    assert!(seen.labels.iter().all(|l| labels.contains(l)));
    assert_eq!(labels.len(), 5);
    host.add_labels(pr(1), &[]).await.unwrap();
    assert_eq!(fake.requests().len(), 1, "nothing to add, no request");
    assert!(fake.requests().iter().all(|r| r.method != "PUT"));
}

#[tokio::test]
async fn removing_a_label_is_one_request_and_absent_counts_as_done() {
    let fake = fake().await;
    seed_pr(&fake, 1, &["🎪 🚦 building", "bug"]);
    let host = host(&fake);
    host.remove_label(pr(1), "🎪 🚦 BUILDING").await.unwrap();
    host.remove_label(pr(1), "🎪 🚦 building").await.unwrap();
    assert_eq!(fake.labels(1), ["bug"]);
    let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 404]);
}

#[tokio::test]
async fn a_too_long_label_is_a_permanent_error() {
    let fake = fake().await;
    seed_pr(&fake, 1, &[]);
    let err = host(&fake)
        .add_labels(pr(1), &["x".repeat(51)])
        .await
        .unwrap_err();
    assert!(matches!(err, PortError::Permanent { .. }), "{err:?}");
    assert!(err.to_string().contains("422"), "{err}");
    assert_eq!(fake.requests().len(), 1, "422 is not retried");
}

#[tokio::test]
async fn permissions_read_the_precise_role() {
    let fake = fake().await;
    fake.set_permission("maintainer", "maintain");
    fake.set_permission("triager", "triage");
    fake.set_permission("dev", "write");
    fake.set_permission("nobody", "none");
    let host = host(&fake);
    let p = |login: &str| -> Login { login.parse().unwrap() };
    assert_eq!(
        host.permission(&p("maintainer")).await.unwrap(),
        Permission::Maintain
    );
    assert_eq!(
        host.permission(&p("triager")).await.unwrap(),
        Permission::Triage
    );
    assert_eq!(host.permission(&p("dev")).await.unwrap(), Permission::Write);
    assert_eq!(
        host.permission(&p("nobody")).await.unwrap(),
        Permission::None
    );
    assert_eq!(
        host.permission(&p("stranger")).await.unwrap(),
        Permission::None
    );
    assert_eq!(fake.requests().len(), 5, "one request each");
}

#[tokio::test]
async fn the_sticky_comment_is_found_once_then_edited_in_place() {
    let fake = fake().await;
    seed_pr(&fake, 1, &[]);
    for i in 0..150 {
        fake.add_comment(1, "someone", &format!("comment {i}"));
    }
    let marker = "<!-- showtime:status -->";
    let host = host(&fake);
    fake.clear_requests();
    let id = host
        .upsert_comment(
            pr(1),
            CommentAt::Unknown,
            marker,
            &format!("{marker}\nfirst"),
        )
        .await
        .unwrap();
    // Two pages searched, then the comment created.
    assert_eq!(
        fake.count("GET", "/repos/acme/widgets/issues/1/comments"),
        2
    );
    assert_eq!(
        fake.count("POST", "/repos/acme/widgets/issues/1/comments"),
        1
    );

    fake.clear_requests();
    host.upsert_comment(
        pr(1),
        CommentAt::Unknown,
        marker,
        &format!("{marker}\nsecond"),
    )
    .await
    .unwrap();
    assert_eq!(
        log(&fake).len(),
        1,
        "the id is remembered: {:?}",
        log(&fake)
    );
    let comments = fake.comments(1);
    assert_eq!(comments.len(), 151);
    assert!(comments.last().unwrap().body.ends_with("second"));

    // Another process finds it: at most 1 + ⌈comments/100⌉ requests.
    fake.clear_requests();
    let other = self::host(&fake);
    other
        .upsert_comment(
            pr(1),
            CommentAt::Unknown,
            marker,
            &format!("{marker}\nthird"),
        )
        .await
        .unwrap();
    assert!(fake.requests().len() <= 1 + 2, "{:?}", log(&fake));
    assert_eq!(fake.comments(1).len(), 151);

    // Told where it is (the `💬` label), another process edits it at once.
    fake.clear_requests();
    let at = self::host(&fake)
        .upsert_comment(
            pr(1),
            CommentAt::Id(id),
            marker,
            &format!("{marker}\nfourth"),
        )
        .await
        .unwrap();
    assert_eq!(at, id);
    assert_eq!(log(&fake).len(), 1, "{:?}", log(&fake));
    assert!(fake.comments(1).last().unwrap().body.ends_with("fourth"));

    // Deleted by someone: found by its marker no more, so posted again.
    fake.delete_comment(id.get());
    fake.clear_requests();
    let again = self::host(&fake)
        .upsert_comment(
            pr(1),
            CommentAt::Id(id),
            marker,
            &format!("{marker}\nfifth"),
        )
        .await
        .unwrap();
    assert_ne!(again, id);
    assert_eq!(fake.comments(1).len(), 151);
}

#[tokio::test]
async fn a_pr_without_comments_gets_its_status_comment_with_one_request() {
    let fake = fake().await;
    seed_pr(&fake, 1, &[]);
    let read = host(&fake).pull_request(pr(1)).await.unwrap();
    assert_eq!(read.comments, Some(0));
    assert_eq!(CommentAt::of(&read, None), CommentAt::Nowhere);
    fake.clear_requests();
    self::host(&fake)
        .upsert_comment(pr(1), CommentAt::Nowhere, "<!-- m -->", "<!-- m -->\nhello")
        .await
        .unwrap();
    assert_eq!(log(&fake).len(), 1, "{:?}", log(&fake));
    assert_eq!(fake.comments(1).len(), 1);
}

#[tokio::test]
async fn a_status_comment_whose_answer_was_lost_is_looked_for_not_posted_twice() {
    let fake = fake().await;
    seed_pr(&fake, 1, &[]);
    let host = host(&fake);
    let marker = "<!-- m -->";
    // Posted, but the connection is cut before the answer arrives.
    fake.inject(
        Fault::lost_answer()
            .method("POST")
            .path_contains("/comments"),
    );
    let cut = host
        .upsert_comment(pr(1), CommentAt::Nowhere, marker, "<!-- m -->\nfirst")
        .await
        .unwrap_err();
    assert!(cut.is_transient(), "{cut:?}");
    assert_eq!(fake.comments(1).len(), 1, "the write happened");

    // The retry looks for it, finds it, and edits it.
    fake.clear_requests();
    host.upsert_comment(pr(1), CommentAt::Nowhere, marker, "<!-- m -->\nsecond")
        .await
        .unwrap();
    assert_eq!(
        log(&fake),
        [
            "GET /repos/acme/widgets/issues/1/comments",
            &format!(
                "PATCH /repos/acme/widgets/issues/comments/{}",
                fake.comments(1)[0].id
            ),
        ],
    );
    let comments = fake.comments(1);
    assert_eq!(comments.len(), 1);
    assert!(comments[0].body.ends_with("second"));

    // Cut before it was served: looked for, not found, posted once.
    seed_pr(&fake, 2, &[]);
    fake.inject(Fault::reset().method("POST").path_contains("/comments"));
    assert!(
        host.upsert_comment(pr(2), CommentAt::Nowhere, marker, "<!-- m -->\nfirst")
            .await
            .is_err()
    );
    host.upsert_comment(pr(2), CommentAt::Nowhere, marker, "<!-- m -->\nsecond")
        .await
        .unwrap();
    assert_eq!(fake.comments(2).len(), 1);
}

#[tokio::test]
async fn label_definitions_are_ensured_listed_and_deleted_only_when_unattached() {
    let fake = fake().await;
    let host = host(&fake);
    host.ensure_label("🎪 🚦 running", "28a745", "Environment status: running")
        .await
        .unwrap();
    // Already there: updated, and not an error.
    host.ensure_label("🎪 🚦 running", "28a745", "Healthy and serving")
        .await
        .unwrap();
    let defs = fake.definitions();
    assert_eq!(defs.len(), 1);
    assert_eq!(defs[0].2.as_deref(), Some("Healthy and serving"));

    for i in 0..250 {
        fake.define_label(&format!("label {i}"), "ededed", None);
    }
    fake.clear_requests();
    assert_eq!(host.repository_labels().await.unwrap().len(), 251);
    assert_eq!(fake.count("GET", "/repos/acme/widgets/labels"), 3);

    fake.add_issue(2, "someone", &["🎪 abc1234 📅 2024-01-01T00-00"]);
    fake.set_state(2, FakeState::Closed);
    fake.define_label("🎪 def5678 📅 2024-01-01T00-00", "ededed", None);
    assert!(
        !host
            .delete_label_if_unused("🎪 abc1234 📅 2024-01-01T00-00")
            .await
            .unwrap()
    );
    assert!(
        host.delete_label_if_unused("🎪 def5678 📅 2024-01-01T00-00")
            .await
            .unwrap()
    );
    assert!(!host.delete_label_if_unused("never defined").await.unwrap());
    let names: Vec<String> = fake.definitions().into_iter().map(|d| d.0).collect();
    assert!(names.contains(&"🎪 abc1234 📅 2024-01-01T00-00".to_owned()));
    assert!(!names.contains(&"🎪 def5678 📅 2024-01-01T00-00".to_owned()));
}

#[tokio::test]
async fn a_server_error_is_transient_and_tried_once() {
    let fake = fake().await;
    seed_pr(&fake, 1, &[]);
    let host = host(&fake);
    fake.inject(Fault::status(502));
    let err = host.pull_request(pr(1)).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert_eq!(
        fake.requests().len(),
        1,
        "the engine retries, not the adapter"
    );
    // The engine's next attempt goes through.
    host.pull_request(pr(1)).await.unwrap();

    // A connection that fails is transient too.
    let closed = GitHubHost::new(config("http://127.0.0.1:9")).unwrap();
    let err = closed.pull_request(pr(1)).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
}

/// Asserts `err` is a rate limit that resets `secs` seconds from now (± 2).
fn assert_resets_in(err: &PortError, secs: i64) {
    let PortError::RateLimited { reset } = err else {
        panic!("expected RateLimited, got {err:?}");
    };
    let wait = (*reset - chrono::Utc::now()).num_seconds();
    assert!(
        (secs - 2..=secs + 2).contains(&wait),
        "{wait} s, not {secs}"
    );
}

#[tokio::test]
async fn a_secondary_rate_limit_names_when_to_try_again_without_retrying() {
    let fake = fake().await;
    seed_pr(&fake, 1, &[]);
    let host = host(&fake);
    // `Retry-After`: that many seconds from now.
    fake.inject(Fault::secondary_rate_limit(403, 30));
    assert_resets_in(&host.pull_request(pr(1)).await.unwrap_err(), 30);
    fake.inject(Fault::secondary_rate_limit(429, 0));
    assert_resets_in(&host.pull_request(pr(1)).await.unwrap_err(), 0);
    // Neither header: a minute, as GitHub advises.
    fake.inject(
        Fault::status(403)
            .body(serde_json::json!({"message": "You have exceeded a secondary rate limit."})),
    );
    assert_resets_in(&host.pull_request(pr(1)).await.unwrap_err(), 60);
    assert_eq!(fake.requests().len(), 3, "one attempt each");
}

#[tokio::test]
async fn an_exhausted_rate_limit_names_its_reset_without_retrying() {
    let fake = fake().await;
    seed_pr(&fake, 1, &[]);
    let reset = 4_102_444_800;
    fake.inject(Fault::primary_rate_limit(reset));
    let err = host(&fake).pull_request(pr(1)).await.unwrap_err();
    match err {
        PortError::RateLimited { reset: at } => assert_eq!(at.timestamp(), reset),
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert_eq!(fake.requests().len(), 1, "no hot loop");
}

#[tokio::test]
async fn bad_credentials_and_forbidden_are_explained() {
    let fake = fake().await;
    seed_pr(&fake, 1, &[]);
    fake.require_token(Some("the-right-one"));
    let err = host(&fake).pull_request(pr(1)).await.unwrap_err();
    assert!(!err.is_transient());
    assert!(err.to_string().contains("GITHUB_TOKEN"), "{err}");
    fake.require_token(None);
    fake.inject(
        Fault::status(403)
            .body(serde_json::json!({"message": "Resource not accessible by integration"})),
    );
    let err = host(&fake).pull_request(pr(1)).await.unwrap_err();
    assert!(err.to_string().contains("pull-requests: write"), "{err}");
}

#[tokio::test]
async fn works_against_a_github_enterprise_base_url() {
    let fake = fake().await;
    seed_pr(&fake, 1, &[]);
    let url = fake.ghes_url();
    let host = GitHubHost::new(config(url.trim_end_matches('/'))).unwrap();
    host.pull_request(pr(1)).await.unwrap();
    host.add_labels(pr(1), &["🎪 ⌛ 48h".to_owned()])
        .await
        .unwrap();
    fake.define_label("🎪 abc1234 📅 2024-01-01T00-00", "ededed", None);
    assert!(
        host.delete_label_if_unused("🎪 abc1234 📅 2024-01-01T00-00")
            .await
            .unwrap()
    );
    let requests = fake.requests();
    // Every request went under the enterprise prefixes (`/api/graphql` is
    // logged as `/graphql` with the prefix flag).
    assert!(requests.iter().all(|r| r.ghes_prefix), "{:?}", log(&fake));
    assert!(requests.iter().any(|r| r.path == "/graphql"));
}

#[tokio::test]
async fn authenticates_as_a_github_app_installation() {
    let fake = fake().await;
    seed_pr(&fake, 1, &[]);
    let key = include_str!("../fixtures/test-app-key.pem");
    let mut config = config(&fake.url());
    config.auth = Auth::App {
        app_id: 12345,
        private_key: key.to_owned(),
        installation_id: 678,
    };
    let host = GitHubHost::new(config).unwrap();
    host.pull_request(pr(1)).await.unwrap();
    let requests = fake.requests();
    assert_eq!(requests[0].path, "/app/installations/678/access_tokens");
    let auth = requests[1].authorization.as_deref().unwrap_or_default();
    assert!(auth.contains("ghs_fake"), "{auth}");

    let mut bad = self::config(&fake.url());
    bad.auth = Auth::App {
        app_id: 1,
        private_key: "not a key".into(),
        installation_id: 1,
    };
    let err = GitHubHost::new(bad).unwrap_err().to_string();
    assert!(err.contains("SHOWTIME_GITHUB_APP_KEY"), "{err}");
}

#[tokio::test]
async fn the_engine_runs_a_whole_lifecycle_against_github() {
    use showtime_core::engine::{Engine, Ports};
    use showtime_core::testing::World;
    use std::sync::Arc;

    let fake = fake().await;
    seed_pr(&fake, 1, &["🎪 ⚡ showtime-trigger-start", "bug"]);
    fake.set_permission("maxime", "write");
    let world = World::new();
    let github = Arc::new(host(&fake));
    let ports = Ports {
        host: github,
        ..world.ports()
    };
    let engine = Engine::new(ports, world.policy.clone());
    let actor: Option<Login> = Some("maxime".parse().unwrap());
    fake.clear_requests();
    engine
        .reconcile(pr(1), Event::Look, actor.clone())
        .await
        .unwrap();

    let labels = fake.labels(1);
    assert!(labels.contains(&"bug".to_owned()));
    assert!(labels.contains(&"🎪 🚦 running".to_owned()), "{labels:?}");
    assert!(labels.contains(&"🎪 🎯 abc123f".to_owned()), "{labels:?}");
    assert_eq!(fake.comments(1).len(), 1);
    // The same budget as the in-memory host counts: two rounds, two reads.
    assert_eq!(fake.count("GET", "/repos/acme/widgets/pulls/1"), 2);
    assert_eq!(fake.count("GET", "/repos/acme/widgets/collaborators"), 1);
    assert!(fake.requests().iter().all(|r| r.method != "PUT"));

    fake.set_head(1, "bbbbbbb000000000000000000000000000000000");
    engine
        .reconcile(pr(1), Event::Push, actor.clone())
        .await
        .unwrap();
    assert!(fake.labels(1).contains(&"🎪 🎯 bbbbbbb".to_owned()));
    engine
        .reconcile(
            pr(1),
            Event::Command(showtime_core::commands::SlashCommand::Destroy),
            actor,
        )
        .await
        .unwrap();
    let comment = fake.comments(1)[0].id;
    assert_eq!(
        fake.labels(1),
        ["bug".to_owned(), format!("🎪 💬 {comment}")]
    );
    assert_eq!(fake.comments(1).len(), 1, "one sticky comment all along");
    assert!(world.backend.environments().is_empty());
}

#[tokio::test]
async fn a_secondary_limit_with_a_spent_budget_names_its_reset() {
    let fake = fake().await;
    seed_pr(&fake, 1, &[]);
    let reset = chrono::Utc::now().timestamp() + 90;
    fake.inject(
        Fault::status(403)
            .ratelimit_reset(reset)
            .body(serde_json::json!({"message": "You have exceeded a secondary rate limit."})),
    );
    match host(&fake).pull_request(pr(1)).await.unwrap_err() {
        PortError::RateLimited { reset: at } => assert_eq!(at.timestamp(), reset),
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn setup_labels_creates_then_updates_the_static_definitions() {
    use showtime_core::engine::{Engine, Ports};
    use showtime_core::testing::World;
    use std::sync::Arc;

    let fake = fake().await;
    fake.define_label("🎪 🚦 running", "ededed", Some("old"));
    let world = World::new();
    let ports = Ports {
        host: Arc::new(host(&fake)),
        ..world.ports()
    };
    let names = Engine::new(ports, world.policy.clone())
        .setup_labels()
        .await
        .unwrap();
    let defs = fake.definitions();
    assert_eq!(defs.len(), names.len());
    let running = defs.iter().find(|d| d.0 == "🎪 🚦 running").unwrap();
    assert_eq!(running.1, "28a745");
    assert_ne!(running.2.as_deref(), Some("old"));
}
