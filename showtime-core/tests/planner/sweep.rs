//! Row "TTL expired: destroy on the next sweep", the sweep's own part: which
//! PRs a sweep reconciles (each then plans as every other row here), which
//! environments of vanished PRs it destroys, and which label definitions it
//! deletes.

use std::collections::BTreeMap;

use showtime_core::plan::{
    SweepObservation, SweepPlan, sweep, sweep_reads, unused_label_definitions,
};

use super::*;

/// An open PR with labels.
fn open(number: u64, names: &[&str]) -> PullRequest {
    let mut pr = pr(HEAD);
    pr.number = PrNumber::new(number).unwrap();
    pr.labels = labels(names);
    pr
}

fn ids(list: &[EnvId]) -> Vec<String> {
    list.iter().map(EnvId::name).collect()
}

fn prs(plan: &SweepPlan) -> Vec<u64> {
    plan.reconcile.iter().map(|pr| pr.get()).collect()
}

#[test]
fn sweep_reconciles_every_pr_with_showtime_labels_or_environments() {
    let obs = SweepObservation {
        open: vec![
            open(1, &["🎪 🎯 aaaaaaa"]),
            open(2, &[UP]),
            open(3, &["bug"]),
            open(4, &[]),
        ],
        environments: vec![env(4, OLD, Health::Healthy, hours_ago(2))],
        ..SweepObservation::default()
    };
    let plan = sweep(&obs, &Policy::default(), now());

    assert_eq!(prs(&plan), [1, 2, 4], "#3 has nothing of Showtime's");
    assert!(plan.destroy.is_empty() && plan.spare.is_empty());
}

#[test]
fn sweep_reads_only_the_prs_the_open_listing_lacks() {
    let open = [open(1, &[UP])];
    let environments = [
        env(1, OLD, Health::Healthy, hours_ago(2)),
        env(9, OLD, Health::Healthy, hours_ago(2)),
        env(9, HEAD, Health::Healthy, hours_ago(1)),
    ];
    let reads: Vec<u64> = sweep_reads(&open, &environments)
        .into_iter()
        .map(|pr| pr.get())
        .collect();
    assert_eq!(reads, [9]);
}

#[test]
fn a_closed_pr_with_environments_is_reconciled() {
    let environments = vec![env(9, OLD, Health::Healthy, hours_ago(2))];
    let obs = SweepObservation {
        read: BTreeMap::from([(PrNumber::new(9).unwrap(), Some(closed(open(9, &[]))))]),
        environments,
        ..SweepObservation::default()
    };
    let plan = sweep(&obs, &Policy::default(), now());

    assert_eq!(prs(&plan), [9]);
    assert!(plan.destroy.is_empty(), "its own reconcile destroys it");
}

#[test]
fn environments_of_a_pr_that_no_longer_exists_are_destroyed_after_the_grace_period() {
    let obs = SweepObservation {
        environments: vec![
            env(9, OLD, Health::Healthy, hours_ago(2)),
            env(9, HEAD, Health::Starting, now() - Duration::minutes(5)),
        ],
        read: BTreeMap::from([(PrNumber::new(9).unwrap(), None)]),
        ..SweepObservation::default()
    };
    let plan = sweep(&obs, &Policy::default(), now());

    assert_eq!(ids(&plan.destroy), ["pr-9-aaaaaaa"]);
    assert_eq!(
        ids(&plan.spare),
        ["pr-9-ccccccc"],
        "a concurrent run may be creating it"
    );
    assert!(plan.reconcile.is_empty());
    assert!(plan.to_string().contains("destroy pr-9-aaaaaaa"), "{plan}");
}

#[test]
fn a_pr_whose_read_failed_is_left_alone() {
    let obs = SweepObservation {
        environments: vec![env(9, OLD, Health::Healthy, hours_ago(2))],
        ..SweepObservation::default()
    };
    let plan = sweep(&obs, &Policy::default(), now());
    assert!(plan.is_empty(), "{plan}");
}

#[test]
fn sweep_deletes_only_unused_per_value_label_definitions() {
    let open = vec![open(1, &["🎪 aaaaaaa 📅 2025-06-01T10-00"])];
    let definitions = labels(&[
        "🎪 bbbbbbb 📅 2025-05-01T10-00",
        "🎪 aaaaaaa 📅 2025-06-01T10-00",
        "🎪 🚦 running",
        "🎪 ⚡ showtime-trigger-start",
        "🎪 ⌛ 48h",
        "bug",
    ]);
    assert_eq!(
        unused_label_definitions(&open, &definitions),
        ["🎪 bbbbbbb 📅 2025-05-01T10-00"]
    );
}
