//! The soak: thousands of signed deliveries over hundreds of PRs through the
//! built `showtime-webhook` (in-process engine, local backend: every
//! environment a real `showtime __app` process) while the fake GitHub
//! fails a steady share of its requests, then one more reconcile of every
//! PR and the promises checked.
//!
//! Sized by variables, small by default so that `scripts/check` runs it;
//! `scripts/soak` runs the full one (10,000 deliveries over 500 PRs):
//!
//! | variable | default | what |
//! |---|---|---|
//! | `SHOWTIME_SOAK_DELIVERIES` | 500 | deliveries sent, redeliveries included |
//! | `SHOWTIME_SOAK_PRS` | 50 | pull requests, each with its own life |
//! | `SHOWTIME_SOAK_WINDOW` | 12 | PRs living at once (bounds the processes) |
//! | `SHOWTIME_SOAK_SEED` | 18 | the seed of every random choice |
//! | `SHOWTIME_SOAK_MINUTES` | 20 | the time bound of the whole run |
//!
//! # A PR's life
//!
//! `opened`; for some PRs a start (the person adds `🎪 ⚡
//! showtime-trigger-start` or `testenv-up` to the PR first, as on GitHub,
//! then the `labeled` delivery), sometimes followed by waiting for the
//! environment to run as a person would; then pushes (`set_head`, then
//! `synchronize`), `/circus status` comments, other labels, and GitHub's
//! redeliveries of the delivery just sent (same `X-GitHub-Delivery`); for
//! some started PRs a stop (the stop trigger, `/circus destroy`, or
//! `testenv-up` removed); last, for most PRs, `closed`.
//!
//! # What is checked, after faults are off and one more reconcile
//!
//! * **No lost PR**: every PR's labels say what it was last asked: an open
//!   PR last asked to run has one environment, `running`, active (`🎯`) at
//!   its head commit, and nothing else; every other PR (stopped, closed,
//!   never started) has no environment in its labels. No 🎪 label is
//!   malformed or contradictory, no trigger is left waiting.
//! * **No leaked environment**: the backend's listing
//!   (`LocalBackend::list(None)`) is exactly the environments the labels
//!   describe, and the `showtime __app` processes running from this state
//!   directory are exactly that listing.
//! * **No duplicate deployment**: no commit of a PR was deployed twice
//!   (each `deploy` in the audit trail names a PR and commit not deployed
//!   before: the script never asks twice for one commit), a PR never had
//!   more than two environments at once in the backend (the serving one
//!   and its successor during a rolling update; sampled through the run),
//!   and at the end at most one.
//! * **Flat memory**: the server's peak RSS at the end is within a bound of
//!   its peak after the first thousand deliveries (10 % of them in a
//!   smaller run).
//!
//! The figures (deliveries, PRs, duration, ack latency p50/p99, peak RSS,
//! refusals and retries, faults served) are printed in one block.

#![allow(clippy::unwrap_used)]

#[path = "../support/mod.rs"]
mod support;

mod observe;
mod script;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use showtime_core::Status;
use showtime_core::labels::{Codec, Trigger};
use showtime_github::fake::{FakeGitHub, FakePr, FakeState, Fault};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use observe::*;
use script::*;
use support::site::{MAINTAINER, Site, http_text};
use support::*;

/// The legacy up-label: an environment is wanted while it is on the PR.
const UP_LABEL: &str = "testenv-up";
const STOP: &str = "🎪 🛑 showtime-trigger-stop";
/// A label of people's own: its `labeled` delivery is a plain look.
const OTHER_LABEL: &str = "needs review";

/// What a PR was last asked, by the end of its life.
#[derive(Debug, Clone)]
struct Asked {
    open: bool,
    wants: bool,
    head: String,
    /// Commits asked to run (each at most once).
    asked_commits: usize,
}

/// Figures shared by the drivers.
#[derive(Default)]
struct Stats {
    deliveries: AtomicUsize,
    redeliveries: AtomicUsize,
    refused: AtomicUsize,
    connection_errors: AtomicUsize,
    unexpected: Mutex<Vec<String>>,
    latencies_us: Mutex<Vec<u64>>,
    waited_for_env: AtomicUsize,
    gave_up_waiting: AtomicUsize,
    rss_at_checkpoint: Mutex<Option<Memory>>,
}

/// What the drivers need.
struct Ctx {
    site: Site,
    addr: SocketAddr,
    server_pid: u32,
    size: Size,
    stats: Stats,
}

/// One answer of the server.
struct Answer {
    status: u16,
    body: Value,
    retry_after: Option<u64>,
}

/// Sends one request and reads the whole answer, within 60 s.
async fn exchange(addr: SocketAddr, raw: &[u8]) -> std::io::Result<Answer> {
    let work = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream.write_all(raw).await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = tokio::time::timeout(Duration::from_secs(60), work)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer in 60 s"))??;
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let retry_after = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("retry-after")
            .then(|| value.trim().parse().ok())?
    });
    Ok(Answer {
        status,
        body: serde_json::from_str(body).unwrap_or(Value::Null),
        retry_after,
    })
}

/// A delivery as sent, to send again.
#[derive(Clone)]
struct Sent {
    event: &'static str,
    id: String,
    body: Vec<u8>,
}

impl Ctx {
    /// Delivers `sent` until the server takes it (a refusal for load,
    /// `429` or `503`, is waited out and sent again, as GitHub's redelivery
    /// would) and returns its answer; counts it and its ack latency.
    async fn deliver(&self, sent: &Sent) -> Answer {
        let headers = github_headers(sent.event, &sent.id, &sent.body, SECRET);
        let mut raw = format!(
            "POST /webhook HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            sent.body.len()
        );
        for (name, value) in &headers {
            raw.push_str(&format!("{name}: {value}\r\n"));
        }
        raw.push_str("\r\n");
        let mut raw = raw.into_bytes();
        raw.extend_from_slice(&sent.body);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let started = Instant::now();
            match exchange(self.addr, &raw).await {
                Ok(answer) if matches!(answer.status, 429 | 503) && attempts < 20 => {
                    self.stats.refused.fetch_add(1, Ordering::Relaxed);
                    let wait = answer.retry_after.unwrap_or(1).clamp(1, 5);
                    tokio::time::sleep(Duration::from_secs(wait)).await;
                }
                Ok(answer) => {
                    let took = started.elapsed().as_micros() as u64;
                    self.stats.latencies_us.lock().unwrap().push(took);
                    let done = self.stats.deliveries.fetch_add(1, Ordering::Relaxed) + 1;
                    if done == self.size.checkpoint() {
                        *self.stats.rss_at_checkpoint.lock().unwrap() =
                            Some(memory(self.server_pid));
                    }
                    return answer;
                }
                Err(e) if attempts < 20 => {
                    self.stats.connection_errors.fetch_add(1, Ordering::Relaxed);
                    eprintln!("soak: delivery {} failed ({e}); sending it again", sent.id);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("delivery {} never answered: {e}", sent.id),
            }
        }
    }

    fn expect(&self, sent: &Sent, answer: &Answer, status: u16) {
        if answer.status != status {
            self.stats.unexpected.lock().unwrap().push(format!(
                "{} {}: {} {} (expected {status})",
                sent.event, sent.id, answer.status, answer.body
            ));
        }
    }

    /// Waits, as a person watching the PR would, until the environment
    /// runs at `sha7`; gives up after a while (faults may have delayed it).
    async fn wait_running(&self, pr: u64, sha7: &str) {
        self.stats.waited_for_env.fetch_add(1, Ordering::Relaxed);
        let deadline = Instant::now() + Duration::from_secs(30);
        let active = format!("🎪 🎯 {sha7}");
        while Instant::now() < deadline {
            let labels = self.site.fake.labels(pr);
            if labels.iter().any(|l| l == &active) && labels.iter().any(|l| l == "🎪 🚦 running")
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.stats.gave_up_waiting.fetch_add(1, Ordering::Relaxed);
        eprintln!(
            "soak: #{pr} not running at {sha7} after 30 s: {:?}",
            self.site.fake.labels(pr)
        );
    }

    /// Lives PR `pr`'s life; returns what it was last asked.
    async fn live(&self, pr: u64, budget: usize) -> Asked {
        let mut rng = Rng::new(self.size.seed ^ (pr << 20));
        let sender = format!("dev-{pr}");
        let fake = &self.site.fake;
        let mut head = fake_head(pr);
        let mut asked = Asked {
            open: true,
            wants: false,
            head: head.clone(),
            asked_commits: 0,
        };
        let mut last: Option<Sent> = None;
        for (i, step) in script(&mut rng, budget).into_iter().enumerate() {
            tokio::time::sleep(Duration::from_millis(20 + rng.below(80))).await;
            let id = format!("soak-{pr}-{i}-{:08x}", rng.next() as u32);
            let pull = |action: &str, label: &str, head: &str| Sent {
                event: "pull_request",
                id: id.clone(),
                body: pull_request_payload(action, pr, label, head, &sender),
            };
            let comment = |text: &str| Sent {
                event: "issue_comment",
                id: id.clone(),
                body: comment_event(pr, text, &sender),
            };
            let sent = match step {
                Step::Opened => pull("opened", OTHER_LABEL, &head),
                Step::Start | Step::UpLabel => {
                    let label = if step == Step::Start {
                        TRIGGER
                    } else {
                        UP_LABEL
                    };
                    fake.add_labels_as_person(pr, &[label]);
                    asked.wants = true;
                    asked.asked_commits += 1;
                    pull("labeled", label, &head)
                }
                Step::Push => {
                    head = rng.sha();
                    fake.set_head(pr, &head);
                    if asked.wants {
                        asked.asked_commits += 1;
                    }
                    pull("synchronize", OTHER_LABEL, &head)
                }
                Step::Status => {
                    fake.add_comment(pr, &sender, "/circus status");
                    comment("/circus status")
                }
                Step::Look => {
                    fake.add_labels_as_person(pr, &[OTHER_LABEL]);
                    pull("labeled", OTHER_LABEL, &head)
                }
                Step::Redeliver => match &last {
                    Some(previous) => {
                        let answer = self.deliver(previous).await;
                        self.stats.redeliveries.fetch_add(1, Ordering::Relaxed);
                        self.expect(previous, &answer, 200);
                        if answer.body["duplicate"] != Value::Bool(true) {
                            self.stats.unexpected.lock().unwrap().push(format!(
                                "redelivery {} not a duplicate: {}",
                                previous.id, answer.body
                            ));
                        }
                        continue;
                    }
                    None => pull("labeled", OTHER_LABEL, &head),
                },
                Step::StopLabel => {
                    fake.add_labels_as_person(pr, &[STOP]);
                    asked.wants = false;
                    pull("labeled", STOP, &head)
                }
                Step::Destroy => {
                    fake.add_comment(pr, &sender, "/circus destroy");
                    asked.wants = false;
                    comment("/circus destroy")
                }
                Step::UpLabelRemoved => {
                    fake.remove_label_as_person(pr, UP_LABEL);
                    asked.wants = false;
                    pull("unlabeled", UP_LABEL, &head)
                }
                Step::Close => {
                    fake.set_state(pr, FakeState::Closed);
                    asked.open = false;
                    asked.wants = false;
                    pull("closed", OTHER_LABEL, &head)
                }
            };
            let answer = self.deliver(&sent).await;
            self.expect(&sent, &answer, 202);
            last = Some(sent);
            // Half the time the person waits for the preview before going
            // on, so environments really run (and are really updated).
            if matches!(step, Step::Start | Step::UpLabel) && rng.chance(50) {
                self.wait_running(pr, &head[..7]).await;
            }
        }
        asked.head = head;
        asked
    }
}

/// The head every PR starts with: random-looking, fixed by the number.
fn fake_head(pr: u64) -> String {
    Rng::new(pr.wrapping_mul(7919)).sha()
}

/// A `pull_request` delivery sent by `sender`, about head `head`.
fn pull_request_payload(action: &str, pr: u64, label: &str, head: &str, sender: &str) -> Vec<u8> {
    let mut payload: Value =
        serde_json::from_slice(&pull_request_event(action, pr, label)).unwrap();
    payload["sender"] = user(sender, 100_000 + pr);
    payload["pull_request"]["head"]["sha"] = Value::from(head);
    if action == "closed" {
        payload["pull_request"]["state"] = Value::from("closed");
    }
    serde_json::to_vec(&payload).unwrap()
}

/// Adds a steady share of faults, in proportion to the requests the fake
/// served since the last look: 5xx and secondary rate limits on the
/// endpoints a reconcile uses, now and then a primary rate limit spent
/// for a second, cut connections, and latency.
fn inject_faults(fake: &FakeGitHub, rng: &mut Rng, served: usize) {
    // About one request in 25 fails, one in 25 is slow.
    let count = (served / 25) + usize::from(rng.below(25) < (served % 25) as u64);
    for _ in 0..count {
        let fault = match rng.below(11) {
            0 => Fault::status(502).method("GET").path_contains("/pulls/"),
            1 => Fault::status(500).path_contains("/graphql"),
            2 => Fault::secondary_rate_limit(403, 1).path_contains("/graphql"),
            3 => Fault::secondary_rate_limit(429, 1).path_contains("/issues/"),
            4 => Fault::status(503).path_contains("/comments"),
            5 => Fault::status(502).path_contains("/collaborators/"),
            6 => Fault::primary_rate_limit(chrono::Utc::now().timestamp() + 1),
            // Connections cut before the request is served, and after.
            7 => Fault::reset(),
            8 => Fault::lost_answer(),
            _ => Fault::status(502),
        };
        fake.inject(fault);
        let latency = Duration::from_millis(50 + rng.below(250));
        fake.inject(Fault::delay(latency));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_soak_keeps_every_promise() {
    let size = Size::from_env();
    let started = Instant::now();
    let (owner, repo) = REPO.split_once('/').unwrap();
    let fake = FakeGitHub::start(owner, repo).await.unwrap();
    // The budget is not under test here (faults spend it for a moment).
    fake.set_rate_limit_remaining(u64::MAX / 2);
    fake.set_graphql_rate_limit_remaining(u64::MAX / 2);
    fake.set_permission(MAINTAINER, "write");
    for pr in 1..=size.prs as u64 {
        let mut seeded = FakePr::new(pr);
        seeded.head_sha = fake_head(pr);
        seeded.author = format!("dev-{pr}");
        fake.add_pull_request(seeded);
        fake.set_permission(&format!("dev-{pr}"), "write");
    }
    let dir = std::env::temp_dir().join(format!("showtime-soak-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let site = Site { fake, dir };
    let state_dir: PathBuf = site.state_dir();
    let audit = site.dir.join("audit.jsonl");
    // Quotas sized for the run: the driver bounds how many environments
    // run at once (the window), so the defaults (20 in all) would only
    // refuse; the audit trail is kept whole, one file, to count deploys.
    let config = site.dir.join("showtime.toml");
    std::fs::write(
        &config,
        format!(
            "quota_total = {}\nquota_per_requester = 3\n\n[audit]\npath = \"{}\"\n\
             max_bytes = 4294967296\n",
            size.prs + 10,
            audit.display()
        ),
    )
    .unwrap();

    let listen = format!("127.0.0.1:{}", free_port());
    let addr: SocketAddr = listen.parse().unwrap();
    let log = std::fs::File::create(site.dir.join("webhook.log")).unwrap();
    let mut server = site.command(
        env!("CARGO_BIN_EXE_showtime-webhook"),
        &["--listen", &listen, "--log-format", "json"],
    );
    server
        .env(
            "GITHUB_WEBHOOK_SECRET",
            String::from_utf8(SECRET.to_vec()).unwrap(),
        )
        .env("SHOWTIME_CONFIG", &config)
        .stdout(Stdio::null())
        .stderr(log);
    let mut child = server.spawn().unwrap();
    let server_pid = child.id().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while http_text(addr, "/healthz").await.is_none() {
        assert!(Instant::now() < deadline, "the server never listened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let at_start = memory(server_pid);

    let ctx = Arc::new(Ctx {
        site,
        addr,
        server_pid,
        size,
        stats: Stats::default(),
    });

    // Background: faults in proportion to traffic; memory and the backend
    // sampled along the way.
    let faults_on = Arc::new(AtomicBool::new(true));
    let stop_watching = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicU64::new(0));
    let faulted = Arc::new(AtomicU64::new(0));
    let watcher = tokio::spawn({
        let ctx = ctx.clone();
        let (faults_on, stop, served, faulted) = (
            faults_on.clone(),
            stop_watching.clone(),
            served.clone(),
            faulted.clone(),
        );
        let state_dir = state_dir.clone();
        async move {
            let mut rng = Rng::new(ctx.size.seed ^ 0xFA17);
            let mut max_rss = 0u64;
            let mut most_envs = 0usize;
            let mut crowded: Vec<String> = Vec::new();
            let mut series: Vec<(usize, u64)> = Vec::new();
            let mut tick = 0u64;
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(200)).await;
                tick += 1;
                // Reading the log then clearing it may miss a request
                // logged in between: the counts are close, not exact.
                let log = ctx.site.fake.requests();
                ctx.site.fake.clear_requests();
                served.fetch_add(log.len() as u64, Ordering::Relaxed);
                let failed = log
                    .iter()
                    .filter(|r| matches!(r.status, 0 | 403 | 429 | 500..=599))
                    // 0: a connection the fake cut.
                    .count();
                faulted.fetch_add(failed as u64, Ordering::Relaxed);
                if faults_on.load(Ordering::Relaxed) {
                    inject_faults(&ctx.site.fake, &mut rng, log.len());
                }
                let now = memory(ctx.server_pid);
                max_rss = max_rss.max(now.rss);
                let done = ctx.stats.deliveries.load(Ordering::Relaxed);
                if series.last().is_none_or(|(d, _)| done >= d + 1000) {
                    series.push((done, now.rss));
                }
                if tick % 5 == 0 {
                    let names = recorded(&state_dir);
                    most_envs = most_envs.max(names.len());
                    let mut per_pr: BTreeMap<u64, Vec<String>> = BTreeMap::new();
                    for name in names {
                        per_pr.entry(pr_of(&name)).or_default().push(name);
                    }
                    for (pr, names) in per_pr {
                        if names.len() > 2 {
                            crowded.push(format!("#{pr}: {names:?}"));
                        }
                    }
                }
            }
            (max_rss, most_envs, crowded, series)
        }
    });

    // The PRs' lives, `window` at a time.
    let per_pr = size.deliveries / size.prs;
    let extra = size.deliveries % size.prs;
    let next = Arc::new(AtomicUsize::new(1));
    let asked: Arc<Mutex<BTreeMap<u64, Asked>>> = Arc::default();
    let mut drivers = tokio::task::JoinSet::new();
    for _ in 0..size.window.min(size.prs) {
        let (ctx, next, asked) = (ctx.clone(), next.clone(), asked.clone());
        drivers.spawn(async move {
            loop {
                let pr = next.fetch_add(1, Ordering::Relaxed);
                if pr > ctx.size.prs {
                    break;
                }
                let budget = per_pr + usize::from(pr <= extra);
                let last = ctx.live(pr as u64, budget).await;
                asked.lock().unwrap().insert(pr as u64, last);
            }
        });
    }
    let bound = tokio::time::timeout(size.bound, async {
        while let Some(done) = drivers.join_next().await {
            done.unwrap();
        }
    })
    .await;
    assert!(
        bound.is_ok(),
        "the deliveries did not finish within {:?}",
        size.bound
    );
    let sending = started.elapsed();
    let at_end = memory(server_pid);

    // Faults off; wait until the server has nothing queued and the fake
    // has been quiet for a second.
    faults_on.store(false, Ordering::Relaxed);
    ctx.site.fake.clear_faults();
    let mut quiet = 0;
    let mut last_served = served.load(Ordering::Relaxed);
    while quiet < 5 {
        assert!(
            started.elapsed() < size.bound,
            "the server did not go idle in time"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
        let pending = match exchange(
            addr,
            format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        {
            Ok(answer) => answer.body["pending"].as_u64().unwrap_or(u64::MAX),
            Err(_) => u64::MAX,
        };
        let now_served = served.load(Ordering::Relaxed);
        quiet = if pending == 0 && now_served == last_served {
            quiet + 1
        } else {
            0
        };
        last_served = now_served;
    }
    let idle = started.elapsed();
    let after_idle = memory(server_pid);
    stop_watching.store(true, Ordering::Relaxed);
    let (max_rss, most_envs, crowded, series) = watcher.await.unwrap();

    // How far the server alone got, before the last reconcile.
    let codec = Codec::default();
    let asked = asked.lock().unwrap().clone();
    let live_by_pr = |names: Vec<String>| {
        let mut by_pr: HashMap<u64, Vec<String>> = HashMap::new();
        for name in names {
            by_pr.entry(pr_of(&name)).or_default().push(name);
        }
        by_pr
    };
    let before = live_by_pr(ctx.site.live().await);
    let unsettled: Vec<String> = asked
        .iter()
        .filter_map(|(pr, a)| {
            let live = before.get(pr).cloned().unwrap_or_default();
            disagreement(&codec, *pr, a, &ctx.site.fake.labels(*pr), &live)
        })
        .collect();

    // One more reconcile of every PR, four at once, by `showtime sync`.
    let mut syncs = tokio::task::JoinSet::new();
    let next = Arc::new(AtomicUsize::new(1));
    let failed_syncs: Arc<Mutex<Vec<String>>> = Arc::default();
    for _ in 0..4 {
        let (ctx, next, failed, config) = (
            ctx.clone(),
            next.clone(),
            failed_syncs.clone(),
            config.clone(),
        );
        syncs.spawn(async move {
            loop {
                let pr = next.fetch_add(1, Ordering::Relaxed);
                if pr > ctx.size.prs {
                    break;
                }
                let config = config.display().to_string();
                let run = ctx
                    .site
                    .run_with(
                        env!("CARGO_BIN_EXE_showtime"),
                        &["sync", &pr.to_string()],
                        &[("SHOWTIME_CONFIG", &config)],
                    )
                    .await;
                if run.code != 0 {
                    failed.lock().unwrap().push(format!(
                        "#{pr} exit {}: {}",
                        run.code,
                        run.stderr.lines().last().unwrap_or("")
                    ));
                }
            }
        });
    }
    while let Some(done) = syncs.join_next().await {
        done.unwrap();
    }
    let total = started.elapsed();

    // The promises.
    let live_names = ctx.site.live().await;
    let after = live_by_pr(live_names.clone());
    let lost: Vec<String> = asked
        .iter()
        .filter_map(|(pr, a)| {
            let live = after.get(pr).cloned().unwrap_or_default();
            disagreement(&codec, *pr, a, &ctx.site.fake.labels(*pr), &live)
        })
        .collect();
    let described: BTreeSet<String> = asked
        .keys()
        .flat_map(|pr| {
            codec
                .parse(ctx.site.fake.labels(*pr))
                .environments
                .into_keys()
                .map(move |sha| format!("pr-{pr}-{sha}"))
        })
        .collect();
    let listed: BTreeSet<String> = live_names.iter().cloned().collect();
    let processes = app_processes(&state_dir);
    let running: BTreeSet<String> = processes.iter().map(|(_, n)| n.clone()).collect();
    let mut deploys: BTreeMap<String, usize> = BTreeMap::new();
    let mut destroys = 0usize;
    let mut audit_failures = 0usize;
    for line in std::fs::read_to_string(&audit).unwrap_or_default().lines() {
        let Ok(record) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if record["ok"] != Value::Bool(true) {
            audit_failures += 1;
        }
        let action = record["action"].as_str().unwrap_or("");
        if record["ok"] == Value::Bool(true) {
            if let Some(name) = action.strip_prefix("deploy ") {
                *deploys
                    .entry(name.split_whitespace().next().unwrap_or("").to_owned())
                    .or_default() += 1;
            } else if record["change"] == "destroyed" {
                destroys += 1;
            }
        }
    }
    let twice: Vec<(&String, &usize)> = deploys.iter().filter(|(_, n)| **n > 1).collect();
    let asked_commits: usize = asked.values().map(|a| a.asked_commits).sum();
    let wanted = asked.values().filter(|a| a.open && a.wants).count();
    let closed = asked.values().filter(|a| !a.open).count();

    let mut latencies = ctx.stats.latencies_us.lock().unwrap().clone();
    latencies.sort_unstable();
    let checkpoint = ctx
        .stats
        .rss_at_checkpoint
        .lock()
        .unwrap()
        .unwrap_or_default();
    let deliveries = ctx.stats.deliveries.load(Ordering::Relaxed);
    let series: Vec<String> = series
        .iter()
        .map(|(d, rss)| format!("{d}: {}", mib(*rss)))
        .collect();
    println!(
        "\n==== soak figures ====\n\
         deliveries            {deliveries} ({} redeliveries of an id already sent) over {} PRs, {} at a time\n\
         time                  {:.1} s sending, {:.1} s until idle, {:.1} s with the last reconcile (bound {} min)\n\
         ack latency           p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms\n\
         refused / retried     {} answered 429/503 and sent again, {} connection errors\n\
         GitHub requests       {} served by the fake, {} of them failed by an injected fault\n\
         server RSS            start {}; at delivery {}: {} (peak {}); at {deliveries}: {} (peak {}); idle {} (peak {})\n\
         RSS along the way     {} (highest sampled {})\n\
         environments          {} deploys ({} asked), {} destroys, at most {} at once; {} open PRs left running, {} PRs closed\n\
         people waited         {} times for an environment ({} gave up after 30 s)\n\
         server alone          {} of {} PRs not yet as asked before the last reconcile; {} `showtime sync` runs failed\n\
         audit                 {} records of a step that failed (faults)\n\
         ======================",
        ctx.stats.redeliveries.load(Ordering::Relaxed),
        size.prs,
        size.window,
        sending.as_secs_f64(),
        idle.as_secs_f64(),
        total.as_secs_f64(),
        size.bound.as_secs() / 60,
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        percentile(&latencies, 100.0),
        ctx.stats.refused.load(Ordering::Relaxed),
        ctx.stats.connection_errors.load(Ordering::Relaxed),
        served.load(Ordering::Relaxed),
        faulted.load(Ordering::Relaxed),
        mib(at_start.rss),
        size.checkpoint(),
        mib(checkpoint.rss),
        mib(checkpoint.hwm),
        mib(at_end.rss),
        mib(at_end.hwm),
        mib(after_idle.rss),
        mib(after_idle.hwm),
        series.join(", "),
        mib(max_rss),
        deploys.values().sum::<usize>(),
        asked_commits,
        destroys,
        most_envs,
        wanted,
        closed,
        ctx.stats.waited_for_env.load(Ordering::Relaxed),
        ctx.stats.gave_up_waiting.load(Ordering::Relaxed),
        unsettled.len(),
        size.prs,
        failed_syncs.lock().unwrap().len(),
        audit_failures,
    );
    if !unsettled.is_empty() {
        println!("before the last reconcile:\n  {}", unsettled.join("\n  "));
    }

    // The server's log and the audit trail outlive the run, for a look
    // after a failure.
    let kept = std::env::temp_dir().join("showtime-soak-last");
    let _ = std::fs::remove_dir_all(&kept);
    if std::fs::create_dir_all(&kept).is_ok() {
        for file in ["webhook.log", "audit.jsonl"] {
            let _ = std::fs::copy(ctx.site.dir.join(file), kept.join(file));
        }
        println!("the server's log and the audit trail: {}", kept.display());
    }

    let unexpected = ctx.stats.unexpected.lock().unwrap().clone();
    assert!(unexpected.is_empty(), "unexpected answers: {unexpected:#?}");
    assert!(lost.is_empty(), "lost PRs: {lost:#?}");
    assert_eq!(
        listed, described,
        "leaked: the backend runs what no label describes (or the reverse)"
    );
    assert_eq!(running, listed, "leaked processes: {processes:?}");
    assert!(twice.is_empty(), "duplicate deployments: {twice:?}");
    assert!(
        crowded.is_empty(),
        "more than two environments of one PR: {crowded:?}"
    );
    assert!(
        at_end.hwm <= 2 * checkpoint.hwm.max(at_start.hwm) + 64 * 1024,
        "memory grew: peak {} at delivery {}, {} at {deliveries}",
        mib(checkpoint.hwm),
        size.checkpoint(),
        mib(at_end.hwm)
    );

    // A clean stop, then nothing left behind.
    std::process::Command::new("kill")
        .args(["-TERM", &server_pid.to_string()])
        .status()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
    let ctx = Arc::into_inner(ctx).unwrap_or_else(|| panic!("a driver still holds the site"));
    ctx.site.clean_up().await;
}
