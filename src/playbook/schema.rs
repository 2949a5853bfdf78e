//! The step kinds and the types of their fields: which fields each kind takes, which it
//! needs, and which outputs later steps may reference.

use serde::Serialize;

/// The type of a parameter or a step field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ty {
    /// Text.
    String,
    /// A list of text values (`--set k=a,b`).
    List,
    Bool,
    Int,
    /// A number (integer or decimal).
    Number,
    /// `30s`, `5m`, `1h 30m`.
    Duration,
    /// A time: a duration back from now (`2h`), `now`, or a UTC / RFC 3339 time.
    When,
}

impl Ty {
    pub(crate) fn parse(s: &str) -> Option<Ty> {
        Some(match s {
            "string" => Ty::String,
            "list" => Ty::List,
            "bool" => Ty::Bool,
            "int" => Ty::Int,
            "number" => Ty::Number,
            "duration" => Ty::Duration,
            "when" => Ty::When,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Ty::String => "string",
            Ty::List => "list",
            Ty::Bool => "bool",
            Ty::Int => "int",
            Ty::Number => "number",
            Ty::Duration => "duration",
            Ty::When => "when",
        }
    }

    pub(crate) fn example(self) -> &'static str {
        match self {
            Ty::String => "\"text\"",
            Ty::List => "[\"a\", \"b\"]",
            Ty::Bool => "true",
            Ty::Int => "100",
            Ty::Number => "50",
            Ty::Duration => "\"30m\"",
            Ty::When => "\"2h\" (back from now) or \"2025-09-08 14:00\"",
        }
    }

    /// Whether a parameter of type `param` may fill a field of this type as a whole.
    pub(crate) fn accepts(self, param: Ty) -> bool {
        match self {
            Ty::String => param != Ty::List,
            Ty::When => matches!(param, Ty::When | Ty::Duration | Ty::String),
            Ty::Duration => matches!(param, Ty::Duration | Ty::String),
            Ty::Number => matches!(param, Ty::Number | Ty::Int),
            other => other == param,
        }
    }
}

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
}

pub const KINDS: &str = "doctor, replay, drain, reemit, verify, confirm";

impl Kind {
    pub(crate) fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "doctor" => Kind::Doctor,
            "replay" => Kind::Replay,
            "drain" => Kind::Drain,
            "reemit" => Kind::Reemit,
            "verify" => Kind::Verify,
            "confirm" => Kind::Confirm,
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
            Kind::Replay => &[
                ("bus", String),
                ("archive", String),
                ("since", When),
                ("until", When),
                ("event_types", List),
                ("sources", List),
                ("rules", List),
                ("all_rules", Bool),
                ("include_catch_all", Bool),
                ("type_fields", List),
                ("name", String),
                ("description", String),
                ("wait", Bool),
                ("timeout", Duration),
                ("poll", Duration),
                ("cancel_on_interrupt", Bool),
            ],
            Kind::Drain => &[
                ("queues", List),
                ("bus", String),
                ("to_bus", String),
                ("event_types", List),
                ("sources", List),
                ("rules", List),
                ("error_codes", List),
                ("pattern", String),
                ("min_age", Duration),
                ("type_fields", List),
                ("max_messages", Int),
                ("max_duration", Duration),
                ("concurrency", Int),
                ("rate", Number),
                ("dedup_key", String),
                ("ledger", String),
                ("max_redrives", Int),
                ("park_queue", String),
                ("visibility_timeout", Duration),
                ("receive_wait", Duration),
                ("claim_timeout", Duration),
                ("size_limit", Int),
            ],
            Kind::Reemit => &[
                ("from", String),
                ("bus", String),
                ("dedup_key", String),
                ("ledger", String),
                ("max_redrives", Int),
                ("rate", Number),
                ("size_limit", Int),
                ("concurrency", Int),
            ],
            Kind::Verify => &[
                ("queues_empty", List),
                ("bus_dlqs_empty", String),
                ("replay_completed", String),
                ("unique_keys_in", String),
                ("unique_key", String),
                ("reemitted_by", String),
                ("max_messages", Int),
                ("within", Duration),
            ],
            Kind::Confirm => &[("message", String)],
        }
    }

    pub(crate) fn required(self) -> &'static [&'static str] {
        match self {
            Kind::Doctor => &["bus"],
            Kind::Replay => &["since"],
            Kind::Reemit => &["from"],
            Kind::Confirm => &["message"],
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
        }
    }
}
