//! The ECS backend against the backend contract suite of
//! `showtime_core::testing::contract`, over a stateful fake of ECS and ECR
//! (`tests/contract/cloud.rs`): no network but loopback. Each check gets a
//! backend over a new fake cloud (its own cluster) and a new HTTP server on
//! 127.0.0.1, the address every task of that cloud reports, which answers
//! the backend's health check.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "contract/cloud.rs"]
mod cloud;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_ecs::types::Tag;
use showtime_aws::{AddressKind, EcsBackend, EcsSettings};
use showtime_core::async_trait;
use showtime_core::ports::EnvId;
use showtime_core::testing::contract::{Contract, Foreign};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use cloud::{FakeCloud, Shared};

/// Starts an HTTP server on 127.0.0.1 answering `200 OK` to every request,
/// and returns its port.
async fn application() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = stream.read(&mut buf).await;
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK",
                    )
                    .await;
            });
        }
    });
    port
}

/// The clouds made so far, by cluster, so [`Strangers`] can reach the one
/// behind a backend.
type Clouds = Arc<Mutex<BTreeMap<String, Shared>>>;

/// A backend over a new, empty fake cloud with its own cluster.
async fn backend(clouds: &Clouds, n: u32) -> EcsBackend {
    let cluster = format!("contract-{n}");
    let cloud = FakeCloud::new(&cluster);
    clouds
        .lock()
        .unwrap()
        .insert(cluster.clone(), cloud.clone());
    let (ecs, ecr) = cloud::clients(&cloud);
    let settings = EcsSettings {
        cluster,
        subnets: vec!["subnet-a".into()],
        security_groups: vec!["sg-1".into()],
        assign_public_ip: false,
        address: AddressKind::Private,
        container_port: application().await,
        ready_timeout: Duration::from_secs(10),
        poll_interval: Duration::from_millis(20),
        draining_timeout: Duration::from_secs(5),
        health_attempts: 5,
        health_interval: Duration::from_millis(20),
        ..EcsSettings::default()
    };
    EcsBackend::from_clients(ecs, ecr, settings)
}

/// Services in the cluster that are not Showtime's: one named like an
/// environment but untagged, one tagged but named otherwise.
struct Strangers(Clouds);

const LOOKALIKE: &str = "pr-1-bbbbbbb";
const TAGGED: &str = "superset-ci-service";

impl Strangers {
    fn cloud(&self, backend: &EcsBackend) -> Result<Shared, String> {
        let clouds = self.0.lock().unwrap();
        clouds
            .get(&backend.settings().cluster)
            .cloned()
            .ok_or_else(|| "no fake cloud behind this backend".to_owned())
    }

    fn names() -> [String; 2] {
        [EcsBackend::service_name(&lookalike()), TAGGED.to_owned()]
    }
}

fn lookalike() -> EnvId {
    EnvId::parse_name(LOOKALIKE).unwrap()
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

#[async_trait]
impl Foreign<EcsBackend> for Strangers {
    async fn plant(&self, backend: &EcsBackend) -> Result<Option<EnvId>, String> {
        let cloud = self.cloud(backend)?;
        let mut cloud = cloud.lock().unwrap();
        let [lookalike_name, tagged] = Self::names();
        cloud.plant_service(&lookalike_name, vec![tag("team", "data")]);
        cloud.plant_service(&tagged, vec![tag("showtime_managed", "true")]);
        Ok(Some(lookalike()))
    }

    async fn intact(&self, backend: &EcsBackend) -> Result<bool, String> {
        let cloud = self.cloud(backend)?;
        let cloud = cloud.lock().unwrap();
        let [lookalike_name, tagged] = Self::names();
        let running = |name: &str| {
            cloud
                .fingerprint(name)
                .is_some_and(|f| f.starts_with("ACTIVE "))
                && cloud.family_active(&format!("{name}-family"))
        };
        Ok(running(&lookalike_name) && running(&tagged))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ecs_backend_keeps_the_backend_contract() {
    let started = Instant::now();
    let clouds: Clouds = Arc::default();
    let next = AtomicU32::new(0);
    let report = Contract::new(|| {
        let n = next.fetch_add(1, Ordering::Relaxed);
        let clouds = clouds.clone();
        async move { backend(&clouds, n).await }
    })
    .settle(Duration::from_secs(5))
    .timeout(Duration::from_secs(120))
    .foreign(Strangers(clouds.clone()))
    .run()
    .await;
    println!("{report}");
    println!(
        "{} fake clouds, {:?}",
        next.load(Ordering::Relaxed),
        started.elapsed()
    );
    report.assert_passed();
}
