//! In-memory fakes of the ports, for engine tests: deterministic, inspectable, and able to
//! inject the failures AWS produces (and emulators do not).

pub mod eventbridge;
pub mod latent;
pub mod ledger;
pub mod sqs;
