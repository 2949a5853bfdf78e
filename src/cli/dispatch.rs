//! One arm per command: turn its arguments into an engine request, wire the ports, ask
//! for confirmation where something changes, run the engine and print its report.

use std::time::Duration;

use clap::CommandFactory;

use super::args::{
    Cli, Command, DlqCommand, LedgerCommand, PlaybookCommand, PlaybookRunArgs, SandboxCommand,
};
use super::terminal::{CliInteract, confirm, confirm_change, drain_observer, observer};
use super::wiring::{drain_ports, open_ledger, playbook_ports};
use crate::aws::config::Clients;
use crate::commands::list::ListRequest;
use crate::commands::start::StartOptions;
use crate::error::AppError;
use crate::options::WaitOptions;
use crate::output::{self, Report};
use crate::replay::journal::Journal;
use crate::replay::watch::WatchOptions;
use crate::settings::Settings;
use crate::signals::interrupt;

pub(super) fn print<R: Report>(settings: &Settings, report: &R) -> Result<u8, AppError> {
    output::emit(settings.output, report)
        .map_err(|e| AppError::Io(format!("cannot write to stdout: {e}")))?;
    Ok(report.exit_code())
}

/// Text that is neither a table nor a JSON document (a script, a man page) on stdout.
fn write(bytes: &[u8]) -> Result<u8, AppError> {
    output::write_stdout(bytes)
        .map_err(|e| AppError::Io(format!("cannot write to stdout: {e}")))?;
    Ok(crate::exit_codes::SUCCESS)
}

pub(super) async fn run(command: Command, settings: &Settings) -> Result<u8, AppError> {
    crate::signals::install();
    let now = chrono::Utc::now();
    match command {
        Command::Archives(a) => {
            super::archive::archive(super::args::ArchiveCommand::List(a), settings, now).await
        }
        Command::Archive(cmd) => super::archive::archive(cmd, settings, now).await,
        Command::Rules(a) => {
            let bus = settings.bus(a.bus.as_deref())?;
            let c = Clients::load(&settings.aws).await?;
            print(
                settings,
                &crate::commands::rules::rules(&c.eventbridge, &bus).await?,
            )
        }
        Command::Dlq(DlqCommand::List(a)) => {
            let bus = settings.bus(a.bus.as_deref())?;
            let c = Clients::load(&settings.aws).await?;
            let report = crate::commands::dlq_list::dlq_rows(&c.eventbridge, &c.sqs, &bus).await?;
            print(settings, &report)
        }
        Command::Doctor(a) => {
            let bus = settings.bus(a.bus.as_deref())?;
            let c = Clients::load(&settings.aws).await?;
            let report = crate::commands::doctor::doctor_on(&c, &bus, now).await?;
            print(settings, &report)
        }
        Command::Triage(a) => super::triage::triage(a, settings, now).await,
        Command::Start(a) if a.exact => super::exact::start_exact(*a, settings, now).await,
        Command::Start(a) => {
            let a = *a;
            a.filter.validate()?;
            let opts = StartOptions {
                plan: super::exact::plan_request(&a, settings),
                dry_run: a.dry_run,
                no_wait: a.no_wait,
                watch: WatchOptions {
                    poll: a.wait.poll,
                    timeout: a.wait.timeout,
                    cancel_on_interrupt: a.cancel_on_interrupt,
                },
            };
            let c = Clients::load(&settings.aws).await?;
            let journal = Journal::in_dir(&settings.state_dir);
            let mut observer = observer(settings);
            let report = crate::commands::start::start(
                &c.eventbridge,
                &c.eventbridge,
                &journal,
                &opts,
                &mut |plan| confirm(settings, plan),
                observer.as_mut(),
                interrupt(),
                now,
            )
            .await?;
            print(settings, &report)
        }
        Command::Status(a) => {
            let journal = Journal::in_dir(&settings.state_dir);
            let name = crate::commands::status::name_or_last(a.name.as_deref(), &journal)?;
            let c = Clients::load(&settings.aws).await?;
            let opts = watch_options(&a.wait, false);
            let mut observer = observer(settings);
            let report = crate::commands::status::status(
                &c.eventbridge,
                &name,
                a.watch.then_some(&opts),
                observer.as_mut(),
                interrupt(),
            )
            .await?;
            print(settings, &report)
        }
        Command::List(a) => {
            let c = Clients::load(&settings.aws).await?;
            let req = ListRequest {
                state: a.state,
                archive: a.archive,
                limit: a.limit,
                mine: a.mine,
            };
            let journal = Journal::in_dir(&settings.state_dir);
            let report =
                crate::commands::list::list(&c.eventbridge, &c.eventbridge, &journal, &req).await?;
            print(settings, &report)
        }
        Command::Cancel(a) => {
            let c = Clients::load(&settings.aws).await?;
            let opts = watch_options(&a.wait_opts, false);
            let mut observer = observer(settings);
            let report = crate::commands::cancel::cancel(
                &c.eventbridge,
                &a.name,
                a.wait.then_some(&opts),
                observer.as_mut(),
                interrupt(),
            )
            .await?;
            print(settings, &report)
        }
        Command::Dlq(DlqCommand::Peek {
            queue,
            max,
            samples,
        }) => {
            let c = Clients::load(&settings.aws).await?;
            print(
                settings,
                &crate::commands::dlq_peek::peek(&c.sqs, &queue, max, samples, now).await?,
            )
        }
        Command::Dlq(DlqCommand::Export {
            queue,
            out,
            max,
            force,
        }) => {
            let c = Clients::load(&settings.aws).await?;
            print(
                settings,
                &crate::commands::dlq_export::export(&c.sqs, &queue, &out, max, force).await?,
            )
        }
        Command::Drain(a) => {
            let a = *a;
            let req = a;
            let c = Clients::load(&settings.aws).await?;
            let cfg =
                crate::commands::drain::prepare(&c.eventbridge, &c.sqs, &req, run_id()).await?;
            let ports = drain_ports(settings, &c, &req.options)?;
            if !cfg.dry_run {
                let names: Vec<&str> = cfg.queues.iter().map(|q| q.name.as_str()).collect();
                let to = match req.options.to {
                    crate::options::RedriveTo::Bus => "re-emit to the bus",
                    crate::options::RedriveTo::Target => {
                        "deliver each message to the rule target that dead-lettered it"
                    }
                };
                confirm_change(settings, &format!("Drain {} and {to}", names.join(", ")))?;
            }
            let observer = drain_observer(settings, cfg.dry_run);
            let report = crate::commands::drain::run(cfg, ports, observer, interrupt()).await?;
            print(settings, &report)
        }
        Command::Reemit(req) => {
            let c = Clients::load(&settings.aws).await?;
            let cfg = crate::commands::reemit::prepare(&c.eventbridge, &req, run_id()).await?;
            let ports = drain_ports(settings, &c, &req.options)?;
            if !cfg.dry_run {
                let what = match req.options.to {
                    crate::options::RedriveTo::Bus => "Re-emit the events in",
                    crate::options::RedriveTo::Target => {
                        "Deliver to their rule targets the events in"
                    }
                };
                confirm_change(settings, &format!("{what} {}", req.from.display()))?;
            }
            let observer = drain_observer(settings, cfg.dry_run);
            let report =
                crate::commands::reemit::reemit(&req.from, cfg, ports, observer, interrupt())
                    .await?;
            print(settings, &report)
        }
        Command::Stripe(cmd) => super::stripe::stripe(cmd, settings, now).await,
        Command::Ledger(LedgerCommand::Init { ledger }) => {
            let spec = crate::ledger::open::parse(ledger.as_deref(), &settings.state_dir)?;
            let report = match &spec {
                crate::ledger::open::LedgerSpec::DynamoDb(table) => {
                    let c = Clients::load(&settings.aws).await?;
                    crate::commands::ledger::InitReport::from(
                        c.dynamo_ledger(table)
                            .init(Duration::from_secs(120))
                            .await?,
                    )
                }
                crate::ledger::open::LedgerSpec::Sqlite(path) => {
                    let existed = path.exists();
                    let l = open_ledger(settings, ledger.as_deref()).await?;
                    crate::commands::ledger::InitReport::local(l.as_ref(), !existed)
                }
                crate::ledger::open::LedgerSpec::None => {
                    return Err(AppError::usage(
                        "--ledger none has nothing to create; name sqlite, sqlite:PATH or dynamodb://TABLE",
                    ));
                }
            };
            print(settings, &report)
        }
        Command::Ledger(LedgerCommand::Show { key, ledger }) => {
            let l = open_ledger(settings, ledger.as_deref()).await?;
            print(
                settings,
                &crate::commands::ledger::show(l.as_ref(), &key).await?,
            )
        }
        Command::Ledger(LedgerCommand::Stats { ledger }) => {
            let l = open_ledger(settings, ledger.as_deref()).await?;
            print(
                settings,
                &crate::commands::ledger::stats(l.as_ref(), now).await?,
            )
        }
        Command::Ledger(LedgerCommand::Prune { ledger }) => {
            let l = open_ledger(settings, ledger.as_deref()).await?;
            print(
                settings,
                &crate::commands::ledger::prune(l.as_ref(), now).await?,
            )
        }
        Command::Playbook(cmd) => playbook(cmd, settings).await,
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "nexus-replay", &mut script);
            write(&script)
        }
        Command::Man => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut page)
                .map_err(|e| AppError::Io(format!("cannot render the man page: {e}")))?;
            write(&page)
        }
        Command::Sandbox(SandboxCommand::Seed {
            events,
            dlq_messages,
        }) => {
            let endpoint = settings.aws.endpoint_url.clone().ok_or_else(|| {
                AppError::usage("sandbox seed needs --endpoint-url pointing at a local emulator")
            })?;
            let c = Clients::load(&settings.aws).await?;
            let opts = crate::aws::sandbox::SandboxOptions {
                endpoint_url: endpoint,
                region: c.region.clone(),
                events,
                dlq_messages,
            };
            let report = crate::aws::sandbox::seed(&c.raw_eventbridge, &c.raw_sqs, &opts).await?;
            print(settings, &report)
        }
    }
}

fn watch_options(w: &WaitOptions, cancel_on_interrupt: bool) -> WatchOptions {
    WatchOptions {
        poll: w.poll,
        timeout: w.timeout,
        cancel_on_interrupt,
    }
}

/// `nexus-20250908T140501-3f9a2c`: sortable and unique.
fn run_id() -> String {
    format!(
        "nexus-{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S"),
        crate::ids::random_hex(6)
    )
}

async fn playbook(cmd: PlaybookCommand, settings: &Settings) -> Result<u8, AppError> {
    use crate::playbook::reports as report;
    use crate::playbook::{catalog, exec};
    let user_dir = catalog::user_dir();
    let user = user_dir.as_deref();
    match cmd {
        PlaybookCommand::List => {
            let found = catalog::all(user)?;
            print(
                settings,
                &report::list(&found, user_dir.map(|d| d.display().to_string())),
            )
        }
        PlaybookCommand::Show { name } => {
            let found = catalog::find(&name, user)?;
            let playbook = catalog::open(&found)?;
            print(
                settings,
                &report::ShowReport {
                    playbook,
                    source: found.text,
                },
            )
        }
        PlaybookCommand::Runs(a) => super::playbook_history::runs(&a, settings),
        PlaybookCommand::Report(a) => super::playbook_history::report(&a, settings),
        PlaybookCommand::Validate { files } => {
            let found = report::found_or_all(&files, user)?;
            print(settings, &report::validate(&found))
        }
        PlaybookCommand::Plan(a) => {
            let found = catalog::find(&a.name, user)?;
            let pb = catalog::open(&found)?;
            let opts = run_options(settings, &a, String::new());
            let (mut scope, _) = exec::prepare_run(&pb, &opts)?;
            let c = Clients::load(&settings.aws).await?;
            let ports = playbook_ports(settings, &c);
            let plan =
                exec::plan(&pb, &mut scope, &ports, opts.from_step, chrono::Utc::now()).await?;
            print(settings, &plan)
        }
        PlaybookCommand::Run(a) => {
            let found = catalog::find(&a.name, user)?;
            let pb = catalog::open(&found)?;
            let opts = run_options(settings, &a, run_id());
            let (scope, previous) = exec::prepare_run(&pb, &opts)?;
            if let Some(p) = &previous {
                tracing::info!(
                    "resuming run {} of {} at step {}: its parameters and earlier outputs are reused",
                    p.run_id,
                    p.playbook,
                    opts.from_step
                );
            }
            let c = Clients::load(&settings.aws).await?;
            let ports = playbook_ports(settings, &c);
            let plan = exec::plan(
                &pb,
                &mut scope.clone(),
                &ports,
                opts.from_step,
                chrono::Utc::now(),
            )
            .await?;
            if settings.verbosity >= 0 {
                eprint!("{}", plan.human());
                eprintln!();
            }
            confirm_change(
                settings,
                &format!(
                    "Run playbook {} from step {} of {}",
                    pb.name,
                    opts.from_step,
                    pb.steps.len()
                ),
            )?;
            let mut ui = CliInteract { settings };
            let record =
                exec::run(&pb, &plan, scope, previous.as_ref(), &ports, &mut ui, &opts).await?;
            print(settings, &record)
        }
        PlaybookCommand::Init(a) => super::playbook_init::init(&a, settings).await,
    }
}

fn run_options(
    settings: &Settings,
    a: &PlaybookRunArgs,
    run_id: String,
) -> crate::playbook::exec::RunOptions {
    crate::playbook::exec::RunOptions {
        sets: a.sets.clone(),
        yes: settings.yes,
        from_step: a.from_step.unwrap_or(1) as usize,
        resume: a.resume.clone(),
        invoked_as: a.name.clone(),
        state_dir: settings.state_dir.clone(),
        run_id,
        default_bus: a.bus.clone().or_else(|| settings.default_bus.clone()),
        clock: crate::clock::system(),
    }
}
