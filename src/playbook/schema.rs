//! The step kinds and the types of their fields: which fields each kind takes, which it
//! needs, and which outputs later steps may reference.

use std::sync::LazyLock;

use serde::Serialize;

use crate::commands::stripe_reconcile::ReconcileOptions;
pub use crate::options::Ty;
use crate::options::{
    DrainOptions, EventFilter, MessageFilter, QueueOptions, StepFieldDef, WaitOptions, step_fields,
};

/// A replay step's fields: the replay's own (as in `replay::plan::PlanRequest` and `start`),
/// with the event filter and the wait of `start` read from their option structs.
static REPLAY: LazyLock<Vec<StepFieldDef>> = LazyLock::new(|| {
    let mut f = vec![
        ("bus", Ty::String),
        ("archive", Ty::String),
        ("since", Ty::When),
        ("until", Ty::When),
    ];
    f.extend(step_fields::<EventFilter>());
    f.extend([
        ("all_rules", Ty::Bool),
        ("include_catch_all", Ty::Bool),
        ("name", Ty::String),
        ("description", Ty::String),
        ("wait", Ty::Bool),
    ]);
    f.extend(step_fields::<WaitOptions>());
    f.push(("cancel_on_interrupt", Ty::Bool));
    f
});

/// A drain step's fields: where to drain and where to re-emit (the request's own fields, as
/// in `commands::drain::DrainRequest`), then its option structs' fields, in the order of
/// `drain --help`.
static DRAIN: LazyLock<Vec<StepFieldDef>> = LazyLock::new(|| {
    let mut f = vec![
        ("queues", Ty::List),
        ("bus", Ty::String),
        ("to_bus", Ty::String),
    ];
    f.extend(step_fields::<MessageFilter>());
    f.extend(step_fields::<QueueOptions>());
    f.extend(step_fields::<DrainOptions>());
    f
});

/// A reemit step's fields: the file and the bus (as in `commands::reemit::ReemitRequest`),
/// then the options it shares with a drain.
static REEMIT: LazyLock<Vec<StepFieldDef>> = LazyLock::new(|| {
    let mut f = vec![("from", Ty::String), ("bus", Ty::String)];
    f.extend(step_fields::<DrainOptions>());
    f
});

/// A reconcile step's fields: `stripe reconcile`'s options, and `max_missing`, the events
/// that may still be missing when the step ends (none set: the step only reports).
static RECONCILE: LazyLock<Vec<StepFieldDef>> = LazyLock::new(|| {
    let mut f = step_fields::<ReconcileOptions>();
    f.push(("max_missing", Ty::Int));
    f
});

/// What a step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Doctor,
    Replay,
    Drain,
    Reemit,
    Verify,
    Confirm,
    Notify,
    Reconcile,
    Triage,
}

pub const KINDS: &str = "doctor, replay, drain, reemit, verify, confirm, notify, reconcile, triage";

impl Kind {
    pub(crate) fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "doctor" => Kind::Doctor,
            "replay" => Kind::Replay,
            "drain" => Kind::Drain,
            "reemit" => Kind::Reemit,
            "verify" => Kind::Verify,
            "confirm" => Kind::Confirm,
            "notify" => Kind::Notify,
            "reconcile" => Kind::Reconcile,
            "triage" => Kind::Triage,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Doctor => "doctor",
            Kind::Replay => "replay",
            Kind::Drain => "drain",
            Kind::Reemit => "reemit",
            Kind::Verify => "verify",
            Kind::Confirm => "confirm",
            Kind::Notify => "notify",
            Kind::Reconcile => "reconcile",
            Kind::Triage => "triage",
        }
    }

    /// The type of field `key` of this kind; None when the kind has no such field.
    pub fn field_type(self, key: &str) -> Option<Ty> {
        self.fields()
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, t)| *t)
    }

    /// The fields this kind takes, besides `kind`, `id` and `title`.
    pub fn fields(self) -> &'static [(&'static str, Ty)] {
        use Ty::*;
        match self {
            Kind::Doctor => &[("bus", String), ("allow", List)],
            Kind::Replay => REPLAY.as_slice(),
            Kind::Drain => DRAIN.as_slice(),
            Kind::Reemit => REEMIT.as_slice(),
            Kind::Verify => &[
                ("queues_empty", List),
                ("bus_dlqs_empty", String),
                ("rules", List),
                ("event_types", List),
                ("replay_completed", String),
                ("unique_keys_in", String),
                ("unique_key", String),
                ("reemitted_by", String),
                ("max_messages", Int),
                ("within", Duration),
            ],
            Kind::Confirm => &[("message", String)],
            Kind::Notify => &[("topic", String), ("when", String), ("subject", String)],
            Kind::Reconcile => RECONCILE.as_slice(),
            Kind::Triage => &[("bus", String), ("since", When), ("until", When)],
        }
    }

    pub(crate) fn required(self) -> &'static [&'static str] {
        match self {
            Kind::Doctor => &["bus"],
            Kind::Replay => &["since"],
            Kind::Reemit => &["from"],
            Kind::Confirm => &["message"],
            Kind::Notify => &["topic"],
            Kind::Reconcile => &["bus", "since"],
            Kind::Triage => &["bus", "since"],
            Kind::Drain | Kind::Verify => &[],
        }
    }

    /// What later steps can reference as `${steps.ID.OUTPUT}`.
    pub fn outputs(self) -> &'static [&'static str] {
        match self {
            Kind::Doctor => &["bus", "pass", "warn", "fail"],
            Kind::Replay => &["name", "arn", "state", "start", "end", "archive", "bus"],
            Kind::Drain | Kind::Reemit => &[
                "run_id",
                "received",
                "reemitted",
                "duplicates",
                "failed",
                "parked",
                "deleted",
                "possible_duplicates",
            ],
            Kind::Verify => &["checks", "passed"],
            Kind::Confirm => &[],
            Kind::Notify => &["topic_arn", "message_id", "published"],
            Kind::Reconcile => &[
                "run_id",
                "in_stripe",
                "in_archive",
                "missing",
                "extra",
                "reemitted",
                "still_missing",
            ],
            Kind::Triage => &["bus", "failed", "in_dlq", "lost", "rules"],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::drain::DrainRequest;
    use crate::commands::reemit::ReemitRequest;
    use serde::de::DeserializeOwned;

    /// Flags that are not step fields: a playbook is planned (its dry run) before it runs.
    const CLI_ONLY: &[&str] = &["dry_run"];

    /// The ids of a command's flags: the struct field names (`--event-type` is
    /// `event_types`, a repeatable flag named in the singular).
    fn flag_ids<A: clap::Args>() -> Vec<String> {
        A::augment_args(clap::Command::new("t"))
            .get_arguments()
            .map(|a| a.get_id().to_string())
            .filter(|id| id != "help")
            .collect()
    }

    fn sample(ty: Ty) -> serde_json::Value {
        match ty {
            Ty::String => "x".into(),
            Ty::List => serde_json::json!(["x"]),
            Ty::Bool => true.into(),
            Ty::Int => 5.into(),
            Ty::Number => 5.5.into(),
            Ty::Duration | Ty::When => "30s".into(),
        }
    }

    /// Each step field is a flag of the command and the other way round, and serde reads
    /// each under its name: a new option cannot be a flag and not a step field.
    fn same_fields<A: clap::Args + DeserializeOwned + Default + PartialEq + std::fmt::Debug>(
        kind: Kind,
    ) {
        let step: Vec<&str> = kind.fields().iter().map(|(k, _)| *k).collect();
        let flags: Vec<String> = flag_ids::<A>()
            .into_iter()
            .filter(|id| !CLI_ONLY.contains(&id.as_str()))
            .collect();
        assert_eq!(step, flags, "{} step fields vs flags", kind.name());
        for (key, ty) in kind.fields() {
            // A field with a set of values takes a value other than its default.
            let value = match *key {
                "to" => "target".into(),
                "invoke" => "async".into(),
                _ => sample(*ty),
            };
            let read: A = serde_json::from_value(serde_json::json!({ *key: value }))
                .unwrap_or_else(|e| panic!("{key}: {e}"));
            assert_ne!(read, A::default(), "serde does not read `{key}`");
        }
        for key in CLI_ONLY {
            let read: A = serde_json::from_value(serde_json::json!({ *key: true })).unwrap();
            assert_eq!(read, A::default(), "a step must not set `{key}`");
        }
    }

    #[test]
    fn a_drain_step_takes_exactly_the_drain_flags() {
        same_fields::<DrainRequest>(Kind::Drain);
    }

    #[test]
    fn a_replay_step_takes_the_filter_and_wait_flags_of_start() {
        let step: Vec<&str> = Kind::Replay.fields().iter().map(|(k, _)| *k).collect();
        for id in flag_ids::<EventFilter>()
            .into_iter()
            .chain(flag_ids::<WaitOptions>())
        {
            assert!(step.contains(&id.as_str()), "replay step lacks `{id}`");
        }
        for (key, ty) in Kind::Replay.fields() {
            let v = serde_json::json!({ *key: sample(*ty) });
            let f: EventFilter = serde_json::from_value(v.clone()).unwrap();
            let w: WaitOptions = serde_json::from_value(v).unwrap();
            let is_filter = flag_ids::<EventFilter>().contains(&key.to_string());
            let is_wait = flag_ids::<WaitOptions>().contains(&key.to_string());
            assert_eq!(f != EventFilter::default(), is_filter, "{key}");
            assert_eq!(w != WaitOptions::default(), is_wait, "{key}");
        }
    }

    #[test]
    fn a_reconcile_step_takes_the_reconcile_flags_and_max_missing() {
        use crate::commands::stripe_reconcile::ReconcileOptions;
        let last = Kind::Reconcile.fields().last().copied();
        assert_eq!(last, Some(("max_missing", Ty::Int)));
        let step: Vec<&str> = Kind::Reconcile.fields().iter().map(|(k, _)| *k).collect();
        let flags = flag_ids::<ReconcileOptions>();
        let flags: Vec<&str> = flags
            .iter()
            .map(String::as_str)
            .filter(|id| !CLI_ONLY.contains(id))
            .collect();
        assert_eq!(step[..step.len() - 1], flags[..]);
        for (key, ty) in &Kind::Reconcile.fields()[..step.len() - 1] {
            let read: ReconcileOptions =
                serde_json::from_value(serde_json::json!({ *key: sample(*ty) }))
                    .unwrap_or_else(|e| panic!("{key}: {e}"));
            assert_ne!(
                read,
                ReconcileOptions::default(),
                "serde does not read `{key}`"
            );
        }
        let read: ReconcileOptions =
            serde_json::from_value(serde_json::json!({ "dry_run": true })).unwrap();
        assert_eq!(read, ReconcileOptions::default());
    }

    #[test]
    fn a_reemit_step_takes_exactly_the_reemit_flags() {
        same_fields::<ReemitRequest>(Kind::Reemit);
    }
}
