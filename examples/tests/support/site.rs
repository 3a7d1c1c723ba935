//! A site for end-to-end tests: a fake GitHub with PR 42, a private state
//! directory for the local backend, and the built binaries run against
//! both, with nothing inherited from the environment that could change the
//! outcome.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use showtime_core::ports::Backend;
use showtime_github::fake::{FakeGitHub, FakePr};
use showtime_local::{LocalBackend, LocalSettings};

use super::{AUTHOR, HEAD, REPO};

pub const MAINTAINER: &str = "maintainer";
/// PR 42's title, as the dashboard shows it.
pub const TITLE: &str = "Add a <circus> tent";
pub const SECOND: &str = "5eadbeefcafe0123456789abcdef0123456789ab";

/// One fake GitHub with PR 42 (by [`AUTHOR`]), a maintainer with write
/// permission, and a private state directory for the local backend.
pub struct Site {
    pub fake: FakeGitHub,
    pub dir: PathBuf,
}

/// What a binary did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }

    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "{self:?}");
        self
    }
}

impl Site {
    pub async fn start(name: &str) -> Site {
        let (owner, repo) = REPO.split_once('/').unwrap();
        let fake = FakeGitHub::start(owner, repo).await.unwrap();
        let mut pr = FakePr::new(42);
        pr.head_sha = HEAD.to_owned();
        pr.author = AUTHOR.to_owned();
        pr.title = TITLE.to_owned();
        fake.add_pull_request(pr);
        fake.set_permission(MAINTAINER, "write");
        fake.set_permission("visitor", "read");
        let dir = std::env::temp_dir().join(format!("showtime-e2e-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Site { fake, dir }
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.join("state")
    }

    /// A binary with this site's environment: GitHub at the fake, the local
    /// backend in the state directory, the maintainer as actor, and nothing
    /// inherited that could change the outcome.
    pub fn command(&self, binary: &str, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(binary);
        command
            .args(args)
            .current_dir(&self.dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.dir)
            .env("GITHUB_TOKEN", "test-token")
            .env("GITHUB_REPOSITORY", REPO)
            .env("GITHUB_API_URL", self.fake.url())
            .env("GITHUB_ACTOR", MAINTAINER)
            .env("SHOWTIME_BACKEND", "local")
            .env("SHOWTIME_STATE_DIR", self.state_dir())
            .stdin(Stdio::null())
            .kill_on_drop(true);
        command
    }

    pub async fn run_with(&self, binary: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = self.command(binary, args);
        for (k, v) in env {
            command.env(k, v);
        }
        let output = tokio::time::timeout(Duration::from_secs(120), command.output())
            .await
            .unwrap_or_else(|_| panic!("{binary} {args:?} did not finish"))
            .unwrap();
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs `showtime args` with `input` on standard input.
    pub async fn showtime_with_input(&self, args: &[&str], input: &str) -> Run {
        self.showtime_with_input_as(MAINTAINER, args, input).await
    }

    /// [`Site::showtime_with_input`] as `actor` (`GITHUB_ACTOR`).
    pub async fn showtime_with_input_as(&self, actor: &str, args: &[&str], input: &str) -> Run {
        use tokio::io::AsyncWriteExt;
        let mut child = self
            .command(env!("CARGO_BIN_EXE_showtime"), args)
            .env("GITHUB_ACTOR", actor)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).await.unwrap();
        drop(stdin);
        let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    pub async fn showtime(&self, args: &[&str]) -> Run {
        self.run_with(env!("CARGO_BIN_EXE_showtime"), args, &[])
            .await
    }

    /// Runs `showtime args` and returns it with the GitHub requests it made.
    pub async fn counted(&self, args: &[&str]) -> (Run, usize) {
        self.fake.clear_requests();
        let run = self.showtime(args).await;
        (run, self.fake.requests().len())
    }

    /// [`Site::counted`] with `input` on standard input.
    pub async fn counted_with_input(&self, args: &[&str], input: &str) -> (Run, usize) {
        self.fake.clear_requests();
        let run = self.showtime_with_input(args, input).await;
        (run, self.fake.requests().len())
    }

    /// [`Site::counted_with_input`] as `actor`.
    pub async fn counted_as(&self, actor: &str, args: &[&str], input: &str) -> (Run, usize) {
        self.fake.clear_requests();
        let run = self.showtime_with_input_as(actor, args, input).await;
        (run, self.fake.requests().len())
    }

    /// The PR's 🎪 labels but `🎪 💬 <id>`, which says where the status
    /// comment is and stays for the PR's whole life.
    pub fn showtime_labels(&self, pr: u64) -> Vec<String> {
        let mut labels: Vec<String> = self
            .fake
            .labels(pr)
            .into_iter()
            .filter(|l| l.starts_with('🎪') && !l.starts_with("🎪 💬 "))
            .collect();
        labels.sort();
        labels
    }

    pub fn backend(&self) -> LocalBackend {
        LocalBackend::new(LocalSettings::new(
            self.state_dir(),
            vec![env!("CARGO_BIN_EXE_showtime").to_owned()],
        ))
        .unwrap()
    }

    pub async fn live(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .backend()
            .list(None)
            .await
            .unwrap()
            .iter()
            .map(|e| e.id.name())
            .collect();
        names.sort();
        names
    }

    /// Destroys every environment and removes the directory.
    pub async fn clean_up(self) {
        let backend = self.backend();
        for env in backend.list(None).await.unwrap_or_default() {
            backend.destroy(&env.id).await.unwrap();
        }
        // Dropping the site stops the fake and removes the directory.
    }
}

/// Kills what a failed test left running (the process groups of its
/// environments), so a failure does not leak processes.
impl Drop for Site {
    fn drop(&mut self) {
        let Ok(entries) = std::fs::read_dir(self.state_dir()) else {
            return;
        };
        for entry in entries.flatten() {
            let Ok(text) = std::fs::read_to_string(entry.path()) else {
                continue;
            };
            let Ok(record) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            if let Some(pgid) = record["process"]["pgid"].as_i64() {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", "--", &format!("-{pgid}")])
                    .status();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// GET `url` (`http://127.0.0.1:PORT/`) and return the body, or `None`
/// when nothing answers 200.
pub async fn fetch(url: &str) -> Option<String> {
    let addr: SocketAddr = url
        .strip_prefix("http://")?
        .trim_end_matches('/')
        .parse()
        .ok()?;
    http_text(addr, "/").await
}

/// GET `path` on `addr` with the project's HTTP probe: the body when it
/// answers 200.
pub async fn http_text(addr: SocketAddr, path: &str) -> Option<String> {
    let answer = showtime_local::probe::get(addr, path, Duration::from_secs(10))
        .await
        .ok()?;
    (answer.status.as_u16() == 200).then_some(answer.body)
}

pub fn url_of(json: &Value) -> String {
    json["environments"][0]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("no URL in {json}"))
        .to_owned()
}
