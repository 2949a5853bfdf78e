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

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_kms::error::ErrorMetadata;
    use aws_sdk_kms::operation::describe_key::{DescribeKeyError, DescribeKeyOutput};
    use aws_sdk_kms::operation::get_key_policy::{GetKeyPolicyError, GetKeyPolicyOutput};
    use aws_sdk_kms::types::KeyMetadata;
    use aws_sdk_kms::types::error::{InvalidArnException, NotFoundException};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    const ARN: &str = "arn:aws:kms:us-east-2:123456789012:key/k-1";

    fn described(manager: KeyManagerType) -> DescribeKeyOutput {
        DescribeKeyOutput::builder()
            .key_metadata(
                KeyMetadata::builder()
                    .key_id("k-1")
                    .arn(ARN)
                    .key_manager(manager)
                    .build()
                    .unwrap(),
            )
            .build()
    }

    #[tokio::test]
    async fn a_key_is_described_by_alias_with_its_manager() {
        let customer = mock!(Client::describe_key)
            .match_requests(|r| r.key_id() == Some("alias/dlq"))
            .then_output(|| described(KeyManagerType::Customer));
        let aws = mock!(Client::describe_key)
            .match_requests(|r| r.key_id() == Some("alias/aws/other"))
            .then_output(|| described(KeyManagerType::Aws));
        let kms = Kms::new(mock_client!(
            aws_sdk_kms,
            RuleMode::MatchAny,
            [&customer, &aws]
        ));
        assert_eq!(
            kms.describe_key("alias/dlq").await.unwrap(),
            KeyInfo {
                arn: ARN.into(),
                manager: KeyManager::Customer
            }
        );
        assert_eq!(
            kms.describe_key("alias/aws/other").await.unwrap().manager,
            KeyManager::Aws
        );
    }

    #[tokio::test]
    async fn the_default_policy_is_read_and_a_missing_key_is_not_found() {
        let policy = mock!(Client::get_key_policy)
            .match_requests(|r| r.key_id() == Some(ARN) && r.policy_name() == Some("default"))
            .then_output(|| GetKeyPolicyOutput::builder().policy("{}").build());
        let missing = mock!(Client::describe_key).then_error(|| {
            DescribeKeyError::NotFoundException(
                NotFoundException::builder()
                    .message("Alias alias/x is not found.")
                    .meta(ErrorMetadata::builder().code("NotFoundException").build())
                    .build(),
            )
        });
        let kms = Kms::new(mock_client!(
            aws_sdk_kms,
            RuleMode::MatchAny,
            [&policy, &missing]
        ));
        assert_eq!(kms.key_policy(ARN).await.unwrap(), "{}");
        let err = kms.describe_key("alias/x").await.unwrap_err();
        assert!(matches!(err, PortError::NotFound(_)), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("DescribeKey: NotFoundException"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn other_errors_keep_their_class() {
        let bad = mock!(Client::get_key_policy).then_error(|| {
            GetKeyPolicyError::InvalidArnException(
                InvalidArnException::builder()
                    .message("bad")
                    .meta(ErrorMetadata::builder().code("InvalidArnException").build())
                    .build(),
            )
        });
        let kms = Kms::new(mock_client!(aws_sdk_kms, [&bad]));
        let err = kms.key_policy("nope").await.unwrap_err();
        assert!(matches!(err, PortError::Other(_)), "{err:?}");
    }
}
