//! The Stripe API key: read from an environment variable (never a flag, which `ps` and
//! shell history would show), sent only as the `Authorization` header, and redacted
//! everywhere else: its `Debug` and `Display` print `<redacted>`, and [`ApiKey::scrub`]
//! takes it out of any text that came back from the wire before that text is shown.

use std::ffi::OsString;
use std::fmt;

use super::error::StripeError;

/// The environment variable the key is read from unless another is named.
pub const DEFAULT_KEY_ENV: &str = "STRIPE_API_KEY";

const REDACTED: &str = "<redacted>";

/// A Stripe secret or restricted key. Holds the variable it came from, so messages can
/// name where to fix it without showing it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    secret: String,
    var: String,
}

impl ApiKey {
    /// Reads the key from the environment variable `var`.
    pub fn from_env(var: &str) -> Result<ApiKey, StripeError> {
        ApiKey::read(var, |name| std::env::var_os(name))
    }

    /// Reads the key from `var` through `lookup` (the environment, or a test's map).
    pub fn read(
        var: &str,
        lookup: impl FnOnce(&str) -> Option<OsString>,
    ) -> Result<ApiKey, StripeError> {
        let usage = |what: &str| {
            StripeError::Usage(format!(
                "{var} {what}: export a Stripe secret key (sk_…) or a restricted key (rk_…) with read access to Events in {var}, or name another variable with --stripe-key-env"
            ))
        };
        let value = lookup(var).ok_or_else(|| usage("is not set"))?;
        let value = value
            .into_string()
            .map_err(|_| usage("is not valid UTF-8"))?;
        let secret = value.trim();
        if secret.is_empty() {
            return Err(usage("is empty"));
        }
        // Keys are printable ASCII, and a header can carry nothing else: saying so here
        // beats a failure at the first call.
        if !secret.chars().all(|c| c.is_ascii_graphic()) {
            return Err(usage(
                "holds a space, a control character or a character outside ASCII",
            ));
        }
        Ok(ApiKey {
            secret: secret.to_string(),
            var: var.to_string(),
        })
    }

    /// The environment variable the key came from.
    pub fn var(&self) -> &str {
        &self.var
    }

    /// The key itself, for the `Authorization` header only.
    pub(crate) fn expose(&self) -> &str {
        &self.secret
    }

    /// `text` with every occurrence of the key replaced by `<redacted>`: for anything that
    /// came back from the wire (an error body, a proxy's page) before it is shown or logged.
    pub fn scrub(&self, text: &str) -> String {
        text.replace(&self.secret, REDACTED)
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("secret", &format_args!("{REDACTED}"))
            .field("var", &self.var)
            .finish()
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "rk_test_51SecretValue0123456789";

    fn read(value: Option<&str>) -> Result<ApiKey, StripeError> {
        ApiKey::read("MY_STRIPE_KEY", |name| {
            assert_eq!(name, "MY_STRIPE_KEY");
            value.map(OsString::from)
        })
    }

    #[test]
    fn debug_and_display_never_show_the_key() {
        let key = read(Some(SECRET)).unwrap();
        let shown = [
            format!("{key:?}"),
            format!("{key:#?}"),
            format!("{key}"),
            format!("{:?}", Some(&key)),
        ];
        for s in shown {
            assert!(!s.contains(SECRET) && !s.contains("SecretValue"), "{s}");
            assert!(s.contains("<redacted>"), "{s}");
        }
        assert_eq!(key.var(), "MY_STRIPE_KEY");
        assert_eq!(key.expose(), SECRET);
    }

    #[test]
    fn scrub_removes_the_key_from_text() {
        let key = read(Some(SECRET)).unwrap();
        assert_eq!(
            key.scrub(&format!("bad key {SECRET}, again {SECRET}")),
            "bad key <redacted>, again <redacted>"
        );
    }

    #[test]
    fn a_missing_empty_or_unusable_key_is_a_usage_error_naming_the_variable() {
        for (value, why) in [
            (None, "MY_STRIPE_KEY is not set"),
            (Some("  "), "MY_STRIPE_KEY is empty"),
            (Some("rk_test_a b"), "holds a space"),
            (Some("rk_test_a\nb"), "a control character"),
            (Some("rk_test_aé"), "outside ASCII"),
        ] {
            let e = read(value).unwrap_err();
            assert!(matches!(e, StripeError::Usage(_)), "{e:?}");
            assert_eq!(e.exit_code(), crate::exit_codes::USAGE);
            let text = e.to_string();
            assert!(text.contains(why), "{text}");
            assert!(text.contains("--stripe-key-env"), "{text}");
            assert!(!text.contains("rk_test_a"), "{text}");
        }
        // Surrounding whitespace (a trailing newline from a file) is not part of the key.
        assert_eq!(read(Some(" sk_test_1\n")).unwrap().expose(), "sk_test_1");
    }
}
