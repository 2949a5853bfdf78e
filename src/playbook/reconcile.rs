//! A `reconcile` step: `stripe reconcile` with the step's fields (its options, read as the
//! flags are) and `max_missing`: with it set, the step fails when more events than that
//! are still missing at its end (a verify after an apply sets 0); without it the step only
//! reports what it found, as the first step of a recovery does.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::context::{Interact, Ports};
use super::fields::Fields;
use crate::archive::export::ExportPorts;
use crate::commands::archive_export::ExportProgress;
use crate::commands::stripe_reconcile::{
    ReconcileOptions, ReconcileOutcome, ReconcilePorts, ReconcileRequest, list, request, run,
};
use crate::discovery::require_bus;
use crate::error::AppError;
use crate::options::DrainOptions;
use crate::output::Report;
use crate::stripe::client::StripeClient;
use crate::stripe::key::ApiKey;

/// The step's request and its `max_missing`.
pub(super) fn read(
    f: &mut Fields,
    ports: &Ports,
    run_id: String,
    now: DateTime<Utc>,
) -> Result<(ReconcileOptions, ReconcileRequest, Option<u64>), AppError> {
    let o: ReconcileOptions = f.read()?;
    // The journal is `<state dir>/replays.json`.
    let state_dir = ports
        .journal
        .path()
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let req = request(
        &o,
        o.bus.clone(),
        &state_dir,
        run_id,
        ports.started_by.clone(),
        now,
    )?;
    Ok((o, req, f.int("max_missing")?))
}

/// What the plan shows of the step.
pub(super) async fn describe(
    f: &mut Fields<'_>,
    ports: &Ports,
    now: DateTime<Utc>,
) -> Result<Vec<String>, AppError> {
    let (o, req, max_missing) = read(f, ports, "plan".into(), now)?;
    require_bus(ports.cat.as_ref(), &req.bus).await?;
    let w = req.query.window();
    let types = req.query.types().listed();
    let mut out = vec![format!(
        "list Stripe's events created {} .. {} ({}) at {} with the key in {}",
        super::plan::rfc3339(w.start),
        super::plan::rfc3339(w.end),
        if types.is_empty() {
            "every type".to_string()
        } else {
            types.join(", ")
        },
        o.stripe_api_base,
        o.stripe_key_env
    )];
    out.push(format!(
        "export the window from {} and compare by Stripe event id",
        req.archive
            .as_deref()
            .map_or(format!("the archive of bus {}", req.bus), |a| format!(
                "archive {a}"
            ))
    ));
    if req.apply {
        out.push(format!(
            "re-emit each missing event to bus {} as the webhook would (dedup key = its id)",
            req.bus
        ));
    }
    if let Some(n) = max_missing {
        out.push(format!(
            "fail when more than {n} event(s) are still missing"
        ));
    }
    // Planning calls nothing, so a key that is not there yet is a warning, not an error.
    if let Err(e) = ApiKey::from_env(&o.stripe_key_env) {
        out.push(format!("warning: {e}"));
    }
    Ok(out)
}

/// Runs the step: answers the report, its outputs, and why the step failed if it did.
pub(super) async fn execute(
    f: &mut Fields<'_>,
    ports: &Ports,
    ui: &mut dyn Interact,
    run_id: String,
    now: DateTime<Utc>,
) -> Result<(ReconcileOutcome, BTreeMap<String, Value>, Option<String>), AppError> {
    let (o, req, max_missing) = read(f, ports, run_id, now)?;
    let client = StripeClient::new(&o.stripe_api_base, ApiKey::from_env(&o.stripe_key_env)?)?;
    let listed = list(&client, &req).await?;
    let drain = ports.drain_ports(&DrainOptions {
        ledger: o.ledger.clone(),
        ..DrainOptions::default()
    })?;
    let rports = ReconcilePorts {
        export: ExportPorts {
            catalogue: ports.cat.as_ref(),
            replays: ports.ctl.as_ref(),
            resources: ports.capture.as_ref(),
            queue: ports.queue.as_ref(),
        },
        ledger: drain.ledger.clone(),
        drain,
    };
    let mut progress = ExportProgress::stderr(ui.watch_observer(), false);
    let drain_observer = ui.drain_observer();
    // One signal future for the export, one for the re-emit.
    let signals = std::sync::Mutex::new(vec![ui.interrupt(), ui.interrupt()]);
    let r = run(
        rports,
        &req,
        &listed,
        &mut |_| Ok(true),
        &mut progress,
        drain_observer,
        || {
            let taken = signals.lock().ok().and_then(|mut s| s.pop());
            async move {
                match taken {
                    Some(i) => i.await,
                    None => std::future::pending().await,
                }
            }
        },
        now,
    )
    .await?;
    let c = r
        .apply
        .as_ref()
        .and_then(|a| a.reemit.as_ref())
        .map(|d| d.outcome.counts.reemitted)
        .unwrap_or(0);
    let outputs = BTreeMap::from([
        ("run_id".to_string(), json!(r.run_id)),
        ("in_stripe".to_string(), json!(r.report.in_stripe)),
        ("in_archive".to_string(), json!(r.report.in_archive)),
        ("missing".to_string(), json!(r.report.missing.len())),
        ("extra".to_string(), json!(r.report.extra.len())),
        ("reemitted".to_string(), json!(c)),
        ("still_missing".to_string(), json!(r.still_missing())),
    ]);
    let still = r.still_missing() as u64;
    let error = match max_missing {
        Some(n) if still > n => Some(format!(
            "{still} Stripe event(s) are still missing from bus {} (at most {n} allowed)",
            r.bus
        )),
        _ if r.exit_code() != crate::exit_codes::SUCCESS
            && r.exit_code() != crate::exit_codes::PARTIAL =>
        {
            Some("the re-emit of the missing events failed (see the step report)".into())
        }
        _ => None,
    };
    Ok((r, outputs, error))
}
