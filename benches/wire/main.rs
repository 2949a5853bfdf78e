//! Wire benchmark (not a test): the real binary drains N DLQ messages (~1.5 KB each) over
//! HTTP through the fault proxy (adding 0 or 20 ms per call) to a loopback emulator of the
//! SQS and EventBridge calls, in two modes: `--to-bus` (PutEvents to a bus) and
//! `--to target` (each message to the rule target that failed it, here an SQS queue:
//! ListTargetsByRule once, then SendMessageBatch). Reported per run: messages/s, API calls
//! per message (counted at the proxy), and the tool's peak RSS (VmHWM of the child
//! process). Compared in the same run with a plain sequential batched loop (receive 10 →
//! put 10 or send 10 → delete 10, written here with the SDK) and with the emulator's
//! ceiling (the same minimal calls from 64 concurrent loops, no tool logic). In target
//! mode every run must leave the DLQ empty and the target queue holding exactly the N
//! seeded events, each once and unchanged, or the bench panics.
//!
//! Run: `cargo bench --bench wire` (both modes, N = 2,000 and 20,000), or
//! `cargo bench --bench wire -- quick` (N = 2,000 only), or narrowed for an experiment with
//! `-- to=target n=20000 latency=20 modes=default,16` (`to=bus`, `to=target` or
//! `to=bus,target`), and `cpus=shared` to let the client and the
//! emulator share both CPUs (default `cpus=split`, see `Layout`); `ledger=none` runs the
//! tool without its dedup ledger, to measure what the ledger costs; `rounds=K` runs every
//! mode K times, round by round, and reports medians with their range (the % columns
//! compare each run with the baseline of its own round). Results go to stdout as a
//! markdown table; docs/benchmarks.md records them.

#[path = "../../tests/e2e/proxy.rs"]
mod proxy;

mod emulator;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, SendMessageBatchRequestEntry};
use serde_json::{Value, json};

use emulator::{Emulator, queue_arn};
use nexus_replay::drain::engine::{DEFAULT_CONCURRENCY, DEFAULT_TARGET_CONCURRENCY};
use proxy::{Faults, Proxy};

const QUEUE: &str = "bench-dlq";
const BUS: &str = "bench-bus";
const RULE: &str = "subscription-rule";
/// The rule's target in `to=target` mode: an SQS queue, whose DLQ is `QUEUE`.
const TARGET_QUEUE: &str = "bench-target";
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

/// Where the tool sends the messages: `--to-bus BUS`, or `--to target` (the SQS queue
/// `TARGET_QUEUE`, the one target of the rule, whose dead-letter queue is `QUEUE`).
#[derive(Clone, Copy, PartialEq)]
enum To {
    Bus,
    Target,
}

impl To {
    fn parse(v: &str) -> To {
        match v {
            "bus" => To::Bus,
            "target" => To::Target,
            other => panic!("to={other}: use bus, target or bus,target"),
        }
    }
}

fn attrs(to: To) -> Value {
    let s = |v: &str| json!({"DataType": "String", "StringValue": v});
    let target = match to {
        To::Bus => "arn:aws:lambda:us-east-2:123456789012:function:update-subscription".into(),
        To::Target => queue_arn(TARGET_QUEUE),
    };
    json!({
        "RULE_ARN": s(&format!("arn:aws:events:us-east-2:123456789012:rule/{BUS}/{RULE}")),
        "TARGET_ARN": s(&target),
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
    /// CPU seconds of the client process (user + system).
    client_cpu: f64,
    /// CPU seconds of this process (the emulator and the proxy) during the run.
    server_cpu: f64,
}

/// CPU seconds (user + system) from `/proc/self/stat`: this process's own, and that of its
/// waited-for children (the client processes). Linux reports both in USER_HZ ticks, 100/s.
fn cpu_secs() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces): state is field 3, so field k
    // is at index k - 3. utime 14, stime 15, cutime 16, cstime 17.
    let rest: Vec<f64> = stat
        .rsplit_once(')')
        .map(|(_, r)| {
            r.split_whitespace()
                .map(|v| v.parse().unwrap_or(0.0))
                .collect()
        })
        .unwrap_or_default();
    let field = |k: usize| rest.get(k - 3).copied().unwrap_or(0.0) / 100.0;
    (field(14) + field(15), field(16) + field(17))
}

/// The tool, as a child process; polls its VmHWM while it runs.
fn run_tool(
    proxy: &Proxy,
    layout: Layout,
    to: To,
    concurrency: Option<usize>,
    n: usize,
    no_ledger: bool,
) -> Result {
    let state = std::env::temp_dir().join(format!(
        "nexus-wire-{}-{}",
        std::process::id(),
        nexus_replay::ids::random_hex(6)
    ));
    std::fs::create_dir_all(&state).unwrap();
    let ledger = if no_ledger {
        "none".to_string()
    } else {
        format!("sqlite:{}", state.join("ledger.sqlite3").display())
    };
    let mut args = vec!["drain".to_string(), "--queue".into(), QUEUE.into()];
    match to {
        To::Bus => args.extend(["--to-bus".into(), BUS.into()]),
        To::Target => args.extend(["--to".into(), "target".into()]),
    }
    args.extend([
        "--ledger".into(),
        ledger,
        "--yes".into(),
        "--output".into(),
        "json".into(),
        "--no-progress".into(),
    ]);
    if let Some(c) = concurrency {
        args.extend(["--concurrency".into(), c.to_string()]);
    }
    let started = Instant::now();
    let mut child = layout
        .client(env!("CARGO_BIN_EXE_nexus-replay"))
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
    let done = match to {
        To::Bus => doc["counts"]["reemitted"].as_u64().unwrap_or(0),
        To::Target => doc["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["delivered"].as_u64())
            .sum(),
    };
    assert_eq!(
        done, n as u64,
        "the tool delivered every message (exit {}): {doc}",
        out.status
    );
    let _ = std::fs::remove_dir_all(&state);
    let name = match (to, concurrency) {
        (To::Bus, None) => format!("nexus-replay defaults ({DEFAULT_CONCURRENCY} pipelines)"),
        (To::Bus, Some(c)) => format!("nexus-replay --concurrency {c}"),
        (To::Target, None) => {
            format!("nexus-replay --to target defaults ({DEFAULT_TARGET_CONCURRENCY} pipelines)")
        }
        (To::Target, Some(c)) => format!("nexus-replay --to target --concurrency {c}"),
    };
    Result {
        mode: name + if no_ledger { " --ledger none" } else { "" },
        secs,
        calls: proxy.stats().total_calls(),
        rss_mib: Some(peak_kib as f64 / 1024.0),
        client_cpu: 0.0,
        server_cpu: 0.0,
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

/// Where a plain loop sends what it receives.
#[derive(Clone)]
enum LoopSink {
    /// PutEvents to `BUS`.
    Bus(aws_sdk_eventbridge::Client),
    /// SendMessageBatch of the bodies, unchanged, to this queue URL.
    Queue(String),
}

/// receive 10 → put or send 10 → delete 10 until a receive comes back empty.
async fn plain_loop(sqs: aws_sdk_sqs::Client, sink: LoopSink, url: String) -> u64 {
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
        match &sink {
            LoopSink::Bus(eb) => {
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
            }
            LoopSink::Queue(target) => {
                let entries = msgs
                    .iter()
                    .enumerate()
                    .map(|(i, m)| {
                        SendMessageBatchRequestEntry::builder()
                            .id(i.to_string())
                            .message_body(m.body().unwrap_or(""))
                            .build()
                            .unwrap()
                    })
                    .collect();
                let sent = sqs
                    .send_message_batch()
                    .queue_url(target)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .unwrap();
                assert!(sent.failed().is_empty(), "SendMessageBatch failed entries");
            }
        }
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

/// `loops` SDK loops against `endpoint` until the queue is empty, to the bus or (with
/// `target`, a queue URL) to that queue; prints the seconds taken. Runs in a child process
/// (`wire loops ...`), so it gets the client's CPUs like the tool.
fn loops_child(endpoint: &str, url: &str, loops: usize, n: usize, target: Option<&str>) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (sqs, eb) = clients(endpoint);
    let sink = match target {
        None => LoopSink::Bus(eb),
        Some(t) => LoopSink::Queue(t.to_string()),
    };
    let started = Instant::now();
    let moved: u64 = rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..loops {
            tasks.push(tokio::spawn(plain_loop(
                sqs.clone(),
                sink.clone(),
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
    println!("{}", started.elapsed().as_secs_f64());
}

fn run_loops(
    proxy: &Proxy,
    layout: Layout,
    url: &str,
    target: Option<&str>,
    loops: usize,
    n: usize,
) -> Result {
    let exe = std::env::current_exe().unwrap();
    let out = layout
        .client(exe.to_str().unwrap())
        .args([
            "loops",
            &proxy.endpoint,
            url,
            &loops.to_string(),
            &n.to_string(),
        ])
        .args(target)
        .stderr(Stdio::inherit())
        .output()
        .expect("run the SDK loops");
    assert!(out.status.success(), "the SDK loops failed");
    let secs: f64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("seconds from the loops");
    Result {
        mode: if loops == 1 {
            let verb = if target.is_some() { "send" } else { "put" };
            format!("sequential loop (receive 10 → {verb} 10 → delete 10)")
        } else {
            format!("ceiling: {loops} such loops at once, no tool logic")
        },
        secs,
        calls: proxy.stats().total_calls(),
        rss_mib: None,
        client_cpu: 0.0,
        server_cpu: 0.0,
    }
}

/// Where the processes run. `Split`: the emulator and the proxy (this process) on CPU 0, the
/// client under test (the tool, or the SDK loops) on CPU 1, so the client's CPU use does not
/// slow the server down: like AWS, whose servers do not share the caller's CPUs. `Shared`:
/// everything on both CPUs, so the client competes with the emulator.
#[derive(Clone, Copy, PartialEq)]
enum Layout {
    Split,
    Shared,
}

impl Layout {
    fn name(self) -> &'static str {
        match self {
            Layout::Split => "split (emulator + proxy on CPU 0, client on CPU 1)",
            Layout::Shared => "shared (all processes on both CPUs)",
        }
    }

    /// Pins this process (and the threads it starts later) to CPU 0.
    fn pin_server(self) {
        if self == Layout::Split {
            let ok = Command::new("taskset")
                .args(["-p", "-c", "0", &std::process::id().to_string()])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "cpus=split needs taskset (util-linux) and 2 CPUs");
        }
    }

    /// A command for a client process: on CPU 1 under `Split`.
    fn client(self, program: &str) -> Command {
        match self {
            Layout::Split => {
                let mut c = Command::new("taskset");
                c.args(["-c", "1", program]);
                c
            }
            Layout::Shared => Command::new(program),
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The median, and with several rounds its range: `3,356 (3,191–3,528)` style.
fn spread(v: &[f64], unit: &str, digits: usize) -> String {
    let m = median(v.to_vec());
    if v.len() < 2 {
        return format!("{m:.digits$}{unit}");
    }
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{m:.digits$}{unit} ({lo:.digits$}–{hi:.digits$})")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("loops") {
        let num = |i: usize| {
            args[i]
                .parse::<usize>()
                .expect("loops ENDPOINT URL LOOPS N")
        };
        return loops_child(
            &args[1],
            &args[2],
            num(3),
            num(4),
            args.get(5).map(String::as_str),
        );
    }
    let quick = args.iter().any(|a| a == "quick");
    // Narrowing for experiments: `to=target n=20000 latency=20 modes=ceiling,default`.
    let arg = |name: &str| {
        args.iter()
            .find_map(|a| a.strip_prefix(name)?.strip_prefix('='))
            .map(str::to_string)
    };
    let only_n: Option<usize> = arg("n").map(|v| v.parse().expect("n=NUMBER"));
    let only_latency: Option<u64> = arg("latency").map(|v| v.parse().expect("latency=MS"));
    let no_ledger = match arg("ledger").as_deref() {
        None | Some("sqlite") => false,
        Some("none") => true,
        Some(other) => panic!("ledger={other}: use sqlite or none"),
    };
    let rounds: usize = arg("rounds").map_or(1, |v| v.parse().expect("rounds=NUMBER"));
    let only_modes: Option<Vec<String>> =
        arg("modes").map(|v| v.split(',').map(str::to_string).collect());
    let sizes: Vec<usize> = match only_n {
        Some(n) => vec![n],
        None if quick => vec![2_000],
        None => vec![2_000, 20_000],
    };
    let latencies: Vec<u64> = only_latency.map_or(vec![0, 20], |l| vec![l]);
    let tos: Vec<To> = arg("to").map_or(vec![To::Bus, To::Target], |v| {
        v.split(',').map(To::parse).collect()
    });
    let layout = match arg("cpus").as_deref() {
        None | Some("split") => Layout::Split,
        Some("shared") => Layout::Shared,
        Some(other) => panic!("cpus={other}: use split or shared"),
    };
    layout.pin_server();
    println!("CPU layout: {}", layout.name());
    if rounds > 1 {
        println!(
            "Rounds: {rounds} (each cell the median, its range in brackets; peak RSS the highest)"
        );
    }
    println!();
    let emu = Emulator::start();
    emu.set_targets(
        BUS,
        RULE,
        json!([{
            "Id": "bench-target",
            "Arn": queue_arn(TARGET_QUEUE),
            "DeadLetterConfig": {"Arn": queue_arn(QUEUE)},
            "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400},
        }]),
    );
    println!(
        "| N | latency | mode | msg/s | × sequential | % of ceiling | API calls/msg | peak RSS | client CPU/msg | server CPU busy |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let settings = Settings {
        layout,
        rounds,
        no_ledger,
        quick,
        only_modes,
    };
    for &to in &tos {
        for &latency_ms in &latencies {
            for &n in &sizes {
                run_group(&emu, &settings, to, latency_ms, n);
            }
        }
    }
    println!(
        "\nPutEvents entries accepted by the emulator in total: {}; messages sent to queues: {}",
        emu.arrived.load(std::sync::atomic::Ordering::Relaxed),
        emu.sent()
    );
}

/// What every group of runs shares.
struct Settings {
    layout: Layout,
    rounds: usize,
    no_ledger: bool,
    quick: bool,
    only_modes: Option<Vec<String>>,
}

/// Every mode at one destination, latency and N, `rounds` times; prints their rows.
fn run_group(emu: &Emulator, settings: &Settings, to: To, latency_ms: u64, n: usize) {
    let Settings {
        layout,
        rounds,
        no_ledger,
        quick,
        ref only_modes,
    } = *settings;
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
    let target_url = emu.queue_url(TARGET_QUEUE);
    let target = (to == To::Target).then_some(target_url.as_str());
    let mut modes: Vec<&str> = if to == To::Bus && (n == 20_000 || quick) {
        // The numbered mode equal to the default would repeat the defaults row.
        ["seq", "ceiling", "default", "1", "4", "8", "16", "32", "64"]
            .into_iter()
            .filter(|m| m.parse().ok() != Some(DEFAULT_CONCURRENCY))
            .collect()
    } else {
        // 2,000 only shows memory does not grow with N; target mode's sweep is named.
        vec!["seq", "ceiling", "default"]
    };
    if let Some(only) = only_modes {
        // The ceiling is cheap and every % column needs it; the sequential loop is
        // slow at 20 ms, so it runs only when named. Any concurrency may be named.
        modes = std::iter::once("ceiling")
            .chain(only.iter().map(String::as_str).filter(|m| *m != "ceiling"))
            .collect();
    }
    // runs[mode][round]: every round runs every mode, so a slow spell of the
    // machine falls on all modes alike rather than on one.
    let mut runs: Vec<Vec<Result>> = modes.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        for (i, mode) in modes.iter().enumerate() {
            emu.seed(QUEUE, (0..n).map(body), attrs(to));
            emu.seed(TARGET_QUEUE, std::iter::empty(), json!({}));
            proxy.reset_stats();
            let (server0, client0) = cpu_secs();
            let mut r = match *mode {
                "seq" => run_loops(&proxy, layout, &url, target, 1, n),
                "ceiling" => run_loops(&proxy, layout, &url, target, CEILING_LOOPS, n),
                "default" => run_tool(&proxy, layout, to, None, n, no_ledger),
                c => {
                    let c = c.parse().unwrap_or_else(|_| {
                        panic!("mode {c}: seq, ceiling, default or a number of pipelines")
                    });
                    run_tool(&proxy, layout, to, Some(c), n, no_ledger)
                }
            };
            let (server1, client1) = cpu_secs();
            (r.server_cpu, r.client_cpu) = (server1 - server0, client1 - client0);
            assert_eq!(emu.left(QUEUE), 0, "{} left messages behind", r.mode);
            if to == To::Target {
                check_delivered(emu, n, &r.mode);
            }
            eprintln!(
                "{n} @ {latency_ms} ms, round {}: {} in {:.1}s",
                round + 1,
                r.mode,
                r.secs
            );
            runs[i].push(r);
        }
    }
    print_rows(&runs, n, latency_ms);
}

/// The target queue holds exactly the N seeded events, each once, as they were seeded
/// (same `id` and `detail`, no field added). Panics otherwise.
fn check_delivered(emu: &Emulator, n: usize, mode: &str) {
    let bodies = emu.bodies(TARGET_QUEUE);
    let mut seen = vec![false; n];
    for b in &bodies {
        let v: Value = serde_json::from_str(b)
            .unwrap_or_else(|e| panic!("{mode}: a delivered body is not JSON ({e}): {b}"));
        let i: usize = v["id"]
            .as_str()
            .and_then(|id| id.strip_prefix("env-"))
            .and_then(|i| i.parse().ok())
            .filter(|&i| i < n)
            .unwrap_or_else(|| panic!("{mode}: a delivered event was never seeded: {b}"));
        assert_eq!(
            v,
            serde_json::from_str::<Value>(&body(i)).unwrap(),
            "{mode}: event {i} was changed on the way"
        );
        assert!(!seen[i], "{mode}: event {i} was delivered twice");
        seen[i] = true;
    }
    assert_eq!(
        bodies.len(),
        n,
        "{mode}: the target queue holds {} events, not the {n} seeded",
        bodies.len()
    );
}

/// One table row per mode, from its runs of every round.
fn print_rows(runs: &[Vec<Result>], n: usize, latency_ms: u64) {
    let rate = |r: &Result| n as f64 / r.secs;
    let index = |prefix: &str| runs.iter().position(|rs| rs[0].mode.starts_with(prefix));
    let (seq, ceiling) = (index("sequential"), index("ceiling"));
    for rs in runs {
        let rates: Vec<f64> = rs.iter().map(rate).collect();
        // Against the baseline of the same round.
        let versus = |base: Option<usize>, scale: f64| {
            base.map(|b| {
                rs.iter()
                    .zip(&runs[b])
                    .map(|(r, b)| scale * rate(r) / rate(b))
                    .collect::<Vec<_>>()
            })
        };
        let shown = |v: Option<Vec<f64>>, unit: &str, digits: usize| match v {
            Some(v) => spread(&v, unit, digits),
            None => "-".into(),
        };
        println!(
            "| {n} | {latency_ms} ms | {} | {} | {} | {} | {:.3} | {} | {:.0} µs | {:.0}% |",
            rs[0].mode,
            spread(&rates, "", 0),
            shown(versus(seq, 1.0), "×", 1),
            shown(versus(ceiling, 100.0), "%", 0),
            median(rs.iter().map(|r| r.calls as f64 / n as f64).collect()),
            rs.iter()
                .filter_map(|r| r.rss_mib)
                .reduce(f64::max)
                .map(|m| format!("{m:.1} MiB"))
                .unwrap_or_else(|| "-".into()),
            median(rs.iter().map(|r| 1e6 * r.client_cpu / n as f64).collect()),
            median(rs.iter().map(|r| 100.0 * r.server_cpu / r.secs).collect()),
        );
    }
}
