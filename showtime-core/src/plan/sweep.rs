//! The sweep's decisions: which PRs a sweep reconciles, which environments
//! of PRs that no longer exist it destroys, and which label definitions it
//! deletes. Pure like the rest of the planner; the engine carries out the
//! [`SweepPlan`] and decides nothing of its own.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Utc};

use crate::PrNumber;
use crate::labels::{is_showtime_label, reference};
use crate::policy::Policy;
use crate::ports::{EnvId, EnvInfo, PullRequest};

/// What a sweep looks at.
#[derive(Debug, Clone, Default)]
pub struct SweepObservation {
    /// Every open PR, with its labels.
    pub open: Vec<PullRequest>,
    /// Every environment the backend manages.
    pub environments: Vec<EnvInfo>,
    /// The PRs [`sweep_reads`] names, each as one read returned it: `None`
    /// when the PR host has no such PR. A PR whose read failed is left out,
    /// and the sweep leaves it alone.
    pub read: BTreeMap<PrNumber, Option<PullRequest>>,
}

/// What one sweep does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepPlan {
    /// PRs to reconcile with [`Event::Sweep`](super::Event::Sweep): open
    /// PRs with Showtime labels or environments, and closed PRs that still
    /// have environments.
    pub reconcile: Vec<PrNumber>,
    /// Environments of PRs that do not exist, older than the grace period:
    /// destroyed.
    pub destroy: Vec<EnvId>,
    /// Environments of PRs that do not exist, younger than the grace period
    /// (one a concurrent run is creating): spared until a later sweep.
    pub spare: Vec<EnvId>,
    /// Repository definitions of per-value 🎪 labels (SHAs, times,
    /// addresses) that no open PR carries: deleted, unless an issue or a
    /// closed PR still carries them. Decided once the PRs are reconciled
    /// ([`unused_label_definitions`] over the labels they are left with),
    /// so a pass deletes the definitions its own teardowns freed.
    pub delete_labels: Vec<String>,
}

impl SweepPlan {
    /// Whether the sweep has nothing to do.
    pub fn is_empty(&self) -> bool {
        self.reconcile.is_empty()
            && self.destroy.is_empty()
            && self.spare.is_empty()
            && self.delete_labels.is_empty()
    }
}

impl fmt::Display for SweepPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "sweep:")?;
        for pr in &self.reconcile {
            writeln!(f, "  reconcile PR #{pr}")?;
        }
        for id in &self.destroy {
            writeln!(f, "  destroy {id}: its PR does not exist")?;
        }
        for id in &self.spare {
            writeln!(f, "  spare {id}: its PR does not exist, but it is recent")?;
        }
        for name in &self.delete_labels {
            writeln!(f, "  delete label definition `{name}`")?;
        }
        if self.is_empty() {
            writeln!(f, "  (nothing to do)")?;
        }
        Ok(())
    }
}

/// The PRs a sweep reads one by one: those with environments that the open
/// listing lacks (closed, merged or deleted PRs).
pub fn sweep_reads(open: &[PullRequest], environments: &[EnvInfo]) -> Vec<PrNumber> {
    let open: BTreeSet<PrNumber> = open.iter().map(|pr| pr.number).collect();
    let wanted: BTreeSet<PrNumber> = environments
        .iter()
        .map(|env| env.id.pr)
        .filter(|pr| !open.contains(pr))
        .collect();
    wanted.into_iter().collect()
}

/// Decides one sweep. Pure: the same observation, policy and time always
/// give the same plan.
pub fn sweep(obs: &SweepObservation, policy: &Policy, now: DateTime<Utc>) -> SweepPlan {
    let legacy = policy.codec.legacy_trigger().to_lowercase();
    let has_environment: BTreeSet<PrNumber> = obs.environments.iter().map(|e| e.id.pr).collect();
    let relevant = |pr: &PullRequest| {
        has_environment.contains(&pr.number)
            || pr
                .labels
                .iter()
                .any(|l| is_showtime_label(l) || l.to_lowercase() == legacy)
    };
    let mut reconcile: BTreeSet<PrNumber> = obs
        .open
        .iter()
        .filter(|pr| relevant(pr))
        .map(|pr| pr.number)
        .collect();
    let mut plan = SweepPlan::default();
    for (pr, read) in &obs.read {
        if read.is_some() {
            reconcile.insert(*pr);
            continue;
        }
        for env in obs.environments.iter().filter(|e| e.id.pr == *pr) {
            if now - env.created_at >= policy.orphan_grace {
                plan.destroy.push(env.id.clone());
            } else {
                plan.spare.push(env.id.clone());
            }
        }
    }
    plan.reconcile = reconcile.into_iter().collect();
    plan
}

/// The label definitions a cleanup deletes: per-value 🎪 labels (SHAs,
/// times, addresses) that no open PR carries. The PR host deletes only what
/// no issue or PR (closed ones included) carries.
pub fn unused_label_definitions(open: &[PullRequest], definitions: &[String]) -> Vec<String> {
    let in_use: BTreeSet<String> = open
        .iter()
        .flat_map(|pr| pr.labels.iter().map(|l| l.to_lowercase()))
        .collect();
    definitions
        .iter()
        .filter(|name| {
            is_showtime_label(name) && !is_static(name) && !in_use.contains(&name.to_lowercase())
        })
        .cloned()
        .collect()
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
