//! What a Stripe call (or the checks before it) failed with, and the exit code it maps to.
//! No variant ever holds the API key: texts from the wire are scrubbed before they get here.

use crate::exit_codes;

/// A failure of `stripe reconcile`'s Stripe side.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StripeError {
    /// Bad input, found before any call: the window, the event types, the key variable,
    /// the base URL. Nothing was sent.
    #[error("{0}")]
    Usage(String),
    /// Stripe refused the key (401) or its permissions (403); `message` is Stripe's own.
    #[error("Stripe refused the API key in {var} (HTTP {status}): {message}")]
    Refused {
        status: u16,
        var: String,
        message: String,
    },
    /// Stripe answered with an error that retrying will not fix (400, 404, …), or one that
    /// was retried until the attempts ran out (429, 5xx).
    #[error("GET /v1/events: Stripe answered HTTP {status}{}: {message}", attempts_note(*attempts))]
    Api {
        status: u16,
        message: String,
        attempts: u32,
    },
    /// Stripe asked to wait longer than this tool waits (`Retry-After`).
    #[error(
        "GET /v1/events: Stripe asked to wait {seconds} s before trying again (HTTP {status}), longer than the {limit} s this tool waits; run it again later"
    )]
    WaitTooLong {
        status: u16,
        seconds: u64,
        limit: u64,
    },
    /// No answer: the connection failed or timed out, on every attempt.
    #[error("GET /v1/events: no answer from {base}{}: {reason}", attempts_note(*attempts))]
    Unreachable {
        base: String,
        reason: String,
        attempts: u32,
    },
    /// An answer that is not the list Stripe documents.
    #[error("GET /v1/events: Stripe's answer cannot be read: {0}")]
    BadAnswer(String),
}

fn attempts_note(attempts: u32) -> String {
    if attempts > 1 {
        format!(" after {attempts} attempts")
    } else {
        String::new()
    }
}

impl StripeError {
    /// Usage errors are 2 (nothing was sent); everything Stripe or the network answered is 1.
    pub fn exit_code(&self) -> u8 {
        match self {
            StripeError::Usage(_) => exit_codes::USAGE,
            _ => exit_codes::FAILURE,
        }
    }

    /// What the user can do, where there is more to say than the message.
    pub fn hint(&self) -> Option<String> {
        match self {
            StripeError::Refused {
                status: 401, var, ..
            } => Some(format!(
                "check the key in {var}: a secret key (sk_…) or a restricted key (rk_…) with read access to Events, live or test as the bus's events are, not revoked or expired"
            )),
            StripeError::Refused { var, .. } => Some(format!(
                "the key in {var} lacks a permission: give the restricted key read access to Events (Dashboard → Developers → API keys)"
            )),
            StripeError::Unreachable { .. } => Some(
                "check the network path to Stripe (a proxy or firewall), or --stripe-api-base"
                    .into(),
            ),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_is_exit_2_and_everything_else_exit_1() {
        assert_eq!(StripeError::Usage("x".into()).exit_code(), 2);
        let refused = StripeError::Refused {
            status: 401,
            var: "STRIPE_API_KEY".into(),
            message: "Invalid API Key provided: rk_test_****abcd".into(),
        };
        assert_eq!(refused.exit_code(), 1);
        assert_eq!(
            refused.to_string(),
            "Stripe refused the API key in STRIPE_API_KEY (HTTP 401): Invalid API Key provided: rk_test_****abcd"
        );
        assert!(refused.hint().unwrap().contains("STRIPE_API_KEY"));
        let api = StripeError::Api {
            status: 503,
            message: "unavailable".into(),
            attempts: 6,
        };
        assert_eq!(api.exit_code(), 1);
        assert_eq!(
            api.to_string(),
            "GET /v1/events: Stripe answered HTTP 503 after 6 attempts: unavailable"
        );
    }
}
