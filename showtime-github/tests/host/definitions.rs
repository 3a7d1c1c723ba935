//! Label-definition clean-up: which definitions are attached anywhere, 50
//! names a GraphQL query, and deleting a definition.

use super::*;

#[tokio::test]
async fn labels_in_use_asks_fifty_names_a_query() {
    let fake = fake().await;
    let mut names = Vec::new();
    let mut in_use = std::collections::BTreeSet::new();
    for i in 0..120u64 {
        let name = format!("🎪 t{i}");
        match i % 4 {
            // On an open PR, or on a closed issue.
            0 => seed_pr(&fake, 1000 + i, &[&name]),
            1 => {
                fake.add_issue(1000 + i, "bob", &[&name]);
                fake.set_state(1000 + i, FakeState::Closed);
            }
            // Defined, on nothing.
            2 => fake.define_label(&name, "ededed", None),
            // Not defined.
            _ => {}
        }
        if i % 4 < 2 {
            in_use.insert(name.clone());
        }
        names.push(name);
    }
    let host = host(&fake);
    fake.clear_requests();
    assert_eq!(host.labels_in_use(&names).await.unwrap(), in_use);
    assert_eq!(fake.requests().len(), 3, "⌈120 / 50⌉ queries");
    assert_eq!(fake.count_graphql("repository"), 3);
    assert_eq!(fake.count_graphql_mutations(), 0);

    // Spelled as asked; nothing to ask sends nothing.
    fake.clear_requests();
    let upper = vec!["🎪 T0".to_owned(), "🎪 T2".to_owned()];
    assert_eq!(
        host.labels_in_use(&upper).await.unwrap(),
        std::collections::BTreeSet::from(["🎪 T0".to_owned()])
    );
    assert!(host.labels_in_use(&[]).await.unwrap().is_empty());
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn delete_label_removes_a_definition_and_a_missing_one_is_done() {
    let fake = fake().await;
    seed_pr(&fake, 1, &["🎪 abc1234 📅 2024-01-01T00-00", "bug"]);
    let host = host(&fake);
    host.pull_request(pr(1)).await.unwrap();
    fake.clear_requests();
    host.delete_label("🎪 abc1234 📅 2024-01-01T00-00")
        .await
        .unwrap();
    assert_eq!(
        log(&fake),
        ["DELETE /repos/acme/widgets/labels/🎪 abc1234 📅 2024-01-01T00-00"]
    );
    assert_eq!(fake.labels(1), ["bug"], "deleting detaches it");
    host.delete_label("never defined").await.unwrap();
    assert_eq!(fake.requests().len(), 2);

    // Its id is forgotten: adding the name again defines it anew by POST.
    fake.clear_requests();
    host.change_labels(pr(1), &["🎪 abc1234 📅 2024-01-01T00-00".to_owned()], &[])
        .await
        .unwrap();
    assert_eq!(log(&fake), ["POST /repos/acme/widgets/issues/1/labels"]);
}

#[tokio::test]
async fn delete_label_if_unused_is_one_query_and_one_delete() {
    let fake = fake().await;
    fake.define_label("🎪 def5678 📅 2024-01-01T00-00", "ededed", None);
    let host = host(&fake);
    assert!(
        host.delete_label_if_unused("🎪 def5678 📅 2024-01-01T00-00")
            .await
            .unwrap()
    );
    assert_eq!(log(&fake).len(), 2);
    assert_eq!(fake.count_graphql("repository"), 1);
}
