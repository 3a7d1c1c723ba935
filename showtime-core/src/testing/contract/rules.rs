//! The per-method rules of the contract: each calls the backend directly,
//! on a fresh cloud, and says which promise was broken and how.

use std::future::Future;
use std::time::Duration;

use crate::ports::{Backend, EnvId, EnvInfo, Health, PortError};
use crate::testing::spec;
use crate::{Config, PrNumber};

use super::Foreign;

/// The commits the rules deploy.
pub(super) const SHA_A: &str = "aaaaaaa111111111111111111111111111111111";
pub(super) const SHA_B: &str = "bbbbbbb222222222222222222222222222222222";

/// Returns `Err` with a message unless the condition holds.
macro_rules! ensure {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err(format!($($why)+));
        }
    };
}

/// The per-method rules, in the order run.
pub(super) const RULES: [Rule; 10] = [
    Rule::Fresh,
    Rule::DeployThenReady,
    Rule::DeployTwice,
    Rule::DestroyTwice,
    Rule::DestroyHalfMade,
    Rule::Missing,
    Rule::ApplyConfig,
    Rule::ListOnePr,
    Rule::SleepWake,
    Rule::SleepMissing,
];

#[derive(Debug, Clone, Copy)]
pub(super) enum Rule {
    Fresh,
    DeployThenReady,
    DeployTwice,
    DestroyTwice,
    DestroyHalfMade,
    Missing,
    ApplyConfig,
    ListOnePr,
    SleepWake,
    SleepMissing,
}

impl Rule {
    pub(super) fn name(self) -> &'static str {
        match self {
            Rule::Fresh => "a new backend lists nothing",
            Rule::DeployThenReady => {
                "deploy then wait_ready: healthy, listed with the spec's details"
            }
            Rule::DeployTwice => "deploy is idempotent",
            Rule::DestroyTwice => "destroy is idempotent, and of a missing environment succeeds",
            Rule::DestroyHalfMade => "destroy of a half-made environment",
            Rule::Missing => {
                "wait_ready and apply_config of a missing environment fail and create nothing"
            }
            Rule::ApplyConfig => "apply_config changes the configuration",
            Rule::ListOnePr => "list of one PR shows only its environments",
            Rule::SleepWake => {
                "sleep: listed asleep, twice is fine; wake then wait_ready: healthy again \
                 (or, without can_sleep, sleep and wake refused as Permanent)"
            }
            Rule::SleepMissing => "sleep and wake of a missing environment fail and create nothing",
        }
    }

    pub(super) async fn run<B: Backend>(self, b: &B, settle: Duration) -> Result<(), String> {
        match self {
            Rule::Fresh => {
                let envs = list(b, None).await?;
                ensure!(
                    envs.is_empty(),
                    "the constructor must give a backend over an empty cloud, \
                     but it lists {}",
                    describe(&envs)
                );
                Ok(())
            }
            Rule::DeployThenReady => deploy_then_ready(b, settle).await,
            Rule::DeployTwice => deploy_twice(b, settle).await,
            Rule::DestroyTwice => destroy_twice(b, settle).await,
            Rule::DestroyHalfMade => {
                let spec = spec(1, SHA_A).build();
                deploy(b, &spec.id, &spec).await?;
                call("destroy right after deploy", b.destroy(&spec.id)).await?;
                gone(b, &spec.id, settle).await
            }
            Rule::Missing => missing(b, settle).await,
            Rule::ApplyConfig => apply_config(b, settle).await,
            Rule::ListOnePr => list_one_pr(b, settle).await,
            Rule::SleepWake => sleep_wake(b, settle).await,
            Rule::SleepMissing => sleep_missing(b, settle).await,
        }
    }
}

async fn deploy_then_ready<B: Backend>(b: &B, settle: Duration) -> Result<(), String> {
    let config = configured();
    let spec = spec(1, SHA_A)
        .requested_by("octocat")
        .config(config.clone())
        .build();
    let id = &spec.id;
    deploy(b, id, &spec).await?;
    let address = call("wait_ready after deploy", b.wait_ready(id)).await?;
    let env = eventually(b, Some(id.pr), settle, "it listed healthy", |envs| {
        find(envs, id)
            .filter(|e| e.health == Health::Healthy)
            .cloned()
    })
    .await?;
    ensure!(
        env.created_at == spec.created_at,
        "list gives {id} created_at {}, but it must be the spec's created_at {} \
         (keep it in a tag or record: the orphan grace period counts from it)",
        env.created_at,
        spec.created_at
    );
    ensure!(
        env.requested_by == spec.requested_by,
        "list gives {id} requested_by {:?}, the spec said {:?}",
        env.requested_by,
        spec.requested_by
    );
    ensure!(
        env.config == config,
        "list gives {id} the configuration {:?}, the spec said {config:?}",
        env.config
    );
    if let Some(listed) = env.address {
        ensure!(
            listed == address,
            "list gives {id} the address {listed}, but wait_ready returned {address}"
        );
    }
    Ok(())
}

async fn deploy_twice<B: Backend>(b: &B, settle: Duration) -> Result<(), String> {
    let spec = spec(1, SHA_A).build();
    let id = &spec.id;
    deploy(b, id, &spec).await?;
    call("a second deploy of the same spec", b.deploy(&spec)).await?;
    call("wait_ready after two deploys", b.wait_ready(id)).await?;
    call("a deploy of a ready environment", b.deploy(&spec)).await?;
    let envs = eventually(b, Some(id.pr), settle, "it listed", |envs| {
        find(envs, id).map(|_| envs.to_vec())
    })
    .await?;
    let copies = envs.iter().filter(|e| &e.id == id).count();
    ensure!(copies == 1, "three deploys of {id} list {copies} copies");
    call(
        "wait_ready after a deploy of a ready environment",
        b.wait_ready(id),
    )
    .await?;
    Ok(())
}

async fn destroy_twice<B: Backend>(b: &B, settle: Duration) -> Result<(), String> {
    let never = spec(2, SHA_B).build().id;
    call(
        "destroy of an environment never deployed",
        b.destroy(&never),
    )
    .await?;
    let spec = spec(1, SHA_A).build();
    deploy(b, &spec.id, &spec).await?;
    call("wait_ready after deploy", b.wait_ready(&spec.id)).await?;
    call("destroy", b.destroy(&spec.id)).await?;
    call("a second destroy", b.destroy(&spec.id)).await?;
    gone(b, &spec.id, settle).await
}

async fn missing<B: Backend>(b: &B, settle: Duration) -> Result<(), String> {
    let id = spec(3, SHA_A).build().id;
    for (what, result) in [
        ("wait_ready", b.wait_ready(&id).await.map(|_| ())),
        ("apply_config", b.apply_config(&id, &configured()).await),
    ] {
        match result {
            Err(PortError::NotFound { .. } | PortError::Permanent { .. }) => {}
            Err(other) => {
                return Err(format!(
                    "{what} of the missing {id} answered `{other}`; it must be \
                     PortError::NotFound (or Permanent): retrying cannot make it exist"
                ));
            }
            Ok(()) => return Err(format!("{what} of the missing {id} succeeded")),
        }
    }
    gone(b, &id, settle).await
}

async fn apply_config<B: Backend>(b: &B, settle: Duration) -> Result<(), String> {
    let spec = spec(1, SHA_A).build();
    let id = &spec.id;
    deploy(b, id, &spec).await?;
    call("wait_ready after deploy", b.wait_ready(id)).await?;
    let config = configured();
    call("apply_config", b.apply_config(id, &config)).await?;
    eventually(
        b,
        Some(id.pr),
        settle,
        "it listed with the new configuration",
        |envs| find(envs, id).filter(|e| e.config == config).map(|_| ()),
    )
    .await?;
    call("wait_ready after apply_config", b.wait_ready(id)).await?;
    Ok(())
}

async fn sleep_wake<B: Backend>(b: &B, settle: Duration) -> Result<(), String> {
    let spec = spec(1, SHA_A).config(configured()).build();
    let id = &spec.id;
    deploy(b, id, &spec).await?;
    call("wait_ready after deploy", b.wait_ready(id)).await?;
    if !b.can_sleep() {
        for (what, result) in [("sleep", b.sleep(id).await), ("wake", b.wake(id).await)] {
            ensure!(
                matches!(result, Err(PortError::Permanent { .. })),
                "can_sleep says no, so {what} must answer PortError::Permanent, \
                 but it answered {result:?}"
            );
        }
        return Ok(());
    }
    call("sleep", b.sleep(id)).await?;
    call("a second sleep", b.sleep(id)).await?;
    let env = eventually(b, Some(id.pr), settle, "it listed asleep", |envs| {
        find(envs, id)
            .filter(|e| e.health == Health::Asleep)
            .cloned()
    })
    .await?;
    ensure!(
        env.created_at == spec.created_at && env.config == spec.config,
        "asleep, {id} must keep its creation time and configuration (its TTL still \
         counts): list gives {} and {:?}",
        env.created_at,
        env.config
    );
    call("wake", b.wake(id)).await?;
    let address = call("wait_ready after wake", b.wait_ready(id)).await?;
    call("a wake of an awake environment", b.wake(id)).await?;
    let env = eventually(b, Some(id.pr), settle, "it listed healthy again", |envs| {
        find(envs, id)
            .filter(|e| e.health == Health::Healthy)
            .cloned()
    })
    .await?;
    if let Some(listed) = env.address {
        ensure!(
            listed == address,
            "list gives {id} the address {listed}, but wait_ready after wake returned {address}"
        );
    }
    // Asleep is destroyable like anything else (TTL expiry, a closed PR).
    call("sleep before destroy", b.sleep(id)).await?;
    call("destroy of a sleeping environment", b.destroy(id)).await?;
    gone(b, id, settle).await
}

async fn sleep_missing<B: Backend>(b: &B, settle: Duration) -> Result<(), String> {
    if !b.can_sleep() {
        return Ok(());
    }
    let id = spec(3, SHA_A).build().id;
    for (what, result) in [("sleep", b.sleep(&id).await), ("wake", b.wake(&id).await)] {
        match result {
            Err(PortError::NotFound { .. } | PortError::Permanent { .. }) => {}
            Err(other) => {
                return Err(format!(
                    "{what} of the missing {id} answered `{other}`; it must be \
                     PortError::NotFound (or Permanent)"
                ));
            }
            Ok(()) => return Err(format!("{what} of the missing {id} succeeded")),
        }
    }
    gone(b, &id, settle).await
}

async fn list_one_pr<B: Backend>(b: &B, settle: Duration) -> Result<(), String> {
    let one = spec(1, SHA_A).build();
    let two = spec(2, SHA_B).build();
    deploy(b, &one.id, &one).await?;
    deploy(b, &two.id, &two).await?;
    eventually(b, None, settle, "both listed", |envs| {
        (find(envs, &one.id).is_some() && find(envs, &two.id).is_some()).then_some(())
    })
    .await?;
    let envs = list(b, Some(one.id.pr)).await?;
    ensure!(
        envs.iter().all(|e| e.id.pr == one.id.pr),
        "list of PR #{} gives {}",
        one.id.pr,
        describe(&envs)
    );
    ensure!(
        find(&envs, &one.id).is_some(),
        "list of PR #{} misses {}",
        one.id.pr,
        one.id
    );
    Ok(())
}

/// The rule of [`Contract::foreign`](super::Contract::foreign).
pub(super) async fn foreign<B: Backend>(
    b: &B,
    foreign: &dyn Foreign<B>,
    settle: Duration,
) -> Result<(), String> {
    let planted = foreign.plant(b).await?;
    let spec = spec(1, SHA_A).build();
    deploy(b, &spec.id, &spec).await?;
    call(
        "wait_ready beside a foreign resource",
        b.wait_ready(&spec.id),
    )
    .await?;
    let envs = list(b, None).await?;
    if let Some(lookalike) = &planted {
        ensure!(
            find(&envs, lookalike).is_none(),
            "list reports {lookalike}, which is not Showtime's"
        );
        // Destroying its id may fail or succeed, but must not touch it.
        let _ = b.destroy(lookalike).await;
    }
    call("destroy beside a foreign resource", b.destroy(&spec.id)).await?;
    gone(b, &spec.id, settle).await?;
    ensure!(
        foreign.intact(b).await?,
        "the foreign resource was changed or removed"
    );
    Ok(())
}

/// Destroys whatever a check left (best effort), so a shared cloud stays
/// clean and no process outlives the suite.
pub(super) async fn clean_up<B: Backend>(b: &B) {
    if let Ok(envs) = b.list(None).await {
        for env in envs {
            let _ = b.destroy(&env.id).await;
        }
    }
}

/// A configuration unlike the default one.
fn configured() -> Config {
    let mut config = Config {
        debug: true,
        ..Config::default()
    };
    config
        .features
        .insert("ALERTS".parse().expect("a valid feature name"), true);
    config
}

async fn deploy<B: Backend>(b: &B, id: &EnvId, spec: &crate::ports::EnvSpec) -> Result<(), String> {
    b.deploy(spec)
        .await
        .map_err(|e| format!("deploy of {id} failed: {e}"))
}

/// The result of a call, its error said with what was being done.
pub(super) async fn call<T>(
    what: &str,
    call: impl Future<Output = Result<T, PortError>>,
) -> Result<T, String> {
    call.await.map_err(|e| format!("{what} failed: {e}"))
}

pub(super) async fn list<B: Backend>(b: &B, pr: Option<PrNumber>) -> Result<Vec<EnvInfo>, String> {
    call("list", b.list(pr)).await
}

pub(super) fn find<'a>(envs: &'a [EnvInfo], id: &EnvId) -> Option<&'a EnvInfo> {
    envs.iter().find(|e| &e.id == id)
}

/// Polls `list` until `accept` takes what it says, for up to `settle`.
pub(super) async fn eventually<B: Backend, T>(
    b: &B,
    pr: Option<PrNumber>,
    settle: Duration,
    what: &str,
    mut accept: impl FnMut(&[EnvInfo]) -> Option<T>,
) -> Result<T, String> {
    let deadline = tokio::time::Instant::now() + settle;
    loop {
        let envs = list(b, pr).await?;
        if let Some(found) = accept(&envs) {
            return Ok(found);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "expected {what} within {settle:?}; list says {}",
                describe(&envs)
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `id` is no longer listed.
pub(super) async fn gone<B: Backend>(b: &B, id: &EnvId, settle: Duration) -> Result<(), String> {
    let what = format!("{id} to be gone");
    eventually(b, Some(id.pr), settle, &what, |envs| {
        find(envs, id).is_none().then_some(())
    })
    .await
}

/// A listing in a few words.
pub(super) fn describe(envs: &[EnvInfo]) -> String {
    if envs.is_empty() {
        return "nothing".to_owned();
    }
    let each: Vec<String> = envs
        .iter()
        .map(|e| {
            let health = match &e.health {
                Health::Starting => "starting".to_owned(),
                Health::Healthy => "healthy".to_owned(),
                Health::Failed { reason } => format!("failed: {reason}"),
                Health::Asleep => "asleep".to_owned(),
                Health::Unhealthy { since, reason } => format!("unhealthy since {since}: {reason}"),
            };
            format!("{} ({health})", e.id)
        })
        .collect();
    each.join(", ")
}
