//! `drain`: resolve the queues (given, or discovered from a bus), validate every input
//! before touching anything, run the engine, and report.

use std::future::Future;
use std::sync::Arc;

use clap::Args;
use serde::{Deserialize, Serialize};

use crate::discovery::{RuleScope, require_bus, scoped_dlqs};
use crate::drain::engine::{DrainConfig, DrainObserver, DrainOutcome, DrainPorts, NoHooks, drain};
use crate::error::{AppError, not_found_as};
use crate::options::{DrainOptions, MessageFilter, QueueOptions};
use crate::ports::bus::BusCatalogue;
use crate::ports::queue::{Queue, QueueRef};

/// The user's drain request: the queues, where to re-emit, and the option families
/// (`crate::options`), each defined once for the flags, playbook steps and the engine.
#[derive(Debug, Clone, Default, PartialEq, Args, Deserialize)]
pub struct DrainRequest {
    /// DLQ to drain: URL, ARN or name (repeatable)
    #[arg(long = "queue", value_name = "Q", required_unless_present = "bus")]
    #[serde(default)]
    pub queues: Vec<String>,
    /// Drain the DLQs behind the rule targets of this bus (of the rules --rule, --event-type and --source pick; all without them)
    #[arg(long)]
    pub bus: Option<String>,
    /// Re-emit to this bus instead of the one in each message's RULE_ARN
    #[arg(long)]
    pub to_bus: Option<String>,
    #[command(flatten)]
    #[serde(flatten)]
    pub filter: MessageFilter,
    #[command(flatten)]
    #[serde(flatten)]
    pub queue: QueueOptions,
    #[command(flatten)]
    #[serde(flatten)]
    pub options: DrainOptions,
}

impl DrainRequest {
    /// Every option readable and within its range (exit 2 otherwise); nothing is called.
    pub fn validate(&self) -> Result<(), AppError> {
        self.filter.validate()?;
        self.options.validate()?;
        self.queue.validate()?;
        no_bus_for_a_target(&self.options, self.to_bus.as_deref(), "--to-bus")
    }
}

/// A bus to re-emit to (`drain --to-bus`, `reemit --bus`) means a bus redrive: with
/// `--to target` each message goes to its own rule target instead, so the two together are
/// refused (exit 2) rather than one silently ignored.
pub(super) fn no_bus_for_a_target(
    options: &DrainOptions,
    bus: Option<&str>,
    flag: &str,
) -> Result<(), AppError> {
    match bus {
        Some(b) if options.to == crate::options::RedriveTo::Target => {
            Err(AppError::usage(format!(
                "{flag} {b} names a bus to re-emit to, but --to target delivers each message to the rule target that dead-lettered it (its TARGET_ARN), not to a bus: drop {flag}, or drop --to target to re-emit to {b}"
            )))
        }
        _ => Ok(()),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DrainReport {
    pub queues: Vec<String>,
    pub ledger: String,
    pub duration_seconds: f64,
    /// Set by `reemit --from FILE`, which reads a file and deletes nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_file: Option<FromFile>,
    /// The park queue `park_queue = "create"` made sure of (created, or found).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub park_queue: Option<ParkQueueNote>,
    #[serde(flatten)]
    pub outcome: DrainOutcome,
}

/// The file a `reemit` read, and how many messages it held.
#[derive(Debug, Clone, Serialize)]
pub struct FromFile {
    pub file: String,
    pub lines: usize,
}

/// `park_queue = "create"`: `<bus>-parked` is created when the drain runs, if missing.
pub const CREATE_PARK_QUEUE: &str = "create";

/// The park queue `park_queue = "create"` makes for a bus: `<bus>-parked`, with each
/// character SQS refuses in a queue name (a partner bus's `/` and `.`) written `-`, and the
/// bus part cut so the name fits SQS's 80 characters.
pub fn parked_queue_name(bus: &str) -> String {
    const SUFFIX: &str = "-parked";
    let safe: String = bus
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(80 - SUFFIX.len())
        .collect();
    format!("{safe}{SUFFIX}")
}

/// Where a drain parks poison messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParkPlan {
    /// Nowhere: poison messages stay in their DLQ and are reported.
    None,
    /// A queue that exists.
    Queue(QueueRef),
    /// This queue, created when the drain runs if it is missing.
    Create(String),
}

/// What a drain resolved besides its engine config: each queue with the rules whose targets
/// feed it (none for a queue named with `--queue`), the warnings of the discovery (a
/// picked rule's target without a DLQ), and where poison goes.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub queues: Vec<(QueueRef, Vec<String>)>,
    pub warnings: Vec<String>,
    pub park: ParkPlan,
}

/// Checks every input and resolves queues; nothing is received yet. The warnings of the
/// discovery are logged (stderr).
pub async fn prepare(
    cat: &dyn BusCatalogue,
    queue: &dyn Queue,
    req: &DrainRequest,
    run_id: String,
) -> Result<DrainConfig, AppError> {
    let (cfg, resolved) = prepare_resolved(cat, queue, req, run_id).await?;
    for w in &resolved.warnings {
        tracing::warn!("{w}");
    }
    Ok(cfg)
}

/// [`prepare`], answering also what was resolved (for a plan to show).
pub async fn prepare_resolved(
    cat: &dyn BusCatalogue,
    queue: &dyn Queue,
    req: &DrainRequest,
    run_id: String,
) -> Result<(DrainConfig, Resolved), AppError> {
    req.validate()?;
    let resolve = |q: String| async move {
        queue
            .resolve(&q)
            .await
            .map_err(|e| not_found_as(e, || format!("queue {q:?} does not exist in this account and region; check --queue and --region")))
    };
    if let Some(b) = &req.to_bus {
        check_bus_exists(cat, b, "--to-bus").await?;
    }
    let mut queues: Vec<(QueueRef, Vec<String>)> = Vec::new();
    for q in &req.queues {
        queues.push((resolve(q.clone()).await?, Vec::new()));
    }
    let mut warnings = Vec::new();
    if let Some(bus) = &req.bus {
        let bus = require_bus(cat, bus).await?;
        let rules = cat.list_rules(&bus.name).await?;
        let ev = &req.filter.events;
        let scoped = scoped_dlqs(
            &bus.name,
            &rules,
            &RuleScope {
                rules: &ev.rules,
                event_types: &ev.event_types,
                sources: &ev.sources,
                type_fields: &ev.type_fields,
            },
        )?;
        if scoped.dlqs.is_empty() {
            return Err(AppError::usage(format!(
                "no rule target on bus {} {}has a dead-letter queue; name queues with --queue",
                bus.name,
                if ev.rules.is_empty() && ev.event_types.is_empty() && ev.sources.is_empty() {
                    String::new()
                } else {
                    format!("of rules {} ", scoped.rules.join(", "))
                }
            )));
        }
        warnings = scoped.warnings;
        for d in scoped.dlqs {
            let mut names: Vec<String> = d.feeds.iter().map(|f| f.rule.clone()).collect();
            names.dedup();
            queues.push((resolve(d.arn).await?, names));
        }
    }
    if queues.is_empty() {
        return Err(AppError::usage(
            "say which DLQs to drain: --queue Q (repeatable) or --bus BUS",
        ));
    }
    // One queue can be spelled many ways (name, URL with any host, ARN): compare ARNs.
    let mut distinct: Vec<(QueueRef, Vec<String>)> = Vec::new();
    for (q, rules) in queues {
        match distinct.iter_mut().find(|(d, _)| same_queue(d, &q)) {
            Some((_, known)) => {
                for r in rules {
                    if !known.contains(&r) {
                        known.push(r);
                    }
                }
            }
            None => distinct.push((q, rules)),
        }
    }
    let drained: Vec<QueueRef> = distinct.iter().map(|(q, _)| q.clone()).collect();
    let park = match req.queue.park_queue.as_deref().filter(|p| !p.is_empty()) {
        None => ParkPlan::None,
        Some(CREATE_PARK_QUEUE) => match &req.bus {
            Some(bus) => ParkPlan::Create(parked_queue_name(bus)),
            None => {
                return Err(AppError::usage(
                    "--park-queue create makes <bus>-parked, so it needs --bus BUS; with --queue only, name an existing park queue",
                ));
            }
        },
        Some(p) => {
            let park = resolve(p.to_string()).await?;
            not_drained(&drained, &park, p)?;
            ParkPlan::Queue(park)
        }
    };
    let mut cfg = DrainConfig::new(drained, run_id);
    cfg.to_bus = req.to_bus.clone();
    cfg.selection = req.filter.selection()?;
    match &park {
        ParkPlan::None => {}
        ParkPlan::Queue(q) => cfg.park_queue = Some(q.clone()),
        ParkPlan::Create(name) => cfg.park_create = Some(name.clone()),
    }
    req.queue.apply(&mut cfg)?;
    req.options.apply(&mut cfg)?;
    Ok((
        cfg,
        Resolved {
            queues: distinct,
            warnings,
            park,
        },
    ))
}

/// Refuses a park queue that is one of the drained queues (exit 2).
fn not_drained(drained: &[QueueRef], park: &QueueRef, asked: &str) -> Result<(), AppError> {
    match drained.iter().find(|q| same_queue(q, park)) {
        Some(q) => Err(AppError::usage(format!(
            "--park-queue {asked} must not be one of the drained queues: it is {} ({}), so poison messages would be parked into the queue they are read from, again and again; name another queue",
            q.name, park.arn
        ))),
        None => Ok(()),
    }
}

/// The park queue a drain made sure of when it started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParkQueueNote {
    pub queue: String,
    /// It was missing and this run created it.
    pub created: bool,
}

impl ParkQueueNote {
    pub fn text(&self) -> String {
        if self.created {
            format!("created park queue {}", self.queue)
        } else {
            format!("park queue {} exists", self.queue)
        }
    }
}

/// `park_queue = "create"` at run time: the queue is used when it exists, else created
/// (CreateQueue is idempotent for the same attributes, so two runs racing get one queue).
async fn ensure_park_queue(
    queue: &dyn Queue,
    cfg: &mut DrainConfig,
) -> Result<Option<ParkQueueNote>, AppError> {
    let Some(name) = cfg.park_create.take() else {
        return Ok(None);
    };
    let (park, created) = match queue.resolve(&name).await {
        Ok(q) => (q, false),
        Err(crate::ports::PortError::NotFound(_)) => (queue.create_queue(&name).await?, true),
        Err(e) => return Err(e.into()),
    };
    not_drained(&cfg.queues, &park, CREATE_PARK_QUEUE)?;
    let note = ParkQueueNote {
        queue: park.name.clone(),
        created,
    };
    tracing::info!("{}", note.text());
    cfg.park_queue = Some(park);
    Ok(Some(note))
}

/// Runs a prepared drain.
pub async fn run<I: Future<Output = crate::interrupt::Signal> + Send + 'static>(
    mut cfg: DrainConfig,
    ports: DrainPorts,
    observer: Arc<dyn DrainObserver>,
    interrupt: I,
) -> Result<DrainReport, AppError> {
    let started = std::time::Instant::now();
    let park_queue = if cfg.dry_run {
        // A dry run creates nothing: a missing park queue is only named (nothing is sent).
        if let Some(name) = cfg.park_create.take() {
            cfg.park_queue = Some(match ports.queue.resolve(&name).await {
                Ok(q) => q,
                Err(_) => QueueRef {
                    name,
                    url: String::new(),
                    arn: String::new(),
                },
            });
        }
        None
    } else {
        ensure_park_queue(ports.queue.as_ref(), &mut cfg).await?
    };
    let queues = cfg.queues.iter().map(|q| q.name.clone()).collect();
    let ledger = ports
        .ledger
        .as_ref()
        .map(|l| l.describe())
        .unwrap_or_else(|| "none".into());
    let outcome = drain(cfg, ports, Arc::new(NoHooks), observer, interrupt).await?;
    Ok(DrainReport {
        queues,
        ledger,
        duration_seconds: started.elapsed().as_secs_f64(),
        from_file: None,
        park_queue,
        outcome,
    })
}

/// A bus named by a flag is checked before anything is received: a bus that does not exist
/// is a usage error. Re-emitting needs only `events:PutEvents`, so a check that cannot be
/// made (no `events:DescribeEventBus`, an error) is logged and the run goes on.
pub async fn check_bus_exists(
    cat: &dyn BusCatalogue,
    bus: &str,
    flag: &str,
) -> Result<(), AppError> {
    match crate::discovery::require_bus_of(cat, bus, flag).await {
        Ok(_) => Ok(()),
        Err(e @ AppError::NotFound(_)) => Err(e),
        Err(e) => {
            tracing::warn!(bus, error = %e, "could not check that the bus exists; going on");
            Ok(())
        }
    }
}

/// Whether two resolved queues are one: by ARN (from GetQueueAttributes), which every
/// spelling of a queue shares; by URL only when an ARN is missing.
fn same_queue(a: &QueueRef, b: &QueueRef) -> bool {
    if a.arn.is_empty() || b.arn.is_empty() {
        a.url == b.url
    } else {
        a.arn == b.arn
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit_codes;
    use crate::memory::eventbridge::MemoryEventBridge;
    use crate::output::Report;
    use crate::ports::PortError;
    use std::time::Duration;

    #[tokio::test]
    async fn every_numeric_input_is_checked_against_its_range_before_anything_is_received() {
        let eb = MemoryEventBridge::new();
        let sqs = crate::memory::sqs::MemoryQueue::new();
        sqs.create("dlq");
        sqs.push("dlq", "{}", Default::default());
        let ok = DrainRequest {
            queues: vec!["dlq".into()],
            ..DrainRequest::default()
        };
        assert!(prepare(&eb, &sqs, &ok, "run".into()).await.is_ok());
        let year = Duration::from_secs(365 * 86_400);
        let opts = |o: DrainOptions| DrainRequest {
            options: o,
            ..ok.clone()
        };
        let queue = |q: QueueOptions| DrainRequest {
            queue: q,
            ..ok.clone()
        };
        let d = DrainOptions::default;
        let q = QueueOptions::default;
        let bad: Vec<(&str, DrainRequest)> = vec![
            (
                "--concurrency",
                opts(DrainOptions {
                    concurrency: Some(30_000),
                    ..d()
                }),
            ),
            (
                "--concurrency",
                opts(DrainOptions {
                    concurrency: Some(0),
                    ..d()
                }),
            ),
            (
                "--max-messages",
                queue(QueueOptions {
                    max_messages: Some(0),
                    ..q()
                }),
            ),
            (
                "--rate",
                opts(DrainOptions {
                    rate: Some(0.0),
                    ..d()
                }),
            ),
            (
                "--rate",
                opts(DrainOptions {
                    rate: Some(1e9),
                    ..d()
                }),
            ),
            (
                "--size-limit",
                opts(DrainOptions {
                    size_limit: Some(2 << 20),
                    ..d()
                }),
            ),
            (
                "--max-redrives",
                opts(DrainOptions {
                    max_redrives: 0,
                    ..d()
                }),
            ),
            (
                "--max-duration",
                queue(QueueOptions {
                    max_duration: Some(Duration::ZERO),
                    ..q()
                }),
            ),
            (
                "--visibility-timeout",
                queue(QueueOptions {
                    visibility_timeout: Some(Duration::from_secs(43_201)),
                    ..q()
                }),
            ),
            (
                "--receive-wait",
                queue(QueueOptions {
                    receive_wait: Some(Duration::from_secs(21)),
                    ..q()
                }),
            ),
            (
                "--claim-timeout",
                queue(QueueOptions {
                    claim_timeout: Some(year * 300_000),
                    ..q()
                }),
            ),
            (
                "--claim-timeout",
                queue(QueueOptions {
                    claim_timeout: Some(Duration::from_secs(8 * 86_400)),
                    ..q()
                }),
            ),
            (
                "--pattern",
                DrainRequest {
                    filter: MessageFilter {
                        pattern: Some("{".into()),
                        ..MessageFilter::default()
                    },
                    ..ok.clone()
                },
            ),
        ];
        for (flag, req) in bad {
            let e = prepare(&eb, &sqs, &req, "run".into()).await.unwrap_err();
            assert_eq!(e.exit_code(), exit_codes::USAGE, "{flag}: {e}");
            assert!(e.to_string().starts_with(flag), "{flag}: {e}");
        }
        assert_eq!(sqs.messages("dlq").len(), 1);
        assert_eq!(sqs.in_flight("dlq"), 0, "nothing was received");
    }

    /// A partner bus (named like its source, with slashes) is drained through the DLQs its
    /// rules' targets name, and the rule ARN keeps the whole bus.
    #[tokio::test]
    async fn the_dlqs_of_a_partner_bus_are_found() {
        use crate::ports::bus::{RuleInfo, TargetInfo};
        const BUS: &str = "aws.partner/stripe.com/ed_XYZ";
        let rule_arn = format!("arn:aws:events:us-east-2:123456789012:rule/{BUS}/RULE");
        let eb = MemoryEventBridge::new();
        eb.add_bus(BUS);
        let sqs = crate::memory::sqs::MemoryQueue::new();
        let dlq = sqs.create("partner-dlq");
        eb.add_rule(
            BUS,
            RuleInfo {
                name: "RULE".into(),
                arn: rule_arn.clone(),
                state: "ENABLED".into(),
                event_pattern: None,
                schedule_expression: None,
                managed_by: None,
                description: None,
                targets: vec![TargetInfo {
                    id: "t".into(),
                    arn: "arn:aws:sqs:us-east-2:123456789012:consumer".into(),
                    dlq_arn: Some(dlq.arn.clone()),
                    ..TargetInfo::default()
                }],
            },
        );
        let req = DrainRequest {
            bus: Some(BUS.into()),
            options: DrainOptions {
                to: crate::options::RedriveTo::Target,
                ..DrainOptions::default()
            },
            ..DrainRequest::default()
        };
        let cfg = prepare(&eb, &sqs, &req, "run".into()).await.unwrap();
        assert_eq!(cfg.queues.len(), 1);
        assert_eq!(cfg.queues[0].arn, dlq.arn);
        let parsed = crate::arn::RuleArn::parse(&rule_arn).unwrap();
        assert_eq!((parsed.bus.as_str(), parsed.name.as_str()), (BUS, "RULE"));
    }

    #[tokio::test]
    async fn a_bus_to_re_emit_to_is_refused_with_a_target_redrive() {
        let eb = MemoryEventBridge::new();
        eb.add_bus("capture");
        let sqs = crate::memory::sqs::MemoryQueue::new();
        sqs.create("dlq");
        let req = DrainRequest {
            queues: vec!["dlq".into()],
            to_bus: Some("capture".into()),
            options: DrainOptions {
                to: crate::options::RedriveTo::Target,
                ..DrainOptions::default()
            },
            ..DrainRequest::default()
        };
        let e = prepare(&eb, &sqs, &req, "run".into()).await.unwrap_err();
        assert_eq!(e.exit_code(), exit_codes::USAGE);
        assert!(
            e.to_string()
                .starts_with("--to-bus capture names a bus to re-emit to, but --to target"),
            "{e}"
        );
        let bus = DrainRequest {
            options: DrainOptions::default(),
            ..req
        };
        assert!(prepare(&eb, &sqs, &bus, "run".into()).await.is_ok());
    }

    #[tokio::test]
    async fn a_target_redrive_reaches_the_engine_config() {
        let eb = MemoryEventBridge::new();
        let sqs = crate::memory::sqs::MemoryQueue::new();
        sqs.create("dlq");
        let req = DrainRequest {
            queues: vec!["dlq".into()],
            options: DrainOptions {
                to: crate::options::RedriveTo::Target,
                invoke: crate::options::Invoke::Async,
                ..DrainOptions::default()
            },
            ..DrainRequest::default()
        };
        let cfg = prepare(&eb, &sqs, &req, "run".into()).await.unwrap();
        assert_eq!(
            cfg.redrive,
            crate::drain::engine::Redrive::Target {
                invocation: crate::ports::delivery::InvocationType::Event
            }
        );
    }

    #[tokio::test]
    async fn a_named_bus_that_does_not_exist_is_refused_one_that_cannot_be_checked_is_not() {
        let eb = MemoryEventBridge::new();
        eb.add_bus("capture");
        assert!(check_bus_exists(&eb, "capture", "--to-bus").await.is_ok());
        let err = check_bus_exists(&eb, "nope", "--to-bus").await.unwrap_err();
        assert_eq!(err.exit_code(), exit_codes::USAGE);
        assert!(err.to_string().contains("check --to-bus"), "{err}");
        // Only events:PutEvents granted: the check is skipped, the drain goes on.
        eb.fail_describe_bus(PortError::Denied(
            "DescribeEventBus: AccessDeniedException: no".into(),
        ));
        assert!(check_bus_exists(&eb, "nope", "--to-bus").await.is_ok());
    }

    /// The billing bus of the replay fixtures, each rule target with a DLQ `<rule>-dlq` in
    /// the memory queue but the customer rule's.
    fn billing() -> (MemoryEventBridge, crate::memory::sqs::MemoryQueue) {
        use crate::replay::fixtures::BUS;
        let eb = MemoryEventBridge::new();
        eb.add_bus(BUS);
        let sqs = crate::memory::sqs::MemoryQueue::new();
        for r in crate::discovery::tests::rules_with_dlqs() {
            if let Some(d) = &r.targets[0].dlq_arn {
                sqs.create(crate::discovery::arn_name(d));
            }
            eb.add_rule(BUS, r);
        }
        (eb, sqs)
    }

    fn by_bus(rules: &[&str], types: &[&str]) -> DrainRequest {
        let mut req = DrainRequest {
            bus: Some(crate::replay::fixtures::BUS.into()),
            ..DrainRequest::default()
        };
        req.filter.events.rules = rules.iter().map(|r| r.to_string()).collect();
        req.filter.events.event_types = types.iter().map(|r| r.to_string()).collect();
        req
    }

    #[tokio::test]
    async fn a_bus_drain_takes_the_dlqs_of_the_rules_matching_the_globs_and_types() {
        let (eb, sqs) = billing();
        let names = |r: &Resolved| -> Vec<(String, Vec<String>)> {
            r.queues
                .iter()
                .map(|(q, rules)| (q.name.clone(), rules.clone()))
                .collect()
        };
        let (cfg, r) = prepare_resolved(&eb, &sqs, &by_bus(&[], &[]), "run".into())
            .await
            .unwrap();
        assert_eq!(cfg.queues.len(), 3, "every rule's DLQ");
        assert_eq!(r.park, ParkPlan::None);
        // The customer rule's target has no DLQ: a warning, not an error.
        assert_eq!(r.warnings.len(), 1);
        assert!(
            r.warnings[0].starts_with("rule customer: target t"),
            "{:?}",
            r.warnings
        );
        let (_, r) = prepare_resolved(&eb, &sqs, &by_bus(&["*sub*"], &[]), "run".into())
            .await
            .unwrap();
        assert_eq!(
            names(&r),
            [(
                "subscription-dlq".to_string(),
                vec!["subscription".to_string()]
            )]
        );
        assert!(r.warnings.is_empty());
        let (_, r) = prepare_resolved(
            &eb,
            &sqs,
            &by_bus(&[], &["invoice.payment_failed"]),
            "run".into(),
        )
        .await
        .unwrap();
        assert_eq!(
            names(&r),
            [("payment-dlq".to_string(), vec!["payment".to_string()])]
        );
        // Nothing matches: exit 2, naming the rules there are.
        let e = prepare(&eb, &sqs, &by_bus(&["*refund*"], &[]), "run".into())
            .await
            .unwrap_err();
        assert_eq!(e.exit_code(), exit_codes::USAGE);
        assert!(
            e.to_string()
                .contains("its rules: subscription, payment, customer, monitoring"),
            "{e}"
        );
        // Matching rules whose targets have no DLQ: exit 2 too, the warning said why.
        let e = prepare(&eb, &sqs, &by_bus(&["customer"], &[]), "run".into())
            .await
            .unwrap_err();
        assert_eq!(e.exit_code(), exit_codes::USAGE);
        assert!(
            e.to_string()
                .contains("of rules customer has a dead-letter queue"),
            "{e}"
        );
        // A bus none of whose targets has a DLQ, asked whole: the bus is named, no rules.
        let bare = MemoryEventBridge::new();
        bare.add_bus("plain");
        bare.add_rule("plain", crate::replay::fixtures::rule("only", "{}"));
        let whole = |bus: &str| DrainRequest {
            bus: Some(bus.into()),
            ..DrainRequest::default()
        };
        let e = prepare(&bare, &sqs, &whole("plain"), "run".into())
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "no rule target on bus plain has a dead-letter queue; name queues with --queue"
        );
        let empty = MemoryEventBridge::new();
        empty.add_bus("empty");
        let e = prepare(&empty, &sqs, &whole("empty"), "run".into())
            .await
            .unwrap_err();
        assert_eq!(e.exit_code(), exit_codes::USAGE);
        assert!(e.to_string().contains("bus empty has no rule"), "{e}");
    }

    #[tokio::test]
    async fn park_queue_create_needs_a_bus_and_an_empty_name_means_none() {
        let (eb, sqs) = billing();
        let mut req = DrainRequest {
            queues: vec!["payment-dlq".into()],
            ..DrainRequest::default()
        };
        req.queue.park_queue = Some("create".into());
        let e = prepare(&eb, &sqs, &req, "run".into()).await.unwrap_err();
        assert_eq!(e.exit_code(), exit_codes::USAGE);
        assert!(e.to_string().contains("needs --bus BUS"), "{e}");
        req.queue.park_queue = Some(String::new());
        let (cfg, r) = prepare_resolved(&eb, &sqs, &req, "run".into())
            .await
            .unwrap();
        assert_eq!((cfg.park_queue, r.park), (None, ParkPlan::None));
        let mut req = by_bus(&["pay*"], &[]);
        req.queue.park_queue = Some("create".into());
        let (cfg, r) = prepare_resolved(&eb, &sqs, &req, "run".into())
            .await
            .unwrap();
        assert_eq!(r.park, ParkPlan::Create("billing-parked".into()));
        assert_eq!(cfg.park_create.as_deref(), Some("billing-parked"));
        assert!(
            sqs.resolve("billing-parked").await.is_err(),
            "planning creates nothing"
        );
    }

    #[test]
    fn the_park_queue_name_fits_sqs() {
        assert_eq!(parked_queue_name("billing"), "billing-parked");
        assert_eq!(
            parked_queue_name("aws.partner/stripe.com/ed_1"),
            "aws-partner-stripe-com-ed_1-parked"
        );
        let long = parked_queue_name(&"b".repeat(100));
        assert_eq!(long.len(), 80);
        assert!(long.ends_with("-parked"));
    }

    #[tokio::test]
    async fn park_queue_create_makes_bus_parked_once_and_poison_goes_there() {
        let (eb, sqs) = billing();
        let ports = || DrainPorts {
            queue: Arc::new(sqs.clone()),
            sink: Arc::new(eb.clone()),
            ledger: None,
            rules: Some(Arc::new(eb.clone())),
            delivery: None,
            clock: crate::clock::system(),
        };
        let mut req = by_bus(&["pay*"], &[]);
        req.queue.park_queue = Some("create".into());
        req.queue.receive_wait = Some(Duration::ZERO);
        let quiet = || -> Arc<dyn DrainObserver> { Arc::new(crate::drain::engine::QuietDrain) };
        let never = || std::future::pending::<crate::interrupt::Signal>();
        for (round, created) in [(0, true), (1, false)] {
            sqs.push("payment-dlq", "not json", Default::default());
            let cfg = prepare(&eb, &sqs, &req, format!("run-{round}"))
                .await
                .unwrap();
            let r = run(cfg, ports(), quiet(), never()).await.unwrap();
            let note = r.park_queue.clone().unwrap();
            assert_eq!(
                note,
                ParkQueueNote {
                    queue: "billing-parked".into(),
                    created
                }
            );
            assert_eq!(r.outcome.counts.parked, 1, "round {round}");
            assert!(r.human().contains(&note.text()), "{}", r.human());
        }
        assert_eq!(note_text(true), "created park queue billing-parked");
        assert_eq!(note_text(false), "park queue billing-parked exists");
        assert_eq!(sqs.messages("billing-parked").len(), 2);
        assert!(sqs.messages("payment-dlq").is_empty());
    }

    fn note_text(created: bool) -> String {
        ParkQueueNote {
            queue: "billing-parked".into(),
            created,
        }
        .text()
    }

    #[tokio::test]
    async fn without_a_park_queue_poison_stays_in_its_dlq_and_is_reported() {
        let (eb, sqs) = billing();
        sqs.push("payment-dlq", "not json", Default::default());
        let mut req = by_bus(&["payment"], &[]);
        req.queue.receive_wait = Some(Duration::ZERO);
        let cfg = prepare(&eb, &sqs, &req, "run".into()).await.unwrap();
        let ports = DrainPorts {
            queue: Arc::new(sqs.clone()),
            sink: Arc::new(eb.clone()),
            ledger: None,
            rules: Some(Arc::new(eb.clone())),
            delivery: None,
            clock: crate::clock::system(),
        };
        let r = run(
            cfg,
            ports,
            Arc::new(crate::drain::engine::QuietDrain),
            std::future::pending::<crate::interrupt::Signal>(),
        )
        .await
        .unwrap();
        assert!(r.park_queue.is_none());
        assert_eq!((r.outcome.counts.parked, r.outcome.counts.failed), (0, 1));
        assert_eq!(r.exit_code(), exit_codes::PARTIAL);
        assert_eq!(sqs.messages("payment-dlq").len(), 1);
    }
}
