//! The `notify` step: publishes the run's summary (playbook, run id, status, each step's
//! outcome, the failing step and its error, the `playbook report` command) to an SNS
//! topic, so a scheduled run that fails reaches on-call.
//!
//! `when = "failure"` (the default) publishes only when the run has failed (a step failed,
//! was declined or interrupted); `when = "always"` publishes whatever happened. The run
//! loop (`run`) runs the notify steps after a failed step too, before the run exits with
//! that step's code. `topic` is an ARN, or a name made into the ARN of that topic in this
//! account and region (read from the ARN of the `default` bus, which every account and
//! region has, so no other permission is needed).

use std::collections::BTreeMap;

use serde_json::json;

use super::fields::Fields;
use super::history::status_word;
use super::plan::StepPlan;
use super::record::{RunRecord, RunStatus, StepStatus};
use super::steps::Done;
use crate::error::AppError;
use crate::exit_codes;
use crate::ports::bus::BusCatalogue;
use crate::ports::delivery::{TopicMessage, TopicPublisher};

/// When a notify step publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Failure,
    Always,
}

impl When {
    pub fn parse(s: &str) -> Option<When> {
        match s {
            "failure" => Some(When::Failure),
            "always" => Some(When::Always),
            _ => None,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            When::Failure => "on failure",
            When::Always => "whatever the outcome",
        }
    }
}

/// SNS caps a subject at 100 ASCII characters, without line breaks.
const SUBJECT_MAX: usize = 100;

struct Spec {
    topic: String,
    when: When,
    subject: Option<String>,
}

fn spec(f: &mut Fields) -> Result<Spec, AppError> {
    let topic = f
        .str("topic")?
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| f.bad("topic", "names no topic"))?;
    let when = match f.str("when")? {
        None => When::Failure,
        Some(w) => When::parse(&w).ok_or_else(|| {
            f.bad(
                "when",
                format!("{w:?} is not a choice: write when = \"failure\" or \"always\""),
            )
        })?,
    };
    Ok(Spec {
        topic,
        when,
        subject: f.str("subject")?,
    })
}

/// A topic name as SNS accepts it: 1 to 256 letters, digits, `-` and `_`, with `.fifo`
/// at the end of a FIFO topic.
fn valid_name(name: &str) -> bool {
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    (1..=256).contains(&name.len())
        && !base.is_empty()
        && base
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The topic's ARN: as written, or built from its name and the account and region of the
/// `default` bus's ARN (`arn:PARTITION:events:REGION:ACCOUNT:event-bus/default`).
async fn topic_arn(cat: &dyn BusCatalogue, topic: &str) -> Result<String, AppError> {
    if topic.starts_with("arn:") {
        return Ok(topic.to_string());
    }
    if !valid_name(topic) {
        return Err(AppError::usage(format!(
            "`topic`: {topic:?} is neither an SNS topic ARN nor a topic name (letters, digits, - and _, up to 256, .fifo for a FIFO topic)"
        )));
    }
    let bus = cat.describe_bus("default").await?;
    let parts: Vec<&str> = bus.arn.split(':').collect();
    match parts.as_slice() {
        ["arn", partition, _, region, account, ..] => {
            Ok(format!("arn:{partition}:sns:{region}:{account}:{topic}"))
        }
        _ => Err(AppError::Io(format!(
            "cannot read the account and region from the default bus ARN {:?}; write the topic's ARN",
            bus.arn
        ))),
    }
}

/// Plans a notify step: where it publishes, and when.
pub(super) async fn plan(
    f: &mut Fields<'_>,
    cat: &dyn BusCatalogue,
    out: &mut StepPlan,
) -> Result<(), AppError> {
    let s = spec(f)?;
    let arn = topic_arn(cat, &s.topic).await?;
    out.details.push(format!(
        "publish the run's summary to {arn} {}",
        s.when.describe()
    ));
    Ok(())
}

/// Whether the run has failed so far: a step failed, was declined or interrupted.
fn failed(run: &RunRecord) -> bool {
    !matches!(run.status, RunStatus::Running | RunStatus::Succeeded)
}

fn step_word(s: StepStatus) -> &'static str {
    match s {
        StepStatus::Ok => "ok",
        StepStatus::Failed => "FAILED",
        StepStatus::Interrupted => "INTERRUPTED",
        StepStatus::Skipped => "skipped",
        StepStatus::Resumed => "resumed (ran before)",
        StepStatus::NotRun => "not run",
    }
}

/// The run's state as the summary names it: a run still going (a notify step in the
/// middle of a run that has not failed) has succeeded so far.
fn run_word(run: &RunRecord) -> &'static str {
    match run.status {
        RunStatus::Running => "succeeded so far",
        s => status_word(s),
    }
}

/// The summary published: subject and body. `this_step` is the notify step publishing it.
pub fn summary(run: &RunRecord, this_step: usize) -> (String, String) {
    let subject = format!(
        "nexus-replay: playbook {} {} (run {})",
        run.playbook,
        run_word(run),
        run.run_id
    );
    let mut body = format!(
        "Playbook {} run {}: {} (exit code {})\nFile: {}\nStarted by {} at {} UTC\n",
        run.playbook,
        run.run_id,
        run_word(run),
        run.exit_code,
        run.file,
        run.started_by,
        run.started_at.format("%Y-%m-%d %H:%M:%S"),
    );
    if let Some(n) = run.failed_step
        && let Some(s) = run.steps.iter().find(|s| s.number == n)
    {
        body.push_str(&format!(
            "\nFailing step: {} ({}{}): {}\n",
            s.number,
            s.kind,
            s.id.as_ref().map(|i| format!(" {i:?}")).unwrap_or_default(),
            s.error.as_deref().unwrap_or("no error recorded")
        ));
    } else if let Some(m) = &run.message {
        body.push_str(&format!("\n{m}\n"));
    }
    body.push_str("\nSteps:\n");
    for s in &run.steps {
        let outcome = if s.number == this_step {
            "this notification"
        } else {
            step_word(s.status)
        };
        body.push_str(&format!(
            "  {}. {}{}: {outcome}{}\n",
            s.number,
            s.kind,
            s.title
                .as_ref()
                .map(|t| format!(" - {t}"))
                .unwrap_or_default(),
            s.error
                .as_ref()
                .filter(|_| s.status == StepStatus::Failed)
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        ));
    }
    body.push_str(&format!(
        "\nIncident report: nexus-replay playbook report {}\n",
        run.run_id
    ));
    if let Some(r) = &run.resume {
        body.push_str(&format!("Resume: {r}\n"));
    }
    (subject, body)
}

/// A subject SNS accepts: printable ASCII on one line, at most 100 characters.
fn subject_line(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { ' ' })
        .collect();
    let mut clean = clean.split_whitespace().collect::<Vec<_>>().join(" ");
    clean.truncate(SUBJECT_MAX);
    clean
}

fn done(outputs: BTreeMap<String, serde_json::Value>, human: String) -> Done {
    Done {
        exit_code: exit_codes::SUCCESS,
        report: Some(json!(outputs)),
        outputs,
        human,
        error: None,
        interrupted: false,
    }
}

/// Runs a notify step of `run` (the record as it stands, with its failure if any):
/// publishes, or says why not. A publish that fails is a failed step (exit 1), which the
/// run loop reports without changing an already failed run's exit code.
pub(super) async fn execute(
    f: &mut Fields<'_>,
    run: &RunRecord,
    this_step: usize,
    cat: &dyn BusCatalogue,
    sns: &dyn TopicPublisher,
) -> Result<Done, AppError> {
    let s = spec(f)?;
    let mut outputs = BTreeMap::from([
        ("topic_arn".to_string(), json!(null)),
        ("message_id".to_string(), json!(null)),
        ("published".to_string(), json!(false)),
    ]);
    if s.when == When::Failure && !failed(run) {
        return Ok(done(
            outputs,
            "nothing published: the run has not failed (when = \"failure\")\n".into(),
        ));
    }
    let fail = |outputs, error: String| Done {
        exit_code: exit_codes::FAILURE,
        report: Some(json!(outputs)),
        outputs,
        human: String::new(),
        error: Some(error),
        interrupted: false,
    };
    let arn = match topic_arn(cat, &s.topic).await {
        Ok(a) => a,
        Err(e) => return Ok(fail(outputs, format!("cannot notify: {}", e.with_hint()))),
    };
    outputs.insert("topic_arn".into(), json!(arn));
    let (subject, body) = summary(run, this_step);
    let fifo = arn.ends_with(".fifo");
    let message = TopicMessage {
        message: body,
        subject: Some(subject_line(s.subject.as_deref().unwrap_or(&subject))),
        group_id: fifo.then(|| run.playbook.clone()),
        deduplication_id: fifo.then(|| format!("{}-s{this_step}", run.run_id)),
    };
    match sns.publish(&arn, &message).await {
        Ok(id) => {
            outputs.insert("message_id".into(), json!(id));
            outputs.insert("published".into(), json!(true));
            Ok(done(
                outputs,
                format!("published the run's summary to {arn} (message {id})\n"),
            ))
        }
        Err(e) => {
            let e = AppError::Port(e);
            Ok(fail(
                outputs,
                format!("cannot publish to {arn}: {}", e.with_hint()),
            ))
        }
    }
}

/// Whether a notify step's outputs say it published (a step that had nothing to publish
/// reads as skipped in the record).
pub(super) fn published(outputs: &BTreeMap<String, serde_json::Value>) -> bool {
    outputs.get("published") == Some(&json!(true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_is_one_ascii_line_of_at_most_100_characters() {
        let s = subject_line(&format!("a\nb\u{e9}c {}", "x".repeat(200)));
        assert!(s.starts_with("a b c xx"), "{s}");
        assert_eq!(s.len(), 100);
    }

    #[test]
    fn topic_names_follow_sns_rules() {
        assert!(valid_name("on-call_alerts"));
        assert!(valid_name("alerts.fifo"));
        assert!(!valid_name(".fifo"));
        assert!(!valid_name("bad name"));
        assert!(!valid_name(&"x".repeat(257)));
    }
}
