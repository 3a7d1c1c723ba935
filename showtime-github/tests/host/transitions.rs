//! Label transitions (`change_labels`): one GraphQL document when the node
//! ids are known, REST `POST` for labels never defined, the cheapest way for
//! a PR never read, REST when the server refuses the mutations (remembered),
//! and a person's label surviving every way.

use super::*;

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

const OLD: [&str; 3] = ["🎪 🚦 building", "🎪 🏗️ abc123f", "🎪 ⌛ 48h"];
const NEW: [&str; 2] = ["🎪 🚦 running", "🎪 🎯 abc123f"];

/// A PR carrying [`OLD`] and `bug`, the [`NEW`] labels defined through the
/// host (as the engine defines what it writes), and the PR read once.
async fn prepared(fake: &FakeGitHub, host: &GitHubHost) {
    seed_pr(fake, 1, &[OLD[0], OLD[1], OLD[2], "bug"]);
    for label in NEW {
        host.ensure_label(label, "28a745", "Showtime")
            .await
            .unwrap();
    }
    host.pull_request(pr(1)).await.unwrap();
    fake.clear_requests();
}

#[tokio::test]
async fn three_removals_and_two_additions_are_one_request() {
    let fake = fake().await;
    let host = host(&fake);
    prepared(&fake, &host).await;
    let core = fake.rate_limit_remaining();

    host.change_labels(pr(1), &strings(&NEW), &strings(&OLD))
        .await
        .unwrap();
    assert_eq!(log(&fake), ["POST /graphql"]);
    let call = fake.requests()[0].graphql.clone().unwrap();
    assert_eq!(
        call.fields,
        ["removeLabelsFromLabelable", "addLabelsToLabelable"]
    );
    assert_eq!(fake.labels(1), ["bug", NEW[0], NEW[1]]);
    assert_eq!(
        fake.rate_limit_remaining(),
        core,
        "GraphQL has its own budget"
    );

    // Repeating it changes nothing, in one request again; nothing to do
    // sends nothing.
    host.change_labels(pr(1), &strings(&NEW), &strings(&OLD))
        .await
        .unwrap();
    host.change_labels(pr(1), &[], &[]).await.unwrap();
    assert_eq!(fake.requests().len(), 2);
    assert_eq!(fake.labels(1), ["bug", NEW[0], NEW[1]]);
    assert!(fake.requests().iter().all(|r| r.method != "PUT"));
}

#[tokio::test]
async fn a_label_never_defined_goes_by_post_before_the_document() {
    let fake = fake().await;
    seed_pr(&fake, 1, &[OLD[0], OLD[2]]);
    let host = host(&fake);
    host.pull_request(pr(1)).await.unwrap();
    fake.clear_requests();

    let created = "🎪 abc123f 📅 2024-01-01T00-00";
    host.change_labels(
        pr(1),
        &strings(&[created, NEW[0]]),
        &strings(&[OLD[0], OLD[2]]),
    )
    .await
    .unwrap();
    assert_eq!(
        log(&fake),
        ["POST /repos/acme/widgets/issues/1/labels", "POST /graphql"]
    );
    assert_eq!(fake.labels(1), [created, NEW[0]]);

    // The `POST` answered the new ids, and the PR read the old: the way
    // back is one request.
    fake.clear_requests();
    host.change_labels(pr(1), &strings(&[OLD[0]]), &strings(&[NEW[0]]))
        .await
        .unwrap();
    assert_eq!(log(&fake), ["POST /graphql"]);
    assert_eq!(fake.labels(1), [created, OLD[0]]);

    // Only labels never defined: one `POST`.
    fake.clear_requests();
    host.change_labels(pr(1), &strings(&["🎪 🤡 maxime"]), &[])
        .await
        .unwrap();
    assert_eq!(log(&fake), ["POST /repos/acme/widgets/issues/1/labels"]);
}

#[tokio::test]
async fn refused_mutations_go_by_rest_and_the_refusal_is_remembered() {
    let fake = fake().await;
    // An older GitHub Enterprise Server: REST under /api/v3, GraphQL
    // without the label mutations.
    let host = GitHubHost::new(config(fake.ghes_url().trim_end_matches('/'))).unwrap();
    prepared(&fake, &host).await;
    fake.refuse_graphql_mutations();

    host.change_labels(pr(1), &strings(&NEW), &strings(&OLD))
        .await
        .unwrap();
    assert_eq!(fake.labels(1), ["bug", NEW[0], NEW[1]]);
    // The refused document, then one POST and one DELETE per removal.
    assert_eq!(fake.count_graphql_mutations(), 1);
    assert_eq!(fake.count("POST", "/repos/acme/widgets/issues/1/labels"), 1);
    assert_eq!(
        fake.count("DELETE", "/repos/acme/widgets/issues/1/labels/"),
        3
    );
    assert_eq!(fake.requests().len(), 5);

    // Remembered: the way back is REST alone.
    fake.clear_requests();
    host.change_labels(pr(1), &strings(&OLD), &strings(&NEW))
        .await
        .unwrap();
    assert_eq!(fake.count_graphql_mutations(), 0);
    assert_eq!(fake.requests().len(), 1 + 2);
    let labels = fake.labels(1);
    assert_eq!(labels.len(), 4);
    assert!(OLD.iter().all(|l| labels.contains(&(*l).to_owned())));
    assert!(fake.requests().iter().all(|r| r.method != "PUT"));
}

#[tokio::test]
async fn a_label_a_person_adds_meanwhile_survives() {
    let fake = fake().await;
    let host = host(&fake);
    prepared(&fake, &host).await;
    // Showtime read the PR; a person labels it before the transition.
    fake.add_labels_as_person(1, &["needs review"]);
    host.change_labels(pr(1), &strings(&NEW), &strings(&OLD))
        .await
        .unwrap();
    assert_eq!(fake.requests().len(), 1);
    assert_eq!(fake.labels(1), ["bug", "needs review", NEW[0], NEW[1]]);

    // And by REST.
    fake.refuse_graphql_mutations();
    fake.add_labels_as_person(1, &["ready"]);
    host.change_labels(pr(1), &strings(&OLD), &strings(&NEW))
        .await
        .unwrap();
    let labels = fake.labels(1);
    assert!(labels.contains(&"needs review".to_owned()), "{labels:?}");
    assert!(labels.contains(&"ready".to_owned()), "{labels:?}");
}

#[tokio::test]
async fn a_pr_never_read_takes_the_cheapest_way() {
    let fake = fake().await;
    seed_pr(&fake, 1, &[OLD[0], OLD[1], OLD[2], "bug"]);
    for label in NEW {
        fake.define_label(label, "28a745", None);
    }
    // Three removals and two additions: one look-up of the ids, one
    // document (2, where REST would take 4).
    host(&fake)
        .change_labels(pr(1), &strings(&NEW), &strings(&OLD))
        .await
        .unwrap();
    assert_eq!(log(&fake), ["POST /graphql", "POST /graphql"]);
    assert_eq!(fake.count_graphql_mutations(), 1);
    assert_eq!(fake.labels(1), ["bug", NEW[0], NEW[1]]);

    // One removal: one DELETE. One addition and one removal: POST and DELETE.
    fake.clear_requests();
    host(&fake)
        .change_labels(pr(1), &[], &strings(&[NEW[0]]))
        .await
        .unwrap();
    assert_eq!(
        log(&fake),
        [format!(
            "DELETE /repos/acme/widgets/issues/1/labels/{}",
            NEW[0]
        )]
    );
    fake.clear_requests();
    host(&fake)
        .change_labels(pr(1), &strings(&[NEW[0]]), &strings(&[NEW[1]]))
        .await
        .unwrap();
    assert_eq!(fake.requests().len(), 2);
    assert_eq!(fake.labels(1), ["bug", NEW[0]]);
}

#[tokio::test]
async fn unknown_prs_and_labels_behave_as_documented() {
    let fake = fake().await;
    seed_pr(&fake, 1, &["bug"]);
    let host = host(&fake);
    let missing = |result: Result<(), PortError>| {
        assert!(
            matches!(result, Err(PortError::NotFound { .. })),
            "{result:?}"
        );
    };
    // Something to add to a PR that does not exist: not found, whichever
    // way is taken (a POST; a look-up first for many removals).
    missing(host.change_labels(pr(9), &strings(&["x"]), &[]).await);
    missing(
        host.change_labels(pr(9), &strings(&["x"]), &strings(&OLD))
            .await,
    );
    // Only one removal: nothing left to remove.
    host.change_labels(pr(9), &[], &strings(&["x"]))
        .await
        .unwrap();

    // A label not on the PR, one already there, one named twice: no-ops.
    host.pull_request(pr(1)).await.unwrap();
    host.change_labels(pr(1), &strings(&["BUG", "bug"]), &strings(&["absent"]))
        .await
        .unwrap();
    // Named in both lists: it stays on.
    host.change_labels(pr(1), &strings(&["bug"]), &strings(&["bug"]))
        .await
        .unwrap();
    assert_eq!(fake.labels(1), ["bug"]);

    // A definition deleted and defined again since it was read: GitHub no
    // longer resolves the old id, so that part goes again by REST.
    host.ensure_label(NEW[0], "28a745", "Showtime")
        .await
        .unwrap();
    assert!(fake.delete_definition(NEW[0]));
    fake.define_label(NEW[0], "28a745", None);
    fake.clear_requests();
    host.change_labels(pr(1), &strings(&[NEW[0]]), &strings(&["bug"]))
        .await
        .unwrap();
    assert_eq!(fake.labels(1), [NEW[0]]);
    assert_eq!(
        log(&fake),
        ["POST /graphql", "POST /repos/acme/widgets/issues/1/labels"]
    );
}
