//! In-memory KMS for `doctor` tests: keys with their manager and key policy, aliases, and
//! refusals (a key policy that cannot be read).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::ports::PortError;
use crate::ports::keys::{KeyInfo, KeyManager, Keys};

#[derive(Clone)]
struct Key {
    info: KeyInfo,
    policy: Result<String, PortError>,
}

#[derive(Default)]
struct State {
    /// By key id.
    keys: BTreeMap<String, Key>,
    /// Alias name (`alias/x`) to key id.
    aliases: BTreeMap<String, String>,
}

/// A fake KMS shared by clones, in account 123456789012, us-east-2.
#[derive(Clone, Default)]
pub struct MemoryKms {
    state: Arc<Mutex<State>>,
}

impl MemoryKms {
    pub fn new() -> MemoryKms {
        MemoryKms::default()
    }

    /// Adds a key with its policy (or the error reading it answers) and an alias; answers
    /// its ARN.
    pub fn add_key(
        &self,
        id: &str,
        alias: Option<&str>,
        manager: KeyManager,
        policy: Result<String, PortError>,
    ) -> String {
        let arn = format!("arn:aws:kms:us-east-2:123456789012:key/{id}");
        let mut s = self.state.lock().expect("kms state");
        s.keys.insert(
            id.into(),
            Key {
                info: KeyInfo {
                    arn: arn.clone(),
                    manager,
                },
                policy,
            },
        );
        if let Some(a) = alias {
            s.aliases.insert(a.into(), id.into());
        }
        arn
    }

    fn find(&self, key: &str) -> Result<Key, PortError> {
        let s = self.state.lock().expect("kms state");
        let name = key.rsplit_once(':').map_or(key, |(_, n)| n);
        let id = match name.strip_prefix("key/") {
            Some(id) => Some(id.to_string()),
            None if name.starts_with("alias/") => s.aliases.get(name).cloned(),
            None => Some(name.to_string()),
        };
        id.and_then(|id| s.keys.get(&id).cloned()).ok_or_else(|| {
            PortError::NotFound(format!(
                "DescribeKey: NotFoundException: {key} is not found."
            ))
        })
    }
}

#[async_trait]
impl Keys for MemoryKms {
    async fn describe_key(&self, key: &str) -> Result<KeyInfo, PortError> {
        self.find(key).map(|k| k.info)
    }

    async fn key_policy(&self, key: &str) -> Result<String, PortError> {
        self.find(key)?.policy
    }
}
