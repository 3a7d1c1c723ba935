//! A webhook server running in a task of the test, on 127.0.0.1, over the
//! in-memory ports of a [`World`].

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use showtime_core::testing::World;
use showtime_github::webhook::Webhook;
use showtime_runtime::server::{AppState, ServerSettings, serve};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::SECRET;

/// A server running in a task, and how to stop it.
pub struct Running {
    pub addr: SocketAddr,
    pub state: AppState,
    stop: Option<oneshot::Sender<()>>,
    pub served: JoinHandle<io::Result<()>>,
}

impl Running {
    /// Signals shutdown; the task ends once the queue has drained.
    pub fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Shuts down and waits for [`serve`] to return.
    pub async fn stop(mut self) {
        self.shut_down();
        tokio::time::timeout(Duration::from_secs(30), self.served)
            .await
            .expect("the server stops")
            .unwrap()
            .unwrap();
    }
}

pub async fn start(world: &World) -> Running {
    start_with(
        world,
        ServerSettings::default(),
        Webhook::new(SECRET).unwrap(),
    )
    .await
}

pub async fn start_with(world: &World, settings: ServerSettings, webhook: Webhook) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = AppState::new(Arc::new(world.engine()), webhook, &settings);
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));
    Running {
        addr,
        state,
        stop: Some(stop),
        served,
    }
}
