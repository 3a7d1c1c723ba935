//! Notifications against a local HTTP receiver: what each format sends, a
//! receiver that fails once, and one that never answers.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;
use showtime_core::PrNumber;
use showtime_core::ports::{Notice, Notifier};
use showtime_runtime::notify::{Format, SIGNATURE_HEADER, WebhookNotifier};

/// What the receiver got, and how it answers: the first `failures` requests
/// with 500, or never when `hang`.
#[derive(Default)]
struct Receiver {
    bodies: Mutex<Vec<(HeaderMap, Vec<u8>)>>,
    failures: Mutex<usize>,
    hang: bool,
}

async fn start(receiver: Arc<Receiver>) -> SocketAddr {
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let receiver = receiver.clone();
            async move {
                receiver
                    .bodies
                    .lock()
                    .unwrap()
                    .push((headers, body.to_vec()));
                if receiver.hang {
                    std::future::pending::<()>().await;
                }
                let mut failures = receiver.failures.lock().unwrap();
                if *failures > 0 {
                    *failures -= 1;
                    return StatusCode::INTERNAL_SERVER_ERROR;
                }
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

fn notice() -> Notice {
    Notice {
        pr: PrNumber::new(42),
        text: "PR #42: environment abc123f running at http://10.0.0.7:8080".to_owned(),
    }
}

fn notifier(addr: SocketAddr, format: Format) -> WebhookNotifier {
    WebhookNotifier::new(
        &format!("http://{addr}/hook"),
        format,
        Some("acme/widgets".to_owned()),
    )
    .unwrap()
    .with_limits(Duration::from_millis(300), 2, Duration::from_millis(10))
}

#[tokio::test]
async fn slack_gets_a_block_kit_message_with_the_link() {
    let receiver = Arc::new(Receiver::default());
    let addr = start(receiver.clone()).await;
    notifier(addr, Format::Slack)
        .notify(&notice())
        .await
        .unwrap();
    let (_, body) = receiver.bodies.lock().unwrap()[0].clone();
    let json: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["text"], notice().text);
    let section = json["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(
        section.contains("<https://github.com/acme/widgets/pull/42|PR #42>"),
        "{section}"
    );
    assert!(section.contains("running at"), "{section}");
}

#[tokio::test]
async fn the_json_payload_is_documented_and_signed() {
    let receiver = Arc::new(Receiver::default());
    let addr = start(receiver.clone()).await;
    let secret = b"shared secret".to_vec();
    notifier(
        addr,
        Format::Json {
            secret: Some(secret.clone()),
        },
    )
    .notify(&notice())
    .await
    .unwrap();
    let (headers, body) = receiver.bodies.lock().unwrap()[0].clone();
    let json: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["pr"], 42);
    assert_eq!(json["repository"], "acme/widgets");
    assert_eq!(json["url"], "https://github.com/acme/widgets/pull/42");
    assert!(json["sent_at"].as_str().unwrap().ends_with('Z'));
    let signature = headers.get(SIGNATURE_HEADER).unwrap().to_str().unwrap();
    showtime_github::webhook::verify_signature(&secret, Some(signature), &body).unwrap();
}

#[tokio::test]
async fn a_failure_is_retried_then_succeeds() {
    let receiver = Arc::new(Receiver {
        failures: Mutex::new(1),
        ..Receiver::default()
    });
    let addr = start(receiver.clone()).await;
    notifier(addr, Format::Slack)
        .notify(&notice())
        .await
        .unwrap();
    assert_eq!(
        receiver.bodies.lock().unwrap().len(),
        2,
        "a 500, then a 200"
    );
}

#[tokio::test]
async fn a_receiver_that_never_answers_is_given_up_on() {
    let receiver = Arc::new(Receiver {
        hang: true,
        ..Receiver::default()
    });
    let addr = start(receiver.clone()).await;
    let error = notifier(addr, Format::Slack)
        .notify(&notice())
        .await
        .unwrap_err();
    assert!(!error.is_transient(), "the engine must not retry it again");
    let text = error.to_string();
    assert!(text.contains("dropped after 2 attempt(s)"), "{text}");
    assert!(text.contains("no answer within"), "{text}");
    assert_eq!(receiver.bodies.lock().unwrap().len(), 2);
}

#[test]
fn a_bad_url_is_refused_without_echoing_its_secret_path() {
    let error = WebhookNotifier::new(
        "ftp://hooks.example/services/T000/B000/XXXX",
        Format::Slack,
        None,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(error.contains("http://"), "{error}");
    assert!(!error.contains("XXXX"), "{error}");
}
