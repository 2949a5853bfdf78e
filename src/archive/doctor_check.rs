//! `doctor`'s look for what killed exports left ([`super::cleanup::find_leftovers`]): a
//! WARN naming them with the command that removes them. Nothing found (or no permission to
//! look) adds no line, so a doctor report reads as before for everyone who never killed an
//! export.

use super::cleanup::find_leftovers;
use crate::commands::doctor::{Check, DoctorReport, Status};
use crate::error::AppError;
use crate::ports::PortError;
use crate::ports::capture::CaptureResources;
use crate::ports::replay::ReplayControl;

/// The check's stable identifier.
pub const CHECK: &str = "export-leftovers";

/// The check for `bus`; None when nothing was left (or only runs whose export may be alive).
pub async fn leftover_check(
    res: &dyn CaptureResources,
    replays: &dyn ReplayControl,
    bus: &str,
) -> Option<Check> {
    let hint = format!("nexus-replay archive export --cleanup --bus {bus}");
    let found = match find_leftovers(res, replays, &[bus.to_string()]).await {
        Ok(found) => found,
        // The read-only policy (docs/iam/readonly.json) does not list queues: a doctor run
        // under it says nothing about exports rather than warning on every run.
        Err(AppError::Port(PortError::Denied(e))) => {
            tracing::debug!("not looking for leftovers of killed exports: {e}");
            return None;
        }
        Err(e) => {
            return Some(Check {
                check: CHECK.into(),
                status: Status::Warn,
                subject: bus.into(),
                message: format!("could not look for leftovers of killed exports: {e}"),
                hint: Some(format!("run `{hint}` later")),
            });
        }
    };
    let names: Vec<String> = found
        .removable()
        .flat_map(|run| {
            run.rules
                .iter()
                .map(|r| format!("rule {}", r.name))
                .chain(run.queues.iter().map(|q| format!("queue {}", q.name)))
        })
        .collect();
    if names.is_empty() {
        return None;
    }
    Some(Check {
        check: CHECK.into(),
        status: Status::Warn,
        subject: bus.into(),
        message: format!(
            "{} killed `archive export` run(s) left {}",
            found.removable().count(),
            names.join(", ")
        ),
        hint: Some(hint),
    })
}

/// Adds the check to the report, counts included.
pub async fn add_leftover_check(
    report: &mut DoctorReport,
    res: &dyn CaptureResources,
    replays: &dyn ReplayControl,
    bus: &str,
) {
    let Some(check) = leftover_check(res, replays, bus).await else {
        return;
    };
    report.push(check);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::names::RunNames;
    use crate::memory::capture::MemoryCapture;
    use crate::memory::eventbridge::MemoryEventBridge;
    use crate::memory::sqs::MemoryQueue;

    #[tokio::test]
    async fn a_killed_runs_rule_and_queue_are_a_warning_with_the_cleanup_command() {
        let eb = MemoryEventBridge::new();
        let res = MemoryCapture::new(MemoryQueue::new());
        assert_eq!(leftover_check(&res, &eb, "b").await, None);
        let names = RunNames::for_run("20250908T140000Z-3f9a2b1c");
        res.add_rule(
            "b",
            &names.rule,
            r#"{"replay-name": ["x"]}"#,
            Some(&names.rule_description("a")),
        );
        res.add_queue(&names.queue, names.tags("a"));
        let c = leftover_check(&res, &eb, "b").await.unwrap();
        assert_eq!(c.status, Status::Warn);
        assert_eq!(c.check, CHECK);
        assert!(
            c.message.contains(&format!("rule {}", names.rule))
                && c.message.contains(&format!("queue {}", names.queue)),
            "{}",
            c.message
        );
        assert_eq!(
            c.hint.as_deref(),
            Some("nexus-replay archive export --cleanup --bus b")
        );
        // No permission to look: no line.
        res.fail_next("ListQueues", PortError::Denied("sqs:ListQueues".into()));
        assert_eq!(leftover_check(&res, &eb, "b").await, None);
        let mut report = DoctorReport {
            bus: "b".into(),
            checks: vec![],
            pass: 1,
            warn: 0,
            fail: 0,
        };
        add_leftover_check(&mut report, &res, &eb, "b").await;
        assert_eq!((report.pass, report.warn, report.checks.len()), (1, 1, 1));
    }
}
