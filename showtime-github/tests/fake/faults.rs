//! Rate-limit budgets and injected faults.

use super::*;

#[tokio::test]
async fn rate_limit_headers_decrement_and_run_out() {
    let (fake, github) = start().await;
    fake.add_pull_request(FakePr::new(1));
    let first = send(&github, "GET", "/repos/acme/shop/pulls/1", None).await;
    let second = send(&github, "GET", "/repos/acme/shop/pulls/1", None).await;
    let remaining = |raw: &Raw| {
        raw.header("x-ratelimit-remaining")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap()
    };
    assert_eq!(first.header("x-ratelimit-limit"), Some("5000"));
    assert_eq!(remaining(&first), 4999);
    assert_eq!(remaining(&second), 4998);
    assert_eq!(second.header("x-ratelimit-used"), Some("2"));
    assert_eq!(second.header("x-ratelimit-resource"), Some("core"));
    let reset: i64 = second.header("x-ratelimit-reset").unwrap().parse().unwrap();
    assert!(
        reset > chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now()).timestamp()
    );
    // Errors carry them too.
    let missing = send(&github, "GET", "/repos/acme/shop/pulls/2", None).await;
    assert_eq!(remaining(&missing), 4997);

    fake.set_rate_limit_remaining(1);
    assert_eq!(
        send(&github, "GET", "/repos/acme/shop/pulls/1", None)
            .await
            .status,
        200
    );
    let limited = send(&github, "GET", "/repos/acme/shop/pulls/1", None).await;
    assert_eq!(limited.status, 403);
    assert_eq!(limited.header("x-ratelimit-remaining"), Some("0"));
    assert!(
        limited.body["message"]
            .as_str()
            .unwrap()
            .starts_with("API rate limit exceeded for")
    );
    assert_eq!(fake.rate_limit_remaining(), 0);

    // GraphQL has its own budget and resource name.
    fake.define_label("l", "ededed", None);
    let graphql = send(
        &github,
        "POST",
        "/graphql",
        Some(
            json!({ "query": "query($owner: String!, $name: String!, $label: String!) { \
                                repository(owner: $owner, name: $name) { \
                                label(name: $label) { issues { totalCount } } } }",
                     "variables": { "owner": OWNER, "name": REPO, "label": "l" } }),
        ),
    )
    .await;
    assert_eq!(graphql.status, 200);
    assert_eq!(
        graphql.body["data"]["repository"]["label"]["issues"]["totalCount"],
        0
    );
    assert_eq!(graphql.header("x-ratelimit-resource"), Some("graphql"));
    assert_eq!(graphql.header("x-ratelimit-remaining"), Some("4999"));
}

#[tokio::test]
async fn injected_server_error_then_success() {
    let (fake, github) = start().await;
    fake.add_pull_request(FakePr::new(1));
    fake.inject(Fault::status(502).method("GET").path_contains("/pulls/1"));

    let failed = send(&github, "GET", "/repos/acme/shop/pulls/1", None).await;
    assert_eq!(failed.status, 502);
    assert_eq!(failed.body["message"], "Server Error");
    assert!(failed.header("x-ratelimit-remaining").is_some());
    let served = send(&github, "GET", "/repos/acme/shop/pulls/1", None).await;
    assert_eq!(served.status, 200);
    let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [502, 200]);

    // Typed calls see the error; `times` repeats it; non-matching requests pass.
    fake.inject(Fault::status(500).path_contains("/pulls/1").times(2));
    assert_eq!(
        send(&github, "GET", "/repos/acme/shop/labels", None)
            .await
            .status,
        200
    );
    assert!(github.pulls(OWNER, REPO).get(1).await.is_err());
    assert!(github.pulls(OWNER, REPO).get(1).await.is_err());
    assert!(github.pulls(OWNER, REPO).get(1).await.is_ok());

    fake.inject(Fault::status(503).times(5));
    fake.clear_faults();
    assert_eq!(
        send(&github, "GET", "/repos/acme/shop/pulls/1", None)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn rate_limit_faults() {
    let (fake, github) = start().await;
    fake.add_pull_request(FakePr::new(1));

    fake.inject(Fault::secondary_rate_limit(403, 7).method("post"));
    let body = Some(json!({ "labels": ["x"] }));
    let secondary = send(
        &github,
        "POST",
        "/repos/acme/shop/issues/1/labels",
        body.clone(),
    )
    .await;
    assert_eq!(secondary.status, 403);
    assert_eq!(secondary.header("retry-after"), Some("7"));
    assert!(
        secondary.body["message"]
            .as_str()
            .unwrap()
            .starts_with("You have exceeded a secondary rate limit")
    );
    assert!(fake.labels(1).is_empty(), "a faulted request is not served");
    assert_eq!(
        send(&github, "POST", "/repos/acme/shop/issues/1/labels", body)
            .await
            .status,
        200
    );

    fake.inject(Fault::secondary_rate_limit(429, 3));
    let too_many = send(&github, "GET", "/repos/acme/shop/pulls/1", None).await;
    assert_eq!(too_many.status, 429);
    assert_eq!(too_many.header("retry-after"), Some("3"));

    fake.inject(Fault::primary_rate_limit(1_900_000_000));
    let primary = send(&github, "GET", "/repos/acme/shop/pulls/1", None).await;
    assert_eq!(primary.status, 403);
    assert_eq!(primary.header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(primary.header("x-ratelimit-reset"), Some("1900000000"));
    assert!(
        primary.body["message"]
            .as_str()
            .unwrap()
            .starts_with("API rate limit exceeded")
    );

    fake.inject(Fault::status(418).body(json!({ "message": "custom" })));
    assert_eq!(
        send(&github, "GET", "/", None).await.body["message"],
        "custom"
    );
}

#[tokio::test]
async fn latency_faults_delay_then_serve() {
    let (fake, github) = start().await;
    fake.add_pull_request(FakePr::new(1));
    fake.inject(Fault::delay(Duration::from_millis(250)).path_contains("/pulls/1"));
    let started = Instant::now();
    let slow = send(&github, "GET", "/repos/acme/shop/pulls/1", None).await;
    assert_eq!(slow.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(250));
    let started = Instant::now();
    send(&github, "GET", "/repos/acme/shop/pulls/1", None).await;
    assert!(started.elapsed() < Duration::from_millis(250));
}
