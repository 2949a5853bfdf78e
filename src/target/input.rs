//! The input a rule target receives for an event, built as EventBridge builds it from the
//! target's settings: the event itself, `Input`, `InputPath` or `InputTransformer`.
//!
//! Redriving to the target that failed must hand the consumer exactly what it missed, so
//! the event given to [`TargetInput::render`] is the one that was dead-lettered (same `id`,
//! `time` and `detail`, no `nexus_replay` field). The settings are checked when the value
//! is built, with the limits PutTargets enforces, so a target we cannot reproduce is
//! refused before any message is touched rather than half-way through a drain.

use std::collections::BTreeMap;

use serde_json::Value;

use super::error::InputError;
use super::json_path::JsonPath;
use super::predefined;
use super::template::InputTemplate;

/// The most characters of `Input` (API reference, Target).
const MAX_INPUT_CHARS: usize = 8192;
/// The most characters of `InputPath` and of each `InputPathsMap` path.
const MAX_PATH_CHARS: usize = 256;
/// The most `InputPathsMap` variables.
const MAX_VARIABLES: usize = 100;
/// The most characters of an `InputPathsMap` variable name.
const MAX_VARIABLE_NAME_CHARS: usize = 256;

/// A target's input settings as ListTargetsByRule returns them, free of SDK types: the AWS
/// adapter fills this in and [`TargetInput::from_fields`] checks it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetInputFields {
    pub input: Option<String>,
    pub input_path: Option<String>,
    pub input_transformer: Option<TransformerFields>,
}

/// An `InputTransformer` as returned by the API.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransformerFields {
    pub input_paths_map: BTreeMap<String, String>,
    pub input_template: String,
}

/// How a target's input is made from the matched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetInput {
    /// No input setting: the matched event itself, as JSON.
    Event,
    /// `Input`: constant JSON text, delivered as written; nothing of the event is passed.
    Constant(String),
    /// `InputPath`: the part of the event the path selects, as JSON.
    Path(JsonPath),
    /// `InputTransformer`: variables taken from the event by path, filled into a template.
    Transformer {
        paths_map: BTreeMap<String, JsonPath>,
        template: InputTemplate,
    },
}

/// The rule whose target receives the input, for the predefined template variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleContext {
    pub rule_arn: String,
    pub rule_name: String,
    /// When EventBridge received the event, if known; otherwise the event's own `time`
    /// stands in for `<aws.events.event.ingestion-time>` (a DLQ message does not carry it).
    pub ingestion_time: Option<String>,
}

/// The input text a target receives, and whether it is JSON. A template may produce text
/// that is not JSON (a quoted line per line of text, for example); it is delivered as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedInput {
    pub text: String,
    pub is_json: bool,
}

impl RuleContext {
    pub fn new(rule_arn: impl Into<String>, rule_name: impl Into<String>) -> RuleContext {
        RuleContext {
            rule_arn: rule_arn.into(),
            rule_name: rule_name.into(),
            ingestion_time: None,
        }
    }

    /// The same rule, with the time EventBridge received the event (ISO 8601).
    pub fn with_ingestion_time(mut self, time: impl Into<String>) -> RuleContext {
        self.ingestion_time = Some(time.into());
        self
    }
}

impl TargetInput {
    /// The input a target with these settings receives; at most one may be set.
    pub fn from_fields(fields: &TargetInputFields) -> Result<TargetInput, InputError> {
        let set: Vec<&str> = [
            (fields.input.is_some(), "Input"),
            (fields.input_path.is_some(), "InputPath"),
            (fields.input_transformer.is_some(), "InputTransformer"),
        ]
        .into_iter()
        .filter_map(|(present, name)| present.then_some(name))
        .collect();
        if set.len() > 1 {
            return Err(InputError::Conflicting(set.join(" and ")));
        }
        if let Some(text) = &fields.input {
            return TargetInput::constant(text);
        }
        if let Some(path) = &fields.input_path {
            return TargetInput::path(path);
        }
        match &fields.input_transformer {
            Some(t) => TargetInput::transformer(&t.input_paths_map, &t.input_template),
            None => Ok(TargetInput::Event),
        }
    }

    /// `Input`: must be JSON text of at most 8,192 characters.
    pub fn constant(text: &str) -> Result<TargetInput, InputError> {
        check_len("Input", text, MAX_INPUT_CHARS)?;
        serde_json::from_str::<Value>(text).map_err(|e| InputError::InputNotJson {
            reason: e.to_string(),
        })?;
        Ok(TargetInput::Constant(text.to_string()))
    }

    /// `InputPath`: a supported JSON path of at most 256 characters.
    pub fn path(path: &str) -> Result<TargetInput, InputError> {
        check_len("InputPath", path, MAX_PATH_CHARS)?;
        JsonPath::parse(path)
            .map(TargetInput::Path)
            .map_err(|source| InputError::Path {
                field: "InputPath".to_string(),
                source,
            })
    }

    /// `InputTransformer`: up to 100 variables, each named `[A-Za-z0-9_-]{1,256}` (not
    /// starting with `AWS`, not a predefined name) with a supported path of at most 256
    /// characters, and a template that only uses defined placeholders.
    pub fn transformer<'a>(
        paths_map: impl IntoIterator<Item = (&'a String, &'a String)>,
        template: &str,
    ) -> Result<TargetInput, InputError> {
        let raw: Vec<(&String, &String)> = paths_map.into_iter().collect();
        if raw.len() > MAX_VARIABLES {
            return Err(InputError::TooManyVariables { count: raw.len() });
        }
        let mut paths = BTreeMap::new();
        for (name, path) in raw {
            check_variable_name(name)?;
            let len = path.chars().count();
            if len > MAX_PATH_CHARS {
                return Err(InputError::VariableName {
                    name: name.clone(),
                    reason: format!(
                        "its path has {len} characters; EventBridge allows at most {MAX_PATH_CHARS}"
                    ),
                });
            }
            let parsed = JsonPath::parse(path).map_err(|source| InputError::Path {
                field: format!("InputPathsMap variable `{name}`"),
                source,
            })?;
            paths.insert(name.clone(), parsed);
        }
        let template = InputTemplate::parse(template, |name| paths.contains_key(name))?;
        Ok(TargetInput::Transformer {
            paths_map: paths,
            template,
        })
    }

    /// The input EventBridge hands the target for `event` matched by the rule in `ctx`.
    pub fn render(&self, event: &Value, ctx: &RuleContext) -> Result<RenderedInput, InputError> {
        let json = |text: String| RenderedInput {
            text,
            is_json: true,
        };
        match self {
            TargetInput::Event => Ok(json(event.to_string())),
            TargetInput::Constant(text) => Ok(json(text.clone())),
            TargetInput::Path(path) => path
                .select(event)
                .map(|value| json(value.to_string()))
                .ok_or_else(|| InputError::InputPathNotFound {
                    path: path.as_str().to_string(),
                }),
            TargetInput::Transformer {
                paths_map,
                template,
            } => Ok(template.render(|name| match paths_map.get(name) {
                Some(path) => path.select(event),
                None => predefined::value(name, event, ctx),
            })),
        }
    }
}

fn check_len(field: &'static str, text: &str, max: usize) -> Result<(), InputError> {
    let len = text.chars().count();
    if len > max {
        return Err(InputError::TooLong { field, len, max });
    }
    Ok(())
}

fn check_variable_name(name: &str) -> Result<(), InputError> {
    let refuse = |reason: &str| {
        Err(InputError::VariableName {
            name: name.to_string(),
            reason: reason.to_string(),
        })
    };
    if predefined::is_predefined(name) {
        return refuse("it is a predefined variable, reserved by EventBridge");
    }
    let len = name.chars().count();
    if len == 0 || len > MAX_VARIABLE_NAME_CHARS {
        return refuse("names have 1 to 256 characters");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
    {
        return refuse("names use only letters, digits, `-` and `_`");
    }
    // The API reference: "The keys cannot start with AWS". Read as written (case
    // included): a stricter reading could refuse a target AWS accepted.
    if name.starts_with("AWS") {
        return refuse("names cannot start with `AWS`");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event() -> Value {
        json!({
            "version": "0",
            "id": "4d2c5e1a-0000-4000-8000-000000000001",
            "detail-type": "invoice.paid",
            "source": "aws.partner/stripe.com/ed_1",
            "account": "123456789012",
            "time": "2025-09-08T14:00:00Z",
            "region": "us-east-1",
            "resources": [],
            "detail": {"id": "evt_1", "type": "invoice.paid", "data": {"object": {"id": "in_1", "amount_due": 4200}}}
        })
    }

    fn ctx() -> RuleContext {
        RuleContext::new(
            "arn:aws:events:us-east-1:123456789012:rule/aws.partner/stripe.com/ed_1/paid",
            "paid",
        )
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn transformer(pairs: &[(&str, &str)], template: &str) -> Result<TargetInput, InputError> {
        TargetInput::transformer(&map(pairs), template)
    }

    fn fields(input: Option<&str>, path: Option<&str>, t: Option<&str>) -> TargetInputFields {
        TargetInputFields {
            input: input.map(str::to_string),
            input_path: path.map(str::to_string),
            input_transformer: t.map(|template| TransformerFields {
                input_paths_map: BTreeMap::new(),
                input_template: template.to_string(),
            }),
        }
    }

    #[test]
    fn without_settings_the_target_gets_the_event_it_missed() {
        let input = TargetInput::from_fields(&TargetInputFields::default()).unwrap();
        assert_eq!(input, TargetInput::Event);
        let got = input.render(&event(), &ctx()).unwrap();
        assert!(got.is_json);
        let delivered: Value = serde_json::from_str(&got.text).unwrap();
        assert_eq!(delivered, event(), "same id, time and detail");
        assert!(!got.text.contains('\n'), "minified: {}", got.text);
    }

    #[test]
    fn input_is_delivered_as_written() {
        let text = "{ \"fixed\" : [1, 2] }";
        let input = TargetInput::from_fields(&fields(Some(text), None, None)).unwrap();
        let got = input.render(&event(), &ctx()).unwrap();
        assert_eq!(
            got,
            RenderedInput {
                text: text.to_string(),
                is_json: true
            }
        );
        // A JSON string is JSON text too.
        assert!(TargetInput::constant("\"HelloWorld!\"").is_ok());
    }

    #[test]
    fn input_must_be_json_of_at_most_8192_characters() {
        let err = TargetInput::constant("hello").unwrap_err();
        assert!(matches!(err, InputError::InputNotJson { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with("the target's Input is not valid JSON (")
        );
        assert!(matches!(
            TargetInput::constant(""),
            Err(InputError::InputNotJson { .. })
        ));
        let fits = format!("\"{}\"", "x".repeat(MAX_INPUT_CHARS - 2));
        assert!(TargetInput::constant(&fits).is_ok());
        let long = format!("\"{}\"", "x".repeat(MAX_INPUT_CHARS - 1));
        assert_eq!(
            TargetInput::constant(&long),
            Err(InputError::TooLong {
                field: "Input",
                len: 8193,
                max: 8192
            })
        );
    }

    #[test]
    fn input_path_delivers_the_selected_value_as_json() {
        let render = |path: &str| {
            TargetInput::path(path)
                .unwrap()
                .render(&event(), &ctx())
                .unwrap()
        };
        let detail = render("$.detail");
        assert!(detail.is_json);
        assert_eq!(
            serde_json::from_str::<Value>(&detail.text).unwrap(),
            event()["detail"]
        );
        assert_eq!(render("$.detail.data.object.amount_due").text, "4200");
        // A string is delivered as a JSON string, quotes included.
        assert_eq!(render("$.detail.type").text, "\"invoice.paid\"");
        assert_eq!(render("$.resources").text, "[]");
        assert_eq!(render("$").text, event().to_string());
    }

    #[test]
    fn an_input_path_that_selects_nothing_is_an_error_not_an_empty_delivery() {
        let input = TargetInput::path("$.detail.absent").unwrap();
        let err = input.render(&event(), &ctx()).unwrap_err();
        assert_eq!(
            err,
            InputError::InputPathNotFound {
                path: "$.detail.absent".into()
            }
        );
        assert!(err.to_string().contains("selects nothing in this event"));
    }

    #[test]
    fn input_path_is_checked() {
        let err = TargetInput::path("$..id").unwrap_err();
        assert!(matches!(&err, InputError::Path { field, .. } if field == "InputPath"));
        assert!(
            err.to_string()
                .starts_with("the target's InputPath is not usable: JSON path `$..id`"),
            "{err}"
        );
        let long = format!("$.{}", "a".repeat(MAX_PATH_CHARS - 1));
        assert!(matches!(
            TargetInput::path(&long),
            Err(InputError::TooLong {
                field: "InputPath",
                len: 257,
                max: 256
            })
        ));
    }

    #[test]
    fn only_one_input_setting_may_be_set() {
        let cases = [
            (fields(Some("1"), Some("$"), None), "Input and InputPath"),
            (
                fields(Some("1"), None, Some("\"x\"")),
                "Input and InputTransformer",
            ),
            (
                fields(None, Some("$"), Some("\"x\"")),
                "InputPath and InputTransformer",
            ),
            (
                fields(Some("1"), Some("$"), Some("\"x\"")),
                "Input and InputPath and InputTransformer",
            ),
        ];
        for (f, which) in cases {
            let err = TargetInput::from_fields(&f).unwrap_err();
            assert_eq!(err, InputError::Conflicting(which.into()));
            assert_eq!(
                err.to_string(),
                format!(
                    "the target sets {which}, but EventBridge allows only one of Input, InputPath and InputTransformer"
                )
            );
        }
    }

    #[test]
    fn from_fields_builds_each_mode() {
        assert!(matches!(
            TargetInput::from_fields(&fields(Some("{}"), None, None)),
            Ok(TargetInput::Constant(_))
        ));
        assert!(matches!(
            TargetInput::from_fields(&fields(None, Some("$.detail"), None)),
            Ok(TargetInput::Path(_))
        ));
        let f = TargetInputFields {
            input_transformer: Some(TransformerFields {
                input_paths_map: map(&[("id", "$.detail.id")]),
                input_template: "{\"id\": <id>}".into(),
            }),
            ..TargetInputFields::default()
        };
        let input = TargetInput::from_fields(&f).unwrap();
        assert_eq!(
            input.render(&event(), &ctx()).unwrap().text,
            r#"{"id":"evt_1"}"#
        );
    }

    #[test]
    fn a_transformer_renders_variables_and_the_rule_context() {
        let input = transformer(
            &[("id", "$.detail.id"), ("amount", "$.detail.data.object.amount_due")],
            r#"{"stripe": <id>, "amount": <amount>, "rule": <aws.events.rule-name>, "at": "<aws.events.event.ingestion-time>", "note": "<id> paid <amount>"}"#,
        )
        .unwrap();
        let got = input.render(&event(), &ctx()).unwrap();
        assert_eq!(
            got.text,
            r#"{"stripe":"evt_1","amount":4200,"rule":"paid","at":"2025-09-08T14:00:00Z","note":"evt_1 paid 4200"}"#
        );
        assert!(got.is_json);
        let later = ctx().with_ingestion_time("2025-09-08T14:00:00.815Z");
        assert!(
            input
                .render(&event(), &later)
                .unwrap()
                .text
                .contains(r#""at":"2025-09-08T14:00:00.815Z""#)
        );
    }

    #[test]
    fn up_to_100_variables_are_accepted() {
        let names: Vec<String> = (0..=MAX_VARIABLES).map(|i| format!("v{i}")).collect();
        let pairs: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "$.id")).collect();
        assert!(transformer(&pairs[..100], "\"<v0>\"").is_ok());
        assert_eq!(
            transformer(&pairs, "\"<v0>\""),
            Err(InputError::TooManyVariables { count: 101 })
        );
    }

    #[test]
    fn variable_names_follow_the_api_rules() {
        let long = "a".repeat(MAX_VARIABLE_NAME_CHARS + 1);
        let fits = "a".repeat(MAX_VARIABLE_NAME_CHARS);
        let cases = [
            ("aws.events.rule-arn", "predefined variable"),
            ("aws.events.event", "predefined variable"),
            ("", "1 to 256 characters"),
            (long.as_str(), "1 to 256 characters"),
            ("has.dot", "letters, digits"),
            ("has space", "letters, digits"),
            ("AWSRegion", "cannot start with `AWS`"),
        ];
        for (name, reason) in cases {
            let err = transformer(&[(name, "$.id")], "\"x\"").unwrap_err();
            assert!(
                matches!(&err, InputError::VariableName { name: n, .. } if n == name),
                "{name}: {err}"
            );
            assert!(err.to_string().contains(reason), "{name}: {err}");
        }
        for name in [
            "detail-type",
            "snake_case",
            "x9",
            "awsRegion",
            fits.as_str(),
        ] {
            assert!(transformer(&[(name, "$.id")], "\"x\"").is_ok(), "{name}");
        }
    }

    #[test]
    fn variable_paths_are_checked() {
        let err = transformer(&[("items", "$.detail[?(@.id)]")], "\"x\"").unwrap_err();
        assert!(
            matches!(&err, InputError::Path { field, .. } if field == "InputPathsMap variable `items`"),
            "{err}"
        );
        let long = format!("$.{}", "a".repeat(MAX_PATH_CHARS - 1));
        let err = transformer(&[("x", &long)], "\"x\"").unwrap_err();
        assert!(
            err.to_string().contains("its path has 257 characters"),
            "{err}"
        );
    }

    #[test]
    fn template_errors_surface_from_the_transformer() {
        assert_eq!(
            transformer(&[("a", "$.id")], "\"<b>\""),
            Err(InputError::UndefinedPlaceholder { name: "b".into() })
        );
        assert_eq!(
            transformer(&[], ""),
            Err(InputError::TemplateLength { len: 0 })
        );
    }
}
