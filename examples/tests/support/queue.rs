//! A work queue in memory, as SQS FIFO behaves for one consumer.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use showtime_core::ports::{PortError, QueueMessage, Received, WorkQueue};

/// A queue in memory: what was sent, in order; messages handed out once.
#[derive(Default)]
pub struct MemoryQueue {
    pub messages: Mutex<VecDeque<QueueMessage>>,
    pub sent: Mutex<Vec<QueueMessage>>,
    pub refuse: bool,
}

#[async_trait::async_trait]
impl WorkQueue for MemoryQueue {
    async fn send(&self, message: &QueueMessage) -> Result<(), PortError> {
        if self.refuse {
            return Err(PortError::transient("the queue is down"));
        }
        self.sent.lock().unwrap().push(message.clone());
        self.messages.lock().unwrap().push_back(message.clone());
        Ok(())
    }

    async fn receive(
        &self,
        max: usize,
        wait: Duration,
        _visibility: Duration,
    ) -> Result<Vec<Received>, PortError> {
        let taken: Vec<QueueMessage> = {
            let mut messages = self.messages.lock().unwrap();
            let n = messages.len().min(max);
            messages.drain(..n).collect()
        };
        if taken.is_empty() {
            tokio::time::sleep(wait).await;
        }
        Ok(taken
            .into_iter()
            .map(|m| Received {
                receipt: m.dedup_id.clone(),
                group: m.group,
                dedup_id: m.dedup_id,
                body: m.body,
                receive_count: 1,
            })
            .collect())
    }

    async fn delete(&self, _receipt: &str) -> Result<(), PortError> {
        Ok(())
    }

    async fn extend(&self, _receipt: &str, _by: Duration) -> Result<(), PortError> {
        Ok(())
    }
}
