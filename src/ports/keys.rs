//! The KMS port: what `doctor` reads about the key that encrypts a DLQ.

use async_trait::async_trait;
use serde::Serialize;

use super::PortError;

/// Who manages a KMS key: AWS (`alias/aws/...` keys, usable only by the services that own
/// them) or the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum KeyManager {
    Aws,
    Customer,
}

/// A KMS key as `DescribeKey` answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    pub arn: String,
    pub manager: KeyManager,
}

/// KMS, read-only.
#[async_trait]
pub trait Keys: Send + Sync {
    /// The key a key id, key ARN, alias name or alias ARN names.
    async fn describe_key(&self, key: &str) -> Result<KeyInfo, PortError>;
    /// The key's `default` key policy (JSON), by key id or ARN.
    async fn key_policy(&self, key: &str) -> Result<String, PortError>;
}
