//! `stripe reconcile`: the window, the counts per type, the missing and the extra events,
//! and what `--apply` sent (or, with `--dry-run`, would send and to which rules).

use crate::commands::stripe_reconcile::{Applied, ReconcileOutcome};
use crate::exit_codes;
use crate::output::{Report, Table, time};
use crate::stripe::reconcile::EventRef;

/// Events listed by id before the rest is only counted (all are in `--output json`).
const LISTED: usize = 50;

fn events(title: &str, events: &[EventRef]) -> String {
    if events.is_empty() {
        return String::new();
    }
    let mut s = format!("{title}:\n");
    let mut t = Table::new(["  ID", "TYPE", "CREATED"]);
    for e in events.iter().take(LISTED) {
        t.row([format!("  {}", e.id), e.event_type.clone(), time(e.created)]);
    }
    s.push_str(&t.render());
    if events.len() > LISTED {
        s.push_str(&format!(
            "  ... and {} more (use --output json for all)\n",
            events.len() - LISTED
        ));
    }
    s
}

fn applied(a: &Applied, missing: usize) -> String {
    let mut s = String::new();
    if a.dry_run {
        s.push_str(&format!(
            "Dry run: {missing} event(s) would be re-emitted (source stripe.webhook, detail-type Stripe Webhook Event, dedup key = the Stripe event id), written to {}\n",
            a.file.display()
        ));
    }
    if a.dry_run || a.declined {
        let mut t = Table::new(["  TYPE", "RULES THAT WOULD RECEIVE IT"]);
        for (kind, rules) in &a.rules_by_type {
            let rules = if rules.is_empty() {
                "(none)".to_string()
            } else {
                rules.join(", ")
            };
            t.row([format!("  {kind}"), rules]);
        }
        s.push_str(&t.render());
    }
    if a.declined {
        s.push_str("Not confirmed: nothing was re-emitted.\n");
    }
    if let (false, Some(r)) = (a.dry_run, &a.reemit) {
        let c = &r.outcome.counts;
        s.push_str(&format!(
            "Re-emitted {} missing event(s) to the bus ({} already done by an earlier run, {} failed); run {}, file {}\n",
            c.reemitted,
            c.duplicates,
            c.failed,
            r.outcome.run_id,
            a.file.display()
        ));
        if c.failed > 0 || c.conflicts > 0 {
            s.push_str(&r.human());
        }
    }
    s
}

impl Report for ReconcileOutcome {
    fn human(&self) -> String {
        let r = &self.report;
        let types = if r.event_types.is_empty() {
            "every type".to_string()
        } else {
            r.event_types.join(", ")
        };
        let mut s = format!(
            "Stripe events created {} → {} ({types}) against bus {} (archive {})\n",
            time(Some(r.window.start)),
            time(Some(r.window.end)),
            self.bus,
            self.archive
        );
        s.push_str(&format!(
            "  Stripe-Version {} at {}\n",
            r.stripe_version, self.stripe_api_base
        ));
        s.push_str(&format!(
            "  in Stripe: {}   in the archive: {}   found: {}   re-emitted earlier (ledger): {}   missing: {}   extra: {}\n",
            r.in_stripe,
            r.in_archive,
            r.found_in_archive,
            r.done_in_ledger,
            r.missing.len(),
            r.extra.len()
        ));
        if !r.by_type.is_empty() {
            let mut t = Table::new(["  TYPE", "IN STRIPE", "IN ARCHIVE", "MISSING", "EXTRA"]);
            for (kind, c) in &r.by_type {
                t.row([
                    format!("  {kind}"),
                    c.in_stripe.to_string(),
                    c.in_archive.to_string(),
                    c.missing.to_string(),
                    c.extra.to_string(),
                ]);
            }
            s.push_str(&t.render());
        }
        s.push_str(&events("Missing (never reached the bus)", &r.missing));
        s.push_str(&events(
            "Extra (in the archive, unknown to Stripe with this key: another account or mode?)",
            &r.extra,
        ));
        match &self.apply {
            Some(a) => s.push_str(&applied(a, r.missing.len())),
            None if r.missing.is_empty() => {
                s.push_str("Nothing is missing.\n");
            }
            None => s.push_str(&format!(
                "{} event(s) are missing; re-emit them with --apply (--apply --dry-run shows what would be sent first)\n",
                r.missing.len()
            )),
        }
        s
    }

    /// The re-emit's code when it failed; else 3 while events are still missing (not
    /// applied, a dry run, declined), 0 when nothing is.
    fn exit_code(&self) -> u8 {
        if let Some(r) = self.apply.as_ref().and_then(|a| a.reemit.as_ref())
            && !r.outcome.dry_run
            && r.exit_code() != exit_codes::SUCCESS
        {
            return r.exit_code();
        }
        if self.still_missing() > 0 {
            exit_codes::PARTIAL
        } else {
            exit_codes::SUCCESS
        }
    }
}
