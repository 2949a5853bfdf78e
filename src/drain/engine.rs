//! The drain engine: receive DLQ messages, re-emit the selected ones with dedup keys, and
//! delete a message only after its re-emit succeeded. For every message, in this order:
//! claim its key in the ledger → PutEvents (or, `--to target`, the delivery to the target)
//! → mark done → delete.
//!
//! Crash windows (what a process death at each point can cause):
//! - after claim, before put: the claim blocks the key until it expires (`claim_for`), then
//!   a later run takes it over and puts it once. Nothing lost, no duplicate.
//! - after put, before mark-done: a later run takes the expired claim over and puts the
//!   event again: at most one extra copy, and only here. Consumers drop it by dedup key.
//! - after mark-done, before delete: a later run finds the key DONE and deletes the message
//!   without a second put.
//!
//! The table holds for targets too (`Redrive::Target`), with "put" read as "deliver": the
//! one extra delivery after a crash between delivery and mark-done reaches the same target
//! (a state machine drops it: the execution name is derived from the key; a FIFO queue or
//! topic drops it only within its 5-minute deduplication window). A target's ledger key is the event's dedup key and the
//! target's ARN, `"{dedup key} -> {target ARN}"` (`route::claim_key`, the one place that
//! builds it), so an event dead-lettered by two targets is claimed and delivered once per
//! target, and a bus redrive's key (the dedup key alone) never meets a target's.
//!
//! Each pipeline overlaps its calls (see `worker`): while one batch is claimed and put, the
//! previous batch is deleted and the next one received. A batch still goes through the four
//! steps in order, so each pipeline has at most one batch between put and mark-done.
//!
//! Every message received stays invisible until it is deleted or released (`keeper`). On
//! interrupt (Ctrl-C, SIGTERM) nothing new is put: PutEvents calls already sent are
//! finished, marked done and deleted; claims not yet put are given back and every message
//! held is released.
//!
//! A claim records the content digest of its event (`event::content_digest`). A message whose
//! key the ledger already holds DONE (or that this run re-emitted from another copy) is a
//! duplicate and deleted only when the digests match; otherwise it is a *conflict*: another
//! event under the same key, left in the queue and reported, never deleted unseen.
//!
//! Bus mode leaves in the queue (never parks) what PutEvents cannot take: an event whose
//! source starts with `aws.` (a partner event) or a partner bus as destination; `--to target`
//! delivers them.
//!
//! Where each step lives: `pipeline` (one worker's loop: receive, then `classify`, `park`,
//! `route` (`--to target`: the rule's target and its input), `claim`, `put` or `deliver`,
//! `delete`), `rounds` (the retry budgets every call of a batch shares), `blast_radius` (a
//! dry run's plan), `throttle` (the shared gate and backoff), `state` (what the pipelines
//! share), `cleanup` (the end of a run), `config` and `outcome` (the public types,
//! re-exported here). Retries of one call: `aws::retry`.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::time::Instant;

use super::cleanup::{check_in_flight, left_in_queues, release_held, settle_own_copies};
use super::keeper::Keeper;
use super::pipeline::worker;
use super::rate::{RateLimiter, pipelines};
use super::state::Gate;
use super::state::{RunState, Shared};
use crate::error::AppError;
use crate::interrupt::Signal;

pub use super::config::{
    DEFAULT_CONCURRENCY, DEFAULT_TARGET_CONCURRENCY, DrainConfig, DrainPorts, Hooks, NoHooks,
    PARK_REASON_ATTRIBUTE, PARK_SOURCE_ATTRIBUTE, Redrive, Step,
};
pub use super::outcome::{
    Counts, DrainObserver, DrainOutcome, Failure, Planned, PlannedTarget, QuietDrain, TargetTally,
    Warning,
};

/// Runs a drain to its end. On `interrupt` nothing new is put: the calls already sent are
/// finished, marked done and deleted, and everything else held is released.
pub async fn drain<I: Future<Output = Signal> + Send + 'static>(
    cfg: DrainConfig,
    ports: DrainPorts,
    hooks: Arc<dyn Hooks>,
    observer: Arc<dyn DrainObserver>,
    interrupt: I,
) -> Result<DrainOutcome, AppError> {
    if let Redrive::Target { .. } = cfg.redrive {
        if ports.rules.is_none() {
            return Err(AppError::usage(
                "--to target reads each rule's targets, but this drain has no rule catalogue",
            ));
        }
        if ports.delivery.is_none() && !cfg.dry_run {
            return Err(AppError::usage(
                "--to target delivers through Lambda, SQS, SNS, Step Functions and CloudWatch Logs, but this drain has none of them",
            ));
        }
    }
    let mut total = 0;
    for q in &cfg.queues {
        if let Ok(d) = ports.queue.depth(&q.url).await {
            total += d.visible;
        }
    }
    let sh = Arc::new(Shared {
        rate: cfg.rate.map(RateLimiter::new),
        gate: Mutex::new(Gate::default()),
        keeper: Keeper::new(cfg.visibility),
        cfg,
        ports,
        hooks,
        observer,
        started: Instant::now(),
        stop: tokio::sync::watch::channel(false).0,
        state: Mutex::new(RunState::default()),
        blast: tokio::sync::Mutex::new(BTreeMap::new()),
        rule_targets: tokio::sync::Mutex::new(BTreeMap::new()),
        queue_urls: tokio::sync::Mutex::new(BTreeMap::new()),
    });
    sh.lock().counts.total_estimate = total;
    let signal = Arc::new(OnceLock::new());
    let watcher = {
        let sh = sh.clone();
        let signal = signal.clone();
        tokio::spawn(async move {
            let _ = signal.set(interrupt.await);
            sh.halt();
        })
    };
    let keeper_done = Arc::new(tokio::sync::Notify::new());
    // A zero visibility timeout (tests) holds nothing.
    let keeper = (!sh.cfg.visibility.is_zero()).then(|| {
        let sh = sh.clone();
        let done = keeper_done.clone();
        tokio::spawn(async move { sh.keeper.run(sh.ports.queue.as_ref(), &done).await })
    });
    let per_queue = pipelines(sh.cfg.concurrency, sh.cfg.rate, sh.cfg.visibility);
    if per_queue < sh.cfg.concurrency {
        tracing::info!(
            pipelines = per_queue,
            concurrency = sh.cfg.concurrency,
            "--rate: fewer pipelines per queue, so that what they hold can be put within half the visibility timeout"
        );
    }
    let mut result = Ok(());
    for q in sh.cfg.queues.clone() {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..per_queue {
            set.spawn(worker(sh.clone(), q.clone()));
        }
        while let Some(joined) = set.join_next().await {
            let r =
                joined.unwrap_or_else(|e| Err(AppError::Io(format!("drain worker failed: {e}"))));
            if let Err(e) = r {
                sh.halt();
                if result.is_ok() {
                    result = Err(e);
                }
            }
        }
        if result.is_err() || sh.stopping() {
            break;
        }
    }
    watcher.abort();
    // The keeper finishes a tick in progress before the messages are released, so no
    // extension lands after a release.
    if let Some(k) = keeper {
        keeper_done.notify_one();
        let _ = k.await;
    }
    tracing::debug!(
        extended = sh.keeper.extended(),
        "visibility extensions of held messages"
    );
    sh.observer.finish();
    if let Err(e) = result {
        if !e.to_string().contains("(test hook)") {
            settle_own_copies(&sh).await;
            release_held(&sh).await;
        }
        return Err(e);
    }
    settle_own_copies(&sh).await;
    release_held(&sh).await;
    let signal = signal.get().copied();
    let left = match signal {
        Some(_) => None,
        None => {
            check_in_flight(&sh).await;
            // Messages in flight in a queue found empty are already explained by its reason.
            let in_flight = sh.lock().counts.in_flight;
            left_in_queues(&sh)
                .await
                .map(|k| k.saturating_sub(in_flight))
        }
    };
    let st = std::mem::take(&mut *sh.lock());
    let stopped_because = match signal {
        Some(sig) => format!("interrupted by {sig}"),
        None => super::ending::stopped_because(&super::ending::End {
            reasons: &st.stop_reasons,
            counts: &st.counts,
            failures: &st.failures,
            dry_run: sh.cfg.dry_run,
            queues: sh.cfg.queues.len(),
            left,
        }),
    };
    Ok(DrainOutcome {
        run_id: sh.cfg.run_id.clone(),
        dry_run: sh.cfg.dry_run,
        to: match sh.cfg.redrive {
            Redrive::Bus => "bus",
            Redrive::Target { .. } => "target",
        },
        counts: st.counts,
        failures: st.failures,
        warnings: st.warnings,
        planned: st.planned,
        targets: st.targets.into_values().collect(),
        stopped_because,
        interrupted: signal.is_some(),
        signal,
    })
}
