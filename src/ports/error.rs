//! The error every port returns: an AWS-neutral classification of what went wrong,
//! so the engine can decide between "retry", "tell the user" and "give up".

/// What a port call failed with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// The named resource does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The service refused the request as invalid.
    #[error("{0}")]
    Invalid(String),
    /// An account limit was hit (for example 10 active replays).
    #[error("{0}")]
    LimitExceeded(String),
    /// The resource is in a state that does not allow the call.
    #[error("{0}")]
    IllegalState(String),
    /// The name is taken.
    #[error("{0}")]
    AlreadyExists(String),
    /// Throttled; worth retrying after a pause.
    #[error("throttled: {0}")]
    Throttled(String),
    /// A transient failure (network, 5xx, timeout); worth retrying.
    #[error("{0}")]
    Transient(String),
    /// No usable credentials: none found, expired, or rejected by the service.
    #[error("{0}")]
    Credentials(String),
    /// The credentials are valid but not allowed to make the call.
    #[error("{0}")]
    Denied(String),
    /// The DynamoDB table a ledger names does not exist (`text` is the call's error).
    #[error("{text}: the ledger table {table} does not exist")]
    LedgerTableMissing { table: String, text: String },
    /// Anything else (unexpected answers).
    #[error("{0}")]
    Other(String),
}

impl PortError {
    /// True when retrying the same call later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, PortError::Throttled(_) | PortError::Transient(_))
    }

    /// What the user can do about this error, when there is something to say.
    pub fn hint(&self) -> Option<String> {
        match self {
            PortError::Credentials(_) => Some(
                "check which credentials are in use (`aws sts get-caller-identity`): pick a profile with --profile or AWS_PROFILE, run `aws sso login` if its session expired, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".into(),
            ),
            PortError::Denied(_) => Some(
                "the credentials in use lack this permission: docs/iam/ holds the policy each command needs (README, \"IAM permissions\")".into(),
            ),
            PortError::LedgerTableMissing { table, .. } => Some(format!(
                "create it once with `nexus-replay ledger init --ledger dynamodb://{table}` (same --region and --endpoint-url), or name another ledger with --ledger"
            )),
            _ => None,
        }
    }

    /// The AWS operation and the service's error code, where the message starts with them
    /// (`DescribeEventBus: ResourceNotFoundException: ...`, as `aws::error::classify` writes
    /// a service's answer). Either is None when the message does not carry it.
    pub fn call(&self) -> (Option<&str>, Option<&str>) {
        let text = match self {
            PortError::NotFound(t)
            | PortError::Invalid(t)
            | PortError::LimitExceeded(t)
            | PortError::IllegalState(t)
            | PortError::AlreadyExists(t)
            | PortError::Throttled(t)
            | PortError::Transient(t)
            | PortError::Credentials(t)
            | PortError::Denied(t)
            | PortError::Other(t)
            | PortError::LedgerTableMissing { text: t, .. } => t.as_str(),
        };
        let mut parts = text.splitn(3, ": ");
        let word = |s: &str, extra: &str| {
            s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
        };
        let op = parts
            .next()
            .filter(|op| op.starts_with(|c: char| c.is_ascii_uppercase()) && word(op, ""));
        let code = match (op, parts.next(), parts.next()) {
            (Some(_), Some(code), Some(_)) if word(code, "._") => Some(code),
            _ => None,
        };
        (op, code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operation_and_error_code_are_read_from_a_service_answer_only() {
        let e = PortError::NotFound(
            "GetQueueUrl: AWS.SimpleQueueService.NonExistentQueue: The specified queue does not exist.".into(),
        );
        assert_eq!(
            e.call(),
            (
                Some("GetQueueUrl"),
                Some("AWS.SimpleQueueService.NonExistentQueue")
            )
        );
        let e = PortError::Throttled("PutEvents: ThrottlingException: Rate exceeded".into());
        assert_eq!(e.call(), (Some("PutEvents"), Some("ThrottlingException")));
        let e = PortError::Credentials(
            "DescribeEventBus: cannot load AWS credentials: no credentials found in chain".into(),
        );
        assert_eq!(e.call(), (Some("DescribeEventBus"), None));
        let e = PortError::Transient("ListRules: HTTP 500 without an AWS error code".into());
        assert_eq!(e.call(), (Some("ListRules"), None));
        let e = PortError::Other("ledger claim: disk I/O error".into());
        assert_eq!(e.call(), (None, None));
    }

    #[test]
    fn a_missing_ledger_table_says_how_to_create_it() {
        let e = PortError::LedgerTableMissing {
            table: "missing".into(),
            text: "BatchGetItem: ResourceNotFoundException: Requested resource not found".into(),
        };
        assert_eq!(
            e.to_string(),
            "BatchGetItem: ResourceNotFoundException: Requested resource not found: the ledger table missing does not exist"
        );
        assert!(
            e.hint()
                .unwrap()
                .contains("nexus-replay ledger init --ledger dynamodb://missing")
        );
        assert!(!e.is_retryable());
        assert_eq!(
            e.call(),
            (Some("BatchGetItem"), Some("ResourceNotFoundException"))
        );
    }
}
