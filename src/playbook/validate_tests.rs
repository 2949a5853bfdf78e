//! `playbook validate` finds every value a run would refuse, at the line that wrote it, all
//! at once, and in time linear in the size of the file.

use super::load::{Diagnostic, load};

const HEAD: &str = "name = \"t\"\ndescription = \"d\"\nwhen = \"w\"\n";

fn problems(src: &str) -> Vec<Diagnostic> {
    match load("pb.toml", src) {
        Ok(_) => panic!("loaded:\n{src}"),
        Err(d) => d,
    }
}

#[test]
fn out_of_range_values_are_each_reported_at_their_line() {
    let d = problems(&format!(
        "{HEAD}[[steps]]\nkind = \"drain\"\nqueues = [\"q\"]\nconcurrency = -1\nmax_messages = -5\nrate = -3\nvisibility_timeout = \"1s\"\nmax_redrives = -1\n[[steps]]\nkind = \"reemit\"\nfrom = \"x.jsonl\"\nrate = 0\n"
    ));
    let got: Vec<(usize, &str)> = d.iter().map(|x| (x.line, x.message.as_str())).collect();
    assert_eq!(
        got,
        vec![
            (7, "`concurrency` must be between 1 and 256, not -1"),
            (8, "`max_messages` must be at least 1, not -5"),
            (
                9,
                "`rate` must be between 0.01 and 10000 events per second, not -3"
            ),
            (
                10,
                "`visibility_timeout` must be between 10s and 12h, not 1s"
            ),
            (11, "`max_redrives` must be between 1 and 100, not -1"),
            (
                15,
                "`rate` must be between 0.01 and 10000 events per second, not 0"
            ),
        ],
        "{d:#?}"
    );
    assert!(
        d[0].hint.starts_with("write a value between 1 and 256: "),
        "{}",
        d[0].hint
    );
    // The same values in range load.
    load(
        "pb.toml",
        &format!(
            "{HEAD}[[steps]]\nkind = \"drain\"\nqueues = [\"q\"]\nconcurrency = 1\nmax_messages = 5\nrate = 0.5\nvisibility_timeout = \"10s\"\nmax_redrives = 1\n"
        ),
    )
    .unwrap();
}

#[test]
fn a_parameter_default_out_of_range_is_reported_once_at_the_default() {
    let d = problems(&format!(
        "{HEAD}[[params]]\nname = \"c\"\ntype = \"int\"\ndefault = 0\nhelp = \"pipelines\"\n[[params]]\nname = \"vis\"\ntype = \"duration\"\ndefault = \"1s\"\nhelp = \"visibility\"\n[[steps]]\nkind = \"drain\"\nqueues = [\"q\"]\nconcurrency = \"${{c}}\"\nvisibility_timeout = \"${{vis}}\"\n[[steps]]\nkind = \"drain\"\nqueues = [\"q\"]\nconcurrency = \"${{c}}\"\n"
    ));
    let got: Vec<(usize, &str)> = d.iter().map(|x| (x.line, x.message.as_str())).collect();
    assert_eq!(
        got,
        vec![
            (
                7,
                "the default of `c` is used as `concurrency` by step 1: `concurrency` must be between 1 and 256, not 0"
            ),
            (
                12,
                "the default of `vis` is used as `visibility_timeout` by step 1: `visibility_timeout` must be between 10s and 12h, not 1s"
            ),
        ],
        "{d:#?}"
    );
    assert!(d[0].hint.contains("--set c=VALUE"), "{}", d[0]);
}

/// A playbook of `n` drain steps, each using the parameter and the output of the step
/// before it, as a generated runbook would.
fn many_steps(n: usize) -> String {
    let mut src = format!(
        "{HEAD}[[params]]\nname = \"q\"\ntype = \"string\"\ndefault = \"dlq\"\nhelp = \"the queue\"\n"
    );
    for i in 0..n {
        src.push_str(&format!(
            "[[steps]]\nid = \"s{i}\"\nkind = \"drain\"\nqueues = [\"${{q}}\"]\nconcurrency = 4\nrate = 5\nvisibility_timeout = \"30s\"\n"
        ));
        if i > 0 {
            src.push_str(&format!(
                "park_queue = \"parked-${{steps.s{}.run_id}}\"\n",
                i - 1
            ));
        }
    }
    src
}

/// Validation is linear in the number of steps: each value's line and each reference's
/// step are looked up, not searched for from the top. The quadratic version did not finish
/// in 13 minutes on a debug build at this size; this one takes seconds. Speed is measured
/// (see the commit), not asserted.
#[test]
fn twenty_thousand_steps_validate() {
    let src = many_steps(20_000);
    let pb = load("big.toml", &src).unwrap();
    assert_eq!(pb.steps.len(), 20_000);
    assert_eq!(pb.steps[19_999].line, src.lines().count() - 7);
    // A mistake in the last step is still found, at its line.
    let bad = format!("{src}[[steps]]\nkind = \"drain\"\nqueues = [\"q\"]\nrate = -1\n");
    let d = problems(&bad);
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!(d[0].line, bad.lines().count());
}

#[test]
fn a_redrive_field_outside_its_values_is_reported_with_the_values_it_takes() {
    let d = problems(&format!(
        "{HEAD}[[steps]]\nkind = \"drain\"\nqueues = [\"q\"]\nto = \"queue\"\n[[steps]]\nkind = \"reemit\"\nfrom = \"x.jsonl\"\nto = \"target\"\ninvoke = \"later\"\n"
    ));
    let got: Vec<(usize, &str)> = d.iter().map(|x| (x.line, x.message.as_str())).collect();
    assert_eq!(
        got,
        vec![
            (
                7,
                "`to` must be one of \"bus\" or \"target\", not \"queue\""
            ),
            (
                12,
                "`invoke` must be one of \"sync\" or \"async\", not \"later\""
            ),
        ],
        "{d:#?}"
    );
    assert_eq!(d[0].hint, "write to = \"bus\" or \"target\"");
    load(
        "pb.toml",
        &format!(
            "{HEAD}[[steps]]\nkind = \"drain\"\nqueues = [\"q\"]\nto = \"target\"\ninvoke = \"async\"\n[[steps]]\nkind = \"reemit\"\nfrom = \"x.jsonl\"\nto = \"bus\"\n"
        ),
    )
    .unwrap();
}

#[test]
fn a_bus_to_re_emit_to_and_a_target_redrive_are_refused_together() {
    let d = problems(&format!(
        "{HEAD}[[steps]]\nkind = \"drain\"\nqueues = [\"q\"]\nto = \"target\"\nto_bus = \"capture\"\n[[steps]]\nkind = \"reemit\"\nfrom = \"x.jsonl\"\nto = \"target\"\nbus = \"capture\"\n"
    ));
    let got: Vec<(usize, &str)> = d.iter().map(|x| (x.line, x.message.as_str())).collect();
    assert_eq!(
        got,
        vec![
            (
                8,
                "step 1 (drain): `to_bus` names a bus to re-emit to, but to = \"target\" delivers each message to the rule target that dead-lettered it"
            ),
            (
                13,
                "step 2 (reemit): `bus` names a bus to re-emit to, but to = \"target\" delivers each message to the rule target that dead-lettered it"
            ),
        ],
        "{d:#?}"
    );
    // A drain's `bus` names the DLQs to drain, not a destination: fine with a target.
    load(
        "pb.toml",
        &format!("{HEAD}[[steps]]\nkind = \"drain\"\nbus = \"b\"\nto = \"target\"\n"),
    )
    .unwrap();
}
