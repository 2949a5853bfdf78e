//! How an option struct appears in a playbook step: each field a step field of the same
//! name, its [`Ty`] read from the field's Rust type ([`StepField`]). [`options_struct!`]
//! declares a struct and its step fields from one definition, so a new option is a step
//! field as soon as it is a flag.

use std::path::PathBuf;
use std::time::Duration;

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

/// A step field's name and type.
pub type StepFieldDef = (&'static str, Ty);

/// What a value of this Rust type is in a playbook step. A leaf type adds one field named
/// `name`; an option struct (flattened into its command) adds each of its own fields.
pub trait StepField {
    fn add(name: &'static str, out: &mut Vec<StepFieldDef>);
}

/// The step fields of `T`, in declaration order (the order of its flags in `--help`).
pub fn step_fields<T: StepField>() -> Vec<StepFieldDef> {
    let mut out = Vec::new();
    T::add("", &mut out);
    out
}

macro_rules! leaf {
    ($($t:ty => $ty:ident),* $(,)?) => {
        $(impl $crate::options::StepField for $t {
            fn add(name: &'static str, out: &mut Vec<$crate::options::StepFieldDef>) {
                out.push((name, $crate::options::Ty::$ty));
            }
        })*
    };
}

leaf! {
    String => String,
    Option<String> => String,
    PathBuf => String,
    Vec<String> => List,
    bool => Bool,
    u32 => Int,
    Option<u64> => Int,
    Option<usize> => Int,
    Option<f64> => Number,
    Option<Duration> => Duration,
}

/// Declares an option struct exactly as written (derives, clap and serde attributes, doc
/// lines) and implements [`StepField`] for it from the same field list: every field is a
/// step field of its name, but one marked `[cli_only]` before its doc line (a flag a step
/// has no use for). A field whose type is another option struct must be flattened (clap
/// and serde): its fields are added in its place.
macro_rules! options_struct {
    (
        $(#[$sm:meta])*
        pub struct $name:ident {
            $(
                $([$only:ident])?
                $(#[$fm:meta])*
                pub $field:ident : $ty:ty,
            )*
        }
    ) => {
        $(#[$sm])*
        pub struct $name {
            $($(#[$fm])* pub $field: $ty,)*
        }

        impl $crate::options::StepField for $name {
            fn add(_: &'static str, out: &mut Vec<$crate::options::StepFieldDef>) {
                $($crate::options::step::step_field!($($only)?; $field, $ty, out);)*
            }
        }
    };
}

/// One field's entry in [`options_struct!`]: none for a `cli_only` field.
macro_rules! step_field {
    (cli_only; $field:ident, $ty:ty, $out:ident) => {};
    (; $field:ident, $ty:ty, $out:ident) => {
        <$ty as $crate::options::StepField>::add(stringify!($field), $out)
    };
}

pub(crate) use {leaf, options_struct, step_field};
