//! Test support: a private moto server (the AWS mock) per test.
//!
//! [`Moto::start`] runs `moto_server` on a free `127.0.0.1` port and
//! [`Moto::sdk_config`] points an AWS SDK configuration at it, with static
//! test credentials and a rustls-ring HTTP client (no aws-lc). Dropping the
//! [`Moto`] kills the server, so every test has its own AWS and leaves nothing
//! running. Nothing here talks to real AWS.
//!
//! `scripts/check` installs moto into `target/moto-venv` and exports
//! `SHOWTIME_MOTO_SERVER`; to run these tests alone, use
//! `scripts/moto cargo test -p showtime-aws --test moto`.
//!
//! Every request sent through [`Moto::sdk_config`] is counted per AWS
//! operation ([`Moto::calls`]), so tests can bound how many calls an
//! operation of the backend makes.

// Each test binary that includes this module uses only part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::behavior_version::BehaviorVersion;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_types::SdkConfig;
use aws_types::region::Region;

/// The environment variable naming the `moto_server` executable.
pub const MOTO_SERVER_VAR: &str = "SHOWTIME_MOTO_SERVER";

/// The region every test uses.
pub const REGION: &str = "us-west-2";

/// How long moto may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Requests sent so far, by operation (`ecs:CreateService`).
type Counts = Arc<Mutex<BTreeMap<String, u64>>>;

/// A running `moto_server`, killed on drop.
pub struct Moto {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    child: Child,
    calls: Counts,
}

impl Moto {
    /// Starts a moto server on a free loopback port and waits until it
    /// accepts connections.
    ///
    /// # Panics
    ///
    /// When `SHOWTIME_MOTO_SERVER` is not set (run `scripts/check`, or
    /// `scripts/moto cargo test ...`), or the server does not start.
    pub fn start() -> Moto {
        let server = std::env::var_os(MOTO_SERVER_VAR).unwrap_or_else(|| {
            panic!(
                "{MOTO_SERVER_VAR} is not set: these tests need moto_server. \
                 Run `scripts/check` (it installs moto into target/moto-venv and sets it), \
                 or `scripts/moto cargo test -p showtime-aws --test moto`"
            )
        });
        // A port freed just now may be taken by someone else before moto binds
        // it; then moto exits at once and another port is tried.
        let mut last_error = String::new();
        for _ in 0..3 {
            let port = free_port();
            let mut child = Command::new(&server)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env("MOTO_ECS_SERVICE_RUNNING", "1")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot run {} ({MOTO_SERVER_VAR}): {e}; run `scripts/check` to install moto",
                        server.to_string_lossy()
                    )
                });
            match wait_listening(&mut child, port) {
                Ok(()) => {
                    return Moto {
                        endpoint: format!("http://127.0.0.1:{port}"),
                        child,
                        calls: Counts::default(),
                    };
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_error = e;
                }
            }
        }
        panic!("moto_server did not start: {last_error}");
    }

    /// An SDK configuration for this server: region us-west-2, static test
    /// credentials, the latest behaviour version, and a rustls-ring HTTP
    /// client that counts requests.
    pub fn sdk_config(&self) -> SdkConfig {
        let https = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let credentials = Credentials::new("testing", "testing", None, None, "moto");
        SdkConfig::builder()
            .region(Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .behavior_version(BehaviorVersion::latest())
            .http_client(CountingClient {
                inner: https,
                calls: Arc::clone(&self.calls),
            })
            .build()
    }

    /// Requests sent through [`Moto::sdk_config`] clients since the start or
    /// the last [`Moto::reset_calls`], by operation, e.g.
    /// `{"ecs:CreateService": 1}`.
    pub fn calls(&self) -> BTreeMap<String, u64> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The total of [`Moto::calls`].
    pub fn total_calls(&self) -> u64 {
        self.calls().values().sum()
    }

    /// Forgets the requests counted so far.
    pub fn reset_calls(&self) {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap_or_else(|e| panic!("bind 127.0.0.1:0: {e}"));
    listener
        .local_addr()
        .unwrap_or_else(|e| panic!("local_addr: {e}"))
        .port()
}

/// Waits until `port` accepts connections, or the child exits, or time is up.
fn wait_listening(child: &mut Child, port: u16) -> Result<(), String> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "it exited ({status}) before listening on port {port}"
            ));
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "not listening on port {port} after {} s",
                START_TIMEOUT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An HTTP client that counts each request by operation, then sends it on.
#[derive(Debug)]
struct CountingClient {
    inner: SharedHttpClient,
    calls: Counts,
}

impl HttpClient for CountingClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(CountingConnector {
            inner: self.inner.http_connector(settings, components),
            calls: Arc::clone(&self.calls),
        })
    }
}

#[derive(Debug)]
struct CountingConnector {
    inner: SharedHttpConnector,
    calls: Counts,
}

impl HttpConnector for CountingConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let operation = operation_name(&request);
        *self
            .calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(operation)
            .or_default() += 1;
        self.inner.call(request)
    }
}

/// `ecs:CreateService` from a JSON-protocol request's `X-Amz-Target`
/// (ECS, ECR), `ec2:DescribeSubnets` from a query-protocol body (EC2).
fn operation_name(request: &HttpRequest) -> String {
    if let Some(target) = request.headers().get("x-amz-target") {
        let (service, operation) = target.split_once('.').unwrap_or(("", target));
        let service = if service.starts_with("AmazonEC2ContainerService") {
            "ecs"
        } else if service.starts_with("AmazonEC2ContainerRegistry") {
            "ecr"
        } else {
            service
        };
        return format!("{service}:{operation}");
    }
    let body = request.body().bytes().unwrap_or_default();
    let body = String::from_utf8_lossy(body);
    body.split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .map_or_else(|| "unknown".to_owned(), |action| format!("ec2:{action}"))
}
