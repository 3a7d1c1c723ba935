//! The engine over the in-memory ports: whole lifecycles, crash convergence at
//! every port call, concurrency within and across processes.

// A test fails by panicking; unwrapping known-good fixtures is the point.
#![allow(clippy::unwrap_used)]

mod backends;
mod concurrency;
mod crash;
mod heal;
mod lifecycle;
mod sleep;
mod sweep;
mod teams;

use std::sync::Arc;

use showtime_core::commands::SlashCommand;
use showtime_core::labels::{AnomalyKind, Codec};
use showtime_core::plan::Event;
use showtime_core::ports::{Health, Permission, PortError, PrState};
use showtime_core::testing::{Fault, World};
use showtime_core::{Login, PrNumber, Status};
use tokio::sync::Semaphore;

const A: &str = "aaaaaaa111111111111111111111111111111111";
const B: &str = "bbbbbbb222222222222222222222222222222222";

fn login(s: &str) -> Option<Login> {
    Some(s.parse().unwrap())
}

fn world() -> World {
    let world = World::new();
    world.host.set_permission("maxime", Permission::Write);
    world.host.set_permission("stranger", Permission::Read);
    world
}

fn push(world: &World, pr: PrNumber, sha: &str) {
    world
        .host
        .edit_pr(pr, |p| p.head_sha = sha.parse().unwrap());
}

fn add_label(world: &World, pr: PrNumber, label: &str) {
    world.host.edit_pr(pr, |p| p.labels.push(label.to_owned()));
}

/// The invariants that must hold whenever no reconcile is running.
fn assert_converged(world: &World, pr: PrNumber) {
    let labels = world.host.labels(pr);
    let state = Codec::default().parse(&labels);
    assert!(
        state.anomalies.is_empty(),
        "anomalies {:?} in {labels:?}",
        state.anomalies
    );
    assert!(
        !state
            .anomalies
            .iter()
            .any(|a| a.kind == AnomalyKind::Conflict),
        "two pointers"
    );
    let envs: Vec<_> = world
        .backend
        .environments()
        .into_iter()
        .filter(|e| e.id.pr == pr)
        .collect();
    // No leaked environment: everything running is the active one.
    for env in &envs {
        assert_eq!(
            state.active.as_ref(),
            Some(&env.id.sha),
            "leaked {} with {labels:?}",
            env.id
        );
    }
    assert!(envs.len() <= 1, "{envs:?}");
    // No orphaned 🎪 label: every described environment exists or failed.
    for (sha, env) in &state.environments {
        let exists = envs.iter().any(|e| &e.id.sha == sha);
        assert!(
            exists || env.status == Some(Status::Failed),
            "orphaned labels of {sha}: {labels:?}"
        );
    }
    assert!(state.building.is_none(), "left building: {labels:?}");
    assert!(
        world.host.comments(pr).len() <= 1,
        "more than one status comment"
    );
}
