//! Stripe's side of `stripe reconcile`: Stripe keeps every event for 30 days behind
//! `GET /v1/events`, so events that never reached the bus can be found there and re-emitted.
//!
//! - [`key`]: the API key, read from an environment variable and never shown;
//! - [`query`]: what to list (a window within Stripe's 30 days, event types), checked
//!   before any call, and how it becomes `GET /v1/events` query strings;
//! - [`client`]: the HTTP client (hyper + rustls), paging and retries ([`retry`]);
//! - [`event`]: Stripe's event object and list page; [`error`]: what a call failed with;
//! - [`reconcile`]: Stripe's events against the bus's (an archive export) and the ledger;
//! - [`webhook`]: the PutEvents entry that re-emits a missing event as the webhook would;
//! - [`testing`]: a loopback stand-in for `GET /v1/events`, for unit and e2e tests.

pub mod client;
pub mod error;
pub mod event;
pub mod key;
pub mod query;
pub mod reconcile;
pub mod retry;
#[doc(hidden)]
pub mod testing;
pub mod webhook;

#[cfg(test)]
mod tests;
