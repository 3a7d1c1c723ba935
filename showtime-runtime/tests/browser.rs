//! The dashboard in a real browser: headless Chromium driven over
//! WebDriver, against the fake GitHub and the real engine. The page lists
//! the environments and follows changes without reloading; a maintainer
//! signs in through GitHub's OAuth flow and destroys an environment; an
//! outsider's Destroy is refused; a forged form without the CSRF token gets
//! 403; the phone layout shows cards.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`scripts/check`
//! installs them). Without them the test says it was skipped and passes,
//! unless `SHOWTIME_REQUIRE_BROWSER=1` (set by `scripts/check` once they
//! are installed), when it fails. With `SHOWTIME_DASHBOARD_SCREENSHOT=PATH`
//! it saves a screenshot of the signed-in page there (the README's
//! `docs/dashboard.png`).

#![allow(clippy::unwrap_used)]

mod support;

use std::future::Future;
use std::time::Duration;

use serde_json::{Value, json};
use showtime_core::plan::Event;
use support::webdriver::Browser;
use support::{MAINTAINER, OUTSIDER, Options, Stage};

/// Waits up to 20 s for `check` to hold, polling.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting until {what}");
}

/// The PR cells of the table (`#104 <title>`), as shown.
async fn pr_cells(browser: &Browser) -> Vec<String> {
    let mut cells = Vec::new();
    for cell in browser
        .find_all("#envs tbody tr td:first-child")
        .await
        .unwrap()
    {
        cells.push(browser.text(&cell).await.unwrap_or_default());
    }
    cells
}

/// The PR numbers in the table, as shown.
async fn listed(browser: &Browser) -> Vec<String> {
    pr_cells(browser)
        .await
        .iter()
        .map(|cell| {
            cell.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

async fn flash(browser: &Browser) -> String {
    match browser.find(".flash[role=status]").await {
        Ok(element) => browser.text(&element).await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Clicks "Sign in with GitHub" as `who` and waits for the page to say so.
async fn sign_in(stage: &Stage, browser: &Browser, who: &str) {
    stage.fake.set_oauth_user(Some(who));
    browser
        .click(&browser.find("#signin").await.unwrap())
        .await
        .unwrap();
    let expected = format!("Signed in as @{who}.");
    eventually(&format!("{who} is signed in"), || async {
        flash(browser).await == expected
    })
    .await;
}

async fn sign_out(browser: &Browser) {
    browser
        .click(&browser.find("nav form button").await.unwrap())
        .await
        .unwrap();
    eventually("signed out", || async {
        browser.find("#signin").await.is_ok()
    })
    .await;
}

/// Clicks a row's Destroy and confirms the browser's question.
async fn destroy(browser: &Browser, pr: u64) {
    let button = browser
        .find(&format!("button[value=\"destroy:{pr}\"]"))
        .await
        .unwrap();
    browser.click(&button).await.unwrap();
    browser.accept_dialog().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_headless_chromium() {
    let browser = match Browser::start().await {
        Ok(browser) => browser,
        Err(why) if std::env::var("SHOWTIME_REQUIRE_BROWSER").as_deref() != Ok("1") => {
            eprintln!("SKIPPED: the dashboard's browser test: {why}");
            return;
        }
        Err(why) => panic!("the browser test cannot run: {why}"),
    };
    let stage = Stage::seeded(Options {
        refresh: Duration::from_secs(1),
        ..Options::default()
    })
    .await;

    // Everyone sees every environment, server-rendered.
    browser
        .goto(&format!("{}/dashboard", stage.base))
        .await
        .unwrap();
    eventually("the page lists every environment", || async {
        listed(&browser).await == ["#104", "#103", "#102", "#101"]
    })
    .await;
    // Each PR with its title, linked.
    assert_eq!(pr_cells(&browser).await[0], "#104 Feature 104");
    let source = browser.source().await.unwrap();
    assert!(source.contains("class=\"st-failed\"") && source.contains("ALERTS"));

    // A maintainer signs in through GitHub's OAuth flow.
    sign_in(&stage, &browser, MAINTAINER).await;
    assert!(browser.url().await.unwrap().starts_with(&stage.base));
    let who = browser.find("#who").await.unwrap();
    assert_eq!(browser.text(&who).await.unwrap(), "@maintainer");
    if let Ok(path) = std::env::var("SHOWTIME_DASHBOARD_SCREENSHOT") {
        browser.resize(1200, 640).await.unwrap();
        let png = browser.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        std::fs::write(&path, png).unwrap();
        eprintln!("saved a screenshot to {path}");
    }

    // Live updates: a change elsewhere shows without reloading the page.
    browser
        .execute("window.showtimeMarker = 1;", json!([]))
        .await
        .unwrap();
    stage
        .reconcile(
            104,
            Event::Command(showtime_core::commands::SlashCommand::Destroy),
            "alice",
        )
        .await;
    eventually("the table drops #104 by itself", || async {
        listed(&browser).await == ["#103", "#102", "#101"]
    })
    .await;
    let marker = browser
        .execute("return window.showtimeMarker;", json!([]))
        .await
        .unwrap();
    assert_eq!(marker, json!(1), "the page was not reloaded");

    // The maintainer's Destroy removes the environment: labels and backend.
    destroy(&browser, 101).await;
    eventually("the page says #101 is destroyed", || async {
        flash(&browser).await == "PR #101: destroyed."
    })
    .await;
    assert!(!stage.runs(101), "the backend no longer runs #101");
    assert_eq!(stage.showtime_labels(101), Vec::<String>::new());
    assert_eq!(listed(&browser).await, ["#103", "#102"]);

    // An outsider's Destroy is refused, and the page says why.
    sign_out(&browser).await;
    sign_in(&stage, &browser, OUTSIDER).await;
    let labels = stage.showtime_labels(102);
    destroy(&browser, 102).await;
    eventually("the page shows the refusal", || async {
        flash(&browser)
            .await
            .contains("refused. Your permission on this repository is `read`")
    })
    .await;
    assert!(stage.runs(102), "#102 still runs");
    assert_eq!(stage.showtime_labels(102), labels);

    // A forged form without the CSRF token: 403, nothing changes. First as
    // a script would post it, then as a form a page could hold.
    let status = browser
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             fetch('/dashboard/action', {method: 'POST', credentials: 'same-origin',\
               headers: {'content-type': 'application/x-www-form-urlencoded'},\
               body: 'do=destroy%3A102'}).then(r => done(r.status), e => done(String(e)));",
            json!([]),
        )
        .await
        .unwrap();
    assert_eq!(status, json!(403));
    browser
        .execute(
            "const f = document.createElement('form');\
             f.method = 'post'; f.action = '/dashboard/action';\
             const i = document.createElement('input');\
             i.type = 'hidden'; i.name = 'do'; i.value = 'destroy:102';\
             f.appendChild(i); document.body.appendChild(f); f.submit();",
            json!([]),
        )
        .await
        .unwrap();
    eventually("the forged form is refused", || async {
        browser
            .source()
            .await
            .is_ok_and(|s| s.contains("CSRF token is missing or wrong"))
    })
    .await;
    assert!(stage.runs(102));

    // On a phone, each environment is a card and the header row is hidden.
    browser
        .goto(&format!("{}/dashboard", stage.base))
        .await
        .unwrap();
    browser.resize(390, 844).await.unwrap();
    let layout: Value = browser
        .execute(
            "return [getComputedStyle(document.querySelector('#envs thead')).display,\
                     getComputedStyle(document.querySelector('#envs tbody tr')).display];",
            json!([]),
        )
        .await
        .unwrap();
    assert_eq!(layout, json!(["none", "block"]));
    browser.quit().await;
}
