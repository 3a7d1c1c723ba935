//! `showtime-lambda`'s functions, invoked with recorded Lambda events
//! (`tests/fixtures/lambda/`: a Function URL request as Lambda delivers
//! GitHub's webhook, plain and base64-encoded; an SQS FIFO batch; an
//! EventBridge schedule):
//!
//! * in-process, through the handlers the binary serves
//!   ([`showtime_examples::lambda`]);
//! * as the built binary under a local stand-in for Lambda's runtime API,
//!   which also measures its cold start (printed; the README has the
//!   figures).

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_lambda_events::event::sqs::SqsEvent;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde_json::{Value, json};
use showtime_core::ports::Permission;
use showtime_core::testing::World;
use showtime_examples::lambda::{self, Role};
use showtime_github::webhook::Webhook;
use showtime_runtime::metrics::{Metrics, Refusal};
use showtime_runtime::receiver::Receiver;
use showtime_runtime::worker::{Batch, BatchError, EngineHandler, Handler};
use support::queue::MemoryQueue;
use support::*;

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/lambda/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn sqs_batch() -> SqsEvent {
    serde_json::from_str(&fixture("sqs-batch.json")).unwrap()
}

fn body_json(response: &lambda_http::Response<lambda_http::Body>) -> Value {
    serde_json::from_slice(response.body()).unwrap()
}

#[tokio::test]
async fn a_function_url_delivery_is_checked_and_queued() {
    for name in [
        "function-url-delivery.json",
        "function-url-delivery-base64.json",
    ] {
        let queue = Arc::new(MemoryQueue::default());
        let receiver = Receiver::new(
            Webhook::new(SECRET).unwrap(),
            Some(REPO.to_owned()),
            queue.clone(),
        );
        let event = fixture(name);
        let request = lambda_http::request::from_str(&event).unwrap();
        let response = lambda::receive(&receiver, request).await;
        assert_eq!(response.status(), 202, "{name}: {:?}", body_json(&response));
        assert_eq!(body_json(&response), json!({ "queued": true, "pr": 42 }));

        let sent = queue.sent.lock().unwrap().clone();
        assert_eq!(sent.len(), 1, "{name}");
        assert_eq!(sent[0].group, format!("{REPO}#42"));
        assert_eq!(sent[0].dedup_id, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
        let envelope: Value = serde_json::from_str(&sent[0].body).unwrap();
        assert_eq!(envelope["event"], "pull_request");
        let recorded: Value = serde_json::from_str(&event).unwrap();
        let payload = match recorded["isBase64Encoded"].as_bool().unwrap() {
            false => recorded["body"].as_str().unwrap().to_owned(),
            true => {
                use base64::Engine as _;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(recorded["body"].as_str().unwrap())
                    .unwrap();
                String::from_utf8(bytes).unwrap()
            }
        };
        assert_eq!(
            envelope["payload"], payload,
            "the payload GitHub signed, as is"
        );
    }
}

#[tokio::test]
async fn a_forged_or_foreign_delivery_never_reaches_the_queue() {
    let queue = Arc::new(MemoryQueue::default());
    let receiver = Receiver::new(
        Webhook::new(SECRET).unwrap(),
        Some(REPO.to_owned()),
        queue.clone(),
    );
    let mut event: Value = serde_json::from_str(&fixture("function-url-delivery.json")).unwrap();
    let body = event["body"]
        .as_str()
        .unwrap()
        .replace("date filter", "miner");
    event["body"] = Value::String(body);
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    let response = lambda::receive(&receiver, request).await;
    assert_eq!(response.status(), 401, "{:?}", body_json(&response));
    assert!(
        body_json(&response)["error"]
            .as_str()
            .unwrap()
            .contains("does not match the body")
    );

    // Another repository's receiver: refused, and counted.
    let metrics = Arc::new(Metrics::new());
    let elsewhere = Receiver::new(
        Webhook::new(SECRET).unwrap(),
        Some("octo-org/elsewhere".to_owned()),
        queue.clone(),
    )
    .with_metrics(metrics.clone());
    let request = lambda_http::request::from_str(&fixture("function-url-delivery.json")).unwrap();
    let response = lambda::receive(&elsewhere, request).await;
    assert_eq!(response.status(), 403, "{:?}", body_json(&response));
    assert_eq!(metrics.refusals(Refusal::Repository), 1);

    // Not a delivery: a health check, and a method nothing answers.
    for (method, status) in [("GET", 200), ("PUT", 405)] {
        let mut event: Value =
            serde_json::from_str(&fixture("function-url-delivery.json")).unwrap();
        event["requestContext"]["http"]["method"] = Value::String(method.to_owned());
        let request = lambda_http::request::from_str(&event.to_string()).unwrap();
        let response = lambda::receive(&receiver, request).await;
        assert_eq!(response.status(), status, "{method}");
    }
    assert!(queue.sent.lock().unwrap().is_empty());
}

/// Records every batch; fails those of `failing` groups.
#[derive(Default)]
struct Recorder {
    batches: Mutex<Vec<(String, Vec<String>)>>,
    failing: Vec<String>,
}

#[async_trait]
impl Handler for Recorder {
    async fn handle(&self, batch: &Batch) -> Result<(), BatchError> {
        let ids = batch.messages.iter().map(|m| m.dedup_id.clone()).collect();
        self.batches
            .lock()
            .unwrap()
            .push((batch.group.clone(), ids));
        if self.failing.contains(&batch.group) {
            return Err(BatchError("GitHub answered 502".to_owned()));
        }
        Ok(())
    }
}

/// The message ids a batch response reports as failed.
fn failed_ids(response: &aws_lambda_events::event::sqs::SqsBatchResponse) -> Vec<&str> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect()
}

#[tokio::test]
async fn an_sqs_batch_is_handled_by_pr_and_reports_only_failed_groups() {
    let handler = Recorder {
        failing: vec![format!("{REPO}#7")],
        ..Recorder::default()
    };
    let response = lambda::work(&handler, sqs_batch()).await;
    let failed = failed_ids(&response);
    assert_eq!(failed, ["2e1424d4-f796-459a-8184-9c92662be6da"]);
    let mut batches = handler.batches.lock().unwrap().clone();
    batches.sort();
    assert_eq!(
        batches,
        [
            (
                format!("{REPO}#42"),
                vec![
                    "72d3162e-cc78-11e3-81ab-4c9367dc0958".to_owned(),
                    "81f7c3d4-cc78-11e3-81ab-4c9367dc0958".to_owned()
                ]
            ),
            (
                format!("{REPO}#7"),
                vec!["7a1c0e2a-cc78-11e3-81ab-4c9367dc0958".to_owned()]
            ),
        ],
        "one batch per PR, its deliveries in the order sent"
    );

    // A failure of PR 42 keeps both of its messages, in order.
    let handler = Recorder {
        failing: vec![format!("{REPO}#42")],
        ..Recorder::default()
    };
    let response = lambda::work(&handler, sqs_batch()).await;
    let failed = failed_ids(&response);
    assert_eq!(
        failed,
        [
            "059f36b4-87a3-44ab-83d2-661975830a7d",
            "7d4b1a60-3e0f-4b8c-9c1f-5a6b7c8d9e0f"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_function_carries_a_batch_out_through_the_engine() {
    let world = World::new();
    world.host.set_permission(AUTHOR, Permission::Write);
    let prs = [42, 7].map(|n| world.open_pr(n, HEAD, AUTHOR, &[TRIGGER]));
    let handler = EngineHandler::new(Arc::new(world.engine()));
    let response = lambda::work(&handler, sqs_batch()).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    for pr in prs {
        let labels = world.host.showtime_labels(pr);
        assert!(
            labels.iter().any(|l| l.ends_with("🚦 running")),
            "PR {pr}: {labels:?}"
        );
    }
    assert_eq!(world.backend.environments().len(), 2);
}

#[test]
fn the_role_is_named_or_the_error_says_which_are_accepted() {
    let role = |v: Option<&str>| {
        let v = v.map(str::to_owned);
        Role::from_env(&move |k: &str| (k == lambda::ROLE_VARIABLE).then(|| v.clone()).flatten())
    };
    assert_eq!(role(Some("worker")).unwrap(), Role::Worker);
    assert_eq!(role(Some(" Sweep ")).unwrap(), Role::Sweep);
    for bad in [None, Some(""), Some("controller")] {
        let error = role(bad).unwrap_err().to_string();
        assert!(
            error.contains("SHOWTIME_LAMBDA_ROLE") && error.contains("receiver, worker, sweep"),
            "{error}"
        );
    }
}

/// What the stand-in for Lambda's runtime API saw, with when (since the
/// process was started).
#[derive(Default)]
struct Seen {
    /// Each `GET …/invocation/next`.
    polls: Vec<Duration>,
    /// Each response or error posted: its kind, body and time.
    results: Vec<(String, Value, Duration)>,
}

struct RuntimeApi {
    addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
    started: Arc<Mutex<Option<Instant>>>,
}

#[derive(Clone)]
struct ApiState {
    events: Arc<Mutex<Vec<Value>>>,
    seen: Arc<Mutex<Seen>>,
    started: Arc<Mutex<Option<Instant>>>,
}

impl ApiState {
    fn since(&self) -> Duration {
        self.started.lock().unwrap().unwrap().elapsed()
    }
}

/// Lambda's runtime API on 127.0.0.1, handing out `events` one per
/// invocation (then none: the next poll waits forever, as in Lambda).
async fn runtime_api(events: Vec<Value>) -> RuntimeApi {
    async fn next(State(state): State<ApiState>) -> (HeaderMap, String) {
        let event = {
            state.seen.lock().unwrap().polls.push(state.since());
            let mut events = state.events.lock().unwrap();
            (!events.is_empty()).then(|| events.remove(0))
        };
        let Some(event) = event else {
            std::future::pending::<()>().await;
            unreachable!()
        };
        let n = state.seen.lock().unwrap().polls.len();
        let deadline = chrono::Utc::now().timestamp_millis() + 60_000;
        let mut headers = HeaderMap::new();
        let mut set = |k: &'static str, v: String| headers.insert(k, v.parse().unwrap());
        set("lambda-runtime-aws-request-id", format!("request-{n}"));
        set("lambda-runtime-deadline-ms", deadline.to_string());
        set(
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-west-2:123456789012:function:showtime".to_owned(),
        );
        set(
            "lambda-runtime-trace-id",
            "Root=1-6750a1b2-0f3c2d1e4b5a69788796a5b4".to_owned(),
        );
        (headers, event.to_string())
    }
    async fn result(
        State(state): State<ApiState>,
        Path((_id, kind)): Path<(String, String)>,
        body: String,
    ) -> StatusCode {
        let body = serde_json::from_str(&body).unwrap_or(Value::String(body));
        let at = state.since();
        state.seen.lock().unwrap().results.push((kind, body, at));
        StatusCode::ACCEPTED
    }
    async fn init_error(State(state): State<ApiState>, body: String) -> StatusCode {
        let at = state.since();
        let seen = &mut state.seen.lock().unwrap().results;
        seen.push(("init-error".to_owned(), Value::String(body), at));
        StatusCode::ACCEPTED
    }
    let state = ApiState {
        events: Arc::new(Mutex::new(events)),
        seen: Arc::default(),
        started: Arc::default(),
    };
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/{kind}", post(result))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    RuntimeApi {
        addr,
        seen: state.seen,
        started: state.started,
    }
}

/// The binary measured: this build's, or `SHOWTIME_LAMBDA_BIN` (a release
/// build, for the README's figures; a `showtime` beside it serves the local
/// backend's environments).
fn lambda_binary() -> String {
    std::env::var("SHOWTIME_LAMBDA_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_showtime-lambda").to_owned())
}

/// Runs `showtime-lambda` as `role` on `events` until it has answered
/// them all; returns its answers and its cold start (process start to its
/// first poll) and first invocation's end.
async fn invoke(
    site: &support::site::Site,
    role: &str,
    events: Vec<Value>,
) -> (Vec<(String, Value)>, Duration, Duration, String) {
    invoke_with(site, role, events, &[]).await
}

/// [`invoke`] with more variables.
async fn invoke_with(
    site: &support::site::Site,
    role: &str,
    events: Vec<Value>,
    more: &[(&str, &str)],
) -> (Vec<(String, Value)>, Duration, Duration, String) {
    let count = events.len();
    let api = runtime_api(events).await;
    let mut command = site.command(&lambda_binary(), &[]);
    let variables = BTreeMap::from([
        ("AWS_LAMBDA_RUNTIME_API", api.addr.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", format!("showtime-{role}")),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/showtime-{role}"),
        ),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/12/02/[$LATEST]0123".to_owned(),
        ),
        ("SHOWTIME_LAMBDA_ROLE", role.to_owned()),
    ]);
    command.envs(variables);
    command.envs(more.iter().copied());
    command.stdout(std::process::Stdio::null());
    let log = site.dir.join(format!("lambda-{role}.log"));
    command.stderr(std::fs::File::create(&log).unwrap());
    *api.started.lock().unwrap() = Some(Instant::now());
    let mut child = command.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    while api.seen.lock().unwrap().results.len() < count {
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            child.start_kill().unwrap();
            let _ = child.wait().await;
            panic!(
                "showtime-lambda ({role}) did not answer: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.start_kill().unwrap();
    let _ = child.wait().await;
    let seen = api.seen.lock().unwrap();
    let answers = seen
        .results
        .iter()
        .map(|(kind, body, _)| (kind.clone(), body.clone()))
        .collect();
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    (answers, seen.polls[0], seen.results[0].2, log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_built_binary_serves_lambda_and_its_cold_start_is_measured() {
    let site = support::site::Site::start("lambda").await;
    site.fake.add_labels_as_person(42, &[TRIGGER]);
    site.fake.set_permission(AUTHOR, "write");
    let batch: Value = serde_json::from_str(&fixture("sqs-batch.json")).unwrap();
    // Only PR 42 is on this site's GitHub: PR 7's message is a delivery for
    // a PR that does not exist, which is dropped, not retried.
    let (answers, cold, first, log) = invoke(&site, "worker", vec![batch]).await;
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].0, "response", "{answers:?}");
    assert_eq!(answers[0].1, json!({ "batchItemFailures": [] }));
    let labels = site.showtime_labels(42);
    assert!(
        labels.iter().any(|l| l.ends_with("🚦 running")),
        "{labels:?}\n{log}"
    );
    eprintln!(
        "showtime-lambda worker: cold start {} ms, first invocation (a deploy) done at {} ms",
        cold.as_millis(),
        first.as_millis()
    );

    let schedule: Value = serde_json::from_str(&fixture("scheduled-event.json")).unwrap();
    let (answers, cold, first, log) = invoke(&site, "sweep", vec![schedule]).await;
    assert_eq!(answers[0].0, "response", "{answers:?}");
    assert_eq!(answers[0].1["dry_run"], false, "{answers:?}\n{log}");
    eprintln!(
        "showtime-lambda sweep: cold start {} ms, first invocation (a sweep) done at {} ms",
        cold.as_millis(),
        first.as_millis()
    );

    // The receiver builds no engine: only the webhook secret and the queue,
    // here one nobody serves, so the delivery is checked and then answered
    // 503 (GitHub shows the failure; the delivery can be sent again).
    let delivery: Value = serde_json::from_str(&fixture("function-url-delivery.json")).unwrap();
    let secret = String::from_utf8(SECRET.to_vec()).unwrap();
    let (answers, cold, first, log) = invoke_with(
        &site,
        "receiver",
        vec![delivery],
        &[
            ("GITHUB_WEBHOOK_SECRET", secret.as_str()),
            (
                "SHOWTIME_SQS_QUEUE_URL",
                "http://127.0.0.1:9/000000000000/showtime.fifo",
            ),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ("AWS_REGION", "us-west-2"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ],
    )
    .await;
    assert_eq!(answers[0].0, "response", "{answers:?}\n{log}");
    assert_eq!(answers[0].1["statusCode"], 503, "{answers:?}\n{log}");
    let body: Value = serde_json::from_str(answers[0].1["body"].as_str().unwrap()).unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("the work queue did not take the delivery"),
        "{body}"
    );
    eprintln!(
        "showtime-lambda receiver: cold start {} ms, first invocation (a delivery) done at {} ms",
        cold.as_millis(),
        first.as_millis()
    );

    // Outside Lambda, or without a role, it says so and exits 2.
    let outside = site
        .run_with(env!("CARGO_BIN_EXE_showtime-lambda"), &[], &[])
        .await;
    assert_eq!(outside.code, 2, "{outside:?}");
    assert!(
        outside.stderr.contains("AWS_LAMBDA_RUNTIME_API"),
        "{outside:?}"
    );
    site.clean_up().await;
}
