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
    let deploy = records
        .iter()
        .find(|r| r["action"] == "deploy pr-42-abc123f")
        .unwrap();
    assert_eq!(deploy["change"], "deployed", "{deploy}");
    assert_eq!(deploy["environment"], "pr-42-abc123f", "{deploy}");
    let destroy = records
        .iter()
        .find(|r| r["action"] == "destroy pr-42-abc123f")
        .unwrap();
    assert_eq!(destroy["change"], "destroyed", "{destroy}");
    for record in records {
        assert_eq!(record["pr"], 42, "{record}");
        assert_eq!(record["sha"], "abc123f", "{record}");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_records_expiries_orphans_and_label_definitions() {
    let site = Site::start("audit-sweep").await;
    let trail = site.dir.join("audit.jsonl");
    let trail = trail.to_str().unwrap();
    let env = [("SHOWTIME_AUDIT_FILE", trail)];
    site.fake.add_labels_as_person(42, &[TRIGGER]);
    site.run_with(env!("CARGO_BIN_EXE_showtime"), &["sync", "42"], &env)
        .await
        .ok();
    // Created three days ago: past its 24h TTL.
    let created = site
        .fake
        .labels(42)
        .into_iter()
        .find(|l| l.starts_with("🎪 📅 "))
        .unwrap();
    site.fake.remove_label_as_person(42, &created);
    let then = chrono::Utc::now() - chrono::Duration::hours(72);
    site.fake
        .add_labels_as_person(42, &[&format!("🎪 📅 {}", then.format("%Y-%m-%dT%H-%M"))]);
    // An environment whose PR does not exist, past the grace period.
    let orphan = showtime_core::ports::EnvSpec {
        id: showtime_core::ports::EnvId {
            pr: showtime_core::PrNumber::new(77).unwrap(),
            sha: "0ddba11".parse().unwrap(),
        },
        sha: "0ddba110000000000000000000000000000000ff".parse().unwrap(),
        image: "local/orphan".into(),
        config: showtime_core::Config::default(),
        requested_by: None,
        created_at: chrono::Utc::now() - chrono::Duration::hours(2),
        expires_at: None,
    };
    use showtime_core::ports::Backend;
    site.backend().deploy(&orphan).await.unwrap();

    site.run_with(env!("CARGO_BIN_EXE_showtime-sweep"), &[], &env)
        .await
        .ok();
    let records = site
        .run_with(env!("CARGO_BIN_EXE_showtime"), &["audit", "--json"], &env)
        .await
        .ok()
        .json();
    let swept: Vec<&Value> = records
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["program"] == "showtime-sweep")
        .collect();
    let find = |action: &str| {
        swept
            .iter()
            .find(|r| r["action"].as_str().unwrap().starts_with(action))
            .copied()
            .unwrap_or_else(|| panic!("no `{action}` among {swept:?}"))
    };
    let expired = find("destroy pr-42-abc123f");
    assert!(
        expired["reason"].as_str().unwrap().contains("TTL expired"),
        "{expired}"
    );
    assert_eq!(expired["actor"], Value::Null);
    assert_eq!(expired["change"], "destroyed");
    let orphaned = find("destroy pr-77-0ddba11");
    assert_eq!(orphaned["pr"], 77);
    assert_eq!(orphaned["reason"], "orphan: its PR is gone");
    let definition = find("delete label definition");
    assert_eq!(definition["pr"], Value::Null, "{definition}");
    site.clean_up().await;
}

/// A trail written by hand: PR 1 ran 10 hours at the default size
/// (medium: 1 vCPU, 2 GB); PR 2 ran 4 hours large (2 vCPU, 4 GB), was
/// resized to small (0.5 vCPU, 1 GB) and ran 2 more hours.
const TRAIL: &str = r#"{"at":"2026-11-01T00:00:00Z","program":"showtime","pr":1,"actor":"alice","sha":"aaaaaaa","reason":"create","action":"deploy pr-1-aaaaaaa","ok":true,"error":null,"environment":"pr-1-aaaaaaa","change":"deployed"}
{"at":"2026-11-01T10:00:00Z","program":"showtime-sweep","pr":1,"actor":null,"sha":"aaaaaaa","reason":"TTL expired","action":"destroy pr-1-aaaaaaa","ok":true,"error":null,"environment":"pr-1-aaaaaaa","change":"destroyed"}
{"at":"2026-11-02T00:00:00Z","program":"showtime","pr":2,"actor":"bob","sha":"bbbbbbb","reason":"create","action":"deploy pr-2-bbbbbbb","ok":true,"error":null,"environment":"pr-2-bbbbbbb","change":"deployed","size":"large"}
{"at":"2026-11-02T04:00:00Z","program":"showtime","pr":2,"actor":"bob","sha":"bbbbbbb","reason":"configure","action":"apply configuration to pr-2-bbbbbbb","ok":true,"error":null,"environment":"pr-2-bbbbbbb","change":"configured","size":"small"}
{"at":"2026-11-02T05:00:00Z","program":"showtime","pr":2,"actor":"bob","sha":"bbbbbbb","reason":"stop requested","action":"destroy pr-2-bbbbbbb","ok":false,"error":"throttled","environment":"pr-2-bbbbbbb","change":"destroyed"}
{"at":"2026-11-02T06:00:00Z","program":"showtime","pr":2,"actor":"bob","sha":"bbbbbbb","reason":"stop requested","action":"destroy pr-2-bbbbbbb","ok":true,"error":null,"environment":"pr-2-bbbbbbb","change":"destroyed"}
{"at":"2026-11-02T06:0"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn showtime_cost_gives_the_hand_computed_hours_and_dollars() {
    let site = Site::start("cost").await;
    let trail = site.dir.join("audit.jsonl");
    std::fs::write(&trail, TRAIL).unwrap();
    let env = [("SHOWTIME_AUDIT_FILE", trail.to_str().unwrap())];
    let report = site
        .run_with(
            env!("CARGO_BIN_EXE_showtime"),
            &["cost", "--since", "3650d", "--by", "pr", "--json"],
            &env,
        )
        .await
        .ok()
        .json();
    // Fargate on-demand, us-east-1: $0.04048 per vCPU-hour, $0.004445 per GB-hour.
    let medium = 0.04048 + 2.0 * 0.004445;
    let large = 2.0 * 0.04048 + 4.0 * 0.004445;
    let small = 0.5 * 0.04048 + 0.004445;
    let close = |a: &Value, b: f64| (a.as_f64().unwrap() - b).abs() < 1e-9;
    let rows = report["rows"].as_array().unwrap();
    let row = |key: &str| rows.iter().find(|r| r["key"] == key).unwrap();
    assert!(close(&row("#1")["hours"], 10.0), "{report}");
    assert!(close(&row("#1")["usd"], 10.0 * medium), "{report}");
    assert!(close(&row("#2")["hours"], 6.0), "{report}");
    assert!(
        close(&row("#2")["usd"], 4.0 * large + 2.0 * small),
        "{report}"
    );
    assert!(close(&report["total"]["hours"], 16.0), "{report}");
    assert_eq!(report["total"]["environments"], 2);

    let by_size = site
        .run_with(
            env!("CARGO_BIN_EXE_showtime"),
            &["cost", "--since", "3650d", "--by", "size", "--csv"],
            &env,
        )
        .await
        .ok()
        .stdout;
    assert!(
        by_size.starts_with("key,environments,hours,usd\n"),
        "{by_size}"
    );
    assert!(by_size.contains("\nmedium,1,10.000,"), "{by_size}");
    assert!(by_size.contains("\nlarge,1,4.000,"), "{by_size}");
    assert!(by_size.contains("\nsmall,1,2.000,"), "{by_size}");
    let text = site
        .run_with(
            env!("CARGO_BIN_EXE_showtime"),
            &["cost", "--since", "3650d"],
            &env,
        )
        .await
        .ok()
        .stdout;
    assert!(text.contains("alice") && text.contains("bob"), "{text}");
    site.clean_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_warns_once_a_month_when_the_projection_crosses_the_budget() {
    let site = Site::start("budget").await;
    let (addr, received) = support::receiver::receiver().await;
    std::fs::write(
        site.dir.join("showtime.toml"),
        format!(
            "[notify]\nwebhook_url = \"http://{addr}/hook\"\n\n[cost]\nmonthly_budget_usd = 0.0001\n"
        ),
    )
    .unwrap();
    let trail = site.dir.join("audit.jsonl");
    let env = [("SHOWTIME_AUDIT_FILE", trail.to_str().unwrap())];
    site.fake.add_labels_as_person(42, &[TRIGGER]);
    site.run_with(env!("CARGO_BIN_EXE_showtime"), &["sync", "42"], &env)
        .await
        .ok();
    let texts_now = || support::receiver::texts(&received);
    let before = texts_now().len();

    // One medium environment ($0.049 an hour) is projected past $0.0001
    // unless the month ends within seconds: both thresholds.
    let sweep = site
        .run_with(env!("CARGO_BIN_EXE_showtime-sweep"), &[], &env)
        .await
        .ok();
    assert!(sweep.stderr.contains("projected of $0.00"), "{sweep:?}");
    let warnings: Vec<String> = texts_now()[before..]
        .iter()
        .filter(|t| t.contains("budget"))
        .cloned()
        .collect();
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings.iter().all(|w| w.contains(&month)), "{warnings:?}");
    assert!(
        warnings[0].contains("80%") && warnings[1].contains("100%"),
        "{warnings:?}"
    );
    let recorded = site
        .run_with(env!("CARGO_BIN_EXE_showtime"), &["audit", "--json"], &env)
        .await
        .ok()
        .json();
    let budget_records = recorded
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"].as_str().unwrap().starts_with("budget warning"))
        .count();
    assert_eq!(budget_records, warnings.len());

    // Told once a month: the next sweep says nothing more.
    let sent = texts_now().len();
    site.run_with(env!("CARGO_BIN_EXE_showtime-sweep"), &[], &env)
        .await
        .ok();
    assert_eq!(texts_now().len(), sent, "{:?}", texts_now());
    site.clean_up().await;
}
