//! The Stripe events client: `GET /v1/events` for a checked [`EventQuery`], every page of
//! every call (20 types per call), merged newest first.
//!
//! HTTP is hyper 1 with rustls (aws-lc-rs, the platform's roots), the stack the AWS SDK
//! already builds. Each request carries `Authorization: Bearer` (marked sensitive, so
//! hyper's own Debug output hides it) and the pinned [`STRIPE_VERSION`]. The key is never
//! logged or put in an error: Stripe's error texts are scrubbed of it before use.
//! Retries follow [`super::retry`]: the one retry layer for these calls.

use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::Request;
use hyper::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue, USER_AGENT};
use hyper::http::Uri;
use hyper_rustls::{ConfigBuilderExt, HttpsConnector};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use super::error::StripeError;
use super::event::{EventPage, StripeEvent};
use super::key::ApiKey;
use super::query::{EventQuery, TypeFilter};
use super::retry::{self, MAX_ATTEMPTS, MAX_RETRY_AFTER, Sleeper, TokioSleeper};
use crate::aws::error::chain;

/// The Stripe API version every request pins (`Stripe-Version`), so the list's shape does
/// not follow the account's default version. The current version on docs.stripe.com's
/// "API versioning" page when this was written. Event objects themselves keep the version
/// they were created with, whatever this says (API reference, "List all events").
pub const STRIPE_VERSION: &str = "2026-09-30.endive";

/// Where Stripe's API is, unless `--stripe-api-base` says otherwise.
pub const DEFAULT_API_BASE: &str = "https://api.stripe.com";

/// One attempt, answer body included; an attempt that takes longer is retried.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// A page is at most 100 events; this bounds a runaway answer, not a real one.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// Stripe's error text, or the start of a body that is not one, as shown in an error.
const MAX_SHOWN_TEXT: usize = 300;

type Http = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// Lists Stripe events.
pub struct StripeClient {
    http: Http,
    base: String,
    key: ApiKey,
    sleeper: Arc<dyn Sleeper>,
}

impl fmt::Debug for StripeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeClient")
            .field("base", &self.base)
            .field("key", &self.key)
            .field("stripe_version", &STRIPE_VERSION)
            .finish()
    }
}

/// An answer as received.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

impl StripeClient {
    /// A client for the API at `base_url` (`https://…`; plain `http://` only on loopback,
    /// for a test server: the key must not cross a network unencrypted).
    pub fn new(base_url: &str, key: ApiKey) -> Result<StripeClient, StripeError> {
        let (base, https) = check_base_url(base_url)?;
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| StripeError::Usage(format!("cannot set up TLS for Stripe: {e}")))?;
        // Plain http (loopback only) checks no certificate: the platform's roots are
        // loaded only where they are used.
        let tls = if https {
            tls.with_native_roots().map_err(|e| {
                StripeError::Usage(format!(
                    "cannot load this host's trusted root certificates ({e}), so Stripe's TLS certificate cannot be checked; install the ca-certificates package or set SSL_CERT_FILE"
                ))
            })?
        } else {
            tls.with_root_certificates(rustls::RootCertStore::empty())
        }
        .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls);
        let connector = if https {
            connector.https_only()
        } else {
            connector.https_or_http()
        };
        let http = Client::builder(TokioExecutor::new()).build(connector.enable_http1().build());
        Ok(StripeClient {
            http,
            base,
            key,
            sleeper: Arc::new(TokioSleeper),
        })
    }

    /// Pauses between attempts through `sleeper` (tests record the waits).
    pub fn with_sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> StripeClient {
        self.sleeper = sleeper;
        self
    }

    /// The `Stripe-Version` every request sends, for the report.
    pub fn stripe_version(&self) -> &'static str {
        STRIPE_VERSION
    }

    /// The API base, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Every event Stripe lists for `query`, newest first, each once: one call per type
    /// filter (20 names, or one wildcard), each followed through `has_more`.
    pub async fn list_events(&self, query: &EventQuery) -> Result<Vec<StripeEvent>, StripeError> {
        let mut seen = HashSet::new();
        let mut events = Vec::new();
        let mut pages = 0u32;
        for filter in query.types().filters() {
            // Ids this call listed: its cursor must move on. (Another call, a wildcard
            // overlapping names, may list events already seen: those are skipped.)
            let mut this_call = HashSet::new();
            let mut after: Option<String> = None;
            loop {
                let page = self
                    .page(&query.query_string(&filter, after.as_deref()))
                    .await?;
                pages += 1;
                let last = page.data.last().map(|e| e.id.clone());
                let mut advanced = false;
                for e in page.data {
                    advanced |= this_call.insert(e.id.clone());
                    if seen.insert(e.id.clone()) {
                        events.push(e);
                    }
                }
                if !page.has_more {
                    break;
                }
                // `has_more` with nothing new would ask for the same page for ever.
                match last {
                    Some(id) if advanced => after = Some(id),
                    _ => {
                        return Err(StripeError::BadAnswer(
                            "has_more is true but the page holds no event this listing has not seen, so there is nothing to continue after".into(),
                        ));
                    }
                }
            }
            tracing::debug!(filter = ?filter_name(&filter), pages, events = events.len(), "listed Stripe events");
        }
        // Calls of other types interleave in time: put them back in Stripe's order.
        events.sort_by_key(|e| std::cmp::Reverse(e.created));
        Ok(events)
    }

    /// One page, retried as `super::retry` says.
    async fn page(&self, query: &str) -> Result<EventPage, StripeError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let answer = match self.get_once(query).await {
                Ok(a) => a,
                Err(reason) if attempt < MAX_ATTEMPTS => {
                    let wait = retry::backoff(attempt);
                    tracing::warn!(attempt, wait_ms = wait.as_millis() as u64, %reason, "GET /v1/events: no answer; trying again");
                    self.sleeper.sleep(wait).await;
                    continue;
                }
                Err(reason) => {
                    return Err(StripeError::Unreachable {
                        base: self.base.clone(),
                        reason,
                        attempts: attempt,
                    });
                }
            };
            if answer.status == 200 {
                return serde_json::from_slice::<EventPage>(&answer.body)
                    .map_err(|e| StripeError::BadAnswer(self.key.scrub(&e.to_string())));
            }
            let message = self.error_text(&answer);
            if matches!(answer.status, 401 | 403) {
                return Err(StripeError::Refused {
                    status: answer.status,
                    var: self.key.var().to_string(),
                    message,
                });
            }
            let header = |name: &str| answer.headers.get(name).and_then(|v| v.to_str().ok());
            if !retry::retryable(answer.status, header("stripe-should-retry"))
                || attempt >= MAX_ATTEMPTS
            {
                return Err(StripeError::Api {
                    status: answer.status,
                    message,
                    attempts: attempt,
                });
            }
            let wait = match retry::retry_after(header("retry-after"), Utc::now()) {
                Some(w) if w > MAX_RETRY_AFTER => {
                    return Err(StripeError::WaitTooLong {
                        status: answer.status,
                        seconds: w.as_secs(),
                        limit: MAX_RETRY_AFTER.as_secs(),
                    });
                }
                Some(w) => w,
                None => retry::backoff(attempt),
            };
            tracing::warn!(
                status = answer.status,
                attempt,
                wait_ms = wait.as_millis() as u64,
                "GET /v1/events: {message}; trying again"
            );
            self.sleeper.sleep(wait).await;
        }
    }

    /// One request; `Err` is why no answer came (scrubbed of the key).
    async fn get_once(&self, query: &str) -> Result<Answer, String> {
        let uri: Uri = format!("{}/v1/events?{query}", self.base)
            .parse()
            .map_err(|e| format!("bad request URL: {e}"))?;
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", self.key.expose()))
            .map_err(|_| "the API key cannot be sent in a header".to_string())?;
        auth.set_sensitive(true);
        let req = Request::get(uri)
            .header(AUTHORIZATION, auth)
            .header("Stripe-Version", STRIPE_VERSION)
            .header(ACCEPT, "application/json")
            .header(
                USER_AGENT,
                concat!("nexus-replay/", env!("CARGO_PKG_VERSION")),
            )
            .body(Empty::new())
            .map_err(|e| format!("cannot build the request: {e}"))?;
        let call = async {
            let resp = self.http.request(req).await.map_err(|e| chain(&e))?;
            let (parts, body) = resp.into_parts();
            let body = Limited::new(body, MAX_BODY_BYTES)
                .collect()
                .await
                .map_err(|e| format!("the answer broke off: {e}"))?
                .to_bytes();
            Ok(Answer {
                status: parts.status.as_u16(),
                headers: parts.headers,
                body,
            })
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, call).await {
            Ok(r) => r.map_err(|e: String| self.key.scrub(&e)),
            Err(_) => Err(format!("no answer within {} s", REQUEST_TIMEOUT.as_secs())),
        }
    }

    /// Stripe's `error.message` (with the request id, for Stripe's support), or the start
    /// of a body that is not Stripe's error JSON; scrubbed of the key.
    fn error_text(&self, answer: &Answer) -> String {
        let stripe = serde_json::from_slice::<Value>(&answer.body)
            .ok()
            .and_then(|v| v.pointer("/error/message")?.as_str().map(str::to_string));
        let text = stripe.unwrap_or_else(|| {
            let body = String::from_utf8_lossy(&answer.body);
            let body = body.trim();
            if body.is_empty() {
                "no error message".to_string()
            } else {
                format!("not a Stripe error: {body}")
            }
        });
        let mut text: String = self.key.scrub(&text).chars().take(MAX_SHOWN_TEXT).collect();
        if let Some(id) = answer
            .headers
            .get("request-id")
            .and_then(|v| v.to_str().ok())
        {
            text.push_str(&format!(" (request {id})"));
        }
        text
    }
}

fn filter_name(f: &TypeFilter) -> String {
    match f {
        TypeFilter::All => "all types".into(),
        TypeFilter::Names(n) => format!("{} type(s)", n.len()),
        TypeFilter::Pattern(p) => p.clone(),
    }
}

/// The base URL without a trailing slash, and whether it is https. Plain http is refused
/// off loopback: the key would cross the network in clear.
fn check_base_url(base_url: &str) -> Result<(String, bool), StripeError> {
    let bad = |why: &str| {
        StripeError::Usage(format!(
            "--stripe-api-base {base_url:?} {why}; use https://api.stripe.com or, for a test server, http://127.0.0.1:PORT"
        ))
    };
    let trimmed = base_url.trim().trim_end_matches('/');
    let uri: Uri = trimmed.parse().map_err(|_| bad("is not a URL"))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(bad("is neither https:// nor http://")),
    };
    let host = uri.host().ok_or_else(|| bad("has no host"))?;
    if uri.query().is_some() {
        return Err(bad("has a query string"));
    }
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !https && !loopback {
        return Err(bad(
            "is plain http to a host other than this one, which would send the API key unencrypted",
        ));
    }
    Ok((trimmed.to_string(), https))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_must_be_https_or_loopback_http() {
        assert_eq!(
            check_base_url("https://api.stripe.com/").unwrap(),
            ("https://api.stripe.com".to_string(), true)
        );
        assert_eq!(
            check_base_url("http://127.0.0.1:4242").unwrap(),
            ("http://127.0.0.1:4242".to_string(), false)
        );
        assert!(check_base_url("http://localhost:1/stripe").is_ok());
        assert!(check_base_url("http://[::1]:8080").is_ok());
        for (url, why) in [
            ("http://stripe.example.com", "unencrypted"),
            ("ftp://api.stripe.com", "neither https"),
            ("api.stripe.com", "neither https"),
            ("https://api.stripe.com/?x=1", "query string"),
            ("not a url", "is not a URL"),
        ] {
            let e = check_base_url(url).unwrap_err();
            assert_eq!(e.exit_code(), crate::exit_codes::USAGE);
            assert!(e.to_string().contains(why), "{url}: {e}");
        }
    }
}
