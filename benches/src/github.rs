//! GitHub requests per PR-host operation, counted from the fake GitHub's log.
//!
//! [`measure`] runs each operation of [`GitHubHost`] once against a fresh
//! [`FakeGitHub`] over real HTTP and counts the requests the server saw.

use showtime_core::PrNumber;
use showtime_core::ports::{CommentAt, PrHost};
use showtime_github::fake::{FakeGitHub, FakePr};
use showtime_github::{Auth, GitHubConfig, GitHubHost};

/// The requests one operation made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationCount {
    /// The operation, with its input size.
    pub operation: String,
    /// Requests the fake GitHub answered.
    pub requests: usize,
    /// The budget the adapter promises for it.
    pub budget: usize,
}

fn host(fake: &FakeGitHub) -> Result<GitHubHost, String> {
    let config = GitHubConfig::new("acme/widgets", Auth::Token("t".into()))
        .map_err(|e| e.to_string())?
        .with_api_url(&fake.url());
    GitHubHost::new(config).map_err(|e| e.to_string())
}

fn pr(n: u64) -> PrNumber {
    PrNumber::new(n).unwrap_or_else(|| unreachable!("fixture numbers are positive"))
}

/// Runs every operation once and counts its requests.
pub async fn measure() -> Result<Vec<OperationCount>, String> {
    let fake = FakeGitHub::start("acme", "widgets")
        .await
        .map_err(|e| e.to_string())?;
    for n in 1..=250 {
        fake.add_pull_request(FakePr {
            labels: vec!["🎪 ⌛ 48h".to_owned(), "bug".to_owned()],
            ..FakePr::new(n)
        });
    }
    for i in 0..250 {
        fake.define_label(&format!("label {i}"), "ededed", None);
    }
    for i in 0..150 {
        fake.add_comment(1, "someone", &format!("comment {i}"));
    }
    fake.set_permission("maxime", "write");
    fake.set_team_membership("acme/committers", "maxime", Some("active"));
    let host = host(&fake)?;
    let mut out = Vec::new();
    let mut record = |operation: &str, budget: usize| {
        out.push(OperationCount {
            operation: operation.to_owned(),
            requests: fake.requests().len(),
            budget,
        });
        fake.clear_requests();
    };
    let e = |e: showtime_core::ports::PortError| e.to_string();
    fake.clear_requests();

    host.pull_request(pr(1)).await.map_err(e)?;
    record("read one PR with labels, head, state, body", 1);
    host.pull_request(pr(1)).await.map_err(e)?;
    record("read the same PR again, unchanged (a free `304`)", 1);
    let open = host.open_pull_requests().await.map_err(e)?;
    record(&format!("list all {} open PRs with labels", open.len()), 3);
    host.open_pull_requests().await.map_err(e)?;
    record("list them again, unchanged (free `304`s)", 3);
    let labels: Vec<String> = (0..8).map(|i| format!("🎪 label {i}")).collect();
    host.add_labels(pr(1), &labels).await.map_err(e)?;
    record("add 8 labels", 1);
    host.remove_label(pr(1), "🎪 label 0").await.map_err(e)?;
    record("remove one label", 1);
    host.remove_label(pr(1), "🎪 label 0").await.map_err(e)?;
    record("remove a label not on the PR", 1);
    let maxime = "maxime"
        .parse()
        .map_err(|e: showtime_core::Error| e.to_string())?;
    host.permission(&maxime).await.map_err(e)?;
    record("a user's permission", 1);
    let committers: showtime_core::Team = "acme/committers"
        .parse()
        .map_err(|e: showtime_core::Error| e.to_string())?;
    host.team_membership(&committers, &maxime)
        .await
        .map_err(e)?;
    record("a team membership", 1);
    host.team_membership(&committers, &maxime)
        .await
        .map_err(e)?;
    record("the same team membership again (remembered)", 0);
    let marker = "<!-- showtime:status -->";
    let id = host
        .upsert_comment(pr(1), CommentAt::Unknown, marker, &format!("{marker} one"))
        .await
        .map_err(e)?;
    record(
        "status comment, place unknown, PR with 150 comments (search, post)",
        3,
    );
    host.upsert_comment(pr(1), CommentAt::Unknown, marker, &format!("{marker} two"))
        .await
        .map_err(e)?;
    record("status comment, afterwards (id remembered)", 1);
    self::host(&fake)?
        .upsert_comment(pr(1), CommentAt::Id(id), marker, &format!("{marker} 3"))
        .await
        .map_err(e)?;
    record(
        "status comment, another process (id from the `💬` label)",
        1,
    );
    self::host(&fake)?
        .upsert_comment(pr(4), CommentAt::Nowhere, marker, &format!("{marker} 4"))
        .await
        .map_err(e)?;
    record("status comment, PR without comments", 1);
    host.ensure_label("🎪 🚦 running", "28a745", "Status: healthy and serving")
        .await
        .map_err(e)?;
    record("define a new label", 1);
    host.ensure_label("🎪 🚦 running", "28a745", "Status: healthy and serving")
        .await
        .map_err(e)?;
    record("define an existing label (create, then update)", 2);
    let defined = host.repository_labels().await.map_err(e)?;
    record(&format!("list all {} label definitions", defined.len()), 3);
    host.delete_label_if_unused("label 7").await.map_err(e)?;
    record("delete an unused label definition", 2);
    host.delete_label("label 8").await.map_err(e)?;
    record("delete a label definition", 1);
    let names: Vec<String> = (0..120).map(|i| format!("label {i}")).collect();
    host.labels_in_use(&names).await.map_err(e)?;
    record("which of 120 label definitions are in use", 3);
    host.delete_labels(&names[20..40]).await.map_err(e)?;
    record(
        "delete 20 definitions whose ids are known (one `deleteLabel` document)",
        1,
    );

    // Label transitions on PR 2, read first as the engine does.
    let old: Vec<String> = ["🎪 🚦 building", "🎪 🏗️ abc1234", "🎪 ⌛ 48h"]
        .map(str::to_owned)
        .to_vec();
    let new: Vec<String> = ["🎪 🚦 running", "🎪 🎯 abc1234"]
        .map(str::to_owned)
        .to_vec();
    host.add_labels(pr(2), &old).await.map_err(e)?;
    for label in &new {
        host.ensure_label(label, "28a745", "Showtime")
            .await
            .map_err(e)?;
    }
    host.pull_request(pr(2)).await.map_err(e)?;
    fake.clear_requests();
    host.change_labels(pr(2), &new, &old).await.map_err(e)?;
    record("label transition: 3 removed, 2 added", 1);
    let dated = vec!["🎪 abc1234 📅 2024-01-01T00-00".to_owned()];
    host.change_labels(pr(2), &dated, &new[..1])
        .await
        .map_err(e)?;
    record(
        "label transition adding a label never defined (`POST`, then the removal)",
        2,
    );
    let fresh = self::host(&fake)?;
    fresh.change_labels(pr(3), &new, &old).await.map_err(e)?;
    record(
        "label transition on a PR this process never read (look-up, then 1)",
        2,
    );
    fake.refuse_graphql_mutations();
    host.change_labels(pr(2), &old, &new).await.map_err(e)?;
    record(
        "label transition, GraphQL mutations refused (the refused document, `POST`, 2 `DELETE`s)",
        4,
    );
    host.change_labels(pr(2), &new, &old).await.map_err(e)?;
    record(
        "label transition, refusal remembered (`POST`, 3 `DELETE`s)",
        4,
    );
    fake.shutdown().await;
    Ok(out)
}

/// The counts as a Markdown table.
pub fn table(counts: &[OperationCount]) -> String {
    let mut out = String::from("| operation | requests | budget |\n|---|---|---|\n");
    for c in counts {
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            c.operation, c.requests, c.budget
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_operation_stays_within_its_budget() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let counts = runtime.block_on(super::measure()).expect("measured");
        assert_eq!(counts.len(), 26);
        for count in counts {
            assert!(count.requests <= count.budget, "{count:?}");
        }
    }
}
