//! End to end: the built binaries (`showtime`, `showtime-sweep`,
//! `showtime-webhook`) against the fake GitHub over real HTTP, with the
//! local backend running real preview apps on 127.0.0.1.
//!
//! Each test has its own fake GitHub and its own state directory, and
//! destroys every environment it started (also when it fails), so nothing
//! outlives it. GitHub requests are counted from the fake's log; the
//! numbers printed here are the ones the README quotes.

#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use showtime_core::ports::{Backend, EnvId, EnvSpec};
use showtime_core::{Config, Login, PrNumber, Sha};
use showtime_github::fake::{FakePr, FakeState};

use support::site::*;
use support::*;

/// The budgets: GitHub requests per flow, in both dialects, each
/// command a fresh process (nothing remembered between them but the labels).
const BUDGETS: &[(&str, usize)] = &[
    ("sync --check-only", 2),
    ("plan", 2),
    ("status", 1),
    ("list", 0),
    ("sync (nothing to do)", 1),
    ("sync (create)", 8),
    ("sync (rolling update)", 8),
    ("sync (up-label removed)", 4),
    ("sync --comment /circus destroy", 4),
    ("stop", 4),
    ("sync --comment /circus refresh, unauthorized", 4),
    ("start", 8),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_lifecycle_through_showtime_sync() {
    lifecycle("seed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_lifecycle_in_the_per_sha_dialect() {
    lifecycle("per-sha").await;
}

async fn lifecycle(dialect: &str) {
    let site = Site::start(&format!("lifecycle-{dialect}")).await;
    std::fs::write(
        site.dir.join("showtime.toml"),
        format!("dialect = \"{dialect}\"\n"),
    )
    .unwrap();
    let mut counts = Vec::new();

    // Check-only before anything: the GitHub Actions outputs, raw.
    let output = site.dir.join("github_output");
    let check = site
        .run_with(
            env!("CARGO_BIN_EXE_showtime"),
            &["sync", "42", "--check-only"],
            &[
                ("GITHUB_OUTPUT", output.to_str().unwrap()),
                ("GITHUB_ACTOR", "dependabot[bot]"),
            ],
        )
        .await
        .ok();
    let written = std::fs::read_to_string(&output).unwrap();
    assert_eq!(written, check.stdout, "the same lines go to $GITHUB_OUTPUT");
    let keys: Vec<&str> = written
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, showtime_runtime::actions::CHECK_KEYS);
    assert!(
        written.contains("github_actor=dependabot[bot]\n"),
        "{written}"
    );
    assert!(
        written.contains(&format!("target_sha={HEAD}\n")),
        "{written}"
    );
    assert!(written.contains("pr_number=42\n"), "{written}");
    assert!(written.contains("auth_status=denied\n"), "{written}");
    assert!(written.contains("action_needed=no_action\n"), "{written}");

    // A maintainer labels the PR; check-only now says what sync will do.
    site.fake.add_labels_as_person(42, &[TRIGGER]);
    let (check, n) = site.counted(&["sync", "42", "--check-only"]).await;
    counts.push(("sync --check-only", n));
    let check = check.ok();
    assert!(
        check.stdout.contains("action_needed=create_environment\n"),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains("build_needed=true\n"),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains("auth_status=authorized\n"),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains("permission_level=write\n"),
        "{}",
        check.stdout
    );
    assert!(site.live().await.is_empty(), "check-only changes nothing");

    // plan: the same, as JSON, changing nothing.
    let (plan, n) = site.counted(&["plan", "42", "--json"]).await;
    counts.push(("plan", n));
    let plan = plan.ok().json();
    assert!(!plan["steps"].as_array().unwrap().is_empty(), "{plan}");

    // sync: building → running, with a URL that answers.
    let (sync, n) = site.counted(&["sync", "42", "--sha", HEAD, "--json"]).await;
    counts.push(("sync (create)", n));
    let sync = sync.ok().json();
    assert!(sync["failure"].is_null(), "{sync}");
    let first = url_of(&sync);
    let page = fetch(&first).await.expect("the environment answers");
    assert!(page.contains("42") && page.contains(HEAD), "{page}");
    let labels = site.showtime_labels(42);
    assert!(
        labels.iter().any(|l| l.ends_with("🚦 running")),
        "{labels:?}"
    );
    assert!(labels.contains(&"🎪 🎯 abc123f".to_owned()), "{labels:?}");
    let comments = site.fake.comments(42);
    assert_eq!(comments.len(), 1, "one status comment");
    assert!(
        comments[0].body.contains("is running at"),
        "{}",
        comments[0].body
    );
    assert!(
        !comments[0].body.contains("Building"),
        "{}",
        comments[0].body
    );
    assert_eq!(site.live().await, ["pr-42-abc123f"]);

    // Environments outlive the command: status and list see it.
    let (status, n) = site.counted(&["status", "42", "--json"]).await;
    counts.push(("status", n));
    let status = status.ok().json();
    assert_eq!(status["showtime"]["active_sha"], "abc123f", "{status}");
    assert_eq!(status["environments"][0]["health"], "healthy", "{status}");
    let (list, n) = site.counted(&["list", "--json"]).await;
    counts.push(("list", n));
    let list = list.ok().json();
    assert_eq!(list[0]["pr"], "42", "{list}");
    let text = site.showtime(&["status", "42"]).await.ok().stdout;
    assert!(text.contains("running at abc123f"), "{text}");

    // A push: the rolling update replaces the environment.
    site.fake.set_head(42, SECOND);
    let stale = site.showtime(&["sync", "42", "--sha", HEAD]).await;
    assert_eq!(stale.code, 3, "an older commit is refused: {stale:?}");
    let (sync, n) = site
        .counted(&["sync", "42", "--sha", SECOND, "--event", "push", "--json"])
        .await;
    counts.push(("sync (rolling update)", n));
    let sync = sync.ok().json();
    let second = url_of(&sync);
    assert_ne!(first, second);
    assert!(fetch(&second).await.unwrap().contains(SECOND));
    assert!(fetch(&first).await.is_none(), "the old environment is gone");
    assert_eq!(site.live().await, ["pr-42-5eadbee"]);

    // Nothing to do: a second sync changes nothing.
    let (again, n) = site.counted(&["sync", "42", "--json"]).await;
    counts.push(("sync (nothing to do)", n));
    assert!(
        again.ok().json()["plans"][0]["steps"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // stop: the environment and its labels go.
    let (stop, n) = site.counted(&["stop", "42", "--json"]).await;
    counts.push(("stop", n));
    let stop = stop.ok().json();
    assert!(
        stop["environments"].as_array().unwrap().is_empty(),
        "{stop}"
    );
    assert!(site.live().await.is_empty());
    assert!(!site.showtime_labels(42).iter().any(|l| l.contains("🚦")));

    // start: what `/circus refresh` does, and it runs again.
    let (start, n) = site.counted(&["start", "42", "--json"]).await;
    counts.push(("start", n));
    start.ok();
    assert_eq!(site.live().await, ["pr-42-5eadbee"]);

    // The ways a stop arrives in GitHub Actions: the up-label removed (the
    // event the runner saved), and a `/circus destroy` comment.
    let (up, n) = site
        .counted(&["sync", "42", "--event", "up-label-removed", "--json"])
        .await;
    counts.push(("sync (up-label removed)", n));
    up.ok();
    assert!(site.live().await.is_empty());
    site.showtime(&["start", "42"]).await.ok();
    let (destroy, n) = site
        .counted_with_input(
            &["sync", "42", "--comment", "-", "--json"],
            "/circus destroy\n",
        )
        .await;
    counts.push(("sync --comment /circus destroy", n));
    destroy.ok();
    assert!(site.live().await.is_empty());
    assert!(!site.showtime_labels(42).iter().any(|l| l.contains("🚦")));

    // Someone without write permission asks: refused with a reply.
    let (refused, n) = site
        .counted_as(
            "visitor",
            &["sync", "42", "--comment", "-"],
            "/circus refresh\n",
        )
        .await;
    counts.push(("sync --comment /circus refresh, unauthorized", n));
    assert_eq!(refused.code, 3, "{refused:?}");
    assert!(site.live().await.is_empty());
    let sticky = site.fake.comments(42).pop().unwrap().body;
    assert!(sticky.contains("@visitor: refused"), "{sticky}");
    site.showtime(&["start", "42"]).await.ok();

    // Inside GitHub Actions: folded groups, and a step summary.
    let summary = site.dir.join("step_summary.md");
    let in_actions = site
        .run_with(
            env!("CARGO_BIN_EXE_showtime"),
            &["sync", "42"],
            &[
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
            ],
        )
        .await
        .ok();
    assert!(
        in_actions.stderr.contains("::group::showtime sync #42"),
        "{in_actions:?}"
    );
    assert!(in_actions.stderr.contains("::endgroup::"), "{in_actions:?}");
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(summary.contains("### 🎪 Showtime: PR #42"), "{summary}");
    assert!(summary.contains("| `5eadbee` | running |"), "{summary}");

    // A comment, as the workflow hands it over: its commands run in order,
    // its malformed line is answered on the PR.
    let reply = site
        .showtime_with_input(
            &["sync", "42", "--comment", "-", "--json"],
            "Looks good!\n/circus enable ALERTS\n/circus launch\n",
        )
        .await
        .ok()
        .json();
    assert_eq!(reply["commands"].as_array().unwrap().len(), 1, "{reply}");
    assert_eq!(reply["errors"].as_array().unwrap().len(), 1, "{reply}");
    assert!(
        site.showtime_labels(42)
            .contains(&"🎪 🚩 ALERTS=true".to_owned()),
        "{:?}",
        site.showtime_labels(42)
    );
    let sticky = site.fake.comments(42).pop().unwrap().body;
    assert!(sticky.contains("launch"), "{sticky}");

    assert_eq!(
        site.fake.comments(42).len(),
        1,
        "one status comment, always"
    );
    for (command, n) in &counts {
        eprintln!("GitHub requests ({dialect}): showtime {command}: {n}");
    }
    for (flow, budget) in BUDGETS {
        let n = counts.iter().find(|(c, _)| c == flow).unwrap().1;
        assert!(
            n <= *budget,
            "{dialect}: {flow}: {n} > {budget}: {counts:?}"
        );
    }
    site.clean_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_answers_in_json() {
    let site = Site::start("json").await;
    std::fs::write(site.dir.join("good.toml"), "backend = \"local\"\n").unwrap();
    for args in [
        &["setup-labels", "--json"][..],
        &["labels", "reference", "--json"],
        &["status", "42", "--json"],
        &["list", "--json"],
        &["list", "--all", "--json"],
        &["plan", "42", "--json"],
        &["sync", "42", "--json"],
        &["cleanup", "--dry-run", "--json"],
        &["cleanup", "--json"],
        &["cleanup-labels", "--dry-run", "--json"],
        &["cleanup-labels", "--json"],
        &["version", "--json"],
        &["config", "check", "good.toml", "--json"],
        &["start", "42", "--json"],
        &["stop", "42", "--json"],
    ] {
        let run = site.showtime(args).await;
        assert_eq!(run.code, 0, "{args:?}: {run:?}");
        let _ = run.json();
    }
    let defined = site.fake.definitions();
    assert!(
        defined.iter().any(|(name, _, _)| name == TRIGGER),
        "setup-labels defined the trigger"
    );
    site.clean_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_and_bad_input_have_their_own_exit_codes() {
    let site = Site::start("refusals").await;
    let as_visitor = site
        .run_with(
            env!("CARGO_BIN_EXE_showtime"),
            &["start", "42"],
            &[("GITHUB_ACTOR", "visitor")],
        )
        .await;
    assert_eq!(as_visitor.code, 3, "{as_visitor:?}");
    assert!(
        as_visitor.stderr.contains("needs `write`"),
        "{as_visitor:?}"
    );
    assert!(site.live().await.is_empty());
    assert!(
        site.showtime_labels(42).is_empty(),
        "a refusal changes nothing"
    );

    let missing = site.showtime(&["status", "999"]).await;
    assert_eq!(missing.code, 2, "{missing:?}");
    assert!(
        missing.stderr.contains("PR #999 does not exist"),
        "{missing:?}"
    );

    let usage = site.showtime(&["sync", "forty-two"]).await;
    assert_eq!(usage.code, 2, "{usage:?}");
    let usage = site.showtime(&["list", "--backend", "gcp"]).await;
    assert_eq!(usage.code, 2, "{usage:?}");

    let config = site.dir.join("bad.toml");
    std::fs::write(&config, "dialect = \"seed\"\n\nmax_ttl = \"forever\"\n").unwrap();
    let check = site
        .showtime(&["config", "check", config.to_str().unwrap()])
        .await;
    assert_eq!(check.code, 2, "{check:?}");
    assert!(check.stderr.contains("bad.toml:3:"), "{check:?}");
    let good = site.dir.join("good.toml");
    std::fs::write(&good, "backend = \"local\"\ndefault_ttl = \"24h\"\n").unwrap();
    site.showtime(&["config", "check", good.to_str().unwrap()])
        .await
        .ok();
    // A bad file is refused before anything is touched.
    let with_bad = site
        .showtime(&["--config", config.to_str().unwrap(), "sync", "42"])
        .await;
    assert_eq!(with_bad.code, 2, "{with_bad:?}");

    let no_secret = site
        .run_with(env!("CARGO_BIN_EXE_showtime-webhook"), &[], &[])
        .await;
    assert_eq!(no_secret.code, 2, "{no_secret:?}");
    assert!(
        no_secret.stderr.contains("GITHUB_WEBHOOK_SECRET"),
        "{no_secret:?}"
    );
    site.clean_up().await;
}

/// The budgets of the team path: a `start` by a member of an allowed team
/// below the permission level costs one membership read more than `start`
/// (8); a refusal, the PR read, the permission and the membership.
const TEAM_BUDGETS: &[(&str, usize)] = &[("start (team member)", 9), ("start (refused)", 3)];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_of_an_allowed_team_starts_an_environment() {
    let site = Site::start("teams").await;
    std::fs::write(
        site.dir.join("showtime.toml"),
        "[access]\nallowed_teams = [\"acme/committers\"]\n",
    )
    .unwrap();
    site.fake.set_permission("bob", "read");
    site.fake
        .set_team_membership("acme/committers", "bob", Some("active"));
    let mut counts = Vec::new();

    // Someone in neither: refused, naming both rules, nothing touched.
    let (refused, n) = site.counted_as("visitor", &["start", "42"], "").await;
    counts.push(("start (refused)", n));
    assert_eq!(refused.code, 3, "{refused:?}");
    assert!(
        refused
            .stderr
            .contains("not an active member of `acme/committers`"),
        "{refused:?}"
    );
    assert_eq!(site.fake.count("GET", "/orgs/"), 1);
    assert!(site.live().await.is_empty());

    // A member with `read`: the environment runs.
    let (started, n) = site.counted_as("bob", &["start", "42", "--json"], "").await;
    counts.push(("start (team member)", n));
    started.ok();
    assert_eq!(site.live().await, [format!("pr-42-{}", &HEAD[..7])]);
    assert_eq!(
        site.fake.count("GET", "/orgs/"),
        1,
        "one membership read in the process, however often the rule is applied"
    );
    println!("team budgets: {counts:?}");
    for (flow, budget) in TEAM_BUDGETS {
        let n = counts.iter().find(|(f, _)| f == flow).unwrap().1;
        assert!(n <= *budget, "{flow}: {n} > {budget}: {counts:?}");
    }
    site.clean_up().await;
}

/// Makes PR `pr`'s creation label say it was created `hours` ago.
fn backdate(site: &Site, pr: u64, hours: i64) {
    let created = site
        .fake
        .labels(pr)
        .into_iter()
        .find(|l| l.starts_with("🎪 📅 "))
        .unwrap();
    assert!(site.fake.remove_label_as_person(pr, &created));
    let then = chrono::Utc::now() - chrono::Duration::hours(hours);
    let label = format!("🎪 📅 {}", then.format("%Y-%m-%dT%H-%M"));
    site.fake.add_labels_as_person(pr, &[&label]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_destroys_expired_closed_and_orphaned_environments() {
    let site = Site::start("sweep").await;
    for pr in [1u64, 2, 3] {
        let mut seeded = FakePr::new(pr);
        seeded.labels = vec![TRIGGER.to_owned()];
        site.fake.add_pull_request(seeded);
        site.showtime(&["sync", &pr.to_string()]).await.ok();
    }
    // 1 expired (created three days ago, TTL 48h), 2 closed, 3 fresh.
    backdate(&site, 1, 72);
    site.fake.set_state(2, FakeState::Closed);
    // An environment whose PR does not exist, older than the grace period.
    let orphan = EnvId {
        pr: PrNumber::new(77).unwrap(),
        sha: "0ddba11".parse().unwrap(),
    };
    let backend = site.backend();
    backend
        .deploy(&EnvSpec {
            id: orphan.clone(),
            sha: "0ddba110000000000000000000000000000000ff"
                .parse::<Sha>()
                .unwrap(),
            image: "local/orphan".into(),
            config: Config::default(),
            requested_by: Some("maintainer".parse::<Login>().unwrap()),
            created_at: chrono::Utc::now() - chrono::Duration::hours(2),
            expires_at: None,
        })
        .await
        .unwrap();
    assert_eq!(site.live().await.len(), 4);

    let dry = site
        .run_with(
            env!("CARGO_BIN_EXE_showtime-sweep"),
            &["--dry-run", "--json"],
            &[],
        )
        .await
        .ok()
        .json();
    assert_eq!(dry["destroyed"].as_array().unwrap().len(), 3, "{dry}");
    assert_eq!(site.live().await.len(), 4, "a dry run destroys nothing");

    site.fake.clear_requests();
    let sweep = site
        .run_with(env!("CARGO_BIN_EXE_showtime-sweep"), &[], &[])
        .await
        .ok();
    eprintln!(
        "GitHub requests: showtime-sweep over 3 PRs and an orphan: {}",
        site.fake.requests().len()
    );
    assert!(
        site.fake.requests().len() <= 12,
        "{:?}",
        site.fake.requests()
    );
    let text = sweep.stdout;
    assert!(text.contains("destroyed pr-1-"), "{text}");
    assert!(text.contains("TTL expired"), "{text}");
    assert!(text.contains("destroyed pr-2-"), "{text}");
    assert!(
        text.contains(&format!("destroyed {}", orphan.name())),
        "{text}"
    );
    assert!(text.contains("kept PR #3"), "{text}");
    let live = site.live().await;
    assert_eq!(live.len(), 1, "{live:?}");
    assert!(live[0].starts_with("pr-3-"), "{live:?}");
    site.clean_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cleanup_of_50_prs_stays_within_its_github_budget() {
    let site = Site::start("cleanup50").await;
    std::fs::write(
        site.dir.join("showtime.toml"),
        "quota_per_requester = 20\nquota_total = 20\n",
    )
    .unwrap();
    // #42 is the site's own, as the 50th.
    for pr in (1u64..=51).filter(|pr| *pr != 42) {
        let mut seeded = FakePr::new(pr);
        if pr <= 15 {
            seeded.labels = vec![TRIGGER.to_owned()];
        }
        site.fake.add_pull_request(seeded);
    }
    for pr in 1u64..=15 {
        site.showtime(&["sync", &pr.to_string()]).await.ok();
    }
    // 10 expired (created three days ago, TTL 24h), 5 fresh.
    for pr in 1u64..=10 {
        backdate(&site, pr, 72);
    }
    assert_eq!(site.live().await.len(), 15);

    let (cleanup, n) = site.counted(&["cleanup", "--json"]).await;
    let report = cleanup.ok().json();
    eprintln!("GitHub requests: showtime cleanup, 50 open PRs, 10 expired, 5 fresh: {n}");
    assert!(n <= 40, "{n}: {:?}", site.fake.requests());
    assert_eq!(
        report["destroyed"].as_array().unwrap().len(),
        10,
        "{report}"
    );
    let live = site.live().await;
    assert_eq!(live.len(), 5, "{live:?}");
    for pr in 1u64..=15 {
        assert_eq!(
            site.fake.comments(pr).len(),
            1,
            "one status comment on #{pr}"
        );
    }
    for pr in 1u64..=10 {
        let labels = site.showtime_labels(pr);
        assert!(
            labels.iter().all(|l| l.starts_with("🎪 💬 ")),
            "#{pr}: {labels:?}"
        );
    }

    // Nothing left to do: the open PRs' one page, and the definitions'.
    let (again, n) = site.counted(&["cleanup", "--json"]).await;
    again.ok();
    eprintln!("GitHub requests: showtime cleanup, 50 open PRs, nothing to do: {n}");
    assert!(n <= 50usize.div_ceil(100) + 1, "{:?}", site.fake.requests());
    site.clean_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_with_nothing_to_do_costs_a_page_per_100_prs_and_one_more() {
    let site = Site::start("sweep-idle").await;
    for pr in 100u64..250 {
        site.fake.add_pull_request(FakePr::new(pr));
    }
    let open: usize = 151; // with #42
    let (sweep, n) = {
        site.fake.clear_requests();
        let run = site
            .run_with(env!("CARGO_BIN_EXE_showtime-sweep"), &["--json"], &[])
            .await;
        (run, site.fake.requests().len())
    };
    sweep.ok();
    eprintln!("GitHub requests: showtime-sweep over {open} open PRs, nothing to do: {n}");
    assert_eq!(n, open.div_ceil(100) + 1, "{:?}", site.fake.requests());
    site.clean_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_older_than_spares_what_the_ttl_keeps() {
    let site = Site::start("older").await;
    for pr in [1u64, 2] {
        let mut seeded = FakePr::new(pr);
        seeded.labels = vec![TRIGGER.to_owned()];
        site.fake.add_pull_request(seeded);
        site.showtime(&["sync", &pr.to_string()]).await.ok();
    }
    // PR 2 is kept alive until it closes.
    site.showtime_with_input(&["sync", "2", "--comment", "-"], "/circus keep-alive")
        .await
        .ok();
    assert!(site.showtime_labels(2).contains(&"🎪 ⌛ close".to_owned()));

    let dry = site
        .showtime(&[
            "cleanup",
            "--older-than",
            "0s",
            "--respect-ttl",
            "--dry-run",
            "--json",
        ])
        .await
        .ok()
        .json();
    assert_eq!(dry["older_than"].as_array().unwrap().len(), 1, "{dry}");
    assert_eq!(site.live().await.len(), 2, "a dry run stops nothing");

    let done = site
        .showtime(&["cleanup", "--older-than", "0s", "--respect-ttl", "--json"])
        .await
        .ok()
        .json();
    let stopped = done["older_than"].as_array().unwrap();
    assert_eq!(stopped.len(), 1, "{done}");
    assert!(stopped[0].as_str().unwrap().starts_with("pr-1-"), "{done}");
    let live = site.live().await;
    assert!(live.len() == 1 && live[0].starts_with("pr-2-"), "{live:?}");

    // Without --respect-ttl, age alone decides.
    site.showtime(&["cleanup", "--older-than", "0s"]).await.ok();
    assert!(site.live().await.is_empty());
    site.clean_up().await;
}

/// Sends SIGTERM to a server and checks that it stops cleanly.
async fn stop_cleanly(child: &mut tokio::process::Child) {
    let pid = child.id().unwrap();
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
}

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_server_reconciles_signed_deliveries() {
    let site = Site::start("webhook").await;
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut server = site.command(
        env!("CARGO_BIN_EXE_showtime-webhook"),
        &["--listen", &listen],
    );
    server.env(
        "GITHUB_WEBHOOK_SECRET",
        String::from_utf8(SECRET.to_vec()).unwrap(),
    );
    let mut child = server.stderr(Stdio::null()).spawn().unwrap();
    let addr: SocketAddr = listen.parse().unwrap();
    eventually("the server to listen", async || {
        http_text(addr, "/healthz").await.is_some()
    })
    .await;

    // A label from the sender of the delivery, who may deploy: queued at
    // once, then deployed.
    site.fake.set_permission(AUTHOR, "write");
    site.fake.add_labels_as_person(42, &[TRIGGER]);
    let labeled = pull_request_event("labeled", 42, TRIGGER);
    let reply = deliver(addr, "pull_request", "delivery-1", &labeled).await;
    assert_eq!(reply.status, 202, "{reply:?}");
    eventually("the environment to run", async || {
        site.showtime_labels(42)
            .contains(&"🎪 🚦 running".to_owned())
    })
    .await;
    assert_eq!(site.live().await, ["pr-42-abc123f"]);

    // The same delivery again: answered, not processed.
    let again = deliver(addr, "pull_request", "delivery-1", &labeled).await;
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(again.body["duplicate"], true, "{again:?}");

    // A bad signature: refused, nothing queued.
    let headers = github_headers("pull_request", "delivery-2", &labeled, b"wrong secret");
    let forged = http(addr, "POST", "/webhook", &headers, &labeled).await;
    assert_eq!(forged.status, 401, "{forged:?}");
    let environments = http(addr, "GET", "/environments", &[], b"").await;
    assert_eq!(environments.status, 200);
    assert_eq!(
        environments.body[0]["name"], "pr-42-abc123f",
        "{environments:?}"
    );
    // The dashboard is served on the same port.
    let page = http_text(addr, "/dashboard").await.unwrap_or_default();
    assert!(
        page.contains("#42 Add a &lt;circus&gt; tent</a>") && page.contains("class=st-running>"),
        "{page}"
    );

    // A ping: acknowledged.
    let ping = deliver(addr, "ping", "delivery-ping", &ping_event()).await;
    assert_eq!(ping.status, 200, "{ping:?}");

    // A push by the author: a rolling update to the new head.
    site.fake.set_head(42, SECOND);
    let pushed = pull_request_event("synchronize", 42, TRIGGER);
    let reply = deliver(addr, "pull_request", "delivery-push", &pushed).await;
    assert_eq!(reply.status, 202, "{reply:?}");
    eventually("the rolling update", async || {
        site.live().await == ["pr-42-5eadbee"]
    })
    .await;

    // A comment: /circus destroy from the maintainer.
    site.fake.add_comment(42, MAINTAINER, "/circus destroy");
    let comment = comment_event(42, "/circus destroy", MAINTAINER);
    let reply = deliver(addr, "issue_comment", "delivery-3", &comment).await;
    assert_eq!(reply.status, 202, "{reply:?}");
    eventually("the environment to go", async || {
        site.live().await.is_empty()
    })
    .await;

    // SIGTERM: a clean shutdown.
    stop_cleanly(&mut child).await;
    site.clean_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn showtime_dashboard_serves_the_page_of_every_environment() {
    let site = Site::start("dashboard").await;
    site.fake.add_labels_as_person(42, &[TRIGGER]);
    site.showtime(&["sync", "42", "--sha", HEAD]).await.ok();
    let listen = format!("127.0.0.1:{}", free_port());
    let mut child = site
        .command(
            env!("CARGO_BIN_EXE_showtime"),
            &["dashboard", "--listen", &listen],
        )
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr: SocketAddr = listen.parse().unwrap();
    eventually("the dashboard to list PR #42", async || {
        http_text(addr, "/dashboard").await.is_some_and(|page| {
            page.contains("#42 Add a &lt;circus&gt; tent</a>") && page.contains("abc123f")
        })
    })
    .await;
    let data = http_text(addr, "/dashboard/data").await.unwrap_or_default();
    assert!(data.contains("\"status\":\"running\""), "{data}");
    let data: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert_eq!(data["environments"][0]["title"], TITLE, "{data}");

    stop_cleanly(&mut child).await;
    site.clean_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_to_the_end() {
    let dir = std::env::temp_dir().join(format!("showtime-e2e-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_showtime"))
        .arg("demo")
        .current_dir(&dir)
        .env_remove("GITHUB_ACTIONS")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), output)
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for step in ["1. ", "2. ", "3. ", "4. ", "5. "] {
        assert!(stdout.contains(step), "step {step} missing:\n{stdout}");
    }
    assert!(stdout.contains("PR #42 preview"), "{stdout}");
    assert!(stdout.contains("🎪 🚩 ALERTS=true"), "{stdout}");
    assert!(stdout.contains("TTL expired"), "{stdout}");
    assert!(
        stdout.contains("Notification received at http://127.0.0.1:")
            && stdout.contains("\"text\":\"PR #42: environment "),
        "{stdout}"
    );
    assert!(stdout.contains("Done: 0 environment(s) left"), "{stdout}");
    assert!(
        stdout.contains("/dashboard (sign in as @maintainer"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
