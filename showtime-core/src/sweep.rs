//! The sweeper: one pass over every PR with Showtime state and every
//! environment the backend manages.
//!
//! The engine lists what the PR host and the backend have, and the planner
//! decides the pass ([`plan::sweep`](crate::plan::sweep)): each PR with
//! Showtime state is reconciled with [`Event::Sweep`] (which expires, cleans
//! up closed PRs and repairs labels, but acts on no request), environments
//! whose PR no longer exists are destroyed once older than the grace period,
//! and repository definitions of per-value labels (SHAs, times, addresses)
//! that nothing carries any more are deleted. This module only carries the
//! [`SweepPlan`] out; in dry-run it reports the same decisions and changes
//! nothing.

use futures_util::StreamExt;
use std::collections::{BTreeMap, HashMap};

use crate::PrNumber;
use crate::engine::{AuditEvent, Engine, EngineError, EnvChange, ReconcileOptions};
use crate::plan::{
    Event, Plan, Step, SweepObservation, SweepPlan, sweep, sweep_reads, unused_label_definitions,
};
use crate::ports::{EnvId, EnvInfo, PortError, PullRequest};

/// What a sweep decided, and (unless dry-run) did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Whether nothing was changed.
    pub dry_run: bool,
    /// What the planner decided for the pass.
    pub plan: SweepPlan,
    /// The plans of each PR looked at (several rounds when a flow finished).
    pub prs: BTreeMap<PrNumber, Vec<Plan>>,
    /// Environments destroyed because their PR does not exist.
    pub orphans: Vec<EnvId>,
    /// Environments whose PR does not exist, kept until the grace period ends.
    pub young_orphans: Vec<EnvId>,
    /// Repository label definitions deleted (or that would be).
    pub deleted_labels: Vec<String>,
    /// Every mutation of the pass, in order: each PR's reconcile, then the
    /// orphans' destroys (the label definitions deleted are
    /// [`SweepReport::deleted_labels`], which concern no PR). Empty in a
    /// dry run.
    pub audit: Vec<AuditEvent>,
    /// PRs whose reconcile failed, with the error (the rest went on).
    pub errors: Vec<(PrNumber, String)>,
    /// PRs whose reconcile ran out of rounds before converging
    /// ([`Outcome::out_of_rounds`](crate::engine::Outcome::out_of_rounds)).
    pub out_of_rounds: Vec<PrNumber>,
}

/// What one PR's sweep did.
struct Swept {
    plans: Vec<Plan>,
    audit: Vec<AuditEvent>,
    out_of_rounds: bool,
    /// Its labels afterwards, as far as the run knows.
    labels: Vec<String>,
}

impl Engine {
    /// Runs one sweep pass.
    pub async fn sweep(&self, dry_run: bool) -> Result<SweepReport, EngineError> {
        let mut report = SweepReport {
            dry_run,
            ..SweepReport::default()
        };
        let open = self.open_pull_requests().await?;
        let environments = self
            .retry(|| self.ports().backend.list(None))
            .await
            .map_err(EngineError::listing("environments"))?;
        let reads =
            futures_util::future::join_all(sweep_reads(&open, &environments).into_iter().map(
                |pr| async move { (pr, self.retry(|| self.ports().host.pull_request(pr)).await) },
            ))
            .await;
        let mut read = BTreeMap::new();
        for (pr, result) in reads {
            match result {
                Ok(pr_read) => {
                    read.insert(pr, Some(pr_read));
                }
                Err(PortError::NotFound { .. }) => {
                    read.insert(pr, None);
                }
                Err(source) => report
                    .errors
                    .push((pr, EngineError::Host { pr, source }.to_string())),
            }
        }
        let obs = SweepObservation {
            open,
            environments,
            read,
        };
        let mut plan = sweep(&obs, self.policy(), self.ports().clock.now());
        // The open PRs as this pass leaves them, for the label clean-up.
        let mut open_now = obs.open.clone();

        let mut known: HashMap<PrNumber, PullRequest> = obs
            .open
            .into_iter()
            .chain(obs.read.into_values().flatten())
            .map(|pr| (pr.number, pr))
            .collect();
        // At most `max_concurrent` PRs at once, in order: the engine itself
        // has no limit of its own (a program's queue has the other one).
        let reconciles: Vec<_> = plan
            .reconcile
            .iter()
            .map(|pr| {
                let read = known.remove(pr);
                self.sweep_pr(*pr, read, obs.environments.clone(), dry_run)
            })
            .collect();
        let results: Vec<_> = futures_util::stream::iter(reconciles)
            .buffered(self.policy().max_concurrent.max(1))
            .collect()
            .await;
        for (pr, result) in plan.reconcile.iter().zip(results) {
            match result {
                Ok(swept) => {
                    if swept.out_of_rounds {
                        report.out_of_rounds.push(*pr);
                    }
                    if let Some(open) = open_now.iter_mut().find(|o| o.number == *pr) {
                        open.labels = swept.labels;
                    }
                    report.audit.extend(swept.audit);
                    report.prs.insert(*pr, swept.plans);
                }
                Err(e) => report.errors.push((*pr, e.to_string())),
            }
        }
        for id in &plan.destroy {
            if !dry_run {
                let result = self.retry(|| self.ports().backend.destroy(id)).await;
                let step = Step::Destroy(id.clone());
                report.audit.push(AuditEvent {
                    pr: id.pr,
                    actor: None,
                    sha: Some(id.sha.clone()),
                    action: format!("{step} (orphan: its PR is gone)"),
                    result: result.clone().map_err(|e| e.to_string()),
                    change: EnvChange::of(&step),
                });
                if let Err(e) = result {
                    report.errors.push((id.pr, e.to_string()));
                    continue;
                }
            }
            report.orphans.push(id.clone());
        }
        report.young_orphans = plan.spare.clone();
        // After the teardowns, so that the definitions they freed go in
        // this pass rather than the next.
        let definitions = self.repository_labels().await?;
        plan.delete_labels = unused_label_definitions(&open_now, &definitions);
        report.deleted_labels = self.delete_labels(&plan.delete_labels, dry_run).await?;
        report.plan = plan;
        Ok(report)
    }

    /// Only the label part of a sweep: deletes repository definitions of
    /// per-value 🎪 labels (SHAs, times, addresses) that no PR carries any
    /// more, or in dry-run lists them. Returns their names.
    pub async fn cleanup_labels(&self, dry_run: bool) -> Result<Vec<String>, EngineError> {
        let open = self.open_pull_requests().await?;
        let definitions = self.repository_labels().await?;
        let unused = unused_label_definitions(&open, &definitions);
        self.delete_labels(&unused, dry_run).await
    }

    async fn open_pull_requests(&self) -> Result<Vec<PullRequest>, EngineError> {
        self.retry(|| self.ports().host.open_pull_requests())
            .await
            .map_err(EngineError::listing("open PRs"))
    }

    async fn repository_labels(&self) -> Result<Vec<String>, EngineError> {
        self.retry(|| self.ports().host.repository_labels())
            .await
            .map_err(EngineError::listing("repository labels"))
    }

    /// One PR's sweep, carried out or in dry-run only planned.
    async fn sweep_pr(
        &self,
        pr: PrNumber,
        read: Option<PullRequest>,
        environments: Vec<EnvInfo>,
        dry_run: bool,
    ) -> Result<Swept, EngineError> {
        let read = read.ok_or_else(|| EngineError::Plan {
            pr,
            message: "the sweep plan names a PR that was not read".to_owned(),
        })?;
        if dry_run {
            let labels = read.labels.clone();
            return self
                .plan_for(read, Event::Sweep, None, Some(environments))
                .await
                .map(|plan| Swept {
                    plans: vec![plan],
                    audit: Vec::new(),
                    out_of_rounds: false,
                    labels,
                });
        }
        let options = ReconcileOptions::new().read(read).backend(environments);
        self.reconcile_with(pr, Event::Sweep, options)
            .await
            .map(|outcome| Swept {
                plans: outcome.plans,
                audit: outcome.audit,
                out_of_rounds: outcome.out_of_rounds,
                labels: outcome.labels,
            })
    }

    /// Deletes the label definitions `names` that nothing carries (the PR
    /// host checks), or in dry-run names them all; returns what was deleted.
    async fn delete_labels(
        &self,
        names: &[String],
        dry_run: bool,
    ) -> Result<Vec<String>, EngineError> {
        if dry_run {
            return Ok(names.to_vec());
        }
        if names.is_empty() {
            return Ok(Vec::new());
        }
        // Which are still attached anywhere, asked in bulk, then the unused
        // ones deleted in bulk.
        let in_use = self
            .retry(|| self.ports().host.labels_in_use(names))
            .await
            .map_err(EngineError::listing("repository labels"))?;
        let deleted: Vec<String> = names
            .iter()
            .filter(|n| !in_use.contains(*n))
            .cloned()
            .collect();
        if !deleted.is_empty() {
            self.retry(|| self.ports().host.delete_labels(&deleted))
                .await
                .map_err(EngineError::listing("repository labels"))?;
        }
        Ok(deleted)
    }
}
