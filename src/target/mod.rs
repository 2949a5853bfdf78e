//! Rule targets: the input EventBridge builds for one target of a rule from a matched event
//! (the event, `Input`, `InputPath` or `InputTransformer`), rebuilt locally so that a
//! redrive to the target that failed delivers exactly what the target missed.

mod error;
mod input;
mod json_path;
mod predefined;
mod template;

#[cfg(test)]
mod doc_examples;

pub use error::InputError;
pub use input::{RenderedInput, RuleContext, TargetInput, TargetInputFields, TransformerFields};
pub use json_path::{JsonPath, JsonPathError};
pub use template::InputTemplate;
