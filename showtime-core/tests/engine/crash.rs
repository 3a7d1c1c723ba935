//! Crash convergence: every flow, cut at every port call, converges when
//! the same event is delivered again to a new engine.

use super::*;

/// One flow to test under crashes: set-up (run crash-free), then the flow.
struct Flow {
    name: &'static str,
    setup: fn(&World) -> PrNumber,
    prepare: fn(&World, PrNumber),
    event: fn() -> Event,
    sweep: bool,
}

async fn run_flow(world: &World, flow: &Flow, pr: PrNumber) {
    let engine = world.engine();
    if flow.sweep {
        let _ = engine.sweep(false).await;
    } else {
        let _ = engine.reconcile(pr, (flow.event)(), login("maxime")).await;
    }
}

async fn prepared(flow: &Flow) -> (World, PrNumber) {
    let world = world();
    let pr = (flow.setup)(&world);
    world
        .engine()
        .reconcile(pr, Event::Look, login("maxime"))
        .await
        .unwrap();
    (flow.prepare)(&world, pr);
    (world, pr)
}

fn snapshot(world: &World, pr: PrNumber) -> (Vec<String>, Vec<(String, Health, usize)>) {
    let envs = world
        .backend
        .environments()
        .into_iter()
        .map(|e| (e.id.name(), e.health, e.config.features.len()))
        .collect();
    (world.host.showtime_labels(pr), envs)
}

fn flows() -> Vec<Flow> {
    vec![
        Flow {
            name: "create",
            setup: |w| w.open_pr(1, A, "maxime", &[]),
            prepare: |w, pr| add_label(w, pr, "🎪 ⚡ showtime-trigger-start"),
            event: || Event::Look,
            sweep: false,
        },
        Flow {
            name: "rolling update",
            setup: |w| w.open_pr(1, A, "maxime", &["testenv-up"]),
            prepare: |w, pr| push(w, pr, B),
            event: || Event::Push,
            sweep: false,
        },
        Flow {
            name: "destroy",
            setup: |w| w.open_pr(1, A, "maxime", &["testenv-up"]),
            prepare: |w, pr| add_label(w, pr, "🎪 🛑 showtime-trigger-stop"),
            event: || Event::Look,
            sweep: false,
        },
        Flow {
            name: "configuration change",
            setup: |w| w.open_pr(1, A, "maxime", &["testenv-up"]),
            prepare: |_, _| {},
            event: || Event::Command(SlashCommand::Enable("ALERTS".parse().unwrap())),
            sweep: false,
        },
        Flow {
            name: "sweep",
            setup: |w| w.open_pr(1, A, "maxime", &["testenv-up"]),
            prepare: |w, _| w.clock.advance(chrono::Duration::hours(72)),
            event: || Event::Sweep,
            sweep: true,
        },
    ]
}

#[tokio::test]
async fn every_flow_converges_after_a_crash_at_any_port_call() {
    for flow in flows() {
        let (clean, pr) = prepared(&flow).await;
        let before = clean.calls();
        run_flow(&clean, &flow, pr).await;
        let calls = clean.calls() - before;
        let expected = snapshot(&clean, pr);
        assert!(calls > 3, "{}: only {calls} calls", flow.name);

        for k in 1..=calls {
            let (world, pr) = prepared(&flow).await;
            world.faults.at_call(world.calls() + k, Fault::Crash);
            tokio::select! {
                () = run_flow(&world, &flow, pr) => panic!("{}: no crash at call {k}", flow.name),
                () = world.faults.crashed() => {}
            }
            world.faults.clear();
            // The process restarts and the same event is delivered again.
            run_flow(&world, &flow, pr).await;
            assert_eq!(
                snapshot(&world, pr),
                expected,
                "{}: crash at call {k} of {calls}",
                flow.name
            );
            assert_converged(&world, pr);
            assert_eq!(
                world.host.comments(pr).len(),
                1,
                "{}: crash at {k}",
                flow.name
            );
        }
    }
}
