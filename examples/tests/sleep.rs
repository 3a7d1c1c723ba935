//! Sleep and wake end to end, through the built programs on the local
//! backend: with `[sleep] after_idle`, `showtime-sweep` puts an idle
//! environment to sleep (its process stopped, `🚦 sleeping` on the PR), and
//! a `/circus wake` comment brings it back (the process started again and
//! answering, `🚦 running`), the TTL unchanged.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use showtime_core::ports::{Backend, Health};
use support::site::*;
use support::*;

/// The PR's status label.
fn status(site: &Site) -> String {
    site.showtime_labels(42)
        .into_iter()
        .find(|l| l.contains("🚦"))
        .unwrap_or_default()
}

async fn health(site: &Site) -> Vec<Health> {
    let envs = site.backend().list(None).await.unwrap();
    envs.into_iter().map(|e| e.health).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_environment_sleeps_and_a_wake_brings_it_back() {
    let site = Site::start("sleep").await;
    std::fs::write(
        site.dir.join("showtime.toml"),
        "[sleep]\nafter_idle = \"2s\"\n",
    )
    .unwrap();
    site.fake.add_labels_as_person(42, &[TRIGGER]);
    site.showtime(&["sync", "42", "--sha", HEAD]).await.ok();
    assert_eq!(status(&site), "🎪 🚦 running");
    let created = site
        .showtime_labels(42)
        .into_iter()
        .find(|l| l.starts_with("🎪 📅 "))
        .unwrap();
    assert_eq!(health(&site).await, [Health::Healthy]);

    // Idle for longer than `after_idle`: the sweep puts it to sleep.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let swept = site
        .run_with(env!("CARGO_BIN_EXE_showtime-sweep"), &["--json"], &[])
        .await
        .ok();
    assert!(swept.stdout.contains("slept"), "{swept:?}");
    assert_eq!(status(&site), "🎪 🚦 sleeping", "{swept:?}");
    assert_eq!(health(&site).await, [Health::Asleep]);

    // `/circus wake`: running again, with the same creation time.
    let woke = site
        .showtime_with_input(&["sync", "42", "--comment", "-"], "/circus wake\n")
        .await;
    assert_eq!(woke.code, 0, "{woke:?}");
    assert_eq!(status(&site), "🎪 🚦 running", "{woke:?}");
    assert!(site.showtime_labels(42).contains(&created));
    assert_eq!(health(&site).await, [Health::Healthy]);
    site.clean_up().await;
}
