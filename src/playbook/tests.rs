//! Playbook tests: every malformed-playbook error names its line and the fix; runs over the
//! in-memory fakes stop at the failing step, record it, and resume with --from-step.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{Duration, Utc};
use serde_json::json;

use super::exec::*;
use super::load::{Diagnostic, load};
use crate::drain::tests::{RULE_ARN, attrs, body};
use crate::error::AppError;
use crate::interrupt::Signal;
use crate::memory::eventbridge::MemoryEventBridge;
use crate::memory::ledger::MemoryLedger;
use crate::memory::sqs::MemoryQueue;
use crate::ports::PortError;
use crate::ports::bus::{ArchiveInfo, RuleInfo, TargetInfo};
use crate::ports::replay::{ReplayState, ReplayStatus};
use crate::replay::journal::Journal;

// ---- malformed playbooks ------------------------------------------------------------

const HEAD: &str = r#"name = "t"
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

#[tokio::test]
async fn a_parameter_outside_its_fields_range_is_refused_before_anything_runs() {
    let w = world(3, true);
    let src = format!(
        "{HEAD}[[params]]\nname = \"n\"\ntype = \"int\"\ndefault = 4\nhelp = \"pipelines\"\n[[steps]]\nkind = \"drain\"\nqueues = [\"subs-dlq\"]\nconcurrency = \"${{n}}\"\n"
    );
    let pb = load("pb.toml", &src).unwrap();
    let mut opts = w.opts(1, true);
    opts.sets = vec![("n".into(), "30000".into())];
    let (mut scope, _) = prepare_run(&pb, &opts).unwrap();
    let e = plan(&pb, &mut scope, &w.ports(), 1, Utc::now())
        .await
        .unwrap_err();
    assert_eq!(e.exit_code(), crate::exit_codes::USAGE);
    let e = e.to_string();
    assert!(
        e.contains("`concurrency` must be between 1 and 256, not 30000"),
        "{e}"
    );
    assert_eq!(w.sqs.messages("subs-dlq").len(), 3);
}

// ---- runs over fakes ----------------------------------------------------------------

struct World {
    eb: MemoryEventBridge,
    sqs: MemoryQueue,
    ledger: MemoryLedger,
    state: PathBuf,
}

fn push_dlq(sqs: &MemoryQueue, n: usize) {
    for i in 0..n {
        sqs.push("subs-dlq", &body(i), attrs());
    }
}

fn world(dlq_messages: usize, target_dlq: bool) -> World {
    let eb = MemoryEventBridge::new();
    let bus = eb.add_bus("billing");
    let sqs = MemoryQueue::new();
    let dlq = sqs.create("subs-dlq");
    sqs.create("consumer");
    push_dlq(&sqs, dlq_messages);
    eb.add_rule(
        "billing",
        RuleInfo {
            name: "subscription-rule".into(),
            arn: RULE_ARN.into(),
            state: "ENABLED".into(),
            event_pattern: Some(
                json!({"detail": {"type": [{"prefix": "customer.subscription."}]}}).to_string(),
            ),
            schedule_expression: None,
            managed_by: None,
            description: None,
            targets: vec![TargetInfo {
                id: "lambda".into(),
                arn: "arn:aws:lambda:us-east-2:123456789012:function:subs".into(),
                dlq_arn: target_dlq.then(|| dlq.arn.clone()),
                retry_policy: None,
                ..TargetInfo::default()
            }],
        },
    );
    eb.add_archive(ArchiveInfo {
        name: "billing-archive".into(),
        arn: "arn:aws:events:us-east-2:123456789012:archive/billing-archive".into(),
        source_arn: bus.arn,
        state: "ENABLED".into(),
        state_reason: None,
        retention_days: Some(30),
        event_count: 100,
        size_bytes: 10_000,
        creation_time: Some(Utc::now() - Duration::days(3)),
        event_pattern: None,
    });
    eb.set_event_sources(Ok(Vec::new()));
    let state = std::env::temp_dir().join(format!("nr-pb-run-{}", crate::ids::random_hex(8)));
    World {
        eb,
        sqs,
        ledger: MemoryLedger::new(),
        state,
    }
}

impl World {
    fn ports(&self) -> Ports {
        let ledger: Arc<dyn crate::ports::ledger::Ledger> = Arc::new(self.ledger.clone());
        Ports {
            cat: Arc::new(self.eb.clone()),
            ctl: Arc::new(self.eb.clone()),
            queue: Arc::new(self.sqs.clone()),
            sink: Arc::new(self.eb.clone()),
            ledger: Box::new(move |_| Ok(Some(ledger.clone()))),
            journal: Journal::in_dir(&self.state),
            started_by: "test@host".into(),
        }
    }

    fn complete(&self, name: &str) {
        self.eb.script_describe(
            name,
            vec![Ok(ReplayStatus {
                name: name.into(),
                arn: None,
                description: None,
                state: ReplayState::Completed,
                state_reason: None,
                archive_arn: None,
                destination_arn: None,
                filter_arns: Vec::new(),
                event_start: None,
                event_end: None,
                event_last_replayed: None,
                replay_start: Some(Utc::now()),
                replay_end: Some(Utc::now()),
            })],
        );
    }

    fn opts(&self, from: usize, yes: bool) -> RunOptions {
        RunOptions {
            sets: Vec::new(),
            yes,
            from_step: from,
            resume: None,
            invoked_as: "recover".into(),
            state_dir: self.state.clone(),
            run_id: format!("run-{}", crate::ids::random_hex(4)),
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

#[derive(Default)]
struct TestUi {
    answers: VecDeque<bool>,
    asked: Vec<String>,
    started: Vec<usize>,
    /// A signal arriving at this (tokio) time.
    signal: Option<(tokio::time::Instant, Signal)>,
}

impl Interact for TestUi {
    fn confirm(&mut self, question: &str) -> Result<bool, AppError> {
        self.asked.push(question.to_string());
        self.answers
            .pop_front()
            .ok_or_else(|| AppError::usage("nobody to ask"))
    }
    fn watch_observer(&mut self) -> Box<dyn crate::replay::watch::WatchObserver> {
        Box::new(crate::replay::watch::Quiet)
    }
    fn drain_observer(&mut self) -> Arc<dyn crate::drain::engine::DrainObserver> {
        Arc::new(crate::drain::engine::QuietDrain)
    }
    fn interrupt(&mut self) -> Interrupt {
        match self.signal {
            Some((at, sig)) => Box::pin(async move {
                tokio::time::sleep_until(at).await;
                sig
            }),
            None => Box::pin(std::future::pending()),
        }
    }
    fn signalled(&mut self) -> Option<Signal> {
        self.signal
            .filter(|(at, _)| *at <= tokio::time::Instant::now())
            .map(|(_, sig)| sig)
    }
    fn step_started(&mut self, step: &super::load::Step, _: usize) {
        self.started.push(step.number);
    }
    fn step_finished(&mut self, _: &StepRecord, _: &str) {}
}

const RECOVER: &str = r#"name = "recover"
description = "replay, confirm, drain, verify"
when = "tests"

[[params]]
name = "since"
type = "when"
default = "2h"
help = "start"

[[steps]]
id = "doctor"
kind = "doctor"
bus = "billing"
allow = ["pass", "warn", "fail"]

[[steps]]
id = "replay"
kind = "replay"
bus = "billing"
since = "${since}"
event_types = ["customer.subscription.updated"]
name = "fixed-replay"
poll = "1s"

[[steps]]
kind = "confirm"
message = "Drain after ${steps.replay.name}?"

[[steps]]
id = "drain"
kind = "drain"
queues = ["subs-dlq"]
receive_wait = "0s"

[[steps]]
kind = "verify"
replay_completed = "${steps.replay.name}"
queues_empty = ["subs-dlq"]
"#;

async fn run_it(
    w: &World,
    src: &str,
    opts: &RunOptions,
    ui: &mut TestUi,
) -> Result<RunRecord, AppError> {
    let pb = load("recover.toml", src).unwrap();
    let ports = w.ports();
    let (scope, previous) = prepare_run(&pb, opts)?;
    let plan = plan(&pb, &mut scope.clone(), &ports, opts.from_step, Utc::now()).await?;
    run(&pb, &plan, scope, previous.as_ref(), &ports, ui, opts).await
}

#[tokio::test]
async fn a_run_replays_drains_and_verifies_in_order_and_records_it() {
    let w = world(7, true);
    w.complete("fixed-replay");
    let mut ui = TestUi {
        answers: VecDeque::from([true]),
        ..TestUi::default()
    };
    let rec = run_it(&w, RECOVER, &w.opts(1, false), &mut ui)
        .await
        .unwrap();
    assert_eq!(rec.status, RunStatus::Succeeded, "{rec:#?}");
    assert_eq!(rec.exit_code, 0);
    assert_eq!(ui.started, vec![1, 2, 3, 4, 5]);
    assert_eq!(ui.asked, vec!["Drain after fixed-replay?"]);
    let started = w.eb.started();
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].filter_arns, vec![RULE_ARN.to_string()]);
    assert_eq!(w.eb.accepted().len(), 7);
    assert!(w.sqs.messages("subs-dlq").is_empty());
    assert_eq!(rec.steps[3].outputs["reemitted"], json!(7));
    assert_eq!(rec.steps[1].outputs["state"], json!("COMPLETED"));
    // The record on disk is the one returned.
    let disk: RunRecord =
        serde_json::from_str(&std::fs::read_to_string(&rec.path).unwrap()).unwrap();
    assert_eq!(disk.status, RunStatus::Succeeded);
    assert_eq!(disk.steps.len(), 5);
}

#[tokio::test]
async fn a_failed_step_stops_the_run_and_from_step_resumes_with_recorded_outputs() {
    let w = world(4, true);
    w.complete("fixed-replay");
    let opts = w.opts(1, true);
    let pb = load("recover.toml", RECOVER).unwrap();
    let ports = w.ports();
    let (scope, _) = prepare_run(&pb, &opts).unwrap();
    let planned = plan(&pb, &mut scope.clone(), &ports, 1, Utc::now())
        .await
        .unwrap();
    // The DLQ disappears after planning: the drain step fails, verify does not run.
    w.sqs.delete_queue("subs-dlq");
    let mut ui = TestUi::default();
    let rec = run(&pb, &planned, scope, None, &ports, &mut ui, &opts)
        .await
        .unwrap();
    assert_eq!(rec.status, RunStatus::Failed);
    assert_eq!(rec.failed_step, Some(4));
    assert_eq!(rec.exit_code, crate::exit_codes::USAGE, "{rec:#?}");
    assert_eq!(rec.steps[2].status, StepStatus::Skipped);
    assert_eq!(rec.steps[3].status, StepStatus::Failed);
    assert!(rec.steps[3].error.as_deref().unwrap().contains("subs-dlq"));
    assert_eq!(rec.steps[4].status, StepStatus::NotRun);
    let hint = rec.resume.clone().unwrap();
    assert_eq!(
        hint,
        format!(
            "nexus-replay playbook run recover --from-step 4 --resume {} --yes",
            rec.run_id
        )
    );
    assert_eq!(w.eb.started().len(), 1);

    // Fixed: the queue is back with its messages. Resume at step 4.
    w.sqs.create("subs-dlq");
    push_dlq(&w.sqs, 4);
    let mut again = w.opts(4, true);
    again.resume = Some(rec.run_id.clone());
    let mut ui = TestUi::default();
    let rec2 = run_it(&w, RECOVER, &again, &mut ui).await.unwrap();
    assert_eq!(rec2.status, RunStatus::Succeeded, "{rec2:#?}");
    assert_eq!(rec2.resumed_from.as_deref(), Some(rec.run_id.as_str()));
    assert_eq!(ui.started, vec![4, 5]);
    assert_eq!(w.eb.started().len(), 1, "the replay is not started again");
    assert_eq!(rec2.steps[1].status, StepStatus::Resumed);
    assert_eq!(rec2.steps[1].outputs["name"], json!("fixed-replay"));
    assert_eq!(w.eb.accepted().len(), 4);
}

#[tokio::test]
async fn a_step_refused_a_permission_records_the_error_with_its_hint() {
    let w = world(2, true);
    w.eb.fail_next_start(PortError::Denied(
        "StartReplay: AccessDeniedException: not authorized to perform events:StartReplay".into(),
    ));
    let mut ui = TestUi::default();
    let rec = run_it(&w, RECOVER, &w.opts(1, true), &mut ui)
        .await
        .unwrap();
    assert_eq!(rec.failed_step, Some(2));
    assert_eq!(rec.exit_code, crate::exit_codes::FAILURE);
    let error = rec.steps[1].error.as_deref().unwrap();
    assert!(
        error.starts_with("StartReplay: AccessDeniedException"),
        "{error}"
    );
    assert!(
        error.contains("\nhint: the credentials in use lack this permission"),
        "{error}"
    );
    assert!(w.eb.started().is_empty());
}

#[tokio::test]
async fn from_step_without_the_outputs_it_needs_is_refused_before_anything_runs() {
    let w = world(1, true);
    let pb = load("recover.toml", RECOVER).unwrap();
    let e = prepare_run(&pb, &w.opts(5, true)).unwrap_err();
    assert_eq!(e.exit_code(), crate::exit_codes::USAGE);
    let msg = e.to_string();
    assert!(
        msg.contains("uses ${steps.replay.name} from step 2"),
        "{msg}"
    );
    assert!(
        msg.contains("no earlier run of recover is recorded"),
        "{msg}"
    );
    let e = prepare_run(&pb, &w.opts(9, true)).unwrap_err().to_string();
    assert!(e.contains("has 5 steps"), "{e}");
}

#[tokio::test]
async fn declining_a_confirm_step_stops_before_the_drain() {
    let w = world(3, true);
    w.complete("fixed-replay");
    let mut ui = TestUi {
        answers: VecDeque::from([false]),
        ..TestUi::default()
    };
    let rec = run_it(&w, RECOVER, &w.opts(1, false), &mut ui)
        .await
        .unwrap();
    assert_eq!(rec.status, RunStatus::Declined);
    assert_eq!(rec.exit_code, crate::exit_codes::FAILURE);
    assert_eq!(rec.failed_step, Some(3));
    assert_eq!(w.sqs.messages("subs-dlq").len(), 3, "nothing drained");
    assert!(w.eb.accepted().is_empty());
}

#[tokio::test]
async fn doctor_outcomes_outside_allow_fail_the_step_with_exit_3() {
    // A target without a DLQ is a doctor FAIL.
    let w = world(0, false);
    let src = "name = \"d\"\ndescription = \"d\"\nwhen = \"w\"\n[[steps]]\nkind = \"doctor\"\nbus = \"billing\"\n[[steps]]\nkind = \"verify\"\nqueues_empty = [\"subs-dlq\"]\n";
    let mut ui = TestUi::default();
    let rec = run_it(&w, src, &w.opts(1, true), &mut ui).await.unwrap();
    assert_eq!(rec.exit_code, crate::exit_codes::PARTIAL);
    assert_eq!(rec.failed_step, Some(1));
    assert!(
        rec.steps[0].error.as_deref().unwrap().contains("1 FAIL"),
        "{rec:#?}"
    );
    let allowed = src.replace(
        "bus = \"billing\"\n[[steps]]",
        "bus = \"billing\"\nallow = [\"pass\", \"warn\", \"fail\"]\n[[steps]]",
    );
    let rec = run_it(&w, &allowed, &w.opts(1, true), &mut ui)
        .await
        .unwrap();
    assert_eq!(rec.exit_code, 0, "{rec:#?}");
}

#[tokio::test(start_paused = true)]
async fn verify_retries_within_its_window_then_fails_with_the_counts() {
    let w = world(2, true);
    let src = "name = \"v\"\ndescription = \"d\"\nwhen = \"w\"\n[[steps]]\nkind = \"verify\"\nqueues_empty = [\"subs-dlq\"]\nwithin = \"30s\"\n";
    let mut ui = TestUi::default();
    let rec = run_it(&w, src, &w.opts(1, true), &mut ui).await.unwrap();
    assert_eq!(rec.exit_code, crate::exit_codes::PARTIAL);
    let report = rec.steps[0].report.clone().unwrap();
    assert!(report["attempts"].as_u64().unwrap() >= 6, "{report}");
    let err = rec.steps[0].error.clone().unwrap();
    assert!(err.contains("queue subs-dlq is empty (~2 visible"), "{err}");
}

#[tokio::test]
async fn unique_keys_check_finds_a_key_delivered_twice_and_leaves_the_queue_as_it_was() {
    let w = world(0, true);
    let meta = |key: &str, run: &str| {
        json!({"version": "0", "id": "x", "detail-type": "t", "source": "s", "time": "2025-09-08T14:00:00Z",
               "region": "us-east-2", "resources": [],
               "detail": {"id": key, "nexus_replay": {"dedup_key": key, "run_id": run}}})
        .to_string()
    };
    for (k, run) in [
        ("evt_1", "r1"),
        ("evt_2", "r1"),
        ("evt_1", "other"),
        ("evt_3", "r1"),
    ] {
        w.sqs.push("consumer", &meta(k, run), BTreeMap::new());
    }
    let src = "name = \"u\"\ndescription = \"d\"\nwhen = \"w\"\n[[params]]\nname = \"run\"\ntype = \"string\"\ndefault = \"r1\"\nhelp = \"h\"\n[[steps]]\nkind = \"verify\"\nunique_keys_in = \"consumer\"\nunique_key = \"detail.id\"\nreemitted_by = \"${run}\"\n";
    let mut ui = TestUi::default();
    let rec = run_it(&w, src, &w.opts(1, true), &mut ui).await.unwrap();
    assert_eq!(rec.exit_code, 0, "only r1's events count: {rec:#?}");
    w.sqs
        .push("consumer", &meta("evt_2", "r1"), BTreeMap::new());
    let rec = run_it(&w, src, &w.opts(1, true), &mut ui).await.unwrap();
    assert_eq!(rec.exit_code, crate::exit_codes::PARTIAL);
    assert!(
        rec.steps[0].error.as_deref().unwrap().contains("evt_2 x2"),
        "{rec:#?}"
    );
    assert_eq!(w.sqs.messages("consumer").len(), 5);
    assert_eq!(w.sqs.in_flight("consumer"), 0);
}

#[tokio::test]
async fn plan_names_each_step_once_and_reports_every_value_out_of_range_at_once() {
    let w = world(0, true);
    let src = format!(
        "{HEAD}[[params]]\nname = \"c\"\ntype = \"int\"\ndefault = 4\nhelp = \"pipelines\"\n[[params]]\nname = \"r\"\ntype = \"number\"\ndefault = 5\nhelp = \"rate\"\n[[steps]]\nkind = \"drain\"\nqueues = [\"subs-dlq\"]\nconcurrency = \"${{c}}\"\n[[steps]]\nkind = \"drain\"\nqueues = [\"subs-dlq\"]\nrate = \"${{r}}\"\n"
    );
    let pb = load("pb.toml", &src).unwrap();
    let plan_with = |sets: &[(&str, &str)]| {
        let mut opts = w.opts(1, false);
        opts.sets = sets
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (mut scope, _) = prepare_run(&pb, &opts).unwrap();
        let ports = w.ports();
        let pb = &pb;
        async move { plan(pb, &mut scope, &ports, 1, Utc::now()).await }
    };
    let e = plan_with(&[("c", "-1")]).await.unwrap_err();
    assert_eq!(e.exit_code(), crate::exit_codes::USAGE);
    assert_eq!(
        e.to_string(),
        "step 1 (drain): `concurrency` must be between 1 and 256, not -1"
    );
    let e = plan_with(&[("c", "0"), ("r", "-3")]).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "playbook t: 2 problems (nothing was called):\n  step 1 (drain): `concurrency` must be between 1 and 256, not 0\n  step 2 (drain): `rate` must be between 0.01 and 10000 events per second, not -3"
    );
    assert!(w.eb.accepted().is_empty());
    plan_with(&[]).await.unwrap();
}

const SLOW_DRAIN: &str = r#"name = "slow"
description = "a rate-limited drain, then a check"
when = "tests"

[[steps]]
id = "drain"
kind = "drain"
queues = ["subs-dlq"]
receive_wait = "0s"
rate = 2

[[steps]]
kind = "verify"
queues_empty = ["subs-dlq"]
"#;

#[tokio::test(start_paused = true)]
async fn sigterm_stops_a_drain_step_as_the_command_would_and_the_record_says_so() {
    let w = world(40, true);
    let mut ui = TestUi {
        signal: Some((
            tokio::time::Instant::now() + std::time::Duration::from_secs(7),
            Signal::Terminate,
        )),
        ..TestUi::default()
    };
    let rec = run_it(&w, SLOW_DRAIN, &w.opts(1, true), &mut ui)
        .await
        .unwrap();
    assert_eq!(rec.status, RunStatus::Interrupted, "{rec:#?}");
    assert_eq!(rec.exit_code, crate::exit_codes::TERMINATED);
    assert_eq!(rec.failed_step, Some(1));
    assert_eq!(rec.steps[0].status, StepStatus::Interrupted);
    assert!(
        rec.steps[0].error.as_deref().unwrap().contains("SIGTERM"),
        "{rec:#?}"
    );
    assert_eq!(rec.steps[1].status, StepStatus::NotRun);
    assert!(
        rec.message
            .as_deref()
            .unwrap()
            .contains("interrupted by SIGTERM during step 1"),
        "{rec:#?}"
    );
    assert!(
        rec.resume
            .as_deref()
            .unwrap()
            .contains("--from-step 1 --resume")
    );
    // 2 events/s for 7 s: the batches put were deleted, the rest left visible for a rerun.
    let put = w.eb.accepted().len();
    assert!((10..40).contains(&put), "{put} put");
    assert_eq!(w.sqs.messages("subs-dlq").len(), 40 - put);
    assert_eq!(w.sqs.in_flight("subs-dlq"), 0, "released");
    assert!(
        w.ledger
            .records()
            .iter()
            .all(|r| r.state == crate::ports::ledger::LedgerState::Done)
    );
    let disk: RunRecord =
        serde_json::from_str(&std::fs::read_to_string(&rec.path).unwrap()).unwrap();
    assert_eq!(disk.status, RunStatus::Interrupted);
}

#[tokio::test(start_paused = true)]
async fn ctrl_c_abandons_a_waiting_verify_step_with_exit_130() {
    let w = world(2, true);
    let src = "name = \"v\"\ndescription = \"d\"\nwhen = \"w\"\n[[steps]]\nkind = \"verify\"\nqueues_empty = [\"subs-dlq\"]\nwithin = \"10m\"\n";
    let started = tokio::time::Instant::now();
    let mut ui = TestUi {
        signal: Some((
            started + std::time::Duration::from_secs(12),
            Signal::Interrupt,
        )),
        ..TestUi::default()
    };
    let rec = run_it(&w, src, &w.opts(1, true), &mut ui).await.unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(13),
        "not the 10 minutes"
    );
    assert_eq!(rec.status, RunStatus::Interrupted, "{rec:#?}");
    assert_eq!(rec.exit_code, crate::exit_codes::INTERRUPTED);
    assert_eq!(rec.steps[0].status, StepStatus::Interrupted);
    assert_eq!(rec.steps[0].error.as_deref(), Some("interrupted by SIGINT"));
}
