//! The IAM port: what `doctor` reads about the roles EventBridge assumes for targets.

use async_trait::async_trait;

use super::PortError;

/// IAM roles, read-only.
#[async_trait]
pub trait Roles: Send + Sync {
    /// The role's trust policy (`AssumeRolePolicyDocument`, as IAM answers it: possibly
    /// URL-encoded), or `PortError::NotFound` when the role does not exist.
    async fn trust_policy(&self, role_name: &str) -> Result<String, PortError>;
}
