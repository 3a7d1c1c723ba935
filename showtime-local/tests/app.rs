//! The preview app served in process, and read back through the probe.

#![cfg(feature = "app")]
#![allow(clippy::unwrap_used)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use showtime_core::{Config, PrNumber, Sha};
use showtime_local::app::{self, AppInfo};
use showtime_local::probe;

const SHA_A: &str = "abc123f0000000000000000000000000000000aa";

/// `GET path` on `address`: the status and the body.
async fn get(address: SocketAddr, path: &str) -> (u16, String) {
    let answer = probe::get(address, path, Duration::from_secs(5))
        .await
        .unwrap();
    (answer.status.as_u16(), answer.body)
}

#[tokio::test]
async fn the_preview_app_serves_health_page_and_not_found() {
    let mut config = Config::default();
    config.apply(&"enable-ALERTS".parse().unwrap());
    config.apply(&"size-large".parse().unwrap());
    let info = AppInfo {
        pr: PrNumber::new(42).unwrap(),
        sha: SHA_A.parse().unwrap(),
        config,
    };
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app::serve(listener, info, async {
        let _ = stopped.await;
    }));

    assert_eq!(get(address, "/health").await, (200, "ok".to_owned()));
    let (status, page) = get(address, "/").await;
    assert_eq!(status, 200);
    assert!(page.contains("#42"), "{page}");
    assert!(page.contains(SHA_A), "{page}");
    assert!(page.contains("<code>ALERTS</code>: on"), "{page}");
    assert!(page.contains("large"), "{page}");
    assert_eq!(get(address, "/admin").await.0, 404);
    assert_eq!(get(address, "/health/x").await.0, 404);

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[test]
fn the_preview_app_reads_its_configuration_from_variables() {
    let pr = PrNumber::new(5).unwrap();
    let sha: Sha = SHA_A.parse().unwrap();
    let vars = [
        (
            "SHOWTIME_CONFIG",
            r#"{"features":{"ALERTS":true},"debug":true}"#,
        ),
        ("SUPERSET_FEATURE_ALERTS", "False"),
        ("SUPERSET_FEATURE_EMBEDDED", "1"),
        ("SUPERSET_FEATURE_not-a-flag", "true"),
        ("PATH", "/usr/bin"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()));
    let info = AppInfo::from_vars(pr, sha.clone(), vars).unwrap();
    assert!(info.config.debug);
    assert_eq!(info.config.features.len(), 2);
    assert!(!info.config.features[&"ALERTS".parse().unwrap()]);
    assert!(info.config.features[&"EMBEDDED".parse().unwrap()]);

    let none = AppInfo::from_vars(pr, sha.clone(), []).unwrap();
    assert_eq!(none, AppInfo::new(pr, sha.clone()));

    let bad = [("SHOWTIME_CONFIG".to_owned(), "{nope".to_owned())];
    let err = AppInfo::from_vars(pr, sha, bad).unwrap_err();
    assert!(err.to_string().contains("SHOWTIME_CONFIG"), "{err}");
}
