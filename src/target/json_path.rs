//! The JSONPath subset EventBridge evaluates in a target's `InputPath` and in the values of
//! an `InputPathsMap`, parsed once and evaluated against each event.
//!
//! The user guide ("Amazon EventBridge input transformation") lists what it supports: dot
//! notation (`$.detail`) with names of letters, digits, dashes, underscores and forward
//! slashes, array indices and wildcards (`*`). The Target API reference also allows bracket
//! notation for `InputPath`, so `['name']` / `["name"]` are accepted too (for names a dot
//! cannot reach, such as ones with spaces or dots). Everything else JSONPath can say
//! (recursive descent `..`, filters, slices, unions, negative indices, functions) is refused
//! with a message naming the construct, because guessing its meaning could hand a consumer
//! the wrong data.
//!
//! Evaluation follows Jayway JsonPath, the usual Java implementation: a path without
//! wildcards selects one value or nothing; a path with a wildcard selects the list of every
//! match (possibly empty), in document order.

use serde_json::Value;

/// A parsed path such as `$.detail.items[0].id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    text: String,
    steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Member(String),
    Index(usize),
    Wildcard,
}

/// Why a path was refused: the path, the character position and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "JSON path `{path}` is not supported (at character {at}): {reason}; EventBridge paths use `$`, `.name`, `['name']`, `[N]` and `*`"
)]
pub struct JsonPathError {
    pub path: String,
    pub at: usize,
    pub reason: String,
}

impl JsonPath {
    /// Parses a path, refusing every construct outside the documented subset.
    pub fn parse(text: &str) -> Result<JsonPath, JsonPathError> {
        Parser {
            text,
            chars: text.chars().collect(),
            pos: 0,
        }
        .parse()
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// What the path selects in `root`: `None` when a path without wildcards finds nothing,
    /// and for a path with a wildcard the array of all matches (empty when none).
    pub fn select(&self, root: &Value) -> Option<Value> {
        if self.steps.contains(&Step::Wildcard) {
            let mut matches = vec![root];
            for step in &self.steps {
                matches = matches.into_iter().flat_map(|v| step.apply(v)).collect();
            }
            return Some(Value::Array(matches.into_iter().cloned().collect()));
        }
        let mut current = root;
        for step in &self.steps {
            current = step.apply(current).into_iter().next()?;
        }
        Some(current.clone())
    }
}

impl Step {
    /// The values this step reaches from `value`, in document order.
    fn apply<'v>(&self, value: &'v Value) -> Vec<&'v Value> {
        match (self, value) {
            (Step::Member(name), Value::Object(map)) => map.get(name).into_iter().collect(),
            (Step::Index(i), Value::Array(items)) => items.get(*i).into_iter().collect(),
            (Step::Wildcard, Value::Object(map)) => map.values().collect(),
            (Step::Wildcard, Value::Array(items)) => items.iter().collect(),
            _ => Vec::new(),
        }
    }
}

/// The characters the user guide allows in a dot-notation name.
fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '-' | '_' | '/')
}

struct Parser<'t> {
    text: &'t str,
    chars: Vec<char>,
    pos: usize,
}

impl Parser<'_> {
    fn parse(mut self) -> Result<JsonPath, JsonPathError> {
        if self.peek() != Some('$') {
            return Err(self.error("a path starts with `$`"));
        }
        self.pos += 1;
        let mut steps = Vec::new();
        while let Some(c) = self.peek() {
            let step = match c {
                '.' => self.dot_step()?,
                '[' => self.bracket_step()?,
                other => {
                    return Err(self.error(&format!(
                        "unexpected `{other}`: each step starts with `.` or `[`"
                    )));
                }
            };
            steps.push(step);
        }
        Ok(JsonPath {
            text: self.text.to_string(),
            steps,
        })
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn error(&self, reason: &str) -> JsonPathError {
        JsonPathError {
            path: self.text.to_string(),
            at: self.pos,
            reason: reason.to_string(),
        }
    }

    /// `.name` or `.*`.
    fn dot_step(&mut self) -> Result<Step, JsonPathError> {
        self.pos += 1;
        match self.peek() {
            None => return Err(self.error("a path cannot end with `.`")),
            Some('.') => return Err(self.error("recursive descent (`..`) is not supported")),
            Some('*') => {
                self.pos += 1;
                return Ok(Step::Wildcard);
            }
            Some(_) => {}
        }
        let start = self.pos;
        while self.peek().is_some_and(is_name_char) {
            self.pos += 1;
        }
        if self.pos == start {
            let c = self.peek().unwrap_or_default();
            return Err(self.error(&format!(
                "`{c}` cannot start a dot-notation name (letters, digits, `-`, `_` and `/` can); quote the name instead: ['...']"
            )));
        }
        if let Some(c) = self.peek().filter(|c| !matches!(c, '.' | '[')) {
            return Err(self.error(&format!(
                "`{c}` cannot appear in a dot-notation name (letters, digits, `-`, `_` and `/` can); quote the name instead: ['...']"
            )));
        }
        Ok(Step::Member(self.chars[start..self.pos].iter().collect()))
    }

    /// `[N]`, `[*]`, `['name']` or `["name"]`.
    fn bracket_step(&mut self) -> Result<Step, JsonPathError> {
        self.pos += 1;
        let step = match self.peek() {
            Some('*') => {
                self.pos += 1;
                Step::Wildcard
            }
            Some(q @ ('\'' | '"')) => Step::Member(self.quoted_name(q)?),
            Some(c) if c.is_ascii_digit() => Step::Index(self.index()?),
            Some('-') => return Err(self.error("negative array indices are not supported")),
            Some('?') => return Err(self.error("filter expressions are not supported")),
            Some(':') => return Err(self.error("array slices are not supported")),
            Some('(') => return Err(self.error("script expressions are not supported")),
            _ => {
                return Err(self.error("expected an index, `*` or a quoted name after `["));
            }
        };
        match self.peek() {
            Some(']') => {
                self.pos += 1;
                Ok(step)
            }
            Some(',') => Err(self.error("unions (`[a,b]`) are not supported")),
            Some(':') => Err(self.error("array slices are not supported")),
            _ => Err(self.error("expected `]`")),
        }
    }

    fn index(&mut self) -> Result<usize, JsonPathError> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits: String = self.chars[start..self.pos].iter().collect();
        digits
            .parse()
            .map_err(|_| self.error("the array index is too large"))
    }

    /// A name in quotes, where `\` escapes the next character.
    fn quoted_name(&mut self, quote: char) -> Result<String, JsonPathError> {
        self.pos += 1;
        let mut name = String::new();
        loop {
            match self.peek() {
                None => return Err(self.error("the quoted name is not closed")),
                Some('\\') => {
                    self.pos += 1;
                    let escaped = self
                        .peek()
                        .ok_or_else(|| self.error("the quoted name is not closed"))?;
                    name.push(escaped);
                }
                Some(c) if c == quote => {
                    self.pos += 1;
                    return Ok(name);
                }
                Some(c) => name.push(c),
            }
            self.pos += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn select(path: &str, value: &Value) -> Option<Value> {
        JsonPath::parse(path).unwrap().select(value)
    }

    fn event() -> Value {
        json!({
            "id": "e-1",
            "detail-type": "Invoice Paid",
            "resources": ["arn:one", "arn:two"],
            "detail": {
                "instance-id": "i-1",
                "snake_case": 1,
                "a/b": "slash",
                "with space": "spaced",
                "dot.ted": "dotted",
                "items": [{"id": "x", "n": 1}, {"n": 2}, {"id": "z"}],
                "empty": [],
                "nothing": null,
                "flag": false
            }
        })
    }

    #[test]
    fn dollar_selects_the_whole_event() {
        assert_eq!(select("$", &event()), Some(event()));
    }

    #[test]
    fn dot_names_take_dashes_underscores_digits_and_slashes() {
        let e = event();
        assert_eq!(select("$.detail-type", &e), Some(json!("Invoice Paid")));
        assert_eq!(select("$.detail.instance-id", &e), Some(json!("i-1")));
        assert_eq!(select("$.detail.snake_case", &e), Some(json!(1)));
        assert_eq!(select("$.detail.a/b", &e), Some(json!("slash")));
    }

    #[test]
    fn bracket_names_reach_what_dots_cannot() {
        let e = event();
        assert_eq!(
            select("$['detail']['with space']", &e),
            Some(json!("spaced"))
        );
        assert_eq!(select("$.detail[\"dot.ted\"]", &e), Some(json!("dotted")));
        let quoted = json!({"it's": 1, "a\"b": 2});
        assert_eq!(select(r"$['it\'s']", &quoted), Some(json!(1)));
        assert_eq!(select(r#"$["a\"b"]"#, &quoted), Some(json!(2)));
    }

    #[test]
    fn array_indices_select_elements() {
        let e = event();
        assert_eq!(select("$.resources[0]", &e), Some(json!("arn:one")));
        assert_eq!(select("$.resources[1]", &e), Some(json!("arn:two")));
        assert_eq!(select("$.detail.items[0].id", &e), Some(json!("x")));
    }

    #[test]
    fn missing_members_and_indices_select_nothing() {
        let e = event();
        assert_eq!(select("$.detail.absent", &e), None);
        assert_eq!(select("$.resources[2]", &e), None);
        assert_eq!(select("$.detail.items[1].id", &e), None);
        // A step of the wrong kind for the value it meets finds nothing either.
        assert_eq!(select("$.detail[0]", &e), None);
        assert_eq!(select("$.resources.first", &e), None);
        assert_eq!(select("$.id.deeper", &e), None);
    }

    #[test]
    fn present_null_and_false_are_values_not_missing() {
        let e = event();
        assert_eq!(select("$.detail.nothing", &e), Some(Value::Null));
        assert_eq!(select("$.detail.flag", &e), Some(json!(false)));
    }

    #[test]
    fn wildcards_select_every_match_in_document_order() {
        let e = event();
        assert_eq!(
            select("$.resources[*]", &e),
            Some(json!(["arn:one", "arn:two"]))
        );
        // Elements lacking the member are skipped, as Jayway does for indefinite paths.
        assert_eq!(select("$.detail.items[*].id", &e), Some(json!(["x", "z"])));
        assert_eq!(select("$.detail.items.*.n", &e), Some(json!([1, 2])));
        assert_eq!(
            select(
                "$.detail.items[0].*",
                &json!({"detail": {"items": [{"a": 1, "b": [2]}]}})
            ),
            Some(json!([1, [2]]))
        );
        assert_eq!(select("$.detail.empty[*]", &e), Some(json!([])));
        assert_eq!(select("$.detail.absent[*]", &e), Some(json!([])));
    }

    #[test]
    fn unsupported_syntax_is_refused_with_the_construct_named() {
        let cases = [
            ("detail", "starts with `$`"),
            ("", "starts with `$`"),
            ("$.", "cannot end with `.`"),
            ("$..id", "recursive descent"),
            ("$.detail[?(@.id)]", "filter expressions"),
            ("$.resources[0:1]", "slices"),
            ("$.resources[:1]", "slices"),
            ("$.resources[0,1]", "unions"),
            ("$.resources[-1]", "negative array indices"),
            ("$.resources.length()", "`(` cannot appear"),
            ("$.detail.with space", "` ` cannot appear"),
            ("$.detail.@x", "`@` cannot start"),
            ("$detail", "unexpected `d`"),
            ("$.resources[0", "expected `]`"),
            ("$['open", "not closed"),
            ("$[x]", "expected an index"),
            ("$.resources[99999999999999999999999]", "too large"),
        ];
        for (path, reason) in cases {
            let err = JsonPath::parse(path).expect_err(path);
            assert!(
                err.to_string().contains(reason),
                "{path}: {err} lacks {reason}"
            );
            assert_eq!(err.path, path);
        }
    }

    #[test]
    fn the_error_says_where_and_what_is_supported() {
        let err = JsonPath::parse("$.a..b").unwrap_err();
        assert_eq!(err.at, 4);
        assert_eq!(
            err.to_string(),
            "JSON path `$.a..b` is not supported (at character 4): recursive descent (`..`) is not supported; EventBridge paths use `$`, `.name`, `['name']`, `[N]` and `*`"
        );
    }

    #[test]
    fn the_path_keeps_its_text() {
        assert_eq!(
            JsonPath::parse("$.detail['x']").unwrap().as_str(),
            "$.detail['x']"
        );
    }
}
