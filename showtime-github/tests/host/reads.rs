//! Conditional reads: a PR or a page of open PRs read again sends the
//! `ETag` of the last answer, and an unchanged one is a `304` that costs no
//! rate limit.

use super::*;

fn statuses(fake: &FakeGitHub) -> Vec<u16> {
    fake.requests().iter().map(|r| r.status).collect()
}

#[tokio::test]
async fn a_second_read_of_an_unchanged_pr_is_a_free_304() {
    let fake = fake().await;
    seed_pr(&fake, 1, &["bug"]);
    let host = host(&fake);
    let first = host.pull_request(pr(1)).await.unwrap();
    let remaining = fake.rate_limit_remaining();
    let second = host.pull_request(pr(1)).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(statuses(&fake), [200, 304]);
    assert!(fake.requests()[1].if_none_match.is_some());
    assert_eq!(fake.rate_limit_remaining(), remaining, "a 304 is free");
    assert_eq!(fake.count_not_modified(), 1);

    // Changed: read in full.
    fake.add_labels_as_person(1, &["needs review"]);
    let third = host.pull_request(pr(1)).await.unwrap();
    assert_eq!(third.labels, ["bug", "needs review"]);
    assert_eq!(statuses(&fake), [200, 304, 200]);
    assert_eq!(fake.rate_limit_remaining(), remaining - 1);
}

#[tokio::test]
async fn a_second_listing_of_unchanged_open_prs_is_free() {
    let fake = fake().await;
    for n in 1..=250 {
        seed_pr(&fake, n, &["🎪 ⌛ 48h"]);
    }
    let host = host(&fake);
    let first = host.open_pull_requests().await.unwrap();
    let remaining = fake.rate_limit_remaining();
    fake.clear_requests();
    let second = host.open_pull_requests().await.unwrap();
    assert_eq!(first, second);
    assert_eq!(statuses(&fake), [304, 304, 304]);
    assert_eq!(fake.rate_limit_remaining(), remaining);

    // A change on the second page (PRs 150 to 51) reads that page alone.
    fake.clear_requests();
    fake.add_labels_as_person(120, &["needs review"]);
    let third = host.open_pull_requests().await.unwrap();
    assert_eq!(statuses(&fake), [304, 200, 304]);
    let changed = third.iter().find(|p| p.number == pr(120)).unwrap();
    assert_eq!(changed.labels, ["🎪 ⌛ 48h", "needs review"]);
}
