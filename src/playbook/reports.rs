//! `playbook list | show | validate | plan | run`: the reports and their rendering, and
//! each step's report as a run prints it. Kept beside the engine so that `commands` never
//! calls back into `playbook`.

use serde::Serialize;

use super::catalog::{self, Found};
use super::exec::{PlaybookPlan, RunRecord, RunStatus, StepRecord, StepStatus};
use super::load::{Diagnostic, Kind, Playbook, Ty, load};
use crate::error::AppError;
use crate::exit_codes;
use crate::output::{Report, Table};

#[derive(Debug, Clone, Serialize)]
pub struct ListEntry {
    pub name: String,
    pub file: String,
    pub description: String,
    pub builtin: bool,
    /// Problems, when the file does not load.
    pub problems: Vec<Diagnostic>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ListReport {
    pub user_dir: Option<String>,
    pub playbooks: Vec<ListEntry>,
}

pub fn list(found: &[Found], user_dir: Option<String>) -> ListReport {
    let playbooks = found
        .iter()
        .map(|f| match load(&f.file, &f.text) {
            Ok(p) => ListEntry {
                name: f.name.clone(),
                file: f.file.clone(),
                description: p.description,
                builtin: f.builtin,
                problems: Vec::new(),
            },
            Err(d) => ListEntry {
                name: f.name.clone(),
                file: f.file.clone(),
                description: String::new(),
                builtin: f.builtin,
                problems: d,
            },
        })
        .collect();
    ListReport {
        user_dir,
        playbooks,
    }
}

impl Report for ListReport {
    fn human(&self) -> String {
        let mut t = Table::new(["NAME", "DESCRIPTION", "FILE"]);
        for p in &self.playbooks {
            let desc = if p.problems.is_empty() {
                p.description.clone()
            } else {
                format!(
                    "INVALID ({} problems): run `nexus-replay playbook validate {}`",
                    p.problems.len(),
                    p.name
                )
            };
            let file = if p.builtin {
                format!("{} (built in)", p.file)
            } else {
                p.file.clone()
            };
            t.row([p.name.clone(), desc, file]);
        }
        let mut s = t.render();
        if let Some(d) = &self.user_dir {
            s.push_str(&format!("Your playbooks go in {d}\n"));
        }
        s
    }

    fn exit_code(&self) -> u8 {
        exit_codes::SUCCESS
    }
}

/// `3. drain: Re-emit what the consumer dead-lettered`
fn heading(number: usize, kind: Kind, title: &Option<String>) -> String {
    match title {
        Some(t) => format!("{number}. {}: {t}", kind.name()),
        None => format!("{number}. {}", kind.name()),
    }
}

/// `playbook show`: the runbook view of one playbook.
#[derive(Debug, Clone, Serialize)]
pub struct ShowReport {
    #[serde(flatten)]
    pub playbook: Playbook,
    pub source: String,
}

impl Report for ShowReport {
    fn human(&self) -> String {
        let p = &self.playbook;
        let mut s = format!(
            "{} ({})\n  {}\nWhen: {}\n",
            p.name, p.file, p.description, p.when
        );
        if !p.params.is_empty() {
            s.push_str("\nParameters (--set NAME=VALUE):\n");
            let mut t = Table::new(["NAME", "TYPE", "DEFAULT", "HELP"]);
            for prm in &p.params {
                t.row([
                    prm.name.clone(),
                    prm.ty.name().to_string(),
                    prm.default
                        .as_ref()
                        .map(|d| d.to_string())
                        .unwrap_or_else(|| {
                            if prm.name == super::params::BUS_PARAM && prm.ty == Ty::String {
                                "(the default bus)".into()
                            } else {
                                "(required)".into()
                            }
                        }),
                    prm.help.clone(),
                ]);
            }
            s.push_str(&t.render());
        }
        s.push_str("\nSteps:\n");
        for st in &p.steps {
            s.push_str(&format!("  {}\n", heading(st.number, st.kind, &st.title)));
            if let Some(id) = &st.id {
                s.push_str(&format!("       id = {id}\n"));
            }
            for (k, f) in &st.fields {
                s.push_str(&format!("       {k} = {}\n", f.value));
            }
        }
        s
    }

    fn exit_code(&self) -> u8 {
        exit_codes::SUCCESS
    }
}

/// `playbook validate`: every problem of every file.
#[derive(Debug, Clone, Serialize)]
pub struct ValidateReport {
    pub files: Vec<ValidatedFile>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ValidatedFile {
    pub file: String,
    pub name: Option<String>,
    pub ok: bool,
    pub problems: Vec<Diagnostic>,
}

pub fn validate(found: &[Found]) -> ValidateReport {
    ValidateReport {
        files: found
            .iter()
            .map(|f| match load(&f.file, &f.text) {
                Ok(p) => ValidatedFile {
                    file: f.file.clone(),
                    name: Some(p.name),
                    ok: true,
                    problems: Vec::new(),
                },
                Err(d) => ValidatedFile {
                    file: f.file.clone(),
                    name: None,
                    ok: false,
                    problems: d,
                },
            })
            .collect(),
    }
}

impl Report for ValidateReport {
    fn human(&self) -> String {
        let mut s = String::new();
        for f in &self.files {
            if f.ok {
                s.push_str(&format!("{}: ok\n", f.file));
            } else {
                s.push_str(&catalog::describe(&f.file, &f.problems));
                s.push('\n');
            }
        }
        s
    }

    fn exit_code(&self) -> u8 {
        if self.files.iter().all(|f| f.ok) {
            exit_codes::SUCCESS
        } else {
            exit_codes::USAGE
        }
    }
}

impl Report for PlaybookPlan {
    fn human(&self) -> String {
        let mut s = format!(
            "Playbook {} ({}), planned at {} UTC\n",
            self.playbook,
            self.file,
            self.planned_at.format("%Y-%m-%d %H:%M:%S")
        );
        if !self.params.is_empty() {
            let p: Vec<String> = self
                .params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            s.push_str(&format!("Parameters: {}\n", p.join(" ")));
        }
        for st in &self.steps {
            s.push_str(&format!("\n{}\n", heading(st.number, st.kind, &st.title)));
            for d in &st.details {
                s.push_str(&format!("   {d}\n"));
            }
        }
        s
    }

    fn exit_code(&self) -> u8 {
        exit_codes::SUCCESS
    }
}

impl Report for RunRecord {
    fn human(&self) -> String {
        let mut s = format!(
            "\nPlaybook {} run {}: {}\n",
            self.playbook,
            self.run_id,
            match self.status {
                RunStatus::Succeeded => "succeeded",
                RunStatus::Failed => "FAILED",
                RunStatus::Declined => "stopped (not confirmed)",
                RunStatus::Interrupted => "INTERRUPTED",
                RunStatus::Running => "unfinished",
            }
        );
        let mut t = Table::new(["STEP", "KIND", "STATUS", "EXIT", "TIME", "NOTE"]);
        for st in &self.steps {
            t.row([
                st.number.to_string(),
                st.kind.clone(),
                match st.status {
                    StepStatus::Ok => "ok",
                    StepStatus::Failed => "FAILED",
                    StepStatus::Interrupted => "interrupted",
                    StepStatus::Skipped => "skipped (--yes)",
                    StepStatus::Resumed => "done earlier",
                    StepStatus::NotRun => "not run",
                }
                .to_string(),
                st.exit_code.map(|c| c.to_string()).unwrap_or_default(),
                st.duration_seconds
                    .map(|d| format!("{d:.1}s"))
                    .unwrap_or_default(),
                st.error
                    .clone()
                    .or_else(|| st.title.clone())
                    .unwrap_or_default(),
            ]);
        }
        s.push_str(&t.render());
        if let Some(m) = &self.message {
            s.push_str(&format!("{m}\n"));
        }
        if let Some(r) = &self.resume {
            if self.status == RunStatus::Interrupted {
                s.push_str(&format!("Resume with:\n  {r}\n"));
            } else {
                s.push_str(&format!("After fixing the cause, resume with:\n  {r}\n"));
            }
        }
        s.push_str(&format!("Run record: {}\n", self.path.display()));
        s
    }

    fn exit_code(&self) -> u8 {
        self.exit_code
    }
}

/// `playbook validate` with nothing named: every known playbook.
pub fn found_or_all(
    targets: &[String],
    user: Option<&std::path::Path>,
) -> Result<Vec<Found>, AppError> {
    if targets.is_empty() {
        return catalog::all(user);
    }
    targets.iter().map(|t| catalog::find(t, user)).collect()
}

/// Prints a step's own report on stdout as the run goes. A reader that went away (`| head`)
/// ends the printing, not the run: the steps go on and the run's exit code stands.
pub fn print_step(record: &StepRecord, human: &str) {
    let text = format!("--- step {} ({}):\n{human}", record.number, record.kind);
    if let Err(e) = crate::output::write_stdout(text.as_bytes()) {
        tracing::warn!("cannot print the report of step {}: {e}", record.number);
    }
}
