//! The per-PR work queue of one process: one lane per PR, coalescing,
//! bounded concurrency, and delivery de-duplication.
//!
//! * **One at a time per PR, in order.** Each PR with work has one lane; its
//!   work runs one batch after the other, never two at once.
//! * **Coalescing.** Work that arrives for a PR while its lane waits or runs
//!   is [merged](Work::merge) into the one batch that runs next: reconciling
//!   is level-triggered, so fifty deliveries for one PR cost one more
//!   reconcile, not fifty, and still carry what each asked (a push's pusher,
//!   every `/circus` command in order, an up-label removal).
//! * **One concurrency limit.** At most [`QueueSettings::concurrency`]
//!   batches (of different PRs) run at once. A lane takes its batch only
//!   once it holds a slot, so whatever arrives while it waits joins it.
//! * **Duplicates.** GitHub redelivers with the same `X-GitHub-Delivery` id;
//!   the last [`QueueSettings::dedup_capacity`] ids are remembered (bounded
//!   memory) and a repeat is dropped.
//!
//! With [`Queue::with_metrics`], it reports its depth (deliveries queued or
//! running), how long each batch waited for its turn, and what each
//! reconcile did ([`Metrics`]); each batch runs in a `batch` span (PR,
//! deliveries) that the engine's `reconcile` spans nest in.
//!
//! The queue lives in memory: for several processes, or to survive a crash,
//! put a durable queue with per-PR ordering in front (see the README's
//! "Scaling out").

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use showtime_core::PrNumber;
use showtime_core::engine::Engine;
use tokio::sync::{Semaphore, watch};
use tracing::Instrument;

use crate::metrics::Metrics;
use crate::request::{Done, Work, carry_out};

/// Batches of different PRs that run at once unless told otherwise.
pub const DEFAULT_CONCURRENCY: usize = 4;
/// Delivery ids remembered to drop redeliveries unless told otherwise.
pub const DEFAULT_DEDUP_CAPACITY: usize = 10_000;

/// How the queue works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSettings {
    /// Batches of different PRs that run at once (default 4); `0` counts as
    /// `1`.
    pub concurrency: usize,
    /// How many of the latest delivery ids are remembered (default 10,000);
    /// `0` turns de-duplication off.
    pub dedup_capacity: usize,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            concurrency: DEFAULT_CONCURRENCY,
            dedup_capacity: DEFAULT_DEDUP_CAPACITY,
        }
    }
}

/// What [`Queue::push`] did with the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queued {
    /// It starts a new batch of its PR.
    New,
    /// It joined the batch of its PR that runs next.
    Coalesced,
    /// Its delivery id was seen already: dropped.
    Duplicate,
}

/// A finished batch: its PR's work, done, and the deliveries it carried.
pub type Report = dyn Fn(&Done, &[String]) + Send + Sync;

/// The queue. Cheap to clone; every clone is the same queue.
#[derive(Clone)]
pub struct Queue {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Arc<Engine>,
    lanes: Mutex<HashMap<PrNumber, Lane>>,
    slots: Arc<Semaphore>,
    seen: Mutex<Seen>,
    /// Deliveries queued or running.
    pending: watch::Sender<usize>,
    report: Option<Box<Report>>,
    metrics: Option<Arc<Metrics>>,
}

/// A PR with work: present exactly while a task drains it.
struct Lane {
    next: Option<Batch>,
}

/// The work that runs next for a PR, and the deliveries it carries.
struct Batch {
    work: Work,
    deliveries: Vec<String>,
    /// Pushes merged into it (deliveries without an id included).
    count: usize,
    /// When its first push arrived.
    since: Instant,
}

impl Queue {
    /// A queue running its batches on `engine`.
    pub fn new(engine: Arc<Engine>, settings: QueueSettings) -> Self {
        Self::build(engine, settings, None)
    }

    /// A queue that calls `report` after each batch (for logs, metrics).
    pub fn with_report(
        engine: Arc<Engine>,
        settings: QueueSettings,
        report: impl Fn(&Done, &[String]) + Send + Sync + 'static,
    ) -> Self {
        Self::build(engine, settings, Some(Box::new(report)))
    }

    /// The same queue reporting to `metrics` (see the [module
    /// documentation](self)). Call it before the first push.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.metrics = Some(metrics);
        }
        self
    }

    fn build(engine: Arc<Engine>, settings: QueueSettings, report: Option<Box<Report>>) -> Self {
        let (pending, _) = watch::channel(0);
        Queue {
            inner: Arc::new(Inner {
                engine,
                lanes: Mutex::new(HashMap::new()),
                slots: Arc::new(Semaphore::new(settings.concurrency.max(1))),
                seen: Mutex::new(Seen::new(settings.dedup_capacity)),
                pending,
                report,
                metrics: None,
            }),
        }
    }

    /// The engine batches run on.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.inner.engine
    }

    /// Queues `work` behind its PR's; `delivery` (the `X-GitHub-Delivery`
    /// id, when there is one) drops redeliveries. Must be called within a
    /// tokio runtime: a PR's first work starts a task.
    pub fn push(&self, delivery: Option<&str>, work: Work) -> Queued {
        let inner = &self.inner;
        if delivery.is_some_and(|id| !lock(&inner.seen).first_time(id)) {
            return Queued::Duplicate;
        }
        let pr = work.pr;
        let batch = Batch {
            work,
            deliveries: delivery.map(str::to_owned).into_iter().collect(),
            count: 1,
            since: Instant::now(),
        };
        inner.pending.send_modify(|n| *n += 1);
        inner.depth();
        match lock(&inner.lanes).entry(pr) {
            Entry::Occupied(mut lane) => match &mut lane.get_mut().next {
                Some(next) => {
                    next.work.merge(batch.work);
                    next.deliveries.extend(batch.deliveries);
                    next.count += 1;
                    Queued::Coalesced
                }
                slot @ None => {
                    *slot = Some(batch);
                    Queued::New
                }
            },
            Entry::Vacant(lane) => {
                lane.insert(Lane { next: Some(batch) });
                tokio::spawn(drain(inner.clone(), pr));
                Queued::New
            }
        }
    }

    /// Deliveries queued or running now.
    pub fn pending(&self) -> usize {
        *self.inner.pending.borrow()
    }

    /// Resolves once nothing is queued or running.
    pub async fn idle(&self) {
        let mut pending = self.inner.pending.subscribe();
        // The sender lives as long as `self`, so this cannot fail.
        let _ = pending.wait_for(|n| *n == 0).await;
    }
}

/// Runs the batches of `pr` until none is left, then removes its lane, so
/// the PR's next work starts a new task.
async fn drain(inner: Arc<Inner>, pr: PrNumber) {
    loop {
        // The slot first: whatever arrives while waiting joins this batch.
        // The semaphore is never closed; should it be, the work still runs.
        let permit = inner.slots.clone().acquire_owned().await.ok();
        let batch = {
            let mut lanes = lock(&inner.lanes);
            match lanes.get_mut(&pr).and_then(|lane| lane.next.take()) {
                Some(next) => next,
                None => {
                    lanes.remove(&pr);
                    return;
                }
            }
        };
        let Batch {
            work,
            deliveries,
            count,
            since,
        } = batch;
        let waited = since.elapsed();
        let span = tracing::info_span!(
            "batch",
            pr = pr.get(),
            deliveries = %deliveries.join(","),
            waited_ms = u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
        );
        if let Some(metrics) = &inner.metrics {
            metrics.queue_wait(waited);
        }
        let engine = inner.engine.clone();
        // Its own task, so that a panic is contained and the lane goes on.
        let run = async move { carry_out(&engine, work, None).await };
        let done = tokio::spawn(run.instrument(span.clone())).await;
        drop(permit);
        span.in_scope(|| match &done {
            Ok(done) => {
                if let Some(metrics) = &inner.metrics {
                    metrics.done(done, waited);
                }
                if let Some(report) = &inner.report {
                    report(done, &deliveries);
                }
            }
            Err(e) => tracing::error!(error = %e, "a batch stopped short (a bug); the next event of the PR goes on"),
        });
        inner.pending.send_modify(|n| *n = n.saturating_sub(count));
        inner.depth();
    }
}

impl Inner {
    /// Tells the metrics how many deliveries are queued or running.
    fn depth(&self) {
        if let Some(metrics) = &self.metrics {
            metrics.queue_depth(*self.pending.borrow());
        }
    }
}

/// The last delivery ids seen, oldest first out.
struct Seen {
    capacity: usize,
    order: VecDeque<String>,
    ids: HashSet<String>,
}

impl Seen {
    fn new(capacity: usize) -> Self {
        Seen {
            capacity,
            order: VecDeque::new(),
            ids: HashSet::new(),
        }
    }

    /// Records `id`; whether it was new.
    fn first_time(&mut self, id: &str) -> bool {
        if self.capacity == 0 {
            return true;
        }
        if self.ids.contains(id) {
            return false;
        }
        if self.order.len() >= self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.ids.remove(&oldest);
        }
        self.order.push_back(id.to_owned());
        self.ids.insert(id.to_owned());
        true
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_delivery_ids_are_forgotten_first() {
        let mut seen = Seen::new(2);
        assert!(seen.first_time("a"));
        assert!(seen.first_time("b"));
        assert!(!seen.first_time("a"));
        assert!(seen.first_time("c"));
        assert!(seen.first_time("a"), "`a` was pushed out by `c`");
        assert!(!seen.first_time("c"));
    }

    #[test]
    fn a_capacity_of_zero_remembers_nothing() {
        let mut seen = Seen::new(0);
        assert!(seen.first_time("a"));
        assert!(seen.first_time("a"));
    }
}
