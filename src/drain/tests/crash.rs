//! Crashes and signals: a run killed at any step, or stopped by SIGTERM, loses nothing.

use super::*;

#[tokio::test(start_paused = true)]
async fn a_crash_at_any_step_loses_nothing_and_duplicates_only_after_put() {
    for at in [
        Step::AfterClaim,
        Step::AfterPut,
        Step::AfterDone,
        Step::AfterDelete,
    ] {
        let w = world(25);
        let mut cfg = w.cfg();
        cfg.concurrency = 1;
        let hooks = Arc::new(CrashOnce {
            at,
            done: AtomicUsize::new(0),
        });
        assert!(w.run_with(cfg.clone(), hooks).await.is_err(), "{at:?}");
        // The process is gone: its in-flight messages reappear after their visibility timeout.
        assert!(
            w.sqs.in_flight("subs-dlq") > 0 || at == Step::AfterDelete,
            "{at:?}: no cleanup after a crash"
        );
        w.sqs.make_all_visible();
        // The rerun comes after the crashed run's claims expired.
        w.clock.advance(
            chrono::Duration::from_std(cfg.claim_for).unwrap() + chrono::Duration::seconds(1),
        );
        let mut rerun = cfg.clone();
        rerun.run_id = format!("rerun-{at:?}");
        w.run(rerun).await;
        assert_eq!(w.left(), 0, "{at:?}: nothing left in the DLQ");
        assert_eq!(w.distinct_keys(), all_keys(25), "{at:?}: every key arrived");
        let extra = w.put_keys().len() - 25;
        match at {
            Step::AfterPut => assert_eq!(extra, 10, "{at:?}: exactly the crashed batch again"),
            _ => assert_eq!(extra, 0, "{at:?}: no key put twice"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn an_unexpired_claim_of_a_crashed_run_holds_the_key() {
    let w = world(10);
    let mut cfg = w.cfg();
    cfg.concurrency = 1;
    let hooks = Arc::new(CrashOnce {
        at: Step::AfterClaim,
        done: AtomicUsize::new(0),
    });
    assert!(w.run_with(cfg.clone(), hooks).await.is_err());
    w.sqs.make_all_visible();
    cfg.run_id = "second".into();
    let out = w.run(cfg).await;
    assert_eq!(out.counts.held_elsewhere, 10);
    assert_eq!(w.put_keys().len(), 0);
    assert_eq!(w.left(), 10, "left for a run after the claim expires");
}

/// Issue 19 item 3: SIGTERM (as a scheduler stops a process) stops a drain as Ctrl-C does,
/// and promptly under `--rate`: the calls already sent are finished, marked done and deleted;
/// batches waiting for their turn are not put, their claims are given back and every
/// message held is released. A rerun then puts each remaining key once.
#[tokio::test(start_paused = true)]
async fn sigterm_finishes_what_was_sent_releases_the_rest_and_a_rerun_puts_each_key_once() {
    for sig in [Signal::Terminate, Signal::Interrupt] {
        let w = world(200);
        let mut cfg = w.cfg();
        cfg.rate = Some(20.0);
        cfg.concurrency = 4;
        let started = tokio::time::Instant::now();
        let out = drain(
            cfg.clone(),
            w.ports(true),
            Arc::new(NoHooks),
            Arc::new(QuietDrain),
            async move {
                tokio::time::sleep(Duration::from_secs(3)).await;
                sig
            },
        )
        .await
        .unwrap();
        // Four pipelines hold 80 messages at 20/s: finishing them all would take 4 s more.
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{sig}: stopped after {:?}",
            started.elapsed()
        );
        assert_eq!(out.signal, Some(sig));
        assert!(out.interrupted);
        assert_eq!(out.stopped_because, format!("interrupted by {sig}"));
        let put = w.put_keys().len();
        assert!((60..=80).contains(&put), "{sig}: {put} put in 3 s at 20/s");
        assert_eq!(out.counts.reemitted as usize, put);
        assert_eq!(
            out.counts.deleted as usize, put,
            "{sig}: what was put is deleted"
        );
        assert_eq!(out.counts.failed, 0);
        assert_eq!(w.left(), 200 - put);
        assert_eq!(
            w.sqs.in_flight("subs-dlq"),
            0,
            "{sig}: everything held released"
        );
        assert!(
            w.ledger
                .records()
                .iter()
                .all(|r| r.state == crate::ports::ledger::LedgerState::Done),
            "{sig}: no claim left in progress"
        );
        let report = crate::commands::drain::DrainReport {
            queues: vec!["subs-dlq".into()],
            ledger: "memory".into(),
            duration_seconds: 3.0,
            from_file: None,
            park_queue: None,
            outcome: out,
        };
        use crate::output::Report;
        assert_eq!(report.exit_code(), sig.exit_code());
        assert!(
            report
                .human()
                .contains(&format!("stopped: interrupted by {sig}"))
        );

        let mut rerun = cfg;
        rerun.rate = None;
        rerun.run_id = "rerun".into();
        let again = w.run(rerun).await;
        assert_eq!(again.counts.reemitted as usize, 200 - put);
        w.assert_each_key_put_once(200);
    }
}

/// After a run dies, its messages are in flight until their visibility timeout: a rerun that
/// finds the queue empty says how many and exits 3, not "empty" and 0.
#[tokio::test(start_paused = true)]
async fn a_rerun_that_finds_the_queue_empty_reports_the_messages_still_in_flight() {
    let w = world(25);
    let mut cfg = w.cfg();
    cfg.concurrency = 1;
    let hooks = Arc::new(CrashOnce {
        at: Step::AfterClaim,
        done: AtomicUsize::new(0),
    });
    assert!(w.run_with(cfg.clone(), hooks).await.is_err());
    let in_flight = w.sqs.in_flight("subs-dlq");
    assert!(in_flight >= 10, "the dead run holds {in_flight}");
    cfg.run_id = "rerun".into();
    let out = w.run(cfg).await;
    assert_eq!(out.counts.in_flight as usize, in_flight);
    assert!(
        out.stopped_because.contains(&format!(
            "subs-dlq is empty but {in_flight} message(s) are still in flight"
        )),
        "{}",
        out.stopped_because
    );
    assert!(!out.stopped_because.contains("subs-dlq is empty;"));
    let report = crate::commands::drain::DrainReport {
        queues: vec!["subs-dlq".into()],
        ledger: "memory".into(),
        duration_seconds: 0.1,
        from_file: None,
        park_queue: None,
        outcome: out,
    };
    use crate::output::Report;
    assert_eq!(report.exit_code(), crate::exit_codes::PARTIAL);
    let human = report.human();
    assert!(human.contains("in flight"), "{human}");
    assert!(
        human.contains("come back after their visibility timeout"),
        "{human}"
    );
}
