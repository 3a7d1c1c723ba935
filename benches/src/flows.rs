//! GitHub requests per lifecycle flow, counted from the fake GitHub's log.
//!
//! Time on a shared machine is noise; the number of requests a flow makes to
//! GitHub is what costs rate limit and a contributor's wait, and it is
//! exact. [`measure`] runs the engine through the real GitHub adapter
//! against the fake GitHub over HTTP (the backend and builder in memory),
//! in both dialects. Each flow starts in a fresh process's shoes: a new
//! adapter and engine, so nothing is remembered but what the labels say.

use std::sync::Arc;

use showtime_core::commands::SlashCommand;
use showtime_core::engine::{Engine, Ports};
use showtime_core::labels::Dialect;
use showtime_core::plan::Event;
use showtime_core::testing::World;
use showtime_core::{Login, PrNumber};
use showtime_github::fake::{FakeGitHub, FakePr};
use showtime_github::{Auth, GitHubConfig, GitHubHost};

/// The requests one flow made in one dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowCount {
    /// The flow, as [`BUDGETS`] names it.
    pub flow: String,
    /// The label dialect written.
    pub dialect: Dialect,
    /// Requests the fake GitHub answered.
    pub requests: usize,
    /// The most it may take.
    pub budget: usize,
}

/// The flows and their budgets (the sweeps' depend on the number of PRs:
/// ⌈N/100⌉ pages of open PRs and one of label definitions).
pub const BUDGETS: &[(&str, usize)] = &[
    ("create (up-label → running)", 8),
    (
        "rolling update (push → new commit running, old destroyed)",
        8,
    ),
    ("nothing to do", 1),
    ("status (`showtime status`: one read)", 1),
    ("/circus status (the comment refreshed)", 2),
    ("stop (/circus destroy, by the requester)", 4),
    ("stop (up-label removed)", 4),
    ("unauthorized trigger (refused with a reply)", 4),
    ("cleanup: 50 open PRs, 10 environments expired, 5 fresh", 40),
];

const HEAD: &str = "aaaaaaa111111111111111111111111111111111";
const NEXT: &str = "bbbbbbb222222222222222222222222222222222";
const UP: &str = "testenv-up";

fn login(name: &str) -> Option<Login> {
    name.parse().ok()
}

fn pr(n: u64) -> PrNumber {
    PrNumber::new(n).unwrap_or_else(|| unreachable!("fixture numbers are positive"))
}

/// One fake GitHub with its in-memory cloud.
struct Bench {
    fake: FakeGitHub,
    world: World,
}

impl Bench {
    async fn new(dialect: Dialect) -> Result<Bench, String> {
        let fake = FakeGitHub::start("acme", "widgets")
            .await
            .map_err(|e| e.to_string())?;
        fake.set_permission("maxime", "write");
        fake.set_permission("visitor", "read");
        let mut world = World::new();
        world.policy.dialect = dialect;
        world.policy.quota_total = None;
        world.policy.quota_per_requester = None;
        Ok(Bench { fake, world })
    }

    /// A new process: a new adapter (no ids, ETags or comment ids kept)
    /// and a new engine.
    fn engine(&self) -> Result<Engine, String> {
        let config = GitHubConfig::new("acme/widgets", Auth::Token("t".into()))
            .map_err(|e| e.to_string())?
            .with_api_url(&self.fake.url());
        let host = GitHubHost::new(config).map_err(|e| e.to_string())?;
        let ports = Ports {
            host: Arc::new(host),
            ..self.world.ports()
        };
        Ok(Engine::new(ports, self.world.policy.clone()))
    }

    fn open(&self, n: u64, labels: &[&str]) {
        self.fake.add_pull_request(FakePr {
            head_sha: HEAD.to_owned(),
            author: "maxime".to_owned(),
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
            ..FakePr::new(n)
        });
    }

    /// The requests of one reconcile in a fresh process.
    async fn reconcile(&self, n: u64, event: Event, actor: &str) -> Result<usize, String> {
        let engine = self.engine()?;
        self.fake.clear_requests();
        engine
            .reconcile(pr(n), event, login(actor))
            .await
            .map_err(|e| e.to_string())?;
        Ok(self.fake.requests().len())
    }

    /// The requests of one read of a PR in a fresh process (what `showtime
    /// status` asks of GitHub).
    async fn read(&self, n: u64) -> Result<usize, String> {
        let engine = self.engine()?;
        self.fake.clear_requests();
        engine.read_pr(pr(n)).await.map_err(|e| e.to_string())?;
        Ok(self.fake.requests().len())
    }

    /// The requests of one sweep in a fresh process.
    async fn sweep(&self) -> Result<usize, String> {
        let engine = self.engine()?;
        self.fake.clear_requests();
        engine.sweep(false).await.map_err(|e| e.to_string())?;
        Ok(self.fake.requests().len())
    }
}

/// Runs every flow once in each dialect, and a sweep with nothing to do
/// over each of `sweep_sizes` open PRs.
pub async fn measure(sweep_sizes: &[u64]) -> Result<Vec<FlowCount>, String> {
    let mut out = Vec::new();
    for dialect in [Dialect::Seed, Dialect::PerSha] {
        let mut record = |flow: &str, requests: usize, budget: usize| {
            out.push(FlowCount {
                flow: flow.to_owned(),
                dialect,
                requests,
                budget,
            });
        };
        let budget = |flow: &str| BUDGETS.iter().find(|(f, _)| *f == flow).map_or(0, |b| b.1);
        let mut run = |flow: &'static str, requests: usize| record(flow, requests, budget(flow));

        let bench = Bench::new(dialect).await?;
        bench.open(1, &[UP]);
        run(
            BUDGETS[0].0,
            bench.reconcile(1, Event::Look, "maxime").await?,
        );
        bench.fake.set_head(1, NEXT);
        run(
            BUDGETS[1].0,
            bench.reconcile(1, Event::Push, "maxime").await?,
        );
        run(
            BUDGETS[2].0,
            bench.reconcile(1, Event::Look, "maxime").await?,
        );
        run(BUDGETS[3].0, bench.read(1).await?);
        let status = Event::Command(SlashCommand::Status);
        run(BUDGETS[4].0, bench.reconcile(1, status, "maxime").await?);
        let destroy = Event::Command(SlashCommand::Destroy);
        run(BUDGETS[5].0, bench.reconcile(1, destroy, "maxime").await?);
        bench.fake.add_labels_as_person(1, &[UP]);
        bench.reconcile(1, Event::Look, "maxime").await?;
        bench.fake.remove_label_as_person(1, UP);
        let removed = Event::UpLabelRemoved;
        run(BUDGETS[6].0, bench.reconcile(1, removed, "maxime").await?);
        bench.open(2, &[]);
        let refresh = Event::Command(SlashCommand::Refresh);
        run(BUDGETS[7].0, bench.reconcile(2, refresh, "visitor").await?);
        bench.fake.shutdown().await;

        // 50 open PRs: 10 environments past their TTL, 5 fresh.
        let bench = Bench::new(dialect).await?;
        for n in 1..=50 {
            bench.open(n, if n <= 15 { &[UP] } else { &[] });
        }
        for n in 1..=10 {
            bench.reconcile(n, Event::Look, "maxime").await?;
        }
        bench.world.clock.advance(chrono::Duration::hours(25));
        for n in 11..=15 {
            bench.reconcile(n, Event::Look, "maxime").await?;
        }
        run(BUDGETS[8].0, bench.sweep().await?);
        bench.fake.shutdown().await;

        for &n in sweep_sizes {
            let bench = Bench::new(dialect).await?;
            for i in 1..=n {
                bench.open(i, &[]);
            }
            let flow = format!("sweep of {n} open PRs, nothing to do");
            let budget = usize::try_from(n.div_ceil(100)).unwrap_or(usize::MAX) + 1;
            record(&flow, bench.sweep().await?, budget);
            bench.fake.shutdown().await;
        }
    }
    Ok(out)
}

/// The counts as a Markdown table: one row per flow, a column per dialect.
pub fn table(counts: &[FlowCount]) -> String {
    let mut out = String::from("| flow | seed | per-SHA | budget |\n|---|---|---|---|\n");
    let seed = counts.iter().filter(|c| c.dialect == Dialect::Seed);
    for c in seed {
        let per_sha = counts
            .iter()
            .find(|o| o.dialect == Dialect::PerSha && o.flow == c.flow)
            .map_or_else(|| "–".to_owned(), |o| o.requests.to_string());
        out.push_str(&format!(
            "| {} | {} | {per_sha} | ≤ {} |\n",
            c.flow, c.requests, c.budget
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flow_stays_within_its_github_budget_in_both_dialects() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let counts = runtime.block_on(measure(&[10, 250])).expect("measured");
        assert_eq!(counts.len(), 2 * (BUDGETS.len() + 2));
        for count in &counts {
            assert!(count.requests <= count.budget, "{count:?}");
            assert!(count.requests > 0 || count.budget == 0, "{count:?}");
        }
    }
}
