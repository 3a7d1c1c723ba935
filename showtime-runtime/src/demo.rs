//! `showtime demo`: the whole system on one machine, with no account
//! anywhere and no network beyond 127.0.0.1.
//!
//! It starts the fake GitHub, seeds a repository with a PR, and drives the
//! real stack — the octocrab adapter over HTTP, the planner, the engine —
//! with the local-process backend, whose environments are this program's
//! own preview app on loopback ports. The script: a maintainer labels the
//! PR; the environment is built and runs; its page is fetched; a commit is
//! pushed and rolled out while the old environment keeps answering;
//! `/circus extend 48h`; `/circus enable ALERTS`; the clock jumps past the
//! TTL and a sweep destroys everything. After each step it prints the PR's
//! labels and the sticky comment. Notifications go to the generic JSON
//! webhook, pointed at a receiver the demo runs on loopback, which prints
//! the first one it gets (the environment is ready).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use showtime_core::engine::{Engine, Ports};
use showtime_core::plan::Event;
use showtime_core::policy::Policy;
use showtime_core::ports::{Backend, Health};
use showtime_core::{Login, PrNumber};
use showtime_github::fake::{FakeGitHub, FakePr};
use showtime_github::{Auth, GitHubConfig, GitHubHost};
use showtime_local::{LocalBackend, LocalSettings, probe};

use crate::builder::NoBuild;
use crate::clock::SystemClock;
use crate::notify::{Format, WebhookNotifier};
use crate::request::{Work, carry_out};

/// Where the demo prints: one line at a time.
pub type Lines<'a> = dyn FnMut(&str) -> std::io::Result<()> + 'a;

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// A step of the script failed; the message says which and why.
    #[error("demo: {0}")]
    Failed(String),
    /// Printing failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

const PR: u64 = 42;
const MAINTAINER: &str = "maintainer";
const SECOND_COMMIT: &str = "5eadbeefcafe0123456789abcdef0123456789ab";

/// The notifications the demo's receiver got, as JSON, in order.
type Received = Arc<std::sync::Mutex<Vec<serde_json::Value>>>;

struct Demo {
    fake: FakeGitHub,
    /// Where the JSON-webhook notifier posts, and what arrived there.
    receiver: (String, Received),
    engine: Arc<Engine>,
    /// Where the dashboard answers, and how to stop it.
    dashboard: (String, tokio::sync::oneshot::Sender<()>),
    clock: Arc<SystemClock>,
    backend: Arc<LocalBackend>,
    state_dir: std::path::PathBuf,
    pr: PrNumber,
    maintainer: Login,
}

fn failed(what: &str) -> impl FnOnce(String) -> DemoError + '_ {
    move |e| DemoError::Failed(format!("{what}: {e}"))
}

/// Runs the demo script; with `keep_running`, stops before the sweep and
/// leaves everything up until Ctrl-C.
pub async fn run(out: &mut Lines<'_>, keep_running: bool) -> Result<(), DemoError> {
    let demo = Demo::start().await?;
    let result = demo.script(out, keep_running).await;
    if result.is_ok() && keep_running {
        demo.wait_for_ctrl_c(out).await?;
    }
    demo.stop().await;
    result
}

impl Demo {
    async fn start() -> Result<Demo, DemoError> {
        let fake = FakeGitHub::start("showtime-demo", "preview")
            .await
            .map_err(|e| failed("starting the fake GitHub")(e.to_string()))?;
        let mut seeded = FakePr::new(PR);
        seeded.title = "Add a chart type".to_owned();
        seeded.author = "contributor".to_owned();
        fake.add_pull_request(seeded);
        fake.set_permission(MAINTAINER, "write");

        let state_dir = std::env::temp_dir().join(format!("showtime-demo-{}", std::process::id()));
        let mut local = LocalSettings::new(
            &state_dir,
            LocalSettings::default_command()
                .map_err(|e| failed("finding this program")(e.to_string()))?,
        );
        local.ready_timeout = Duration::from_secs(15);
        let backend = Arc::new(
            LocalBackend::new(local).map_err(|e| failed("the local backend")(e.to_string()))?,
        );
        let config = GitHubConfig::new("showtime-demo/preview", Auth::Token("demo".into()))
            .map_err(|e| failed("GitHub settings")(e.to_string()))?
            .with_api_url(&fake.url());
        let host =
            GitHubHost::new(config).map_err(|e| failed("the GitHub client")(e.to_string()))?;
        let clock = Arc::new(SystemClock::default());
        let receiver = start_receiver().await?;
        let notifier = WebhookNotifier::new(
            &receiver.0,
            Format::Json { secret: None },
            Some("showtime-demo/preview".to_owned()),
        )
        .map_err(|e| failed("the notifier")(e.to_string()))?;
        let ports = Ports {
            host: Arc::new(host),
            backend: backend.clone(),
            builder: Arc::new(NoBuild),
            clock: clock.clone(),
            notifier: Some(Arc::new(notifier)),
        };
        let engine = Arc::new(Engine::new(ports, Policy::default()));
        let dashboard = start_dashboard(&fake, engine.clone()).await?;
        Ok(Demo {
            fake,
            receiver,
            engine,
            dashboard,
            clock,
            backend,
            state_dir,
            pr: PrNumber::new(PR).ok_or_else(|| DemoError::Failed("PR 42".into()))?,
            maintainer: MAINTAINER
                .parse()
                .map_err(|e: showtime_core::Error| DemoError::Failed(e.to_string()))?,
        })
    }

    async fn script(&self, out: &mut Lines<'_>, keep_running: bool) -> Result<(), DemoError> {
        out(&format!(
            "🎪 Showtime demo: fake GitHub at {}, repository showtime-demo/preview, PR #{PR}",
            self.fake.url()
        ))?;
        out(&format!(
            "   Dashboard: {} (sign in as @{MAINTAINER} through the fake GitHub)",
            self.dashboard.0
        ))?;
        out(&format!(
            "   Notifications: the JSON webhook posts to a local receiver at {}",
            self.receiver.0
        ))?;

        self.step(out, "1. A maintainer adds `🎪 ⚡ showtime-trigger-start`")?;
        self.fake
            .add_labels_as_person(PR, &["🎪 ⚡ showtime-trigger-start"]);
        let outcome = self.reconcile(Event::Look).await?;
        out("   What the engine did, in order:")?;
        for event in &outcome.audit {
            out(&format!("     {}", event.action))?;
        }
        self.show(out)?;
        let first = self.url().await?;
        out(&format!("   The environment answers at {first}:"))?;
        let page = fetch(&first).await.map_err(failed("fetching the page"))?;
        out(&format!("   {}", title_of(&page)))?;
        self.show_notification(out)?;

        self.step(out, "2. A new commit is pushed: a rolling update")?;
        self.fake.set_head(PR, SECOND_COMMIT);
        // Probe the old environment all through the update, and watch for
        // the new one: the old must answer until the new one is healthy.
        let probes = Arc::new(std::sync::Mutex::new(Vec::<(bool, bool)>::new()));
        let done = Arc::new(AtomicBool::new(false));
        let prober = {
            let (url, probes, done) = (first.clone(), probes.clone(), done.clone());
            let (backend, pr) = (self.backend.clone(), self.pr);
            tokio::spawn(async move {
                while !done.load(Ordering::SeqCst) {
                    let old_answers = fetch(&url).await.is_ok();
                    let new_healthy = backend.list(Some(pr)).await.is_ok_and(|envs| {
                        envs.iter().any(|e| {
                            SECOND_COMMIT.starts_with(e.id.sha.as_str())
                                && e.health == Health::Healthy
                        })
                    });
                    probes
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push((old_answers, new_healthy));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
        };
        self.reconcile(Event::Push).await?;
        done.store(true, Ordering::SeqCst);
        let _ = prober.await;
        self.show(out)?;
        let second = self.url().await?;
        let probes = probes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let answered = probes.iter().filter(|(old, _)| *old).count();
        // Downtime: a probe the old one missed before the new one was up.
        let mut new_seen = false;
        let mut downtime = 0;
        for (old, new) in &probes {
            new_seen |= *new;
            if !old && !new_seen {
                downtime += 1;
            }
        }
        if downtime > 0 {
            return Err(failed("the rolling update")(format!(
                "the old environment missed {downtime} request(s) before the new one was healthy"
            )));
        }
        out(&format!(
            "   During the update the old environment answered {answered} of {} probes and \
             stopped only once the new one was healthy. Now {second} serves the new commit:",
            probes.len()
        ))?;
        let page = fetch(&second).await.map_err(failed("fetching the page"))?;
        out(&format!("   {}", title_of(&page)))?;

        self.step(out, "3. The maintainer comments `/circus extend 48h`")?;
        self.comment("/circus extend 48h").await?;
        self.show(out)?;

        self.step(out, "4. The maintainer comments `/circus enable ALERTS`")?;
        self.comment("/circus enable ALERTS").await?;
        self.show(out)?;

        if keep_running {
            return Ok(());
        }

        self.step(out, "5. Three days pass: the TTL runs out and a sweep runs")?;
        self.clock.advance(chrono::Duration::hours(72));
        let report = self
            .engine
            .sweep(false)
            .await
            .map_err(|e| failed("the sweep")(e.to_string()))?;
        out(&crate::view::sweep_text(&report))?;
        self.show(out)?;
        let left = self
            .backend
            .list(None)
            .await
            .map_err(|e| failed("listing environments")(e.to_string()))?;
        out(&format!(
            "\nDone: {} environment(s) left, {} GitHub requests made.",
            left.len(),
            self.fake.requests().len()
        ))?;
        Ok(())
    }

    fn step(&self, out: &mut Lines<'_>, title: &str) -> Result<(), DemoError> {
        Ok(out(&format!("\n{title}"))?)
    }

    async fn reconcile(&self, event: Event) -> Result<showtime_core::engine::Outcome, DemoError> {
        let outcome = self
            .engine
            .reconcile(self.pr, event, Some(self.maintainer.clone()))
            .await
            .map_err(|e| failed("reconcile")(e.to_string()))?;
        match &outcome.failure {
            Some(failure) => Err(failed("reconcile")(failure.clone())),
            None => Ok(outcome),
        }
    }

    /// A comment, carried out as every program carries one out.
    async fn comment(&self, body: &str) -> Result<(), DemoError> {
        self.fake.add_comment(PR, MAINTAINER, body);
        let work = Work::from_comment(
            self.pr,
            body,
            self.maintainer.clone(),
            &self.engine.policy().codec,
        );
        let done = carry_out(&self.engine, work, None).await;
        match (done.error(), done.failure()) {
            (Some(e), _) => Err(failed("the comment")(e.to_string())),
            (None, Some(failure)) => Err(failed("the comment")(failure.to_owned())),
            (None, None) => Ok(()),
        }
    }

    /// Prints the first notification the receiver got (the notifier sends
    /// before the reconcile returns, so it is there by now).
    fn show_notification(&self, out: &mut Lines<'_>) -> Result<(), DemoError> {
        let received = self
            .receiver
            .1
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .first()
            .cloned()
            .ok_or_else(|| failed("the notification")("the receiver got none".to_owned()))?;
        out(&format!(
            "   Notification received at {}:\n     {received}",
            self.receiver.0
        ))?;
        Ok(())
    }

    fn show(&self, out: &mut Lines<'_>) -> Result<(), DemoError> {
        let labels = self.fake.labels(PR);
        out("   Labels:")?;
        for label in labels.iter().filter(|l| l.starts_with('🎪')) {
            out(&format!("     {label}"))?;
        }
        let comments = self.fake.comments(PR);
        if let Some(sticky) = comments
            .iter()
            .rev()
            .find(|c| c.body.contains(showtime_core::comment::MARKER))
        {
            out("   Status comment:")?;
            for line in sticky.body.lines().filter(|l| !l.trim().is_empty()) {
                if !line.contains("<!--") {
                    out(&format!("     │ {line}"))?;
                }
            }
        }
        Ok(())
    }

    async fn url(&self) -> Result<String, DemoError> {
        let envs = self
            .backend
            .list(Some(self.pr))
            .await
            .map_err(|e| failed("listing environments")(e.to_string()))?;
        let head = self
            .fake
            .labels(PR)
            .into_iter()
            .find_map(|l| l.strip_prefix("🎪 🎯 ").map(str::to_owned));
        envs.iter()
            .filter(|e| head.as_deref().is_none_or(|h| e.id.sha.as_str() == h))
            .find_map(|e| e.address)
            .map(|a| format!("http://{a}/"))
            .ok_or_else(|| failed("the environment")("it has no address".to_owned()))
    }

    async fn wait_for_ctrl_c(&self, out: &mut Lines<'_>) -> Result<(), DemoError> {
        let url = self.url().await?;
        out(&format!(
            "\nStill running (--keep-running):\n  fake GitHub:  {api}/repos/showtime-demo/preview/issues/{PR}/labels\n  \
             environment:  {url}\n  dashboard:    {dashboard}\n  try:          curl {url}  ·  curl {api}/repos/showtime-demo/preview/issues/{PR}/comments\n\
             Press Ctrl-C (or send SIGTERM) to stop and clean up.",
            api = self.fake.url().trim_end_matches('/'),
            dashboard = self.dashboard.0,
        ))?;
        crate::signal::shutdown().await;
        Ok(())
    }

    /// Destroys what is left and stops the fake.
    async fn stop(self) {
        if let Ok(envs) = self.backend.list(None).await {
            for env in envs {
                let _ = self.backend.destroy(&env.id).await;
            }
        }
        let _ = std::fs::remove_dir_all(&self.state_dir);
        let _ = self.dashboard.1.send(());
        self.fake.shutdown().await;
    }
}

/// Runs a receiver of JSON notifications on a free loopback port; returns
/// its URL and what it receives.
async fn start_receiver() -> Result<(String, Received), DemoError> {
    use axum::routing::post;
    let received: Received = Arc::default();
    let kept = received.clone();
    let app = axum::Router::new().route(
        "/notifications",
        post(move |body: axum::body::Bytes| {
            let kept = kept.clone();
            async move {
                if let Ok(value) = serde_json::from_slice(&body) {
                    kept.lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push(value);
                }
                "received"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .map_err(|e| failed("the notification receiver")(e.to_string()))?;
    let addr = listener
        .local_addr()
        .map_err(|e| failed("the notification receiver")(e.to_string()))?;
    // It ends with the program; the demo waits for nothing it sends.
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((format!("http://{addr}/notifications"), received))
}

/// Serves the dashboard on a free loopback port, with sign-in through the
/// fake GitHub as the maintainer; returns its URL and its stop switch.
async fn start_dashboard(
    fake: &FakeGitHub,
    engine: Arc<Engine>,
) -> Result<(String, tokio::sync::oneshot::Sender<()>), DemoError> {
    use crate::dashboard::auth::{GitHubSignIn, OAuthApp, SessionKey};
    use crate::dashboard::{DEFAULT_REFRESH_SECS, Dashboard, DashboardSettings};
    fake.set_oauth_app("showtime-demo", "demo-secret");
    fake.set_oauth_user(Some(MAINTAINER));
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .map_err(|e| failed("the dashboard")(e.to_string()))?;
    let base = format!(
        "http://{}",
        listener
            .local_addr()
            .map_err(|e| failed("the dashboard")(e.to_string()))?
    );
    let github = fake.url().trim_end_matches('/').to_owned();
    let settings = DashboardSettings {
        public: true,
        base_url: base.clone(),
        repository: Some("showtime-demo/preview".to_owned()),
        github_url: github.clone(),
        sign_in: Some(GitHubSignIn {
            web: github.clone(),
            api: github,
            app: OAuthApp::new("showtime-demo", "demo-secret"),
        }),
        session_key: SessionKey::random().map_err(|e| failed("the dashboard")(e.to_string()))?,
        secure_cookies: false,
        refresh: Duration::from_secs(DEFAULT_REFRESH_SECS),
        costs: Default::default(),
        month: None,
    };
    let dashboard =
        Dashboard::new(engine, settings).map_err(|e| failed("the dashboard")(e.to_string()))?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(dashboard.serve(listener, async move {
        let _ = stopped.await;
    }));
    Ok((format!("{base}/dashboard"), stop))
}

/// The `<title>` of a page, or its first line.
fn title_of(page: &str) -> String {
    page.split_once("<title>")
        .and_then(|(_, rest)| rest.split_once("</title>"))
        .map(|(title, _)| title.trim().to_owned())
        .unwrap_or_else(|| page.lines().next().unwrap_or_default().to_owned())
}

/// The page at `url` (`http://127.0.0.1:PORT/`), when it answers 200.
async fn fetch(url: &str) -> Result<String, String> {
    let port = url
        .strip_prefix("http://127.0.0.1:")
        .and_then(|rest| rest.trim_end_matches('/').parse::<u16>().ok())
        .ok_or_else(|| format!("`{url}` is not a loopback URL"))?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    match probe::get(addr, "/", Duration::from_secs(5)).await {
        Ok(answer) if answer.status == probe::StatusCode::OK => Ok(answer.body),
        Ok(answer) => Err(format!("{url} answered {}", answer.status.as_u16())),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles() {
        assert_eq!(title_of("<html><title> PR #42 </title>"), "PR #42");
        assert_eq!(title_of("plain\nmore"), "plain");
    }
}
