//! Workers on SQS FIFO, against moto: three workers share 200 PRs × 5
//! deliveries while one of them is killed mid-run (and 50 PRs × 5 received
//! ten at a time). Every delivery is
//! handled, a PR's deliveries never run concurrently nor out of order, and
//! what the killed worker held comes back to the others.
//!
//! Needs `moto_server` (`scripts/check` installs it; alone:
//! `scripts/moto cargo test -p showtime-runtime --test sqs`).

#![allow(clippy::unwrap_used)]

#[path = "../../showtime-aws/tests/support/mod.rs"]
mod moto;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::StreamExt;
use showtime_aws::SqsQueue;
use showtime_core::ports::{PortError, QueueMessage, Received, WorkQueue};
use showtime_runtime::worker::{self, Batch, BatchError, EngineHandler, Handler, WorkerSettings};

const DELIVERIES: u64 = 5;

/// Records every batch handled, and any two batches of one group at once.
#[derive(Default)]
struct Recorder {
    /// Groups being handled now.
    busy: Mutex<BTreeSet<String>>,
    /// Per group, the deliveries handled, in the order batches finished.
    done: Mutex<BTreeMap<String, Vec<u64>>>,
    /// Batches that started while their group was busy, or with a delivery
    /// whose predecessor was never handled.
    violations: Mutex<Vec<String>>,
    handled: AtomicUsize,
}

/// Takes a group out of `busy` when dropped: also when the task handling
/// it is aborted (its worker killed).
struct Busy<'a>(&'a Recorder, String);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.busy.lock().unwrap().remove(&self.1);
    }
}

#[async_trait]
impl Handler for Recorder {
    async fn handle(&self, batch: &Batch) -> Result<(), BatchError> {
        if !self.busy.lock().unwrap().insert(batch.group.clone()) {
            self.violations
                .lock()
                .unwrap()
                .push(format!("{} handled twice at once", batch.group));
        }
        let _busy = Busy(self, batch.group.clone());
        let seq: Vec<u64> = batch
            .messages
            .iter()
            .map(|m| m.dedup_id.rsplit('-').next().unwrap().parse().unwrap())
            .collect();
        // A reconcile's worth of time.
        tokio::time::sleep(Duration::from_millis(15)).await;
        let mut done = self.done.lock().unwrap();
        let seen = done.entry(batch.group.clone()).or_default();
        for k in &seq {
            if (1..*k).any(|before| !seen.contains(&before)) {
                self.violations.lock().unwrap().push(format!(
                    "{}: {k} before its predecessors ({seen:?})",
                    batch.group
                ));
            }
            seen.push(*k);
        }
        self.handled.fetch_add(seq.len(), Ordering::SeqCst);
        Ok(())
    }
}

/// The queue with one receive at a time. SQS hands out a group's messages
/// atomically; moto (5.2) computes the groups in flight at the start of a
/// receive without a lock, so two receives at once can both take messages
/// of one group. Serialising receives here restores SQS's behaviour (the
/// workers still handle their batches concurrently).
struct OneReceiveAtATime {
    queue: SqsQueue,
    receiving: tokio::sync::Mutex<()>,
}

#[async_trait]
impl WorkQueue for OneReceiveAtATime {
    async fn send(&self, message: &QueueMessage) -> Result<(), PortError> {
        self.queue.send(message).await
    }

    async fn receive(
        &self,
        max: usize,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<Received>, PortError> {
        let _one = self.receiving.lock().await;
        self.queue.receive(max, wait, visibility).await
    }

    async fn delete(&self, receipt: &str) -> Result<(), PortError> {
        self.queue.delete(receipt).await
    }

    async fn extend(&self, receipt: &str, by: Duration) -> Result<(), PortError> {
        self.queue.extend(receipt, by).await
    }
}

async fn fifo_queue(config: &aws_types::SdkConfig) -> String {
    let sqs = aws_sdk_sqs::Client::new(config);
    let dlq = sqs
        .create_queue()
        .queue_name("showtime-dlq.fifo")
        .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .unwrap();
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(dlq.queue_url().unwrap())
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    use aws_sdk_sqs::types::QueueAttributeName as A;
    sqs.create_queue()
        .queue_name("showtime.fifo")
        .attributes(A::FifoQueue, "true")
        .attributes(A::VisibilityTimeout, "30")
        .attributes(
            A::RedrivePolicy,
            format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"10"}}"#),
        )
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned()
}

/// Runs 200 PRs × 5 deliveries through three workers receiving `batch`
/// messages at a time; with `kill`, one worker is killed a third of the way
/// through. Returns what was measured, for the log.
async fn run(prs: u64, batch: usize, kill: bool, visibility: Duration) -> String {
    let moto = moto::Moto::start();
    let config = moto.sdk_config();
    let url = fifo_queue(&config).await;
    let queue = Arc::new(OneReceiveAtATime {
        queue: SqsQueue::from_sdk_config(&config, url),
        receiving: tokio::sync::Mutex::new(()),
    });

    // The receiver's side: each PR's deliveries in order, 8 PRs at once.
    let started = Instant::now();
    let sends = (1..=prs).map(|pr| {
        let queue = queue.clone();
        async move {
            for k in 1..=DELIVERIES {
                let message = QueueMessage {
                    group: format!("octo-org/hello-circus#{pr}"),
                    dedup_id: format!("delivery-{pr}-{k}"),
                    body: "{}".to_owned(),
                };
                queue.send(&message).await.unwrap();
            }
        }
    });
    futures_util::stream::iter(sends)
        .buffer_unordered(8)
        .collect::<Vec<()>>()
        .await;
    let sending = started.elapsed();

    let recorder = Arc::new(Recorder::default());
    let settings = WorkerSettings {
        batch,
        // Short: a receive holds the others back while it waits.
        wait: Duration::from_millis(100),
        visibility,
    };
    let started = Instant::now();
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let (queue, recorder) = (queue.clone(), recorder.clone());
            tokio::spawn(async move {
                worker::run(&*queue, &*recorder, settings, std::future::pending()).await;
            })
        })
        .collect();
    // Kill one worker a third of the way through, whatever it holds.
    let total = usize::try_from(prs * DELIVERIES).unwrap();
    if kill {
        while recorder.handled.load(Ordering::SeqCst) < total / 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        workers[0].abort();
    }
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let complete = {
            let done = recorder.done.lock().unwrap();
            done.len() == usize::try_from(prs).unwrap()
                && done
                    .values()
                    .all(|seen| (1..=DELIVERIES).all(|k| seen.contains(&k)))
        };
        if complete {
            break;
        }
        assert!(Instant::now() < deadline, "not every delivery was handled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let working = started.elapsed();
    for worker in &workers[1..] {
        worker.abort();
    }
    let violations = recorder.violations.lock().unwrap();
    assert!(violations.is_empty(), "{violations:?}");
    let handled = recorder.handled.load(Ordering::SeqCst);
    format!(
        "{total} deliveries sent in {:.1} s ({:.0}/s); handled by 3 workers receiving {batch} \
         at a time{} in {:.1} s ({:.0}/s), {} handled again",
        sending.as_secs_f64(),
        total as f64 / sending.as_secs_f64(),
        if kill { ", one killed," } else { "" },
        working.as_secs_f64(),
        total as f64 / working.as_secs_f64(),
        handled - total
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_workers_keep_every_prs_order_in_batches() {
    // Nothing dies here: a visibility timeout no slow answer outlasts.
    let measured = run(50, 10, false, Duration::from_secs(30)).await;
    eprintln!("SQS FIFO on moto: {measured}");
}

/// One worker killed: what it held comes back to the others, in order.
/// Receiving one message at a time: moto (5.2) releases a timed-out
/// group's later messages before its first when a receive returned several
/// of them together (`receive_message` in `moto/sqs/models.py` drops a
/// message from the in-flight set only when it reaches it), which SQS does
/// not; with one message a receive, moto keeps SQS's order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_workers_deliveries_come_back_in_order() {
    // Short, so that what the killed worker held comes back soon; long
    // enough that a loaded machine's slow answers do not outlast it.
    let measured = run(200, 1, true, Duration::from_secs(5)).await;
    eprintln!("SQS FIFO on moto: {measured}");
}

/// Counts what an [`EngineHandler`] carried out.
struct Counting {
    inner: EngineHandler,
    deliveries: AtomicUsize,
    batches: AtomicUsize,
}

#[async_trait]
impl Handler for Counting {
    async fn handle(&self, batch: &Batch) -> Result<(), BatchError> {
        self.inner.handle(batch).await?;
        self.deliveries
            .fetch_add(batch.messages.len(), Ordering::SeqCst);
        self.batches.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

const SECRET: &[u8] = b"It's a Secret to Everybody";
const TRIGGER: &str = "🎪 ⚡ showtime-trigger-start";
const HEAD: &str = "abc123f0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6";

/// POSTs a signed `pull_request` delivery for `pr` to the receiver at
/// `addr`, over HTTP/1.1; returns the status.
async fn post_delivery(addr: std::net::SocketAddr, pr: u64, id: String) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = serde_json::json!({
        "action": "labeled",
        "number": pr,
        "pull_request": { "number": pr, "state": "open", "head": { "sha": HEAD } },
        "label": { "name": TRIGGER },
        "repository": { "full_name": "octo-org/hello-circus" },
        "sender": { "login": "maxime", "id": 487433 }
    })
    .to_string();
    let signature = showtime_github::webhook::sign(SECRET, body.as_bytes()).unwrap();
    let request = format!(
        "POST /webhook HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         X-GitHub-Event: pull_request\r\nX-GitHub-Delivery: {id}\r\n\
         X-Hub-Signature-256: {signature}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap()
}

/// The whole path, measured: signed deliveries POSTed to the webhook
/// server in receiver mode (8 at a time), sent on to SQS FIFO; then
/// `workers` workers carrying them out through the engine (GitHub and the
/// backend in memory), until every PR runs its environment.
async fn through_the_receiver(prs: u64, workers: usize) -> String {
    use showtime_core::ports::Permission;
    use showtime_core::testing::World;
    use showtime_runtime::server::{AppState, ServerSettings, serve};

    let moto = moto::Moto::start();
    let config = moto.sdk_config();
    let url = fifo_queue(&config).await;
    let queue = Arc::new(OneReceiveAtATime {
        queue: SqsQueue::from_sdk_config(&config, url),
        receiving: tokio::sync::Mutex::new(()),
    });
    let mut world = World::new();
    // One requester, many PRs: no quota in the way of the measurement.
    world.policy.quota_per_requester = None;
    world.policy.quota_total = None;
    world.host.set_permission("maxime", Permission::Write);
    let numbers: Vec<_> = (1..=prs)
        .map(|n| world.open_pr(n, HEAD, "maxime", &[TRIGGER]))
        .collect();

    let engine = Arc::new(world.engine());
    let webhook = showtime_github::webhook::Webhook::new(SECRET).unwrap();
    let state = AppState::new(engine.clone(), webhook, &ServerSettings::default())
        .with_work_queue(queue.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, state, std::future::pending()));

    let started = Instant::now();
    let posts = (1..=prs).flat_map(|pr| (1..=DELIVERIES).map(move |k| (pr, k)));
    let statuses: Vec<u16> = futures_util::stream::iter(posts)
        .map(|(pr, k)| post_delivery(addr, pr, format!("delivery-{pr}-{k}")))
        .buffered(8)
        .collect()
        .await;
    let receiving = started.elapsed();
    assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");

    let handler = Arc::new(Counting {
        inner: EngineHandler::new(engine),
        deliveries: AtomicUsize::new(0),
        batches: AtomicUsize::new(0),
    });
    let settings = WorkerSettings {
        batch: 10,
        wait: Duration::from_millis(100),
        visibility: Duration::from_secs(30),
    };
    let started = Instant::now();
    let running: Vec<_> = (0..workers)
        .map(|_| {
            let (queue, handler) = (queue.clone(), handler.clone());
            tokio::spawn(async move {
                worker::run(&*queue, &*handler, settings, std::future::pending()).await;
            })
        })
        .collect();
    let total = usize::try_from(prs * DELIVERIES).unwrap();
    let deadline = Instant::now() + Duration::from_secs(180);
    while handler.deliveries.load(Ordering::SeqCst) < total {
        assert!(Instant::now() < deadline, "not every delivery was handled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let working = started.elapsed();
    for worker in running {
        worker.abort();
    }
    for pr in numbers {
        let labels = world.host.showtime_labels(pr);
        assert!(
            labels.iter().any(|l| l.ends_with("🚦 running")),
            "PR {pr}: {labels:?}"
        );
    }
    let batches = handler.batches.load(Ordering::SeqCst);
    format!(
        "{total} signed deliveries of {prs} PRs through the receiver in {:.1} s ({:.0}/s); \
         carried out by {workers} worker(s) in {:.1} s: {:.0} deliveries/s in {batches} \
         reconcile runs ({:.0}/s)",
        receiving.as_secs_f64(),
        total as f64 / receiving.as_secs_f64(),
        working.as_secs_f64(),
        total as f64 / working.as_secs_f64(),
        batches as f64 / working.as_secs_f64(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deliveries_through_the_receiver_reach_every_pr() {
    for workers in [1, 3] {
        let measured = through_the_receiver(30, workers).await;
        eprintln!("receiver → SQS FIFO on moto → engine: {measured}");
    }
}
