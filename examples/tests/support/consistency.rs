//! What must hold of a PR after one more reconcile, whatever happened
//! before: its labels describe exactly what the backend runs.

use std::collections::BTreeSet;

use showtime_core::Status;
use showtime_core::comment::MARKER;
use showtime_core::labels::Codec;
use showtime_core::ports::Backend;

use super::site::Site;

/// What a PR's environment may be once everything has settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// One environment, serving this commit (seven characters).
    Serving(&'static str),
    /// `failed` at this commit (after a permanent fault).
    Failed(&'static str),
    /// No environment.
    Nothing,
}

/// Checks PR `pr` of `site`; returns every broken promise, one per line.
///
/// * labels that parse, without anomalies;
/// * labels that describe exactly what the backend runs: no environment
///   without labels, no labels without an environment (except `failed`);
/// * at most one `🎯`;
/// * one status comment;
/// * one of the outcomes `expect`.
pub async fn check(site: &Site, pr: u64, expect: &[Outcome]) -> Result<(), String> {
    let labels = site.fake.labels(pr);
    let state = Codec::default().parse(&labels);
    let mut broken = Vec::new();
    if !state.anomalies.is_empty() {
        broken.push(format!("anomalies: {:?}", state.anomalies));
    }
    let targets = labels.iter().filter(|l| l.starts_with("🎪 🎯")).count();
    if targets > 1 {
        broken.push(format!("{targets} 🎯 labels"));
    }
    let running: BTreeSet<String> = match site.backend().list(None).await {
        Ok(envs) => envs.iter().map(|e| e.id.name()).collect(),
        Err(e) => return Err(format!("the backend cannot be listed: {e}")),
    };
    let labelled: BTreeSet<String> = state
        .environments
        .keys()
        .map(|sha| format!("pr-{pr}-{sha}"))
        .collect();
    let failed: BTreeSet<String> = state
        .environments
        .iter()
        .filter(|(_, env)| env.status == Some(Status::Failed))
        .map(|(sha, _)| format!("pr-{pr}-{sha}"))
        .collect();
    for name in running.difference(&labelled) {
        broken.push(format!("{name} runs without labels"));
    }
    for name in labelled.difference(&running) {
        if !failed.contains(name) {
            broken.push(format!("{name} is labelled but does not run"));
        }
    }
    let comments = site
        .fake
        .comments(pr)
        .iter()
        .filter(|c| c.body.starts_with(MARKER))
        .count();
    if comments != 1 {
        broken.push(format!("{comments} status comments"));
    }
    let status_of = |sha: &str| {
        state
            .environments
            .iter()
            .find(|(short, _)| short.to_string() == sha)
            .and_then(|(_, env)| env.status)
    };
    let serving = |sha: &str| {
        status_of(sha) == Some(Status::Running)
            && state.active.as_ref().is_some_and(|a| a.to_string() == sha)
            && running == BTreeSet::from([format!("pr-{pr}-{sha}")])
    };
    let reached = |outcome: &Outcome| match *outcome {
        Outcome::Serving(sha) => serving(sha),
        Outcome::Failed(sha) => status_of(sha) == Some(Status::Failed),
        Outcome::Nothing => state.environments.is_empty() && running.is_empty(),
    };
    if !expect.iter().any(reached) {
        broken.push(format!("expected one of {expect:?}"));
    }
    if broken.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}\n  labels: {labels:?}\n  backend: {running:?}",
            broken.join("\n")
        ))
    }
}
