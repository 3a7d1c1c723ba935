//! Labels over REST: on issues and pull requests, and repository definitions.

use super::*;

#[tokio::test]
async fn adding_labels_is_case_insensitive_and_keeps_the_others() {
    let (fake, github) = start().await;
    fake.define_label("🎪 Feature", "0e8a16", Some("A feature"));
    fake.add_pull_request(pr(1, &["🎪 Feature", "keep-me"]));

    let added = send(
        &github,
        "POST",
        "/repos/acme/shop/issues/1/labels",
        Some(json!({ "labels": ["🎪 FEATURE", "🎪 new", "🎪 NEW"] })),
    )
    .await;
    assert_eq!(added.status, 200);
    assert_eq!(added.names(), ["🎪 Feature", "keep-me", "🎪 new"]);
    assert_eq!(added.body[0]["color"], "0e8a16");
    assert_eq!(added.body[0]["default"], false);
    assert_eq!(fake.labels(1), ["🎪 Feature", "keep-me", "🎪 new"]);
    let definitions = fake.definitions();
    assert!(definitions.contains(&("🎪 new".to_owned(), "ededed".to_owned(), None)));
    assert!(definitions.contains(&(
        "🎪 Feature".to_owned(),
        "0e8a16".to_owned(),
        Some("A feature".to_owned())
    )));

    // A bare array works too, and octocrab's typed call.
    let bare = send(
        &github,
        "POST",
        "/repos/acme/shop/issues/1/labels",
        Some(json!(["x"])),
    )
    .await;
    assert_eq!(bare.names().last().map(String::as_str), Some("x"));
    let typed = github
        .issues(OWNER, REPO)
        .add_labels(1, &["🎪 y".to_owned()])
        .await
        .expect("typed add");
    assert_eq!(typed.len(), 5);

    // Labels of a missing issue: 404.
    let missing = send(
        &github,
        "POST",
        "/repos/acme/shop/issues/9/labels",
        Some(json!({"labels": ["a"]})),
    )
    .await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn overlong_label_names_are_rejected_whole() {
    let (fake, github) = start().await;
    fake.add_pull_request(FakePr::new(1));
    let fifty = "🎪".repeat(50);
    let fifty_one = "🎪".repeat(51);

    let ok = send(
        &github,
        "POST",
        "/repos/acme/shop/issues/1/labels",
        Some(json!({ "labels": [fifty] })),
    )
    .await;
    assert_eq!(
        ok.status, 200,
        "50 scalar values are fine even at 200 bytes"
    );

    let rejected = send(
        &github,
        "POST",
        "/repos/acme/shop/issues/1/labels",
        Some(json!({ "labels": ["fine", fifty_one] })),
    )
    .await;
    assert_eq!(rejected.status, 422);
    assert_eq!(rejected.body["message"], "Validation Failed");
    assert_eq!(
        rejected.body["errors"],
        json!([{ "resource": "Label", "code": "invalid", "field": "name" }])
    );
    assert!(rejected.body["documentation_url"].is_string());
    assert_eq!(fake.labels(1), [fifty], "nothing added");
    assert_eq!(fake.definitions().len(), 1);
}

#[tokio::test]
async fn removing_labels() {
    let (fake, github) = start().await;
    fake.add_pull_request(pr(1, &["🎪 abc 🟢 running", "other"]));
    fake.define_label("unused", "ffffff", None);

    // Percent-encoded, case-insensitive; answers the remaining labels.
    let removed = send(
        &github,
        "DELETE",
        "/repos/acme/shop/issues/1/labels/%F0%9F%8E%AA%20ABC%20%F0%9F%9F%A2%20RUNNING",
        None,
    )
    .await;
    assert_eq!(removed.status, 200);
    assert_eq!(removed.names(), ["other"]);

    let absent = send(
        &github,
        "DELETE",
        "/repos/acme/shop/issues/1/labels/unused",
        None,
    )
    .await;
    assert_eq!(absent.status, 404);
    assert_eq!(absent.body["message"], "Label does not exist");
    let undefined = send(
        &github,
        "DELETE",
        "/repos/acme/shop/issues/1/labels/nope",
        None,
    )
    .await;
    assert_eq!(undefined.body["message"], "Label does not exist");
    assert_eq!(fake.labels(1), ["other"]);

    // octocrab's typed removal percent-encodes for us.
    let remaining = github
        .issues(OWNER, REPO)
        .remove_label(1, "OTHER")
        .await
        .expect("typed remove");
    assert!(remaining.is_empty());
    // The definitions stay.
    assert_eq!(fake.definitions().len(), 3);
    assert_eq!(
        fake.count("DELETE", "/repos/acme/shop/issues/1/labels/🎪 ABC"),
        1
    );
}

#[tokio::test]
async fn replacing_labels_exists_and_is_logged() {
    let (fake, github) = start().await;
    fake.add_pull_request(pr(1, &["a", "b"]));
    let replaced = send(
        &github,
        "PUT",
        "/repos/acme/shop/issues/1/labels",
        Some(json!({ "labels": ["C", "c"] })),
    )
    .await;
    assert_eq!(replaced.status, 200);
    assert_eq!(replaced.names(), ["C"]);
    assert_eq!(fake.count("PUT", "/repos/acme/shop/issues/1/labels"), 1);
    let cleared = send(&github, "DELETE", "/repos/acme/shop/issues/1/labels", None).await;
    assert_eq!(cleared.status, 204);
    assert!(fake.labels(1).is_empty());
}

#[tokio::test]
async fn deleting_a_definition_detaches_it_everywhere() {
    let (fake, github) = start().await;
    fake.add_pull_request(pr(1, &["🎪 doomed", "stay"]));
    fake.add_pull_request(FakePr {
        state: FakeState::Closed,
        ..pr(2, &["🎪 DOOMED"])
    });
    fake.add_issue(3, "bob", &["🎪 doomed"]);

    let deleted = send(
        &github,
        "DELETE",
        "/repos/acme/shop/labels/%F0%9F%8E%AA%20Doomed",
        None,
    )
    .await;
    assert_eq!(deleted.status, 204);
    assert_eq!(deleted.body, Value::Null);
    assert_eq!(fake.labels(1), ["stay"]);
    assert!(fake.labels(2).is_empty());
    assert!(fake.labels(3).is_empty());
    assert_eq!(
        fake.definitions(),
        [("stay".to_owned(), "ededed".to_owned(), None)]
    );
    assert_eq!(
        send(
            &github,
            "GET",
            "/repos/acme/shop/labels/%F0%9F%8E%AA%20doomed",
            None
        )
        .await
        .status,
        404
    );
    assert_eq!(
        send(
            &github,
            "DELETE",
            "/repos/acme/shop/labels/%F0%9F%8E%AA%20doomed",
            None
        )
        .await
        .status,
        404
    );
}

#[tokio::test]
async fn label_definitions_are_validated_like_github() {
    let (fake, github) = start().await;
    let create = |body: Value| {
        let github = github.clone();
        async move { send(&github, "POST", "/repos/acme/shop/labels", Some(body)).await }
    };

    let created =
        create(json!({ "name": "🎪 x", "color": "FF0000", "description": "d".repeat(100) })).await;
    assert_eq!(created.status, 201);
    assert_eq!(created.body["name"], "🎪 x");
    assert_eq!(created.body["color"], "ff0000");

    let long_description =
        create(json!({ "name": "y", "color": "ff0000", "description": "d".repeat(101) })).await;
    assert_eq!(long_description.status, 422);
    assert_eq!(long_description.body["errors"][0]["field"], "description");
    assert_eq!(long_description.body["errors"][0]["code"], "invalid");

    let hash_color = create(json!({ "name": "y", "color": "#ff0000" })).await;
    assert_eq!(hash_color.status, 422);
    assert_eq!(hash_color.body["errors"][0]["field"], "color");

    let long_name = create(json!({ "name": "n".repeat(51), "color": "ff0000" })).await;
    assert_eq!(long_name.status, 422);
    assert_eq!(long_name.body["errors"][0]["field"], "name");

    let duplicate = create(json!({ "name": "🎪 X", "color": "00ff00" })).await;
    assert_eq!(duplicate.status, 422);
    assert_eq!(duplicate.body["message"], "Validation Failed");
    assert_eq!(
        duplicate.body["errors"],
        json!([{ "resource": "Label", "code": "already_exists", "field": "name" }])
    );

    let missing_name = create(json!({ "color": "00ff00" })).await;
    assert_eq!(missing_name.status, 422);
    assert_eq!(fake.definitions().len(), 1);

    // Update: rename, recolour, clear the description; clashes are 422.
    create(json!({ "name": "other" })).await;
    let patched = send(
        &github,
        "PATCH",
        "/repos/acme/shop/labels/%F0%9F%8E%AA%20X",
        Some(json!({ "new_name": "🎪 renamed", "color": "abcdef", "description": null })),
    )
    .await;
    assert_eq!(patched.status, 200);
    assert_eq!(patched.body["name"], "🎪 renamed");
    assert!(patched.body["description"].is_null());
    let clash = send(
        &github,
        "PATCH",
        "/repos/acme/shop/labels/other",
        Some(json!({ "new_name": "🎪 RENAMED" })),
    )
    .await;
    assert_eq!(clash.body["errors"][0]["code"], "already_exists");
    let recase = send(
        &github,
        "PATCH",
        "/repos/acme/shop/labels/other",
        Some(json!({ "new_name": "OTHER" })),
    )
    .await;
    assert_eq!(recase.status, 200);

    let listed = send(&github, "GET", "/repos/acme/shop/labels?per_page=1", None).await;
    assert_eq!(listed.names(), ["🎪 renamed"]);
    assert_eq!(links(&listed).len(), 2);
    let typed = github
        .issues(OWNER, REPO)
        .get_label("OTHER")
        .await
        .expect("typed label");
    assert_eq!(typed.color, "ededed");
}
