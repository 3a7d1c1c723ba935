//! The local backend against the backend contract suite of
//! `showtime_core::testing::contract`, through public API only: each check
//! gets a backend over a new state directory, and its environments run
//! `python3 -m http.server` on 127.0.0.1 (so this test needs `python3`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use showtime_core::async_trait;
use showtime_core::ports::{Backend, EnvId};
use showtime_core::testing::contract::{Contract, Foreign};
use showtime_local::{LocalBackend, LocalSettings};

/// A backend over the new state directory `dir`.
fn backend(dir: &Path) -> LocalBackend {
    let www = dir.join("www");
    std::fs::create_dir_all(&www).unwrap();
    let command = [
        "python3",
        "-m",
        "http.server",
        "{port}",
        "--bind",
        "127.0.0.1",
        "--directory",
    ]
    .iter()
    .map(|w| (*w).to_owned())
    .chain([www.display().to_string()])
    .collect();
    let mut settings = LocalSettings::new(dir.join("state"), command);
    settings.health_path = "/".into();
    settings.ready_timeout = Duration::from_secs(20);
    settings.poll_interval = Duration::from_millis(50);
    settings.stop_grace = Duration::from_secs(3);
    LocalBackend::new(settings).unwrap()
}

/// Files in the state directory that are not records, and a directory named
/// like one: the backend must never list, change or remove them.
struct Strangers;

const STRANGERS: [(&str, &str); 3] = [
    ("notes.txt", "keep me"),
    ("pr-1-aaaaaaa.json.bak", "a backup"),
    ("pr-1-aaaaaaa-service.json", "{}"),
];
const LOOKALIKE: &str = "pr-1-bbbbbbb";

#[async_trait]
impl Foreign<LocalBackend> for Strangers {
    async fn plant(&self, backend: &LocalBackend) -> Result<Option<EnvId>, String> {
        let dir = &backend.settings().state_dir;
        for (name, content) in STRANGERS {
            std::fs::write(dir.join(name), content).map_err(|e| e.to_string())?;
        }
        std::fs::create_dir(dir.join(format!("{LOOKALIKE}.json"))).map_err(|e| e.to_string())?;
        Ok(EnvId::parse_name(LOOKALIKE))
    }

    async fn intact(&self, backend: &LocalBackend) -> Result<bool, String> {
        let dir = &backend.settings().state_dir;
        let files = STRANGERS.iter().all(|(name, content)| {
            std::fs::read_to_string(dir.join(name)).ok().as_deref() == Some(content)
        });
        Ok(files && dir.join(format!("{LOOKALIKE}.json")).is_dir())
    }
}

/// Destroys whatever is left in each state directory under `root` (a
/// failed check may leave processes), then removes `root`.
async fn clean_up(root: &Path) {
    if let Ok(dirs) = std::fs::read_dir(root) {
        for dir in dirs.flatten() {
            let backend = backend(&dir.path());
            for env in backend.list(None).await.unwrap_or_default() {
                let _ = backend.destroy(&env.id).await;
            }
        }
    }
    let _ = std::fs::remove_dir_all(root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_backend_keeps_the_backend_contract() {
    let root: PathBuf =
        std::env::temp_dir().join(format!("showtime-local-contract-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let next = AtomicU32::new(0);
    let report = Contract::new(|| {
        let dir = root.join(next.fetch_add(1, Ordering::Relaxed).to_string());
        async move { backend(&dir) }
    })
    .settle(Duration::from_secs(5))
    .foreign(Strangers)
    .run()
    .await;
    clean_up(&root).await;
    println!("{report}");
    report.assert_passed();
}
