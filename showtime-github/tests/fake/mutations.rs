//! GraphQL mutations and node ids: label transitions in one document,
//! GitHub's not-found and no-op rules, label creation, and the refusal an
//! older GitHub Enterprise Server gives.

use super::*;

/// Removes `$old` and adds `$new` on `$pr`, in that order, in one request.
const TRANSITION: &str = "mutation Transition($pr: ID!, $old: [ID!]!, $new: [ID!]!) {
  r: removeLabelsFromLabelable(input: {labelableId: $pr, labelIds: $old}) { clientMutationId }
  a: addLabelsToLabelable(input: {labelableId: $pr, labelIds: $new, clientMutationId: \"t1\"}) {
    clientMutationId
    labelable { __typename ... on PullRequest { number labels(first: 100) { nodes { name } } } }
  }
}";

fn ids(fake: &FakeGitHub, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .map(|name| fake.label_node_id(name).expect("defined"))
        .collect()
}

#[tokio::test]
async fn node_ids_are_stable_and_the_same_in_rest_and_graphql() {
    let (fake, github) = start().await;
    fake.add_pull_request(pr(7, &["🎪 🚦 running", "bug"]));
    fake.add_issue(8, "bob", &["bug"]);

    let pull = send(&github, "GET", "/repos/acme/shop/pulls/7", None).await;
    let node = pull.body["node_id"].as_str().expect("PR node id");
    assert!(node.starts_with("PR_"), "{node}");
    assert_eq!(node, fake.node_id(7));
    let issue_of_pull = send(&github, "GET", "/repos/acme/shop/issues/7", None).await;
    assert_eq!(issue_of_pull.body["node_id"].as_str(), Some(node));
    let issue = send(&github, "GET", "/repos/acme/shop/issues/8", None).await;
    assert!(
        issue.body["node_id"]
            .as_str()
            .expect("issue node id")
            .starts_with("I_")
    );
    assert_ne!(fake.node_id(8), fake.node_id(7));

    for label in pull.body["labels"].as_array().expect("labels") {
        let id = label["node_id"].as_str().expect("label node id");
        assert!(id.starts_with("LA_"), "{id}");
        assert_eq!(
            fake.label_node_id(label["name"].as_str().unwrap())
                .as_deref(),
            Some(id)
        );
    }
    let definitions = send(&github, "GET", "/repos/acme/shop/labels", None).await;
    assert!(definitions.body.as_array().unwrap().iter().all(|l| {
        l["node_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("LA_"))
    }));
    let typed = github.pulls(OWNER, REPO).get(7).await.expect("typed PR");
    assert_eq!(typed.node_id.as_deref(), Some(node));
    let labels = typed.labels.expect("labels");
    assert_eq!(Some(labels[1].node_id.clone()), fake.label_node_id("BUG"));

    let answer = graphql(
        &github,
        "{ repository(owner: \"acme\", name: \"shop\") { id label(name: \"bug\") { id } pullRequest(number: 7) { id } } }",
        json!({}),
    )
    .await;
    let repository = &answer["data"]["repository"];
    assert_eq!(repository["pullRequest"]["id"].as_str(), Some(node));
    assert_eq!(
        repository["label"]["id"].as_str(),
        fake.label_node_id("bug").as_deref()
    );
    assert_eq!(
        repository["id"].as_str(),
        Some(fake.repository_node_id().as_str())
    );
    let repo = send(&github, "GET", "/repos/acme/shop", None).await;
    assert_eq!(repo.body["node_id"], repository["id"]);

    // A rename keeps the id; deleting and defining again gives a new one.
    let before = fake.label_node_id("bug");
    let renamed = send(
        &github,
        "PATCH",
        "/repos/acme/shop/labels/bug",
        Some(json!({ "new_name": "defect" })),
    )
    .await;
    assert_eq!(renamed.body["node_id"].as_str(), before.as_deref());
    assert!(fake.delete_definition("defect"));
    fake.define_label("defect", "ededed", None);
    assert_ne!(fake.label_node_id("defect"), before);
}

#[tokio::test]
async fn one_document_removes_then_adds_in_order() {
    let (fake, github) = start().await;
    fake.add_pull_request(pr(7, &["🎪 🚦 building", "🎪 🏗️ abc1234", "keep-me"]));
    fake.define_label("🎪 🚦 running", "0e8a16", None);
    fake.define_label("🎪 🎯 abc1234", "ededed", None);
    fake.clear_requests();

    let answer = graphql(
        &github,
        TRANSITION,
        json!({
            "pr": fake.node_id(7),
            "old": ids(&fake, &["🎪 🚦 building", "🎪 🏗️ abc1234"]),
            "new": ids(&fake, &["🎪 🚦 running", "🎪 🎯 abc1234"]),
        }),
    )
    .await;
    assert!(answer.get("errors").is_none(), "{answer}");
    assert_eq!(
        fake.labels(7),
        ["keep-me", "🎪 🚦 running", "🎪 🎯 abc1234"]
    );
    assert_eq!(
        answer["data"],
        json!({
            "r": { "clientMutationId": null },
            "a": {
                "clientMutationId": "t1",
                "labelable": {
                    "__typename": "PullRequest",
                    "number": 7,
                    "labels": { "nodes": [
                        { "name": "keep-me" }, { "name": "🎪 🚦 running" }, { "name": "🎪 🎯 abc1234" },
                    ] },
                },
            },
        })
    );

    // One request, in the GraphQL budget, that the log names.
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        (requests[0].method.as_str(), requests[0].path.as_str()),
        ("POST", "/graphql")
    );
    assert!(requests[0].is_mutation());
    let call = requests[0].graphql.as_ref().expect("described");
    assert_eq!(call.operation, GraphqlOperation::Mutation);
    assert_eq!(call.name.as_deref(), Some("Transition"));
    assert_eq!(
        call.fields,
        ["removeLabelsFromLabelable", "addLabelsToLabelable"]
    );
    assert_eq!(fake.count_graphql_mutations(), 1);
    assert_eq!(fake.count_graphql("addLabelsToLabelable"), 1);
    assert_eq!(fake.count("POST", "/graphql"), 1);
    assert_eq!(fake.graphql_rate_limit_remaining(), 4999);
    assert_eq!(fake.rate_limit_remaining(), 5000);

    // Order matters: add then remove of one label leaves it off, remove
    // then add leaves it on.
    let flip = |first: &str, second: &str| {
        format!(
            "mutation($pr: ID!, $l: [ID!]!) {{
               one: {first}(input: {{labelableId: $pr, labelIds: $l}}) {{ clientMutationId }}
               two: {second}(input: {{labelableId: $pr, labelIds: $l}}) {{ clientMutationId }}
             }}"
        )
    };
    let variables = json!({ "pr": fake.node_id(7), "l": ids(&fake, &["keep-me"]) });
    graphql(
        &github,
        &flip("addLabelsToLabelable", "removeLabelsFromLabelable"),
        variables.clone(),
    )
    .await;
    assert!(!fake.labels(7).contains(&"keep-me".to_owned()));
    graphql(
        &github,
        &flip("removeLabelsFromLabelable", "addLabelsToLabelable"),
        variables,
    )
    .await;
    assert_eq!(fake.labels(7).last().map(String::as_str), Some("keep-me"));
}

#[tokio::test]
async fn unknown_ids_are_not_found_and_that_mutation_changes_nothing() {
    let (fake, github) = start().await;
    fake.add_pull_request(pr(7, &["a", "b"]));
    fake.define_label("c", "ededed", None);
    fake.define_label("gone", "ededed", None);
    let gone = fake.label_node_id("gone").expect("defined");
    assert!(fake.delete_definition("gone"));

    // A stale label id among good ones: the add is refused whole.
    let answer = graphql(
        &github,
        TRANSITION,
        json!({ "pr": fake.node_id(7), "old": ids(&fake, &["a"]), "new": [fake.label_node_id("c"), gone] }),
    )
    .await;
    assert_eq!(answer["errors"][0]["type"], "NOT_FOUND");
    assert_eq!(answer["errors"][0]["path"], json!(["a"]));
    assert_eq!(
        messages(&answer),
        [format!(
            "Could not resolve to a node with the global id of '{gone}'."
        )]
    );
    assert!(answer["data"]["a"].is_null());
    assert_eq!(
        answer["data"]["r"],
        json!({ "clientMutationId": null }),
        "the removal ran"
    );
    assert_eq!(fake.labels(7), ["b"], "`c` was not added");

    // An unknown labelable, or a label id where a labelable belongs.
    for labelable in [
        "PR_fake999".to_owned(),
        fake.label_node_id("b").unwrap(),
        String::new(),
    ] {
        let answer = graphql(
            &github,
            TRANSITION,
            json!({ "pr": labelable, "old": ids(&fake, &["b"]), "new": ids(&fake, &["c"]) }),
        )
        .await;
        assert_eq!(
            answer["errors"].as_array().map(Vec::len),
            Some(2),
            "{answer}"
        );
        assert!(
            answer["errors"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["type"] == "NOT_FOUND")
        );
        assert_eq!(answer["data"], json!({ "r": null, "a": null }));
    }
    assert_eq!(fake.labels(7), ["b"]);
    assert_eq!(
        fake.count_graphql_mutations(),
        4,
        "refused mutations are still requests"
    );
}

#[tokio::test]
async fn absent_removals_and_present_additions_are_no_ops() {
    let (fake, github) = start().await;
    fake.add_pull_request(pr(7, &["a", "b"]));
    fake.define_label("c", "ededed", None);
    let before = send(&github, "GET", "/repos/acme/shop/issues/7", None).await;
    let answer = graphql(
        &github,
        TRANSITION,
        json!({ "pr": fake.node_id(7), "old": ids(&fake, &["c"]), "new": ids(&fake, &["A", "b", "b"]) }),
    )
    .await;
    assert!(answer.get("errors").is_none(), "{answer}");
    assert_eq!(fake.labels(7), ["a", "b"]);
    let after = send(&github, "GET", "/repos/acme/shop/issues/7", None).await;
    assert_eq!(before.body["updated_at"], after.body["updated_at"]);
}

#[tokio::test]
async fn a_label_a_person_added_meanwhile_survives_a_transition() {
    let (fake, github) = start().await;
    fake.add_pull_request(pr(7, &["🎪 🚦 building"]));
    fake.define_label("🎪 🚦 running", "ededed", None);
    // The client reads the PR, then a person labels it before the write.
    let read = github.pulls(OWNER, REPO).get(7).await.expect("read");
    let stale: Vec<String> = read
        .labels
        .unwrap_or_default()
        .into_iter()
        .map(|l| l.node_id)
        .collect();
    fake.add_labels_as_person(7, &["needs-review"]);

    let answer = graphql(
        &github,
        TRANSITION,
        json!({ "pr": read.node_id, "old": stale, "new": ids(&fake, &["🎪 🚦 running"]) }),
    )
    .await;
    assert!(answer.get("errors").is_none(), "{answer}");
    assert_eq!(fake.labels(7), ["needs-review", "🎪 🚦 running"]);
}

#[tokio::test]
async fn create_label_validates_like_github_and_answers_the_new_id() {
    let (fake, github) = start().await;
    fake.add_pull_request(pr(7, &["existing"]));
    let repository = graphql(
        &github,
        "query($owner: String!, $name: String!) { repository(owner: $owner, name: $name) { id } }",
        json!({ "owner": OWNER, "name": REPO }),
    )
    .await["data"]["repository"]["id"]
        .clone();
    let create = "mutation($repo: ID!, $name: String!, $color: String!, $description: String) {
        createLabel(input: {repositoryId: $repo, name: $name, color: $color, description: $description}) {
          label { id name color description }
        }
      }";
    let answer = graphql(
        &github,
        create,
        json!({ "repo": repository, "name": "🎪 abc1234 🚦 running", "color": "0E8A16", "description": "Showtime" }),
    )
    .await;
    let label = &answer["data"]["createLabel"]["label"];
    assert_eq!(
        label["id"].as_str(),
        fake.label_node_id("🎪 abc1234 🚦 running").as_deref()
    );
    assert_eq!(label["name"], "🎪 abc1234 🚦 running");
    assert_eq!(label["color"], "0e8a16");
    assert_eq!(label["description"], "Showtime");
    assert!(fake.labels(7) == ["existing"], "defined, not attached");

    let refused = [
        (
            json!({ "repo": repository, "name": "x".repeat(51), "color": "ededed" }),
            "UNPROCESSABLE",
            "Name is too long (maximum is 50 characters)",
        ),
        (
            json!({ "repo": repository, "name": "EXISTING", "color": "ededed" }),
            "UNPROCESSABLE",
            "Name has already been taken",
        ),
        (
            json!({ "repo": repository, "name": "  ", "color": "ededed" }),
            "UNPROCESSABLE",
            "Name can't be blank",
        ),
        (
            json!({ "repo": repository, "name": "ok", "color": "#ededed" }),
            "UNPROCESSABLE",
            "Color is invalid",
        ),
        (
            json!({ "repo": repository, "name": "ok", "color": "ededed", "description": "d".repeat(101) }),
            "UNPROCESSABLE",
            "Description is too long (maximum is 100 characters)",
        ),
        (
            json!({ "repo": "R_fake1", "name": "ok", "color": "ededed" }),
            "NOT_FOUND",
            "Could not resolve to a node with the global id of 'R_fake1'.",
        ),
    ];
    let count = fake.definitions().len();
    for (variables, kind, message) in refused {
        let answer = graphql(&github, create, variables).await;
        assert!(answer["data"]["createLabel"].is_null(), "{answer}");
        assert_eq!(answer["errors"][0]["type"], kind);
        assert_eq!(messages(&answer), [message]);
    }
    assert_eq!(fake.definitions().len(), count, "nothing was created");
    // 50 characters is fine.
    let fifty = "🎪".repeat(50);
    let answer = graphql(
        &github,
        create,
        json!({ "repo": repository, "name": fifty, "color": "ededed" }),
    )
    .await;
    assert!(answer.get("errors").is_none(), "{answer}");
}

#[tokio::test]
async fn refused_mutations_answer_like_an_older_enterprise_server() {
    let (fake, _) = start().await;
    fake.add_pull_request(pr(7, &["a"]));
    fake.define_label("b", "ededed", None);
    // GHES serves GraphQL at /api/graphql, beside REST at /api/v3.
    let ghes = client(&format!("http://{}/api/", fake.addr()), "t");
    let variables =
        json!({ "pr": fake.node_id(7), "old": ids(&fake, &["a"]), "new": ids(&fake, &["b"]) });
    let post = |body: Value| {
        let ghes = ghes.clone();
        async move { send(&ghes, "POST", "/graphql", Some(body)).await }
    };

    fake.refuse_graphql_mutations();
    let refused = post(json!({ "query": TRANSITION, "variables": variables })).await;
    assert_eq!(refused.status, 200);
    assert!(refused.body.get("data").is_none(), "{}", refused.body);
    assert_eq!(
        messages(&refused.body),
        [
            "Field 'removeLabelsFromLabelable' doesn't exist on type 'Mutation'",
            "Field 'addLabelsToLabelable' doesn't exist on type 'Mutation'",
        ]
    );
    assert_eq!(
        refused.body["errors"][0]["extensions"]["code"],
        "undefinedField"
    );
    assert_eq!(refused.body["errors"][0]["path"], json!(["mutation", "r"]));
    assert_eq!(fake.labels(7), ["a"], "nothing ran");
    let logged = fake.requests().pop().expect("logged");
    assert!(logged.ghes_prefix && logged.is_mutation());
    assert_eq!(logged.path, "/graphql");

    // Queries are still served; the REST fallback works.
    let query = post(json!({ "query": "{ repository(owner: \"acme\", name: \"shop\") { label(name: \"a\") { name } } }" })).await;
    assert_eq!(query.body["data"]["repository"]["label"]["name"], "a");
    let rest = send(
        &ghes,
        "DELETE",
        "/v3/repos/acme/shop/issues/7/labels/a",
        None,
    )
    .await;
    assert_eq!(rest.status, 200);

    // One field alone can be refused; accepting restores everything.
    fake.accept_graphql_mutations();
    fake.refuse_graphql_mutation("createLabel");
    let create = "mutation($repo: ID!) { createLabel(input: {repositoryId: $repo, name: \"n\", color: \"ededed\"}) { label { id } } }";
    let answer =
        post(json!({ "query": create, "variables": { "repo": fake.repository_node_id() } })).await;
    assert_eq!(
        messages(&answer.body),
        ["Field 'createLabel' doesn't exist on type 'Mutation'"]
    );
    let add = post(json!({ "query": TRANSITION, "variables": variables })).await;
    assert!(add.body.get("errors").is_none(), "{}", add.body);
    assert_eq!(fake.labels(7), ["b"]);
    fake.accept_graphql_mutations();
    let answer =
        post(json!({ "query": create, "variables": { "repo": fake.repository_node_id() } })).await;
    assert!(
        answer.body["data"]["createLabel"]["label"]["id"].is_string(),
        "{}",
        answer.body
    );
}
