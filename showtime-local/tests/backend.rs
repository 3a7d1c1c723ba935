//! The local-process backend against real processes on 127.0.0.1, each test
//! in its own temporary state directory.
//!
//! The environments run `python3` (a one-file HTTP server), so these tests
//! need `python3` on PATH. Every process a test starts is destroyed at its
//! end, and a guard kills whatever a failing test left behind.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use serde_json::Value;
use showtime_core::ports::{Backend, EnvId, EnvSpec, Health, PortError};
use showtime_core::{Address, ConfCommand, Config, PrNumber, Sha};
use showtime_local::{LocalBackend, LocalError, LocalSettings, probe};

/// A server that answers every GET with the JSON of its `SHOWTIME_*` and
/// `SUPERSET_FEATURE_*` environment variables; the port is its argument.
const ENV_SERVER: &str = r#"
import http.server, json, os, sys

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        keys = sorted(k for k in os.environ if k.startswith(("SHOWTIME_", "SUPERSET_FEATURE_")))
        body = json.dumps({k: os.environ[k] for k in keys}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

print("listening on", sys.argv[1], flush=True)
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"#;

/// A temporary state directory. Dropping it kills the process group of every
/// record still in it, then deletes it, so a failing test leaks nothing.
struct StateDir {
    path: PathBuf,
}

impl StateDir {
    fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "showtime-local-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        StateDir { path }
    }

    fn settings(&self, command: &[&str]) -> LocalSettings {
        let mut settings = LocalSettings::new(
            &self.path,
            command.iter().map(|w| (*w).to_owned()).collect(),
        );
        settings.ready_timeout = Duration::from_secs(20);
        settings.poll_interval = Duration::from_millis(50);
        settings.stop_grace = Duration::from_secs(3);
        settings
    }

    /// A backend running [`ENV_SERVER`], health-checked on `/health`.
    fn env_server(&self) -> LocalBackend {
        python3();
        LocalBackend::new(self.settings(&["python3", "-c", ENV_SERVER, "{port}"])).unwrap()
    }
}

impl Drop for StateDir {
    fn drop(&mut self) {
        if let Ok(entries) = std::fs::read_dir(&self.path) {
            for entry in entries.flatten() {
                if entry.path().extension().is_some_and(|e| e == "json") {
                    if let Some(pgid) = record(&entry.path())["process"]["pgid"].as_u64() {
                        if pgid != u64::from(std::process::id()) {
                            kill("-KILL", &format!("-{pgid}"));
                        }
                    }
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn python3() {
    let found = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "these tests run `python3`; install it or put it on PATH"
    );
}

fn kill(signal: &str, target: &str) {
    let _ = Command::new("kill")
        .args([signal, "--", target])
        .stderr(std::process::Stdio::null())
        .status();
}

fn record(path: &Path) -> Value {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null)
}

fn pid_of(backend: &LocalBackend, id: &EnvId) -> u32 {
    let pid = record(&backend.record_path(id))["process"]["pid"]
        .as_u64()
        .expect("the record names a pid");
    u32::try_from(pid).unwrap()
}

/// Whether `pid` runs (a zombie does not).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next());
        !matches!(state, Some("Z" | "X"))
    })
}

async fn wait_until_dead(pid: u32) {
    for _ in 0..200 {
        if !running(pid) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("process {pid} is still running");
}

fn spec(pr: u64, sha: &str) -> EnvSpec {
    let sha: Sha = sha.parse().unwrap();
    EnvSpec {
        id: EnvId {
            pr: PrNumber::new(pr).unwrap(),
            sha: sha.short(),
        },
        image: format!("example/app:pr-{pr}-{}-ci", sha.short()),
        sha,
        config: Config::default(),
        requested_by: Some("octocat".parse().unwrap()),
        created_at: DateTime::<Utc>::from(SystemTime::UNIX_EPOCH)
            + chrono::Duration::seconds(1_750_000_000),
        expires_at: None,
    }
}

/// `GET path` on `address`: the status and the body.
async fn get(address: SocketAddr, path: &str) -> Result<(u16, String), probe::ProbeError> {
    let answer = probe::get(address, path, Duration::from_secs(5)).await?;
    Ok((answer.status.as_u16(), answer.body))
}

fn socket(address: Address) -> SocketAddr {
    SocketAddr::from((address.ip(), address.port().unwrap().get()))
}

const SHA_A: &str = "abc123f0000000000000000000000000000000aa";
const SHA_B: &str = "def4567000000000000000000000000000000bbb";

#[tokio::test]
async fn deployed_environment_answers_at_its_address() {
    python3();
    let dir = StateDir::new();
    let serve_from = dir.path.to_str().unwrap().to_owned();
    let mut settings = dir.settings(&[
        "python3",
        "-m",
        "http.server",
        "--bind",
        "127.0.0.1",
        "--directory",
        &serve_from,
        "{port}",
    ]);
    settings.health_path = "/".to_owned();
    let backend = LocalBackend::new(settings).unwrap();
    let spec = spec(42, SHA_A);

    backend.deploy(&spec).await.unwrap();
    let address = backend.wait_ready(&spec.id).await.unwrap();
    assert_eq!(address.ip(), Ipv4Addr::LOCALHOST);
    let (status, _) = get(socket(address), "/").await.unwrap();
    assert_eq!(status, 200);

    let listed = backend.list(None).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, spec.id);
    assert_eq!(listed[0].health, Health::Healthy);
    assert_eq!(listed[0].address, Some(address));
    assert_eq!(listed[0].created_at, spec.created_at);
    assert_eq!(listed[0].requested_by, spec.requested_by);

    let pid = pid_of(&backend, &spec.id);
    backend.destroy(&spec.id).await.unwrap();
    wait_until_dead(pid).await;
    assert!(get(socket(address), "/").await.is_err());
    assert!(!backend.record_path(&spec.id).exists());
    assert!(!backend.log_path(&spec.id).exists());
    assert!(backend.list(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn deploying_twice_starts_one_process() {
    let dir = StateDir::new();
    let backend = dir.env_server();
    let spec = spec(7, SHA_A);

    backend.deploy(&spec).await.unwrap();
    let pid = pid_of(&backend, &spec.id);
    backend.deploy(&spec).await.unwrap();
    assert_eq!(pid_of(&backend, &spec.id), pid);
    let first = backend.wait_ready(&spec.id).await.unwrap();
    backend.deploy(&spec).await.unwrap();
    assert_eq!(pid_of(&backend, &spec.id), pid);
    assert_eq!(backend.wait_ready(&spec.id).await.unwrap(), first);
    assert_eq!(backend.list(None).await.unwrap().len(), 1);

    backend.destroy(&spec.id).await.unwrap();
    wait_until_dead(pid).await;
}

#[tokio::test]
async fn environments_outlive_the_backend_that_started_them() {
    let dir = StateDir::new();
    let spec = spec(8, SHA_A);
    let address = {
        let first = dir.env_server();
        first.deploy(&spec).await.unwrap();
        first.wait_ready(&spec.id).await.unwrap()
    };

    let second = dir.env_server();
    let pid = pid_of(&second, &spec.id);
    let listed = second.list(Some(spec.id.pr)).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].health, Health::Healthy);
    assert_eq!(listed[0].address, Some(address));
    assert_eq!(second.wait_ready(&spec.id).await.unwrap(), address);

    second.destroy(&spec.id).await.unwrap();
    wait_until_dead(pid).await;
    assert!(second.list(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_crashed_environment_is_listed_as_failed_until_destroyed() {
    let dir = StateDir::new();
    let backend = dir.env_server();
    let spec = spec(9, SHA_A);
    backend.deploy(&spec).await.unwrap();
    backend.wait_ready(&spec.id).await.unwrap();
    let pid = pid_of(&backend, &spec.id);

    kill("-KILL", &pid.to_string());
    wait_until_dead(pid).await;

    for _ in 0..2 {
        let listed = backend.list(None).await.unwrap();
        assert_eq!(listed.len(), 1);
        match &listed[0].health {
            Health::Failed { reason } => {
                assert!(reason.contains("no longer running"), "{reason}");
                assert!(reason.contains("listening on"), "{reason}");
            }
            other => panic!("a killed process is listed as {other:?}"),
        }
        assert_eq!(listed[0].address, None);
    }
    let err = backend.wait_ready(&spec.id).await.unwrap_err();
    assert!(!err.is_transient(), "{err}");

    backend.destroy(&spec.id).await.unwrap();
    assert!(backend.list(None).await.unwrap().is_empty());
    assert!(!backend.log_path(&spec.id).exists());
}

#[tokio::test]
async fn a_crashed_environment_is_started_again_by_deploy() {
    let dir = StateDir::new();
    let backend = dir.env_server();
    let spec = spec(10, SHA_A);
    backend.deploy(&spec).await.unwrap();
    backend.wait_ready(&spec.id).await.unwrap();
    let pid = pid_of(&backend, &spec.id);
    kill("-KILL", &pid.to_string());
    wait_until_dead(pid).await;

    backend.deploy(&spec).await.unwrap();
    let again = pid_of(&backend, &spec.id);
    assert_ne!(again, pid);
    backend.wait_ready(&spec.id).await.unwrap();
    let log = std::fs::read_to_string(backend.log_path(&spec.id)).unwrap();
    assert!(log.contains("starting again"), "{log}");

    backend.destroy(&spec.id).await.unwrap();
    wait_until_dead(again).await;
}

#[tokio::test]
async fn a_stale_record_is_cleaned_on_destroy_and_never_signalled() {
    let dir = StateDir::new();
    let backend = dir.env_server();
    let spec = spec(11, SHA_A);
    backend.deploy(&spec).await.unwrap();
    backend.wait_ready(&spec.id).await.unwrap();
    let pid = pid_of(&backend, &spec.id);
    let path = backend.record_path(&spec.id);
    let mut stale = record(&path);

    // The recorded process died while nobody watched (say, a reboot).
    kill("-KILL", &format!("-{pid}"));
    wait_until_dead(pid).await;
    let fresh = LocalBackend::new(backend.settings().clone()).unwrap();
    assert!(matches!(
        fresh.list(None).await.unwrap()[0].health,
        Health::Failed { .. }
    ));
    fresh.destroy(&spec.id).await.unwrap();
    assert!(!path.exists());

    // A record whose pid now belongs to another program (this test) is
    // reported failed, and destroying it signals nobody.
    if Path::new("/proc/self/stat").exists() {
        let me = std::process::id();
        stale["process"]["pid"] = me.into();
        stale["process"]["pgid"] = me.into();
        stale["process"]["start_time"] = 1.into();
        std::fs::write(&path, serde_json::to_vec(&stale).unwrap()).unwrap();
        match &fresh.list(None).await.unwrap()[0].health {
            Health::Failed { reason } => assert!(reason.contains("no longer running"), "{reason}"),
            other => panic!("a recycled pid is listed as {other:?}"),
        }
        fresh.destroy(&spec.id).await.unwrap();
        assert!(!path.exists());

        // The same after a reboot, told by the kernel's boot id.
        stale["process"]["start_time"] = Value::Null;
        stale["process"]["boot_id"] = "00000000-0000-0000-0000-000000000000".into();
        std::fs::write(&path, serde_json::to_vec(&stale).unwrap()).unwrap();
        assert!(matches!(
            fresh.list(None).await.unwrap()[0].health,
            Health::Failed { .. }
        ));
        fresh.destroy(&spec.id).await.unwrap();
        assert!(!path.exists());
    }
}

#[tokio::test]
async fn destroying_an_absent_environment_succeeds() {
    let dir = StateDir::new();
    let backend = dir.env_server();
    let spec = spec(12, SHA_A);
    backend.destroy(&spec.id).await.unwrap();
    backend.destroy(&spec.id).await.unwrap();
    assert!(backend.list(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_command_that_exits_at_once_fails_with_its_log() {
    let dir = StateDir::new();
    let backend = LocalBackend::new(dir.settings(&[
        "sh",
        "-c",
        "echo 'starting on port {port}'; echo 'cannot open the database' >&2; exit 3",
    ]))
    .unwrap();
    let spec = spec(13, SHA_A);
    backend.deploy(&spec).await.unwrap();

    let err = backend.wait_ready(&spec.id).await.unwrap_err();
    let PortError::Permanent { message } = &err else {
        panic!("an exited process is {err:?}");
    };
    assert!(message.contains("cannot open the database"), "{message}");
    assert!(message.contains(&spec.id.to_string()), "{message}");
    assert!(matches!(
        backend.list(None).await.unwrap()[0].health,
        Health::Failed { .. }
    ));
    backend.destroy(&spec.id).await.unwrap();
}

#[tokio::test]
async fn a_missing_program_is_a_permanent_error_naming_it() {
    let dir = StateDir::new();
    let backend =
        LocalBackend::new(dir.settings(&["showtime-no-such-program-xyz", "{port}"])).unwrap();
    let spec = spec(14, SHA_A);
    let err = backend.deploy(&spec).await.unwrap_err();
    assert!(!err.is_transient());
    assert!(
        err.to_string().contains("showtime-no-such-program-xyz"),
        "{err}"
    );
    assert!(backend.list(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_silent_process_times_out_with_a_permanent_error() {
    let dir = StateDir::new();
    let mut settings = dir.settings(&["sleep", "30"]);
    settings.ready_timeout = Duration::from_millis(300);
    let backend = LocalBackend::new(settings).unwrap();
    let spec = spec(15, SHA_A);
    backend.deploy(&spec).await.unwrap();
    let pid = pid_of(&backend, &spec.id);

    let err = backend.wait_ready(&spec.id).await.unwrap_err();
    assert!(!err.is_transient());
    assert!(err.to_string().contains("ready_timeout"), "{err}");
    match &backend.list(None).await.unwrap()[0].health {
        Health::Failed { reason } => assert!(reason.contains("/health"), "{reason}"),
        other => panic!("a silent process is listed as {other:?}"),
    }
    backend.destroy(&spec.id).await.unwrap();
    wait_until_dead(pid).await;
}

#[tokio::test]
async fn apply_config_restarts_with_the_new_configuration() {
    let dir = StateDir::new();
    let backend = dir.env_server();
    let spec = spec(16, SHA_A);
    backend.deploy(&spec).await.unwrap();
    let address = backend.wait_ready(&spec.id).await.unwrap();
    let before: Value = serde_json::from_str(&get(socket(address), "/").await.unwrap().1).unwrap();
    assert_eq!(before["SHOWTIME_PR"], "16");
    assert_eq!(before["SHOWTIME_SHA"], SHA_A);
    assert_eq!(before["SHOWTIME_ENV"], "pr-16-abc123f");
    assert_eq!(before["SHOWTIME_DEBUG"], "false");
    assert!(before.get("SUPERSET_FEATURE_ALERTS").is_none());
    assert!(before.get("SHOWTIME_SIZE").is_none());
    let old_pid = pid_of(&backend, &spec.id);

    let mut config = Config::default();
    for command in [
        "enable-ALERTS",
        "disable-DASHBOARD_RBAC",
        "size-large",
        "debug-on",
    ] {
        config.apply(&command.parse::<ConfCommand>().unwrap());
    }
    backend.apply_config(&spec.id, &config).await.unwrap();
    wait_until_dead(old_pid).await;

    let listed = backend.list(None).await.unwrap();
    assert_eq!(listed[0].config, config);
    assert_eq!(listed[0].health, Health::Healthy);
    let address = listed[0].address.unwrap();
    let after: Value = serde_json::from_str(&get(socket(address), "/").await.unwrap().1).unwrap();
    assert_eq!(after["SUPERSET_FEATURE_ALERTS"], "true");
    assert_eq!(after["SUPERSET_FEATURE_DASHBOARD_RBAC"], "false");
    assert_eq!(after["SHOWTIME_SIZE"], "large");
    assert_eq!(after["SHOWTIME_DEBUG"], "true");
    let passed: Config = serde_json::from_str(after["SHOWTIME_CONFIG"].as_str().unwrap()).unwrap();
    assert_eq!(passed, config);

    let missing = EnvId {
        pr: PrNumber::new(99).unwrap(),
        sha: spec.id.sha.clone(),
    };
    let err = backend.apply_config(&missing, &config).await.unwrap_err();
    assert!(err.to_string().contains("deploy it first"), "{err}");

    let pid = pid_of(&backend, &spec.id);
    backend.destroy(&spec.id).await.unwrap();
    wait_until_dead(pid).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sleep_stops_the_process_and_wake_starts_it_on_the_same_port() {
    let dir = StateDir::new();
    let backend = dir.env_server();
    let spec = spec(17, SHA_A);
    backend.deploy(&spec).await.unwrap();
    let address = backend.wait_ready(&spec.id).await.unwrap();
    let old_pid = pid_of(&backend, &spec.id);

    backend.sleep(&spec.id).await.unwrap();
    wait_until_dead(old_pid).await;
    backend.sleep(&spec.id).await.unwrap();
    let listed = backend.list(None).await.unwrap();
    assert_eq!(listed[0].health, Health::Asleep);
    assert_eq!(listed[0].address, None);
    assert_eq!(listed[0].created_at, spec.created_at);
    assert!(
        get(socket(address), "/health").await.is_err(),
        "still answering"
    );
    // Waiting for a sleeping environment says to wake it, without waiting.
    let err = backend.wait_ready(&spec.id).await.unwrap_err();
    assert!(
        matches!(&err, PortError::Permanent { message } if message.contains("asleep")),
        "{err:?}"
    );

    backend.wake(&spec.id).await.unwrap();
    let woken = backend.wait_ready(&spec.id).await.unwrap();
    assert_eq!(woken, address, "the port was free, so the address is kept");
    assert_ne!(pid_of(&backend, &spec.id), old_pid);
    assert_eq!(backend.list(None).await.unwrap()[0].health, Health::Healthy);
    backend.wake(&spec.id).await.unwrap();

    // Destroying a sleeping environment signals nothing and removes it.
    backend.sleep(&spec.id).await.unwrap();
    backend.destroy(&spec.id).await.unwrap();
    assert!(backend.list(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn files_that_are_not_ours_are_left_alone() {
    let dir = StateDir::new();
    let strangers = [
        ("notes.txt", "keep me"),
        ("pr-042-abc123f.json", "not json at all"),
        ("pr-17-abc123f.json.bak", "a backup"),
        ("pr-17-abc123f-service.json", "{}"),
    ];
    for (name, content) in strangers {
        std::fs::write(dir.path.join(name), content).unwrap();
    }
    std::fs::create_dir(dir.path.join("pr-18-abc123f.json")).unwrap();

    let backend = dir.env_server();
    let spec = spec(17, SHA_A);
    backend.deploy(&spec).await.unwrap();
    backend.wait_ready(&spec.id).await.unwrap();
    let listed = backend.list(None).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let pid = pid_of(&backend, &spec.id);
    backend.destroy(&spec.id).await.unwrap();
    wait_until_dead(pid).await;

    for (name, content) in strangers {
        assert_eq!(
            std::fs::read_to_string(dir.path.join(name)).unwrap(),
            content
        );
    }
    assert!(dir.path.join("pr-18-abc123f.json").is_dir());
}

#[tokio::test]
async fn an_unreadable_record_is_listed_as_failed_and_destroyed() {
    let dir = StateDir::new();
    std::fs::write(dir.path.join("pr-19-abc123f.json"), "{ truncated").unwrap();
    let backend = dir.env_server();
    let listed = backend.list(None).await.unwrap();
    assert_eq!(listed.len(), 1);
    match &listed[0].health {
        Health::Failed { reason } => assert!(reason.contains("unreadable"), "{reason}"),
        other => panic!("an unreadable record is listed as {other:?}"),
    }
    backend.destroy(&listed[0].id).await.unwrap();
    assert!(backend.list(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn list_of_one_pr_shows_only_its_environments() {
    let dir = StateDir::new();
    let backend = dir.env_server();
    let one = spec(20, SHA_A);
    let other_sha = spec(20, SHA_B);
    let other_pr = spec(21, SHA_A);
    for spec in [&one, &other_sha, &other_pr] {
        backend.deploy(spec).await.unwrap();
    }

    let ids = |pr| {
        let backend = &backend;
        async move {
            backend
                .list(pr)
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        ids(Some(one.id.pr)).await,
        [one.id.clone(), other_sha.id.clone()]
    );
    assert_eq!(
        ids(Some(other_pr.id.pr)).await,
        std::slice::from_ref(&other_pr.id)
    );
    assert_eq!(ids(PrNumber::new(22)).await, []);
    assert_eq!(ids(None).await.len(), 3);

    for spec in [&one, &other_sha, &other_pr] {
        let pid = pid_of(&backend, &spec.id);
        backend.destroy(&spec.id).await.unwrap();
        wait_until_dead(pid).await;
    }
}

#[tokio::test]
async fn bad_settings_and_specs_are_refused() {
    let dir = StateDir::new();
    assert!(matches!(
        LocalBackend::new(dir.settings(&[])),
        Err(LocalError::EmptyCommand)
    ));
    let mut settings = dir.settings(&["true"]);
    settings.health_path = "health check".to_owned();
    assert!(matches!(
        LocalBackend::new(settings),
        Err(LocalError::BadHealthPath { .. })
    ));

    let backend = LocalBackend::new(dir.settings(&["true"])).unwrap();
    let mut mismatched = spec(23, SHA_A);
    mismatched.sha = SHA_B.parse().unwrap();
    let err = backend.deploy(&mismatched).await.unwrap_err();
    assert!(!err.is_transient());
    assert!(backend.list(None).await.unwrap().is_empty());
}

/// Self-healing through the engine: the app of a running environment is
/// killed, a sweep marks it failed with the backend's reason and starts a
/// new process once; killed again, it is left `failed`.
#[tokio::test]
async fn a_killed_environment_is_redeployed_once_by_a_sweep() {
    use showtime_core::plan::Event;
    use showtime_core::ports::Permission;
    use showtime_core::testing::World;

    let dir = StateDir::new();
    let world = World::with_backend(dir.env_server());
    world.host.set_permission("maxime", Permission::Write);
    let pr = world.open_pr(9, SHA_A, "maxime", &["testenv-up"]);
    world
        .engine()
        .reconcile(pr, Event::Look, Some("maxime".parse().unwrap()))
        .await
        .unwrap();
    let local = world.backend.inner();
    let id = spec(9, SHA_A).id;
    let first = pid_of(local, &id);

    kill("-KILL", &first.to_string());
    wait_until_dead(first).await;
    let report = world.engine().sweep(false).await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let labels = world.host.labels(pr);
    assert!(labels.contains(&"🎪 🚦 running".to_owned()), "{labels:?}");
    assert!(labels.contains(&"🎪 🩹 abc123f".to_owned()), "{labels:?}");
    let second = pid_of(local, &id);
    assert_ne!(first, second);
    assert!(running(second));
    let comment = world.host.comments(pr).last().unwrap().body.clone();
    assert!(comment.contains("no longer running"), "{comment}");
    let listed = local.list(None).await.unwrap();
    let (status, _) = get(socket(listed[0].address.unwrap()), "/health")
        .await
        .unwrap();
    assert_eq!(status, 200);

    kill("-KILL", &second.to_string());
    wait_until_dead(second).await;
    world.engine().sweep(false).await.unwrap();
    let labels = world.host.labels(pr);
    assert!(labels.contains(&"🎪 🚦 failed".to_owned()), "{labels:?}");
    assert_eq!(pid_of(local, &id), second, "not started a third time");

    local.destroy(&id).await.unwrap();
}
