//! Pull requests and issues: listings, paging and the shapes octocrab reads.

use super::*;

#[tokio::test]
async fn pagination_past_one_hundred() {
    let (fake, github) = start().await;
    for number in 1..=250 {
        fake.add_pull_request(FakePr::new(number));
    }
    let base = format!("{}repos/{OWNER}/{REPO}/pulls", fake.url());

    let first = send(
        &github,
        "GET",
        "/repos/acme/shop/pulls?state=all&per_page=100",
        None,
    )
    .await;
    assert_eq!(first.status, 200);
    let numbers: Vec<u64> = first
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers.len(), 100);
    assert_eq!(numbers.first(), Some(&250), "number descending");
    assert_eq!(numbers.last(), Some(&151));
    assert_eq!(
        links(&first),
        [
            (
                "next".to_owned(),
                format!("{base}?state=all&per_page=100&page=2")
            ),
            (
                "last".to_owned(),
                format!("{base}?state=all&per_page=100&page=3")
            ),
        ]
    );

    let second = send(
        &github,
        "GET",
        "/repos/acme/shop/pulls?state=all&per_page=100&page=2",
        None,
    )
    .await;
    assert_eq!(second.body.as_array().unwrap().len(), 100);
    let rels: Vec<String> = links(&second).into_iter().map(|(rel, _)| rel).collect();
    assert_eq!(rels, ["prev", "next", "last", "first"]);

    let last = send(
        &github,
        "GET",
        "/repos/acme/shop/pulls?state=all&per_page=100&page=3",
        None,
    )
    .await;
    let items = last.body.as_array().unwrap();
    assert_eq!(items.len(), 50);
    assert_eq!(items.last().unwrap()["number"], 1);
    assert_eq!(
        links(&last),
        [
            (
                "prev".to_owned(),
                format!("{base}?state=all&per_page=100&page=2")
            ),
            (
                "first".to_owned(),
                format!("{base}?state=all&per_page=100&page=1")
            ),
        ]
    );

    // per_page is clamped to 100; the default is 30.
    let clamped = send(&github, "GET", "/repos/acme/shop/pulls?per_page=1000", None).await;
    assert_eq!(clamped.body.as_array().unwrap().len(), 100);
    let default = send(&github, "GET", "/repos/acme/shop/pulls", None).await;
    assert_eq!(default.body.as_array().unwrap().len(), 30);
    assert!(
        links(&default)
            .iter()
            .any(|(rel, url)| rel == "last" && url.ends_with("?page=9"))
    );

    // octocrab's typed paging follows the Link header to the end.
    let page = github
        .pulls(OWNER, REPO)
        .list()
        .state(octocrab::params::State::All)
        .per_page(100)
        .send()
        .await
        .expect("typed list");
    assert!(page.next.is_some());
    let all = github.all_pages(page).await.expect("all pages");
    assert_eq!(all.len(), 250);
    assert_eq!(fake.count("GET", "/repos/acme/shop/pulls"), 8);
    fake.shutdown().await;
}

#[tokio::test]
async fn list_filters_by_state() {
    let (fake, github) = start().await;
    fake.add_pull_request(FakePr::new(1));
    fake.add_pull_request(FakePr {
        state: FakeState::Closed,
        ..FakePr::new(2)
    });
    fake.add_pull_request(FakePr {
        state: FakeState::Merged,
        ..FakePr::new(3)
    });
    fake.add_issue(4, "bob", &[]);
    let numbers = |raw: Raw| -> Vec<u64> {
        raw.body
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["number"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(
        numbers(send(&github, "GET", "/repos/acme/shop/pulls", None).await),
        [1]
    );
    assert_eq!(
        numbers(send(&github, "GET", "/repos/acme/shop/pulls?state=closed", None).await),
        [3, 2]
    );
    assert_eq!(
        numbers(send(&github, "GET", "/repos/acme/shop/pulls?state=all", None).await),
        [3, 2, 1]
    );
    let listed = send(&github, "GET", "/repos/acme/shop/pulls?state=closed", None).await;
    assert!(listed.body[0]["merged_at"].is_string());
    assert!(listed.body[1]["merged_at"].is_null());
    assert!(
        listed.body[0].get("merged").is_none(),
        "listings lack `merged`, as on GitHub"
    );
    let bad = send(&github, "GET", "/repos/acme/shop/pulls?state=bogus", None).await;
    assert_eq!(bad.status, 422);
}

#[tokio::test]
async fn pull_requests_and_issues_deserialize_into_octocrab_models() {
    let (fake, github) = start().await;
    fake.add_pull_request(FakePr {
        author: "alice".into(),
        body: Some("Preview please".into()),
        head_repo: Some("alice/shop".into()),
        ..pr(7, &["🎪 ⌛ 48h"])
    });
    fake.add_issue(8, "bob", &["bug"]);
    fake.set_head(7, "0123456789abcdef0123456789abcdef01234567");

    let pull = github.pulls(OWNER, REPO).get(7).await.expect("typed PR");
    assert_eq!(pull.number, 7);
    assert_eq!(pull.head.sha, "0123456789abcdef0123456789abcdef01234567");
    assert_eq!(pull.head.ref_field, "feature-7");
    assert_eq!(pull.user.as_ref().map(|u| u.login.as_str()), Some("alice"));
    assert_eq!(pull.body.as_deref(), Some("Preview please"));
    assert_eq!(pull.merged, Some(false));
    assert!(pull.merged_at.is_none());
    assert_eq!(
        pull.head.repo.as_ref().and_then(|r| r.full_name.as_deref()),
        Some("alice/shop")
    );
    let labels: Vec<String> = pull
        .labels
        .unwrap_or_default()
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert_eq!(labels, ["🎪 ⌛ 48h"]);

    fake.set_state(7, FakeState::Merged);
    let raw = send(&github, "GET", "/repos/acme/shop/pulls/7", None).await;
    assert_eq!(raw.body["state"], "closed");
    assert_eq!(raw.body["merged"], true);
    assert!(
        raw.body["merged_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_eq!(fake.state_of(7), FakeState::Merged);

    let issue = github
        .issues(OWNER, REPO)
        .get(8)
        .await
        .expect("typed issue");
    assert!(issue.pull_request.is_none());
    assert_eq!(issue.user.login, "bob");
    let as_issue = github
        .issues(OWNER, REPO)
        .get(7)
        .await
        .expect("PR as issue");
    assert!(as_issue.pull_request.is_some());
    let raw_issue = send(&github, "GET", "/repos/acme/shop/issues/8", None).await;
    assert!(raw_issue.body.get("pull_request").is_none());

    // An issue is not a pull request; absent numbers are 404.
    assert_eq!(
        send(&github, "GET", "/repos/acme/shop/pulls/8", None)
            .await
            .status,
        404
    );
    let absent = send(&github, "GET", "/repos/acme/shop/pulls/99", None).await;
    assert_eq!(absent.status, 404);
    assert_eq!(absent.body["message"], "Not Found");
    assert!(absent.body["documentation_url"].is_string());
}
