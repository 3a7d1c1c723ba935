//! A minimal W3C WebDriver client: chromedriver on a free loopback port,
//! headless Chromium with a fresh profile, and the few commands the
//! dashboard's browser test needs, as JSON over HTTP.

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use http_body_util::Full;
use hyper::Request;
use hyper::body::Bytes;
use serde_json::{Value, json};
use showtime_runtime::http::HttpClient;
use tokio::process::{Child, Command};

/// The element reference key of the WebDriver protocol.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A headless Chromium driven over WebDriver; stopped when dropped.
pub struct Browser {
    client: HttpClient,
    driver_url: String,
    session: String,
    _driver: Child,
    profile: PathBuf,
}

/// Where a program is: the variable if set, else the Debian path.
fn program(variable: &str, default: &str) -> Option<PathBuf> {
    let path = std::env::var_os(variable).map_or_else(|| PathBuf::from(default), PathBuf::from);
    path.is_file().then_some(path)
}

impl Browser {
    /// Starts chromedriver and a session, or says why it cannot: `Err` with
    /// the reason when Chromium or chromedriver is not installed.
    pub async fn start() -> Result<Browser, String> {
        let chromium = program("CHROMIUM", "/usr/bin/chromium")
            .ok_or("Chromium is not installed (/usr/bin/chromium, or set CHROMIUM)")?;
        let chromedriver = program("CHROMEDRIVER", "/usr/bin/chromedriver")
            .ok_or("chromedriver is not installed (/usr/bin/chromedriver, or set CHROMEDRIVER)")?;
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
            probe.local_addr().map_err(|e| e.to_string())?.port()
        };
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("chromedriver does not start: {e}"))?;
        let profile =
            std::env::temp_dir().join(format!("showtime-chromium-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&profile).map_err(|e| e.to_string())?;
        let client = HttpClient::new().map_err(|e| e.to_string())?;
        let driver_url = format!("http://127.0.0.1:{port}");
        let mut browser = Browser {
            client,
            driver_url,
            session: String::new(),
            _driver: driver,
            profile,
        };
        let mut ready = false;
        for _ in 0..100 {
            if let Ok(status) = browser.call("GET", "/status", None).await
                && status["ready"] == true
            {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if !ready {
            return Err("chromedriver did not become ready within 10 s".to_owned());
        }
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1280,800",
        ]
        .into_iter()
        .map(str::to_owned)
        .chain([format!("--user-data-dir={}", browser.profile.display())])
        .collect::<Vec<_>>();
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chromium, "args": args },
        }}});
        let session = browser.call("POST", "/session", Some(capabilities)).await?;
        browser.session = session["sessionId"]
            .as_str()
            .ok_or_else(|| format!("no session id in {session}"))?
            .to_owned();
        Ok(browser)
    }

    /// One WebDriver command; its `value`, or the WebDriver error.
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let body = match (method, body) {
            (_, Some(body)) => body.to_string(),
            ("POST", None) => "{}".to_owned(),
            _ => String::new(),
        };
        let request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.driver_url))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let answer = self
            .client
            .send(request, Duration::from_secs(60), 32 << 20)
            .await
            .map_err(|e| e.to_string())?;
        let value: Value = serde_json::from_slice(&answer.body).map_err(|e| e.to_string())?;
        if answer.status.is_success() {
            Ok(value["value"].clone())
        } else {
            Err(format!(
                "{} {path}: {} {}",
                method, value["value"]["error"], value["value"]["message"]
            ))
        }
    }

    async fn command(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        self.call(method, &format!("/session/{}{path}", self.session), body)
            .await
    }

    /// Opens `url`.
    pub async fn goto(&self, url: &str) -> Result<(), String> {
        self.command("POST", "/url", Some(json!({ "url": url })))
            .await
            .map(|_| ())
    }

    /// The address shown.
    pub async fn url(&self) -> Result<String, String> {
        Ok(self
            .command("GET", "/url", None)
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// The page's HTML as the browser has it now.
    pub async fn source(&self) -> Result<String, String> {
        Ok(self
            .command("GET", "/source", None)
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// Every element matching a CSS selector.
    pub async fn find_all(&self, css: &str) -> Result<Vec<String>, String> {
        let found = self
            .command(
                "POST",
                "/elements",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await?;
        Ok(found
            .as_array()
            .map(|all| {
                all.iter()
                    .filter_map(|e| e[ELEMENT].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The first element matching a CSS selector.
    pub async fn find(&self, css: &str) -> Result<String, String> {
        self.find_all(css)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| format!("no element matches `{css}`"))
    }

    /// The rendered text of an element.
    pub async fn text(&self, element: &str) -> Result<String, String> {
        Ok(self
            .command("GET", &format!("/element/{element}/text"), None)
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// Clicks an element.
    pub async fn click(&self, element: &str) -> Result<(), String> {
        self.command("POST", &format!("/element/{element}/click"), None)
            .await
            .map(|_| ())
    }

    /// Accepts the open dialog (`confirm`), waiting up to 5 s for it.
    pub async fn accept_dialog(&self) -> Result<(), String> {
        let mut last = String::new();
        for _ in 0..50 {
            match self.command("POST", "/alert/accept", None).await {
                Ok(_) => return Ok(()),
                Err(e) => last = e,
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(last)
    }

    /// Runs `script` in the page (a function body; `arguments` holds
    /// `args`) and returns what it returns.
    pub async fn execute(&self, script: &str, args: Value) -> Result<Value, String> {
        self.run("/execute/sync", script, args).await
    }

    /// Runs `script` in the page; it calls the last of `arguments` with its
    /// result.
    pub async fn execute_async(&self, script: &str, args: Value) -> Result<Value, String> {
        self.run("/execute/async", script, args).await
    }

    async fn run(&self, how: &str, script: &str, args: Value) -> Result<Value, String> {
        let body = json!({ "script": script, "args": args });
        self.command("POST", how, Some(body)).await
    }

    /// Resizes the window.
    pub async fn resize(&self, width: u32, height: u32) -> Result<(), String> {
        self.command(
            "POST",
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        )
        .await
        .map(|_| ())
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Result<Vec<u8>, String> {
        let encoded = self.command("GET", "/screenshot", None).await?;
        base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .map_err(|e| e.to_string())
    }

    /// Ends the session (the driver stops when the browser is dropped).
    pub async fn quit(mut self) {
        let _ = self.command("DELETE", "", None).await;
        self.session.clear();
    }
}

impl Drop for Browser {
    /// Ends the session even when a test panicked, so no Chromium is left
    /// running, then removes the profile.
    fn drop(&mut self) {
        use std::io::{Read, Write};
        let address = self.driver_url.trim_start_matches("http://").to_owned();
        if !self.session.is_empty()
            && let Ok(mut stream) = std::net::TcpStream::connect(&address)
        {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n",
                self.session
            );
            if stream.write_all(request.as_bytes()).is_ok() {
                let _ = stream.read_to_end(&mut Vec::new());
            }
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
