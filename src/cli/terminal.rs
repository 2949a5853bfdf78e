//! The terminal: confirmations, progress (a bar on a terminal, plain lines elsewhere,
//! nothing with -q), and a playbook run's prompts and step reports.

use std::io::{BufRead, IsTerminal};
use std::time::Duration;

use crate::error::AppError;
use crate::output::OutputMode;
use crate::replay::display::{Bar, Lines};
use crate::replay::plan::ReplayPlan;
use crate::replay::watch::{Quiet, WatchObserver};
use crate::settings::Settings;
use crate::signals::interrupt;

/// A progress bar on a terminal, plain lines elsewhere, nothing with -q.
pub(super) fn observer(settings: &Settings) -> Box<dyn WatchObserver> {
    if settings.verbosity < 0 {
        Box::new(Quiet)
    } else if settings.progress && std::io::stderr().is_terminal() {
        Box::new(Bar::new())
    } else {
        Box::new(Lines::stderr(settings.progress))
    }
}

/// Asks once on a terminal; `--yes` skips; no terminal and no `--yes` is a usage error.
pub(super) fn confirm(settings: &Settings, plan: &ReplayPlan) -> Result<bool, AppError> {
    if settings.verbosity >= 0 {
        eprint!("{}", plan.human());
    } else {
        for w in &plan.warnings {
            tracing::warn!("{w}");
        }
    }
    if settings.yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err(AppError::usage(format!(
            "refusing to start replay {} without confirmation: stdin is not a terminal; pass --yes",
            plan.name
        )));
    }
    ask(&format!("Start replay {}?", plan.name))
}

/// Asks a yes/no question on the terminal; only y or yes is yes.
fn ask(question: &str) -> Result<bool, AppError> {
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| AppError::Io(format!("cannot read the answer: {e}")))?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

pub(super) fn drain_observer(
    settings: &Settings,
    dry_run: bool,
) -> std::sync::Arc<dyn crate::drain::engine::DrainObserver> {
    use crate::drain::display::{DrainBar, DrainLines};
    if settings.verbosity < 0 || !settings.progress {
        std::sync::Arc::new(crate::drain::engine::QuietDrain)
    } else if std::io::stderr().is_terminal() {
        std::sync::Arc::new(DrainBar::new(dry_run))
    } else {
        std::sync::Arc::new(DrainLines::new(Duration::from_secs(30), dry_run))
    }
}

/// Confirms a change once on a terminal; `--yes` skips; off a terminal `--yes` is required.
pub(super) fn confirm_change(settings: &Settings, what: &str) -> Result<(), AppError> {
    if settings.yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(AppError::usage(format!(
            "refusing to change anything without confirmation ({what}): stdin is not a terminal; pass --yes"
        )));
    }
    if ask(&format!("{what}?"))? {
        Ok(())
    } else {
        Err(AppError::usage("not confirmed; nothing was changed"))
    }
}

/// The terminal side of a playbook run: prompts, progress, each step's report.
pub(super) struct CliInteract<'a> {
    pub(super) settings: &'a Settings,
}

impl crate::playbook::exec::Interact for CliInteract<'_> {
    fn confirm(&mut self, question: &str) -> Result<bool, AppError> {
        if !std::io::stdin().is_terminal() {
            return Err(AppError::usage(format!(
                "a confirm step asks {question:?} but stdin is not a terminal; pass --yes to skip confirm steps"
            )));
        }
        ask(question)
    }

    fn watch_observer(&mut self) -> Box<dyn WatchObserver> {
        observer(self.settings)
    }

    fn drain_observer(&mut self) -> std::sync::Arc<dyn crate::drain::engine::DrainObserver> {
        // Playbook drain steps always change things.
        drain_observer(self.settings, false)
    }

    fn interrupt(&mut self) -> crate::interrupt::Interrupt {
        Box::pin(interrupt())
    }

    fn signalled(&mut self) -> Option<crate::interrupt::Signal> {
        crate::signals::received()
    }

    fn step_started(&mut self, step: &crate::playbook::load::Step, total: usize) {
        if self.settings.verbosity >= 0 {
            eprintln!(
                "==> step {}/{total}: {}{}",
                step.number,
                step.kind.name(),
                step.title
                    .as_ref()
                    .map(|t| format!(" - {t}"))
                    .unwrap_or_default()
            );
        }
    }

    fn step_finished(&mut self, record: &crate::playbook::exec::StepRecord, human: &str) {
        if self.settings.output == OutputMode::Human && !human.is_empty() {
            crate::playbook::reports::print_step(record, human);
        }
        if let Some(e) = &record.error {
            tracing::error!("step {} ({}) failed: {e}", record.number, record.kind);
        }
    }
}
