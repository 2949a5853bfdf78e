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
