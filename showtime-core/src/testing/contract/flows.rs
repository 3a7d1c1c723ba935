//! The whole flows of the contract: the backend in a [`World`], driven by
//! the engine through create, rolling update, both stops and failures, then
//! again with a crash at every port call.

use std::pin::pin;
use std::time::Duration;

use futures_util::future::{Either, select};

use crate::engine::Outcome;
use crate::labels::{Codec, LabelState, is_showtime_label};
use crate::plan::Event;
use crate::ports::{Backend, Permission, PortError, PrState};
use crate::testing::{Fault, World};
use crate::{Login, PrNumber, Status};

use super::rules::{SHA_A, SHA_B, clean_up, eventually};

const START: &str = "🎪 ⚡ showtime-trigger-start";
const STOP: &str = "🎪 🛑 showtime-trigger-stop";
const ACTOR: &str = "maxime";

/// One flow: a name, what it does, and (for the crash runs) a second name.
pub(super) struct Flow {
    pub(super) name: &'static str,
    pub(super) crash_name: &'static str,
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Create,
    RollingUpdate,
    StopTrigger,
    StopClose,
    FailedDeploy,
    FailedStart,
}

const fn flow(name: &'static str, crash_name: &'static str, kind: Kind) -> Flow {
    Flow {
        name,
        crash_name,
        kind,
    }
}

const CREATE: Flow = flow(
    "engine: a start trigger creates a running environment",
    "engine: create converges after a crash at any port call",
    Kind::Create,
);
const ROLLING_UPDATE: Flow = flow(
    "engine: a new commit replaces the environment (rolling update)",
    "engine: a rolling update converges after a crash at any port call",
    Kind::RollingUpdate,
);
const STOP_TRIGGER: Flow = flow(
    "engine: a stop trigger destroys the environment",
    "engine: a stop converges after a crash at any port call",
    Kind::StopTrigger,
);

/// The flows run once each.
pub(super) const FLOWS: [Flow; 6] = [
    CREATE,
    ROLLING_UPDATE,
    STOP_TRIGGER,
    flow(
        "engine: closing the PR destroys the environment",
        "",
        Kind::StopClose,
    ),
    flow(
        "engine: a failed deploy is recorded and leaves nothing behind",
        "",
        Kind::FailedDeploy,
    ),
    flow(
        "engine: a failed start is recorded and leaves nothing behind",
        "",
        Kind::FailedStart,
    ),
];

/// The flows run again with a crash at every port call.
pub(super) const CRASH_FLOWS: [Flow; 3] = [CREATE, ROLLING_UPDATE, STOP_TRIGGER];

/// Runs `flow` once on `backend` and checks where it ends.
pub(super) async fn run<B: Backend + 'static>(
    backend: B,
    flow: &Flow,
    settle: Duration,
) -> Result<(), String> {
    let world = world(backend);
    let result = async {
        let pr = prepare(&world, flow.kind).await?;
        let outcome = act(&world, flow.kind, pr).await?;
        expect(&world, flow.kind, pr, Some(&outcome), settle).await
    }
    .await;
    world.faults.clear();
    clean_up(&*world.backend).await;
    result
}

/// Runs `flow` once cleanly to count its port calls, then once per call
/// `k` on a fresh cloud: crash at call `k`, deliver the event again to a
/// new engine, and check it ends where the clean run ended.
pub(super) async fn crash_at_every_call<B, F, Fut>(
    new_backend: &mut F,
    flow: &Flow,
    settle: Duration,
) -> Result<(), String>
where
    B: Backend + 'static,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = B>,
{
    let clean = world(new_backend().await);
    let pr = prepare(&clean, flow.kind).await?;
    let before = clean.calls();
    act(&clean, flow.kind, pr).await?;
    let calls = clean.calls() - before;
    let expected = labels_without_addresses(&clean, pr);
    clean_up(&*clean.backend).await;

    for k in 1..=calls {
        let world = world(new_backend().await);
        let result = async {
            let pr = prepare(&world, flow.kind).await?;
            world.faults.at_call(world.calls() + k, Fault::Crash);
            let flow_run = pin!(act(&world, flow.kind, pr));
            let crash = pin!(world.faults.crashed());
            let crashed = match select(flow_run, crash).await {
                Either::Left((result, _)) => {
                    result?;
                    false
                }
                Either::Right(((), _)) => true,
            };
            world.faults.clear();
            if !crashed {
                // This run took fewer calls than the clean one (a listing
                // that lagged less, say): nothing to crash at.
                return Ok(());
            }
            // The process restarts and the same event is delivered again.
            let outcome = act(&world, flow.kind, pr).await?;
            expect(&world, flow.kind, pr, Some(&outcome), settle).await?;
            let got = labels_without_addresses(&world, pr);
            if got != expected {
                return Err(format!(
                    "the labels are {got:?}, but {expected:?} after a run without a crash"
                ));
            }
            Ok(())
        }
        .await
        .map_err(|why| format!("crash at port call {k} of {calls}: {why}"));
        world.faults.clear();
        clean_up(&*world.backend).await;
        result?;
    }
    Ok(())
}

fn world<B: Backend + 'static>(backend: B) -> World<B> {
    let world = World::with_backend(backend);
    world.host.set_permission(ACTOR, Permission::Write);
    world
}

fn actor() -> Option<Login> {
    ACTOR.parse().ok()
}

async fn reconcile<B: Backend + 'static>(
    world: &World<B>,
    pr: PrNumber,
    event: Event,
    actor: Option<Login>,
) -> Result<Outcome, String> {
    world
        .engine()
        .reconcile(pr, event, actor)
        .await
        .map_err(|e| format!("reconcile failed: {e}"))
}

/// Everything before the part of the flow under test, without faults.
async fn prepare<B: Backend + 'static>(world: &World<B>, kind: Kind) -> Result<PrNumber, String> {
    let pr = world.open_pr(1, SHA_A, ACTOR, &[START]);
    match kind {
        Kind::Create => {}
        Kind::FailedDeploy | Kind::FailedStart => {
            let method = match kind {
                Kind::FailedDeploy => "backend.deploy",
                _ => "backend.wait_ready",
            };
            let error = PortError::permanent("failure injected by the contract suite");
            world.faults.on_method(method, vec![Fault::Fail(error)]);
        }
        Kind::RollingUpdate | Kind::StopTrigger | Kind::StopClose => {
            let outcome = reconcile(world, pr, Event::Look, actor()).await?;
            if let Some(failure) = outcome.failure {
                return Err(format!("creating the environment failed: {failure}"));
            }
            world.host.edit_pr(pr, |p| match kind {
                Kind::RollingUpdate => {
                    if let Ok(sha) = SHA_B.parse() {
                        p.head_sha = sha;
                    }
                }
                Kind::StopTrigger => p.labels.push(STOP.to_owned()),
                _ => p.state = PrState::Closed,
            });
        }
    }
    Ok(pr)
}

/// The part of the flow under test.
async fn act<B: Backend + 'static>(
    world: &World<B>,
    kind: Kind,
    pr: PrNumber,
) -> Result<Outcome, String> {
    match kind {
        Kind::RollingUpdate => reconcile(world, pr, Event::Push, actor()).await,
        Kind::StopClose => reconcile(world, pr, Event::Look, None).await,
        _ => reconcile(world, pr, Event::Look, actor()).await,
    }
}

/// Checks where a flow ended: the outcome, the labels and the listing.
async fn expect<B: Backend + 'static>(
    world: &World<B>,
    kind: Kind,
    pr: PrNumber,
    outcome: Option<&Outcome>,
    settle: Duration,
) -> Result<(), String> {
    let state = Codec::default().parse(world.host.labels(pr));
    if let Some(outcome) = outcome {
        if outcome.out_of_rounds {
            return Err(format!(
                "the reconcile ran out of rounds; its plans: {:?}",
                outcome.plans.iter().map(|p| &p.reason).collect::<Vec<_>>()
            ));
        }
        let failed = matches!(kind, Kind::FailedDeploy | Kind::FailedStart);
        if outcome.failure.is_some() != failed {
            return Err(format!("the reconcile's failure is {:?}", outcome.failure));
        }
    }
    let running = match kind {
        Kind::Create => Some("aaaaaaa"),
        Kind::RollingUpdate => Some("bbbbbbb"),
        _ => None,
    };
    match running {
        Some(sha) => expect_running(&state, sha)?,
        None if matches!(kind, Kind::FailedDeploy | Kind::FailedStart) => {
            let failed = state
                .environments
                .values()
                .any(|e| e.status == Some(Status::Failed));
            if !failed || state.active.is_some() || state.building.is_some() {
                return Err(format!("the labels do not record the failure: {state:?}"));
            }
        }
        None => {
            let left: Vec<String> = world
                .host
                .labels(pr)
                .into_iter()
                .filter(|l| describes_environments(l))
                .collect();
            if !left.is_empty() {
                return Err(format!("🎪 labels left after the stop: {left:?}"));
            }
        }
    }
    if world.host.comments(pr).len() > 1 {
        return Err("more than one status comment".to_owned());
    }
    let want: Vec<String> = running
        .map(|sha| format!("pr-{pr}-{sha}"))
        .into_iter()
        .collect();
    let what = if want.is_empty() {
        "nothing listed for the PR".to_owned()
    } else {
        format!("only {} listed", want.join(", "))
    };
    eventually(&*world.backend, Some(pr), settle, &what, |envs| {
        let names: Vec<String> = envs.iter().map(|e| e.id.name()).collect();
        (names == want).then_some(())
    })
    .await
    .map_err(|why| format!("{why} (labels: {:?})", world.host.labels(pr)))
}

fn expect_running(state: &LabelState, sha: &str) -> Result<(), String> {
    let active = state.active.as_ref().map(|a| a.as_str());
    let env = state
        .active
        .as_ref()
        .and_then(|a| state.environments.get(a));
    let running = env.and_then(|e| e.status) == Some(Status::Running);
    let address = env.and_then(|e| e.address);
    if active != Some(sha) || !running || address.is_none() || state.building.is_some() {
        return Err(format!(
            "expected {sha} active and running at an address; the labels say {state:?}"
        ));
    }
    Ok(())
}

/// The PR's 🎪 labels, without the address (which may differ from run to
/// run: a free port, a new IP).
fn labels_without_addresses<B>(world: &World<B>, pr: PrNumber) -> Vec<String> {
    let mut labels: Vec<String> = world
        .host
        .labels(pr)
        .into_iter()
        .filter(|l| describes_environments(l) && !l.contains('🌐'))
        .collect();
    labels.sort();
    labels
}

/// Whether `label` is a 🎪 label about environments: not `🎪 💬 <id>`, which
/// only says where the status comment is, outlives every environment, and
/// is missing after a run cut short before its comment was written.
fn describes_environments(label: &str) -> bool {
    is_showtime_label(label) && !label.contains('💬')
}
