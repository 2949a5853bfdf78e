//! In-memory IAM for `doctor` tests: roles with their trust policies, and refusals.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::ports::PortError;
use crate::ports::roles::Roles;

/// A fake IAM shared by clones: role name to its trust policy, or the error reading it.
#[derive(Clone, Default)]
pub struct MemoryIam {
    roles: Arc<Mutex<BTreeMap<String, Result<String, PortError>>>>,
}

impl MemoryIam {
    pub fn new() -> MemoryIam {
        MemoryIam::default()
    }

    /// Adds a role (or the answer GetRole gives for it).
    pub fn add_role(&self, name: &str, trust: Result<String, PortError>) {
        self.roles
            .lock()
            .expect("iam state")
            .insert(name.into(), trust);
    }
}

#[async_trait]
impl Roles for MemoryIam {
    async fn trust_policy(&self, role_name: &str) -> Result<String, PortError> {
        self.roles
            .lock()
            .expect("iam state")
            .get(role_name)
            .cloned()
            .unwrap_or_else(|| {
                Err(PortError::NotFound(format!(
                    "GetRole: NoSuchEntity: The role with name {role_name} cannot be found."
                )))
            })
    }
}
