//! `doctor`: incident-readiness checks for a bus (the checks are in `crate::doctor`).

use chrono::{DateTime, Utc};

pub use crate::doctor::{Check, DoctorPorts, DoctorReport, STRIPE_PARTNER_PREFIX, Status};
use crate::error::AppError;
use crate::ports::capture::CaptureResources;
use crate::ports::metrics::Metrics;
use crate::ports::replay::ReplayControl;

/// What every check of `doctor` reads: the catalogue, SQS, KMS and IAM ([`DoctorPorts`]),
/// the resources an archive export leaves behind, and the CloudWatch metrics (dlq-sends).
pub struct AllPorts<'a> {
    pub checks: DoctorPorts<'a>,
    pub capture: &'a dyn CaptureResources,
    pub replays: &'a dyn ReplayControl,
    pub metrics: &'a dyn Metrics,
}

/// Every check (the `doctor` command and a playbook's doctor step): the bus's, its rules'
/// delivery checks, a killed archive export's leftovers, and the failed DLQ writes of the
/// last 24 hours.
pub async fn doctor(
    p: &AllPorts<'_>,
    bus_name: &str,
    now: DateTime<Utc>,
) -> Result<DoctorReport, AppError> {
    let mut report = crate::doctor::doctor(&p.checks, bus_name, now).await?;
    crate::archive::doctor_check::add_leftover_check(&mut report, p.capture, p.replays, bus_name)
        .await;
    crate::doctor::dlq_sends::add_dlq_send_checks(
        &mut report,
        p.checks.cat,
        &crate::doctor::dlq_sends::FromMetrics(p.metrics),
        bus_name,
        now,
    )
    .await;
    Ok(report)
}

/// Every check, on the account's clients (the `doctor` command).
pub async fn doctor_on(
    c: &crate::aws::config::Clients,
    bus_name: &str,
    now: DateTime<Utc>,
) -> Result<DoctorReport, AppError> {
    let kms = crate::aws::kms::Kms::new(aws_sdk_kms::Client::new(c.sdk_config()));
    let iam = crate::aws::iam::Iam::new(aws_sdk_iam::Client::new(c.sdk_config()));
    let capture =
        crate::aws::capture::AwsCapture::new(c.raw_eventbridge.clone(), c.raw_sqs.clone());
    let cloudwatch = c.cloudwatch();
    let ports = AllPorts {
        checks: DoctorPorts {
            cat: &c.eventbridge,
            queue: &c.sqs,
            keys: Some(&kms),
            roles: Some(&iam),
        },
        capture: &capture,
        replays: &c.eventbridge,
        metrics: &cloudwatch,
    };
    doctor(&ports, bus_name, now).await
}
