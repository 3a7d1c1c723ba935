//! What the dashboard shows: one [`Row`] per environment, read from the open
//! PRs' labels and the backend's listing together, kept for a short while by
//! [`Cache`] so that every viewer and poll within that time costs no GitHub
//! request; and the filters and sort orders of a [`View`].
//!
//! It renders nothing and changes nothing: pages are [`super::page`]'s,
//! actions go through the engine in the dashboard's routes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use showtime_core::engine::Engine;
use showtime_core::ports::{EnvId, EnvInfo, Health, PortError};
use showtime_core::{Address, Config, Login, PrNumber, ShortSha, SizeName, Status, Ttl};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::cost::Costs;
use crate::usage::{self, Budget};

/// One environment, as labels and the backend describe it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The PR it serves.
    pub pr: PrNumber,
    /// The PR's title; `None` when no open PR describes the environment.
    pub title: Option<String>,
    /// The commit it runs.
    pub sha: ShortSha,
    /// Whether it receives the PR's traffic (`🎯`).
    pub active: bool,
    /// Its status label; `None` when the backend runs it but no label of an
    /// open PR describes it (a closed PR's, or an orphan: the next sweep
    /// removes it).
    pub status: Option<Status>,
    /// How the backend sees it; `None` when the backend does not list it.
    pub health: Option<Health>,
    /// Where it answers.
    pub address: Option<Address>,
    /// Who asked for it.
    pub requester: Option<Login>,
    /// When it was created.
    pub created_at: Option<DateTime<Utc>>,
    /// Its PR's TTL (the policy's default when no label sets one).
    pub ttl: Option<Ttl>,
    /// When the TTL ends, if it ends by time.
    pub expires_at: Option<DateTime<Utc>>,
    /// The configuration it runs with (the backend's when listed).
    pub config: Config,
    /// Its size: the configuration's, else the default.
    pub size: Option<SizeName>,
    /// What an hour of it costs, in US dollars, when the backend runs it
    /// and its size is priced.
    pub per_hour: Option<f64>,
}

impl Row {
    /// The status word: the label's, or `untracked`.
    pub fn status_word(&self) -> &'static str {
        self.status.map_or(UNTRACKED, Status::as_str)
    }
}

/// The status word of an environment no label describes.
pub const UNTRACKED: &str = "untracked";

/// Every environment at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// The environments, by PR then commit.
    pub rows: Vec<Row>,
    /// Everyone who asked for one, sorted.
    pub requesters: Vec<Login>,
    /// The month's cost so far and projected, when the audit trail is known.
    pub month: Option<Budget>,
}

/// Where the month's figures come from: the audit trail, and the budget.
#[derive(Debug, Clone, PartialEq)]
pub struct MonthSource {
    /// The audit trail (`[audit] path`).
    pub trail: PathBuf,
    /// `[cost] monthly_budget_usd`.
    pub budget_usd: Option<f64>,
}

/// Reads every environment: the open PRs with their labels (one listing,
/// 100 PRs a request) and the backend's environments; with `month`, the
/// month's cost from the audit trail too (no request).
pub async fn read(
    engine: &Engine,
    costs: &Costs,
    month: Option<&MonthSource>,
) -> Result<Snapshot, PortError> {
    let ports = engine.ports();
    let (prs, envs) = tokio::join!(ports.host.open_pull_requests(), ports.backend.list(None));
    let (prs, envs) = (prs?, envs?);
    let month = match month {
        Some(source) => month_of(source, &envs, costs, ports.clock.now()).await,
        None => None,
    };
    let policy = engine.policy();
    let mut listed: BTreeMap<EnvId, EnvInfo> =
        envs.into_iter().map(|env| (env.id.clone(), env)).collect();
    let mut rows = Vec::new();
    for pr in prs {
        let labels = policy.codec.parse(&pr.labels);
        let ttl = labels.ttl.unwrap_or(policy.default_ttl);
        for (sha, env) in &labels.environments {
            let id = EnvId {
                pr: pr.number,
                sha: sha.clone(),
            };
            let backend = listed.remove(&id);
            let created_at = env
                .created_at
                .map(|t| t.as_datetime())
                .or_else(|| backend.as_ref().map(|b| b.created_at));
            let config = backend
                .as_ref()
                .map_or_else(|| labels.config.clone(), |b| b.config.clone());
            rows.push(Row {
                pr: pr.number,
                title: Some(pr.title.clone()),
                sha: sha.clone(),
                active: labels.active.as_ref() == Some(sha),
                status: env.status,
                health: backend.as_ref().map(|b| b.health.clone()),
                address: env.address.or(backend.as_ref().and_then(|b| b.address)),
                requester: env
                    .requested_by
                    .as_ref()
                    .map(|r| r.login().clone())
                    .or_else(|| backend.as_ref().and_then(|b| b.requested_by.clone())),
                created_at,
                ttl: Some(ttl),
                expires_at: created_at.and_then(|at| ttl.expires_at(at)),
                size: None,
                per_hour: None,
                config,
            });
        }
    }
    // What the backend runs that no open PR's labels describe.
    for env in listed.into_values() {
        rows.push(Row {
            pr: env.id.pr,
            title: None,
            sha: env.id.sha,
            active: false,
            status: None,
            health: Some(env.health),
            address: env.address,
            requester: env.requested_by,
            created_at: Some(env.created_at),
            ttl: None,
            expires_at: None,
            config: env.config,
            size: None,
            per_hour: None,
        });
    }
    for row in &mut rows {
        row.size = costs.sizes.size_of(&row.config);
        row.per_hour = match (&row.health, &row.size) {
            (Some(_), Some(size)) => costs.per_hour(size),
            _ => None,
        };
    }
    rows.sort_by(|a, b| (a.pr, &a.sha).cmp(&(b.pr, &b.sha)));
    let requesters: BTreeSet<Login> = rows.iter().filter_map(|r| r.requester.clone()).collect();
    Ok(Snapshot {
        rows,
        requesters: requesters.into_iter().collect(),
        month,
    })
}

/// The month's figures; `None` when the trail cannot be read (the page
/// shows the environments all the same).
async fn month_of(
    source: &MonthSource,
    running: &[EnvInfo],
    costs: &Costs,
    now: DateTime<Utc>,
) -> Option<Budget> {
    let trail = source.trail.clone();
    let records = tokio::task::spawn_blocking(move || crate::audit::read(&trail))
        .await
        .ok()?
        .ok()?
        .0;
    let stretches = usage::stretches(&records, running, now);
    Some(usage::budget(
        &stretches,
        running,
        costs,
        source.budget_usd,
        now,
    ))
}

/// What [`Cache::get`] gives: the snapshot, and why it may be old.
#[derive(Debug, Clone)]
pub struct Reading {
    /// The latest snapshot read (empty before the first good read).
    pub snapshot: Arc<Snapshot>,
    /// Why the last read failed, when it did: the snapshot is older then.
    pub problem: Option<String>,
}

/// The latest snapshot, reused for `ttl`: readers within that time share one
/// read, and a failed read is not retried sooner either (a rate-limited
/// GitHub is not asked again at every poll).
pub struct Cache {
    ttl: Duration,
    slot: Mutex<Option<(Instant, Reading)>>,
}

impl Cache {
    /// A cache keeping each reading for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Cache {
            ttl,
            slot: Mutex::new(None),
        }
    }

    /// The current reading: the kept one while it is younger than the TTL,
    /// else a new read (one at a time: concurrent callers wait for it).
    pub async fn get(
        &self,
        engine: &Engine,
        costs: &Costs,
        month: Option<&MonthSource>,
    ) -> Reading {
        let mut slot = self.slot.lock().await;
        if let Some((at, reading)) = slot.as_ref()
            && at.elapsed() < self.ttl
        {
            return reading.clone();
        }
        let reading = match read(engine, costs, month).await {
            Ok(snapshot) => Reading {
                snapshot: Arc::new(snapshot),
                problem: None,
            },
            Err(e) => Reading {
                snapshot: slot
                    .as_ref()
                    .map(|(_, old)| old.snapshot.clone())
                    .unwrap_or_default(),
                problem: Some(format!("listing the environments failed: {e}")),
            },
        };
        *slot = Some((Instant::now(), reading.clone()));
        reading
    }

    /// Forgets the reading, so the next [`Cache::get`] reads again (after an
    /// action changed something).
    pub async fn invalidate(&self) {
        *self.slot.lock().await = None;
    }
}

/// The order of the rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sort {
    /// Youngest first.
    #[default]
    Newest,
    /// Oldest first.
    Oldest,
    /// The soonest to expire first; those that never expire by time last.
    Expiry,
}

impl Sort {
    /// Every order, as the page offers them.
    pub const ALL: [Sort; 3] = [Sort::Newest, Sort::Oldest, Sort::Expiry];

    /// The query parameter's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Newest => "newest",
            Sort::Oldest => "oldest",
            Sort::Expiry => "expiry",
        }
    }

    /// What the page calls it.
    pub fn label(self) -> &'static str {
        match self {
            Sort::Newest => "Newest first",
            Sort::Oldest => "Oldest first",
            Sort::Expiry => "Expiring first",
        }
    }
}

/// Which rows, in which order: the page's query parameters `requester`,
/// `status` and `sort`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    /// Only this requester's environments.
    pub requester: Option<Login>,
    /// Only environments with this status word (a [`Status`] or
    /// [`UNTRACKED`]).
    pub status: Option<&'static str>,
    /// The order.
    pub sort: Sort,
}

impl View {
    /// Reads the query parameters; a value that does not parse is ignored
    /// (the page then shows everything), never an error.
    pub fn from_query(query: &BTreeMap<String, String>) -> Self {
        let given = |key: &str| query.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
        let status = given("status").and_then(|word| {
            Status::ALL
                .into_iter()
                .map(Status::as_str)
                .chain([UNTRACKED])
                .find(|known| *known == word)
        });
        View {
            requester: given("requester").and_then(|login| login.parse().ok()),
            status,
            sort: given("sort")
                .and_then(|word| Sort::ALL.into_iter().find(|s| s.as_str() == word))
                .unwrap_or_default(),
        }
    }

    /// The query string of this view (`requester=a&sort=expiry`), empty for
    /// the default view.
    pub fn query(&self) -> String {
        let mut pairs = Vec::new();
        if let Some(login) = &self.requester {
            pairs.push(format!("requester={login}"));
        }
        if let Some(status) = self.status {
            pairs.push(format!("status={status}"));
        }
        if self.sort != Sort::default() {
            pairs.push(format!("sort={}", self.sort.as_str()));
        }
        pairs.join("&")
    }

    /// The rows of `snapshot` this view shows, in its order.
    pub fn select<'a>(&self, snapshot: &'a Snapshot) -> Vec<&'a Row> {
        let mut rows: Vec<&Row> = snapshot
            .rows
            .iter()
            .filter(|row| self.requester.is_none() || row.requester == self.requester)
            .filter(|row| self.status.is_none_or(|word| row.status_word() == word))
            .collect();
        fn key<'r>(row: &&'r Row) -> (PrNumber, &'r ShortSha) {
            (row.pr, &row.sha)
        }
        match self.sort {
            Sort::Newest => rows.sort_by(|a, b| {
                b.created_at
                    .cmp(&a.created_at)
                    .then_with(|| key(a).cmp(&key(b)))
            }),
            Sort::Oldest => rows.sort_by(|a, b| {
                // Unknown creation times last.
                (a.created_at.is_none(), a.created_at)
                    .cmp(&(b.created_at.is_none(), b.created_at))
                    .then_with(|| key(a).cmp(&key(b)))
            }),
            Sort::Expiry => rows.sort_by(|a, b| {
                (a.expires_at.is_none(), a.expires_at)
                    .cmp(&(b.expires_at.is_none(), b.expires_at))
                    .then_with(|| key(a).cmp(&key(b)))
            }),
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use showtime_core::plan::Event;
    use showtime_core::ports::Permission;
    use showtime_core::testing::World;

    async fn world_with_two() -> World {
        let world = World::new();
        world.host.set_permission("alice", Permission::Write);
        world.host.set_permission("bob", Permission::Write);
        for (n, sha, who) in [(1, "aaaaaaa1", "alice"), (2, "bbbbbbb2", "bob")] {
            let pr = world.open_pr(n, sha, who, &["🎪 ⚡ showtime-trigger-start"]);
            world
                .engine()
                .reconcile(pr, Event::Look, Some(who.parse().unwrap()))
                .await
                .unwrap();
            world.clock.advance(chrono::Duration::hours(1));
        }
        world
    }

    #[tokio::test]
    async fn rows_join_labels_and_the_backend() {
        let world = world_with_two().await;
        // An environment no label describes (its PR was closed by hand).
        let orphan = EnvInfo {
            id: EnvId::parse_name("pr-9-ccccccc").unwrap(),
            health: Health::Healthy,
            address: None,
            created_at: world.clock.now_for_tests(),
            requested_by: None,
            config: Config::default(),
        };
        world.backend.insert(orphan);
        let snapshot = read(&world.engine(), &Costs::default(), None)
            .await
            .unwrap();
        let words: Vec<(u64, &str, bool)> = snapshot
            .rows
            .iter()
            .map(|r| (r.pr.get(), r.status_word(), r.active))
            .collect();
        assert_eq!(
            words,
            [
                (1, "running", true),
                (2, "running", true),
                (9, UNTRACKED, false)
            ]
        );
        let first = &snapshot.rows[0];
        assert_eq!(first.title.as_deref(), Some("PR #1"));
        assert_eq!(snapshot.rows[2].title, None, "no open PR names an orphan");
        assert_eq!(first.requester.as_ref().map(Login::as_str), Some("alice"));
        assert_eq!(first.health, Some(Health::Healthy));
        assert!(first.address.is_some());
        assert_eq!(first.ttl, Some(Ttl::DAY));
        assert_eq!(
            first.expires_at,
            first.created_at.map(|c| c + chrono::Duration::hours(24))
        );
        assert_eq!(first.size.as_ref().map(SizeName::as_str), Some("medium"));
        assert!(first.per_hour.is_some());
        assert_eq!(snapshot.requesters.len(), 2);
    }

    #[tokio::test]
    async fn views_filter_and_sort() {
        let world = world_with_two().await;
        let snapshot = read(&world.engine(), &Costs::default(), None)
            .await
            .unwrap();
        let prs = |view: &View| -> Vec<u64> {
            view.select(&snapshot).iter().map(|r| r.pr.get()).collect()
        };
        let query = |pairs: &[(&str, &str)]| {
            View::from_query(
                &pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            )
        };
        assert_eq!(prs(&query(&[])), [2, 1]);
        assert_eq!(prs(&query(&[("sort", "oldest")])), [1, 2]);
        assert_eq!(prs(&query(&[("sort", "expiry")])), [1, 2]);
        assert_eq!(prs(&query(&[("requester", "bob")])), [2]);
        assert_eq!(prs(&query(&[("status", "failed")])), Vec::<u64>::new());
        // Nonsense is ignored, not an error.
        let lenient = query(&[("status", "<b>"), ("sort", "x"), ("requester", "-")]);
        assert_eq!(lenient, View::default());
        assert_eq!(
            query(&[("requester", "bob"), ("sort", "expiry")]).query(),
            "requester=bob&sort=expiry"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_cache_reads_once_per_ttl() {
        let world = world_with_two().await;
        let engine = world.engine();
        let cache = Cache::new(Duration::from_secs(15));
        world.host.reset_counts();
        for _ in 0..5 {
            assert_eq!(
                cache
                    .get(&engine, &Costs::default(), None)
                    .await
                    .snapshot
                    .rows
                    .len(),
                2
            );
        }
        assert_eq!(world.host.total_calls(), 1);
        tokio::time::advance(Duration::from_secs(16)).await;
        cache.get(&engine, &Costs::default(), None).await;
        assert_eq!(world.host.total_calls(), 2);
        cache.invalidate().await;
        cache.get(&engine, &Costs::default(), None).await;
        assert_eq!(world.host.total_calls(), 3);
    }
}
