//! Rule targets: the input EventBridge builds for one target of a rule from a matched event
//! (the event, `Input`, `InputPath` or `InputTransformer`), rebuilt locally so that a
//! redrive to the target that failed delivers exactly what the target missed.

mod json_path;

pub use json_path::{JsonPath, JsonPathError};
