//! Deployments and their statuses, with GitHub's semantics.

use super::*;

const SHA: &str = "abc123f000000000000000000000000000000000";

async fn deploy(github: &Octocrab, body: Value) -> Raw {
    send(github, "POST", "/repos/acme/shop/deployments", Some(body)).await
}

async fn status(github: &Octocrab, id: &Value, body: Value) -> Raw {
    let path = format!("/repos/acme/shop/deployments/{id}/statuses");
    send(github, "POST", &path, Some(body)).await
}

#[tokio::test]
async fn a_deployment_is_created_with_201_and_its_defaults() {
    let (fake, github) = start().await;
    fake.add_pull_request(pr(7, &[]));
    let created = deploy(&github, json!({ "ref": SHA })).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert!(created.body["id"].as_u64().is_some());
    assert_eq!(created.body["sha"], SHA);
    assert_eq!(created.body["task"], "deploy");
    assert_eq!(created.body["environment"], "production");
    assert_eq!(created.body["production_environment"], true);
    assert_eq!(created.body["transient_environment"], false);
    assert_eq!(created.body["creator"]["login"], "showtime[bot]");

    // A branch resolves to its head; an unknown ref is refused.
    let branch = deploy(
        &github,
        json!({ "ref": "feature-7", "environment": "pr-7", "transient_environment": true }),
    )
    .await;
    assert_eq!(branch.status, 201);
    assert_eq!(branch.body["sha"], FakePr::new(7).head_sha);
    assert_eq!(branch.body["production_environment"], false);
    let unknown = deploy(&github, json!({ "ref": "no-such-branch" })).await;
    assert_eq!(unknown.status, 422);
    assert!(
        unknown.body["message"]
            .as_str()
            .unwrap()
            .contains("No ref found")
    );
    let missing = deploy(&github, json!({ "environment": "pr-7" })).await;
    assert_eq!(missing.status, 422);
    let mistyped = deploy(
        &github,
        json!({ "ref": SHA, "transient_environment": "yes" }),
    )
    .await;
    assert_eq!(mistyped.status, 422);
    assert_eq!(fake.deployments().len(), 2, "refusals create nothing");
}

#[tokio::test]
async fn deployments_are_listed_newest_first_and_filtered() {
    let (fake, github) = start().await;
    let other = "5eadbee000000000000000000000000000000000";
    for (sha, env) in [(SHA, "pr-7"), (other, "pr-7"), (SHA, "pr-8")] {
        let made = deploy(&github, json!({ "ref": sha, "environment": env })).await;
        assert_eq!(made.status, 201);
    }
    let all = send(&github, "GET", "/repos/acme/shop/deployments", None).await;
    let ids: Vec<u64> = all
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_u64().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(ids, sorted, "newest first");
    let pr7 = send(
        &github,
        "GET",
        "/repos/acme/shop/deployments?environment=pr-7",
        None,
    )
    .await;
    assert_eq!(pr7.body.as_array().unwrap().len(), 2);
    assert_eq!(pr7.body[0]["sha"], other);
    let one = send(
        &github,
        "GET",
        &format!("/repos/acme/shop/deployments?environment=pr-7&sha={SHA}"),
        None,
    )
    .await;
    assert_eq!(one.body.as_array().unwrap().len(), 1);
    assert_eq!(fake.deployments().len(), 3);
}

#[tokio::test]
async fn statuses_are_listed_newest_first_and_checked() {
    let (fake, github) = start().await;
    let made = deploy(&github, json!({ "ref": SHA, "environment": "pr-7" })).await;
    let id = made.body["id"].clone();
    let going = status(&github, &id, json!({ "state": "in_progress" })).await;
    assert_eq!(going.status, 201, "{}", going.body);
    let done = status(
        &github,
        &id,
        json!({ "state": "success", "environment_url": "http://127.0.0.1:9/", "log_url": "http://l" }),
    )
    .await;
    assert_eq!(done.status, 201);
    assert_eq!(done.body["environment_url"], "http://127.0.0.1:9/");
    assert_eq!(
        done.body["target_url"], "http://l",
        "log_url sets target_url"
    );
    let listed = send(
        &github,
        "GET",
        &format!("/repos/acme/shop/deployments/{id}/statuses"),
        None,
    )
    .await;
    let states: Vec<&str> = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["success", "in_progress"]);

    let bad = status(&github, &id, json!({ "state": "done" })).await;
    assert_eq!(bad.status, 422);
    let long = status(
        &github,
        &id,
        json!({ "state": "failure", "description": "x".repeat(141) }),
    )
    .await;
    assert_eq!(long.status, 422, "descriptions stop at 140 characters");
    let nowhere = status(&github, &json!(1), json!({ "state": "success" })).await;
    assert_eq!(nowhere.status, 404);
    assert_eq!(fake.deployments()[0].states(), ["in_progress", "success"]);
}

#[tokio::test]
async fn auto_inactive_retires_earlier_non_transient_successes_only() {
    let (fake, github) = start().await;
    let mut ids = Vec::new();
    for transient in [false, true, false] {
        let made = deploy(
            &github,
            json!({ "ref": SHA, "environment": "staging", "transient_environment": transient }),
        )
        .await;
        ids.push(made.body["id"].clone());
    }
    // The first two succeed; the third succeeds too, with auto_inactive.
    for id in &ids[..2] {
        status(&github, id, json!({ "state": "success" })).await;
    }
    status(&github, &ids[2], json!({ "state": "success" })).await;
    let states: Vec<Vec<String>> = fake
        .deployments()
        .iter()
        .map(|d| d.states().iter().map(|s| (*s).to_owned()).collect())
        .collect();
    assert_eq!(states[0], ["success", "inactive"], "non-transient: retired");
    assert_eq!(states[1], ["success"], "transient: left to its owner");
    assert_eq!(states[2], ["success"]);
    assert!(fake.deployments()[0].statuses[1].automatic);

    // auto_inactive false leaves earlier ones alone.
    let made = deploy(&github, json!({ "ref": SHA, "environment": "staging" })).await;
    status(
        &github,
        &made.body["id"],
        json!({ "state": "success", "auto_inactive": false }),
    )
    .await;
    assert_eq!(fake.deployments()[2].states(), ["success"]);
}
