//! `doctor`: incident-readiness checks for a bus (the checks are in `crate::doctor`).

use chrono::{DateTime, Utc};

pub use crate::doctor::{Check, DoctorPorts, DoctorReport, STRIPE_PARTNER_PREFIX, Status};
use crate::error::AppError;
use crate::ports::bus::BusCatalogue;
use crate::ports::queue::Queue;

/// The checks on the bus catalogue and SQS alone (a playbook's doctor step): a DLQ's
/// customer-managed key and a target's role are WARNed as not read.
pub async fn doctor(
    cat: &dyn BusCatalogue,
    queues: &dyn Queue,
    bus_name: &str,
    now: DateTime<Utc>,
) -> Result<DoctorReport, AppError> {
    let ports = DoctorPorts {
        cat,
        queue: queues,
        keys: None,
        roles: None,
    };
    crate::doctor::doctor(&ports, bus_name, now).await
}

/// Every check, on the account's clients (the `doctor` command): KMS key policies and IAM
/// role trust policies are read too.
pub async fn doctor_on(
    c: &crate::aws::config::Clients,
    bus_name: &str,
    now: DateTime<Utc>,
) -> Result<DoctorReport, AppError> {
    let kms = crate::aws::kms::Kms::new(aws_sdk_kms::Client::new(c.sdk_config()));
    let iam = crate::aws::iam::Iam::new(aws_sdk_iam::Client::new(c.sdk_config()));
    let ports = DoctorPorts {
        cat: &c.eventbridge,
        queue: &c.sqs,
        keys: Some(&kms),
        roles: Some(&iam),
    };
    crate::doctor::doctor(&ports, bus_name, now).await
}
