//! GraphQL queries: label attachment counts, one at a time and in bulk, and validation.

use super::*;

#[tokio::test]
async fn graphql_counts_open_and_closed_attachments() {
    let (fake, github) = start().await;
    fake.add_pull_request(pr(1, &["🎪 abc 🟢 running"]));
    fake.add_pull_request(FakePr {
        state: FakeState::Closed,
        ..pr(2, &["🎪 ABC 🟢 running"])
    });
    fake.add_pull_request(FakePr {
        state: FakeState::Merged,
        ..pr(3, &["🎪 abc 🟢 running"])
    });
    fake.add_pull_request(pr(4, &["other"]));
    fake.add_issue(10, "bob", &["🎪 abc 🟢 running"]);
    fake.add_issue(11, "bob", &["🎪 abc 🟢 running"]);
    fake.set_state(11, FakeState::Closed);

    let query = "query($owner: String!, $name: String!, $label: String!) {
        repository(owner: $owner, name: $name) {
          label(name: $label) { issues { totalCount } pullRequests { totalCount } }
        }
      }";
    let ask = |label: &str| {
        let github = github.clone();
        let payload = json!({ "query": query, "variables": { "owner": OWNER, "name": REPO, "label": label } });
        async move { github.graphql::<Value>(&payload).await.expect("graphql") }
    };
    assert_eq!(
        ask("🎪 abc 🟢 running").await,
        json!({ "repository": { "label": { "issues": { "totalCount": 2 }, "pullRequests": { "totalCount": 3 } } } })
    );
    assert_eq!(
        ask("🎪 undefined").await,
        json!({ "repository": { "label": null } })
    );

    let unsupported = send(
        &github,
        "POST",
        "/graphql",
        Some(json!({ "query": "{ viewer { login } }" })),
    )
    .await;
    assert_eq!(unsupported.status, 200);
    assert!(unsupported.body["errors"].is_array());
    let wrong_repo = send(
        &github,
        "POST",
        "/graphql",
        Some(json!({ "query": query, "variables": { "owner": "x", "name": "y", "label": "l" } })),
    )
    .await;
    assert!(wrong_repo.body["data"]["repository"].is_null());
    assert_eq!(wrong_repo.body["errors"][0]["type"], "NOT_FOUND");
}

#[tokio::test]
async fn many_labels_are_counted_in_one_request_with_aliases() {
    let (fake, github) = start().await;
    fake.add_pull_request(pr(1, &["🎪 abc123 🚦 running", "🎪 abc123 🌐 52-1-2-3"]));
    fake.add_pull_request(FakePr {
        state: FakeState::Merged,
        ..pr(2, &["🎪 abc123 🚦 running"])
    });
    fake.add_issue(3, "bob", &["🎪 abc123 🚦 running"]);
    fake.define_label("🎪 def456 🚦 failed", "ededed", None);
    fake.clear_requests();

    let answer = graphql(
        &github,
        "query Attached($owner: String!, $name: String!, $l1: String!) {
           repository(owner: $owner, name: $name) {
             l0: label(name: \"🎪 abc123 🚦 running\") {
               name
               open: pullRequests(states: [OPEN]) { totalCount }
               pullRequests { totalCount }
               issues { totalCount }
             }
             l1: label(name: $l1) { name pullRequests { totalCount } issues { totalCount } }
             l2: label(name: \"🎪 def456 🚦 failed\") { id pullRequests { totalCount } issues { totalCount } }
             l3: label(name: \"🎪 never defined\") { name }
           }
         }",
        json!({ "owner": OWNER, "name": REPO, "l1": "🎪 ABC123 🌐 52-1-2-3" }),
    )
    .await;
    assert!(answer.get("errors").is_none(), "{answer}");
    let repository = &answer["data"]["repository"];
    assert_eq!(
        repository["l0"],
        json!({
            "name": "🎪 abc123 🚦 running",
            "open": { "totalCount": 1 },
            "pullRequests": { "totalCount": 2 },
            "issues": { "totalCount": 1 },
        })
    );
    assert_eq!(repository["l1"]["name"], "🎪 abc123 🌐 52-1-2-3");
    assert_eq!(repository["l1"]["pullRequests"]["totalCount"], 1);
    assert_eq!(
        repository["l2"]["id"].as_str(),
        fake.label_node_id("🎪 def456 🚦 failed").as_deref()
    );
    assert_eq!(repository["l2"]["pullRequests"]["totalCount"], 0);
    assert!(repository["l3"].is_null());

    let requests = fake.requests();
    assert_eq!(requests.len(), 1, "one request for every definition");
    let call = requests[0].graphql.as_ref().expect("a GraphQL request");
    assert_eq!(call.operation, GraphqlOperation::Query);
    assert_eq!(call.name.as_deref(), Some("Attached"));
    assert_eq!(call.fields, ["repository"]);
    assert_eq!(fake.count_graphql("repository"), 1);
    assert_eq!(fake.count_graphql_mutations(), 0);
    assert_eq!(fake.graphql_rate_limit_remaining(), 4999);
    assert_eq!(
        fake.rate_limit_remaining(),
        5000,
        "GraphQL has its own budget"
    );
}

#[tokio::test]
async fn pull_requests_issues_and_their_labels_read_through_graphql() {
    let (fake, github) = start().await;
    fake.add_pull_request(pr(7, &["a", "b", "c"]));
    fake.add_issue(8, "bob", &["a"]);
    let query = "query($owner: String!, $name: String!) {
        repository(owner: $owner, name: $name) {
          id nameWithOwner __typename
          pr: pullRequest(number: 7) {
            __typename id number state
            first: labels(first: 2) { totalCount nodes { name } }
            last: labels(last: 1) { nodes { name id } }
          }
          issue(number: 8) { id state labels(first: 100) { nodes { name } } }
          missing: pullRequest(number: 8) { id }
        }
      }";
    let answer = graphql(&github, query, json!({ "owner": OWNER, "name": REPO })).await;
    let repository = &answer["data"]["repository"];
    assert_eq!(
        repository["id"].as_str(),
        Some(fake.repository_node_id().as_str())
    );
    assert_eq!(repository["nameWithOwner"], "acme/shop");
    assert_eq!(repository["__typename"], "Repository");
    let pull = &repository["pr"];
    assert_eq!(pull["__typename"], "PullRequest");
    assert_eq!(pull["id"].as_str(), Some(fake.node_id(7).as_str()));
    assert_eq!(pull["state"], "OPEN");
    assert_eq!(
        pull["first"],
        json!({ "totalCount": 3, "nodes": [{ "name": "a" }, { "name": "b" }] })
    );
    assert_eq!(pull["last"]["nodes"][0]["name"], "c");
    assert_eq!(
        pull["last"]["nodes"][0]["id"].as_str(),
        fake.label_node_id("c").as_deref()
    );
    assert_eq!(
        repository["issue"]["labels"]["nodes"],
        json!([{ "name": "a" }])
    );
    assert!(repository["missing"].is_null(), "#8 is an issue, not a PR");
    assert_eq!(answer["errors"][0]["type"], "NOT_FOUND");
    assert_eq!(
        answer["errors"][0]["path"],
        json!(["repository", "missing"])
    );
    assert_eq!(
        messages(&answer),
        ["Could not resolve to a PullRequest with the number of 8."]
    );

    // Nodes of a connection need `first` or `last`, at most 100.
    for labels in [
        "labels { nodes { name } }",
        "labels(first: 101) { nodes { name } }",
    ] {
        let query = format!(
            "{{ repository(owner: \"acme\", name: \"shop\") {{ pullRequest(number: 7) {{ {labels} }} }} }}"
        );
        let answer = graphql(&github, &query, json!({})).await;
        let pull = &answer["data"]["repository"]["pullRequest"];
        assert!(pull.is_object() && pull["labels"].is_null(), "{answer}");
        assert!(
            messages(&answer)[0].contains("`labels` connection"),
            "{answer}"
        );
    }
}

#[tokio::test]
async fn invalid_documents_are_refused_whole_and_run_nothing() {
    let (fake, github) = start().await;
    fake.add_pull_request(pr(1, &["old"]));
    fake.define_label("new", "ededed", None);
    let pr_id = fake.node_id(1);
    let new = fake.label_node_id("new").expect("defined");
    let cases: [(&str, Value, &str); 12] = [
        (
            "mutation($pr: ID!, $new: [ID!]!) {
               addLabelsToLabelable(input: {labelableId: $pr, labelIds: $new}) { clientMutationId }
               viewer { login }
             }",
            json!({ "pr": pr_id, "new": [new] }),
            "Field 'viewer' doesn't exist on type 'Mutation'",
        ),
        (
            "mutation { addLabelsToLabelable(input: {labelableId: $pr, labelIds: []}) { clientMutationId } }",
            json!({ "pr": pr_id }),
            "Variable $pr is used by anonymous mutation but not declared",
        ),
        (
            "mutation($pr: ID!, $unused: String) { addLabelsToLabelable(input: {labelableId: $pr, labelIds: []}) { clientMutationId } }",
            json!({ "pr": pr_id }),
            "Variable $unused is declared by anonymous mutation but not used",
        ),
        (
            "mutation($pr: ID!) { addLabelsToLabelable(input: {labelableId: $pr, labelIds: []}) { clientMutationId } }",
            json!({}),
            "Variable $pr of type ID! was not provided",
        ),
        (
            "mutation($pr: String!) { addLabelsToLabelable(input: {labelableId: $pr, labelIds: []}) { clientMutationId } }",
            json!({ "pr": pr_id }),
            "Type mismatch on variable $pr (String! / ID!)",
        ),
        (
            "mutation($pr: ID) { addLabelsToLabelable(input: {labelableId: $pr, labelIds: []}) { clientMutationId } }",
            json!({ "pr": pr_id }),
            "Nullability mismatch on variable $pr (ID / ID!)",
        ),
        (
            "mutation { addLabelsToLabelable(input: {labelIds: []}) { clientMutationId } }",
            json!({}),
            "Argument 'labelableId' on InputObject 'AddLabelsToLabelableInput' is required",
        ),
        (
            "{ repository(owner: \"acme\") { id } }",
            json!({}),
            "Field 'repository' is missing required arguments: name",
        ),
        (
            "{ repository(owner: \"acme\", name: \"shop\") { pullRequest(number: \"1\") { id } } }",
            json!({}),
            "Argument 'number' on Field 'pullRequest' has an invalid value (\"1\")",
        ),
        (
            "mutation($pr: ID!) { addLabelsToLabelable(input: {labelableId: $pr, labelIds: []}) { labelable { id } } }",
            json!({ "pr": pr_id }),
            "Field 'id' doesn't exist on type 'Labelable'",
        ),
        (
            "{ repository(owner: \"acme\", name: \"shop\") { ...Fields } }",
            json!({}),
            "Fragment spreads (`...Name`) are not supported by the fake GitHub",
        ),
        (
            "subscription { repository(owner: \"acme\", name: \"shop\") { id } }",
            json!({}),
            "Schema is not configured for subscriptions",
        ),
    ];
    for (query, variables, expected) in cases {
        let answer = graphql(&github, query, variables).await;
        assert!(answer.get("data").is_none(), "{query}: {answer}");
        assert!(
            messages(&answer).iter().any(|m| m.contains(expected)),
            "{query}: {answer}"
        );
    }
    assert_eq!(fake.labels(1), ["old"], "nothing ran");

    // Parse errors carry the place.
    let answer = graphql(
        &github,
        "query {\n  repository(owner: \"acme\" { id } }",
        json!({}),
    )
    .await;
    assert_eq!(
        answer["errors"][0]["locations"],
        json!([{ "line": 2, "column": 28 }])
    );
    assert!(
        messages(&answer)[0].starts_with("Parse error on \"{\""),
        "{answer}"
    );
}

#[tokio::test]
async fn no_body_makes_the_graphql_endpoint_panic() {
    let (fake, github) = start().await;
    fake.add_pull_request(pr(1, &["x"]));
    let deep = format!("{{{}}}", "a {".repeat(500) + &"}".repeat(500));
    let unicode = "{ repository(owner: \"🎪\", name: \"\u{0}\") { id } }".to_owned();
    let queries = [
        "",
        "{",
        "}}}}",
        "query query query",
        "mutation { addLabelsToLabelable }",
        "mutation { addLabelsToLabelable(input: 1) { clientMutationId } }",
        "mutation { addLabelsToLabelable(input: {labelableId: 1, labelIds: [1, 2.5]}) { clientMutationId } }",
        "{ repository(owner: \"acme\", name: \"shop\") { pullRequest(number: 99999999999) { id } } }",
        "{ __typename }",
        "{ repository(owner: \"acme\", name: \"shop\") { label(name: \"\\uD83C\\uDFAA\") { name } } }",
        "query A { __typename } query B { __typename }",
        "\u{feff}{ __typename }",
        deep.as_str(),
        unicode.as_str(),
    ];
    for query in queries {
        let raw = send(&github, "POST", "/graphql", Some(json!({ "query": query }))).await;
        assert_eq!(raw.status, 200, "{query}");
        assert!(raw.body.is_object(), "{query}");
    }
    for body in [
        json!([]),
        json!({ "query": 1 }),
        json!({ "query": "{ __typename }", "variables": [] }),
    ] {
        let raw = send(&github, "POST", "/graphql", Some(body.clone())).await;
        assert_eq!(raw.status, 200, "{body}");
        assert!(raw.body["errors"].is_array(), "{body}");
    }
    let (status, body) = raw_http(fake.addr(), "POST", "/graphql", "{not json").await;
    assert_eq!(
        (status, body["message"].as_str()),
        (400, Some("Problems parsing JSON"))
    );
    assert_eq!(fake.labels(1), ["x"]);

    let typename = graphql(&github, "{ __typename }", json!({})).await;
    assert_eq!(typename, json!({ "data": { "__typename": "Query" } }));
    let chosen = send(
        &github,
        "POST",
        "/graphql",
        Some(json!({ "query": "query A { a: __typename } query B { b: __typename }", "operationName": "B" })),
    )
    .await;
    assert_eq!(chosen.body, json!({ "data": { "b": "Query" } }));
    let call = fake
        .requests()
        .last()
        .and_then(|r| r.graphql.clone())
        .expect("logged");
    assert_eq!(call.name.as_deref(), Some("B"));
}
