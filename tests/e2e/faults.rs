//! Issue 7: the drain and the replay watch on the wire, through the fault-injecting proxy
//! between the binary and moto. Each drain scenario puts 1,000 messages over the bus's four
//! DLQs (moto's SQS is O(queue length) per receive), re-emits them to a capture bus sharded
//! into four capture queues, and checks that every dedup key arrived, that keys arrived
//! more than once only through the ambiguous path (and no more often than the summary's
//! "possible duplicates" says), and that the DLQs end empty. Also: SIGKILL and SIGTERM at
//! seeded points, and replay tracking through errors.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::drain::{
    CAPTURE_BUS, Capture, DLQS, bodies, capture_sharded, dedup_keys, depth, seed, sharded_body,
};
use crate::proxy::{Faults, OpFaults, Proxy};
use crate::support::{BUS, Run, Sandbox, finish, signal};

const PER_QUEUE: usize = 250;

struct Scenario {
    sb: Sandbox,
    cap: Capture,
    dlqs: Vec<String>,
    proxy: Proxy,
}

fn scenario(seed_value: u64, faults: Faults) -> Scenario {
    let sb = Sandbox::new(0, 0);
    let cap = capture_sharded(&sb, DLQS.len());
    let dlqs = DLQS
        .iter()
        .enumerate()
        .map(|(shard, dlq)| {
            let msgs: Vec<String> = (0..PER_QUEUE)
                .map(|i| sharded_body(shard * PER_QUEUE + i, shard))
                .collect();
            seed(&sb, dlq, &msgs)
        })
        .collect();
    let proxy = Proxy::start(&sb.moto.endpoint, seed_value, faults);
    Scenario {
        sb,
        cap,
        dlqs,
        proxy,
    }
}

/// The drain arguments: every DLQ of the bus, to the capture bus, one pipeline per queue
/// (moto's concurrent deletes on one queue are racy, see drain.rs).
fn drain_args(extra: &[&'static str]) -> Vec<&'static str> {
    let mut a = vec![
        "drain",
        "--bus",
        BUS,
        "--to-bus",
        CAPTURE_BUS,
        "--yes",
        "--output",
        "json",
        "--receive-wait",
        "1s",
        "--concurrency",
        "1",
    ];
    a.extend_from_slice(extra);
    a
}

impl Scenario {
    /// A drain through the proxy.
    fn drain(&self, extra: &[&'static str]) -> Run {
        self.sb
            .cmd()
            .env("NEXUS_REPLAY_ENDPOINT_URL", &self.proxy.endpoint)
            .run(&drain_args(extra))
    }

    /// Finishes with a clean drain straight to moto, then checks the end state and that
    /// extra copies are no more than the runs reported as possible duplicates. Answers the
    /// number of extra copies.
    fn finish_and_check(&self, faulty: &[&Run]) -> usize {
        let (extra, possible) = self.finish(faulty);
        assert!(
            extra as u64 <= possible,
            "{extra} extra copies arrived but only {possible} were reported as possible duplicates"
        );
        extra
    }

    /// Finishes and checks that nothing was lost; answers (extra copies, possible
    /// duplicates reported by the runs).
    fn finish(&self, faulty: &[&Run]) -> (usize, u64) {
        for r in faulty {
            assert!(
                r.code == 0 || r.code == 3,
                "a faulty run may leave failed entries (exit 3), nothing worse\nstdout:\n{}\nstderr:\n{}",
                r.stdout,
                r.stderr
            );
        }
        let clean = self.sb.run(&drain_args(&[]));
        clean.code(0);
        for url in &self.dlqs {
            assert_eq!(depth(&self.sb, url), 0, "the DLQs end empty");
        }
        let mut keys = Vec::new();
        for url in &self.cap.shards {
            keys.extend(dedup_keys(&bodies(&self.sb, url)));
        }
        let distinct: BTreeSet<&String> = keys.iter().collect();
        assert_eq!(distinct.len(), DLQS.len() * PER_QUEUE, "nothing lost");
        let extra = keys.len() - distinct.len();
        let possible: u64 = faulty
            .iter()
            .chain([&&clean])
            .map(|r| r.json()["counts"]["possible_duplicates"].as_u64().unwrap())
            .sum();
        (extra, possible)
    }
}

fn put(f: OpFaults) -> Faults {
    Faults::default().on("PutEvents", f)
}

#[test]
fn server_errors_on_put_and_receive_lose_nothing_and_put_nothing_twice() {
    let faults = put(OpFaults {
        http_500: 0.2,
        http_503: 0.2,
        ..OpFaults::default()
    })
    .on(
        "ReceiveMessage",
        OpFaults {
            http_500: 0.2,
            ..OpFaults::default()
        },
    );
    let sc = scenario(11, faults);
    let run = sc.drain(&[]);
    let stats = sc.proxy.stats();
    assert!(
        stats.injected_of("PutEvents:500") > 5,
        "{:?}",
        stats.injected
    );
    assert!(stats.injected_of("PutEvents:503") > 5);
    assert!(stats.injected_of("ReceiveMessage:500") > 5);
    // Errors answered before forwarding were never applied: nothing arrives twice.
    assert_eq!(sc.finish_and_check(&[&run]), 0);
    assert!(stats.keys_put_twice().is_empty());
}

#[test]
fn putevents_partial_failures_retry_only_the_failed_slots() {
    let sc = scenario(
        12,
        put(OpFaults {
            partial_calls: 0.6,
            partial_entries: 0.3,
            ..OpFaults::default()
        }),
    );
    let run = sc.drain(&[]);
    let stats = sc.proxy.stats();
    assert!(
        stats.injected_of("PutEvents:entry") > 50,
        "{:?}",
        stats.injected
    );
    assert_eq!(sc.finish_and_check(&[&run]), 0);
    assert!(
        stats.keys_put_twice().is_empty(),
        "an accepted slot was put again"
    );
    assert_eq!(run.json()["counts"]["possible_duplicates"], 0);
}

#[test]
fn lost_putevents_answers_are_the_only_duplicates_and_are_counted() {
    let sc = scenario(
        13,
        put(OpFaults {
            drop_after_forward: 0.25,
            ..OpFaults::default()
        }),
    );
    let run = sc.drain(&[]);
    let stats = sc.proxy.stats();
    let dropped = stats.injected_of("PutEvents:dropped");
    assert!(dropped > 5, "{:?}", stats.injected);
    let extra = sc.finish_and_check(&[&run]);
    assert!(
        extra > 0,
        "dropped answers of applied calls make duplicates"
    );
    // At most the entries of the calls whose answers were lost.
    assert!(extra as u64 <= dropped * 10);
    // Each entry of a call whose answer was lost was applied, and the run counted it as a
    // possible duplicate: it is put again, unless it ran out of attempts (then it failed).
    let counts = &run.json()["counts"];
    let possible = counts["possible_duplicates"].as_u64().unwrap();
    let failed = counts["failed"].as_u64().unwrap();
    let extra_puts = stats.extra_puts();
    assert!(
        extra_puts <= possible && possible <= extra_puts + failed,
        "{possible} possible duplicates reported, {extra_puts} extra puts seen by the proxy, {failed} failed"
    );
}

#[test]
fn delete_batch_failures_and_lost_delete_answers_put_nothing_twice() {
    let sc = scenario(
        14,
        Faults::default().on(
            "DeleteMessageBatch",
            OpFaults {
                delete_entry_failures: 0.3,
                drop_after_forward: 0.2,
                ..OpFaults::default()
            },
        ),
    );
    let run = sc.drain(&[]);
    let stats = sc.proxy.stats();
    assert!(
        stats.injected_of("DeleteMessageBatch:entry") > 20,
        "{:?}",
        stats.injected
    );
    assert!(stats.injected_of("DeleteMessageBatch:dropped") > 3);
    // Undeleted messages come back; the ledger has them DONE, so they are deleted unput.
    assert_eq!(sc.finish_and_check(&[&run]), 0);
    assert!(stats.keys_put_twice().is_empty());
}

#[test]
fn every_fault_at_once_with_latency_loses_nothing() {
    let all = OpFaults {
        http_500: 0.1,
        http_503: 0.05,
        throttle: 0.1,
        partial_calls: 0.3,
        partial_entries: 0.3,
        drop_after_forward: 0.1,
        delete_entry_failures: 0.2,
    };
    let faults = Faults {
        latency: Duration::from_millis(5),
        jitter: Duration::from_millis(20),
        ..Faults::default()
    }
    .on("PutEvents", all.clone())
    .on(
        "DeleteMessageBatch",
        OpFaults {
            delete_entry_failures: 0.2,
            drop_after_forward: 0.1,
            http_500: 0.05,
            ..OpFaults::default()
        },
    )
    .on(
        "ReceiveMessage",
        OpFaults {
            http_500: 0.1,
            throttle: 0.05,
            ..OpFaults::default()
        },
    );
    let sc = scenario(15, faults);
    let run = sc.drain(&[]);
    let stats = sc.proxy.stats();
    for kind in [
        "PutEvents:500",
        "PutEvents:throttle",
        "PutEvents:entry",
        "PutEvents:dropped",
        "DeleteMessageBatch:entry",
        "ReceiveMessage:500",
    ] {
        assert!(
            stats.injected_of(kind) > 0,
            "{kind} never injected: {:?}",
            stats.injected
        );
    }
    let extra = sc.finish_and_check(&[&run]);
    assert!(extra as u64 <= stats.injected_of("PutEvents:dropped") * 10);
}

#[test]
fn sigkill_five_times_then_a_final_run_loses_nothing() {
    let sc = scenario(16, Faults::default());
    let kill_args = drain_args(&["--visibility-timeout", "10s", "--claim-timeout", "10s"]);
    // Seeded kill points between 1 and 4 s into each run.
    let mut state: u64 = 16;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        Duration::from_millis(1000 + (state >> 33) % 3000)
    };
    let mut kills = 0;
    for _ in 0..5 {
        let mut child = sc
            .sb
            .cmd()
            .env("NEXUS_REPLAY_ENDPOINT_URL", &sc.proxy.endpoint)
            .spawn(&kill_args);
        let at = next();
        let started = Instant::now();
        while started.elapsed() < at {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            kills += 1;
        }
        child.wait().unwrap();
    }
    assert!(kills >= 3, "the runs were killed mid-way ({kills} of 5)");
    // The killed runs' messages come back after their visibility timeout, their claims
    // expire with them; then the final run finishes.
    std::thread::sleep(Duration::from_secs(11));
    let last = sc.drain(&[]);
    last.code(0);
    // Killed runs report nothing: the bound is the crash window, counted at the wire.
    let (extra, _) = sc.finish(&[&last]);
    // Only the crash window (put accepted, DONE not yet written) repeats a key: at most one
    // batch of 10 per pipeline (4) per kill. A key can be in that window in more than one
    // killed run (its claim expires after 10 s, while the five runs span up to 20 s), so
    // the bound is on the extra puts, not on the keys put twice.
    let stats = sc.proxy.stats();
    let extra_puts = stats.extra_puts();
    assert!(
        extra_puts <= kills as u64 * 4 * 10,
        "{extra_puts} extra puts after {kills} kills"
    );
    // Every extra copy at the capture queue is one of those puts.
    assert!(
        extra as u64 <= extra_puts,
        "{extra} extra copies arrived, {extra_puts} extra puts ({} keys put more than once)",
        stats.keys_put_twice().len()
    );
}

#[test]
fn a_throttling_storm_slows_the_drain_which_recovers_within_its_retry_budget() {
    let storm = put(OpFaults {
        throttle: 0.5,
        ..OpFaults::default()
    });
    let sc = scenario(17, storm);
    let (run, storm_calls) = std::thread::scope(|s| {
        let h = s.spawn(|| sc.drain(&[]));
        std::thread::sleep(Duration::from_secs(10));
        let during = sc.proxy.stats();
        sc.proxy.set(Faults::default());
        (h.join().unwrap(), during)
    });
    run.code(0);
    let doc: Value = run.json();
    assert_eq!(doc["counts"]["failed"], 0, "no entry ran out of retries");
    assert_eq!(doc["counts"]["reemitted"], (DLQS.len() * PER_QUEUE) as u64);
    let throttled = storm_calls.injected_of("PutEvents:throttle");
    assert!(throttled > 5, "{:?}", storm_calls.injected);
    // No busy loop: 4 pipelines behind one throttling gate (100 ms doubling to 5 s) make
    // far fewer than the 400 calls of a 100 ms retry loop in 10 s.
    assert!(
        storm_calls.calls_of("PutEvents") < 150,
        "{} PutEvents calls during the 10 s storm",
        storm_calls.calls_of("PutEvents")
    );
    // The retry budget per entry: 6 failures + 30 throttles at most, and far fewer used.
    let stats = sc.proxy.stats();
    let worst = stats.put_attempts.values().max().copied().unwrap_or(0);
    assert!(worst <= 36, "an entry was tried {worst} times");
    assert_eq!(sc.finish_and_check(&[&run]), 0);
}

/// A replay of the subscription events, tracked (moto completes it at once).
const WATCHED_START: [&str; 12] = [
    "start",
    "--since",
    "2h",
    "--until",
    "now",
    "--event-type",
    "customer.subscription.updated",
    "--poll",
    "1s",
    "--yes",
    "--output",
    "json",
];

#[test]
fn replay_tracking_survives_errors_and_throttling_on_describe_replay() {
    let sb = Sandbox::new(20, 0);
    let proxy = Proxy::start(
        &sb.moto.endpoint,
        18,
        Faults::default().on(
            "DescribeReplay",
            OpFaults {
                http_500: 0.35,
                throttle: 0.35,
                ..OpFaults::default()
            },
        ),
    );
    let run = sb
        .cmd()
        .env("NEXUS_REPLAY_ENDPOINT_URL", &proxy.endpoint)
        .env("AWS_MAX_ATTEMPTS", "1")
        .run(&WATCHED_START);
    run.code(0);
    assert_eq!(run.json()["final_state"], "COMPLETED");
    let stats = proxy.stats();
    let injected =
        stats.injected_of("DescribeReplay:500") + stats.injected_of("DescribeReplay:throttle");
    assert!(injected >= 1, "{:?}", stats);
    assert!(stats.calls_of("DescribeReplay") > injected);
}

#[test]
fn sigterm_five_times_under_rate_then_a_final_run_puts_each_key_once() {
    // Issue 19 item 3: SIGTERM is how schedulers stop a process. Each of five runs under
    // --rate is stopped at a seeded point; each finishes the calls it sent and releases the
    // rest, so no key is put twice: none at the proxy, none at the capture queues.
    let sc = scenario(19, Faults::default());
    let args = drain_args(&["--rate", "50"]);
    let mut state: u64 = 19;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        Duration::from_millis(500 + (state >> 33) % 3000)
    };
    let mut stopped = 0;
    for _ in 0..5 {
        let received = sc.proxy.stats().calls_of("ReceiveMessage");
        let child = sc
            .sb
            .cmd()
            .env("NEXUS_REPLAY_ENDPOINT_URL", &sc.proxy.endpoint)
            .start(&args);
        // Seeded points once the drain has begun receiving.
        let started = Instant::now();
        while sc.proxy.stats().calls_of("ReceiveMessage") == received {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "never received"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(next());
        signal(&child, "TERM");
        let run = finish(child);
        if run.code == 0 {
            continue; // it had finished before the signal
        }
        run.code(143);
        let doc = run.json();
        assert_eq!(doc["signal"], "SIGTERM");
        assert_eq!(doc["counts"]["failed"], 0);
        stopped += 1;
    }
    assert!(
        stopped >= 3,
        "the runs were stopped mid-way ({stopped} of 5)"
    );
    let stats = sc
        .sb
        .run(&["ledger", "stats", "--output", "json"])
        .code(0)
        .json();
    assert_eq!(stats["in_progress"], 0, "no claim left behind: {stats}");
    let at_proxy = sc.proxy.stats();
    assert!(at_proxy.put_entries > 0);
    assert_eq!(
        at_proxy.keys_put_twice(),
        Vec::<String>::new(),
        "keys forwarded more than once"
    );
    // The final run (straight to moto) finishes; nothing arrives twice.
    let (extra, _) = sc.finish(&[]);
    assert_eq!(extra, 0, "extra copies at the capture queues");
}

#[test]
fn sigterm_stops_a_replay_watch_with_143_and_cancels_on_request() {
    // moto completes replays at once: DescribeReplay answering 500 keeps the watch going.
    let sb = Sandbox::new(20, 0);
    let proxy = Proxy::start(
        &sb.moto.endpoint,
        20,
        Faults::default().on(
            "DescribeReplay",
            OpFaults {
                http_500: 1.0,
                ..OpFaults::default()
            },
        ),
    );
    for (sig, cancel, code, outcome) in [
        ("TERM", true, 143, "terminated"),
        ("INT", false, 130, "interrupted"),
    ] {
        let before = proxy.stats().calls_of("CancelReplay");
        let mut args = WATCHED_START.to_vec();
        if cancel {
            args.push("--cancel-on-interrupt");
        }
        let watched = proxy.stats().calls_of("DescribeReplay");
        let child = sb
            .cmd()
            .env("NEXUS_REPLAY_ENDPOINT_URL", &proxy.endpoint)
            .env("AWS_MAX_ATTEMPTS", "1")
            .start(&args);
        let started = Instant::now();
        while proxy.stats().calls_of("DescribeReplay") < watched + 2 {
            assert!(started.elapsed() < Duration::from_secs(30), "never watched");
            std::thread::sleep(Duration::from_millis(100));
        }
        signal(&child, sig);
        let run = finish(child);
        run.code(code);
        let doc = run.json();
        assert_eq!(doc["outcome"], outcome);
        let next = doc["next"][0].as_str().unwrap();
        let cancelled = proxy.stats().calls_of("CancelReplay") - before;
        if cancel {
            assert!(
                next.contains("stopped watching (SIGTERM); cancellation requested"),
                "{next}"
            );
            assert_eq!(cancelled, 1);
        } else {
            assert!(
                next.contains("stopped watching (SIGINT); the replay continues"),
                "{next}"
            );
            assert_eq!(cancelled, 0);
        }
    }
}

#[test]
fn a_second_sigterm_ends_a_stopping_drain_at_once() {
    // Every call takes 2 s: after the first SIGTERM the drain finishes its PutEvents call,
    // marks it done, deletes and releases (several seconds). The second ends it at once.
    let sb = Sandbox::new(0, 0);
    crate::drain::capture(&sb);
    let dlq = "ai-nexus-dev-stripe-update-subscription-dlq";
    let msgs: Vec<String> = (0..40).map(crate::drain::stripe_body).collect();
    seed(&sb, dlq, &msgs);
    let proxy = Proxy::start(
        &sb.moto.endpoint,
        21,
        Faults {
            latency: Duration::from_secs(2),
            ..Faults::default()
        },
    );
    let args = [
        "drain",
        "--queue",
        dlq,
        "--to-bus",
        CAPTURE_BUS,
        "--yes",
        "--output",
        "json",
        "--concurrency",
        "1",
        "--receive-wait",
        "0s",
    ];
    let drain = || {
        sb.cmd()
            .env("NEXUS_REPLAY_ENDPOINT_URL", &proxy.endpoint)
            .start(&args)
    };
    // A signal before the drain has begun (it is still resolving the queue) ends it at once,
    // with the signal's exit code.
    let child = drain();
    std::thread::sleep(Duration::from_millis(1000));
    signal(&child, "TERM");
    let early = finish(child);
    early.code(143);
    assert!(
        early.stderr.contains("stopped by SIGTERM"),
        "{}",
        early.stderr
    );
    assert_eq!(proxy.stats().calls_of("ReceiveMessage"), 0);

    let child = drain();
    let started = Instant::now();
    while proxy.stats().calls_of("PutEvents") == 0 {
        assert!(started.elapsed() < Duration::from_secs(60), "never put");
        std::thread::sleep(Duration::from_millis(100));
    }
    signal(&child, "TERM");
    std::thread::sleep(Duration::from_millis(300));
    let again = Instant::now();
    signal(&child, "TERM");
    let run = finish(child);
    assert!(
        again.elapsed() < Duration::from_secs(2),
        "took {:?} after the second signal",
        again.elapsed()
    );
    run.code(143);
    assert!(
        run.stderr.contains("SIGTERM again: exiting at once"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "no summary: {}", run.stdout);
}
