//! In-memory SNS for the topic-publisher port: topics that record what was published,
//! FIFO topics that drop a repeated deduplication id, and hooks for per-message failures,
//! throttling and lost answers.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::faults::CallFaults;
use crate::ports::PortError;
use crate::ports::delivery::{TopicMessage, TopicPublisher};

/// Decides a publish's fate from its topic and message: Some(error) fails the call.
pub type PublishFault = Box<dyn FnMut(&str, &TopicMessage) -> Option<PortError> + Send>;

#[derive(Default)]
struct State {
    topics: BTreeSet<String>,
    published: Vec<(String, TopicMessage)>,
    /// (topic, deduplication id) → message id, for FIFO topics. SNS keeps them 5 minutes;
    /// tests here never outlive that.
    dedup: BTreeMap<(String, String), String>,
    fault: Option<PublishFault>,
    faults: CallFaults,
}

/// A fake SNS shared by clones.
#[derive(Clone, Default)]
pub struct MemorySns {
    state: Arc<Mutex<State>>,
}

impl MemorySns {
    pub fn new() -> MemorySns {
        MemorySns::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().expect("sns state"))
    }

    /// Adds a topic (a name ending in `.fifo` makes a FIFO topic); answers its ARN.
    pub fn add_topic(&self, name: &str) -> String {
        let arn = format!("arn:aws:sns:us-east-2:123456789012:{name}");
        self.with(|s| s.topics.insert(arn.clone()));
        arn
    }

    pub fn remove_topic(&self, arn: &str) {
        self.with(|s| s.topics.remove(arn));
    }

    pub fn set_fault(&self, fault: PublishFault) {
        self.with(|s| s.fault = Some(fault));
    }

    /// The next calls fail with these errors (nothing published).
    pub fn fail_next_calls(&self, errors: Vec<PortError>) {
        self.with(|s| s.faults.fail_next(errors));
    }

    /// The next `n` publishes go through, but their answers are lost.
    pub fn lose_next_answers(&self, n: usize) {
        self.with(|s| s.faults.lose_next(n));
    }

    /// Every message published, with its topic, in order (duplicates included, except
    /// those a FIFO topic dropped).
    pub fn published(&self) -> Vec<(String, TopicMessage)> {
        self.with(|s| s.published.clone())
    }

    pub fn calls(&self) -> usize {
        self.with(|s| s.faults.calls())
    }
}

#[async_trait]
impl TopicPublisher for MemorySns {
    async fn publish(&self, topic_arn: &str, message: &TopicMessage) -> Result<String, PortError> {
        self.with(|s| {
            s.faults.before()?;
            if !s.topics.contains(topic_arn) {
                return Err(PortError::NotFound(format!(
                    "Publish: NotFound: Topic does not exist: {topic_arn}"
                )));
            }
            if let Some(e) = s.fault.as_mut().and_then(|f| f(topic_arn, message)) {
                return Err(e);
            }
            let fifo = topic_arn.ends_with(".fifo");
            if fifo && message.group_id.is_none() {
                return Err(PortError::Invalid(
                    "Publish: InvalidParameter: The MessageGroupId parameter is required for FIFO topics"
                        .into(),
                ));
            }
            let key = message
                .deduplication_id
                .as_ref()
                .filter(|_| fifo)
                .map(|d| (topic_arn.to_string(), d.clone()));
            let id = match key.as_ref().and_then(|k| s.dedup.get(k)) {
                Some(id) => id.clone(),
                None => {
                    let id = format!("sns-{}", s.published.len() + 1);
                    s.published.push((topic_arn.to_string(), message.clone()));
                    if let Some(k) = key {
                        s.dedup.insert(k, id.clone());
                    }
                    id
                }
            };
            s.faults.after("Publish")?;
            Ok(id)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(body: &str, dedup: Option<&str>) -> TopicMessage {
        TopicMessage {
            message: body.into(),
            subject: None,
            group_id: Some("g".into()),
            deduplication_id: dedup.map(str::to_string),
        }
    }

    #[tokio::test]
    async fn publishes_are_recorded_and_faults_injected() {
        let sns = MemorySns::new();
        let topic = sns.add_topic("alerts");
        sns.set_fault(Box::new(|_, m| {
            (m.message == "bad").then(|| PortError::Throttled("Throttled".into()))
        }));
        sns.publish(&topic, &message("a", None)).await.unwrap();
        assert!(matches!(
            sns.publish(&topic, &message("bad", None)).await,
            Err(PortError::Throttled(_))
        ));
        sns.lose_next_answers(1);
        assert!(sns.publish(&topic, &message("b", None)).await.is_err());
        sns.remove_topic(&topic);
        assert!(matches!(
            sns.publish(&topic, &message("c", None)).await,
            Err(PortError::NotFound(_))
        ));
        let bodies: Vec<String> = sns
            .published()
            .into_iter()
            .map(|(_, m)| m.message)
            .collect();
        assert_eq!(bodies, ["a", "b"]);
        assert_eq!(sns.calls(), 4);
    }

    #[tokio::test]
    async fn a_fifo_topic_drops_a_repeated_deduplication_id() {
        let sns = MemorySns::new();
        let topic = sns.add_topic("billing.fifo");
        let first = sns
            .publish(&topic, &message("a", Some("evt_1")))
            .await
            .unwrap();
        let again = sns
            .publish(&topic, &message("a", Some("evt_1")))
            .await
            .unwrap();
        assert_eq!(first, again);
        assert_eq!(sns.published().len(), 1);
        let no_group = TopicMessage {
            group_id: None,
            ..message("a", Some("evt_2"))
        };
        assert!(matches!(
            sns.publish(&topic, &no_group).await,
            Err(PortError::Invalid(_))
        ));
    }
}
