//! Wire benchmark (not a test): the real binary drains N DLQ messages (~1.5 KB each) over
//! HTTP through the fault proxy (adding 0 or 20 ms per call) to a loopback emulator of the
//! SQS and EventBridge calls. Reported per run: messages/s, API calls per message (counted
//! at the proxy), and the tool's peak RSS (VmHWM of the child process). Compared in the
//! same run with a plain sequential batched loop (receive 10 → put 10 → delete 10, written
//! here with the SDK) and with the emulator's ceiling (the same minimal calls from 64
//! concurrent loops, no tool logic).
//!
//! Run: `cargo bench --bench wire` (N = 2,000 and 20,000; ~10 minutes on 2 vCPUs), or
//! `cargo bench --bench wire -- quick` (N = 2,000 only). Results go to stdout as a
//! markdown table; docs/benchmarks.md records them.

#[path = "../../tests/e2e/proxy.rs"]
mod proxy;

mod emulator;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_sqs::types::DeleteMessageBatchRequestEntry;
use serde_json::{Value, json};

use emulator::Emulator;
use proxy::{Faults, Proxy};

const QUEUE: &str = "bench-dlq";
const BUS: &str = "bench-bus";
const CEILING_LOOPS: usize = 64;
/// The SDK loops long-poll like the tool's default (`--receive-wait 2s`), so all modes pay
/// the same wait at the end.
const RECEIVE_WAIT_SECS: i32 = 2;

fn body(i: usize) -> String {
    json!({
        "version": "0", "id": format!("env-{i}"), "detail-type": "Stripe Webhook Event",
        "source": "stripe.webhook", "account": "123456789012", "time": "2026-01-01T10:00:00Z",
        "region": "us-east-2", "resources": [],
        "detail": {"id": format!("evt_bench_{i:06}"), "object": "event",
                   "type": "customer.subscription.updated",
                   "data": {"object": {"id": format!("sub_{i}"), "status": "active", "pad": "x".repeat(1150)}}}
    })
    .to_string()
}

fn attrs() -> Value {
    let s = |v: &str| json!({"DataType": "String", "StringValue": v});
    json!({
        "RULE_ARN": s("arn:aws:events:us-east-2:123456789012:rule/bench-bus/subscription-rule"),
        "TARGET_ARN": s("arn:aws:lambda:us-east-2:123456789012:function:update-subscription"),
        "ERROR_CODE": s("ERROR_FROM_TARGET"),
        "ERROR_MESSAGE": s("Task timed out after 30.00 seconds"),
        "RETRY_ATTEMPTS": s("185"),
        "EXHAUSTED_RETRY_CONDITION": s("MaximumRetryAttempts"),
    })
}

struct Result {
    mode: String,
    secs: f64,
    calls: u64,
    rss_mib: Option<f64>,
}

/// The tool, as a child process; polls its VmHWM while it runs.
fn run_tool(proxy: &Proxy, concurrency: Option<usize>, n: usize) -> Result {
    let state = std::env::temp_dir().join(format!(
        "nexus-wire-{}-{}",
        std::process::id(),
        nexus_replay::ids::random_hex(6)
    ));
    std::fs::create_dir_all(&state).unwrap();
    let ledger = format!("sqlite:{}", state.join("ledger.sqlite3").display());
    let mut args = vec![
        "drain".to_string(),
        "--queue".into(),
        QUEUE.into(),
        "--to-bus".into(),
        BUS.into(),
        "--ledger".into(),
        ledger,
        "--yes".into(),
        "--output".into(),
        "json".into(),
        "--no-progress".into(),
    ];
    if let Some(c) = concurrency {
        args.extend(["--concurrency".into(), c.to_string()]);
    }
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_nexus-replay"))
        .args(&args)
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_REGION", "us-east-2")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NEXUS_REPLAY_ENDPOINT_URL", &proxy.endpoint)
        .env("NEXUS_REPLAY_STATE_DIR", &state)
        .env("NEXUS_REPLAY_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn nexus-replay");
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    loop {
        if let Ok(s) = std::fs::read_to_string(&status_path)
            && let Some(v) = s
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        {
            peak_kib = peak_kib.max(v);
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let secs = started.elapsed().as_secs_f64();
    let out = child.wait_with_output().unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let reemitted = doc["counts"]["reemitted"].as_u64().unwrap_or(0);
    assert_eq!(
        reemitted, n as u64,
        "the tool re-emitted every message: {doc}"
    );
    let _ = std::fs::remove_dir_all(&state);
    Result {
        mode: match concurrency {
            None => "nexus-replay defaults (8 pipelines)".into(),
            Some(c) => format!("nexus-replay --concurrency {c}"),
        },
        secs,
        calls: proxy.stats().total_calls(),
        rss_mib: Some(peak_kib as f64 / 1024.0),
    }
}

fn clients(endpoint: &str) -> (aws_sdk_sqs::Client, aws_sdk_eventbridge::Client) {
    let creds = aws_sdk_sqs::config::Credentials::new("bench", "bench", None, None, "bench");
    let region = aws_sdk_sqs::config::Region::new("us-east-2");
    let sqs = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .credentials_provider(creds.clone())
        .region(region.clone())
        .endpoint_url(endpoint)
        .build();
    let eb = aws_sdk_eventbridge::Config::builder()
        .behavior_version(aws_sdk_eventbridge::config::BehaviorVersion::latest())
        .credentials_provider(creds)
        .region(region)
        .endpoint_url(endpoint)
        .build();
    (
        aws_sdk_sqs::Client::from_conf(sqs),
        aws_sdk_eventbridge::Client::from_conf(eb),
    )
}

/// receive 10 → put 10 → delete 10 until a receive comes back empty.
async fn plain_loop(sqs: aws_sdk_sqs::Client, eb: aws_sdk_eventbridge::Client, url: String) -> u64 {
    let mut moved = 0;
    loop {
        let r = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .wait_time_seconds(RECEIVE_WAIT_SECS)
            .visibility_timeout(120)
            .send()
            .await
            .unwrap();
        let msgs = r.messages();
        if msgs.is_empty() {
            return moved;
        }
        let entries = msgs
            .iter()
            .map(|m| {
                let v: Value = serde_json::from_str(m.body().unwrap_or("{}")).unwrap();
                PutEventsRequestEntry::builder()
                    .event_bus_name(BUS)
                    .source(v["source"].as_str().unwrap_or("s"))
                    .detail_type(v["detail-type"].as_str().unwrap_or("t"))
                    .detail(v["detail"].to_string())
                    .build()
            })
            .collect();
        eb.put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .unwrap();
        let del = msgs
            .iter()
            .enumerate()
            .map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle().unwrap_or(""))
                    .build()
                    .unwrap()
            })
            .collect();
        sqs.delete_message_batch()
            .queue_url(&url)
            .set_entries(Some(del))
            .send()
            .await
            .unwrap();
        moved += msgs.len() as u64;
    }
}

fn run_loops(proxy: &Proxy, url: &str, loops: usize, n: usize) -> Result {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (sqs, eb) = clients(&proxy.endpoint);
    let started = Instant::now();
    let moved: u64 = rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..loops {
            tasks.push(tokio::spawn(plain_loop(
                sqs.clone(),
                eb.clone(),
                url.to_string(),
            )));
        }
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        total
    });
    assert_eq!(moved, n as u64);
    Result {
        mode: if loops == 1 {
            "sequential loop (receive 10 → put 10 → delete 10)".into()
        } else {
            format!("ceiling: {loops} such loops at once, no tool logic")
        },
        secs: started.elapsed().as_secs_f64(),
        calls: proxy.stats().total_calls(),
        rss_mib: None,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "quick");
    let sizes: &[usize] = if quick { &[2_000] } else { &[2_000, 20_000] };
    let emu = Emulator::start();
    println!(
        "| N | latency | mode | msg/s | × sequential | % of ceiling | API calls/msg | peak RSS |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for &latency_ms in &[0u64, 20] {
        for &n in sizes {
            let proxy = Proxy::start(
                &emu.endpoint,
                1,
                Faults {
                    latency: Duration::from_millis(latency_ms),
                    skip_key_tracking: true,
                    ..Faults::default()
                },
            );
            let url = emu.queue_url(QUEUE);
            let mut results = Vec::new();
            let modes: Vec<&str> = if n == 20_000 || quick {
                vec!["seq", "ceiling", "default", "1", "4", "8", "16", "32", "64"]
            } else {
                // 2,000 only shows memory does not grow with N.
                vec!["seq", "ceiling", "default"]
            };
            for mode in modes {
                emu.seed(QUEUE, (0..n).map(body), attrs());
                proxy.reset_stats();
                let r = match mode {
                    "seq" => run_loops(&proxy, &url, 1, n),
                    "ceiling" => run_loops(&proxy, &url, CEILING_LOOPS, n),
                    "default" => run_tool(&proxy, None, n),
                    c => run_tool(&proxy, Some(c.parse().unwrap()), n),
                };
                assert_eq!(emu.left(QUEUE), 0, "{} left messages behind", r.mode);
                eprintln!("{n} @ {latency_ms} ms: {} in {:.1}s", r.mode, r.secs);
                results.push(r);
            }
            let rate = |r: &Result| n as f64 / r.secs;
            let seq = rate(&results[0]);
            let ceiling = rate(&results[1]);
            for r in &results {
                println!(
                    "| {n} | {latency_ms} ms | {} | {:.0} | {:.1}× | {:.0}% | {:.3} | {} |",
                    r.mode,
                    rate(r),
                    rate(r) / seq,
                    100.0 * rate(r) / ceiling,
                    r.calls as f64 / n as f64,
                    r.rss_mib
                        .map(|m| format!("{m:.1} MiB"))
                        .unwrap_or_else(|| "-".into())
                );
            }
        }
    }
    println!(
        "\nPutEvents entries accepted by the emulator in total: {}",
        emu.arrived.load(std::sync::atomic::Ordering::Relaxed)
    );
}
