//! "Expiring soon" end to end: the built `showtime-sweep` warns once, a
//! while before an environment's TTL runs out, on the PR's comment and to
//! the JSON webhook (a local receiver), and a second sweep says nothing
//! more and costs what a sweep with nothing expiring costs.

#![allow(clippy::unwrap_used)]

mod support;

use support::receiver::{receiver, texts};
use support::site::*;
use support::*;

/// Makes PR 42's creation label say it was created `minutes` ago.
fn backdate(site: &Site, minutes: i64) {
    let created = site
        .fake
        .labels(42)
        .into_iter()
        .find(|l| l.starts_with("🎪 📅 "))
        .unwrap();
    assert!(site.fake.remove_label_as_person(42, &created));
    let then = chrono::Utc::now() - chrono::Duration::minutes(minutes);
    site.fake
        .add_labels_as_person(42, &[&format!("🎪 📅 {}", then.format("%Y-%m-%dT%H-%M"))]);
}

/// Runs one sweep and returns its GitHub requests and the mutations among
/// them (REST writes and GraphQL mutations).
async fn sweep(site: &Site) -> (usize, usize) {
    site.fake.clear_requests();
    site.run_with(env!("CARGO_BIN_EXE_showtime-sweep"), &[], &[])
        .await
        .ok();
    let requests = site.fake.requests();
    let writes = requests
        .iter()
        .filter(|r| {
            if r.graphql.is_some() {
                r.is_mutation()
            } else {
                r.method != "GET"
            }
        })
        .count();
    (requests.len(), writes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_warns_once_before_the_ttl_runs_out() {
    let site = Site::start("expiry").await;
    let (addr, received) = receiver().await;
    std::fs::write(
        site.dir.join("showtime.toml"),
        format!("[notify]\nwebhook_url = \"http://{addr}/hook\"\nexpiring_warning = \"2h\"\n"),
    )
    .unwrap();
    site.fake.add_labels_as_person(42, &[TRIGGER]);
    site.showtime(&["sync", "42", "--sha", HEAD]).await.ok();
    assert!(site.showtime_labels(42).contains(&"🎪 ⌛ 24h".to_owned()));
    let ready = texts(&received);
    assert_eq!(ready.len(), 1, "{ready:?}");

    // Nothing expiring soon: what a quiet sweep costs (after one that
    // deletes the definitions of the create's per-value labels), and no
    // warning.
    sweep(&site).await;
    let (quiet, writes) = sweep(&site).await;
    assert_eq!(writes, 0);
    assert_eq!(texts(&received).len(), 1);

    // 23 hours into a 24-hour TTL: one warning, on the PR and here.
    backdate(&site, 23 * 60);
    let (warning, writes) = sweep(&site).await;
    let sent = texts(&received);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(
        sent[1].contains("expires at") && sent[1].contains("/circus extend"),
        "{sent:?}"
    );
    let sticky = site.fake.comments(42).pop().unwrap().body;
    assert!(sticky.contains("/circus extend 24h"), "{sticky}");
    assert!(
        site.showtime_labels(42)
            .iter()
            .any(|l| l.starts_with("🎪 ⏰ ")),
        "{:?}",
        site.showtime_labels(42)
    );
    assert!(site.live().await.len() == 1, "warned, not destroyed");

    // Once: the next sweep says nothing and costs what a quiet one does.
    let (again, writes_again) = sweep(&site).await;
    assert_eq!(texts(&received).len(), 2, "{:?}", texts(&received));
    assert_eq!(writes_again, 0);
    assert_eq!(again, quiet);

    eprintln!(
        "GitHub requests: showtime-sweep, nothing expiring: {quiet}; warning: {warning} ({writes} writes); warned already: {again}"
    );
    site.clean_up().await;
}
