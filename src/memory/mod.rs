//! In-memory fakes of the ports, for engine tests: deterministic, inspectable, and able to
//! inject the failures AWS produces (and emulators do not).

pub mod capture;
pub mod eventbridge;
mod faults;
pub mod iam;
pub mod kms;
pub mod lambda;
pub mod latent;
pub mod ledger;
pub mod logs;
pub mod metrics;
pub mod replayer;
pub mod sfn;
pub mod sns;
pub mod sqs;
pub mod sqs_send;
