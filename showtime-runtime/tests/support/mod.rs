//! What the dashboard tests share: a stage with the fake GitHub, the real
//! engine over its GitHub adapter with the in-memory backend, and the
//! dashboard served on 127.0.0.1; an HTTP helper that keeps cookies.

// Each test binary that includes this module uses only part of it.
#![allow(dead_code)]

pub mod webdriver;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::Request;
use hyper::body::Bytes;
use showtime_core::engine::{Engine, Ports};
use showtime_core::plan::Event;
use showtime_core::policy::Policy;
use showtime_core::testing::{Faults, ManualClock, MemoryBackend, MemoryBuilder};
use showtime_core::{Login, PrNumber};
use showtime_github::fake::{FakeGitHub, FakePr};
use showtime_github::{Auth, GitHubConfig, GitHubHost};
use showtime_runtime::cost::Costs;
use showtime_runtime::dashboard::auth::{GitHubSignIn, OAuthApp, SessionKey};
use showtime_runtime::dashboard::{Dashboard, DashboardSettings, MonthSource};
use showtime_runtime::http::{Answer, HttpClient};
use tokio::net::TcpListener;

pub const OWNER: &str = "acme";
pub const REPO: &str = "widgets";
pub const CLIENT_ID: &str = "Iv1.dashboard-test";
pub const CLIENT_SECRET: &str = "dashboard-test-secret";
pub const MAINTAINER: &str = "maintainer";
pub const OUTSIDER: &str = "outsider";

/// Who asked for the seeded environments, with their PR and head.
pub const SEEDED: [(u64, &str, &str); 4] = [
    (101, "alice", "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"),
    (102, "bob", "b0b0b0b1234567890abcdef1234567890abcdef1"),
    (103, "carol", "c0ffee01234567890abcdef1234567890abcdef2"),
    (104, "alice", "d00d1e5e1234567890abcdef1234567890abcdef"),
];

/// Everything a dashboard test runs against.
pub struct Stage {
    pub fake: FakeGitHub,
    pub backend: Arc<MemoryBackend>,
    pub clock: Arc<ManualClock>,
    pub engine: Arc<Engine>,
    pub addr: SocketAddr,
    pub base: String,
    pub client: HttpClient,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

/// How the stage's dashboard is set up.
#[derive(Clone)]
pub struct Options {
    pub public: bool,
    pub refresh: Duration,
    /// Mount the dashboard on the webhook server (else serve it alone).
    pub on_webhook_server: bool,
    /// The month's figures from this audit trail.
    pub month: Option<MonthSource>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            public: true,
            refresh: Duration::from_secs(15),
            on_webhook_server: false,
            month: None,
        }
    }
}

impl Stage {
    /// A fake GitHub with the OAuth app, a maintainer (write) and an
    /// outsider (read); an engine on it with the in-memory backend; the
    /// dashboard on a free loopback port. No PR yet.
    pub async fn empty(options: Options) -> Stage {
        let fake = FakeGitHub::start(OWNER, REPO)
            .await
            .expect("the fake starts");
        fake.set_oauth_app(CLIENT_ID, CLIENT_SECRET);
        fake.set_permission(MAINTAINER, "write");
        fake.set_permission(OUTSIDER, "read");
        for (_, who, _) in SEEDED {
            fake.set_permission(who, "write");
        }
        let faults = Arc::new(Faults::default());
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let backend = Arc::new(MemoryBackend::default());
        let config = GitHubConfig::new(&format!("{OWNER}/{REPO}"), Auth::Token("bot".into()))
            .expect("GitHub settings")
            .with_api_url(&fake.url());
        let host = GitHubHost::new(config).expect("the GitHub client");
        let ports = Ports {
            host: Arc::new(host),
            backend: backend.clone(),
            builder: Arc::new(MemoryBuilder::new(faults)),
            clock: clock.clone(),
            notifier: None,
        };
        let engine = Arc::new(Engine::new(ports, Policy::default()));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let addr = listener.local_addr().expect("its address");
        let base = format!("http://{addr}");
        let root = fake.url().trim_end_matches('/').to_owned();
        let settings = DashboardSettings {
            public: options.public,
            base_url: base.clone(),
            repository: Some(format!("{OWNER}/{REPO}")),
            github_url: root.clone(),
            sign_in: Some(GitHubSignIn {
                web: root.clone(),
                api: root,
                app: OAuthApp::new(CLIENT_ID, CLIENT_SECRET),
            }),
            session_key: SessionKey::random().expect("a key"),
            secure_cookies: false,
            refresh: options.refresh,
            costs: Costs::default(),
            month: options.month.clone(),
        };
        let dashboard = Dashboard::new(engine.clone(), settings).expect("the dashboard");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        if options.on_webhook_server {
            let webhook = showtime_github::webhook::Webhook::new("secret").expect("a webhook");
            let state = showtime_runtime::server::AppState::new(
                engine.clone(),
                webhook,
                &showtime_runtime::server::ServerSettings::default(),
            )
            .with_dashboard(dashboard);
            tokio::spawn(showtime_runtime::server::serve(listener, state, shutdown));
        } else {
            tokio::spawn(dashboard.serve(listener, shutdown));
        }
        Stage {
            fake,
            backend,
            clock,
            engine,
            addr,
            base,
            client: HttpClient::new().expect("a client"),
            stop: Some(stop),
        }
    }

    /// [`Stage::empty`] with the [`SEEDED`] environments created through
    /// the engine, an hour apart: #102 with `ALERTS` on and size `large`,
    /// #103 failed (it never became healthy).
    pub async fn seeded(options: Options) -> Stage {
        let stage = Stage::empty(options).await;
        stage.backend.make_unhealthy(&SEEDED[2].2[..7]);
        for (n, who, head) in SEEDED {
            let mut pr = FakePr::new(n);
            pr.title = format!("Feature {n}");
            pr.author = who.to_owned();
            pr.head_sha = head.to_owned();
            pr.labels = vec!["🎪 ⚡ showtime-trigger-start".to_owned()];
            stage.fake.add_pull_request(pr);
            stage.reconcile(n, Event::Look, who).await;
            stage.clock.advance(chrono::Duration::minutes(61));
        }
        for command in ["/circus enable ALERTS", "/circus size large"] {
            let work = showtime_runtime::request::Work::from_comment(
                pr(102),
                command,
                login("bob"),
                &stage.engine.policy().codec,
            );
            showtime_runtime::request::carry_out(&stage.engine, work, None).await;
        }
        stage
    }

    pub async fn reconcile(&self, n: u64, event: Event, who: &str) {
        // A failed deploy is an outcome, not an error of the reconcile.
        self.engine
            .reconcile(pr(n), event, Some(login(who)))
            .await
            .expect("the reconcile finishes");
    }

    /// The 🎪 labels of PR `n` on the fake, but `🎪 💬 <id>` (where the
    /// status comment is, kept for the PR's whole life).
    pub fn showtime_labels(&self, n: u64) -> Vec<String> {
        self.fake
            .labels(n)
            .into_iter()
            .filter(|l| l.starts_with('🎪') && !l.starts_with("🎪 💬 "))
            .collect()
    }

    /// Whether the backend runs an environment of PR `n`.
    pub fn runs(&self, n: u64) -> bool {
        self.backend
            .environments()
            .iter()
            .any(|e| e.id.pr.get() == n)
    }

    /// One request to the dashboard (or any URL), with `jar`'s cookies; the
    /// answer's cookies go into `jar`.
    pub async fn send(
        &self,
        method: &str,
        url: &str,
        jar: &mut Jar,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Answer {
        let url = if url.starts_with("http") {
            url.to_owned()
        } else {
            format!("{}{url}", self.base)
        };
        let mut request = Request::builder().method(method).uri(&url);
        if let Some(cookie) = jar.header() {
            request = request.header("cookie", cookie);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if method == "POST" {
            request = request.header("content-type", "application/x-www-form-urlencoded");
        }
        let request = request
            .body(Full::new(Bytes::from(body.to_owned())))
            .expect("a request");
        let answer = self
            .client
            .send(request, Duration::from_secs(30), 4 << 20)
            .await
            .expect("an answer");
        jar.take(&answer);
        answer
    }

    pub async fn get(&self, path: &str, jar: &mut Jar) -> Answer {
        self.send("GET", path, jar, &[], "").await
    }

    /// Signs in through the fake GitHub's OAuth flow as `who`; returns the
    /// cookie jar holding the session.
    pub async fn sign_in(&self, who: &str) -> Jar {
        self.fake.set_oauth_user(Some(who));
        let mut jar = Jar::default();
        let to_github = self.get("/dashboard/login", &mut jar).await;
        assert_eq!(to_github.status, 303);
        let authorize = location(&to_github);
        let back = self.get(&authorize, &mut jar).await;
        assert_eq!(back.status, 302, "the fake sends the browser back");
        let done = self.get(&location(&back), &mut jar).await;
        assert_eq!(done.status, 303, "{}", text(&done));
        assert!(jar.get("showtime_session").is_some(), "a session cookie");
        jar
    }

    /// The page as `jar`'s holder sees it.
    pub async fn page(&self, jar: &mut Jar) -> String {
        let answer = self.get("/dashboard", jar).await;
        assert_eq!(answer.status, 200, "{}", text(&answer));
        text(&answer)
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub fn pr(n: u64) -> PrNumber {
    PrNumber::new(n).expect("a PR number")
}

pub fn login(who: &str) -> Login {
    who.parse().expect("a login")
}

pub fn text(answer: &Answer) -> String {
    String::from_utf8_lossy(&answer.body).into_owned()
}

pub fn header<'a>(answer: &'a Answer, name: &str) -> Option<&'a str> {
    answer.headers.get(name).and_then(|v| v.to_str().ok())
}

pub fn location(answer: &Answer) -> String {
    header(answer, "location")
        .expect("a Location header")
        .to_owned()
}

/// The CSRF token the page's forms carry.
pub fn csrf(page: &str) -> String {
    let (_, rest) = page
        .split_once("name=\"csrf\" value=\"")
        .expect("a CSRF field");
    rest.split('"').next().unwrap_or_default().to_owned()
}

/// Cookies as a browser keeps them (by name; `Max-Age=0` removes).
#[derive(Debug, Default, Clone)]
pub struct Jar(BTreeMap<String, String>);

impl Jar {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    fn header(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| {
            self.0
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    fn take(&mut self, answer: &Answer) {
        for value in answer.headers.get_all("set-cookie") {
            let Ok(value) = value.to_str() else { continue };
            let Some((pair, attributes)) = value.split_once(';') else {
                continue;
            };
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            if attributes.contains("Max-Age=0") {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_owned(), value.to_owned());
            }
        }
    }
}
