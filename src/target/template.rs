//! An `InputTemplate`: text with `<name>` placeholders, checked once and filled in per event.
//!
//! A template is either JSON (an object, an array, a quoted string...) once its
//! placeholders are filled, or free text such as `<instance> is in state <status>` or one
//! quoted line per line of text. Which one is decided from the template alone: it is JSON
//! when it parses with every placeholder outside quotes read as `null` and every one inside
//! quotes as nothing.
//!
//! In a JSON template, where a placeholder stands decides how its value is written, as the
//! user guide ("Amazon EventBridge input transformation") describes:
//! - outside a quoted string, a value goes in as JSON: a string gets its quotes (with `"`,
//!   `\` and control characters escaped), numbers, booleans, null, objects and arrays go in
//!   as JSON text;
//! - inside a quoted string, a value goes in as string text: a string without its quotes but
//!   still escaped, so the surrounding string stays valid JSON; an object or array as its
//!   JSON with the quotes around its names and strings removed ("EventBridge removes any
//!   internal quotes to ensure a valid string"); a number, boolean or null as its JSON text.
//!
//! In a free-text template every value goes in as plain text (a string unquoted and
//! unescaped, anything else as its JSON), which is what the page's note on the AWS CLI
//! shows: `"instance "<instance>" is in <state>"` gives `"instance "i-0123456789" is in
//! RUNNING"`.
//!
//! A variable whose path finds nothing in the event is not created: it leaves nothing,
//! except outside quotes in a JSON template, where it leaves `""`. Both were observed on AWS
//! (LocalStack's AWS-validated snapshots of `test_put_events_with_input_transformer_*`).
//!
//! The result is delivered as it reads; when it is JSON it is minified ("the JSON that is
//! passed to the target is minified") by dropping whitespace outside strings only, so
//! names, numbers and member order stay exactly as written.

use serde_json::Value;

use super::error::InputError;
use super::input::RenderedInput;
use super::predefined;

/// The most characters an `InputTemplate` may have (API reference, InputTransformer).
pub(crate) const MAX_TEMPLATE_CHARS: usize = 8192;

/// A checked template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputTemplate {
    text: String,
    parts: Vec<Part>,
    /// Whether the template is JSON once filled in (see the module doc).
    json: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Placeholder { name: String, in_string: bool },
}

/// What encloses the scanner's position, to tell object keys from values.
enum Container {
    Object { expect_key: bool },
    Array,
}

/// What a character is to the JSON strings around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Outside,
    Open,
    Inside,
    Close,
}

/// Follows JSON string literals through text, character by character: a `"` opens or
/// closes one unless a `\` inside the string escapes it.
#[derive(Debug, Default)]
struct Strings {
    in_string: bool,
    escaped: bool,
}

impl Strings {
    fn feed(&mut self, c: char) -> Role {
        if !self.in_string {
            self.in_string = c == '"';
            return if self.in_string {
                Role::Open
            } else {
                Role::Outside
            };
        }
        if self.escaped {
            self.escaped = false;
            return Role::Inside;
        }
        match c {
            '\\' => {
                self.escaped = true;
                Role::Inside
            }
            '"' => {
                self.in_string = false;
                Role::Close
            }
            _ => Role::Inside,
        }
    }
}

impl InputTemplate {
    /// Splits `text` into literal text and placeholders, refusing what PutTargets refuses:
    /// an empty or over-long template, a placeholder that is neither `defined` nor
    /// predefined, a placeholder used as an object key, and the two event variables inside
    /// a quoted string.
    ///
    /// A placeholder is `<` name `>` with a name of letters, digits, `-`, `_` and `.`;
    /// any other `<` is literal text (EventBridge has no escape for `<` and `>`).
    pub(crate) fn parse(text: &str, defined: impl Fn(&str) -> bool) -> Result<Self, InputError> {
        let len = text.chars().count();
        if len == 0 || len > MAX_TEMPLATE_CHARS {
            return Err(InputError::TemplateLength { len });
        }
        // The key restriction applies to templates that are JSON objects; elsewhere a
        // brace is just text.
        let object_template = text.trim_start().starts_with('{');
        let chars: Vec<char> = text.chars().collect();
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut stack: Vec<Container> = Vec::new();
        let mut strings = Strings::default();
        let mut in_key = false;
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '<'
                && let Some((name, end)) = placeholder_at(&chars, i)
            {
                let in_string = strings.in_string;
                let at_key = if in_string {
                    in_key
                } else {
                    matches!(stack.last(), Some(Container::Object { expect_key: true }))
                };
                if !defined(&name) && !predefined::is_predefined(&name) {
                    return Err(InputError::UndefinedPlaceholder { name });
                }
                if object_template && at_key {
                    return Err(InputError::PlaceholderAsKey { name });
                }
                if in_string && predefined::is_event_object(&name) {
                    return Err(InputError::EventVariableInString { name });
                }
                if !literal.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut literal)));
                }
                parts.push(Part::Placeholder { name, in_string });
                // `<` and `>` cannot be escaped: a `\` just before a placeholder escapes nothing.
                strings.escaped = false;
                i = end + 1;
                continue;
            }
            literal.push(c);
            i += 1;
            match strings.feed(c) {
                Role::Open => {
                    in_key = matches!(stack.last(), Some(Container::Object { expect_key: true }));
                    continue;
                }
                Role::Inside | Role::Close => continue,
                Role::Outside => {}
            }
            match c {
                '{' => stack.push(Container::Object { expect_key: true }),
                '[' => stack.push(Container::Array),
                '}' | ']' => {
                    stack.pop();
                }
                ':' | ',' => {
                    if let Some(Container::Object { expect_key }) = stack.last_mut() {
                        *expect_key = c == ',';
                    }
                }
                _ => {}
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        let json = is_json_shaped(&parts);
        Ok(InputTemplate {
            text: text.to_string(),
            parts,
            json,
        })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The placeholder names, in order of appearance (repeats included).
    pub fn placeholders(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Placeholder { name, .. } => Some(name.as_str()),
            Part::Text(_) => None,
        })
    }

    /// Fills the placeholders with what `lookup` finds (`None`: the variable was not
    /// created) and minifies the result when it is JSON.
    pub(crate) fn render(&self, lookup: impl Fn(&str) -> Option<Value>) -> RenderedInput {
        let mut out = String::with_capacity(self.text.len());
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Placeholder { name, in_string } => {
                    let value = lookup(name);
                    if self.json {
                        insert_json(&mut out, value.as_ref(), *in_string);
                    } else {
                        insert_text(&mut out, value.as_ref());
                    }
                }
            }
        }
        if serde_json::from_str::<Value>(&out).is_ok() {
            RenderedInput {
                text: minify(&out),
                is_json: true,
            }
        } else {
            RenderedInput {
                text: out,
                is_json: false,
            }
        }
    }
}

/// The placeholder starting at `chars[start]` (a `<`): its name and the index of its `>`.
fn placeholder_at(chars: &[char], start: usize) -> Option<(String, usize)> {
    let close = chars[start + 1..].iter().position(|&c| c == '>')? + start + 1;
    let name: String = chars[start + 1..close].iter().collect();
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    valid.then_some((name, close))
}

/// Whether the template parses as JSON with each placeholder outside quotes read as `null`
/// and each one inside quotes as nothing.
fn is_json_shaped(parts: &[Part]) -> bool {
    let mut neutral = String::new();
    for part in parts {
        match part {
            Part::Text(text) => neutral.push_str(text),
            Part::Placeholder {
                in_string: false, ..
            } => neutral.push_str("null"),
            Part::Placeholder {
                in_string: true, ..
            } => {}
        }
    }
    serde_json::from_str::<Value>(&neutral).is_ok()
}

/// A value in a free-text template: strings as they are, anything else as JSON.
fn insert_text(out: &mut String, value: Option<&Value>) {
    match value {
        None => {}
        Some(Value::String(s)) => out.push_str(s),
        Some(other) => out.push_str(&other.to_string()),
    }
}

/// A value in a JSON template, inside or outside a quoted string.
fn insert_json(out: &mut String, value: Option<&Value>, in_string: bool) {
    match (value, in_string) {
        (None, true) => {}
        (None, false) => out.push_str("\"\""),
        (Some(value), false) => out.push_str(&value.to_string()),
        (Some(Value::String(s)), true) => {
            let quoted = Value::String(s.clone()).to_string();
            out.push_str(&quoted[1..quoted.len() - 1]);
        }
        (Some(value @ (Value::Object(_) | Value::Array(_))), true) => {
            out.push_str(&without_string_quotes(&value.to_string()));
        }
        (Some(scalar), true) => out.push_str(&scalar.to_string()),
    }
}

/// Compact JSON without the quotes that delimit its strings. Escaped quotes inside those
/// strings stay escaped, so the text is still valid inside a JSON string.
fn without_string_quotes(json: &str) -> String {
    let mut strings = Strings::default();
    json.chars()
        .filter(|&c| !matches!(strings.feed(c), Role::Open | Role::Close))
        .collect()
}

/// Valid JSON text without the whitespace between its tokens.
fn minify(json: &str) -> String {
    let mut strings = Strings::default();
    json.chars()
        .filter(|&c| strings.feed(c) != Role::Outside || !matches!(c, ' ' | '\t' | '\n' | '\r'))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    /// Parses `template` with `vars` defined and renders it with their values.
    fn render(template: &str, vars: &[(&str, Option<Value>)]) -> RenderedInput {
        let values: BTreeMap<&str, Option<Value>> = vars.iter().cloned().collect();
        InputTemplate::parse(template, |n| values.contains_key(n))
            .unwrap()
            .render(|n| values.get(n).cloned().flatten())
    }

    fn text(template: &str, vars: &[(&str, Option<Value>)]) -> String {
        render(template, vars).text
    }

    fn parse_err(template: &str, defined: &[&str]) -> InputError {
        InputTemplate::parse(template, |n| defined.contains(&n)).unwrap_err()
    }

    #[test]
    fn outside_quotes_values_go_in_as_json() {
        let got = text(
            r#"{"s": <s>, "n": <n>, "f": <f>, "b": <b>, "z": <z>, "o": <o>, "a": <a>}"#,
            &[
                ("s", Some(json!("say \"hi\"\nbye"))),
                ("n", Some(json!(42))),
                ("f", Some(json!(1.5))),
                ("b", Some(json!(true))),
                ("z", Some(Value::Null)),
                ("o", Some(json!({"k": "v"}))),
                ("a", Some(json!([1, "two"]))),
            ],
        );
        assert_eq!(
            got,
            r#"{"s":"say \"hi\"\nbye","n":42,"f":1.5,"b":true,"z":null,"o":{"k":"v"},"a":[1,"two"]}"#
        );
    }

    #[test]
    fn inside_quotes_strings_go_in_as_escaped_text() {
        let got = render(
            r#"{"msg": "got <s> and <t>"}"#,
            &[
                ("s", Some(json!("say \"hi\""))),
                ("t", Some(json!("line1\nline2\\end\ttab"))),
            ],
        );
        assert_eq!(
            got.text,
            r#"{"msg":"got say \"hi\" and line1\nline2\\end\ttab"}"#
        );
        assert!(got.is_json);
        let parsed: Value = serde_json::from_str(&got.text).unwrap();
        assert_eq!(
            parsed["msg"],
            json!("got say \"hi\" and line1\nline2\\end\ttab")
        );
    }

    #[test]
    fn inside_quotes_objects_and_arrays_lose_their_internal_quotes() {
        let got = render(
            r#"{"note": "Detail is <d>; list <l>"}"#,
            &[
                (
                    "d",
                    Some(json!({"instance-id": "i-1", "n": 2, "q": "a\"b"})),
                ),
                ("l", Some(json!(["x", 1]))),
            ],
        );
        assert_eq!(
            got.text,
            r#"{"note":"Detail is {instance-id:i-1,n:2,q:a\"b}; list [x,1]"}"#
        );
        assert!(got.is_json, "escaped quotes keep the string valid");
    }

    #[test]
    fn inside_quotes_numbers_booleans_and_null_go_in_as_their_json_text() {
        let got = text(
            r#""n=<n> b=<b> z=<z>""#,
            &[
                ("n", Some(json!(-3.25))),
                ("b", Some(json!(false))),
                ("z", Some(Value::Null)),
            ],
        );
        assert_eq!(got, r#""n=-3.25 b=false z=null""#);
    }

    #[test]
    fn a_missing_variable_leaves_nothing_in_a_string_and_an_empty_string_outside() {
        let got = text(
            r#"{"in": "x<m>y", "out": <m>, "list": [<m>]}"#,
            &[("m", None)],
        );
        assert_eq!(got, r#"{"in":"xy","out":"","list":[""]}"#);
    }

    #[test]
    fn escaped_quotes_in_the_template_do_not_end_the_string() {
        // `\"<s>\"` stays inside the string: the value goes in as text, between the
        // template's own escaped quotes.
        let got = text(r#""instance \"<s>\" is up""#, &[("s", Some(json!("i-1")))]);
        assert_eq!(got, r#""instance \"i-1\" is up""#);
        // A doubled backslash does end before the quote, so the quote closes the string.
        let got = text(r#"["a\\", <s>]"#, &[("s", Some(json!("i-1")))]);
        assert_eq!(got, r#"["a\\","i-1"]"#);
    }

    #[test]
    fn a_free_text_template_takes_values_as_plain_text() {
        // Several quoted lines, the user guide's way to send multi-line text.
        let got = render(
            "\"<sev> severity finding\"\n\"Port: <port>\"",
            &[("sev", Some(json!("HIGH"))), ("port", Some(json!(22)))],
        );
        assert_eq!(got.text, "\"HIGH severity finding\"\n\"Port: 22\"");
        assert!(!got.is_json);
        // Unquoted text: no quotes added, no escaping, a missing variable leaves nothing.
        let got = render(
            "<i> is in state <s>, was <m>; <o>",
            &[
                ("i", Some(json!("i-\"1\""))),
                ("s", Some(json!(3))),
                ("m", None),
                ("o", Some(json!({"k": "v"}))),
            ],
        );
        assert_eq!(got.text, r#"i-"1" is in state 3, was ; {"k":"v"}"#);
        assert!(!got.is_json);
    }

    #[test]
    fn json_or_free_text_is_decided_by_the_template_not_the_values() {
        // A lone placeholder is JSON: the value goes in as JSON.
        let got = render("<s>", &[("s", Some(json!("a b")))]);
        assert_eq!(got.text, r#""a b""#);
        assert!(got.is_json);
        // Free text that happens to produce JSON is reported as JSON.
        let got = render("<a><b>", &[("a", Some(json!("1"))), ("b", Some(json!(2)))]);
        assert_eq!(got.text, "12");
        assert!(got.is_json);
    }

    #[test]
    fn json_results_are_minified_outside_strings_only() {
        let got = render(
            "{\n  \"a b\" : [ 1 ,\t<x> ],\r\n  \"c\": \"  spaced  \"\n}",
            &[("x", Some(json!({"k": " v "})))],
        );
        assert_eq!(got.text, r#"{"a b":[1,{"k":" v "}],"c":"  spaced  "}"#);
        assert!(got.is_json);
    }

    #[test]
    fn a_lone_less_than_sign_is_text() {
        let got = text(
            r#"{"cmp": "a < b and c > d", "v": <v>}"#,
            &[("v", Some(json!(1)))],
        );
        assert_eq!(got, r#"{"cmp":"a < b and c > d","v":1}"#);
        assert_eq!(text("\"<>\"", &[]), "\"<>\"");
    }

    #[test]
    fn undefined_placeholders_are_refused() {
        let err = parse_err(
            r#""type <detail-type>, key <notdefinedkey>""#,
            &["detail-type"],
        );
        assert_eq!(
            err,
            InputError::UndefinedPlaceholder {
                name: "notdefinedkey".into()
            }
        );
        assert!(err.to_string().contains("<notdefinedkey>"));
    }

    #[test]
    fn placeholders_cannot_be_object_keys() {
        for template in [
            r#"{<k>: 1}"#,
            r#"{"a": 1, <k>: 2}"#,
            r#"{"<k>": 1}"#,
            r#"{"o": {"x<k>": 1}}"#,
        ] {
            assert_eq!(
                parse_err(template, &["k"]),
                InputError::PlaceholderAsKey { name: "k".into() },
                "{template}"
            );
        }
        // Values, array elements and strings inside values are fine.
        for template in [
            r#"{"a": <k>, "b": [<k>, {"c": "<k>"}]}"#,
            r#"[{"a": 1}, <k>]"#,
        ] {
            assert!(
                InputTemplate::parse(template, |n| n == "k").is_ok(),
                "{template}"
            );
        }
        // A template that is not a JSON object has no keys: braces are text.
        assert!(InputTemplate::parse(r#""{<k>: 1}""#, |n| n == "k").is_ok());
    }

    #[test]
    fn the_event_variables_cannot_stand_inside_a_string() {
        for name in [predefined::EVENT, predefined::EVENT_JSON] {
            assert_eq!(
                parse_err(&format!(r#"{{"e": "<{name}>"}}"#), &[]),
                InputError::EventVariableInString { name: name.into() }
            );
            assert!(InputTemplate::parse(&format!(r#"{{"e": <{name}>}}"#), |_| false).is_ok());
            assert!(InputTemplate::parse(&format!("<{name}>"), |_| false).is_ok());
        }
        // The other predefined variables may.
        assert!(InputTemplate::parse(r#""<aws.events.rule-name> triggered""#, |_| false).is_ok());
    }

    #[test]
    fn the_template_length_is_limited() {
        assert_eq!(parse_err("", &[]), InputError::TemplateLength { len: 0 });
        let long = format!("\"{}\"", "é".repeat(MAX_TEMPLATE_CHARS - 2));
        assert!(
            InputTemplate::parse(&long, |_| false).is_ok(),
            "8192 characters fit"
        );
        let longer = format!("\"{}\"", "é".repeat(MAX_TEMPLATE_CHARS - 1));
        assert_eq!(
            parse_err(&longer, &[]),
            InputError::TemplateLength {
                len: MAX_TEMPLATE_CHARS + 1
            }
        );
    }

    #[test]
    fn placeholders_are_listed_in_order() {
        let t = InputTemplate::parse(r#"{"a": <x>, "b": "<y> <x>"}"#, |_| true).unwrap();
        assert_eq!(t.placeholders().collect::<Vec<_>>(), ["x", "y", "x"]);
        assert_eq!(t.as_str(), r#"{"a": <x>, "b": "<y> <x>"}"#);
    }
}
