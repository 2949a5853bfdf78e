//! Why a target's input cannot be built: a target configuration EventBridge's PutTargets
//! would refuse, or an event that the target's `InputPath` finds nothing in.

use super::json_path::JsonPathError;

/// What is wrong with a target's input, phrased for the person who owns the target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// More than one of Input, InputPath and InputTransformer is set.
    #[error(
        "the target sets {0}, but EventBridge allows only one of Input, InputPath and InputTransformer"
    )]
    Conflicting(String),
    /// `Input` is not JSON text.
    #[error(
        "the target's Input is not valid JSON ({reason}); EventBridge only accepts JSON text there"
    )]
    InputNotJson { reason: String },
    /// A field is longer than the API allows.
    #[error("the target's {field} has {len} characters; EventBridge allows at most {max}")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    /// The InputTemplate is empty or longer than 8,192 characters.
    #[error(
        "the target's InputTemplate has {len} characters; EventBridge needs between 1 and 8192"
    )]
    TemplateLength { len: usize },
    /// InputPath, or the path of an InputPathsMap variable, is outside the supported subset.
    #[error("the target's {field} is not usable: {source}")]
    Path {
        /// `InputPath`, or `InputPathsMap variable <name>`.
        field: String,
        #[source]
        source: JsonPathError,
    },
    /// The InputPathsMap has more than 100 variables.
    #[error("the target's InputPathsMap has {count} variables; EventBridge allows at most 100")]
    TooManyVariables { count: usize },
    /// An InputPathsMap key breaks the naming rules.
    #[error("the target's InputPathsMap variable `{name}` is not allowed: {reason}")]
    VariableName { name: String, reason: String },
    /// A placeholder names no variable.
    #[error(
        "the target's InputTemplate uses `<{name}>`, which is neither an InputPathsMap variable nor a predefined one (aws.events.rule-arn, aws.events.rule-name, aws.events.event.ingestion-time, aws.events.event, aws.events.event.json)"
    )]
    UndefinedPlaceholder { name: String },
    /// A placeholder is used as an object key.
    #[error(
        "the target's InputTemplate uses `<{name}>` as an object key; EventBridge allows placeholders only as values"
    )]
    PlaceholderAsKey { name: String },
    /// `<aws.events.event>` or `<aws.events.event.json>` inside a quoted string.
    #[error(
        "the target's InputTemplate puts `<{name}>` inside a quoted string; EventBridge inserts it as unescaped JSON, so it can only be the value of a JSON field: remove the quotes around it"
    )]
    EventVariableInString { name: String },
    /// The InputPath selects nothing in this event.
    #[error(
        "the target's InputPath `{path}` selects nothing in this event, so there is no input to deliver; check the path against the event"
    )]
    InputPathNotFound { path: String },
}
