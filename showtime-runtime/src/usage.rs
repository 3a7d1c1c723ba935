//! Usage and cost: environment-hours and estimated dollars, from the audit
//! trail and what the backend runs now.
//!
//! The trail says when each environment was deployed, resized, put to sleep,
//! woken and destroyed ([`Change`]); only awake hours count (a sleeping
//! environment runs nothing); the backend's listing adds what still runs (and
//! environments older than the trail, from their tags). [`stretches`] turns
//! both into stretches of one environment at one size; [`report`] sums them
//! by requester, PR or size over a window, priced with [`Costs`]; [`budget`]
//! projects the month for `[cost] monthly_budget_usd`.
//!
//! An environment the trail saw deployed but neither destroyed nor listed
//! any more (destroyed by hand, or by a program writing no trail) is
//! counted until its last record: the estimate errs low, never high.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use serde::Serialize;
use showtime_core::SizeName;
use showtime_core::ports::{EnvInfo, Health};

use crate::audit::{Change, Record};
use crate::cost::Costs;

/// One environment at one size, from `from` to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stretch {
    /// The environment, `pr-42-abc123f`.
    pub env: String,
    /// Its PR.
    pub pr: u64,
    /// Who asked for it, when known.
    pub requester: Option<String>,
    /// Its size (`None`: the default size).
    pub size: Option<SizeName>,
    /// When it started costing.
    pub from: DateTime<Utc>,
    /// When it stopped costing (now, for one still running).
    pub to: DateTime<Utc>,
}

impl Stretch {
    /// Hours of this stretch inside `[since, until]`.
    pub fn hours_within(&self, since: DateTime<Utc>, until: DateTime<Utc>) -> f64 {
        hours_between(self.from.max(since), self.to.min(until))
    }
}

/// Hours from `from` to `to`; none when `to` comes first.
fn hours_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    let seconds = (to - from).num_seconds().max(0);
    // Seconds of a lifetime are far below 2^52: the conversion is exact.
    #[allow(clippy::cast_precision_loss)]
    let hours = seconds as f64 / 3600.0;
    hours
}

/// The stretches the trail `records` (oldest first) and the backend's
/// `running` environments describe, up to `now`.
pub fn stretches(records: &[Record], running: &[EnvInfo], now: DateTime<Utc>) -> Vec<Stretch> {
    let mut open: BTreeMap<String, (Stretch, DateTime<Utc>)> = BTreeMap::new();
    // Environments asleep: what their next stretch will be, once woken.
    let mut asleep: BTreeMap<String, Stretch> = BTreeMap::new();
    let mut done = Vec::new();
    for record in records.iter().filter(|r| r.ok) {
        let (Some(env), Some(change), Some(pr)) = (&record.environment, record.change, record.pr)
        else {
            continue;
        };
        let size = record.size.as_deref().and_then(|s| s.parse().ok());
        match change {
            Change::Deployed => {
                // A deploy of a sleeping environment starts it again.
                if let Some(mut stretch) = asleep.remove(env) {
                    stretch.from = record.at;
                    stretch.to = record.at;
                    open.insert(env.clone(), (stretch, record.at));
                    continue;
                }
                // A deploy of what runs already (a crash's retry) changes
                // nothing.
                open.entry(env.clone()).or_insert_with(|| {
                    let stretch = Stretch {
                        env: env.clone(),
                        pr,
                        requester: record.actor.clone(),
                        size,
                        from: record.at,
                        to: record.at,
                    };
                    (stretch, record.at)
                });
            }
            Change::Configured => {
                // A resize while asleep applies from the wake on.
                if let Some(stretch) = asleep.get_mut(env) {
                    stretch.size = size;
                    continue;
                }
                if let Some((stretch, last)) = open.get_mut(env) {
                    *last = record.at;
                    if stretch.size != size {
                        let mut before = stretch.clone();
                        before.to = record.at;
                        done.push(before);
                        stretch.size = size;
                        stretch.from = record.at;
                    }
                }
            }
            Change::Destroyed => {
                asleep.remove(env);
                if let Some((mut stretch, _)) = open.remove(env) {
                    stretch.to = record.at;
                    done.push(stretch);
                }
            }
            Change::Slept => {
                if let Some((mut stretch, _)) = open.remove(env) {
                    stretch.to = record.at;
                    done.push(stretch.clone());
                    asleep.insert(env.clone(), stretch);
                }
            }
            Change::Woke => {
                if let Some(mut stretch) = asleep.remove(env) {
                    stretch.from = record.at;
                    stretch.to = record.at;
                    open.insert(env.clone(), (stretch, record.at));
                }
            }
        }
    }
    for info in running {
        let name = info.id.name();
        if info.health == Health::Asleep {
            // Asleep now: what the trail counted up to its sleep stands,
            // and nothing since (one the trail never saw sleep is counted
            // to its last record, erring low).
            asleep.remove(&name);
            if let Some((mut stretch, last)) = open.remove(&name) {
                stretch.to = last;
                done.push(stretch);
            }
            continue;
        }
        match open.remove(&name) {
            Some((mut stretch, _)) => {
                stretch.to = now;
                done.push(stretch);
            }
            // Older than the trail: its tags say since when, and for whom.
            None => done.push(Stretch {
                env: name,
                pr: info.id.pr.get(),
                requester: info.requested_by.as_ref().map(ToString::to_string),
                size: info.config.size.clone(),
                from: info.created_at,
                to: now,
            }),
        }
    }
    // Neither destroyed on the trail nor running: counted to its last record.
    done.extend(open.into_values().map(|(mut stretch, last)| {
        stretch.to = last;
        stretch
    }));
    done.sort_by(|a, b| (a.from, &a.env).cmp(&(b.from, &b.env)));
    done
}

/// How a report groups environments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum GroupBy {
    /// By who asked for them.
    #[default]
    Requester,
    /// By PR.
    Pr,
    /// By size.
    Size,
}

/// One row of a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The requester, `#42`, or the size; `unknown` when not recorded.
    pub key: String,
    /// Environments counted in it.
    pub environments: usize,
    /// Environment-hours inside the window.
    pub hours: f64,
    /// Their estimated cost in US dollars.
    pub usd: f64,
}

/// A usage and cost report over a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The window's start.
    pub since: DateTime<Utc>,
    /// The window's end (now).
    pub until: DateTime<Utc>,
    /// The rows, most expensive first.
    pub rows: Vec<Row>,
    /// All rows together.
    pub total: Row,
    /// Environment-hours whose size has no price (a size missing from
    /// `[sizes]`), counted in the hours and not in the dollars.
    pub unpriced_hours: f64,
}

/// Sums `stretches` inside `[since, until]` by `by`, priced with `costs`.
pub fn report(
    stretches: &[Stretch],
    costs: &Costs,
    by: GroupBy,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Report {
    let mut rows: BTreeMap<String, (Row, BTreeSet<&str>)> = BTreeMap::new();
    let mut counted: BTreeSet<&str> = BTreeSet::new();
    let mut unpriced_hours = 0.0;
    for stretch in stretches {
        let hours = stretch.hours_within(since, until);
        if hours <= 0.0 {
            continue;
        }
        counted.insert(&stretch.env);
        let size = stretch
            .size
            .clone()
            .or_else(|| costs.sizes.size_of(&showtime_core::Config::default()));
        let per_hour = size.as_ref().and_then(|s| costs.per_hour(s));
        if per_hour.is_none() {
            unpriced_hours += hours;
        }
        let key = match by {
            GroupBy::Requester => stretch.requester.clone(),
            GroupBy::Pr => Some(format!("#{}", stretch.pr)),
            GroupBy::Size => size.as_ref().map(ToString::to_string),
        }
        .unwrap_or_else(|| "unknown".to_owned());
        let (row, envs) = rows.entry(key.clone()).or_insert_with(|| {
            let row = Row {
                key,
                environments: 0,
                hours: 0.0,
                usd: 0.0,
            };
            (row, BTreeSet::new())
        });
        envs.insert(&stretch.env);
        row.hours += hours;
        row.usd += per_hour.unwrap_or(0.0) * hours;
    }
    let mut rows: Vec<Row> = rows
        .into_values()
        .map(|(mut row, envs)| {
            row.environments = envs.len();
            row
        })
        .collect();
    rows.sort_by(|a, b| b.usd.total_cmp(&a.usd).then_with(|| a.key.cmp(&b.key)));
    let total = Row {
        key: "total".to_owned(),
        environments: counted.len(),
        hours: rows.iter().map(|r| r.hours).sum(),
        usd: rows.iter().map(|r| r.usd).sum(),
    };
    Report {
        since,
        until,
        rows,
        total,
        unpriced_hours,
    }
}

impl Report {
    /// The report as a table for people.
    pub fn table(&self, by: GroupBy) -> String {
        let head = match by {
            GroupBy::Requester => "REQUESTER",
            GroupBy::Pr => "PR",
            GroupBy::Size => "SIZE",
        };
        let mut rows = vec![
            [head, "ENVIRONMENTS", "HOURS", "USD"]
                .map(str::to_owned)
                .to_vec(),
        ];
        for row in self.rows.iter().chain(std::iter::once(&self.total)) {
            rows.push(vec![
                crate::text::printable(&row.key),
                row.environments.to_string(),
                format!("{:.1}", row.hours),
                format!("{:.2}", row.usd),
            ]);
        }
        let mut text = format!(
            "Usage from {} to {} (UTC), estimated:\n",
            self.since.format("%Y-%m-%d %H:%M"),
            self.until.format("%Y-%m-%d %H:%M")
        );
        text.push_str(&crate::text::table(&rows, ""));
        if self.unpriced_hours > 0.0 {
            text.push_str(&format!(
                "({:.1} hours of sizes [sizes] does not list are not priced)\n",
                self.unpriced_hours
            ));
        }
        text
    }

    /// The report as CSV (`key,environments,hours,usd`, then the total).
    pub fn csv(&self) -> String {
        let mut text = String::from("key,environments,hours,usd\n");
        for row in self.rows.iter().chain(std::iter::once(&self.total)) {
            text.push_str(&format!(
                "{},{},{:.3},{:.4}\n",
                csv_field(&row.key),
                row.environments,
                row.hours,
                row.usd
            ));
        }
        text
    }
}

/// A CSV field, quoted when it must be (RFC 4180).
fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// The shares of the monthly budget a projection is warned about.
pub const THRESHOLDS: [u32; 2] = [80, 100];

/// Where the month stands against its budget.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Budget {
    /// The month, `2026-12`.
    pub month: String,
    /// The budget in US dollars, when there is one.
    pub budget_usd: Option<f64>,
    /// What the month has cost so far.
    pub so_far_usd: f64,
    /// So far, plus what runs now kept running to the month's end.
    pub projected_usd: f64,
    /// The highest of [`THRESHOLDS`] the projection reaches, in percent.
    pub reached: Option<u32>,
}

impl Budget {
    /// The action the audit trail records once a threshold was warned
    /// about, so that each is told once a month, across processes.
    pub fn warning_action(&self, threshold: u32) -> String {
        format!("budget warning: {threshold}% of {}", self.month)
    }

    /// The notice's text.
    pub fn warning_text(&self, threshold: u32) -> String {
        format!(
            "Preview environments are projected to cost ${:.2} in {} ({threshold}% or more of the \
             ${:.2} budget; ${:.2} so far). Stop the ones nobody uses, or shorten TTLs.",
            self.projected_usd,
            self.month,
            self.budget_usd.unwrap_or_default(),
            self.so_far_usd
        )
    }
}

/// The month of `now` against `budget_usd` (if any): so far from
/// `stretches`, and projected with the hourly cost of what runs now
/// (`running`, which end at `now` in the stretches) kept until the month
/// ends.
pub fn budget(
    stretches: &[Stretch],
    running: &[EnvInfo],
    costs: &Costs,
    budget_usd: Option<f64>,
    now: DateTime<Utc>,
) -> Budget {
    let start = Utc
        .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(now);
    let next = if now.month() == 12 {
        Utc.with_ymd_and_hms(now.year() + 1, 1, 1, 0, 0, 0)
    } else {
        Utc.with_ymd_and_hms(now.year(), now.month() + 1, 1, 0, 0, 0)
    }
    .single()
    .unwrap_or(now + Duration::days(31));
    let so_far = report(stretches, costs, GroupBy::Pr, start, now).total.usd;
    // What sleeps now costs nothing until someone wakes it.
    let per_hour: f64 = running
        .iter()
        .filter(|env| env.health != Health::Asleep)
        .filter_map(|env| {
            let size = env
                .config
                .size
                .clone()
                .or_else(|| costs.sizes.size_of(&env.config))?;
            costs.per_hour(&size)
        })
        .sum();
    let projected = so_far + per_hour * hours_between(now, next);
    let share = budget_usd.map(|budget| match budget > 0.0 {
        true => projected / budget * 100.0,
        false => f64::INFINITY,
    });
    Budget {
        month: now.format("%Y-%m").to_string(),
        budget_usd,
        so_far_usd: so_far,
        projected_usd: projected,
        reached: share.and_then(|share| {
            THRESHOLDS
                .iter()
                .rev()
                .copied()
                .find(|t| share >= f64::from(*t))
        }),
    }
}

/// Why the budget could not be checked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// The audit trail could not be read or written.
    #[error("audit trail {path}: {source}")]
    Trail {
        /// The trail.
        path: std::path::PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The backend could not list its environments.
    #[error("cannot list the environments: {0}")]
    Listing(showtime_core::ports::PortError),
}

/// After a sweep: projects the month against `budget_usd` and, for each of
/// [`THRESHOLDS`] the projection reaches that the trail at `trail` has no
/// warning of this month for, tells the engine's notifier and records the
/// warning in `sink` (so that each is told once a month, whatever process
/// sweeps; a notifier that failed is tried again at the next sweep).
/// Returns where the month stands.
pub async fn check_budget(
    engine: &showtime_core::engine::Engine,
    trail: &std::path::Path,
    sink: &dyn crate::audit::Sink,
    costs: &Costs,
    budget_usd: f64,
    program: &str,
) -> Result<Budget, UsageError> {
    let trail_error = |source| UsageError::Trail {
        path: trail.to_owned(),
        source,
    };
    let now = engine.ports().clock.now();
    let (records, _) = crate::audit::read(trail).map_err(trail_error)?;
    let running = engine
        .ports()
        .backend
        .list(None)
        .await
        .map_err(UsageError::Listing)?;
    let month = budget(
        &stretches(&records, &running, now),
        &running,
        costs,
        Some(budget_usd),
        now,
    );
    let Some(reached) = month.reached else {
        return Ok(month);
    };
    for threshold in THRESHOLDS.into_iter().filter(|t| *t <= reached) {
        let action = month.warning_action(threshold);
        if records.iter().any(|r| r.ok && r.action == action) {
            continue;
        }
        let text = month.warning_text(threshold);
        let result = match &engine.ports().notifier {
            Some(notifier) => notifier
                .notify(&showtime_core::ports::Notice {
                    pr: None,
                    text: text.clone(),
                })
                .await
                .map_err(|e| e.to_string()),
            // Nobody else to tell: the sweeper prints it.
            None => Ok(()),
        };
        let record = Record {
            at: now,
            program: program.to_owned(),
            pr: None,
            actor: None,
            sha: None,
            reason: text,
            action,
            ok: result.is_ok(),
            error: result.err(),
            environment: None,
            change: None,
            size: None,
        };
        sink.write(&[record]).map_err(trail_error)?;
    }
    Ok(month)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use showtime_core::ports::{EnvId, Health};

    fn at(hour: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 10, 0, 0, 0).unwrap() + Duration::hours(hour)
    }

    fn record(hour: i64, env: &str, change: Change, size: Option<&str>, actor: &str) -> Record {
        let pr = env.split('-').nth(1).unwrap().parse().unwrap();
        Record {
            at: at(hour),
            program: "showtime".into(),
            pr: Some(pr),
            actor: Some(actor.into()),
            sha: None,
            reason: "test".into(),
            action: format!("{change:?} {env}"),
            ok: true,
            error: None,
            environment: Some(env.into()),
            change: Some(change),
            size: size.map(str::to_owned),
        }
    }

    fn running(env: &str, since: i64, size: Option<&str>) -> EnvInfo {
        let mut parts = env.split('-').skip(1);
        let pr = showtime_core::PrNumber::new(parts.next().unwrap().parse().unwrap()).unwrap();
        let sha = parts.next().unwrap().parse().unwrap();
        EnvInfo {
            id: EnvId { pr, sha },
            health: Health::Healthy,
            address: None,
            created_at: at(since),
            requested_by: Some("carol".parse().unwrap()),
            config: showtime_core::Config {
                size: size.map(|s| s.parse().unwrap()),
                ..Default::default()
            },
        }
    }

    #[test]
    fn only_awake_hours_count() {
        let records = [
            record(0, "pr-1-aaaaaaa", Change::Deployed, None, "alice"),
            record(8, "pr-1-aaaaaaa", Change::Slept, None, "alice"),
            record(20, "pr-1-aaaaaaa", Change::Woke, None, "alice"),
            record(22, "pr-1-aaaaaaa", Change::Destroyed, None, "alice"),
            // Asleep from 4 until destroyed at 30: 4 hours.
            record(0, "pr-2-bbbbbbb", Change::Deployed, None, "bob"),
            record(4, "pr-2-bbbbbbb", Change::Slept, None, "bob"),
            record(30, "pr-2-bbbbbbb", Change::Destroyed, None, "bob"),
            // Asleep since 10 and listed asleep now: 10 hours.
            record(0, "pr-3-ccccccc", Change::Deployed, None, "carol"),
            record(10, "pr-3-ccccccc", Change::Slept, None, "carol"),
            // Woken at 30 and running now: 1 + (40 - 30) hours.
            record(0, "pr-4-ddddddd", Change::Deployed, None, "dave"),
            record(1, "pr-4-ddddddd", Change::Slept, None, "dave"),
            record(30, "pr-4-ddddddd", Change::Woke, None, "dave"),
        ];
        let mut sleeping = running("pr-3-ccccccc", 0, None);
        sleeping.health = Health::Asleep;
        let live = [sleeping, running("pr-4-ddddddd", 0, None)];
        let now = at(40);
        let mut hours: BTreeMap<String, f64> = BTreeMap::new();
        for s in stretches(&records, &live, now) {
            *hours.entry(s.env.clone()).or_default() += s.hours_within(at(-100), now);
        }
        let hours: Vec<(&str, f64)> = hours.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(
            hours,
            [
                ("pr-1-aaaaaaa", 10.0),
                ("pr-2-bbbbbbb", 4.0),
                ("pr-3-ccccccc", 10.0),
                ("pr-4-ddddddd", 11.0),
            ]
        );
        let costs = Costs::default();
        let r = report(
            &stretches(&records, &live, now),
            &costs,
            GroupBy::Pr,
            at(-100),
            now,
        );
        assert_eq!(r.total.hours, 35.0);
    }

    #[test]
    fn lives_come_from_deploys_resizes_destroys_and_what_still_runs() {
        let records = [
            record(0, "pr-1-aaaaaaa", Change::Deployed, None, "alice"),
            record(
                10,
                "pr-1-aaaaaaa",
                Change::Configured,
                Some("large"),
                "alice",
            ),
            record(12, "pr-1-aaaaaaa", Change::Destroyed, None, "alice"),
            record(2, "pr-2-bbbbbbb", Change::Deployed, Some("small"), "bob"),
            record(3, "pr-3-ccccccc", Change::Deployed, None, "bob"),
        ];
        let now = at(24);
        let live = [
            running("pr-2-bbbbbbb", 2, Some("small")),
            running("pr-4-ddddddd", 20, None),
        ];
        let s = stretches(&records, &live, now);
        let hours: Vec<(String, f64)> = s
            .iter()
            .map(|s| (s.env.clone(), s.hours_within(at(-100), now)))
            .collect();
        assert_eq!(
            hours,
            [
                ("pr-1-aaaaaaa".to_owned(), 10.0),
                ("pr-2-bbbbbbb".to_owned(), 22.0),
                // Neither destroyed on the trail nor running: to its record.
                ("pr-3-ccccccc".to_owned(), 0.0),
                ("pr-1-aaaaaaa".to_owned(), 2.0),
                // Older than the trail: from its tags.
                ("pr-4-ddddddd".to_owned(), 4.0),
            ]
        );
        assert_eq!(s[3].size, Some("large".parse().unwrap()));
        assert_eq!(s[4].requester.as_deref(), Some("carol"));
    }

    #[test]
    fn a_report_prices_hours_by_size_and_groups_them() {
        let records = [
            record(0, "pr-1-aaaaaaa", Change::Deployed, None, "alice"),
            record(10, "pr-1-aaaaaaa", Change::Destroyed, None, "alice"),
            record(0, "pr-2-bbbbbbb", Change::Deployed, Some("large"), "bob"),
            record(5, "pr-2-bbbbbbb", Change::Destroyed, None, "bob"),
        ];
        let s = stretches(&records, &[], at(24));
        let costs = Costs::default();
        let by_requester = report(&s, &costs, GroupBy::Requester, at(-1), at(24));
        // medium: 1 vCPU + 2 GB; large: 2 vCPU + 4 GB, on-demand us-east-1.
        let medium = 0.04048 + 2.0 * 0.004445;
        let large = 2.0 * 0.04048 + 4.0 * 0.004445;
        assert_eq!(by_requester.rows.len(), 2);
        assert_eq!(by_requester.rows[0].key, "alice");
        assert!((by_requester.rows[0].usd - 10.0 * medium).abs() < 1e-9);
        assert!((by_requester.rows[1].usd - 5.0 * large).abs() < 1e-9);
        assert!((by_requester.total.hours - 15.0).abs() < 1e-9);
        assert_eq!(by_requester.total.environments, 2);
        // A window clips: the last two hours of #1 only.
        let late = report(&s, &costs, GroupBy::Pr, at(8), at(24));
        assert_eq!(late.rows.len(), 1);
        assert!((late.total.hours - 2.0).abs() < 1e-9);
        let csv = by_requester.csv();
        assert!(
            csv.starts_with("key,environments,hours,usd\nalice,1,10.000,"),
            "{csv}"
        );
        assert!(csv.contains("\ntotal,2,15.000,"), "{csv}");
    }

    #[test]
    fn the_month_is_projected_with_what_runs_now() {
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap();
        let live = [running("pr-1-aaaaaaa", 0, None)];
        let s = stretches(&[], &live, now);
        let costs = Costs::default();
        let medium = 0.04048 + 2.0 * 0.004445;
        // Since Nov 10 00:00 (its tags): 20 days so far, 1 day to go.
        let b = budget(&s, &live, &costs, Some(25.0), now);
        assert_eq!(b.month, "2026-11");
        assert!((b.so_far_usd - 480.0 * medium).abs() < 1e-9);
        assert!((b.projected_usd - 504.0 * medium).abs() < 1e-9);
        assert_eq!(b.reached, Some(80), "{b:?}");
        assert_eq!(
            budget(&s, &live, &costs, Some(20.0), now).reached,
            Some(100)
        );
        assert_eq!(budget(&s, &live, &costs, Some(100.0), now).reached, None);
        assert_eq!(budget(&s, &live, &costs, None, now).reached, None);
        assert_eq!(b.warning_action(80), "budget warning: 80% of 2026-11");
    }
}
