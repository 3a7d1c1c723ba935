//! Random sequences of events against the engine and the in-memory ports: the
//! invariants hold after every step, whatever people do in whatever order.

// A test fails by panicking; unwrapping known-good fixtures is the point.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use showtime_core::commands::SlashCommand;
use showtime_core::labels::Codec;
use showtime_core::plan::Event;
use showtime_core::ports::{Permission, PrState};
use showtime_core::testing::World;
use showtime_core::{Login, PrNumber, Status};

/// One thing that happens to the PR, followed by the reconcile it causes.
#[derive(Debug, Clone)]
enum Happening {
    Label(&'static str),
    Unlabel(&'static str),
    Push(u8),
    Command(u8),
    Close,
    Reopen,
    ClockJump(u16),
    Sweep,
    Stranger,
    BreakBuild(u8),
    Unhealthy(u8),
}

const SHAS: [&str; 3] = [
    "aaaaaaa111111111111111111111111111111111",
    "bbbbbbb222222222222222222222222222222222",
    "ccccccc333333333333333333333333333333333",
];

fn happening() -> impl Strategy<Value = Happening> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "🎪 ⚡ showtime-trigger-start",
            "🎪 🛑 showtime-trigger-stop",
            "🎪 🔄 showtime-trigger-sync",
            "🎪 🧊 showtime-freeze",
            "🎪 conf-enable-ALERTS",
            "🎪 conf-size-large",
            "testenv-up",
            "bug",
        ])
        .prop_map(Happening::Label),
        2 => prop::sample::select(vec!["testenv-up", "🎪 🧊 showtime-freeze", "bug"]).prop_map(Happening::Unlabel),
        2 => (0u8..3).prop_map(Happening::Push),
        2 => (0u8..8).prop_map(Happening::Command),
        1 => Just(Happening::Close),
        1 => Just(Happening::Reopen),
        1 => (1u16..120).prop_map(Happening::ClockJump),
        1 => Just(Happening::Sweep),
        1 => Just(Happening::Stranger),
        1 => (0u8..3).prop_map(Happening::BreakBuild),
        1 => (0u8..3).prop_map(Happening::Unhealthy),
    ]
}

fn command(i: u8) -> SlashCommand {
    match i {
        0 => SlashCommand::Refresh,
        1 => SlashCommand::Destroy,
        2 => SlashCommand::Extend("24h".parse().unwrap()),
        3 => SlashCommand::KeepAlive,
        4 => SlashCommand::Status,
        5 => SlashCommand::Enable("ALERTS".parse().unwrap()),
        6 => SlashCommand::Debug(true),
        _ => SlashCommand::Size("large".parse().unwrap()),
    }
}

fn maxime() -> Option<Login> {
    Some("maxime".parse().unwrap())
}

async fn happen(world: &World, pr: PrNumber, what: &Happening) {
    let engine = world.engine();
    let result = match what {
        Happening::Label(label) => {
            world.host.edit_pr(pr, |p| {
                if !p.labels.iter().any(|l| l == label) {
                    p.labels.push((*label).to_owned());
                }
            });
            engine.reconcile(pr, Event::Look, maxime()).await
        }
        Happening::Unlabel(label) => {
            let had = world.host.labels(pr).iter().any(|l| l == label);
            world.host.edit_pr(pr, |p| p.labels.retain(|l| l != label));
            let event = if had && *label == "testenv-up" {
                Event::UpLabelRemoved
            } else {
                Event::Look
            };
            engine.reconcile(pr, event, maxime()).await
        }
        Happening::Push(i) => {
            world
                .host
                .edit_pr(pr, |p| p.head_sha = SHAS[usize::from(*i)].parse().unwrap());
            engine.reconcile(pr, Event::Push, maxime()).await
        }
        Happening::Command(i) => {
            engine
                .reconcile(pr, Event::Command(command(*i)), maxime())
                .await
        }
        Happening::Close => {
            world.host.edit_pr(pr, |p| p.state = PrState::Closed);
            engine.reconcile(pr, Event::Look, None).await
        }
        Happening::Reopen => {
            world.host.edit_pr(pr, |p| p.state = PrState::Open);
            engine.reconcile(pr, Event::Look, maxime()).await
        }
        Happening::ClockJump(hours) => {
            world
                .clock
                .advance(chrono::Duration::hours(i64::from(*hours)));
            return;
        }
        Happening::BreakBuild(i) => {
            world.builder.break_sha(&SHAS[usize::from(*i)][..7]);
            return;
        }
        Happening::Unhealthy(i) => {
            world.backend.make_unhealthy(&SHAS[usize::from(*i)][..7]);
            return;
        }
        Happening::Sweep => {
            engine.sweep(false).await.unwrap();
            return;
        }
        Happening::Stranger => {
            world.host.edit_pr(pr, |p| {
                p.labels.push("🎪 ⚡ showtime-trigger-start".to_owned())
            });
            engine
                .reconcile(pr, Event::Look, Some("stranger".parse().unwrap()))
                .await
        }
    };
    result.unwrap();
}

fn check(world: &World, pr: PrNumber, history: &[Happening]) -> Result<(), TestCaseError> {
    let labels = world.host.labels(pr);
    let state = Codec::default().parse(&labels);
    prop_assert!(
        state.anomalies.is_empty(),
        "anomalies {:?} after {:?}",
        state.anomalies,
        history
    );
    let envs: Vec<_> = world.backend.environments();
    prop_assert!(
        envs.len() <= 1,
        "{} environments after {:?}",
        envs.len(),
        history
    );
    for env in &envs {
        prop_assert_eq!(
            state.active.as_ref(),
            Some(&env.id.sha),
            "leaked {} after {:?}",
            env.id,
            history
        );
    }
    for (sha, env) in &state.environments {
        let exists = envs.iter().any(|e| &e.id.sha == sha);
        prop_assert!(
            exists || env.status == Some(Status::Failed),
            "orphaned labels {:?} after {:?}",
            labels,
            history
        );
    }
    prop_assert!(world.host.comments(pr).len() <= 1);
    let pr_state = world.host.pr(pr).unwrap().state;
    if !pr_state.is_open() && state.ttl != Some(showtime_core::Ttl::MANUAL) {
        prop_assert!(
            envs.is_empty(),
            "closed PR keeps {:?} after {:?}",
            envs,
            history
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn invariants_hold_after_every_event(history in proptest::collection::vec(happening(), 1..24)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let world = World::new();
        world.host.set_permission("maxime", Permission::Admin);
        world.host.set_permission("stranger", Permission::Read);
        let pr = world.open_pr(1, SHAS[0], "maxime", &[]);
        for (i, what) in history.iter().enumerate() {
            runtime.block_on(happen(&world, pr, what));
            check(&world, pr, &history[..=i])?;
        }
    }
}
