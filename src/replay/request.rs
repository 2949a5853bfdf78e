//! What a replay's plan is asked for: the plain values every planning step reads, apart
//! from the planning that puts those steps in order (so no step imports the plan).

/// What the user asked for, as plain values.
#[derive(Debug, Clone, Default)]
pub struct PlanRequest {
    /// Archive name or ARN.
    pub archive: Option<String>,
    pub bus: Option<String>,
    pub since: String,
    pub until: Option<String>,
    pub event_types: Vec<String>,
    pub sources: Vec<String>,
    /// Rule names or ARNs to add explicitly.
    pub rules: Vec<String>,
    /// Replay to every rule (no FilterArns).
    pub all_rules: bool,
    pub include_catch_all: bool,
    pub type_fields: Vec<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    /// user@host, recorded in the description.
    pub started_by: String,
}
