//! The durable work queue on SQS FIFO ([`WorkQueue`]).
//!
//! A FIFO queue hands out the messages of one *message group* one batch at a
//! time, in the order they were sent, across every consumer: while a batch
//! of group `owner/repo#42` is out (received, not deleted), nobody receives
//! the group's later messages. Workers get per-PR order and mutual exclusion
//! from AWS, not from a coordinator of ours. A message sent twice with the
//! same de-duplication id within five minutes is kept once (GitHub's
//! redeliveries), one not deleted before its visibility timeout ends comes
//! back (its worker died), and the queue's redrive policy moves one received
//! too often to a dead-letter queue.
//!
//! One attempt per call: the SDK's own retry mode is set to a single
//! attempt here, for the worker retries what it must.

use std::time::Duration;

use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use aws_types::SdkConfig;
use showtime_core::ports::{PortError, QueueMessage, Received, WorkQueue};

/// The most messages one receive returns (SQS's limit).
pub const MAX_BATCH: usize = 10;

/// The longest long poll SQS allows.
pub const MAX_WAIT: Duration = Duration::from_secs(20);

/// An SQS FIFO queue.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsQueue {
    /// The queue at `url` (`https://sqs.REGION.amazonaws.com/ACCOUNT/NAME.fifo`),
    /// through a client on `config`.
    pub fn from_sdk_config(config: &SdkConfig, url: impl Into<String>) -> Self {
        // Bodies are small and receives long-poll: a slow answer is the
        // timeouts' business, not the stalled-stream guard's.
        let conf = aws_sdk_sqs::config::Builder::from(config)
            .retry_config(RetryConfig::standard().with_max_attempts(1))
            .timeout_config(crate::backend::timeout_config())
            .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
            .build();
        SqsQueue {
            client: aws_sdk_sqs::Client::from_conf(conf),
            url: url.into(),
        }
    }

    /// The queue at `url` on the default AWS configuration (the credential
    /// chain, `AWS_REGION`, `AWS_ENDPOINT_URL`), as
    /// [`EcsBackend::from_env`](crate::EcsBackend::from_env) reads it, with
    /// `region` overriding; HTTPS is rustls with ring.
    pub async fn from_env(url: impl Into<String>, region: Option<String>) -> Self {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let mut loader =
            aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(http);
        if let Some(region) = region {
            loader = loader.region(aws_types::region::Region::new(region));
        }
        Self::from_sdk_config(&loader.load().await, url)
    }

    /// The queue's URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// An SDK error as the port's: throttling and server errors may pass.
fn port_error<E, R>(operation: &str, error: aws_sdk_sqs::error::SdkError<E, R>) -> PortError
where
    E: aws_sdk_sqs::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    use aws_sdk_sqs::error::SdkError;
    let message = match &error {
        SdkError::ServiceError(service) => {
            let meta = service.err();
            format!(
                "{}: {}",
                meta.code().unwrap_or("error"),
                meta.message().unwrap_or("no message")
            )
        }
        other => format!("{other:?}"),
    };
    let text = format!("SQS {operation}: {message}");
    let transient = match &error {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default();
            code.contains("Throttl") || code == "InternalError"
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            true
        }
        _ => false,
    };
    match transient {
        true => PortError::transient(text),
        false => PortError::permanent(text),
    }
}

#[async_trait]
impl WorkQueue for SqsQueue {
    async fn send(&self, message: &QueueMessage) -> Result<(), PortError> {
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_group_id(&message.group)
            .message_deduplication_id(&message.dedup_id)
            .message_body(&message.body)
            .send()
            .await
            .map_err(|e| port_error("SendMessage", e))?;
        Ok(())
    }

    async fn receive(
        &self,
        max: usize,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<Received>, PortError> {
        let max = i32::try_from(max.clamp(1, MAX_BATCH)).unwrap_or(1);
        let wait = i32::try_from(wait.min(MAX_WAIT).as_secs()).unwrap_or(0);
        let visibility = i32::try_from(visibility.as_secs().max(1)).unwrap_or(i32::MAX);
        let answer = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max)
            .wait_time_seconds(wait)
            .visibility_timeout(visibility)
            .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
            .message_system_attribute_names(MessageSystemAttributeName::MessageDeduplicationId)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| port_error("ReceiveMessage", e))?;
        Ok(answer
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| {
                let attribute = |name: MessageSystemAttributeName| {
                    m.attributes
                        .as_ref()
                        .and_then(|a| a.get(&name))
                        .cloned()
                        .unwrap_or_default()
                };
                Some(Received {
                    group: attribute(MessageSystemAttributeName::MessageGroupId),
                    dedup_id: attribute(MessageSystemAttributeName::MessageDeduplicationId),
                    receive_count: attribute(MessageSystemAttributeName::ApproximateReceiveCount)
                        .parse()
                        .unwrap_or(1),
                    body: m.body.clone().unwrap_or_default(),
                    receipt: m.receipt_handle.clone()?,
                })
            })
            .collect())
    }

    async fn delete(&self, receipt: &str) -> Result<(), PortError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|e| port_error("DeleteMessage", e))?;
        Ok(())
    }

    async fn extend(&self, receipt: &str, by: Duration) -> Result<(), PortError> {
        let seconds = i32::try_from(by.as_secs()).unwrap_or(i32::MAX);
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(seconds)
            .send()
            .await
            .map_err(|e| port_error("ChangeMessageVisibility", e))?;
        Ok(())
    }
}
