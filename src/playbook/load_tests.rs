//! Loading: every malformed-playbook error names its line and the fix; `--set` values and
//! step fields are checked against their types and ranges.

use super::exec::*;
use super::load::Diagnostic;
use super::load::load;

// ---- malformed playbooks ------------------------------------------------------------

pub(super) const HEAD: &str = r#"name = "t"
description = "d"
when = "w"

[[params]]
name = "since"
type = "when"
default = "2h"
help = "start"
"#;

/// Loads HEAD + `rest`; answers the problems (the playbook must not load).
fn problems(rest: &str) -> Vec<Diagnostic> {
    let src = format!("{HEAD}{rest}");
    match load("pb.toml", &src) {
        Ok(_) => panic!("loaded:\n{src}"),
        Err(d) => d,
    }
}

/// The one problem, checked for its line and words in the message and the fix.
fn one(rest: &str, line: usize, message: &str, fix: &str) {
    let d = problems(rest);
    assert_eq!(d.len(), 1, "{d:#?}");
    let d = &d[0];
    assert_eq!(d.file, "pb.toml");
    assert_eq!(d.line, line, "{d}");
    assert!(d.message.contains(message), "message: {d}");
    assert!(d.hint.contains(fix), "fix: {d}");
}

const L: usize = 10; // the first line after HEAD

#[test]
fn toml_syntax_error_names_the_line() {
    one(
        "\n[[steps]]\nkind = \"doctor\nbus = \"b\"\n",
        L + 2,
        "TOML syntax error",
        "syntax",
    );
}

#[test]
fn unknown_step_kind_suggests_the_closest() {
    one(
        "[[steps]]\nkind = \"replya\"\nsince = \"1h\"\n",
        L + 1,
        "unknown step kind \"replya\"",
        "did you mean kind = \"replay\"",
    );
}

#[test]
fn missing_parameter_reference_suggests_the_declared_one() {
    one(
        "[[steps]]\nkind = \"replay\"\nsince = \"${sinec}\"\n",
        L + 2,
        "${sinec} names no parameter",
        "did you mean ${since}",
    );
}

#[test]
fn bad_duration_literal_says_how_to_write_one() {
    one(
        "[[steps]]\nkind = \"drain\"\nqueues = [\"q\"]\nmin_age = \"fifteen\"\n",
        L + 3,
        "cannot read min_age \"fifteen\" as a duration",
        "\"30m\"",
    );
}

#[test]
fn bad_time_literal_names_the_accepted_forms() {
    one(
        "[[steps]]\nkind = \"replay\"\nsince = \"yesterday-ish\"\n",
        L + 2,
        "cannot read since \"yesterday-ish\" as a time",
        "RFC 3339",
    );
}

#[test]
fn bad_parameter_default_is_checked_against_its_type() {
    one(
        "[[params]]\nname = \"age\"\ntype = \"duration\"\ndefault = \"soon\"\nhelp = \"h\"\n[[steps]]\nkind = \"drain\"\nqueues = [\"q\"]\nmin_age = \"${age}\"\n",
        L + 3,
        "cannot read default \"soon\"",
        "30m",
    );
}

#[test]
fn missing_step_output_lists_the_outputs_of_that_kind() {
    one(
        "[[steps]]\nid = \"r\"\nkind = \"replay\"\nsince = \"1h\"\n[[steps]]\nkind = \"verify\"\nreplay_completed = \"${steps.r.nme}\"\n",
        L + 6,
        "a replay step has no output `nme`",
        "replay steps output: name, arn, state",
    );
}

#[test]
fn reference_to_a_later_step_says_to_reorder() {
    one(
        "[[steps]]\nkind = \"verify\"\nreplay_completed = \"${steps.r.name}\"\n[[steps]]\nid = \"r\"\nkind = \"replay\"\nsince = \"1h\"\n",
        L + 2,
        "refers to step 2, which runs later",
        "reorder",
    );
}

#[test]
fn reference_to_a_missing_step_id_lists_the_ids() {
    one(
        "[[steps]]\nid = \"replay\"\nkind = \"replay\"\nsince = \"1h\"\n[[steps]]\nkind = \"verify\"\nreplay_completed = \"${steps.rep.name}\"\n",
        L + 6,
        "no step has id `rep`",
        "earlier step ids: replay",
    );
}

#[test]
fn unknown_field_suggests_the_closest() {
    one(
        "[[steps]]\nkind = \"replay\"\nsince = \"1h\"\nevnet_types = [\"a\"]\n",
        L + 3,
        "unknown field `evnet_types`",
        "did you mean `event_types`",
    );
}

#[test]
fn missing_required_field_shows_an_example() {
    one(
        "[[steps]]\nkind = \"replay\"\nbus = \"b\"\n",
        L,
        "step 1 (replay) needs `since`",
        "add since = \"2h\"",
    );
}

#[test]
fn wrong_value_type_shows_the_right_one() {
    one(
        "[[steps]]\nkind = \"replay\"\nsince = \"1h\"\nall_rules = \"yes\"\n",
        L + 3,
        "`all_rules` must be a bool",
        "all_rules = true",
    );
}

#[test]
fn parameter_of_the_wrong_type_for_the_field() {
    one(
        "[[steps]]\nkind = \"drain\"\nqueues = [\"q\"]\nmin_age = \"${since}\"\n",
        L + 3,
        "parameter `since` is a when",
        "type = \"duration\"",
    );
}

#[test]
fn duplicate_step_ids_and_missing_kind() {
    let d = problems(
        "[[steps]]\nid = \"a\"\nkind = \"doctor\"\nbus = \"b\"\n[[steps]]\nid = \"a\"\nkind = \"doctor\"\nbus = \"b\"\n[[steps]]\nbus = \"b\"\n",
    );
    assert_eq!(d.len(), 2, "{d:#?}");
    assert_eq!(d[0].line, L + 4);
    assert!(d[0].message.contains("id `a` is used by an earlier step"));
    assert_eq!(d[1].line, L + 8);
    assert!(d[1].message.contains("step 3 has no `kind`"));
    assert!(d[1].hint.contains("doctor, replay, drain"));
}

#[test]
fn structural_mistakes_each_get_a_fix() {
    one("", 1, "the playbook has no steps", "[[steps]]");
    // After a [[params]] table, a stray key belongs to that parameter.
    one(
        "colour = \"red\"\n[[steps]]\nkind = \"doctor\"\nbus = \"b\"\n",
        L,
        "unknown parameter key `colour`",
        "allowed here: name, type, default, help",
    );
    let d = load(
        "pb.toml",
        "colour = \"red\"\nname = \"t\"\ndescription = \"d\"\nwhen = \"w\"\n[[steps]]\nkind = \"doctor\"\nbus = \"b\"\n",
    )
    .unwrap_err();
    assert_eq!((d.len(), d[0].line), (1, 1), "{d:#?}");
    assert!(d[0].message.contains("unknown top-level key `colour`"));
    assert!(d[0].hint.contains("allowed here: name, description"));
    one(
        "[[steps]]\nkind = \"verify\"\nwithin = \"1m\"\n",
        L,
        "checks nothing",
        "queues_empty",
    );
    one(
        "[[steps]]\nkind = \"drain\"\nmin_age = \"1m\"\n",
        L,
        "names no queue",
        "queues = [",
    );
    one(
        "[[steps]]\nkind = \"doctor\"\nbus = \"b\"\nallow = [\"pass\", \"ok\"]\n",
        L + 3,
        "\"ok\", which is not an outcome",
        "pass, warn, fail",
    );
    one(
        "[[params]]\nname = \"x\"\ntype = \"text\"\nhelp = \"h\"\n[[steps]]\nkind = \"doctor\"\nbus = \"${x}\"\n",
        L + 2,
        "unknown type",
        "\"duration\"",
    );
    one(
        "[[steps]]\nkind = \"confirm\"\nmessage = \"go ${since\"\n",
        L + 2,
        "unclosed `${`",
        "",
    );
}

#[test]
fn every_problem_of_a_file_is_reported_in_line_order() {
    let d = problems(
        "[[steps]]\nkind = \"replya\"\n[[steps]]\nkind = \"drain\"\nqueues = [\"q\"]\nmin_age = \"x\"\n[[steps]]\nkind = \"verify\"\nreplay_completed = \"${steps.nope.name}\"\n",
    );
    let lines: Vec<usize> = d.iter().map(|x| x.line).collect();
    assert_eq!(lines, vec![L + 1, L + 5, L + 8], "{d:#?}");
    let text = super::catalog::describe("pb.toml", &d);
    assert!(text.starts_with("pb.toml: 3 problems (nothing was run):"));
    assert!(text.contains(&format!("pb.toml:{}: ", L + 5)));
}

// ---- parameters ---------------------------------------------------------------------

#[test]
fn set_values_are_checked_and_required_parameters_named() {
    let src = format!(
        "{HEAD}[[params]]\nname = \"dlq\"\ntype = \"string\"\nhelp = \"the DLQ\"\n[[params]]\nname = \"n\"\ntype = \"int\"\ndefault = 5\nhelp = \"count\"\n[[steps]]\nkind = \"drain\"\nqueues = [\"${{dlq}}\"]\nmax_messages = \"${{n}}\"\n"
    );
    let pb = load("pb.toml", &src).unwrap();
    let set = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
    let e = resolve_params(&pb, &[], None).unwrap_err().to_string();
    assert!(
        e.contains("needs parameter `dlq` (the DLQ): pass --set dlq=VALUE"),
        "{e}"
    );
    let e = resolve_params(&pb, &set("dql", "x"), None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no parameter `dql`; its parameters: since, dlq, n"),
        "{e}"
    );
    let mut s = set("dlq", "q");
    s.extend(set("n", "many"));
    let e = resolve_params(&pb, &s, None).unwrap_err().to_string();
    assert!(e.contains("`n` is a int (write a whole number)"), "{e}");
    let mut s = set("dlq", "q");
    s.extend(set("since", "last tuesday"));
    assert!(resolve_params(&pb, &s, None).is_err());
    let p = resolve_params(&pb, &set("dlq", "q"), None).unwrap();
    assert_eq!(p["n"], super::load::Value::Int(5));
    assert_eq!(p["since"], super::load::Value::Str("2h".into()));
}

#[test]
fn step_fields_have_the_ranges_of_their_flags() {
    for (field, value, range) in [
        ("concurrency", "-1", "between 1 and 256"),
        ("concurrency", "30000", "between 1 and 256"),
        ("max_messages", "-5", "at least 1"),
        ("rate", "-3", "between 0.01 and 10000"),
        ("rate", "0", "between 0.01 and 10000"),
        ("visibility_timeout", "\"1s\"", "between 10s and 12h"),
        ("claim_timeout", "\"300000years\"", "between 10s and 7days"),
        ("receive_wait", "\"1m\"", "between 0s and 20s"),
        ("size_limit", "10", "between 1024 and 1048576"),
        ("max_redrives", "0", "between 1 and 100"),
        ("max_duration", "\"0s\"", "between 1s and 30days"),
    ] {
        one(
            &format!("[[steps]]\nkind = \"drain\"\nqueues = [\"q\"]\n{field} = {value}\n"),
            L + 3,
            &format!("`{field}` must be {range}"),
            "write a value",
        );
    }
    one(
        "[[steps]]\nkind = \"replay\"\nsince = \"2h\"\npoll = \"0s\"\n",
        L + 3,
        "`poll` must be between 1s and 5m, not 0s",
        "write a value between 1s and 5m",
    );
    one(
        "[[steps]]\nkind = \"reemit\"\nfrom = \"x.jsonl\"\nrate = 0\n",
        L + 3,
        "`rate` must be between 0.01 and 10000 events per second, not 0",
        "write a value",
    );
}
