//! Which events a command works on: [`EventFilter`] (`start` and `drain`: types, sources,
//! rules, where the type lives) and [`MessageFilter`] (a drain's, which adds what only a
//! dead-lettered message has: its error code and age, and a full event pattern).

use std::time::Duration;

use clap::Args;
use serde::Deserialize;

use crate::drain::select::Selection;
use crate::error::AppError;
use crate::pattern::Pattern;

super::step::options_struct! {
    /// The events of some types and sources, and the rules they go (or went) to.
    #[derive(Debug, Clone, Default, PartialEq, Args, Deserialize)]
    pub struct EventFilter {
        /// Event type (repeatable): a drain takes only these (with --bus, from the DLQs of the rules whose patterns match them); a replay goes to those rules
        #[arg(long = "event-type", value_name = "TYPE")]
        #[serde(default)]
        pub event_types: Vec<String>,
        /// Event source (repeatable): a drain takes only these (with --bus, from the DLQs of the rules whose patterns match them); a replay goes to those rules
        #[arg(long = "source", value_name = "SOURCE")]
        #[serde(default)]
        pub sources: Vec<String>,
        /// Rule name or ARN (repeatable): a drain takes only the messages it dead-lettered (a name may be a glob with * and ?; with --bus, only its DLQs); a replay goes to it besides the rules selected
        #[arg(long = "rule", value_name = "RULE")]
        #[serde(default)]
        pub rules: Vec<String>,
        /// Where the event type lives, tried in order (per rule for a replay)
        #[arg(
            long = "type-field",
            value_name = "PATH",
            value_delimiter = ',',
            default_value = "detail.type,detail-type"
        )]
        #[serde(default)]
        pub type_fields: Vec<String>,
    }
}

super::step::options_struct! {
    /// A drain's selection of dead-lettered messages.
    #[derive(Debug, Clone, Default, PartialEq, Args, Deserialize)]
    pub struct MessageFilter {
        #[command(flatten)]
        #[serde(flatten)]
        pub events: EventFilter,
        /// Only these ERROR_CODE values (repeatable)
        #[arg(long = "error-code", value_name = "CODE")]
        #[serde(default)]
        pub error_codes: Vec<String>,
        /// Only events matching this EventBridge pattern (JSON)
        #[arg(long, value_name = "JSON")]
        pub pattern: Option<String>,
        /// Only events at least this old
        #[arg(long, value_name = "DUR", value_parser = super::duration)]
        #[serde(default, deserialize_with = "super::parse::opt_duration")]
        pub min_age: Option<Duration>,
    }
}

impl EventFilter {
    /// Refuses a blank type field (exit 2): `start` and `drain` alike.
    pub fn validate(&self) -> Result<(), AppError> {
        if self.type_fields.iter().any(|f| f.trim().is_empty()) {
            return Err(AppError::usage(
                "--type-field: a blank path names no field; give paths such as detail.type,detail-type (the default when the flag is left out)",
            ));
        }
        Ok(())
    }
}

impl MessageFilter {
    /// Refuses a blank type field and a pattern that does not parse (exit 2).
    pub fn validate(&self) -> Result<(), AppError> {
        self.events.validate()?;
        self.pattern().map(drop)
    }

    fn pattern(&self) -> Result<Option<Pattern>, AppError> {
        self.pattern
            .as_deref()
            .map(|p| Pattern::parse(p).map_err(|e| AppError::usage(format!("--pattern: {e}"))))
            .transpose()
    }

    /// The engine's selection.
    pub fn selection(&self) -> Result<Selection, AppError> {
        Ok(Selection {
            event_types: self.events.event_types.clone(),
            sources: self.events.sources.clone(),
            rules: self.events.rules.clone(),
            error_codes: self.error_codes.clone(),
            pattern: self.pattern()?,
            min_age: self.min_age,
            type_fields: self.events.type_fields.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_reads_the_filter_under_the_flags_names() {
        let f: MessageFilter = serde_json::from_value(serde_json::json!({
            "event_types": ["a"],
            "rules": ["r"],
            "error_codes": ["E"],
            "min_age": "5m",
        }))
        .unwrap();
        assert_eq!(f.events.event_types, ["a"]);
        assert_eq!(f.events.rules, ["r"]);
        assert_eq!(f.min_age, Some(Duration::from_secs(300)));
        let s = f.selection().unwrap();
        assert_eq!(
            (s.error_codes, s.pattern.is_none()),
            (vec!["E".to_string()], true)
        );
    }

    #[test]
    fn a_pattern_that_does_not_parse_is_a_usage_error() {
        let f = MessageFilter {
            pattern: Some("{not json".into()),
            ..MessageFilter::default()
        };
        let e = f.validate().unwrap_err();
        assert_eq!(e.exit_code(), crate::exit_codes::USAGE);
        assert!(e.to_string().starts_with("--pattern: "), "{e}");
    }

    #[test]
    fn a_blank_type_field_is_a_usage_error() {
        for fields in [vec![""], vec!["detail.type", ""], vec![" "]] {
            let f = MessageFilter {
                events: EventFilter {
                    type_fields: fields.iter().map(|f| f.to_string()).collect(),
                    ..EventFilter::default()
                },
                ..MessageFilter::default()
            };
            let e = f.validate().unwrap_err();
            assert_eq!(e.exit_code(), crate::exit_codes::USAGE, "{fields:?}");
            assert!(e.to_string().starts_with("--type-field: "), "{e}");
        }
        let f = MessageFilter {
            events: EventFilter {
                type_fields: vec!["detail.type".into()],
                ..EventFilter::default()
            },
            ..MessageFilter::default()
        };
        assert!(f.validate().is_ok());
        // `start` reads the same filter: the same refusal.
        let blank = EventFilter {
            type_fields: vec![String::new()],
            ..EventFilter::default()
        };
        let e = blank.validate().unwrap_err();
        assert_eq!(e.exit_code(), crate::exit_codes::USAGE);
        assert!(e.to_string().starts_with("--type-field: "), "{e}");
    }
}
