//! IAM adapter for the roles port (`doctor` reads the trust policy of target roles).

use async_trait::async_trait;
use aws_sdk_iam::Client;
use tracing::instrument;

use super::error::classify;
use crate::ports::PortError;
use crate::ports::roles::Roles;

/// The IAM client behind the roles port.
#[derive(Debug, Clone)]
pub struct Iam {
    client: Client,
}

impl Iam {
    pub fn new(client: Client) -> Iam {
        Iam { client }
    }
}

#[async_trait]
impl Roles for Iam {
    #[instrument(skip(self), level = "debug")]
    async fn trust_policy(&self, role_name: &str) -> Result<String, PortError> {
        let out = self
            .client
            .get_role()
            .role_name(role_name)
            .send()
            .await
            .map_err(|e| {
                // IAM's `NoSuchEntity`: the role does not exist.
                let missing = e
                    .as_service_error()
                    .is_some_and(|s| s.is_no_such_entity_exception());
                match classify("GetRole", e) {
                    PortError::Other(text) if missing => PortError::NotFound(text),
                    other => other,
                }
            })?;
        out.role()
            .and_then(|r| r.assume_role_policy_document())
            .map(str::to_string)
            .ok_or_else(|| PortError::Other(format!("GetRole: {role_name} has no trust policy")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_iam::error::ErrorMetadata;
    use aws_sdk_iam::operation::get_role::{GetRoleError, GetRoleOutput};
    use aws_sdk_iam::primitives::DateTime;
    use aws_sdk_iam::types::Role;
    use aws_sdk_iam::types::error::NoSuchEntityException;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    #[tokio::test]
    async fn the_trust_policy_is_read_and_a_missing_role_is_not_found() {
        let found = mock!(Client::get_role)
            .match_requests(|r| r.role_name() == Some("events-role"))
            .then_output(|| {
                GetRoleOutput::builder()
                    .role(
                        Role::builder()
                            .path("/")
                            .role_name("events-role")
                            .role_id("AROA1")
                            .arn("arn:aws:iam::123456789012:role/events-role")
                            .create_date(DateTime::from_secs(0))
                            .assume_role_policy_document("%7B%7D")
                            .build()
                            .unwrap(),
                    )
                    .build()
            });
        let missing = mock!(Client::get_role)
            .match_requests(|r| r.role_name() == Some("gone"))
            .then_error(|| {
                GetRoleError::NoSuchEntityException(
                    NoSuchEntityException::builder()
                        .message("The role with name gone cannot be found.")
                        .meta(ErrorMetadata::builder().code("NoSuchEntity").build())
                        .build(),
                )
            });
        let iam = Iam::new(mock_client!(
            aws_sdk_iam,
            RuleMode::MatchAny,
            [&found, &missing]
        ));
        assert_eq!(iam.trust_policy("events-role").await.unwrap(), "%7B%7D");
        let err = iam.trust_policy("gone").await.unwrap_err();
        assert!(matches!(err, PortError::NotFound(_)), "{err:?}");
        assert!(err.to_string().contains("NoSuchEntity"), "{err}");
    }
}
