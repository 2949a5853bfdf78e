//! The narrow ports the engine works through. Each has an AWS adapter (`crate::aws`)
//! and an in-memory fake (`crate::memory`); no `aws_sdk_*` type appears here.

pub mod bus;
pub mod capture;
pub mod delivery;
pub mod error;
pub mod keys;
pub mod ledger;
pub mod metrics;
pub mod queue;
pub mod replay;
pub mod roles;
pub mod sink;

pub use error::PortError;
