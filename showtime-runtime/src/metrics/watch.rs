//! Environments by status, from the labels Showtime handles anyway.
//!
//! [`LabelWatch`] wraps the PR host: every PR it reads, every listing of
//! open PRs (each sweep, the dashboard) and every label transition it writes
//! updates what it knows of each PR's 🎪 labels, and so the
//! `showtime_environments{status}` gauge. It sends no request of its own,
//! so a scrape costs GitHub nothing; and it counts what the labels say
//! (`building`, `failed`, …), which a backend listing cannot. What it knows
//! is what this process has seen: complete after a listing of open PRs
//! (the sweeper's every pass; the webhook server lists once at start, see
//! [`LabelWatch::prime`]), kept up to date by every read and write after.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use showtime_core::labels::Codec;
use showtime_core::ports::{CommentAt, Permission, PortError, PrHost, PullRequest};
use showtime_core::{CommentId, Login, PrNumber, Status};

use super::Metrics;

/// A PR host that tells [`Metrics`] how many environments are in each
/// status, from the labels passing through it.
pub struct LabelWatch {
    inner: Arc<dyn PrHost>,
    codec: Codec,
    metrics: Arc<Metrics>,
    labels: Mutex<HashMap<PrNumber, Vec<String>>>,
}

impl LabelWatch {
    /// Watches the labels `inner` reads and writes, read with `codec`.
    pub fn new(inner: Arc<dyn PrHost>, codec: Codec, metrics: Arc<Metrics>) -> Self {
        LabelWatch {
            inner,
            codec,
            metrics,
            labels: Mutex::new(HashMap::new()),
        }
    }

    /// Lists the open PRs once, so the counts are complete from the start
    /// (a process that never sweeps otherwise knows only the PRs it has
    /// touched). A failure leaves the counts to fill in as PRs are seen.
    pub async fn prime(&self) -> Result<(), PortError> {
        self.open_pull_requests().await.map(|_| ())
    }

    fn known(&self) -> std::sync::MutexGuard<'_, HashMap<PrNumber, Vec<String>>> {
        self.labels.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Recounts and hands the counts to the metrics.
    fn publish(&self, known: &HashMap<PrNumber, Vec<String>>) {
        let mut counts: HashMap<Status, usize> = HashMap::new();
        for labels in known.values() {
            let state = self.codec.parse(labels);
            for environment in state.environments.values() {
                if let Some(status) = environment.status {
                    *counts.entry(status).or_default() += 1;
                }
            }
        }
        let counts: Vec<(Status, usize)> = counts.into_iter().collect();
        self.metrics.environments(&counts);
    }

    fn saw(&self, pr: &PullRequest) {
        let mut known = self.known();
        known.insert(pr.number, pr.labels.clone());
        self.publish(&known);
    }

    fn changed(&self, pr: PrNumber, add: &[String], remove: &[String]) {
        let mut known = self.known();
        let Some(labels) = known.get_mut(&pr) else {
            // Not read by this process: the next read or listing says.
            return;
        };
        let removed = |l: &String| {
            remove.iter().any(|r| r.eq_ignore_ascii_case(l))
                && !add.iter().any(|a| a.eq_ignore_ascii_case(l))
        };
        labels.retain(|l| !removed(l));
        for label in add {
            if !labels.iter().any(|l| l.eq_ignore_ascii_case(label)) {
                labels.push(label.clone());
            }
        }
        self.publish(&known);
    }
}

#[async_trait]
impl PrHost for LabelWatch {
    async fn pull_request(&self, pr: PrNumber) -> Result<PullRequest, PortError> {
        let read = self.inner.pull_request(pr).await?;
        self.saw(&read);
        Ok(read)
    }

    async fn open_pull_requests(&self) -> Result<Vec<PullRequest>, PortError> {
        let open = self.inner.open_pull_requests().await?;
        // The whole picture: a PR no longer open is no longer counted (its
        // environments are the sweep's to destroy).
        let mut known = self.known();
        known.clear();
        for pr in &open {
            known.insert(pr.number, pr.labels.clone());
        }
        self.publish(&known);
        Ok(open)
    }

    async fn add_labels(&self, pr: PrNumber, labels: &[String]) -> Result<(), PortError> {
        self.inner.add_labels(pr, labels).await?;
        self.changed(pr, labels, &[]);
        Ok(())
    }

    async fn remove_label(&self, pr: PrNumber, label: &str) -> Result<(), PortError> {
        self.inner.remove_label(pr, label).await?;
        self.changed(pr, &[], &[label.to_owned()]);
        Ok(())
    }

    async fn permission(&self, user: &Login) -> Result<Permission, PortError> {
        self.inner.permission(user).await
    }

    async fn team_membership(
        &self,
        team: &showtime_core::Team,
        user: &Login,
    ) -> Result<bool, PortError> {
        self.inner.team_membership(team, user).await
    }

    async fn upsert_comment(
        &self,
        pr: PrNumber,
        at: CommentAt,
        marker: &str,
        body: &str,
    ) -> Result<CommentId, PortError> {
        self.inner.upsert_comment(pr, at, marker, body).await
    }

    async fn delete_comment(&self, pr: PrNumber, id: CommentId) -> Result<(), PortError> {
        self.inner.delete_comment(pr, id).await
    }

    async fn ensure_label(
        &self,
        name: &str,
        color: &str,
        description: &str,
    ) -> Result<(), PortError> {
        self.inner.ensure_label(name, color, description).await
    }

    async fn repository_labels(&self) -> Result<Vec<String>, PortError> {
        self.inner.repository_labels().await
    }

    async fn delete_label_if_unused(&self, name: &str) -> Result<bool, PortError> {
        self.inner.delete_label_if_unused(name).await
    }

    async fn change_labels(
        &self,
        pr: PrNumber,
        add: &[String],
        remove: &[String],
    ) -> Result<(), PortError> {
        self.inner.change_labels(pr, add, remove).await?;
        self.changed(pr, add, remove);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use showtime_core::testing::World;

    #[tokio::test]
    async fn statuses_follow_reads_listings_and_transitions() {
        let world = World::new();
        world.open_pr(
            1,
            "abc123f000000000000000000000000000000000",
            "a",
            &["🎪 abc123f 🚦 running", "🎪 🎯 abc123f"],
        );
        let metrics = Arc::new(Metrics::new());
        let watch = LabelWatch::new(world.host.clone(), Codec::default(), metrics.clone());
        let running = |m: &Metrics| {
            m.encode()
                .unwrap()
                .lines()
                .find(|l| l.starts_with("showtime_environments{status=\"running\"}"))
                .map(str::to_owned)
        };
        assert_eq!(
            running(&metrics).as_deref(),
            Some("showtime_environments{status=\"running\"} 0")
        );
        watch.prime().await.unwrap();
        assert_eq!(
            running(&metrics).as_deref(),
            Some("showtime_environments{status=\"running\"} 1")
        );
        let pr = PrNumber::new(1).unwrap();
        watch
            .change_labels(pr, &[], &["🎪 abc123f 🚦 running".to_owned()])
            .await
            .unwrap();
        assert_eq!(
            running(&metrics).as_deref(),
            Some("showtime_environments{status=\"running\"} 0")
        );
    }
}
