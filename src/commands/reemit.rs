//! `reemit --from FILE.jsonl`: re-emit exported messages with the same dedup, ledger, size
//! and range rules as a drain. The file is loaded into a `FileQueue` (one queue per queue it
//! was exported from, carrying that queue's ARN) and drained from there, so the one engine
//! serves both; nothing is deleted from any real queue.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::dlq_export::{ExportedMessage, read};
use crate::drain::engine::{DrainConfig, DrainObserver, DrainPorts, Redrive};
use crate::drain::file_queue::FileQueue;
use crate::error::AppError;
use crate::interrupt::Signal;
use crate::options::DrainOptions;
use crate::ports::PortError;
use crate::ports::bus::BusCatalogue;
use crate::ports::queue::{BatchEntry, BatchFailure, Queue, QueueDepth, QueueRef, ReceivedMessage};
use async_trait::async_trait;
use clap::Args;
use serde::Deserialize;

use super::drain::{DrainReport, FromFile};

/// The user's reemit request: the file, the destination, and the options a drain has too.
#[derive(Debug, Clone, Default, PartialEq, Args, Deserialize)]
pub struct ReemitRequest {
    /// A file written by `dlq export`
    #[arg(long)]
    #[serde(default)]
    pub from: PathBuf,
    /// Re-emit to this bus instead of the one in each message's RULE_ARN
    #[arg(long)]
    pub bus: Option<String>,
    #[command(flatten)]
    #[serde(flatten)]
    pub options: DrainOptions,
}

/// Checks every option (the very checks of a drain) and builds the engine's config.
pub fn config(req: &ReemitRequest, run_id: String) -> Result<DrainConfig, AppError> {
    let mut cfg = DrainConfig::new(Vec::new(), run_id);
    req.options.apply(&mut cfg)?;
    super::drain::no_bus_for_a_target(&req.options, req.bus.as_deref(), "--bus")?;
    cfg.to_bus = req.bus.clone();
    cfg.receive_wait = Duration::ZERO;
    Ok(cfg)
}

/// Checks everything before anything is re-emitted: the options, that `--bus` exists (when
/// it can be checked), and that the file reads; answers the engine's config.
pub async fn prepare(
    cat: &dyn BusCatalogue,
    req: &ReemitRequest,
    run_id: String,
) -> Result<DrainConfig, AppError> {
    let cfg = config(req, run_id)?;
    if let Some(b) = &req.bus {
        super::drain::check_bus_exists(cat, b, "--bus").await?;
    }
    let lines = read(&req.from)?;
    if matches!(cfg.redrive, Redrive::Target { .. }) {
        targets_named(&req.from, &lines)?;
    }
    Ok(cfg)
}

/// The message attributes a `--to target` redrive reads the rule and the target from.
const TARGET_ATTRIBUTES: [&str; 2] = ["RULE_ARN", "TARGET_ARN"];

/// `--to target` needs each line's RULE_ARN and TARGET_ARN (EventBridge sets both on every
/// message it dead-letters, and `dlq export` keeps every attribute): a file with lines
/// without them is refused before anything is delivered (exit 2).
fn targets_named(path: &Path, lines: &[ExportedMessage]) -> Result<(), AppError> {
    let lacking: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            TARGET_ATTRIBUTES
                .iter()
                .any(|a| l.attributes.get(*a).is_none_or(|v| v.is_empty()))
        })
        .map(|(i, _)| i + 1)
        .collect();
    match lacking.first() {
        None => Ok(()),
        Some(first) => Err(AppError::usage(format!(
            "{}: {} of {} messages carry no RULE_ARN or TARGET_ARN attribute (the first is message {first}): --to target delivers each message to the rule target that dead-lettered it, which those attributes name; export the queue with `nexus-replay dlq export` (which keeps them), or re-emit to a bus (without --to target)",
            path.display(),
            lacking.len(),
            lines.len()
        ))),
    }
}

/// Loads the file into a [`FileQueue`], one queue per exported queue (by name and ARN);
/// answers it, its queues and the number of messages.
pub async fn load(path: &Path) -> Result<(FileQueue, Vec<QueueRef>, usize), AppError> {
    let lines = read(path)?;
    let count = lines.len();
    let mem = FileQueue::new(&path.display().to_string());
    let mut queues: BTreeMap<(String, String), QueueRef> = BTreeMap::new();
    for l in lines {
        let arn = l.queue_arn.clone().unwrap_or_default();
        let namesakes = queues.keys().filter(|(name, _)| *name == l.queue).count();
        let q = queues
            .entry((l.queue.clone(), arn.clone()))
            .or_insert_with(|| {
                // Two exported queues of one name (in two accounts) stay apart.
                let name = match namesakes {
                    0 => l.queue.clone(),
                    n => format!("{}#{}", l.queue, n + 1),
                };
                mem.add_queue(&name, &arn)
            });
        let mut attrs: BTreeMap<String, String> = l.attributes.clone();
        attrs
            .entry("NEXUS_REPLAY_EXPORTED_FROM".into())
            .or_insert(l.queue.clone());
        mem.push(&q.name, &l.body, attrs);
    }
    Ok((mem, queues.into_values().collect(), count))
}

/// Re-emits every message of the file; on `interrupt` it stops as a drain does.
pub async fn reemit<I: Future<Output = Signal> + Send + 'static>(
    path: &Path,
    mut cfg: DrainConfig,
    ports: DrainPorts,
    observer: Arc<dyn DrainObserver>,
    interrupt: I,
) -> Result<DrainReport, AppError> {
    if matches!(cfg.redrive, Redrive::Target { .. }) {
        targets_named(path, &read(path)?)?;
    }
    let (mem, queues, lines) = load(path).await?;
    let file = path.display().to_string();
    cfg.queues = queues;
    cfg.park_queue = None;
    let ports = DrainPorts {
        queue: Arc::new(FileThenAccount {
            file: mem,
            account: ports.queue.clone(),
        }),
        ..ports
    };
    let mut report = super::drain::run(cfg, ports, observer, interrupt).await?;
    // The file's queues are this run's own: removing a message from them deletes nothing
    // anywhere.
    let o = &mut report.outcome;
    o.counts.deleted = 0;
    o.counts.released = 0;
    if !o.interrupted {
        o.stopped_because = if lines == 0 {
            format!("{file} has no messages")
        } else {
            format!("every line of {file} was read")
        };
    }
    report.from_file = Some(FromFile { file, lines });
    Ok(report)
}

/// The file's queues, read as a drain reads its DLQs; any other queue is resolved in the
/// account: a `--to target` redrive resolves the URL of each SQS target through the queue
/// port, and those queues are not in the file (nothing else is asked of them here).
struct FileThenAccount {
    file: FileQueue,
    account: Arc<dyn Queue>,
}

#[async_trait]
impl Queue for FileThenAccount {
    async fn resolve(&self, queue: &str) -> Result<QueueRef, PortError> {
        match self.file.resolve(queue).await {
            Ok(q) => Ok(q),
            Err(_) => self.account.resolve(queue).await,
        }
    }
    async fn create_queue(&self, name: &str) -> Result<QueueRef, PortError> {
        self.account.create_queue(name).await
    }
    async fn depth(&self, url: &str) -> Result<QueueDepth, PortError> {
        self.file.depth(url).await
    }
    async fn receive(
        &self,
        url: &str,
        max: u8,
        wait: Duration,
        visibility: Option<Duration>,
    ) -> Result<Vec<ReceivedMessage>, PortError> {
        self.file.receive(url, max, wait, visibility).await
    }
    async fn delete_batch(
        &self,
        url: &str,
        entries: &[BatchEntry],
    ) -> Result<Vec<BatchFailure>, PortError> {
        self.file.delete_batch(url, entries).await
    }
    async fn change_visibility_batch(
        &self,
        url: &str,
        entries: &[BatchEntry],
        timeout: Duration,
    ) -> Result<Vec<BatchFailure>, PortError> {
        self.file
            .change_visibility_batch(url, entries, timeout)
            .await
    }
    async fn send(
        &self,
        url: &str,
        body: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<String, PortError> {
        self.file.send(url, body, attributes).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drain::engine::QuietDrain;
    use crate::drain::tests::{RULE_ARN, attrs, body};
    use crate::memory::eventbridge::MemoryEventBridge;
    use crate::memory::sqs::MemoryQueue;
    use crate::output::Report;

    const DLQ_ARN: &str = "arn:aws:sqs:us-east-2:123456789012:subs-dlq";

    fn line(i: usize, queue_arn: Option<&str>, rule_arn: &str) -> String {
        let mut a = attrs();
        a.insert("RULE_ARN".into(), rule_arn.into());
        serde_json::to_string(&ExportedMessage {
            queue: "subs-dlq".into(),
            queue_arn: queue_arn.map(str::to_string),
            message_id: format!("m-{i}"),
            body: body(i),
            attributes: a,
            sent_at: None,
            receive_count: 1,
        })
        .unwrap()
    }

    struct Run {
        report: DrainReport,
        eb: MemoryEventBridge,
    }

    async fn run(text: &str, req: ReemitRequest) -> Run {
        let dir = std::env::temp_dir().join(format!("reemit-{}", crate::ids::random_hex(8)));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("dlq.jsonl");
        std::fs::write(&path, text).unwrap();
        let eb = MemoryEventBridge::new();
        let ports = memory_ports(&eb);
        let cfg = config(&req, "run-r".into()).unwrap();
        let report = reemit(
            &path,
            cfg,
            ports,
            Arc::new(QuietDrain),
            std::future::pending(),
        )
        .await
        .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        Run { report, eb }
    }

    /// Ports on an in-memory bus (also the rule catalogue), without a ledger: `reemit`
    /// replaces the queue with its file.
    fn memory_ports(eb: &MemoryEventBridge) -> DrainPorts {
        DrainPorts {
            queue: Arc::new(MemoryQueue::new()),
            sink: Arc::new(eb.clone()),
            ledger: None,
            rules: Some(Arc::new(eb.clone())),
            delivery: None,
            clock: crate::clock::system(),
        }
    }

    fn req() -> ReemitRequest {
        ReemitRequest::default()
    }

    #[tokio::test(start_paused = true)]
    async fn a_file_is_reported_as_lines_and_nothing_is_said_deleted() {
        let text: String = (0..3)
            .map(|i| line(i, Some(DLQ_ARN), RULE_ARN) + "\n")
            .collect();
        let r = run(&text, req()).await;
        let c = &r.report.outcome.counts;
        assert_eq!((c.received, c.reemitted, c.deleted), (3, 3, 0));
        assert_eq!(r.eb.accepted().len(), 3);
        let human = r.report.human();
        assert!(human.contains("re-emitted 3 of 3 lines"), "{human}");
        assert!(!human.contains("deleted"), "{human}");
        assert!(!human.contains("is empty"), "{human}");
        assert!(!human.contains("Drain "), "{human}");
        let json = serde_json::to_value(&r.report).unwrap();
        assert_eq!(json["from_file"]["lines"], 3);
        assert_eq!(json["counts"]["deleted"], 0);
        assert_eq!(json["queues"], serde_json::json!(["subs-dlq"]));
    }

    #[tokio::test(start_paused = true)]
    async fn an_empty_file_has_no_messages() {
        let r = run("", req()).await;
        let human = r.report.human();
        assert!(human.contains("dlq.jsonl has no messages"), "{human}");
        assert!(
            !human.contains("empty") && !human.contains("deleted"),
            "{human}"
        );
        assert_eq!(r.report.exit_code(), crate::exit_codes::SUCCESS);
    }

    #[tokio::test(start_paused = true)]
    async fn rule_arns_are_checked_against_the_exported_queue() {
        let foreign = "arn:aws:events:eu-west-1:123456789012:rule/billing/subscription-rule";
        let text = [
            line(0, Some(DLQ_ARN), RULE_ARN),
            line(1, Some(DLQ_ARN), foreign),
            // Written before exports recorded the queue's ARN: nothing to check against.
            line(2, None, RULE_ARN),
        ]
        .join("\n");
        let r = run(&text, req()).await;
        let o = &r.report.outcome;
        assert_eq!(o.counts.reemitted, 1);
        assert_eq!(o.counts.failed, 2);
        assert_eq!(r.eb.accepted()[0].bus, "billing");
        let reasons: Vec<&str> = o.failures.iter().map(|f| f.reason.as_str()).collect();
        assert!(
            reasons.iter().any(|r| r.contains("in eu-west-1")),
            "{reasons:?}"
        );
        assert!(
            reasons.iter().any(|r| r.contains("cannot be checked")),
            "{reasons:?}"
        );
        assert_eq!(r.report.exit_code(), crate::exit_codes::PARTIAL);

        // --bus names the destination: no RULE_ARN is needed.
        let r = run(
            &text,
            ReemitRequest {
                bus: Some("capture".into()),
                ..req()
            },
        )
        .await;
        assert_eq!(r.report.outcome.counts.reemitted, 3);
    }

    #[test]
    fn reemit_options_have_the_drains_ranges() {
        let d = DrainOptions::default;
        for (flag, bad) in [
            (
                "--rate",
                DrainOptions {
                    rate: Some(0.0),
                    ..d()
                },
            ),
            (
                "--size-limit",
                DrainOptions {
                    size_limit: Some(10),
                    ..d()
                },
            ),
            (
                "--max-redrives",
                DrainOptions {
                    max_redrives: 0,
                    ..d()
                },
            ),
            (
                "--concurrency",
                DrainOptions {
                    concurrency: Some(0),
                    ..d()
                },
            ),
        ] {
            let bad = ReemitRequest {
                options: bad,
                ..req()
            };
            let e = config(&bad, "run".into()).unwrap_err();
            assert_eq!(e.exit_code(), crate::exit_codes::USAGE, "{bad:?}");
            assert!(e.to_string().starts_with(flag), "{flag}: {e}");
        }
    }

    #[tokio::test]
    async fn prepare_refuses_a_missing_bus_or_file_before_anything_is_put() {
        let eb = MemoryEventBridge::new();
        let missing = ReemitRequest {
            from: std::env::temp_dir().join("nr-no-such-export.jsonl"),
            ..req()
        };
        let e = prepare(&eb, &missing, "r".into()).await.unwrap_err();
        assert_ne!(e.exit_code(), crate::exit_codes::SUCCESS);
        let e = prepare(
            &eb,
            &ReemitRequest {
                bus: Some("nope".into()),
                ..missing
            },
            "r".into(),
        )
        .await
        .unwrap_err();
        assert!(e.to_string().contains("--bus"), "{e}");
        assert!(eb.accepted().is_empty());
    }

    #[tokio::test]
    async fn a_target_redrive_needs_each_lines_rule_and_target_and_no_bus() {
        let dir = std::env::temp_dir().join(format!("nr-reemit-{}", crate::ids::random_hex(8)));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("dlq.jsonl");
        let target = |from: &Path| ReemitRequest {
            from: from.to_path_buf(),
            options: DrainOptions {
                to: crate::options::RedriveTo::Target,
                ..DrainOptions::default()
            },
            ..req()
        };
        let eb = MemoryEventBridge::new();
        eb.add_bus("capture");
        // An export keeps every attribute: RULE_ARN and TARGET_ARN come along.
        let mut lines: Vec<String> = (0..2).map(|i| line(i, Some(DLQ_ARN), RULE_ARN)).collect();
        std::fs::write(&file, lines.join("\n")).unwrap();
        let cfg = prepare(&eb, &target(&file), "r".into()).await.unwrap();
        assert!(matches!(cfg.redrive, Redrive::Target { .. }));
        // A line written by hand without them: refused, before anything is delivered.
        let mut bare: ExportedMessage = serde_json::from_str(&lines[0]).unwrap();
        bare.attributes.remove("TARGET_ARN");
        lines.push(serde_json::to_string(&bare).unwrap());
        std::fs::write(&file, lines.join("\n")).unwrap();
        let e = prepare(&eb, &target(&file), "r".into()).await.unwrap_err();
        assert_eq!(e.exit_code(), crate::exit_codes::USAGE);
        assert!(
            e.to_string().contains(
                "1 of 3 messages carry no RULE_ARN or TARGET_ARN attribute (the first is message 3)"
            ),
            "{e}"
        );
        // The playbook step path (config, then reemit) refuses it too.
        let ports = memory_ports(&eb);
        let cfg = config(&target(&file), "r".into()).unwrap();
        let e = reemit(
            &file,
            cfg,
            ports,
            Arc::new(QuietDrain),
            std::future::pending(),
        )
        .await
        .unwrap_err();
        assert_eq!(e.exit_code(), crate::exit_codes::USAGE);
        // In bus mode the same file is fine.
        assert!(
            prepare(
                &eb,
                &ReemitRequest {
                    from: file.clone(),
                    ..req()
                },
                "r".into()
            )
            .await
            .is_ok()
        );
        // --bus and --to target together: refused.
        let e = config(
            &ReemitRequest {
                bus: Some("capture".into()),
                ..target(&file)
            },
            "r".into(),
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), crate::exit_codes::USAGE);
        assert!(
            e.to_string().starts_with("--bus capture names a bus"),
            "{e}"
        );
        assert!(eb.accepted().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A target redrive resolves its SQS targets through the queue port: the file's queues
    /// come from the file, any other from the account.
    #[tokio::test]
    async fn queues_not_in_the_file_are_resolved_in_the_account() {
        let account = MemoryQueue::new();
        let consumer = account.create("consumer");
        let file = FileQueue::new("dlq.jsonl");
        let exported = file.add_queue("subs-dlq", DLQ_ARN);
        let both = FileThenAccount {
            file,
            account: Arc::new(account.clone()),
        };
        assert_eq!(both.resolve(DLQ_ARN).await.unwrap(), exported);
        assert_eq!(both.resolve(&consumer.arn).await.unwrap(), consumer);
        assert!(
            both.resolve("arn:aws:sqs:us-east-2:123456789012:nowhere")
                .await
                .is_err()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn sigterm_stops_a_reemit_which_a_rerun_finishes_without_a_second_put() {
        use crate::memory::ledger::MemoryLedger;
        use std::time::Duration;
        let dir = std::env::temp_dir().join(format!("nr-reemit-{}", crate::ids::random_hex(8)));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("dlq.jsonl");
        let lines: Vec<String> = (0..40)
            .map(|i| {
                serde_json::to_string(&ExportedMessage {
                    queue: "subs-dlq".into(),
                    queue_arn: Some(DLQ_ARN.into()),
                    message_id: format!("m-{i}"),
                    body: body(i),
                    attributes: attrs(),
                    sent_at: None,
                    receive_count: 1,
                })
                .unwrap()
            })
            .collect();
        std::fs::write(&file, lines.join("\n") + "\n").unwrap();
        let eb = MemoryEventBridge::new();
        let ledger = MemoryLedger::new();
        let ports = DrainPorts {
            queue: Arc::new(MemoryQueue::new()),
            sink: Arc::new(eb.clone()),
            ledger: Some(Arc::new(ledger.clone())),
            rules: None,
            delivery: None,
            clock: crate::clock::system(),
        };
        let cfg = |rate| {
            let mut c = DrainConfig::new(Vec::new(), format!("r-{}", crate::ids::random_hex(4)));
            c.rate = rate;
            c.receive_wait = Duration::ZERO;
            c
        };
        let quiet = || Arc::new(crate::drain::engine::QuietDrain) as Arc<dyn DrainObserver>;
        let stopped = reemit(&file, cfg(Some(10.0)), ports.clone(), quiet(), async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            Signal::Terminate
        })
        .await
        .unwrap();
        assert_eq!(stopped.exit_code(), crate::exit_codes::TERMINATED);
        assert_eq!(stopped.outcome.signal, Some(Signal::Terminate));
        let first = eb.accepted().len();
        assert!((10..40).contains(&first), "{first} put before the stop");
        let rest = reemit(&file, cfg(None), ports, quiet(), std::future::pending())
            .await
            .unwrap();
        assert_eq!(rest.exit_code(), crate::exit_codes::SUCCESS);
        assert_eq!(rest.outcome.counts.duplicates as usize, first);
        assert_eq!(eb.accepted().len(), 40, "each event put once");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
