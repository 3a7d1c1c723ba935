//! The figures operators watch: reconciles, the queue, GitHub traffic,
//! environments by status, and how long people wait for an environment.
//!
//! One [`Metrics`] per process records them; it is handed to whatever
//! produces a figure (the queue, the GitHub adapter's
//! [`Observer`], the [label watch](watch), the programs after a reconcile or a
//! sweep) and read two ways:
//!
//! * [`Metrics::encode`]: the Prometheus/OpenMetrics text exposition the
//!   webhook server serves at `GET /metrics` (encoded by
//!   `prometheus-client`, cumulative since the process started);
//! * [`Metrics::emf_lines`]: CloudWatch Embedded Metric Format JSON lines
//!   of what changed since the last call ([`emf`]), for `--metrics emf`.
//!
//! It owns no rule about environments: what a reconcile did is read from
//! its [`Outcome`]'s plans (enums, not strings). It never blocks on I/O;
//! recording is a few atomic or mutex-guarded updates.
//!
//! # What is measured, and from where
//!
//! | metric | from |
//! |---|---|
//! | `showtime_reconciles_total{trigger,outcome}` | every reconcile's result; `trigger` is the event's [kind](Event::kind) |
//! | `showtime_queue_depth`, `showtime_queue_wait_seconds` | the webhook server's [queue](crate::queue): deliveries queued or running; time from a PR's first queued delivery to its batch starting |
//! | `showtime_github_requests_total{method,endpoint,status}`, `showtime_github_rate_limit_remaining{resource}` | every answer GitHub gives, through the adapter's [`Observer`]; `endpoint` is the route template |
//! | `showtime_environments{status}` | the 🎪 labels Showtime reads and writes anyway ([`watch`]): no request of its own, on scrape or otherwise |
//! | `showtime_time_to_ready_seconds{kind="create"\|"update"}`, `showtime_time_to_destroy_seconds` | the reconcile that made an environment ready or tore it down: from when the work was asked for (the delivery queued, the command started) to the reconcile's end |
//! | `showtime_teardowns_total{result}` | reconciles that destroy environments (stop, close, expiry, orphans), and whether they finished |
//! | `showtime_webhook_refusals_total{reason}` | every request or connection the webhook server (or a [`Receiver`](crate::receiver::Receiver)) refused, by [`Refusal`] |
//! | `showtime_webhook_connections` | connections the webhook server holds open now |

pub mod emf;
pub mod watch;

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use showtime_core::Status;
use showtime_core::engine::{EngineError, Outcome};
use showtime_core::plan::{Event, Plan, Step};
use showtime_core::sweep::SweepReport;
use showtime_github::{Exchange, Observer};

use crate::request::Done;
use emf::{Emf, Unit};

/// How often a long-running program writes its EMF lines ([`emf_every`]):
/// CloudWatch's finest standard resolution.
pub const EMF_EVERY: Duration = Duration::from_secs(60);

/// Writes `metrics`' EMF lines to `out` every `every`, forever (abort the
/// task to stop; write once more after, so the last figures are not lost).
pub async fn emf_every(
    metrics: Arc<Metrics>,
    every: Duration,
    mut out: impl std::io::Write + Send + 'static,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        if let Err(e) = metrics.write_emf(Utc::now(), &mut out) {
            tracing::warn!(error = %e, "cannot write the EMF lines");
        }
    }
}

/// The content type of [`Metrics::encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Bucket bounds of the time-to-ready histogram, in seconds: the seed's
/// targets (3 and 5 minutes) are bounds, so their ratios are exact.
const READY_BUCKETS: [f64; 11] = [
    10.0, 30.0, 60.0, 120.0, 180.0, 240.0, 300.0, 420.0, 600.0, 900.0, 1800.0,
];
/// Bucket bounds of the time-to-destroy histogram, in seconds.
const DESTROY_BUCKETS: [f64; 8] = [5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0];
/// Bucket bounds of the queue wait, in seconds.
const WAIT_BUCKETS: [f64; 9] = [0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0];

/// How `--metrics` (`SHOWTIME_METRICS`) asks figures to be written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum MetricsFormat {
    /// Not written (the webhook server still serves `GET /metrics`).
    #[default]
    None,
    /// CloudWatch Embedded Metric Format JSON lines.
    Emf,
}

/// The variable `--metrics` falls back to.
pub const METRICS_VARIABLE: &str = "SHOWTIME_METRICS";

/// A `--metrics` or `SHOWTIME_METRICS` value that is not one of the formats.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{METRICS_VARIABLE}=`{0}` is not a metrics format: use `emf` or `none`")]
pub struct BadMetricsFormat(pub String);

impl MetricsFormat {
    /// `flag` when given, else `SHOWTIME_METRICS` as `env` reads it, else
    /// none.
    pub fn resolve(
        flag: Option<MetricsFormat>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<MetricsFormat, BadMetricsFormat> {
        if let Some(flag) = flag {
            return Ok(flag);
        }
        match env(METRICS_VARIABLE).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(MetricsFormat::None),
            Some(v) if v.is_empty() || v == "none" => Ok(MetricsFormat::None),
            Some(v) if v == "emf" => Ok(MetricsFormat::Emf),
            Some(v) => Err(BadMetricsFormat(v)),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReconcileLabels {
    trigger: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    endpoint: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResourceLabels {
    resource: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

/// Why the public endpoint refused a request or a connection: the `reason`
/// of `showtime_webhook_refusals_total` (and the `Reason` dimension of the
/// `WebhookRefusals` EMF metric).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Refusal {
    /// `401`: a missing, malformed or mismatched `X-Hub-Signature-256`.
    Signature,
    /// `400`: no event header, or a payload that is not the event's JSON.
    Malformed,
    /// `413`: a body over the limit.
    TooLarge,
    /// `403`: a correctly signed delivery about a repository not served.
    Repository,
    /// `429`: the source's request rate is over its limit.
    RateLimited,
    /// `408`: a request (body included) took longer than allowed.
    Timeout,
    /// A connection closed because its request headers did not arrive in time.
    HeaderTimeout,
    /// `431`: request headers over the size limit.
    HeadersTooLarge,
    /// `503`: a connection over the cap on open connections.
    Connections,
}

impl Refusal {
    /// Every reason, in the order the metrics list them.
    pub const ALL: [Refusal; 9] = [
        Refusal::Signature,
        Refusal::Malformed,
        Refusal::TooLarge,
        Refusal::Repository,
        Refusal::RateLimited,
        Refusal::Timeout,
        Refusal::HeaderTimeout,
        Refusal::HeadersTooLarge,
        Refusal::Connections,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Signature => "signature",
            Refusal::Malformed => "malformed",
            Refusal::TooLarge => "too_large",
            Refusal::Repository => "repository",
            Refusal::RateLimited => "rate_limited",
            Refusal::Timeout => "timeout",
            Refusal::HeaderTimeout => "header_timeout",
            Refusal::HeadersTooLarge => "headers_too_large",
            Refusal::Connections => "connections",
        }
    }
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn ready_histogram() -> Histogram {
    Histogram::new(READY_BUCKETS)
}

/// Every figure of one process; share it as `Arc<Metrics>`.
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ReconcileLabels, Counter>,
    queue_depth: Gauge,
    queue_wait: Histogram,
    github_requests: Family<RequestLabels, Counter>,
    rate_limit: Family<ResourceLabels, Gauge>,
    environments: Family<StatusLabels, Gauge>,
    time_to_ready: HistogramFamily<KindLabels>,
    time_to_destroy: Histogram,
    teardowns: Family<ResultLabels, Counter>,
    refusals: Family<ReasonLabels, Counter>,
    connections: Gauge,
    emf: Option<Mutex<Emf>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics(…)")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// How a reconcile ended, as the `outcome` label says it.
fn outcome_of(result: &Result<Outcome, EngineError>) -> &'static str {
    match result {
        Err(_) => "error",
        Ok(o) if o.failure.is_some() => "failed",
        Ok(o) if o.refusal().is_some() => "refused",
        Ok(o) if o.out_of_rounds => "out_of_rounds",
        Ok(_) => "ok",
    }
}

/// What a reconcile's plans did to environments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    /// An environment became ready; `update` when it replaced another.
    Ready { update: bool },
    /// Environments were destroyed, none made ready.
    TornDown,
    /// Neither.
    Other,
}

fn effect(plans: &[Plan]) -> Effect {
    let steps = || plans.iter().flat_map(|p| p.steps.iter());
    let ready: Vec<_> = steps()
        .filter_map(|s| match s {
            Step::AwaitReady(env) => Some(env),
            _ => None,
        })
        .collect();
    let destroyed: Vec<_> = steps()
        .filter_map(|s| match s {
            Step::Destroy(env) => Some(env),
            _ => None,
        })
        .collect();
    match (ready.is_empty(), destroyed.is_empty()) {
        (false, _) => Effect::Ready {
            update: destroyed.iter().any(|d| !ready.contains(d)),
        },
        (true, false) => Effect::TornDown,
        (true, true) => Effect::Other,
    }
}

impl Metrics {
    /// Every figure at zero, written for Prometheus only.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let reconciles = Family::<ReconcileLabels, Counter>::default();
        registry.register(
            "showtime_reconciles",
            "Reconciles, by what triggered them and how they ended",
            reconciles.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register(
            "showtime_queue_depth",
            "Deliveries queued or running in the webhook server",
            queue_depth.clone(),
        );
        let queue_wait = Histogram::new(WAIT_BUCKETS);
        registry.register(
            "showtime_queue_wait_seconds",
            "Time from a PR's first queued delivery to its batch starting",
            queue_wait.clone(),
        );
        let github_requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "showtime_github_requests",
            "Requests to GitHub, by method, route template and status (`error` when no answer came)",
            github_requests.clone(),
        );
        let rate_limit = Family::<ResourceLabels, Gauge>::default();
        registry.register(
            "showtime_github_rate_limit_remaining",
            "Requests left in GitHub's rate-limit budget, as its last answer said",
            rate_limit.clone(),
        );
        let environments = Family::<StatusLabels, Gauge>::default();
        registry.register(
            "showtime_environments",
            "Environments by the status their 🎪 labels give, on the PRs this process has seen",
            environments.clone(),
        );
        let time_to_ready: HistogramFamily<KindLabels> =
            Family::new_with_constructor(ready_histogram);
        registry.register(
            "showtime_time_to_ready_seconds",
            "Time from asking for an environment (create) or pushing a commit (update) to it being ready",
            time_to_ready.clone(),
        );
        let time_to_destroy = Histogram::new(DESTROY_BUCKETS);
        registry.register(
            "showtime_time_to_destroy_seconds",
            "Time from asking for a teardown (stop, close, expiry) to the environments being gone",
            time_to_destroy.clone(),
        );
        let teardowns = Family::<ResultLabels, Counter>::default();
        registry.register(
            "showtime_teardowns",
            "Teardowns of environments, by whether they finished",
            teardowns.clone(),
        );
        let refusals = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "showtime_webhook_refusals",
            "Requests and connections the webhook endpoint refused, by reason",
            refusals.clone(),
        );
        let connections = Gauge::default();
        registry.register(
            "showtime_webhook_connections",
            "Connections the webhook server holds open",
            connections.clone(),
        );
        // Every reason shows from the first scrape, at zero, so an alert on
        // a rate never sees a series appear from nothing.
        for reason in Refusal::ALL {
            refusals
                .get_or_create(&ReasonLabels {
                    reason: reason.as_str(),
                })
                .inc_by(0);
        }
        // Every status shows from the first scrape, at zero, so a query
        // over one never finds it absent.
        for status in Status::ALL {
            environments
                .get_or_create(&StatusLabels {
                    status: status.as_str(),
                })
                .set(0);
        }
        Metrics {
            registry,
            reconciles,
            queue_depth,
            queue_wait,
            github_requests,
            rate_limit,
            environments,
            time_to_ready,
            time_to_destroy,
            teardowns,
            refusals,
            connections,
            emf: None,
        }
    }

    /// The same, also gathering what changes for [`Metrics::emf_lines`],
    /// whose lines carry `program` as a dimension.
    pub fn with_emf(mut self, program: &str) -> Self {
        self.emf = Some(Mutex::new(Emf::new(program)));
        self
    }

    /// Whether EMF lines are gathered.
    pub fn emf_enabled(&self) -> bool {
        self.emf.is_some()
    }

    fn emf(&self, f: impl FnOnce(&mut Emf)) {
        if let Some(emf) = &self.emf {
            f(&mut emf.lock().unwrap_or_else(|p| p.into_inner()));
        }
    }

    /// An observer for the GitHub adapter
    /// ([`GitHubConfig::with_observer`](showtime_github::GitHubConfig::with_observer)).
    pub fn github_observer(self: &Arc<Self>) -> Observer {
        let metrics = Arc::clone(self);
        Observer::new(move |exchange| metrics.github(exchange))
    }

    /// One answer from GitHub (or none, for a failed connection).
    pub fn github(&self, exchange: &Exchange) {
        let status = exchange
            .status
            .map_or_else(|| "error".to_owned(), |s| s.to_string());
        self.github_requests
            .get_or_create(&RequestLabels {
                method: exchange.method,
                endpoint: exchange.endpoint.clone(),
                status: status.clone(),
            })
            .inc();
        let resource = exchange
            .rate_limit_resource
            .clone()
            .unwrap_or_else(|| "core".to_owned());
        if let Some(remaining) = exchange.rate_limit_remaining {
            let remaining = i64::try_from(remaining).unwrap_or(i64::MAX);
            self.rate_limit
                .get_or_create(&ResourceLabels {
                    resource: resource.clone(),
                })
                .set(remaining);
            self.emf(|e| {
                e.gauge(
                    "GitHubRateLimitRemaining",
                    Unit::Count,
                    &[("Resource", &resource)],
                    remaining as f64,
                );
            });
        }
        self.emf(|e| {
            let endpoint = format!("{} {}", exchange.method, exchange.endpoint);
            e.count(
                "GitHubRequests",
                &[("Endpoint", &endpoint), ("Status", &status)],
                1.0,
            );
        });
    }

    /// One request or connection refused by the public endpoint.
    pub fn refused(&self, reason: Refusal) {
        let reason = reason.as_str();
        self.refusals.get_or_create(&ReasonLabels { reason }).inc();
        self.emf(|e| e.count("WebhookRefusals", &[("Reason", reason)], 1.0));
    }

    /// Requests and connections refused so far for `reason`.
    pub fn refusals(&self, reason: Refusal) -> u64 {
        self.refusals
            .get_or_create(&ReasonLabels {
                reason: reason.as_str(),
            })
            .get()
    }

    /// Connections the webhook server holds open now.
    pub fn connections(&self, open: usize) {
        let open = i64::try_from(open).unwrap_or(i64::MAX);
        self.connections.set(open);
        self.emf(|e| e.gauge("WebhookConnections", Unit::Count, &[], open as f64));
    }

    /// Deliveries queued or running now.
    pub fn queue_depth(&self, depth: usize) {
        let depth = i64::try_from(depth).unwrap_or(i64::MAX);
        self.queue_depth.set(depth);
        self.emf(|e| e.gauge("QueueDepth", Unit::Count, &[], depth as f64));
    }

    /// How long a batch waited in the queue before it started.
    pub fn queue_wait(&self, waited: Duration) {
        self.queue_wait.observe(waited.as_secs_f64());
        self.emf(|e| e.value("QueueWait", Unit::Seconds, &[], waited.as_secs_f64()));
    }

    /// One reconcile after `event`, which ended `since_asked` after the work
    /// was asked for (queue wait included).
    pub fn reconciled(
        &self,
        event: &Event,
        result: &Result<Outcome, EngineError>,
        since_asked: Duration,
    ) {
        let outcome = outcome_of(result);
        self.count_reconcile(event.kind(), outcome);
        let Ok(done) = result else {
            return;
        };
        let seconds = since_asked.as_secs_f64();
        match (effect(&done.plans), done.failure.is_some()) {
            (Effect::Ready { update }, false) => {
                let kind = if update { "update" } else { "create" };
                self.time_to_ready
                    .get_or_create(&KindLabels { kind })
                    .observe(seconds);
                self.emf(|e| {
                    e.value("TimeToReady", Unit::Seconds, &[("Kind", kind)], seconds);
                });
            }
            (Effect::TornDown, false) => {
                self.time_to_destroy.observe(seconds);
                self.emf(|e| e.value("TimeToDestroy", Unit::Seconds, &[], seconds));
                self.teardown(true, 1);
            }
            (Effect::TornDown, true) => self.teardown(false, 1),
            _ => {}
        }
    }

    /// Every reconcile of `done`, asked for `waited` before it started.
    pub fn done(&self, done: &Done, waited: Duration) {
        for ((intent, result), elapsed) in done.outcomes.iter().zip(&done.elapsed) {
            self.reconciled(&intent.event, result, waited + *elapsed);
        }
    }

    /// One sweep pass: a reconcile per PR looked at (trigger `sweep`; their
    /// durations are not known one by one, so no time is observed), and the
    /// orphans it destroyed as teardowns.
    pub fn swept(&self, report: &SweepReport) {
        if report.dry_run {
            return;
        }
        for (pr, plans) in &report.prs {
            let outcome = if report.errors.iter().any(|(p, _)| p == pr) {
                "error"
            } else if plans.iter().any(|p| p.failure.is_some()) {
                "failed"
            } else if report.out_of_rounds.contains(pr) {
                "out_of_rounds"
            } else {
                "ok"
            };
            self.count_reconcile(Event::Sweep.kind(), outcome);
            if effect(plans) == Effect::TornDown {
                self.teardown(outcome == "ok", 1);
            }
        }
        for (pr, _) in &report.errors {
            if !report.prs.contains_key(pr) {
                self.count_reconcile(Event::Sweep.kind(), "error");
            }
        }
        self.teardown(true, report.orphans.len());
    }

    fn count_reconcile(&self, trigger: &'static str, outcome: &'static str) {
        self.reconciles
            .get_or_create(&ReconcileLabels { trigger, outcome })
            .inc();
        self.emf(|e| {
            e.count(
                "Reconciles",
                &[("Trigger", trigger), ("Outcome", outcome)],
                1.0,
            );
        });
    }

    fn teardown(&self, finished: bool, n: usize) {
        if n == 0 {
            return;
        }
        let result = if finished { "ok" } else { "failed" };
        self.teardowns
            .get_or_create(&ResultLabels { result })
            .inc_by(n as u64);
        self.emf(|e| e.count("Teardowns", &[("Result", result)], n as f64));
    }

    /// Environments now in each status (every status given; absent ones are
    /// zero).
    pub fn environments(&self, counts: &[(Status, usize)]) {
        for status in Status::ALL {
            let n = counts
                .iter()
                .filter(|(s, _)| *s == status)
                .map(|(_, n)| *n)
                .sum::<usize>();
            let n = i64::try_from(n).unwrap_or(i64::MAX);
            self.environments
                .get_or_create(&StatusLabels {
                    status: status.as_str(),
                })
                .set(n);
            self.emf(|e| {
                e.gauge(
                    "Environments",
                    Unit::Count,
                    &[("Status", status.as_str())],
                    n as f64,
                );
            });
        }
    }

    /// The Prometheus (OpenMetrics) text exposition of every figure, as
    /// `GET /metrics` serves it ([`CONTENT_TYPE`]).
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }

    /// The EMF lines of what changed since the last call (counters as
    /// increments, times as the values observed, gauges as they are now),
    /// stamped `now`; none when EMF is off or nothing was recorded.
    pub fn emf_lines(&self, now: DateTime<Utc>) -> Vec<String> {
        match &self.emf {
            Some(emf) => emf
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .drain(now.timestamp_millis()),
            None => Vec::new(),
        }
    }

    /// Lists the open PRs once through `engine`'s host, so that a
    /// [`LabelWatch`](watch::LabelWatch) around it counts every
    /// environment from the start (one page per 100 open PRs, once); for a
    /// long-running program that does not sweep. A failure is logged: the
    /// counts then fill in as PRs are seen.
    pub async fn count_environments(engine: &showtime_core::engine::Engine) {
        if let Err(e) = engine.ports().host.open_pull_requests().await {
            tracing::warn!(error = %e, "listing open PRs to count environments failed");
        }
    }

    /// Writes [`Metrics::emf_lines`] to `out`, one line each, in one write
    /// so that lines from several threads never interleave.
    pub fn write_emf(
        &self,
        now: DateTime<Utc>,
        out: &mut dyn std::io::Write,
    ) -> std::io::Result<()> {
        let lines = self.emf_lines(now);
        if lines.is_empty() {
            return Ok(());
        }
        let mut text = String::new();
        for line in lines {
            let _ = writeln!(text, "{line}");
        }
        out.write_all(text.as_bytes())?;
        out.flush()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_metrics_format_comes_from_the_flag_then_the_variable() {
        let none = |_: &str| None;
        let emf = |k: &str| (k == METRICS_VARIABLE).then(|| "EMF".to_owned());
        let bad = |k: &str| (k == METRICS_VARIABLE).then(|| "statsd".to_owned());
        assert_eq!(MetricsFormat::resolve(None, &none), Ok(MetricsFormat::None));
        assert_eq!(MetricsFormat::resolve(None, &emf), Ok(MetricsFormat::Emf));
        assert_eq!(
            MetricsFormat::resolve(Some(MetricsFormat::None), &emf),
            Ok(MetricsFormat::None)
        );
        assert!(MetricsFormat::resolve(None, &bad).is_err());
    }

    #[test]
    fn github_answers_are_counted_by_route_and_status() {
        let metrics = Metrics::new();
        let exchange = Exchange {
            method: "GET",
            endpoint: "/repos/:owner/:repo/pulls/:pull_number".into(),
            status: Some(200),
            rate_limit_remaining: Some(4999),
            rate_limit_resource: Some("core".into()),
        };
        metrics.github(&exchange);
        metrics.github(&exchange);
        metrics.github(&Exchange {
            status: None,
            rate_limit_remaining: None,
            ..exchange
        });
        let text = metrics.encode().unwrap();
        assert!(
            text.contains(
                "showtime_github_requests_total{method=\"GET\",endpoint=\"/repos/:owner/:repo/pulls/:pull_number\",status=\"200\"} 2"
            ),
            "{text}"
        );
        assert!(text.contains("status=\"error\"} 1"), "{text}");
        assert!(
            text.contains("showtime_github_rate_limit_remaining{resource=\"core\"} 4999"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn refusals_are_counted_by_reason_from_zero() {
        let metrics = Metrics::new().with_emf("showtime-webhook");
        let text = metrics.encode().unwrap();
        for reason in Refusal::ALL {
            let line = format!(
                "showtime_webhook_refusals_total{{reason=\"{}\"}} 0",
                reason.as_str()
            );
            assert!(text.contains(&line), "{text}");
        }
        metrics.refused(Refusal::RateLimited);
        metrics.refused(Refusal::RateLimited);
        metrics.connections(3);
        assert_eq!(metrics.refusals(Refusal::RateLimited), 2);
        let text = metrics.encode().unwrap();
        assert!(
            text.contains("showtime_webhook_refusals_total{reason=\"rate_limited\"} 2"),
            "{text}"
        );
        assert!(text.contains("showtime_webhook_connections 3"), "{text}");
        let lines = metrics.emf_lines(Utc::now()).join("\n");
        assert!(lines.contains("\"WebhookRefusals\":2"), "{lines}");
        assert!(lines.contains("\"Reason\":\"rate_limited\""), "{lines}");
    }
}
