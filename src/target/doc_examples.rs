//! Every example of the AWS user guide page "Amazon EventBridge input transformation"
//! (eb-transform-target-input), and the InputTransformer examples of the API reference, as
//! tests. The events, templates and expected outputs are the documentation's data; each
//! test names the section it comes from.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{InputError, RenderedInput, RuleContext, TargetInput};

/// Section "Input transform examples": the example Amazon EC2 event.
fn ec2_event() -> Value {
    json!({
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2",
        "account": "123456789012",
        "time": "2015-11-11T21:29:54Z",
        "region": "us-east-1",
        "resources": [
            "arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"
        ],
        "detail": {
            "instance-id": "i-0123456789",
            "state": "RUNNING"
        }
    })
}

fn paths(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Section "Input transform examples": the Input Path entered in the first text box.
fn ec2_paths() -> BTreeMap<String, String> {
    paths(&[
        ("timestamp", "$.time"),
        ("instance", "$.detail.instance-id"),
        ("state", "$.detail.state"),
        ("resource", "$.resources[0]"),
    ])
}

/// The rule the page's "reserved variables" rows show.
fn example_rule() -> RuleContext {
    RuleContext::new(
        "arn:aws:events:us-east-2:123456789012:rule/example",
        "example",
    )
}

fn render_with(paths: &BTreeMap<String, String>, template: &str, event: &Value) -> RenderedInput {
    TargetInput::transformer(paths, template)
        .unwrap()
        .render(event, &example_rule())
        .unwrap()
}

fn render(template: &str) -> RenderedInput {
    render_with(&ec2_paths(), template, &ec2_event())
}

fn parsed(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn input_path_defines_the_variables() {
    // Section "Input transform examples": the Input Path references values of the event.
    let got = render(r#"[<timestamp>, <instance>, <state>, <resource>]"#);
    assert_eq!(
        got.text,
        r#"["2015-11-11T21:29:54Z","i-0123456789","RUNNING","arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"]"#
    );
}

#[test]
fn simple_string() {
    // Section "Input transform examples", row "Simple string".
    let got = render(r#""instance <instance> is in <state>""#);
    assert_eq!(got.text, r#""instance i-0123456789 is in RUNNING""#);
    assert!(got.is_json);
}

#[test]
fn string_with_escaped_quotes() {
    // Section "Input transform examples", row "String with escaped quotes" (the template
    // as the console stores it).
    let got = render(r#""instance \"<instance>\" is in <state>""#);
    assert_eq!(got.text, r#""instance \"i-0123456789\" is in RUNNING""#);
    assert!(got.is_json);
}

#[test]
fn string_with_quotes_unescaped_by_the_cli() {
    // Same row, its note: "The AWS CLI escapes the slash characters and the result is
    // "instance "i-0123456789" is in RUNNING"", that is, the stored template has bare
    // quotes and is no longer JSON, so the values go in as plain text.
    let got = render(r#""instance "<instance>" is in <state>""#);
    assert_eq!(got.text, r#""instance "i-0123456789" is in RUNNING""#);
    assert!(!got.is_json);
}

#[test]
fn simple_json() {
    // Section "Input transform examples", row "Simple JSON".
    let got = render("{\n  \"instance\" : <instance>,\n  \"state\": <state>\n}");
    assert_eq!(
        parsed(&got.text),
        parsed("{\n  \"instance\" : \"i-0123456789\",\n  \"state\": \"RUNNING\"\n}")
    );
    assert_eq!(got.text, r#"{"instance":"i-0123456789","state":"RUNNING"}"#);
}

#[test]
fn json_with_strings_and_variables() {
    // Section "Input transform examples", row "JSON with strings and variables".
    let got = render(
        "{\n \"instance\" : <instance>,\n \"state\": \"<state>\",\n \"instanceStatus\": \"instance \\\"<instance>\\\" is in <state>\"\n}",
    );
    let expected = "{\n \"instance\" : \"i-0123456789\",\n \"state\": \"RUNNING\",\n \"instanceStatus\": \"instance \\\"i-0123456789\\\" is in RUNNING\"\n}";
    assert_eq!(parsed(&got.text), parsed(expected));
    assert_eq!(
        got.text,
        r#"{"instance":"i-0123456789","state":"RUNNING","instanceStatus":"instance \"i-0123456789\" is in RUNNING"}"#
    );
}

#[test]
fn json_with_a_mix_of_variables_and_static_information() {
    // Section "Input transform examples", row "JSON with a mix of variables and static
    // information".
    let got = render(
        "{\n  \"instance\" : <instance>,\n  \"state\": [ 9, <state>, true ],\n  \"Transformed\" : \"Yes\"\n}\n",
    );
    let expected = "{\n  \"instance\" : \"i-0123456789\",\n  \"state\": [\n    9,\n    \"RUNNING\",\n    true\n  ],\n  \"Transformed\" : \"Yes\"\n}";
    assert_eq!(parsed(&got.text), parsed(expected));
    assert_eq!(
        got.text,
        r#"{"instance":"i-0123456789","state":[9,"RUNNING",true],"Transformed":"Yes"}"#
    );
}

#[test]
fn including_reserved_variables_in_json() {
    // Section "Input transform examples", row "Including reserved variables in JSON"; the
    // page elides "originalEvent" ("commented for brevity"): per section "Predefined
    // variables" it is the original event without its detail field.
    let got = render(
        "{\n  \"instance\" : <instance>,\n  \"state\": <state>,\n  \"ruleArn\" : <aws.events.rule-arn>,\n  \"ruleName\" : <aws.events.rule-name>,\n  \"originalEvent\" : <aws.events.event>\n}",
    );
    let out = parsed(&got.text);
    assert_eq!(out["instance"], json!("i-0123456789"));
    assert_eq!(out["state"], json!("RUNNING"));
    assert_eq!(
        out["ruleArn"],
        json!("arn:aws:events:us-east-2:123456789012:rule/example")
    );
    assert_eq!(out["ruleName"], json!("example"));
    assert_eq!(
        out["originalEvent"],
        json!({
            "id": "7bf73129-1428-4cd3-a780-95db273d1602",
            "account": "123456789012",
            "detailType": "EC2 Instance State-change Notification",
            "time": "2015-11-11T21:29:54Z",
            "source": "aws.ec2",
            "region": "us-east-1",
            "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
            "version": "0"
        })
    );
}

#[test]
fn including_the_whole_event_in_json() {
    // Section "Common issues with transforming input": variables holding strings get their
    // quotes, the event variable goes in as an object.
    let got = render(
        "{\n  \"ruleArn\" : <aws.events.rule-arn>,\n  \"ruleName\" : <aws.events.rule-name>,\n  \"originalEvent\" : <aws.events.event.json>\n}",
    );
    assert_eq!(
        parsed(&got.text),
        json!({
            "ruleArn": "arn:aws:events:us-east-2:123456789012:rule/example",
            "ruleName": "example",
            "originalEvent": ec2_event()
        })
    );
}

#[test]
fn including_reserved_variables_in_a_string() {
    // Section "Input transform examples", row "Including reserved variables in a string".
    let got = render(r#""<aws.events.rule-name> triggered""#);
    assert_eq!(got.text, r#""example triggered""#);
}

#[test]
fn amazon_cloudwatch_log_group() {
    // Section "Input transform examples", row "Amazon CloudWatch log group". The page's
    // output column is not JSON (an unquoted timestamp, quotes left unescaped: reported as
    // awsdocs/amazon-eventbridge-user-guide issue #25); it shows the values as the log
    // record reads. The JSON EventBridge builds carries exactly those values.
    let got = render(
        "{\n  \"timestamp\" : <timestamp>,\n  \"message\": \"instance \\\"<instance>\\\" is in <state>\"\n}",
    );
    assert_eq!(
        got.text,
        r#"{"timestamp":"2015-11-11T21:29:54Z","message":"instance \"i-0123456789\" is in RUNNING"}"#
    );
    let out = parsed(&got.text);
    assert_eq!(out["timestamp"], json!("2015-11-11T21:29:54Z"));
    assert_eq!(
        out["message"],
        json!("instance \"i-0123456789\" is in RUNNING")
    );
}

#[test]
fn an_object_referenced_in_a_string_loses_its_internal_quotes() {
    // Section "Common issues with transforming input": "If a JSON path references a JSON
    // object or array, but the variable is referenced in a string, EventBridge removes any
    // internal quotes"; to get the object, place the variable as a value: {"detail": <detail>}.
    let mut paths = ec2_paths();
    paths.insert("detail".into(), "$.detail".into());
    let in_string = render_with(&paths, r#""Detail is <detail>""#, &ec2_event());
    assert_eq!(
        in_string.text,
        r#""Detail is {instance-id:i-0123456789,state:RUNNING}""#
    );
    let as_value = render_with(&paths, r#"{"detail": <detail>}"#, &ec2_event());
    assert_eq!(
        parsed(&as_value.text),
        json!({"detail": ec2_event()["detail"]})
    );
}

#[test]
fn a_path_missing_from_the_event_creates_no_variable() {
    // Section "Common issues with transforming input": "If you specify a variable to match a
    // JSON path that doesn't exist in the event, that variable isn't created and won't
    // appear in the output." Outside quotes the gap is filled with "" so the JSON stays
    // valid, as AWS delivered in LocalStack's validated snapshot.
    let mut paths = ec2_paths();
    paths.insert("zone".into(), "$.detail.availability-zone".into());
    let got = render_with(
        &paths,
        r#"{"zone": <zone>, "text": "instance <instance> in <zone>"}"#,
        &ec2_event(),
    );
    assert_eq!(
        got.text,
        r#"{"zone":"","text":"instance i-0123456789 in "}"#
    );
}

#[test]
fn the_event_variables_are_json_field_values_only() {
    // Section "Predefined variables": aws.events.event and aws.events.event.json "can only
    // be used as a value for a JSON field, as its contents are not escaped".
    for name in ["aws.events.event", "aws.events.event.json"] {
        let err =
            TargetInput::transformer(&ec2_paths(), &format!(r#""event: <{name}>""#)).unwrap_err();
        assert_eq!(err, InputError::EventVariableInString { name: name.into() });
    }
}

#[test]
fn predefined_names_are_reserved() {
    // Section "Predefined variables": "These variables are reserved, and you can't create
    // variables with these names".
    let mut paths = ec2_paths();
    paths.insert("aws.events.rule-name".into(), "$.detail.state".into());
    let err = TargetInput::transformer(&paths, r#""<aws.events.rule-name>""#).unwrap_err();
    assert!(
        matches!(&err, InputError::VariableName { name, .. } if name == "aws.events.rule-name"),
        "{err}"
    );
}

#[test]
fn ingestion_time_is_an_iso_8601_timestamp() {
    // Section "Predefined variables": aws.events.event.ingestion-time is "The time at which
    // the event was received by EventBridge. This is an ISO 8601 timestamp." A DLQ message
    // does not carry it, so the event's time stands in (see predefined.rs).
    let got = render(r#"{"received": <aws.events.event.ingestion-time>}"#);
    assert_eq!(got.text, r#"{"received":"2015-11-11T21:29:54Z"}"#);
}

/// API reference, InputTransformer: the examples use these paths.
fn api_reference_paths() -> BTreeMap<String, String> {
    paths(&[
        ("instance", "$.detail.instance"),
        ("status", "$.detail.status"),
    ])
}

fn api_reference_event() -> Value {
    let mut event = ec2_event();
    event["detail"] = json!({"instance": "i-0123456789", "status": "RUNNING"});
    event
}

#[test]
fn api_reference_plain_text_template() {
    // API reference, InputTransformer: "InputTemplate": "<instance> is in state <status>".
    let got = render_with(
        &api_reference_paths(),
        "<instance> is in state <status>",
        &api_reference_event(),
    );
    assert_eq!(got.text, "i-0123456789 is in state RUNNING");
    assert!(!got.is_json);
}

#[test]
fn api_reference_template_with_quote_marks() {
    // API reference, InputTransformer: "To have the InputTemplate include quote marks within
    // a JSON string, escape each quote marks with a slash": the request's
    // "<instance> is in state \"<status>\"" is the template <instance> is in state "<status>".
    let got = render_with(
        &api_reference_paths(),
        r#"<instance> is in state "<status>""#,
        &api_reference_event(),
    );
    assert_eq!(got.text, r#"i-0123456789 is in state "RUNNING""#);
}

#[test]
fn api_reference_json_template_with_variables_in_quotes_or_out() {
    // API reference, InputTransformer: "The InputTemplate can also be valid JSON with
    // varibles in quotes or out".
    let got = render_with(
        &api_reference_paths(),
        r#"{"myInstance": <instance>,"myStatus": "<instance> is in state \"<status>\""}"#,
        &api_reference_event(),
    );
    assert_eq!(
        got.text,
        r#"{"myInstance":"i-0123456789","myStatus":"i-0123456789 is in state \"RUNNING\""}"#
    );
    assert!(got.is_json);
}

#[test]
fn api_reference_placeholder_cannot_be_an_object_key() {
    // API reference, InputTransformer: "If InputTemplate is a JSON object (surrounded by
    // curly braces) ... The placeholder cannot be used as an object key."
    let err =
        TargetInput::transformer(&api_reference_paths(), r#"{<instance>: <status>}"#).unwrap_err();
    assert_eq!(
        err,
        InputError::PlaceholderAsKey {
            name: "instance".into()
        }
    );
}
