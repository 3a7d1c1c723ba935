//! The server as a whole: GHES prefix, request log, permissions, comments, credentials, malformed requests, shutdown.

use super::*;

#[tokio::test]
async fn ghes_prefix_serves_every_route() {
    let (fake, _) = start().await;
    for number in 1..=3 {
        fake.add_pull_request(FakePr::new(number));
    }
    let github = client(&fake.ghes_url(), "t");
    let pull = github.pulls(OWNER, REPO).get(2).await.expect("GHES get");
    assert_eq!(pull.number, 2);
    assert!(pull.url.contains("/api/v3/repos/acme/shop/pulls/2"));

    let page = send(
        &github,
        "GET",
        "/api/v3/repos/acme/shop/pulls?per_page=1",
        None,
    )
    .await;
    assert!(
        links(&page)
            .iter()
            .all(|(_, url)| url.starts_with(&format!("{}repos/acme/shop/pulls?", fake.ghes_url())))
    );
    let typed = github
        .pulls(OWNER, REPO)
        .list()
        .per_page(1)
        .send()
        .await
        .expect("typed page");
    assert_eq!(github.all_pages(typed).await.expect("GHES pages").len(), 3);

    let requests = fake.requests();
    assert!(requests.iter().all(|r| r.ghes_prefix));
    assert_eq!(requests[0].path, "/repos/acme/shop/pulls/2");
    assert_eq!(fake.count("GET", "/repos/acme/shop/pulls"), 5);

    fake.define_label("l", "ededed", None);
    let graphql: Value = github
        .graphql(&json!({ "query": "query($owner:String!,$name:String!,$label:String!){repository(owner:$owner,name:$name){label(name:$label){issues{totalCount}pullRequests{totalCount}}}}",
                          "variables": { "owner": OWNER, "name": REPO, "label": "l" } }))
        .await
        .expect("GHES graphql");
    assert_eq!(graphql["repository"]["label"]["issues"]["totalCount"], 0);
}

#[tokio::test]
async fn request_log_records_everything() {
    let (fake, github) = start().await;
    fake.add_pull_request(FakePr::new(1));
    send(&github, "GET", "/repos/acme/shop/pulls?state=all", None).await;
    send(
        &github,
        "POST",
        "/repos/acme/shop/issues/1/labels",
        Some(json!({ "labels": ["x"] })),
    )
    .await;
    send(&github, "GET", "/repos/other/shop/pulls/1", None).await;

    let requests = fake.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].path, "/repos/acme/shop/pulls");
    assert_eq!(requests[0].query.as_deref(), Some("state=all"));
    assert_eq!(requests[0].status, 200);
    assert_eq!(requests[0].authorization.as_deref(), Some("Bearer t"));
    assert!(requests[0].body.is_none());
    assert_eq!(requests[1].method, "POST");
    assert_eq!(requests[1].status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(requests[1].body.as_deref().unwrap()).unwrap(),
        json!({ "labels": ["x"] })
    );
    assert_eq!(requests[2].status, 404, "another repository");
    assert_eq!(fake.count("post", "/repos/acme/shop/issues/"), 1);
    assert_eq!(fake.count("GET", "/repos/"), 2);
    fake.clear_requests();
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn collaborator_permissions() {
    let (fake, github) = start().await;
    fake.set_permission("Alice", "maintain");
    fake.set_permission("tom", "triage");
    fake.set_permission("root", "admin");
    fake.set_permission("nobody", "none");
    let permission = |login: &str| {
        let github = github.clone();
        let path = format!("/repos/acme/shop/collaborators/{login}/permission");
        async move { send(&github, "GET", &path, None).await }
    };
    let alice = permission("alice").await;
    assert_eq!(alice.status, 200);
    assert_eq!(alice.body["permission"], "write");
    assert_eq!(alice.body["role_name"], "maintain");
    assert_eq!(alice.body["user"]["login"], "Alice");
    let tom = permission("tom").await;
    assert_eq!(
        (
            tom.body["permission"].as_str(),
            tom.body["role_name"].as_str()
        ),
        (Some("read"), Some("triage"))
    );
    assert_eq!(permission("root").await.body["permission"], "admin");
    assert_eq!(permission("nobody").await.body["permission"], "none");
    assert_eq!(permission("stranger").await.status, 404);
}

#[tokio::test]
async fn comments_page_oldest_first_and_update() {
    let (fake, github) = start().await;
    fake.add_pull_request(FakePr::new(1));
    for i in 0..35 {
        fake.add_comment(1, "alice", &format!("comment {i}"));
    }
    let first = send(&github, "GET", "/repos/acme/shop/issues/1/comments", None).await;
    let bodies: Vec<&str> = first
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies.len(), 30);
    assert_eq!(bodies[0], "comment 0");
    assert!(links(&first).iter().any(|(rel, _)| rel == "next"));

    fake.set_viewer("showtime-app[bot]");
    let posted = send(
        &github,
        "POST",
        "/repos/acme/shop/issues/1/comments",
        Some(json!({ "body": "🎪 status" })),
    )
    .await;
    assert_eq!(posted.status, 201);
    assert_eq!(posted.body["user"]["login"], "showtime-app[bot]");
    let id = posted.body["id"].as_u64().unwrap();

    let patched = send(
        &github,
        "PATCH",
        &format!("/repos/acme/shop/issues/comments/{id}"),
        Some(json!({ "body": "🎪 edited" })),
    )
    .await;
    assert_eq!(patched.status, 200);
    assert_eq!(patched.body["body"], "🎪 edited");
    let fetched = send(
        &github,
        "GET",
        &format!("/repos/acme/shop/issues/comments/{id}"),
        None,
    )
    .await;
    assert_eq!(fetched.body["body"], "🎪 edited");
    let comments = fake.comments(1);
    assert_eq!(comments.len(), 36);
    assert_eq!(
        comments
            .last()
            .map(|c| (c.id, c.author.as_str(), c.body.as_str())),
        Some((id, "showtime-app[bot]", "🎪 edited"))
    );

    // Typed octocrab calls (its update POSTs).
    let typed = github
        .issues(OWNER, REPO)
        .list_comments(1)
        .per_page(100)
        .send()
        .await
        .expect("typed list");
    assert_eq!(typed.items.len(), 36);
    let updated = github
        .issues(OWNER, REPO)
        .update_comment(octocrab::models::CommentId(id), "🎪 typed")
        .await
        .expect("typed update");
    assert_eq!(updated.body.as_deref(), Some("🎪 typed"));
    let created = github
        .issues(OWNER, REPO)
        .create_comment(1, "hi")
        .await
        .expect("typed create");
    assert_eq!(created.user.login, "showtime-app[bot]");

    let missing_body = send(
        &github,
        "POST",
        "/repos/acme/shop/issues/1/comments",
        Some(json!({})),
    )
    .await;
    assert_eq!(missing_body.status, 422);
    let too_long = send(
        &github,
        "POST",
        "/repos/acme/shop/issues/1/comments",
        Some(json!({ "body": "x".repeat(65_537) })),
    )
    .await;
    assert_eq!(too_long.status, 422);
    assert_eq!(
        send(&github, "GET", "/repos/acme/shop/issues/comments/1", None)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn credentials_and_installation_tokens() {
    let (fake, github) = start().await;
    fake.add_pull_request(FakePr::new(1));
    fake.require_token(Some("s3cret"));
    let refused = send(&github, "GET", "/repos/acme/shop/pulls/1", None).await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.body["message"], "Bad credentials");
    let good = client(&fake.url(), "s3cret");
    assert_eq!(
        send(&good, "GET", "/repos/acme/shop/pulls/1", None)
            .await
            .status,
        200
    );

    // Any bearer may mint an installation token, which then passes.
    let minted = send(
        &github,
        "POST",
        "/app/installations/42/access_tokens",
        Some(json!({})),
    )
    .await;
    assert_eq!(minted.status, 201);
    let token = minted.body["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("ghs_fake"));
    let expires = minted.body["expires_at"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(expires).is_ok());
    let installation = client(&fake.url(), &token);
    assert_eq!(
        send(&installation, "GET", "/repos/acme/shop/pulls/1", None)
            .await
            .status,
        200
    );

    fake.require_token(None);
    assert_eq!(
        send(&github, "GET", "/repos/acme/shop/pulls/1", None)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn malformed_requests_get_json_errors() {
    let (fake, github) = start().await;
    fake.add_pull_request(FakePr::new(1));
    let addr = fake.addr();

    let (status, body) = raw_http(
        addr,
        "POST",
        "/repos/acme/shop/issues/1/labels",
        "{not json",
    )
    .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (400, Some("Problems parsing JSON"))
    );
    let (status, _) = raw_http(addr, "POST", "/repos/acme/shop/labels", "[1,").await;
    assert_eq!(status, 400);
    let (status, _) = raw_http(addr, "POST", "/graphql", "nope").await;
    assert_eq!(status, 400);
    let (status, body) = raw_http(
        addr,
        "POST",
        "/repos/acme/shop/issues/1/comments",
        "\u{7b}\"body\": 5}",
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid request.")
    );

    let wrong_type = send(
        &github,
        "POST",
        "/repos/acme/shop/issues/1/labels",
        Some(json!({ "labels": 5 })),
    )
    .await;
    assert_eq!(wrong_type.status, 422);
    let wrong_item = send(
        &github,
        "POST",
        "/repos/acme/shop/issues/1/labels",
        Some(json!({ "labels": [5] })),
    )
    .await;
    assert_eq!(wrong_item.status, 422);
    let wrong_name = send(
        &github,
        "POST",
        "/repos/acme/shop/labels",
        Some(json!({ "name": 5 })),
    )
    .await;
    assert_eq!(wrong_name.status, 422);
    let empty_name = send(
        &github,
        "POST",
        "/repos/acme/shop/issues/1/labels",
        Some(json!({ "labels": ["  "] })),
    )
    .await;
    assert_eq!(empty_name.status, 422);

    for path in [
        "/repos/acme/shop/issues/abc/labels",
        "/repos/acme/shop/issues/99999999999999999999999/labels",
        "/repos/acme/shop/pulls/1/",
        "/repos/acme",
        "/nothing/here",
    ] {
        let raw = send(&github, "GET", path, None).await;
        assert_eq!(raw.status, 404, "{path}");
        assert_eq!(raw.body["message"], "Not Found");
    }
    let bad_escape = send(
        &github,
        "DELETE",
        "/repos/acme/shop/issues/1/labels/%ZZ",
        None,
    )
    .await;
    assert_eq!(bad_escape.body["message"], "Label does not exist");
    assert!(fake.labels(1).is_empty());
    assert!(fake.requests().iter().all(|r| r.status >= 400));
}

#[tokio::test]
async fn shutdown_and_drop_stop_the_server() {
    let fake = FakeGitHub::start(OWNER, REPO).await.expect("start");
    let addr = fake.addr();
    assert!(fake.url().starts_with("http://127.0.0.1:"));
    assert!(fake.url().ends_with('/'));
    fake.shutdown().await;
    let refused = tokio::task::spawn_blocking(move || std::net::TcpStream::connect(addr))
        .await
        .unwrap();
    assert!(refused.is_err());

    let dropped = FakeGitHub::start(OWNER, REPO).await.expect("start");
    let addr = dropped.addr();
    drop(dropped);
    let mut closed = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        if tokio::task::spawn_blocking(move || std::net::TcpStream::connect(addr))
            .await
            .unwrap()
            .is_err()
        {
            closed = true;
            break;
        }
    }
    assert!(closed, "dropping the handle stops the server");
}
