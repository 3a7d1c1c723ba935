//! Logs and metrics of the real programs against the fake GitHub and the
//! local backend: `showtime-webhook --log-format json --metrics emf` taken
//! through a create, a rolling update and a teardown, scraping `/metrics`
//! (read back with a Prometheus text parser) between the steps; and
//! `showtime sync --metrics emf`, whose EMF lines must not disturb its
//! `--json` output.
//!
//! The logs are checked for what must never be in them (the token, the
//! webhook secret, text from a delivery's body) and for what must (every
//! line of a reconcile carries its id, PR, SHA, event and actor).

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use support::site::*;
use support::*;

/// Words of the deliveries' bodies (the PR's description, a comment's
/// prose) that must never reach a log line.
const BODY_TEXTS: &[&str] = &["Adds a date filter", "zebra-striped-marquee"];

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Collects a child's output, line by line, as it comes.
fn collect(stream: impl AsyncRead + Unpin + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

/// The samples of one scrape: `name{label="value",…}` (labels sorted) to
/// value, read with `prometheus-parse`.
struct Scrape(BTreeMap<String, f64>);

impl Scrape {
    async fn of(addr: SocketAddr) -> Scrape {
        let text = http_text(addr, "/metrics").await.expect("GET /metrics");
        let lines = text.lines().map(|l| Ok(l.to_owned()));
        let parsed = prometheus_parse::Scrape::parse(lines)
            .unwrap_or_else(|e| panic!("/metrics does not parse ({e}):\n{text}"));
        let mut samples = BTreeMap::new();
        for sample in parsed.samples {
            let value = match sample.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                prometheus_parse::Value::Histogram(_) | prometheus_parse::Value::Summary(_) => {
                    continue;
                }
            };
            let mut labels: Vec<String> = sample
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect();
            labels.sort();
            samples.insert(format!("{}{{{}}}", sample.metric, labels.join(",")), value);
        }
        assert!(!samples.is_empty(), "no samples in:\n{text}");
        // A parser that skips what it cannot read would hide a bad line:
        // each metric has as many samples as lines. (Buckets are left out:
        // prometheus-parse folds a histogram's label sets into one sample,
        // so its figures are read from `_count` and `_sum`.)
        let mut lines: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
        for line in text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let series = line.rsplit_once(' ').map_or(line, |(series, _)| series);
            let (name, labels) = series.split_once('{').unwrap_or((series, ""));
            if name.ends_with("_bucket") {
                continue;
            }
            lines
                .entry(name.to_owned())
                .or_default()
                .insert(labels.trim_end_matches('}').to_owned());
        }
        let mut parsed: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
        for key in samples.keys() {
            let (name, labels) = key.split_once('{').unwrap_or((key, ""));
            parsed
                .entry(name.to_owned())
                .or_default()
                .insert(labels.to_owned());
        }
        let counts = |m: &BTreeMap<String, std::collections::BTreeSet<String>>| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.len()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            counts(&parsed),
            counts(&lines),
            "lines were skipped:\n{text}"
        );
        Scrape(samples)
    }

    /// The value of `key` (`name{labels}`, labels sorted), 0 when absent.
    fn get(&self, key: &str) -> f64 {
        self.0.get(key).copied().unwrap_or(0.0)
    }

    /// The sum over every sample of metric `name` whose labels include all
    /// of `labels`.
    fn sum(&self, name: &str, labels: &[&str]) -> f64 {
        self.0
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("{name}{{")))
            .filter(|(k, _)| labels.iter().all(|l| k.contains(l)))
            .map(|(_, v)| v)
            .sum()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_server_logs_json_without_secrets_and_its_metrics_move() {
    let site = Site::start("observability").await;
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let secret = String::from_utf8(SECRET.to_vec()).unwrap();
    let mut server = site.command(
        env!("CARGO_BIN_EXE_showtime-webhook"),
        &[
            "--listen",
            &listen,
            "--log-format",
            "json",
            "--metrics",
            "emf",
        ],
    );
    server
        .env("GITHUB_WEBHOOK_SECRET", &secret)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = server.spawn().unwrap();
    let stderr = collect(child.stderr.take().unwrap());
    let stdout = collect(child.stdout.take().unwrap());
    let addr: SocketAddr = listen.parse().unwrap();
    eventually("the server to listen", async || {
        http_text(addr, "/healthz").await.is_some()
    })
    .await;

    let before = Scrape::of(addr).await;
    assert_eq!(before.sum("showtime_reconciles_total", &[]), 0.0);
    assert_eq!(before.get("showtime_queue_depth{}"), 0.0);
    for status in ["running", "building", "failed"] {
        assert_eq!(
            before.get(&format!("showtime_environments{{status=\"{status}\"}}")),
            0.0,
            "every status is there from the start"
        );
    }

    // Create: the sender adds the trigger label.
    site.fake.set_permission(AUTHOR, "write");
    site.fake.add_labels_as_person(42, &[TRIGGER]);
    let labeled = pull_request_event("labeled", 42, TRIGGER);
    let reply = deliver(addr, "pull_request", "delivery-1", &labeled).await;
    assert_eq!(reply.status, 202, "{reply:?}");
    eventually("the environment to run", async || {
        site.showtime_labels(42)
            .contains(&"🎪 🚦 running".to_owned())
    })
    .await;
    eventually("the batch to be counted", async || {
        Scrape::of(addr)
            .await
            .get("showtime_time_to_ready_seconds_count{kind=\"create\"}")
            == 1.0
    })
    .await;
    let created = Scrape::of(addr).await;
    assert_eq!(
        created.get("showtime_reconciles_total{outcome=\"ok\",trigger=\"look\"}"),
        1.0
    );
    assert_eq!(
        created.get("showtime_environments{status=\"running\"}"),
        1.0,
        "counted from the labels the reconcile wrote"
    );
    assert_eq!(created.get("showtime_queue_depth{}"), 0.0);
    assert_eq!(created.get("showtime_queue_wait_seconds_count{}"), 1.0);
    let pull = "endpoint=\"/repos/:owner/:repo/pulls/:pull_number\",method=\"GET\"";
    assert!(
        created.sum("showtime_github_requests_total", &[pull]) >= 1.0,
        "{:?}",
        created.0
    );
    assert!(
        created.sum(
            "showtime_github_requests_total",
            &["endpoint=\"/graphql\"", "method=\"POST\"", "status=\"200\""]
        ) >= 1.0,
        "label transitions are GraphQL documents: {:?}",
        created.0
    );
    assert!(
        !created
            .0
            .keys()
            .any(|k| k.contains("acme") || k.contains("/42")),
        "endpoints are templates, never raw paths: {:?}",
        created.0
    );
    let core = created.get("showtime_github_rate_limit_remaining{resource=\"core\"}");
    assert!(core > 0.0 && core < 5000.0, "{core}");

    // A push: a rolling update.
    site.fake.set_head(42, SECOND);
    let pushed = pull_request_event("synchronize", 42, TRIGGER);
    let reply = deliver(addr, "pull_request", "delivery-push", &pushed).await;
    assert_eq!(reply.status, 202, "{reply:?}");
    eventually("the rolling update", async || {
        Scrape::of(addr)
            .await
            .get("showtime_time_to_ready_seconds_count{kind=\"update\"}")
            == 1.0
    })
    .await;
    assert_eq!(site.live().await, ["pr-42-5eadbee"]);

    // A comment whose prose must stay out of the logs: the teardown.
    let body = "Thanks, zebra-striped-marquee is done.\n/circus destroy";
    site.fake.add_comment(42, MAINTAINER, body);
    let comment = comment_event(42, body, MAINTAINER);
    let reply = deliver(addr, "issue_comment", "delivery-3", &comment).await;
    assert_eq!(reply.status, 202, "{reply:?}");
    eventually("the teardown to be counted", async || {
        Scrape::of(addr)
            .await
            .get("showtime_time_to_destroy_seconds_count{}")
            == 1.0
    })
    .await;
    assert!(site.live().await.is_empty());
    let after = Scrape::of(addr).await;
    // The README's sample (`--nocapture`).
    println!("{}", http_text(addr, "/metrics").await.unwrap_or_default());
    assert_eq!(after.get("showtime_teardowns_total{result=\"ok\"}"), 1.0);
    assert_eq!(after.get("showtime_environments{status=\"running\"}"), 0.0);
    assert_eq!(
        after.get("showtime_reconciles_total{outcome=\"ok\",trigger=\"command\"}"),
        1.0
    );
    assert!(
        after.sum("showtime_github_requests_total", &[])
            > created.sum("showtime_github_requests_total", &[])
    );

    // A forged delivery: refused, logged without its body.
    let headers = github_headers("pull_request", "delivery-forged", &labeled, b"wrong");
    let forged = http(addr, "POST", "/webhook", &headers, &labeled).await;
    assert_eq!(forged.status, 401);

    stop(&mut child).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let logs = stderr.lock().unwrap().clone();
    check_logs(&logs, &secret);

    // EMF on standard output, written at shutdown.
    let emf: Vec<Value> = stdout
        .lock()
        .unwrap()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let reconciles = emf
        .iter()
        .find(|l| l.get("Reconciles").is_some())
        .unwrap_or_else(|| panic!("no Reconciles line: {emf:?}"));
    assert_valid_emf(reconciles);
    assert_eq!(reconciles["Program"], "showtime-webhook");
    println!("{reconciles}");
    let ready = emf
        .iter()
        .find(|l| l["Kind"] == "create")
        .unwrap_or_else(|| panic!("no TimeToReady line: {emf:?}"));
    assert_valid_emf(ready);
    assert!(ready["TimeToReady"].as_f64().unwrap() > 0.0, "{ready}");
    site.clean_up().await;
}

/// Sends SIGTERM and waits for a clean exit.
async fn stop(child: &mut tokio::process::Child) {
    let pid = child.id().unwrap();
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
}

/// Every line is JSON; none holds a secret or a body's text; every line of
/// a reconcile carries its id, PR, event and actor, and its SHA once read.
fn check_logs(logs: &[String], secret: &str) {
    assert!(!logs.is_empty());
    let mut reconciles: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for line in logs {
        for forbidden in ["test-token", secret].iter().chain(BODY_TEXTS).copied() {
            assert!(!line.contains(forbidden), "`{forbidden}` logged: {line}");
        }
        let value: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(value["timestamp"].is_string() && value["level"].is_string());
        let spans = value["spans"].as_array().cloned().unwrap_or_default();
        if let Some(reconcile) = spans.iter().find(|s| s["name"] == "reconcile") {
            let id = reconcile["reconcile_id"].as_str().unwrap_or_else(|| {
                panic!("a reconcile line without its id: {line}");
            });
            reconciles
                .entry(id.to_owned())
                .or_default()
                .push(reconcile.clone());
        }
    }
    assert!(
        reconciles.len() >= 3,
        "create, update, destroy: {reconciles:?}"
    );
    let mut shas = Vec::new();
    for (id, spans) in &reconciles {
        for span in spans {
            assert_eq!(span["pr"], 42, "{id}: {span}");
            assert!(
                span["event"].is_string() && span["trigger"].is_string(),
                "{span}"
            );
            assert!(span["actor"].is_string(), "{span}");
        }
        let last = spans.last().unwrap();
        shas.push(last["sha"].as_str().unwrap_or_default().to_owned());
    }
    assert!(shas.contains(&HEAD.to_owned()), "{shas:?}");
    assert!(shas.contains(&SECOND.to_owned()), "{shas:?}");
    let actors: Vec<&str> = reconciles
        .values()
        .flatten()
        .filter_map(|s| s["actor"].as_str())
        .collect();
    assert!(
        actors.contains(&AUTHOR) && actors.contains(&MAINTAINER),
        "{actors:?}"
    );
    // The refused delivery is there, with its id and without its body.
    assert!(
        logs.iter()
            .any(|l| l.contains("delivery refused") && l.contains("delivery-forged")),
        "{logs:?}"
    );
    // So is each accepted one, with its PR and sender.
    assert!(
        logs.iter().any(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["message"] == "delivery queued"
                && v["span"]["pr"] == 42
                && v["span"]["actor"] == AUTHOR
        }),
        "{logs:?}"
    );
}

/// The structure CloudWatch reads: `_aws.Timestamp`, metric directives
/// (one, or more when a metric has a roll-up) with `Namespace`,
/// `Dimensions` (each named member present) and `Metrics` (each named
/// member a number or a list of numbers).
fn assert_valid_emf(line: &Value) {
    let aws = &line["_aws"];
    assert!(
        aws["Timestamp"].as_i64().unwrap() > 1_600_000_000_000,
        "{line}"
    );
    let directives = aws["CloudWatchMetrics"].as_array().unwrap();
    assert!(!directives.is_empty(), "{line}");
    for directive in directives {
        assert_valid_directive(line, directive);
    }
}

fn assert_valid_directive(line: &Value, directive: &Value) {
    assert_eq!(directive["Namespace"], "Showtime", "{line}");
    let dimensions = directive["Dimensions"].as_array().unwrap();
    assert!(!dimensions.is_empty(), "{line}");
    for set in dimensions {
        for name in set.as_array().unwrap() {
            assert!(line[name.as_str().unwrap()].is_string(), "{name} in {line}");
        }
    }
    let metrics = directive["Metrics"].as_array().unwrap();
    assert!(!metrics.is_empty(), "{line}");
    for metric in metrics {
        let name = metric["Name"].as_str().unwrap();
        assert!(metric["Unit"].is_string(), "{line}");
        let value = &line[name];
        let numbers = match value {
            Value::Array(values) => values.iter().all(Value::is_number) && !values.is_empty(),
            other => other.is_number(),
        };
        assert!(numbers, "{name} in {line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn showtime_sync_writes_emf_on_stderr_and_keeps_its_json() {
    let site = Site::start("observability-cli").await;
    site.fake.add_labels_as_person(42, &[TRIGGER]);
    let run = site
        .run_with(
            env!("CARGO_BIN_EXE_showtime"),
            &["sync", "42", "--json"],
            &[("SHOWTIME_METRICS", "emf")],
        )
        .await
        .ok();
    // Standard output is the result, as without metrics.
    let result = run.json();
    assert_eq!(result["pr"], "42", "{result}");
    let emf: Vec<Value> = run
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("_aws").is_some())
        .collect();
    assert!(!emf.is_empty(), "no EMF line on stderr: {}", run.stderr);
    for line in &emf {
        assert_valid_emf(line);
        assert_eq!(line["Program"], "showtime");
    }
    let reconciles = emf
        .iter()
        .find(|l| l.get("Reconciles").is_some())
        .unwrap_or_else(|| panic!("{emf:?}"));
    assert_eq!(reconciles["Reconciles"], 1.0);
    assert_eq!(reconciles["Outcome"], "ok");
    assert!(
        emf.iter()
            .any(|l| l["Kind"] == "create" && l["TimeToReady"].is_number())
    );
    assert!(emf.iter().any(|l| l.get("GitHubRequests").is_some()));
    assert!(
        emf.iter()
            .any(|l| l["Status"] == "running" && l["Environments"] == 1.0)
    );
    site.clean_up().await;
}
