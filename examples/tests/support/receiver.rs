//! A local HTTP receiver of JSON notifications, as a notifier's webhook.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::post;
use serde_json::Value;

/// Every JSON notification received, in order.
pub type Received = Arc<Mutex<Vec<Value>>>;

/// A receiver on 127.0.0.1 (its address, and what it received at `/hook`).
pub async fn receiver() -> (SocketAddr, Received) {
    let received: Received = Arc::default();
    let kept = received.clone();
    let app = Router::new().route(
        "/hook",
        post(move |body: axum::body::Bytes| {
            let kept = kept.clone();
            async move {
                if let Ok(value) = serde_json::from_slice(&body) {
                    kept.lock().unwrap().push(value);
                }
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, received)
}

/// The `text` of every notification received, in order.
pub fn texts(received: &Received) -> Vec<String> {
    received
        .lock()
        .unwrap()
        .iter()
        .map(|v| v["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}
