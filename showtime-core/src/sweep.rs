//! The sweeper: one pass over every PR with Showtime state and every
//! environment the backend manages.
//!
//! A sweep reconciles each such PR with [`Event::Sweep`] (which expires,
//! cleans up closed PRs and repairs labels, but acts on no request), destroys
//! environments whose PR no longer exists once they are older than the grace
//! period, and deletes repository definitions of per-value labels (SHAs,
//! times, addresses) that nothing carries any more. In dry-run it reports the
//! same decisions and changes nothing.

use std::collections::{BTreeMap, BTreeSet};

use crate::PrNumber;
use crate::engine::{Engine, EngineError};
use crate::labels::{is_showtime_label, reference};
use crate::plan::{Event, Plan};
use crate::ports::{EnvId, EnvInfo, PortError, PullRequest};

/// What a sweep decided, and (unless dry-run) did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Whether nothing was changed.
    pub dry_run: bool,
    /// The plans of each PR looked at (several rounds when a flow finished).
    pub prs: BTreeMap<PrNumber, Vec<Plan>>,
    /// Environments destroyed because their PR does not exist.
    pub orphans: Vec<EnvId>,
    /// Environments whose PR does not exist, kept until the grace period ends.
    pub young_orphans: Vec<EnvId>,
    /// Repository label definitions deleted (or that would be).
    pub deleted_labels: Vec<String>,
    /// PRs whose reconcile failed, with the error (the rest went on).
    pub errors: Vec<(PrNumber, String)>,
}

impl Engine {
    /// Runs one sweep pass.
    pub async fn sweep(&self, dry_run: bool) -> Result<SweepReport, EngineError> {
        let host = &self.ports().host;
        let open = self
            .retry(|| host.open_pull_requests())
            .await
            .map_err(|source| EngineError::Listing {
                what: "open PRs",
                source,
            })?;
        let managed = self
            .retry(|| self.ports().backend.list(None))
            .await
            .map_err(|source| EngineError::Listing {
                what: "environments",
                source,
            })?;

        let legacy = self.policy().codec.legacy_trigger().to_lowercase();
        let relevant = |pr: &PullRequest| {
            pr.labels
                .iter()
                .any(|l| is_showtime_label(l) || l.to_lowercase() == legacy)
        };
        let mut targets: BTreeMap<PrNumber, Option<PullRequest>> = open
            .iter()
            .filter(|pr| relevant(pr))
            .map(|pr| (pr.number, Some(pr.clone())))
            .collect();
        for env in &managed {
            targets.entry(env.id.pr).or_insert(None);
        }

        let mut report = SweepReport {
            dry_run,
            ..SweepReport::default()
        };
        let results = futures_util::future::join_all(
            targets
                .into_iter()
                .map(|(pr, read)| self.sweep_pr(pr, read, managed.clone(), dry_run)),
        )
        .await;
        for (pr, result) in results {
            match result {
                Ok(PrSweep::Plans(plans)) => {
                    report.prs.insert(pr, plans);
                }
                Ok(PrSweep::Missing) => {
                    for env in managed.iter().filter(|e| e.id.pr == pr) {
                        let old =
                            self.ports().clock.now() - env.created_at >= self.policy().orphan_grace;
                        if !old {
                            report.young_orphans.push(env.id.clone());
                            continue;
                        }
                        if !dry_run {
                            if let Err(e) =
                                self.retry(|| self.ports().backend.destroy(&env.id)).await
                            {
                                report.errors.push((pr, e.to_string()));
                                continue;
                            }
                        }
                        report.orphans.push(env.id.clone());
                    }
                }
                Err(e) => report.errors.push((pr, e.to_string())),
            }
        }
        report.deleted_labels = self.collect_label_definitions(&open, dry_run).await?;
        Ok(report)
    }

    /// Only the label part of a sweep: deletes repository definitions of
    /// per-value 🎪 labels (SHAs, times, addresses) that no PR carries any
    /// more, or in dry-run lists them. Returns their names.
    pub async fn cleanup_labels(&self, dry_run: bool) -> Result<Vec<String>, EngineError> {
        let open = self
            .retry(|| self.ports().host.open_pull_requests())
            .await
            .map_err(|source| EngineError::Listing {
                what: "open PRs",
                source,
            })?;
        self.collect_label_definitions(&open, dry_run).await
    }

    async fn sweep_pr(
        &self,
        pr: PrNumber,
        read: Option<PullRequest>,
        managed: Vec<EnvInfo>,
        dry_run: bool,
    ) -> (PrNumber, Result<PrSweep, EngineError>) {
        let read = match read {
            Some(read) => read,
            None => match self.retry(|| self.ports().host.pull_request(pr)).await {
                Ok(read) => read,
                Err(PortError::NotFound { .. }) => return (pr, Ok(PrSweep::Missing)),
                Err(source) => return (pr, Err(EngineError::Host { pr, source })),
            },
        };
        let result = if dry_run {
            self.plan_for(read, Event::Sweep, None, Some(managed))
                .await
                .map(|plan| PrSweep::Plans(vec![plan]))
        } else {
            self.reconcile_with(pr, Event::Sweep, None, Some(read), Some(managed))
                .await
                .map(|outcome| PrSweep::Plans(outcome.plans))
        };
        (pr, result)
    }

    /// Deletes definitions of per-value 🎪 labels no open PR carries; the PR
    /// host deletes only what no issue or PR (closed ones included) carries.
    async fn collect_label_definitions(
        &self,
        open: &[PullRequest],
        dry_run: bool,
    ) -> Result<Vec<String>, EngineError> {
        let host = &self.ports().host;
        let in_use: BTreeSet<String> = open
            .iter()
            .flat_map(|pr| pr.labels.iter().map(|l| l.to_lowercase()))
            .collect();
        let defined = self
            .retry(|| host.repository_labels())
            .await
            .map_err(|source| EngineError::Listing {
                what: "repository labels",
                source,
            })?;
        let mut deleted = Vec::new();
        for name in defined {
            if !is_showtime_label(&name)
                || is_static(&name)
                || in_use.contains(&name.to_lowercase())
            {
                continue;
            }
            if dry_run {
                deleted.push(name);
                continue;
            }
            match self.retry(|| host.delete_label_if_unused(&name)).await {
                Ok(true) => deleted.push(name),
                Ok(false) => {}
                Err(source) => {
                    return Err(EngineError::Listing {
                        what: "repository labels",
                        source,
                    });
                }
            }
        }
        Ok(deleted)
    }
}

enum PrSweep {
    Plans(Vec<Plan>),
    Missing,
}

/// Whether a label is one of the fixed ones every PR may reuse (triggers,
/// flags, PR-level statuses), which are kept defined.
fn is_static(name: &str) -> bool {
    let lower = name.to_lowercase();
    reference()
        .iter()
        .any(|row| !row.seed.contains('<') && row.seed.to_lowercase() == lower)
        || lower.starts_with("🎪 ⌛ ")
        || lower.starts_with("🎪 ⚙️ ")
        || lower.starts_with("🎪 🚩 ")
}
