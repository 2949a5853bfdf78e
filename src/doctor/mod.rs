//! `doctor`: incident-readiness checks for a bus, each PASS/WARN/FAIL with a fix hint.
//!
//! `basics` holds the checks of the bus, its rules, archive, DLQ depths and partner
//! sources; `delivery` those that catch silent loss before it happens (a DLQ EventBridge
//! cannot write to, a target role it cannot assume), on the bus's rules and on the rules of
//! its ACTIVE Stripe partner buses; `policy` reads the policy documents they need.

mod basics;
mod delivery;
pub mod dlq_sends;
pub mod policy;
mod report;

use chrono::{DateTime, Utc};
use report::Checks;

pub use basics::STRIPE_PARTNER_PREFIX;
pub use delivery::queue_statement;
pub use report::{Check, DoctorReport, Status};

use crate::error::AppError;
use crate::ports::bus::BusCatalogue;
use crate::ports::keys::Keys;
use crate::ports::queue::Queue;
use crate::ports::roles::Roles;
use crate::replay::rules::is_reserved;

/// What `doctor` reads. Without `keys`, a DLQ encrypted with a customer-managed key is a
/// WARN (its policy is not read); without `roles`, so is a target role.
#[derive(Clone, Copy)]
pub struct DoctorPorts<'a> {
    pub cat: &'a dyn BusCatalogue,
    pub queue: &'a dyn Queue,
    pub keys: Option<&'a dyn Keys>,
    pub roles: Option<&'a dyn Roles>,
}

/// Runs every check against the bus. A missing bus is an error (exit 2), not a FAIL.
pub async fn doctor(
    ports: &DoctorPorts<'_>,
    bus_name: &str,
    now: DateTime<Utc>,
) -> Result<DoctorReport, AppError> {
    let cat = ports.cat;
    let bus = crate::discovery::require_bus(cat, bus_name).await?;
    let mut c = Checks(Vec::new());
    c.add(
        "bus",
        Status::Pass,
        &bus.name,
        format!("exists ({})", bus.arn),
        None,
    );

    let rules = cat.list_rules(&bus.name).await?;
    let own: Vec<_> = rules.iter().filter(|r| !is_reserved(r)).collect();
    basics::rules_and_targets(&mut c, &bus, &own);
    basics::archives(&mut c, cat, &bus, now).await?;
    basics::dlq_depths(&mut c, cat, ports.queue, &bus).await?;
    delivery::delivery(&mut c, ports, &bus.arn, &own, None).await;

    let active = basics::partner_sources(&mut c, cat).await;
    for s in active.iter().filter(|s| s.name != bus.name) {
        partner_bus(&mut c, ports, &s.name).await;
    }
    Ok(c.report(bus.name))
}

/// The delivery checks on the rules of an ACTIVE partner source's bus.
async fn partner_bus(c: &mut Checks, ports: &DoctorPorts<'_>, name: &str) {
    let found = match ports.cat.describe_bus(name).await {
        Ok(bus) => ports.cat.list_rules(name).await.map(|r| (bus, r)),
        Err(e) => Err(e),
    };
    match found {
        Ok((bus, rules)) => {
            let own: Vec<_> = rules.iter().filter(|r| !is_reserved(r)).collect();
            delivery::delivery(c, ports, &bus.arn, &own, Some(name)).await;
        }
        Err(e) => c.add(
            "partner-sources",
            Status::Warn,
            name,
            format!("cannot read the rules of this partner bus: {e}"),
            Some(format!("run `nexus-replay doctor --bus {name}`")),
        ),
    }
}

#[cfg(test)]
mod tests;
