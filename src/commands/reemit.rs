//! `reemit --from FILE.jsonl`: re-emit exported messages with the same dedup, ledger and
//! size rules as a drain. The file is loaded into an in-memory queue and drained from
//! there, so the one engine serves both.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use super::dlq_export::read;
use crate::drain::engine::{DrainConfig, DrainObserver, DrainPorts};
use crate::error::AppError;
use crate::interrupt::Signal;
use crate::memory::sqs::MemoryQueue;
use crate::ports::queue::Queue;

use super::drain::DrainReport;

/// Loads the file into an in-memory queue; answers the queue and its ref.
pub async fn load(path: &Path) -> Result<(MemoryQueue, crate::ports::queue::QueueRef), AppError> {
    let lines = read(path)?;
    let mem = MemoryQueue::new();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "export".into());
    let q = mem.create(&name);
    for l in lines {
        let mut attrs: BTreeMap<String, String> = l.attributes.clone();
        attrs
            .entry("NEXUS_REPLAY_EXPORTED_FROM".into())
            .or_insert(l.queue.clone());
        mem.push(&name, &l.body, attrs);
    }
    let _ = mem.resolve(&name).await?;
    Ok((mem, q))
}

/// Re-emits every message of the file; on `interrupt` it stops as a drain does.
pub async fn reemit<I: Future<Output = Signal> + Send + 'static>(
    path: &Path,
    mut cfg: DrainConfig,
    ports: DrainPorts,
    observer: Arc<dyn DrainObserver>,
    interrupt: I,
) -> Result<DrainReport, AppError> {
    let (mem, q) = load(path).await?;
    cfg.queues = vec![q];
    cfg.park_queue = None;
    let ports = DrainPorts {
        queue: Arc::new(mem),
        ..ports
    };
    super::drain::run(cfg, ports, observer, interrupt).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::dlq_export::ExportedMessage;
    use crate::drain::tests::{attrs, body};
    use crate::memory::eventbridge::MemoryEventBridge;
    use crate::memory::ledger::MemoryLedger;
    use crate::output::Report;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn sigterm_stops_a_reemit_which_a_rerun_finishes_without_a_second_put() {
        let dir = std::env::temp_dir().join(format!("nr-reemit-{}", crate::ids::random_hex(8)));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("dlq.jsonl");
        let lines: Vec<String> = (0..40)
            .map(|i| {
                serde_json::to_string(&ExportedMessage {
                    queue: "subs-dlq".into(),
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
