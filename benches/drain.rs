//! Drain benchmark (not a test): messages/s, API calls per message and peak RSS for the
//! drain engine versus a plain sequential batched loop (receive 10 → put 10 → delete 10),
//! over the in-memory SQS and EventBridge ports with an injected per-call latency.
//!
//! Why in-memory: moto's SQS costs O(queue length) per received message, so a 20,000
//! message queue measures moto, not the tool. The latency wrapper stands in for AWS's
//! 10–50 ms per call.
//!
//! Run: `cargo bench --bench drain` (all scenarios; each runs in its own process so peak
//! RSS is per scenario). One scenario: `cargo bench --bench drain -- one N LATENCY_MS MODE`
//! with MODE `seq` or a concurrency.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use nexus_replay::drain::engine::{
    DEFAULT_CONCURRENCY, DrainConfig, DrainPorts, NoHooks, QuietDrain, drain,
};
use nexus_replay::ledger::sqlite::SqliteLedger;
use nexus_replay::memory::latent::Latent;
use nexus_replay::memory::sqs::MemoryQueue;
use nexus_replay::ports::PortError;
use nexus_replay::ports::queue::{BatchEntry, Queue};
use nexus_replay::ports::sink::{EventSink, PutEntry, PutOutcome};

/// Accepts every entry and keeps only a count (the in-memory EventBridge keeps every
/// entry, which would show up as the tool's memory).
#[derive(Default)]
struct CountingSink {
    accepted: AtomicU64,
}

#[async_trait]
impl EventSink for CountingSink {
    async fn put_events(&self, entries: &[PutEntry]) -> Result<Vec<PutOutcome>, PortError> {
        let first = self
            .accepted
            .fetch_add(entries.len() as u64, Ordering::Relaxed);
        Ok((0..entries.len() as u64)
            .map(|i| PutOutcome::Accepted {
                event_id: format!("ev-{}", first + i),
            })
            .collect())
    }
}

/// A ~1.5 KB Stripe-shaped DLQ body.
fn body(i: usize) -> String {
    serde_json::json!({
        "version": "0", "id": format!("env-{i}"), "detail-type": "Stripe Webhook Event",
        "source": "stripe.webhook", "account": "123456789012", "time": "2026-01-01T10:00:00Z",
        "region": "us-east-2", "resources": [],
        "detail": {"id": format!("evt_bench_{i:06}"), "type": "invoice.payment_failed",
                   "data": {"object": {"id": format!("in_{i}"), "pad": "x".repeat(1300)}}}
    })
    .to_string()
}

/// Shares one counting sink behind the latency wrapper.
struct ArcSink(Arc<CountingSink>);

#[async_trait]
impl EventSink for ArcSink {
    async fn put_events(&self, entries: &[PutEntry]) -> Result<Vec<PutOutcome>, PortError> {
        self.0.put_events(entries).await
    }
}

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// The baseline: one sequential loop of minimal calls, no tool logic.
async fn sequential(queue: &dyn Queue, sink: &dyn EventSink, url: &str) -> u64 {
    let mut n = 0;
    loop {
        let msgs = queue
            .receive(url, 10, Duration::ZERO, Some(Duration::from_secs(120)))
            .await
            .unwrap();
        if msgs.is_empty() {
            return n;
        }
        let entries: Vec<PutEntry> = msgs
            .iter()
            .map(|m| PutEntry {
                bus: "bench".into(),
                source: "stripe.webhook".into(),
                detail_type: "Stripe Webhook Event".into(),
                detail: m.body.clone(),
                resources: vec![],
                time: None,
            })
            .collect();
        sink.put_events(&entries).await.unwrap();
        let del = BatchEntry::for_handles(msgs.iter().map(|m| m.receipt_handle.as_str()));
        queue.delete_batch(url, &del).await.unwrap();
        n += msgs.len() as u64;
    }
}

fn one(n: usize, latency_ms: u64, mode: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mem = MemoryQueue::new();
        let q = mem.create("bench-dlq");
        let attrs = BTreeMap::from([(
            "RULE_ARN".to_string(),
            "arn:aws:events:us-east-2:123456789012:rule/bench/r".to_string(),
        )]);
        for i in 0..n {
            mem.push("bench-dlq", &body(i), attrs.clone());
        }
        let baseline = rss_kib("VmRSS:");
        let calls = Arc::new(AtomicU64::new(0));
        let latency = Duration::from_millis(latency_ms);
        let queue = Arc::new(Latent {
            inner: mem.clone(),
            latency,
            calls: calls.clone(),
        });
        let counting = Arc::new(CountingSink::default());
        let sink = Arc::new(Latent {
            inner: ArcSink(counting.clone()),
            latency,
            calls: calls.clone(),
        });
        let dir = std::env::temp_dir().join(format!("nexus-bench-{}", std::process::id()));
        let start = Instant::now();
        let done = if mode == "seq" {
            sequential(queue.as_ref(), sink.as_ref(), &q.url).await
        } else {
            let mut cfg = DrainConfig::new(vec![q.clone()], "bench".into());
            cfg.receive_wait = Duration::ZERO;
            if mode != "default" {
                cfg.concurrency = mode.parse().unwrap();
            }
            let ledger = Arc::new(SqliteLedger::open(&dir.join("ledger.sqlite3")).unwrap());
            let ports = DrainPorts {
                queue,
                sink,
                ledger: Some(ledger),
                rules: None,
                delivery: None,
                clock: nexus_replay::clock::system(),
            };
            let out = drain(
                cfg,
                ports,
                Arc::new(NoHooks),
                Arc::new(QuietDrain),
                std::future::pending(),
            )
            .await
            .unwrap();
            out.counts.reemitted
        };
        let secs = start.elapsed().as_secs_f64();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(done as usize, n, "every message drained");
        assert_eq!(counting.accepted.load(Ordering::Relaxed) as usize, n);
        let peak = rss_kib("VmHWM:");
        println!(
            "{n}\t{latency_ms}\t{mode}\t{:.0}\t{:.3}\t{:.1}\t{:.1}",
            n as f64 / secs,
            calls.load(Ordering::Relaxed) as f64 / n as f64,
            peak as f64 / 1024.0,
            peak.saturating_sub(baseline) as f64 / 1024.0,
        );
    });
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.first().map(String::as_str) == Some("one") {
        one(args[1].parse().unwrap(), args[2].parse().unwrap(), &args[3]);
        return;
    }
    let me = std::env::current_exe().unwrap();
    println!(
        "| messages | latency | mode | messages/s | API calls/message | peak RSS MiB | RSS growth after seeding MiB |"
    );
    println!("|---:|---:|---|---:|---:|---:|---:|");
    let mut scenarios: Vec<(usize, u64, String)> = Vec::new();
    for latency in [0u64, 20] {
        // The numbered mode equal to the default would repeat the defaults row.
        for mode in ["seq", "default", "1", "4", "8", "16", "32", "64"] {
            if mode.parse().ok() != Some(DEFAULT_CONCURRENCY) {
                scenarios.push((20_000, latency, mode.to_string()));
            }
        }
    }
    scenarios.push((2_000, 20, "default".into()));
    for (n, latency, mode) in scenarios {
        let out = std::process::Command::new(&me)
            .args(["one", &n.to_string(), &latency.to_string(), &mode])
            .output()
            .unwrap();
        let line = String::from_utf8_lossy(&out.stdout);
        let f: Vec<&str> = line.trim().split('\t').collect();
        if f.len() != 7 {
            eprintln!(
                "scenario {n} {latency} {mode} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            continue;
        }
        let label = if f[2] == "seq" {
            "sequential loop".to_string()
        } else if f[2] == "default" {
            format!("tool, defaults ({DEFAULT_CONCURRENCY} pipelines)")
        } else {
            format!("tool, --concurrency {}", f[2])
        };
        println!(
            "| {} | {} ms | {label} | {} | {} | {} | {} |",
            f[0], f[1], f[3], f[4], f[5], f[6]
        );
    }
}
