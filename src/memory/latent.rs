//! A wrapper that adds a fixed latency to every call of a queue, sink or delivery port and
//! counts the calls: the stand-in for AWS's 10–50 ms per call in engine tests and the engine benchmark.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use crate::ports::PortError;
use crate::ports::delivery::{
    ExecutionStarted, ExecutionStarter, FunctionInvoker, InvocationType, InvokeOutcome, LogEvent,
    LogOutcome, LogWriter, MessageBatchSender, OutgoingMessage, SendOutcome, TopicMessage,
    TopicPublisher,
};
use crate::ports::queue::{BatchEntry, BatchFailure, Queue, QueueDepth, QueueRef, ReceivedMessage};
use crate::ports::sink::{EventSink, PutEntry, PutOutcome};

/// `inner` with `latency` added to every API call (not to `resolve`/`depth`, which a drain
/// makes once); every such call is counted in `calls`, which wrappers may share.
pub struct Latent<T> {
    pub inner: T,
    pub latency: Duration,
    pub calls: Arc<AtomicU64>,
}

impl<T> Latent<T> {
    async fn pause(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
    }
}

#[async_trait]
impl<T: Queue> Queue for Latent<T> {
    async fn resolve(&self, q: &str) -> Result<QueueRef, PortError> {
        self.inner.resolve(q).await
    }
    async fn create_queue(&self, name: &str) -> Result<QueueRef, PortError> {
        self.inner.create_queue(name).await
    }
    async fn depth(&self, url: &str) -> Result<QueueDepth, PortError> {
        self.inner.depth(url).await
    }
    async fn receive(
        &self,
        url: &str,
        max: u8,
        wait: Duration,
        vis: Option<Duration>,
    ) -> Result<Vec<ReceivedMessage>, PortError> {
        self.pause().await;
        self.inner.receive(url, max, wait, vis).await
    }
    async fn delete_batch(
        &self,
        url: &str,
        e: &[BatchEntry],
    ) -> Result<Vec<BatchFailure>, PortError> {
        self.pause().await;
        self.inner.delete_batch(url, e).await
    }
    async fn change_visibility_batch(
        &self,
        url: &str,
        e: &[BatchEntry],
        t: Duration,
    ) -> Result<Vec<BatchFailure>, PortError> {
        self.pause().await;
        self.inner.change_visibility_batch(url, e, t).await
    }
    async fn send(
        &self,
        url: &str,
        body: &str,
        a: &BTreeMap<String, String>,
    ) -> Result<String, PortError> {
        self.pause().await;
        self.inner.send(url, body, a).await
    }
}

#[async_trait]
impl<T: EventSink> EventSink for Latent<T> {
    async fn put_events(&self, entries: &[PutEntry]) -> Result<Vec<PutOutcome>, PortError> {
        self.pause().await;
        self.inner.put_events(entries).await
    }
}

#[async_trait]
impl<T: FunctionInvoker> FunctionInvoker for Latent<T> {
    async fn invoke(
        &self,
        function: &str,
        payload: &[u8],
        invocation: InvocationType,
    ) -> Result<InvokeOutcome, PortError> {
        self.pause().await;
        self.inner.invoke(function, payload, invocation).await
    }
}

#[async_trait]
impl<T: MessageBatchSender> MessageBatchSender for Latent<T> {
    async fn send_message_batch(
        &self,
        queue_url: &str,
        messages: &[OutgoingMessage],
    ) -> Result<Vec<SendOutcome>, PortError> {
        self.pause().await;
        self.inner.send_message_batch(queue_url, messages).await
    }
}

#[async_trait]
impl<T: TopicPublisher> TopicPublisher for Latent<T> {
    async fn publish(&self, topic_arn: &str, message: &TopicMessage) -> Result<String, PortError> {
        self.pause().await;
        self.inner.publish(topic_arn, message).await
    }
}

#[async_trait]
impl<T: ExecutionStarter> ExecutionStarter for Latent<T> {
    async fn start_execution(
        &self,
        state_machine_arn: &str,
        name: &str,
        input: &str,
    ) -> Result<ExecutionStarted, PortError> {
        self.pause().await;
        self.inner
            .start_execution(state_machine_arn, name, input)
            .await
    }
}

#[async_trait]
impl<T: LogWriter> LogWriter for Latent<T> {
    async fn put_log_events(
        &self,
        log_group: &str,
        stream: &str,
        events: &[LogEvent],
    ) -> Result<Vec<LogOutcome>, PortError> {
        self.pause().await;
        self.inner.put_log_events(log_group, stream, events).await
    }
}
