//! Faults across real processes: the built binaries against the fake
//! GitHub, which fails, throttles, cuts connections and answers late on
//! demand, and the local backend, whose operations fail on demand
//! (`showtime_local::faults`). Processes are also killed mid-flow and run
//! two at once. After each scenario the faults stop, one more
//! `showtime sync` of the PR runs, and the PR must be consistent
//! ([`consistency::check`]).
//!
//! A sample of the matrix runs by default (in `scripts/check`);
//! `SHOWTIME_FAULTS=all` runs every cell (`scripts/faults`). Each test
//! prints its tally: scenarios run, and how many of their faulty runs
//! failed (exited non-zero, or were killed before the flow was done)
//! before the last reconcile repaired them.

#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use showtime_github::fake::Fault;

use support::consistency::{Outcome, check};
use support::site::*;
use support::*;

/// What happens to the PR while the faults are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// The trigger label is added, then `showtime sync`.
    Create,
    /// The legacy up-label `testenv-up` is added, then `showtime sync`;
    /// it stays on the PR for the environment's whole life.
    UpLabel,
    /// A serving environment, a new commit, then `showtime sync`.
    Rolling,
    /// A serving environment, then `showtime stop`.
    Stop,
    /// A serving environment, the PR closed, then `showtime-sweep`.
    Close,
}

const FLOWS: &[Flow] = &[
    Flow::Create,
    Flow::UpLabel,
    Flow::Rolling,
    Flow::Stop,
    Flow::Close,
];

impl Flow {
    /// The outcomes allowed once settled. The trigger label and the closed
    /// PR stay on GitHub whatever the run did. A push or a `showtime stop`
    /// that failed told its caller so (the workflow run fails, to be run
    /// again), and may have left the environment as it was.
    fn expect(self, run: &Run) -> &'static [Outcome] {
        const OLD: Outcome = Outcome::Serving("abc123f");
        const NEW: Outcome = Outcome::Serving("5eadbee");
        match (self, run.code == 0) {
            (Flow::Create | Flow::UpLabel, _) => &[OLD],
            (Flow::Rolling, true) => &[NEW],
            (Flow::Rolling, false) => &[NEW, OLD],
            (Flow::Stop, false) => &[Outcome::Nothing, OLD],
            (Flow::Stop | Flow::Close, _) => &[Outcome::Nothing],
        }
    }

    /// The command of the flow, once the person has done their part.
    fn args(self, site: &Site) -> &'static [&'static str] {
        match self {
            Flow::Create => {
                site.fake.add_labels_as_person(42, &[TRIGGER]);
                &["sync", "42"]
            }
            Flow::UpLabel => {
                site.fake.add_labels_as_person(42, &["testenv-up"]);
                &["sync", "42"]
            }
            Flow::Rolling => {
                site.fake.set_head(42, SECOND);
                &["sync", "42", "--sha", SECOND, "--event", "push"]
            }
            Flow::Stop => &["stop", "42"],
            Flow::Close => {
                site.fake
                    .set_state(42, showtime_github::fake::FakeState::Closed);
                &[]
            }
        }
    }

    fn binary(self) -> &'static str {
        match self {
            Flow::Close => env!("CARGO_BIN_EXE_showtime-sweep"),
            _ => env!("CARGO_BIN_EXE_showtime"),
        }
    }

    /// Brings the PR to where the flow starts, with no fault on.
    async fn prepare(self, site: &Site) {
        if !matches!(self, Flow::Create | Flow::UpLabel) {
            site.fake.add_labels_as_person(42, &[TRIGGER]);
            site.showtime(&["sync", "42"]).await.ok();
        }
    }

    /// Runs the flow as a person and the binaries would.
    async fn run(self, site: &Site) -> Run {
        let args = self.args(site);
        site.run_with(self.binary(), args, &[]).await
    }
}

/// Where a fault strikes: a method and a fragment of the path.
const ENDPOINTS: &[(&str, Option<&str>, &str)] = &[
    ("GraphQL", Some("POST"), "/graphql"),
    ("PR read", Some("GET"), "/pulls"),
    ("labels added", Some("POST"), "/labels"),
    ("labels removed", Some("DELETE"), "/labels"),
    ("comments", None, "/comments"),
    ("permission", Some("GET"), "/permission"),
    ("label definitions", None, "/labels?"),
];

/// The faults of the GitHub side.
fn github_faults() -> Vec<(&'static str, Fault)> {
    vec![
        ("500", Fault::status(500)),
        ("502", Fault::status(502)),
        ("secondary limit 403", Fault::secondary_rate_limit(403, 1)),
        ("secondary limit 429", Fault::secondary_rate_limit(429, 1)),
        ("reset", Fault::reset()),
        ("lost answer", Fault::lost_answer()),
        ("latency 1.5 s", Fault::delay(Duration::from_millis(1500))),
    ]
}

/// How long a fault lasts: one request (a blip the retries absorb, or not),
/// or every matching request until the flow is over (an outage).
const BLIP: usize = 1;
const OUTAGE: usize = 1000;

fn everything() -> bool {
    std::env::var("SHOWTIME_FAULTS").is_ok_and(|v| v == "all")
}

/// The scenarios of a matrix to run: all of them, or every `step`-th
/// (offset so that each test samples a different part).
fn sample<T>(cells: Vec<T>, step: usize, offset: usize) -> Vec<T> {
    if everything() {
        return cells;
    }
    cells
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % step == offset % step)
        .map(|(_, cell)| cell)
        .collect()
}

/// What a matrix did, printed at its end.
#[derive(Default)]
struct Tally {
    scenarios: usize,
    failed_runs: usize,
    broken: Vec<String>,
}

impl Tally {
    /// Stops the faults, reconciles once more, checks the PR.
    async fn settle(&mut self, site: &Site, name: &str, faulty: &Run, expect: &[Outcome]) {
        self.scenarios += 1;
        if faulty.code != 0 {
            self.failed_runs += 1;
        }
        let requests: Vec<String> = site
            .fake
            .requests()
            .iter()
            .map(|r| {
                format!(
                    "{} {} {} {}",
                    r.status,
                    r.method,
                    r.path,
                    r.body.as_deref().unwrap_or("")
                )
            })
            .collect();
        site.fake.clear_faults();
        clear_backend_faults(site);
        let last = site.showtime(&["sync", "42"]).await;
        if let Err(broken) = check(site, 42, expect).await {
            self.broken.push(format!(
                "{name}: {broken}\n  faulty run: {faulty:?}\n  last sync: {last:?}\n  requests before the last sync:\n    {}",
                requests.join("\n    ")
            ));
        }
    }

    fn finish(self, matrix: &str) {
        println!(
            "{matrix}: {} scenarios, {} faulty runs failed and were repaired, {} broken",
            self.scenarios,
            self.failed_runs,
            self.broken.len()
        );
        assert!(self.broken.is_empty(), "{}", self.broken.join("\n\n"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_failing_on_each_endpoint() {
    let mut cells = Vec::new();
    for &flow in FLOWS {
        for &(endpoint, method, path) in ENDPOINTS {
            for (fault_name, fault) in github_faults() {
                for times in [BLIP, OUTAGE] {
                    let mut fault = fault.clone().path_contains(path).times(times);
                    if let Some(method) = method {
                        fault = fault.method(method);
                    }
                    let span = if times == BLIP { "once" } else { "outage" };
                    let name = format!("{flow:?} / {endpoint} / {fault_name} {span}");
                    cells.push((flow, name, fault));
                }
            }
        }
    }
    let mut tally = Tally::default();
    for (flow, name, fault) in sample(cells, 13, 0) {
        let site = Site::start("faults-github").await;
        flow.prepare(&site).await;
        site.fake.inject(fault);
        let faulty = flow.run(&site).await;
        tally
            .settle(&site, &name, &faulty, flow.expect(&faulty))
            .await;
        site.clean_up().await;
    }
    tally.finish("GitHub faults");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_rate_limit_exhausted_mid_flow() {
    let mut cells = Vec::new();
    for &flow in FLOWS {
        // Spent after this many requests: each point of the flow.
        for left in 0..6 {
            cells.push((flow, left));
        }
    }
    let mut tally = Tally::default();
    for (flow, left) in sample(cells, 4, 1) {
        let site = Site::start("faults-primary").await;
        flow.prepare(&site).await;
        // Refills in an hour: the run gives up and says until when.
        site.fake.set_rate_limit_remaining(left);
        site.fake
            .set_rate_limit_reset(chrono::Utc::now().timestamp() + 3600);
        let faulty = flow.run(&site).await;
        site.fake.set_rate_limit_remaining(5000);
        let name = format!("{flow:?} / primary limit after {left} requests");
        tally
            .settle(&site, &name, &faulty, flow.expect(&faulty))
            .await;
        site.clean_up().await;
    }
    tally.finish("primary rate limit");
}

/// The local backend's operations failing: `(operation, plan)`, the plan as
/// written to `faults/<operation>`.
const BACKEND_FAULTS: &[(Flow, &str, &str)] = &[
    (Flow::Create, "deploy", "1"),
    (Flow::Create, "deploy", "1000"),
    (Flow::Create, "deploy", "1 permanent"),
    (Flow::Create, "wait_ready", "1000"),
    (Flow::Create, "list", "1"),
    (Flow::Rolling, "deploy", "1000"),
    (Flow::Rolling, "destroy", "1000"),
    (Flow::Rolling, "list", "1000"),
    (Flow::Stop, "destroy", "1"),
    (Flow::Stop, "destroy", "1000"),
    (Flow::Stop, "list", "1000"),
    (Flow::Close, "destroy", "1000"),
    (Flow::Close, "list", "1000"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backend_failing() {
    let mut tally = Tally::default();
    let cells: Vec<_> = BACKEND_FAULTS.iter().collect();
    for &(flow, operation, plan) in sample(cells, 3, 2) {
        let site = Site::start("faults-backend").await;
        flow.prepare(&site).await;
        let dir = site.state_dir().join(showtime_local::faults::FAULTS_DIR);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(operation), plan).unwrap();
        let faulty = flow.run(&site).await;
        let expect: &[Outcome] = match (plan.contains("permanent"), flow) {
            (true, Flow::Create | Flow::UpLabel) => {
                &[Outcome::Serving("abc123f"), Outcome::Failed("abc123f")]
            }
            _ => flow.expect(&faulty),
        };
        let name = format!("{flow:?} / backend {operation} failing {plan}");
        tally.settle(&site, &name, &faulty, expect).await;
        site.clean_up().await;
    }
    tally.finish("backend faults");
}

fn clear_backend_faults(site: &Site) {
    let _ = std::fs::remove_dir_all(site.state_dir().join(showtime_local::faults::FAULTS_DIR));
}

/// A small deterministic generator for kill points: the seed is printed,
/// so a failure can be replayed with `SHOWTIME_FAULTS_SEED`.
struct Points(u64);

impl Points {
    fn seeded() -> Points {
        let seed = std::env::var("SHOWTIME_FAULTS_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            });
        println!("kill points from SHOWTIME_FAULTS_SEED={seed}");
        Points(seed | 1)
    }

    /// A delay in `0..max_ms` milliseconds.
    fn next(&mut self, max_ms: u64) -> Duration {
        // xorshift64
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Duration::from_millis(self.0 % max_ms)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn showtime_killed_at_random_points() {
    let mut points = Points::seeded();
    let rounds = if everything() { 6 } else { 1 };
    let mut tally = Tally::default();
    for _ in 0..rounds {
        for &flow in FLOWS {
            let site = Site::start("faults-kill").await;
            flow.prepare(&site).await;
            let after = points.next(400);
            let faulty = killed_after(&site, flow, after).await;
            let name = format!("{flow:?} / showtime killed after {after:?}");
            tally
                .settle(&site, &name, &faulty, flow.expect(&faulty))
                .await;
            site.clean_up().await;
        }
    }
    tally.finish("showtime killed");
}

/// Runs the flow's command, sending it SIGKILL after `after` if it is
/// still running.
async fn killed_after(site: &Site, flow: Flow, after: Duration) -> Run {
    let args = flow.args(site);
    let mut child = site
        .command(flow.binary(), args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let code = match tokio::time::timeout(after, child.wait()).await {
        Ok(status) => status.unwrap().code().unwrap_or(-1),
        Err(_) => {
            child.start_kill().unwrap();
            child.wait().await.unwrap();
            -9
        }
    };
    Run {
        code,
        stdout: String::new(),
        stderr: format!("killed after {after:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_server_killed_at_random_points_and_restarted() {
    let mut points = Points::seeded();
    let rounds = if everything() { 12 } else { 2 };
    let mut tally = Tally::default();
    for _ in 0..rounds {
        let site = Site::start("faults-server-kill").await;
        site.fake.set_permission(AUTHOR, "write");
        let (mut server, addr) = webhook_server(&site).await;
        site.fake.add_labels_as_person(42, &[TRIGGER]);
        let labeled = pull_request_event("labeled", 42, TRIGGER);
        let reply = deliver(addr, "pull_request", "delivery-1", &labeled).await;
        assert_eq!(reply.status, 202, "{reply:?}");
        // A create takes the server a few hundred milliseconds.
        let after = points.next(250);
        tokio::time::sleep(after).await;
        server.start_kill().unwrap();
        server.wait().await.unwrap();
        // Killed mid-flow, or after it was done.
        let done = site
            .showtime_labels(42)
            .contains(&"🎪 🚦 running".to_owned());
        // Restarted: the delivery is not sent again (GitHub does not), so
        // the restart alone must not make things worse.
        let (mut server, _) = webhook_server(&site).await;
        let faulty = Run {
            code: if done { 0 } else { -9 },
            stdout: String::new(),
            stderr: format!("server killed {after:?} after the delivery"),
        };
        let name = format!("Create / showtime-webhook killed after {after:?}");
        tally
            .settle(&site, &name, &faulty, Flow::Create.expect(&faulty))
            .await;
        server.start_kill().unwrap();
        server.wait().await.unwrap();
        site.clean_up().await;
    }
    tally.finish("webhook server killed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_reconciling_the_same_pr() {
    let rounds = if everything() { 5 } else { 1 };
    let mut tally = Tally::default();
    let mut lost = 0;
    for _ in 0..rounds {
        for &flow in FLOWS {
            let site = Site::start("faults-two").await;
            flow.prepare(&site).await;
            let args = flow.args(&site);
            let (first, second) = tokio::join!(
                site.run_with(flow.binary(), args, &[]),
                site.run_with(flow.binary(), args, &[])
            );
            let faulty = if first.code != 0 { first } else { second };
            let name = format!("{flow:?} / two showtime runs at once");
            // A known defect, counted rather than failed: now and then
            // (about 2 creates in 150 here) the two runs' deploys of the
            // same local environment race across processes (the local
            // backend serialises its changes only within one), one run sees
            // the process exit and records `failed`, and the start is
            // consumed. The PR stays consistent, without the environment.
            let expect: &[Outcome] = match flow {
                Flow::Create | Flow::UpLabel => &[
                    Outcome::Serving("abc123f"),
                    Outcome::Failed("abc123f"),
                    Outcome::Nothing,
                ],
                _ => flow.expect(&faulty),
            };
            tally.settle(&site, &name, &faulty, expect).await;
            if expect.len() == 3 && site.live().await.is_empty() {
                lost += 1;
            }
            site.clean_up().await;
        }
    }
    println!(
        "two processes: {lost} creates ended without their environment (the local backend's race)"
    );
    tally.finish("two processes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_webhook_replicas_without_a_shared_queue() {
    let rounds = if everything() { 5 } else { 1 };
    let mut tally = Tally::default();
    for _ in 0..rounds {
        for trigger in [TRIGGER, "testenv-up"] {
            let site = Site::start("faults-replicas").await;
            site.fake.set_permission(AUTHOR, "write");
            let (mut one, first) = webhook_server(&site).await;
            let (mut two, second) = webhook_server(&site).await;
            site.fake.add_labels_as_person(42, &[trigger]);
            let labeled = pull_request_event("labeled", 42, trigger);
            // A load balancer sends the delivery to one replica and
            // GitHub's redelivery to the other.
            let (a, b) = tokio::join!(
                deliver(first, "pull_request", "delivery-1", &labeled),
                deliver(second, "pull_request", "delivery-1", &labeled),
            );
            assert!(a.status < 300 && b.status < 300, "{a:?} {b:?}");
            idle(&site).await;
            for server in [&mut one, &mut two] {
                server.start_kill().unwrap();
                server.wait().await.unwrap();
            }
            let done = Run {
                code: 0,
                stdout: String::new(),
                stderr: String::new(),
            };
            let name = format!("Create / two replicas, {trigger}");
            tally
                .settle(&site, &name, &done, Flow::Create.expect(&done))
                .await;
            site.clean_up().await;
        }
    }
    tally.finish("two webhook replicas");
}

/// Starts the built `showtime-webhook` for `site`, waits until it answers.
async fn webhook_server(site: &Site) -> (tokio::process::Child, SocketAddr) {
    let listen = format!("127.0.0.1:{}", free_port());
    let mut server = site.command(
        env!("CARGO_BIN_EXE_showtime-webhook"),
        &["--listen", &listen],
    );
    server.env(
        "GITHUB_WEBHOOK_SECRET",
        String::from_utf8(SECRET.to_vec()).unwrap(),
    );
    let child = server.stderr(Stdio::null()).spawn().unwrap();
    let addr: SocketAddr = listen.parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while http_text(addr, "/healthz").await.is_none() {
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (child, addr)
}

/// Waits until the fake GitHub has seen no request for a second.
async fn idle(site: &Site) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = usize::MAX;
    loop {
        let now = site.fake.requests().len();
        if now == seen {
            return;
        }
        assert!(Instant::now() < deadline, "GitHub traffic never settled");
        seen = now;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
