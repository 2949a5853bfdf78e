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
