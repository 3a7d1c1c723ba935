//! Port calls per lifecycle flow, counted by the in-memory ports.
//!
//! Time on a shared machine is noise; the number of requests a flow makes to
//! GitHub and to the cloud is what costs rate limit and money, and it is
//! exact. [`measure`] runs each flow once on a fresh [`World`] and counts.

use showtime_core::commands::SlashCommand;
use showtime_core::plan::Event;
use showtime_core::ports::Permission;
use showtime_core::testing::World;
use showtime_core::{Login, PrNumber};

/// The calls one flow made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowCount {
    /// The flow.
    pub flow: String,
    /// Reads of one PR (`pull_request`).
    pub pr_reads: u64,
    /// Listings of open PRs (`open_pull_requests`).
    pub pr_lists: u64,
    /// Calls adding labels (`add_labels`).
    pub label_adds: u64,
    /// Calls removing one label each (`remove_label`).
    pub label_removes: u64,
    /// Label definitions created or updated (`ensure_label`).
    pub label_definitions: u64,
    /// Permission look-ups.
    pub permissions: u64,
    /// Status comment writes.
    pub comments: u64,
    /// Every PR-host call.
    pub host_total: u64,
    /// Every backend call (deploy, await, configure, destroy, list).
    pub backend_total: u64,
    /// Image builds.
    pub builds: u64,
}

fn count(world: &World, flow: impl Into<String>) -> FlowCount {
    let host = &world.host;
    FlowCount {
        flow: flow.into(),
        pr_reads: host.calls("pull_request"),
        pr_lists: host.calls("open_pull_requests"),
        label_adds: host.calls("add_labels"),
        label_removes: host.calls("remove_label"),
        label_definitions: host.calls("ensure_label"),
        permissions: host.calls("permission"),
        comments: host.calls("upsert_comment"),
        host_total: host.total_calls(),
        backend_total: world.backend.total_calls(),
        builds: world.builder.calls(),
    }
}

fn reset(world: &World) {
    world.host.reset_counts();
    world.backend.reset_counts();
    world.builder.reset_counts();
}

fn maxime() -> Option<Login> {
    "maxime".parse().ok()
}

const HEAD: &str = "aaaaaaa111111111111111111111111111111111";
const NEXT: &str = "bbbbbbb222222222222222222222222222222222";

/// A world with PR #1 running an environment, and the engine's label
/// definitions already made (as in a long-running server).
async fn running(world: &World) -> PrNumber {
    world.host.set_permission("maxime", Permission::Write);
    let pr = world.open_pr(1, HEAD, "maxime", &["testenv-up"]);
    let engine = world.engine();
    let _ = engine.reconcile(pr, Event::Look, maxime()).await;
    pr
}

/// Runs every flow once and counts its calls. `sweep_sizes` are the numbers
/// of PRs (each with a running environment) the sweep flows go over.
pub async fn measure(sweep_sizes: &[u64]) -> Vec<FlowCount> {
    let mut out = Vec::new();

    let world = World::new();
    world.host.set_permission("maxime", Permission::Write);
    let pr = world.open_pr(1, HEAD, "maxime", &["🎪 ⚡ showtime-trigger-start"]);
    let _ = world.engine().reconcile(pr, Event::Look, maxime()).await;
    out.push(count(&world, "create (trigger → running)"));

    let world = World::new();
    let pr = running(&world).await;
    world.host.edit_pr(pr, |p| {
        p.head_sha = NEXT.parse().unwrap_or(p.head_sha.clone())
    });
    reset(&world);
    let _ = world.engine().reconcile(pr, Event::Push, maxime()).await;
    out.push(count(&world, "rolling update (push → new running)"));

    let world = World::new();
    let pr = running(&world).await;
    reset(&world);
    let _ = world
        .engine()
        .reconcile(pr, Event::Command(SlashCommand::Destroy), maxime())
        .await;
    out.push(count(&world, "stop (/circus destroy)"));

    let world = World::new();
    let pr = running(&world).await;
    reset(&world);
    let _ = world
        .engine()
        .reconcile(pr, Event::Command(SlashCommand::Status), maxime())
        .await;
    out.push(count(&world, "status (/circus status)"));

    let world = World::new();
    let pr = running(&world).await;
    reset(&world);
    let enable = SlashCommand::Enable("ALERTS".parse().expect("a valid flag name"));
    let _ = world
        .engine()
        .reconcile(pr, Event::Command(enable), maxime())
        .await;
    out.push(count(&world, "configure (/circus enable ALERTS)"));

    for &n in sweep_sizes {
        let mut world = World::new();
        world.policy.quota_total = None;
        world.policy.quota_per_requester = None;
        world.host.set_permission("maxime", Permission::Write);
        let engine = world.engine();
        for i in 1..=n {
            let pr = world.open_pr(i, HEAD, "maxime", &["testenv-up"]);
            let _ = engine.reconcile(pr, Event::Look, maxime()).await;
        }
        reset(&world);
        let _ = world.engine().sweep(false).await;
        out.push(count(&world, format!("sweep over {n} PRs, nothing to do")));
    }
    out
}

/// The counts as a Markdown table.
pub fn table(counts: &[FlowCount]) -> String {
    let mut out = String::from(
        "| flow | PR reads | PR lists | label adds | label removes | label definitions | \
         permission | comment | GitHub total | backend | builds |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for c in counts {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            c.flow,
            c.pr_reads,
            c.pr_lists,
            c.label_adds,
            c.label_removes,
            c.label_definitions,
            c.permissions,
            c.comments,
            c.host_total,
            c.backend_total,
            c.builds
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts() -> Vec<FlowCount> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        runtime.block_on(measure(&[10, 100]))
    }

    #[test]
    fn flows_stay_within_their_request_budget() {
        let counts = counts();
        let flow = |prefix: &str| {
            counts
                .iter()
                .find(|c| c.flow.starts_with(prefix))
                .cloned()
                .expect("flow measured")
        };
        let create = flow("create");
        // One read per round: the build round and the activation round.
        assert_eq!(create.pr_reads, 2);
        assert_eq!(create.permissions, 1, "looked up once per run");
        assert_eq!(create.builds, 1);
        let status = flow("status");
        assert_eq!((status.host_total, status.backend_total), (3, 0));
        // A sweep that finds nothing to do costs the same for 10 PRs as for 100.
        let (small, large) = (flow("sweep over 10 "), flow("sweep over 100 "));
        assert_eq!(small.host_total, large.host_total);
        assert_eq!((small.pr_reads, large.pr_reads), (0, 0));
        assert_eq!(large.backend_total, 1);
    }
}
