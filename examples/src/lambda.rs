//! `showtime-lambda`: Showtime as AWS Lambda functions, on the official
//! Rust runtime (`lambda_runtime`, `lambda_http`). One binary, one zip,
//! three functions, told apart by `SHOWTIME_LAMBDA_ROLE` ([`Role`]):
//!
//! | role | invoked by | does |
//! |---|---|---|
//! | `receiver` | a Function URL (GitHub's webhook) | checks each delivery and sends it to the SQS FIFO work queue ([`receive`]) |
//! | `worker` | the queue's event source mapping | carries the deliveries out, reporting partial batch failures ([`work`]) |
//! | `sweep` | an EventBridge schedule | one sweep pass ([`sweep`]) |
//!
//! Every rule lives in `showtime-runtime`, shared with the long-running
//! programs: the receiver is [`Receiver`] (as `showtime-webhook` in
//! receiver mode), the worker is [`worker::handle_all`] over the
//! [`EngineHandler`] (as `showtime-worker`), the sweep is
//! [`sweeper::pass`] (as `showtime-sweep`). This module only turns Lambda's
//! events into those calls and their results into Lambda's answers.
//!
//! Configuration is the programs' own (variables, and `showtime.toml` when
//! `SHOWTIME_CONFIG` names one in the zip); the receiver needs only
//! `GITHUB_WEBHOOK_SECRET`, `GITHUB_REPOSITORY` and
//! `SHOWTIME_SQS_QUEUE_URL`, so its cold start builds no engine.

use std::str::FromStr;
use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_http::{Body, Request, Response, http};
use serde_json::{Value, json};
use showtime_core::engine::Engine;
use showtime_core::ports::Received;
use showtime_github::webhook::Webhook;
use showtime_runtime::config::Settings;
use showtime_runtime::metrics::Metrics;
use showtime_runtime::receiver::{Answer, Receiver};
use showtime_runtime::wiring;
use showtime_runtime::worker::{self, EngineHandler, Handler};
use tracing::Instrument;

use crate::output::Output;
use crate::{CliError, sweeper};

/// The variable that says which function this is.
pub const ROLE_VARIABLE: &str = "SHOWTIME_LAMBDA_ROLE";
/// The variable holding the webhook secret (the receiver's).
pub const SECRET_VARIABLE: &str = "GITHUB_WEBHOOK_SECRET";
/// The variables the Lambda runtime sets and `lambda_runtime` requires:
/// without them this program is not running inside Lambda.
pub const LAMBDA_VARIABLES: [&str; 4] = [
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
];
/// The name the figures and the audit trail give this program.
pub const PROGRAM: &str = "showtime-lambda";

/// Which of the three functions this process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The webhook receiver, behind a Function URL.
    Receiver,
    /// The queue's worker, behind an SQS event source mapping.
    Worker,
    /// The scheduled sweep.
    Sweep,
}

impl Role {
    /// Every role, with its name.
    pub const ALL: [(&'static str, Role); 3] = [
        ("receiver", Role::Receiver),
        ("worker", Role::Worker),
        ("sweep", Role::Sweep),
    ];

    /// The role `SHOWTIME_LAMBDA_ROLE` names.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Role, CliError> {
        env(ROLE_VARIABLE).unwrap_or_default().parse()
    }
}

impl FromStr for Role {
    type Err = CliError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Role::ALL
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(s))
            .map(|(_, role)| *role)
            .ok_or_else(|| {
                let names: Vec<&str> = Role::ALL.iter().map(|(name, _)| *name).collect();
                CliError::BadInput(format!(
                    "{ROLE_VARIABLE} is {}: set it to one of {} (which function this is)",
                    if s.is_empty() {
                        "not set".to_owned()
                    } else {
                        format!("`{s}`")
                    },
                    names.join(", ")
                ))
            })
    }
}

/// The variables of [`LAMBDA_VARIABLES`] that are missing: this program
/// runs only inside Lambda (or under an emulator that sets them).
pub fn missing_lambda_variables(env: &dyn Fn(&str) -> Option<String>) -> Vec<&'static str> {
    LAMBDA_VARIABLES
        .into_iter()
        .filter(|k| env(k).is_none_or(|v| v.is_empty()))
        .collect()
}

/// The receiver's set-up, from the configuration: the webhook secret, the
/// repository served and the work queue.
pub async fn receiver(
    settings: &Settings,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Receiver, CliError> {
    let secret = env(SECRET_VARIABLE)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            CliError::BadInput(format!(
                "{SECRET_VARIABLE} is not set: set it to the secret configured on the GitHub \
                 webhook (deliveries cannot be verified without it)"
            ))
        })?;
    let webhook = Webhook::new(secret).map_err(|e| CliError::BadInput(e.to_string()))?;
    let queue = wiring::work_queue(settings, env)
        .await
        .map_err(|e| CliError::BadInput(e.to_string()))?
        .ok_or_else(|| {
            CliError::BadInput(
                "no work queue: set SHOWTIME_SQS_QUEUE_URL (or [queue] sqs_url) to the SQS FIFO \
                 queue the worker function reads"
                    .to_owned(),
            )
        })?;
    Ok(Receiver::new(webhook, settings.repository.clone(), queue)
        .repository_id(settings.file.server.repository_id))
}

/// The worker's handler, from the configuration: the engine, reporting to
/// `metrics` and the configured audit trail. (The figures reach CloudWatch
/// as EMF lines the program writes after each invocation.)
pub async fn worker(
    settings: &Settings,
    env: &dyn Fn(&str) -> Option<String>,
    metrics: Arc<Metrics>,
) -> Result<EngineHandler, CliError> {
    let engine = engine(settings, env, metrics.clone()).await?;
    Ok(EngineHandler::new(Arc::new(engine))
        .with_metrics(metrics)
        .with_audit(settings.file.audit.sink(env))
        .program(PROGRAM))
}

/// The engine of the worker and the sweep, as the other programs build it.
pub async fn engine(
    settings: &Settings,
    env: &dyn Fn(&str) -> Option<String>,
    metrics: Arc<Metrics>,
) -> Result<Engine, CliError> {
    let extras = wiring::Extras::default().metrics(metrics);
    Ok(wiring::engine_with(settings, env, extras).await?)
}

/// The receiver function: one Function URL request (GitHub's delivery) in,
/// the answer out. `POST` (on any path) is a delivery, checked and sent to
/// the queue exactly as `showtime-webhook` in receiver mode does; `GET`
/// answers a health check; anything else is refused with `405`.
pub async fn receive(receiver: &Receiver, request: Request) -> Response<Body> {
    let answer = match *request.method() {
        http::Method::POST => {
            let span = tracing::info_span!(
                "delivery",
                pr = tracing::field::Empty,
                actor = tracing::field::Empty
            );
            receiver
                .accept(request.headers(), request.body())
                .instrument(span)
                .await
        }
        http::Method::GET | http::Method::HEAD => Answer {
            status: http::StatusCode::OK,
            body: json!({ "status": "ok", "role": "receiver" }),
        },
        _ => Answer {
            status: http::StatusCode::METHOD_NOT_ALLOWED,
            body: json!({ "error": "POST GitHub's webhook deliveries here" }),
        },
    };
    let mut response = Response::new(Body::Text(answer.body.to_string()));
    *response.status_mut() = answer.status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

/// The worker function: one SQS batch in; the messages whose work failed
/// out, as partial batch failures (the event source mapping must report
/// them: `FunctionResponseTypes: [ReportBatchItemFailures]`). Lambda
/// deletes the others. The messages of one PR (one message group) are
/// carried out together, and fail or succeed together, so a failed group's
/// later messages stay behind its earlier ones; other groups go on.
pub async fn work(handler: &dyn Handler, event: SqsEvent) -> SqsBatchResponse {
    let received: Vec<Received> = event.records.into_iter().map(received).collect();
    let mut response = SqsBatchResponse::default();
    for failed in worker::handle_all(handler, received).await {
        response.add_failure(failed.receipt);
    }
    response
}

/// An SQS record as the worker sees a received message: its id stands for
/// the receipt (it is what a partial batch failure names).
fn received(message: SqsMessage) -> Received {
    let id = message.message_id.unwrap_or_default();
    let attribute = |name: &str| {
        message
            .attributes
            .get(name)
            .filter(|v| !v.is_empty())
            .cloned()
    };
    Received {
        // Not FIFO: each message is its own group.
        group: attribute("MessageGroupId").unwrap_or_else(|| id.clone()),
        dedup_id: attribute("MessageDeduplicationId").unwrap_or_else(|| id.clone()),
        receive_count: attribute("ApproximateReceiveCount")
            .and_then(|n| n.parse().ok())
            .unwrap_or(1),
        body: message.body.unwrap_or_default(),
        receipt: id,
    }
}

/// The sweep function: one pass, as `showtime-sweep` makes it (audit trail,
/// budget check); its JSON report is logged and returned. Fails when a PR
/// could not be swept (the others were; the next pass tries again).
pub async fn sweep(
    engine: &Engine,
    settings: &Settings,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Value, CliError> {
    let budget = sweeper::Budgeting::from_settings(settings, env)?;
    let (mut report, mut stderr) = (Vec::new(), std::io::stderr());
    let swept = {
        let mut out = Output::new(&mut report, &mut stderr, true, env);
        out.program = PROGRAM;
        out.audit = settings.file.audit.sink(env);
        sweeper::pass(engine, &mut out, false, budget.as_ref()).await
    };
    let report = String::from_utf8_lossy(&report);
    eprint!("{report}");
    swept?;
    serde_json::from_str(&report).map_err(|e| CliError::Internal(format!("sweep report: {e}")))
}
