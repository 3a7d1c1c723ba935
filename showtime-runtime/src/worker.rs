//! Workers of a durable queue ([`WorkQueue`], SQS FIFO in production): the
//! webhook receiver checks a delivery and sends it ([`message`]); any number
//! of workers, in any number of processes, receive and carry the work out.
//!
//! * **Per-PR order and exclusion come from the queue.** Every delivery of
//!   a PR is in one message group; the queue hands out a group's messages
//!   one batch at a time, in order, to one worker. A worker runs the
//!   messages of a group it received as one batch, deletes them once done,
//!   and only then may anyone receive the group's next ones.
//! * **Coalescing.** The messages of one group in one receive are
//!   [merged](Work::merge) into one batch of work, as the in-process queue
//!   merges what arrives for a PR while its lane waits.
//! * **Crash safety.** A worker keeps its messages out of others' hands
//!   while it works ([`WorkQueue::extend`] every third of the visibility
//!   timeout). If it dies, they come back after the timeout and another
//!   worker runs them again: reconciling is idempotent and crash-safe, so a
//!   redelivery converges. Work that fails is not deleted, so it comes back
//!   the same way; the queue's redrive policy moves a message that keeps
//!   failing to a dead-letter queue.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use showtime_core::PrNumber;
use showtime_core::engine::Engine;
use showtime_core::ports::{PortError, QueueMessage, Received, WorkQueue};
use showtime_github::webhook::{Outcome, read_event};

use crate::audit::Sink;
use crate::metrics::Metrics;
use crate::request::{Work, carry_out, report_done};

/// One delivery as the queue carries it: the webhook event's name, its id,
/// and the payload GitHub signed (checked by the receiver before it was
/// sent; the queue is trusted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// `X-GitHub-Event`.
    pub event: String,
    /// `X-GitHub-Delivery`.
    pub delivery: String,
    /// The JSON payload, as received.
    pub payload: String,
}

/// The message that carries a checked delivery of PR `pr` of `repository`:
/// grouped by PR, de-duplicated by the delivery id.
pub fn message(repository: &str, pr: PrNumber, envelope: &Envelope) -> QueueMessage {
    QueueMessage {
        group: format!("{}#{pr}", repository.to_ascii_lowercase()),
        dedup_id: envelope.delivery.clone(),
        // An envelope of strings always serialises.
        body: serde_json::to_string(envelope).unwrap_or_default(),
    }
}

/// The messages of one group from one receive, in the order sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// The group (`owner/repo#42`).
    pub group: String,
    /// Its messages, oldest first.
    pub messages: Vec<Received>,
}

/// Why a batch was not done (it is left in the queue, to come back).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BatchError(pub String);

/// What a worker does with a batch.
#[async_trait]
pub trait Handler: Send + Sync {
    /// Carries the batch out. `Err` leaves its messages in the queue, to
    /// be handed out again after their visibility timeout.
    async fn handle(&self, batch: &Batch) -> Result<(), BatchError>;
}

/// The production handler: each message's delivery parsed as the webhook
/// server parses it, merged into one [`Work`], carried out by the engine,
/// and reported as the webhook server reports its work (log lines, the
/// figures, the audit trail).
pub struct EngineHandler {
    engine: Arc<Engine>,
    metrics: Option<Arc<Metrics>>,
    audit: Option<Arc<dyn Sink>>,
    program: &'static str,
}

impl EngineHandler {
    /// A handler running work through `engine`, reporting as
    /// `showtime-worker`.
    pub fn new(engine: Arc<Engine>) -> Self {
        EngineHandler {
            engine,
            metrics: None,
            audit: None,
            program: "showtime-worker",
        }
    }

    /// The same handler counting each reconcile in `metrics` (from the
    /// batch's start: a message's time in the queue is not known here).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The same handler recording every mutation in `audit`.
    pub fn with_audit(mut self, audit: Option<Arc<dyn Sink>>) -> Self {
        self.audit = audit;
        self
    }

    /// The same handler naming `program` in the audit trail.
    pub fn program(mut self, program: &'static str) -> Self {
        self.program = program;
        self
    }
}

#[async_trait]
impl Handler for EngineHandler {
    async fn handle(&self, batch: &Batch) -> Result<(), BatchError> {
        let codec = &self.engine.policy().codec;
        let mut work: Option<Work> = None;
        for message in &batch.messages {
            // A message no worker can read never will: dropping it (with a
            // line in the log) beats sending it to the dead-letter queue
            // through every retry.
            let Ok(envelope) = serde_json::from_str::<Envelope>(&message.body) else {
                eprintln!(
                    "worker: message {} is not an envelope; dropped",
                    message.dedup_id
                );
                continue;
            };
            match read_event(codec, &envelope.event, envelope.payload.as_bytes()) {
                Ok(Outcome::Reconcile(request)) => {
                    let next = Work::from_request(request);
                    match work.as_mut() {
                        Some(work) if work.pr == next.pr => work.merge(next),
                        Some(_) => {
                            return Err(BatchError(format!(
                                "group {} holds deliveries of two PRs",
                                batch.group
                            )));
                        }
                        None => work = Some(next),
                    }
                }
                Ok(_) => {}
                Err(e) => eprintln!("worker: delivery {}: {e}; dropped", envelope.delivery),
            }
        }
        let Some(work) = work else {
            return Ok(());
        };
        let done = carry_out(&self.engine, work, None).await;
        let deliveries: Vec<String> = batch.messages.iter().map(|m| m.dedup_id.clone()).collect();
        let now = self.engine.ports().clock.now();
        report_done(&done, &deliveries, self.audit.as_deref(), self.program, now);
        if let Some(metrics) = &self.metrics {
            metrics.done(&done, Duration::ZERO);
        }
        match done.error() {
            Some(e) if e.is_transient() => Err(BatchError(e.to_string())),
            _ => Ok(()),
        }
    }
}

/// How a worker works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerSettings {
    /// Messages asked for per receive (SQS: at most 10).
    pub batch: usize,
    /// How long a receive waits for the first message (long polling).
    pub wait: Duration,
    /// How long a received message stays out of others' hands; a worker at
    /// work extends it every third of this.
    pub visibility: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            batch: 10,
            wait: Duration::from_secs(20),
            visibility: Duration::from_secs(120),
        }
    }
}

/// Splits received messages into batches by group, each in the order
/// received (the order sent: the queue keeps a group's order).
pub fn batches(received: Vec<Received>) -> Vec<Batch> {
    let mut by_group: BTreeMap<String, Vec<Received>> = BTreeMap::new();
    let mut order = Vec::new();
    for message in received {
        if !by_group.contains_key(&message.group) {
            order.push(message.group.clone());
        }
        by_group
            .entry(message.group.clone())
            .or_default()
            .push(message);
    }
    order
        .into_iter()
        .filter_map(|group| {
            let messages = by_group.remove(&group)?;
            Some(Batch { group, messages })
        })
        .collect()
}

/// Handles messages someone else received and will delete (Lambda's SQS
/// poller): each group's messages as one batch, the batches concurrently.
/// Returns the messages of the batches that failed, to be left in the
/// queue; a failed group's messages all stay, so its order holds.
pub async fn handle_all(handler: &dyn Handler, received: Vec<Received>) -> Vec<Received> {
    let work = batches(received).into_iter().map(|batch| async move {
        match handler.handle(&batch).await {
            Ok(()) => Vec::new(),
            Err(e) => {
                eprintln!(
                    "worker: {} left for another try ({} message(s)): {e}",
                    batch.group,
                    batch.messages.len()
                );
                batch.messages
            }
        }
    });
    futures_util::future::join_all(work)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// Receives and handles batches until `shutdown` resolves (the batches in
/// hand are finished first). The groups of one receive run concurrently,
/// each one batch.
pub async fn run(
    queue: &dyn WorkQueue,
    handler: &dyn Handler,
    settings: WorkerSettings,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let received = tokio::select! {
            () = &mut shutdown => return,
            received = queue.receive(settings.batch, settings.wait, settings.visibility) => received,
        };
        match received {
            Ok(messages) => {
                let work = batches(messages)
                    .into_iter()
                    .map(|batch| handle_one(queue, handler, settings, batch));
                futures_util::future::join_all(work).await;
            }
            Err(e) => {
                eprintln!("worker: receive failed: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Handles one batch, keeping its messages out of others' hands meanwhile,
/// and deletes them once done.
async fn handle_one(
    queue: &dyn WorkQueue,
    handler: &dyn Handler,
    settings: WorkerSettings,
    batch: Batch,
) {
    let heartbeat = async {
        let every = (settings.visibility / 3).max(Duration::from_millis(100));
        loop {
            tokio::time::sleep(every).await;
            for message in &batch.messages {
                if let Err(e) = queue.extend(&message.receipt, settings.visibility).await {
                    eprintln!("worker: cannot extend {}: {e}", message.dedup_id);
                }
            }
        }
    };
    let result = tokio::select! {
        result = handler.handle(&batch) => result,
        () = heartbeat => Ok(()),
    };
    match result {
        Ok(()) => {
            for message in &batch.messages {
                if let Err(e) = delete(queue, &message.receipt).await {
                    eprintln!("worker: cannot delete {}: {e}", message.dedup_id);
                }
            }
        }
        Err(e) => eprintln!(
            "worker: {} left for another try ({} message(s)): {e}",
            batch.group,
            batch.messages.len()
        ),
    }
}

/// One delete, tried again once: a message left behind is only run again.
async fn delete(queue: &dyn WorkQueue, receipt: &str) -> Result<(), PortError> {
    match queue.delete(receipt).await {
        Err(e) if e.is_transient() => queue.delete(receipt).await,
        other => other,
    }
}
