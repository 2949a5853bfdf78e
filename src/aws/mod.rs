//! AWS SDK adapters for the ports. This is the only place `aws_sdk_*` types appear.

pub mod capture;
pub mod cloudwatch;
pub mod config;
pub mod dynamodb;
pub mod error;
pub mod eventbridge;
pub mod iam;
pub mod kms;
pub mod lambda;
pub mod logs;
pub mod retry;
pub mod sandbox;
pub mod sfn;
pub mod sns;
pub mod sqs;
pub mod sqs_send;
pub mod time;
