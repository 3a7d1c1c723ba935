//! The per-PR queue over a real engine and the in-memory ports: coalescing
//! keeps a busy PR to a couple of PR reads, every PR is reconciled, and a
//! redelivery is dropped.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use showtime_core::commands::SlashCommand;
use showtime_core::engine::{Engine, Ports};
use showtime_core::labels::Codec;
use showtime_core::plan::Event;
use showtime_core::ports::{CommentAt, Permission, PortError, PrHost, PullRequest};
use showtime_core::testing::{MemoryHost, World};
use showtime_core::{CommentId, Login, PrNumber};
use showtime_runtime::queue::{Queue, QueueSettings, Queued};
use showtime_runtime::request::{Intent, Work};

const HEAD: &str = "aaaaaaa000000000000000000000000000000000";
const UP: &str = "testenv-up";

/// The in-memory host, counting PR reads per PR.
struct Counting {
    host: Arc<MemoryHost>,
    reads: Mutex<HashMap<PrNumber, usize>>,
    permissions: Mutex<usize>,
}

impl Counting {
    fn reads(&self, pr: u64) -> usize {
        let pr = PrNumber::new(pr).unwrap();
        self.reads.lock().unwrap().get(&pr).copied().unwrap_or(0)
    }
}

#[async_trait]
impl PrHost for Counting {
    async fn pull_request(&self, pr: PrNumber) -> Result<PullRequest, PortError> {
        *self.reads.lock().unwrap().entry(pr).or_default() += 1;
        self.host.pull_request(pr).await
    }
    async fn open_pull_requests(&self) -> Result<Vec<PullRequest>, PortError> {
        self.host.open_pull_requests().await
    }
    async fn add_labels(&self, pr: PrNumber, labels: &[String]) -> Result<(), PortError> {
        self.host.add_labels(pr, labels).await
    }
    async fn remove_label(&self, pr: PrNumber, label: &str) -> Result<(), PortError> {
        self.host.remove_label(pr, label).await
    }
    async fn permission(&self, user: &Login) -> Result<Permission, PortError> {
        *self.permissions.lock().unwrap() += 1;
        self.host.permission(user).await
    }
    async fn upsert_comment(
        &self,
        pr: PrNumber,
        at: CommentAt,
        marker: &str,
        body: &str,
    ) -> Result<CommentId, PortError> {
        self.host.upsert_comment(pr, at, marker, body).await
    }
    async fn delete_comment(&self, pr: PrNumber, id: CommentId) -> Result<(), PortError> {
        self.host.delete_comment(pr, id).await
    }
    async fn ensure_label(&self, name: &str, color: &str, desc: &str) -> Result<(), PortError> {
        self.host.ensure_label(name, color, desc).await
    }
    async fn repository_labels(&self) -> Result<Vec<String>, PortError> {
        self.host.repository_labels().await
    }
    async fn delete_label_if_unused(&self, name: &str) -> Result<bool, PortError> {
        self.host.delete_label_if_unused(name).await
    }
}

fn world_and_engine(prs: u64) -> (World, Arc<Counting>, Arc<Engine>) {
    let world = World::new();
    for pr in 1..=prs {
        world.open_pr(pr, HEAD, "author", &[UP]);
    }
    world.host.set_permission("maintainer", Permission::Write);
    let counting = Arc::new(Counting {
        host: world.host.clone(),
        reads: Mutex::new(HashMap::new()),
        permissions: Mutex::new(0),
    });
    let mut policy = world.policy.clone();
    // The queue is the one limit; the engine must not be a second, smaller one.
    policy.max_concurrent = 64;
    // Fifty environments for one maintainer: no quota in the way.
    policy.quota_per_requester = None;
    policy.quota_total = None;
    let engine = Engine::new(
        Ports {
            host: counting.clone(),
            ..world.ports()
        },
        policy,
    );
    (world, counting, Arc::new(engine))
}

fn look(pr: u64, who: &str) -> Work {
    let mut work = Work::new(PrNumber::new(pr).unwrap());
    work.push(Intent {
        event: Event::Look,
        actor: Some(who.parse().unwrap()),
    });
    work
}

/// Fifty deliveries for one PR (label events, a push, comments) and one
/// for each of 49 others, as a webhook burst delivers them.
#[tokio::test(flavor = "current_thread")]
async fn fifty_deliveries_of_one_pr_cost_at_most_two_reads_and_every_pr_runs() {
    let (world, counting, engine) = world_and_engine(50);
    let queue = Queue::new(engine, QueueSettings::default());

    let codec = Codec::default();
    let mut queued = Vec::new();
    for i in 0..50 {
        let work = match i % 10 {
            3 => Work::from_comment(
                PrNumber::new(1).unwrap(),
                "/circus extend 48h",
                "maintainer".parse().unwrap(),
                &codec,
            ),
            7 => {
                let mut work = Work::new(PrNumber::new(1).unwrap());
                work.push(Intent {
                    event: Event::Push,
                    actor: Some("maintainer".parse().unwrap()),
                });
                work
            }
            _ => look(1, "maintainer"),
        };
        queued.push(queue.push(Some(&format!("busy-{i}")), work));
    }
    for pr in 2..=50 {
        queue.push(Some(&format!("other-{pr}")), look(pr, "maintainer"));
    }
    queue.idle().await;

    assert_eq!(queued[0], Queued::New);
    assert!(
        queued[1..].iter().all(|q| *q == Queued::Coalesced),
        "{queued:?}"
    );
    let busy = counting.reads(1);
    eprintln!("PR reads: busy PR {busy} for 50 deliveries");
    assert!(busy <= 2, "the busy PR was read {busy} times");
    // Every PR was reconciled: each has its environment, running.
    for pr in 1..=50 {
        let state = codec.parse(world.host.labels(PrNumber::new(pr).unwrap()));
        assert!(state.active.is_some(), "PR #{pr}: {state:?}");
        assert!(counting.reads(pr) >= 1, "PR #{pr} was never read");
    }
    assert_eq!(world.backend.environments().len(), 50);
    // What the busy PR's deliveries asked was carried out: the extension.
    let busy_state = codec.parse(world.host.labels(PrNumber::new(1).unwrap()));
    assert_eq!(busy_state.ttl.unwrap().to_string(), "48h");
    assert_eq!(queue.pending(), 0);
    // One permission look-up per PR: the busy PR's six intents, all the
    // maintainer's, share one.
    assert_eq!(*counting.permissions.lock().unwrap(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivery_is_dropped_and_later_work_runs_after_the_first() {
    let (world, counting, engine) = world_and_engine(1);
    let queue = Queue::new(engine, QueueSettings::default());
    assert_eq!(queue.push(Some("d-1"), look(1, "maintainer")), Queued::New);
    assert_eq!(
        queue.push(Some("d-1"), look(1, "maintainer")),
        Queued::Duplicate
    );
    queue.idle().await;
    let reads = counting.reads(1);
    let mut destroy = Work::new(PrNumber::new(1).unwrap());
    destroy.push(Intent {
        event: Event::Command(SlashCommand::Destroy),
        actor: Some("maintainer".parse().unwrap()),
    });
    assert_eq!(queue.push(Some("d-2"), destroy), Queued::New);
    queue.idle().await;
    assert!(counting.reads(1) > reads, "the later work ran");
    assert!(world.backend.environments().is_empty());
}

/// Found by the soak: in one batch, a create whose second round read the
/// PR again (a commit was pushed during its build) handed its first read
/// on to the batch's next reconcile, which planned from the replaced head:
/// a rolling update back to it, a second deploy of a commit already gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_plans_each_reconcile_from_the_head_the_last_one_saw() {
    use showtime_core::testing::Fault;
    use showtime_runtime::request::carry_out;

    const NEWER: &str = "bbbbbbb000000000000000000000000000000000";
    let world = World::new();
    world.open_pr(1, HEAD, "maintainer", &["🎪 ⚡ showtime-trigger-start"]);
    world.host.set_permission("maintainer", Permission::Write);
    // The first deploy waits while the author pushes a commit.
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    world
        .faults
        .on_method("backend.deploy", vec![Fault::Gate(gate.clone())]);
    let engine = Arc::new(world.engine());
    let pr = PrNumber::new(1).unwrap();
    let mut work = Work::new(pr);
    // A trigger label's look, then a `/circus status`, then the push.
    for event in [
        Event::Look,
        Event::Command(SlashCommand::Status),
        Event::Push,
    ] {
        work.intents.push(Intent {
            event,
            actor: Some("maintainer".parse().unwrap()),
        });
    }
    let running = tokio::spawn({
        let engine = engine.clone();
        async move { carry_out(&engine, work, None).await }
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !world
        .host
        .showtime_labels(pr)
        .iter()
        .any(|l| l == "🎪 🏗️ aaaaaaa")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the deploy never started"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    world
        .host
        .edit_pr(pr, |read| read.head_sha = NEWER.parse().unwrap());
    gate.add_permits(1);
    let done = running.await.unwrap();

    let deploys: Vec<String> = done
        .records("test", chrono::Utc::now())
        .into_iter()
        .map(|r| r.action)
        .filter(|a| a.starts_with("deploy "))
        .collect();
    assert_eq!(
        deploys,
        ["deploy pr-1-aaaaaaa", "deploy pr-1-bbbbbbb"],
        "each commit deployed once"
    );
    let envs = world.backend.environments();
    assert_eq!(envs.len(), 1, "{envs:?}");
    assert_eq!(envs[0].id.name(), "pr-1-bbbbbbb");
}
