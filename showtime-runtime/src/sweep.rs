//! The age limit of `cleanup --older-than`.
//!
//! A sweep itself ([`Engine::sweep`]) expires environments past their TTL,
//! cleans up after closed PRs, destroys orphans and repairs labels. This
//! module carries out the age limit an operator may add on top
//! ([`older_than`]): each PR with an environment older than the limit is
//! stopped once, as `/circus destroy` would, optionally sparing the TTLs
//! that mean "keep" (`close`, `manual`).

use std::collections::BTreeSet;
use std::time::Duration;

use showtime_core::commands::SlashCommand;
use showtime_core::engine::{Engine, EngineError, Outcome};
use showtime_core::plan::Event;
use showtime_core::ports::EnvId;
use showtime_core::{Login, PrNumber, Ttl};

/// Why the age limit could not be applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SweepError {
    /// Listing the environments or the PRs, or a stop, failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Stopping acts for someone, whose permission is checked.
    #[error("stopping environments acts for someone: pass --actor LOGIN or set GITHUB_ACTOR")]
    NoActor,
    /// The age does not fit a date computation.
    #[error("the age limit is too large")]
    TooLong,
}

/// What the age limit did.
#[derive(Debug, Default)]
pub struct Aged {
    /// The environments older than the limit (stopped, or in a dry run
    /// that would be).
    pub environments: Vec<EnvId>,
    /// The stops' outcomes, for the audit trail.
    pub outcomes: Vec<Outcome>,
}

/// The age limit: every environment older than `age` (a dry run only
/// names them). With `respect_ttl`, a PR whose TTL is `close` or `manual`
/// keeps its environments. Each PR is stopped once, as `actor`, through
/// the same path as `/circus destroy`.
pub async fn older_than(
    engine: &Engine,
    age: Duration,
    respect_ttl: bool,
    dry_run: bool,
    actor: Option<Login>,
) -> Result<Aged, SweepError> {
    let actor = match (dry_run, actor) {
        (true, _) => None,
        (false, Some(actor)) => Some(actor),
        (false, None) => return Err(SweepError::NoActor),
    };
    let now = engine.ports().clock.now();
    let age = chrono::Duration::from_std(age).map_err(|_| SweepError::TooLong)?;
    let listing = |source| EngineError::Listing {
        what: "environments",
        source,
    };
    let old: Vec<EnvId> = engine
        .ports()
        .backend
        .list(None)
        .await
        .map_err(listing)?
        .into_iter()
        .filter(|e| now - e.created_at >= age)
        .map(|e| e.id)
        .collect();
    // The TTLs that keep an environment, from one listing of the open PRs.
    let mut kept = BTreeSet::new();
    if respect_ttl && !old.is_empty() {
        let open = engine
            .ports()
            .host
            .open_pull_requests()
            .await
            .map_err(|source| EngineError::Listing {
                what: "open PRs",
                source,
            })?;
        for pr in open {
            let ttl = engine.policy().codec.parse(&pr.labels).ttl;
            if matches!(ttl, Some(t) if t == Ttl::CLOSE || t == Ttl::MANUAL) {
                kept.insert(pr.number);
            }
        }
    }
    let old: Vec<EnvId> = old.into_iter().filter(|e| !kept.contains(&e.pr)).collect();
    let mut outcomes = Vec::new();
    if let Some(actor) = actor {
        let prs: BTreeSet<PrNumber> = old.iter().map(|e| e.pr).collect();
        for pr in prs {
            let destroy = Event::Command(SlashCommand::Destroy);
            outcomes.push(engine.reconcile(pr, destroy, Some(actor.clone())).await?);
        }
    }
    Ok(Aged {
        environments: old,
        outcomes,
    })
}
