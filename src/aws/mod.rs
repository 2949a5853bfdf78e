//! AWS SDK adapters for the ports. This is the only place `aws_sdk_*` types appear.

pub mod config;
pub mod dynamodb;
pub mod error;
pub mod eventbridge;
pub mod sandbox;
pub mod sqs;
pub mod time;
