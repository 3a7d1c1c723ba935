//! The audit trail end to end: the built `showtime` records every mutation
//! of a flow, and `showtime audit` reads them back.

#![allow(clippy::unwrap_used)]

mod support;

use serde_json::Value;

use support::site::*;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_leaves_its_audit_lines_and_showtime_audit_reads_them() {
    let site = Site::start("audit").await;
    let trail = site.dir.join("audit").join("audit.jsonl");
    let trail = trail.to_str().unwrap();
    let env = [("SHOWTIME_AUDIT_FILE", trail)];
    let showtime = env!("CARGO_BIN_EXE_showtime");

    site.fake.add_labels_as_person(42, &[TRIGGER]);
    site.run_with(showtime, &["sync", "42"], &env).await.ok();
    site.run_with(showtime, &["stop", "42"], &env).await.ok();

    let all = site
        .run_with(showtime, &["audit", "--pr", "42", "--json"], &env)
        .await
        .ok()
        .json();
    let records = all.as_array().unwrap();
    let actions: Vec<&str> = records
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    for expected in [
        "deploy pr-42-abc123f",
        "await pr-42-abc123f ready",
        "destroy pr-42-abc123f",
    ] {
        assert!(actions.contains(&expected), "{expected} in {actions:?}");
    }
    assert!(
        actions.iter().any(|a| a.starts_with("labels:")),
        "{actions:?}"
    );
    assert!(
        actions.iter().any(|a| a.starts_with("status comment")),
        "{actions:?}"
    );
    for record in records {
        assert_eq!(record["pr"], 42, "{record}");
        assert_eq!(record["actor"], MAINTAINER, "{record}");
        assert_eq!(record["program"], "showtime", "{record}");
        assert_eq!(record["ok"], Value::Bool(true), "{record}");
        assert!(record["at"].as_str().unwrap().ends_with('Z'), "{record}");
    }
    let reasons: Vec<&str> = records
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("stop requested")),
        "{reasons:?}"
    );

    let other = site
        .run_with(showtime, &["audit", "--pr", "7", "--json"], &env)
        .await
        .ok()
        .json();
    assert_eq!(other, Value::Array(Vec::new()));
    let text = site
        .run_with(showtime, &["audit", "--since", "1h"], &env)
        .await
        .ok()
        .stdout;
    assert!(text.contains("destroy pr-42-abc123f"), "{text}");
    site.clean_up().await;
}
