//! Conditional requests: `ETag` on every JSON `GET`, `304 Not Modified`
//! for a matching `If-None-Match`, free of rate-limit budget.

use super::*;

fn if_none_match(tag: &str) -> Option<http::HeaderMap> {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::IF_NONE_MATCH,
        tag.parse().expect("header value"),
    );
    Some(headers)
}

async fn get_if(github: &Octocrab, path: &str, tag: &str) -> Raw {
    send_with(github, "GET", path, None, if_none_match(tag)).await
}

fn remaining(raw: &Raw) -> u64 {
    raw.header("x-ratelimit-remaining")
        .and_then(|v| v.parse().ok())
        .expect("remaining")
}

#[tokio::test]
async fn a_matching_if_none_match_is_a_free_304_without_body() {
    let (fake, github) = start().await;
    fake.add_pull_request(pr(1, &["a"]));
    let path = "/repos/acme/shop/pulls/1";

    let first = send(&github, "GET", path, None).await;
    let tag = first.header("etag").expect("an ETag").to_owned();
    assert!(
        tag.starts_with('"') && tag.ends_with('"') && tag.len() == 66,
        "{tag}"
    );
    assert_eq!(remaining(&first), 4999);

    let again = get_if(&github, path, &tag).await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_null(), "no body");
    assert_eq!(again.header("etag"), Some(tag.as_str()));
    assert_eq!(remaining(&again), 4999, "a 304 costs nothing");
    assert_eq!(fake.rate_limit_remaining(), 4999);

    // Weak form, lists and `*` match too; another tag does not.
    for header in [
        format!("W/{tag}"),
        format!("\"other\", {tag}"),
        "*".to_owned(),
    ] {
        assert_eq!(get_if(&github, path, &header).await.status, 304, "{header}");
    }
    let miss = get_if(&github, path, "\"other\"").await;
    assert_eq!((miss.status, remaining(&miss)), (200, 4998));

    // A change gives a new tag, and the old one reads in full.
    fake.add_labels_as_person(1, &["b"]);
    let changed = get_if(&github, path, &tag).await;
    assert_eq!(changed.status, 200);
    assert_eq!(changed.body["labels"].as_array().map(Vec::len), Some(2));
    assert_ne!(changed.header("etag"), Some(tag.as_str()));
    assert_eq!(remaining(&changed), 4997);

    let log = fake.requests();
    let statuses: Vec<u16> = log.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 304, 304, 304, 304, 200, 200]);
    assert_eq!(log[1].if_none_match.as_deref(), Some(tag.as_str()));
    assert!(log[0].if_none_match.is_none());
    assert!(log[1].not_modified() && !log[0].not_modified());
    assert_eq!(fake.count_not_modified(), 4);
}

#[tokio::test]
async fn every_json_get_has_an_etag_and_nothing_else_does() {
    let (fake, github) = start().await;
    fake.add_pull_request(pr(1, &["a"]));
    for path in [
        "/repos/acme/shop/pulls?state=all",
        "/repos/acme/shop/issues/1",
        "/repos/acme/shop/issues/1/labels",
        "/repos/acme/shop/issues/1/comments",
        "/repos/acme/shop/labels",
        "/repos/acme/shop/labels/a",
        "/repos/acme/shop",
        "/rate_limit",
    ] {
        let raw = send(&github, "GET", path, None).await;
        let tag = raw
            .header("etag")
            .unwrap_or_else(|| panic!("{path}: no ETag"))
            .to_owned();
        let hit = get_if(&github, path, &tag).await;
        assert_eq!(hit.status, 304, "{path}");
    }
    let missing = send(&github, "GET", "/repos/acme/shop/pulls/9", None).await;
    assert_eq!(missing.status, 404);
    assert!(missing.header("etag").is_none());
    let posted = send(
        &github,
        "POST",
        "/repos/acme/shop/issues/1/labels",
        Some(json!({ "labels": ["b"] })),
    )
    .await;
    assert!(posted.header("etag").is_none());

    // Pages of a listing have tags of their own.
    for n in 2..=4 {
        fake.add_pull_request(FakePr::new(n));
    }
    let one = send(
        &github,
        "GET",
        "/repos/acme/shop/pulls?per_page=2&page=1",
        None,
    )
    .await;
    let two = send(
        &github,
        "GET",
        "/repos/acme/shop/pulls?per_page=2&page=2",
        None,
    )
    .await;
    assert_ne!(one.header("etag"), two.header("etag"));
    let tag = one.header("etag").unwrap().to_owned();
    assert_eq!(
        get_if(&github, "/repos/acme/shop/pulls?per_page=2&page=2", &tag)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn an_exhausted_budget_still_refuses_conditional_requests() {
    let (fake, github) = start().await;
    fake.add_pull_request(pr(1, &[]));
    let first = send(&github, "GET", "/repos/acme/shop/pulls/1", None).await;
    let tag = first.header("etag").unwrap().to_owned();
    fake.set_rate_limit_remaining(1);
    let hit = get_if(&github, "/repos/acme/shop/pulls/1", &tag).await;
    assert_eq!((hit.status, remaining(&hit)), (304, 1));
    fake.set_rate_limit_remaining(0);
    let limited = get_if(&github, "/repos/acme/shop/pulls/1", &tag).await;
    assert_eq!(limited.status, 403);
}
