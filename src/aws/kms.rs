//! KMS adapter for the keys port (`doctor` reads the key that encrypts a DLQ).

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::types::KeyManagerType;
use tracing::instrument;

use super::error::classify;
use crate::ports::PortError;
use crate::ports::keys::{KeyInfo, KeyManager, Keys};

/// The KMS client behind the keys port.
#[derive(Debug, Clone)]
pub struct Kms {
    client: Client,
}

impl Kms {
    pub fn new(client: Client) -> Kms {
        Kms { client }
    }
}

/// `classify`, with KMS's `NotFoundException` (an unknown key or alias) as `NotFound`.
fn kms_error<E>(what: &str, missing: bool, e: aws_sdk_kms::error::SdkError<E>) -> PortError
where
    E: aws_sdk_kms::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match classify(what, e) {
        PortError::Other(text) if missing => PortError::NotFound(text),
        other => other,
    }
}

#[async_trait]
impl Keys for Kms {
    #[instrument(skip(self), level = "debug")]
    async fn describe_key(&self, key: &str) -> Result<KeyInfo, PortError> {
        let out = self.client.describe_key().key_id(key).send().await;
        let out = out.map_err(|e| {
            let missing = e
                .as_service_error()
                .is_some_and(|s| s.is_not_found_exception());
            kms_error("DescribeKey", missing, e)
        })?;
        let meta = out
            .key_metadata()
            .ok_or_else(|| PortError::Other(format!("DescribeKey: no metadata for {key}")))?;
        Ok(KeyInfo {
            arn: meta.arn().unwrap_or(meta.key_id()).to_string(),
            manager: match meta.key_manager() {
                Some(KeyManagerType::Aws) => KeyManager::Aws,
                _ => KeyManager::Customer,
            },
        })
    }

    #[instrument(skip(self), level = "debug")]
    async fn key_policy(&self, key: &str) -> Result<String, PortError> {
        let out = self
            .client
            .get_key_policy()
            .key_id(key)
            .policy_name("default")
            .send()
            .await
            .map_err(|e| {
                let missing = e
                    .as_service_error()
                    .is_some_and(|s| s.is_not_found_exception());
                kms_error("GetKeyPolicy", missing, e)
            })?;
        out.policy()
            .map(str::to_string)
            .ok_or_else(|| PortError::Other(format!("GetKeyPolicy: no policy for {key}")))
    }
}
