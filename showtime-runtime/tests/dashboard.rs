//! The dashboard over real HTTP, against the fake GitHub (labels, OAuth)
//! and the real engine: what the page shows, what it costs GitHub, who may
//! act, and what a forged form gets. The same flows in a real browser are
//! in `browser.rs`.

#![allow(clippy::unwrap_used)]

mod support;

use chrono::Utc;
use showtime_core::Config;
use showtime_core::ports::{EnvId, EnvInfo, Health};
use showtime_github::fake::FakePr;
use support::{Jar, MAINTAINER, OUTSIDER, Options, Stage, csrf, header, location, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_lists_every_environment_with_its_status_and_cost() {
    let stage = Stage::seeded(Options::default()).await;
    let answer = stage.get("/dashboard", &mut Jar::default()).await;
    assert_eq!(answer.status, 200);
    let page = text(&answer);
    for expected in [
        "#101",
        "#102",
        "#103",
        "#104",
        "alice",
        "bob",
        "carol",
        "a1b2c3d",
        "class=st-running>",
        "class=st-failed",
        "ALERTS",
        "large",
        "medium",
        "Sign in with GitHub",
    ] {
        assert!(
            page.contains(expected),
            "the page lacks {expected}:\n{page}"
        );
    }
    let pulls = format!(
        "{}/acme/widgets/pull/101",
        stage.fake.url().trim_end_matches('/')
    );
    assert!(page.contains(&pulls), "PRs are linked to GitHub");
    // Costs so far: the three the backend runs, a few hours each, some
    // cents; the failed one no longer runs and costs nothing more.
    assert_eq!(page.matches("<td>$0.").count(), 3, "{page}");
    // Nothing runs inline and nothing comes from elsewhere.
    assert_eq!(
        header(&answer, "content-security-policy"),
        Some("default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
    );
    assert!(!page.contains("<script>") && !page.contains("style=\""));
    assert!(!page.contains("src=\"http") && !page.contains("href=\"//"));
    // Signed out, there are no actions.
    assert!(!page.contains("destroy:101"));

    // Filters and order are query parameters.
    let page = stage.page(&mut Jar::default()).await;
    assert!(page.contains("4 environments"));
    let alice = text(
        &stage
            .get(
                "/dashboard?requester=alice&sort=oldest",
                &mut Jar::default(),
            )
            .await,
    );
    assert!(alice.contains("2 environments"), "{alice}");
    let first = alice.find("#101").unwrap();
    let second = alice.find("#104").unwrap();
    assert!(first < second, "oldest first");
    let failed = text(
        &stage
            .get("/dashboard?status=failed", &mut Jar::default())
            .await,
    );
    assert!(
        failed.contains("1 environment<") && failed.contains("#103"),
        "{failed}"
    );

    for (path, kind) in [
        ("/dashboard/app.js", "text/javascript"),
        ("/dashboard/app.css", "text/css"),
    ] {
        let asset = stage.get(path, &mut Jar::default()).await;
        assert_eq!(asset.status, 200);
        assert!(header(&asset, "content-type").unwrap().starts_with(kind));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_audit_trail_the_page_shows_the_months_cost() {
    let trail = std::env::temp_dir().join(format!("showtime-month-{}.jsonl", std::process::id()));
    std::fs::write(&trail, "").unwrap();
    let stage = Stage::seeded(Options {
        month: Some(showtime_runtime::dashboard::MonthSource {
            trail: trail.clone(),
            budget_usd: Some(100.0),
        }),
        ..Options::default()
    })
    .await;
    let page = text(&stage.get("/dashboard", &mut Jar::default()).await);
    let month = Utc::now().format("%Y-%m").to_string();
    assert!(page.contains(&format!("This month ({month}): $")), "{page}");
    assert!(page.contains(" of a $100.00 budget."), "{page}");
    let _ = std::fs::remove_file(trail);

    // Without a trail, no such line.
    let stage = Stage::seeded(Options::default()).await;
    let page = text(&stage.get("/dashboard", &mut Jar::default()).await);
    assert!(!page.contains("This month"), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_refresh_is_a_304_and_costs_no_github_request() {
    let stage = Stage::seeded(Options::default()).await;
    let mut jar = Jar::default();
    let first = stage.get("/dashboard/data", &mut jar).await;
    assert_eq!(first.status, 200);
    let data: serde_json::Value = serde_json::from_slice(&first.body).unwrap();
    assert_eq!(data["environments"].as_array().unwrap().len(), 4);
    assert_eq!(data["environments"][0]["pr"], 104, "newest first");
    let etag = header(&first, "etag").unwrap().to_owned();

    stage.fake.clear_requests();
    let again = stage
        .send(
            "GET",
            "/dashboard/data",
            &mut jar,
            &[("if-none-match", &etag)],
            "",
        )
        .await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    stage.page(&mut jar).await;
    assert!(
        stage.fake.requests().is_empty(),
        "a refresh within the TTL asks GitHub nothing: {:?}",
        stage.fake.requests()
    );
    // Another view is another body, another tag.
    let filtered = stage
        .send(
            "GET",
            "/dashboard/data?requester=bob",
            &mut jar,
            &[("if-none-match", &etag)],
            "",
        )
        .await;
    assert_eq!(filtered.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_through_github_gives_a_lax_http_only_session() {
    let stage = Stage::seeded(Options::default()).await;
    stage.fake.set_oauth_user(Some(MAINTAINER));
    let mut jar = Jar::default();
    let to_github = stage.get("/dashboard/login", &mut jar).await;
    let authorize = location(&to_github);
    assert!(authorize.starts_with(&format!(
        "{}login/oauth/authorize?client_id=",
        stage.fake.url()
    )));
    assert!(
        authorize.contains("redirect_uri=http%3A%2F%2F127.0.0.1"),
        "{authorize}"
    );
    let back = stage.get(&authorize, &mut jar).await;
    let done = stage.get(&location(&back), &mut jar).await;
    assert_eq!(done.status, 303);
    let session = done
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("showtime_session="))
        .unwrap();
    assert!(session.contains("; HttpOnly; SameSite=Lax;"), "{session}");
    assert!(!session.contains("Secure"), "loopback: not Secure");
    let page = stage.page(&mut jar).await;
    assert!(page.contains("@maintainer"), "{page}");
    assert!(page.contains("Signed in as @maintainer."));
    assert!(page.contains("destroy:101"));
    // The flash shows once.
    assert!(!stage.page(&mut jar).await.contains("Signed in as"));

    // Coming back with another browser's state is refused.
    let mut other = Jar::default();
    let refused = stage.get(&location(&back), &mut other).await;
    assert_eq!(refused.status, 400);
    // A cancelled sign-in is refused too.
    stage.fake.set_oauth_user(None);
    let mut jar = Jar::default();
    let to_github = stage.get("/dashboard/login", &mut jar).await;
    let back = stage.get(&location(&to_github), &mut jar).await;
    assert_eq!(stage.get(&location(&back), &mut jar).await.status, 401);
    assert!(jar.get("showtime_session").is_none());
}

/// Posts an action form as `jar`'s holder, with `token` as the CSRF token.
async fn act(stage: &Stage, jar: &mut Jar, token: Option<&str>, what: &str) -> u16 {
    let mut body = format!("do={}", what.replace(':', "%3A"));
    if let Some(token) = token {
        body.push_str(&format!("&csrf={token}"));
    }
    stage
        .send("POST", "/dashboard/action", jar, &[], &body)
        .await
        .status
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_maintainers_destroy_removes_the_environment_and_an_outsiders_is_refused() {
    let stage = Stage::seeded(Options::default()).await;
    let mut maintainer = stage.sign_in(MAINTAINER).await;
    let token = csrf(&stage.page(&mut maintainer).await);
    assert!(stage.runs(101) && !stage.showtime_labels(101).is_empty());
    assert_eq!(
        act(&stage, &mut maintainer, Some(&token), "destroy:101").await,
        303
    );
    assert!(!stage.runs(101), "the backend no longer runs it");
    assert_eq!(stage.showtime_labels(101), Vec::<String>::new());
    let page = stage.page(&mut maintainer).await;
    assert!(page.contains("PR #101: destroyed."), "{page}");
    assert!(!page.contains("destroy:101"), "gone from the list at once");

    let mut outsider = stage.sign_in(OUTSIDER).await;
    let token = csrf(&stage.page(&mut outsider).await);
    let labels = stage.showtime_labels(102);
    assert_eq!(
        act(&stage, &mut outsider, Some(&token), "destroy:102").await,
        303
    );
    assert!(stage.runs(102));
    assert_eq!(stage.showtime_labels(102), labels);
    let page = stage.page(&mut outsider).await;
    assert!(page.contains("class=\"flash refused\""), "{page}");
    assert!(
        page.contains("refused. Your permission on this repository is `read`"),
        "{page}"
    );

    // Extend, as the maintainer: the ⌛ label changes.
    let token = csrf(&stage.page(&mut maintainer).await);
    let body = format!("do=extend%3A102&ttl=48h&csrf={token}");
    let answer = stage
        .send("POST", "/dashboard/action", &mut maintainer, &[], &body)
        .await;
    assert_eq!(answer.status, 303);
    assert!(
        stage
            .showtime_labels(102)
            .iter()
            .any(|l| l.starts_with("🎪 ⌛ ") && l != "🎪 ⌛ 24h"),
        "{:?}",
        stage.showtime_labels(102)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_without_the_sessions_csrf_token_is_refused() {
    let stage = Stage::seeded(Options::default()).await;
    let mut maintainer = stage.sign_in(MAINTAINER).await;
    let mut other = stage.sign_in(MAINTAINER).await;
    let others_token = csrf(&stage.page(&mut other).await);
    assert_eq!(act(&stage, &mut maintainer, None, "destroy:102").await, 403);
    assert_eq!(
        act(&stage, &mut maintainer, Some("00"), "destroy:102").await,
        403
    );
    assert_eq!(
        act(&stage, &mut maintainer, Some(&others_token), "destroy:102").await,
        403
    );
    // Without a session at all.
    assert_eq!(
        act(
            &stage,
            &mut Jar::default(),
            Some(&others_token),
            "destroy:102"
        )
        .await,
        403
    );
    assert!(stage.runs(102));
    // Signing out needs the token too.
    let out = stage
        .send("POST", "/dashboard/logout", &mut maintainer, &[], "")
        .await;
    assert_eq!(out.status, 403);
    let token = csrf(&stage.page(&mut maintainer).await);
    let out = stage
        .send(
            "POST",
            "/dashboard/logout",
            &mut maintainer,
            &[],
            &format!("csrf={token}"),
        )
        .await;
    assert_eq!(out.status, 303);
    assert!(maintainer.get("showtime_session").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_sign_in_required_the_page_its_data_and_environments_need_a_session() {
    let stage = Stage::seeded(Options {
        public: false,
        on_webhook_server: true,
        ..Options::default()
    })
    .await;
    let mut anonymous = Jar::default();
    for path in ["/dashboard", "/dashboard/data", "/environments"] {
        assert_eq!(stage.get(path, &mut anonymous).await.status, 401, "{path}");
    }
    // The webhook server still answers its own routes.
    assert_eq!(stage.get("/healthz", &mut anonymous).await.status, 200);
    let mut jar = stage.sign_in(OUTSIDER).await;
    for path in ["/dashboard", "/dashboard/data", "/environments"] {
        assert_eq!(stage.get(path, &mut jar).await.status, 200, "{path}");
    }
}

/// How many environments the size budget is measured with, and the budget
/// (150 kB, uncompressed: no compressor is in the dependency tree).
const MANY: u64 = 200;
const BUDGET: usize = 150_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_environments_stay_under_150_kb() {
    let stage = Stage::empty(Options::default()).await;
    let now = Utc::now();
    for n in 1..=MANY {
        let sha = format!("{:07x}", 0x0a0_0000 + n * 7919);
        let who = format!("developer-{}", n % 23);
        let created = now - chrono::Duration::minutes(i64::try_from(n * 37).unwrap());
        let labels = vec![
            "🎪 🚦 running".to_owned(),
            format!("🎪 🎯 {sha}"),
            format!(
                "🎪 📅 {}",
                showtime_core::Timestamp::from_datetime(created).label()
            ),
            format!(
                "🎪 🌐 52-{}-{}-{}:8080",
                n % 250,
                (n * 3) % 250,
                (n * 7) % 250
            ),
            format!("🎪 👤 {who}"),
            "🎪 ⌛ 48h".to_owned(),
        ];
        let mut pr = FakePr::new(10_000 + n);
        pr.labels = labels;
        pr.author = who.clone();
        stage.fake.add_pull_request(pr);
        let mut config = Config::default();
        if n % 3 == 0 {
            config
                .features
                .insert("ALERT_REPORTS".parse().unwrap(), true);
            config.size = Some("large".parse().unwrap());
        }
        stage.backend.insert(EnvInfo {
            id: EnvId::parse_name(&format!("pr-{}-{sha}", 10_000 + n)).unwrap(),
            health: Health::Healthy,
            address: None,
            created_at: created,
            requested_by: Some(who.parse().unwrap()),
            config,
        });
    }
    let mut jar = stage.sign_in(MAINTAINER).await;
    let page = stage.page(&mut jar).await;
    assert!(page.contains(&format!("{MANY} environments")));
    let mut sizes = Vec::new();
    for path in [
        "/dashboard",
        "/dashboard/app.css",
        "/dashboard/app.js",
        "/dashboard/data",
    ] {
        let answer = stage.get(path, &mut jar).await;
        assert_eq!(answer.status, 200);
        sizes.push((path, answer.body.len()));
    }
    let total: usize = sizes.iter().map(|(_, n)| n).sum();
    let report: Vec<String> = sizes.iter().map(|(p, n)| format!("{p} {n} B")).collect();
    println!(
        "dashboard with {MANY} environments, signed in, uncompressed: {} = {total} B ({:.1} KiB)",
        report.join(" + "),
        total as f64 / 1024.0
    );
    assert!(total < BUDGET, "{total} B is over the budget: {report:?}");
}
