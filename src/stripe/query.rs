//! What `stripe reconcile` asks Stripe for, checked before any call, and the
//! `GET /v1/events` query strings that ask it.
//!
//! Stripe's list (API reference, "List all events"): events of the last 30 days, newest
//! first; `created[gte|gt|lte|lt]` in epoch seconds; `types[]`, up to 20 exact names per
//! call, or `type`, one name that may use `*` as a wildcard (not both); `limit` 1–100;
//! `has_more` and `starting_after` for the next page. So more than 20 names become several
//! calls, and each wildcard its own call (in `types[]` a `*` would match nothing, and a
//! reconcile would find nothing missing).

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Serialize;

use super::error::StripeError;

/// How long Stripe keeps events behind `GET /v1/events`.
pub const RETENTION_DAYS: i64 = 30;
/// Stripe's limit on `types[]` per call.
pub const MAX_TYPES_PER_CALL: usize = 20;
/// Stripe's largest page.
pub const PAGE_LIMIT: u32 = 100;

/// A time window, both ends inclusive, as Stripe's `created[gte]` / `created[lte]` read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Window {
    /// The window in Stripe's whole seconds, never wider than asked: a start inside a
    /// second begins at the next one.
    pub fn created_bounds(&self) -> (i64, i64) {
        let start = self.start.timestamp() + i64::from(self.start.timestamp_subsec_nanos() > 0);
        (start, self.end.timestamp())
    }

    /// True when an event created at `created` falls in the window (as Stripe filters).
    pub fn contains(&self, created: DateTime<Utc>) -> bool {
        let (gte, lte) = self.created_bounds();
        (gte..=lte).contains(&created.timestamp())
    }
}

/// The event types asked for: none means every type. Exact names (deduplicated, in the
/// order given) and wildcard patterns are kept apart, as Stripe takes them apart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventTypes {
    names: Vec<String>,
    patterns: Vec<String>,
}

impl EventTypes {
    /// Reads `--event-type` values: Stripe event names, `*` as a wildcard.
    pub fn parse(types: &[String]) -> Result<EventTypes, StripeError> {
        let mut out = EventTypes::default();
        for t in types {
            let valid = !t.is_empty()
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '*'));
            if !valid {
                return Err(StripeError::Usage(format!(
                    "--event-type {t:?} is not a Stripe event type: use letters, digits, '.' and '_' (e.g. customer.subscription.updated), and '*' as a wildcard (invoice.*)"
                )));
            }
            let list = if t.contains('*') {
                &mut out.patterns
            } else {
                &mut out.names
            };
            if !list.contains(t) {
                list.push(t.clone());
            }
        }
        Ok(out)
    }

    /// Every type.
    pub fn all() -> EventTypes {
        EventTypes::default()
    }

    pub fn is_all(&self) -> bool {
        self.names.is_empty() && self.patterns.is_empty()
    }

    /// The types as given (names, then patterns), for reports.
    pub fn listed(&self) -> Vec<String> {
        self.names.iter().chain(&self.patterns).cloned().collect()
    }

    /// True when Stripe would list an event of type `t` for these types.
    pub fn matches(&self, t: &str) -> bool {
        self.is_all()
            || self.names.iter().any(|n| n == t)
            || self.patterns.iter().any(|p| type_matches(p, t))
    }

    /// The filters of the calls that list these types: one per 20 names, one per pattern,
    /// or one unfiltered call.
    pub(crate) fn filters(&self) -> Vec<TypeFilter> {
        if self.is_all() {
            return vec![TypeFilter::All];
        }
        self.names
            .chunks(MAX_TYPES_PER_CALL)
            .map(|c| TypeFilter::Names(c.to_vec()))
            .chain(self.patterns.iter().cloned().map(TypeFilter::Pattern))
            .collect()
    }
}

/// Stripe's `type` wildcard: `*` stands for any run of characters.
pub fn type_matches(pattern: &str, t: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = t.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty(); // no '*': an exact name
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// The type filter of one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TypeFilter {
    All,
    /// `types[]`, at most 20.
    Names(Vec<String>),
    /// `type`, with a wildcard.
    Pattern(String),
}

/// A checked request: a window within Stripe's 30 days, not in the future, not empty;
/// valid event types. Only [`EventQuery::new`] builds one, so the client never calls
/// Stripe for a window it no longer has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventQuery {
    window: Window,
    types: EventTypes,
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl EventQuery {
    /// Checks the window against `now` (the same `now` the CLI read `--since 30d` with,
    /// so that window is accepted) and reads the event types.
    pub fn new(
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        types: &[String],
        now: DateTime<Utc>,
    ) -> Result<EventQuery, StripeError> {
        if end > now {
            return Err(StripeError::Usage(format!(
                "--until {} is in the future (now is {}); Stripe cannot list events that have not happened yet",
                time(end),
                time(now)
            )));
        }
        if start >= end {
            return Err(StripeError::Usage(format!(
                "the window is empty: start {} is not before end {}; move --since earlier",
                time(start),
                time(end)
            )));
        }
        let horizon = now - Duration::days(RETENTION_DAYS);
        if start < horizon {
            return Err(StripeError::Usage(format!(
                "--since {} is more than {RETENTION_DAYS} days ago: Stripe keeps events for {RETENTION_DAYS} days, so it no longer has those before {}; use --since {RETENTION_DAYS}d or later",
                time(start),
                time(horizon)
            )));
        }
        Ok(EventQuery {
            window: Window { start, end },
            types: EventTypes::parse(types)?,
        })
    }

    pub fn window(&self) -> Window {
        self.window
    }

    pub fn types(&self) -> &EventTypes {
        &self.types
    }

    /// The query string of one page: the window, one call's type filter, `limit=100`, and
    /// `starting_after` for every page after the first.
    pub(crate) fn query_string(&self, filter: &TypeFilter, starting_after: Option<&str>) -> String {
        let (gte, lte) = self.window.created_bounds();
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("created[gte]", &gte.to_string())
            .append_pair("created[lte]", &lte.to_string())
            .append_pair("limit", &PAGE_LIMIT.to_string());
        match filter {
            TypeFilter::All => {}
            TypeFilter::Names(names) => {
                for n in names {
                    q.append_pair("types[]", n);
                }
            }
            TypeFilter::Pattern(p) => {
                q.append_pair("type", p);
            }
        }
        if let Some(id) = starting_after {
            q.append_pair("starting_after", id);
        }
        q.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap()
    }

    fn types(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_window_older_than_30_days_is_refused_and_30_days_is_not() {
        let e = EventQuery::new(now() - Duration::days(31), now(), &[], now()).unwrap_err();
        assert_eq!(e.exit_code(), crate::exit_codes::USAGE);
        let text = e.to_string();
        assert!(text.contains("2026-10-31T12:00:00Z"), "{text}");
        assert!(text.contains("keeps events for 30 days"), "{text}");
        assert!(EventQuery::new(now() - Duration::days(30), now(), &[], now()).is_ok());
        let late = now() - Duration::days(30) - Duration::seconds(1);
        assert!(EventQuery::new(late, now(), &[], now()).is_err());
    }

    #[test]
    fn a_future_or_empty_window_is_refused() {
        let e = EventQuery::new(
            now() - Duration::hours(1),
            now() + Duration::seconds(1),
            &[],
            now(),
        );
        assert!(e.unwrap_err().to_string().contains("in the future"));
        let e = EventQuery::new(now(), now(), &[], now());
        assert!(e.unwrap_err().to_string().contains("the window is empty"));
    }

    #[test]
    fn bad_event_types_are_refused() {
        for t in ["", "customer subscription", "invoice.paid;drop"] {
            let e = EventTypes::parse(&types(&[t])).unwrap_err();
            assert!(e.to_string().contains("is not a Stripe event type"), "{e}");
        }
    }

    #[test]
    fn names_are_split_at_20_per_call_and_patterns_get_their_own_call() {
        let mut given: Vec<String> = (0..45).map(|i| format!("t.n{i}")).collect();
        given.push("t.n3".into()); // a repeat is asked once
        given.push("invoice.*".into());
        let t = EventTypes::parse(&given).unwrap();
        let filters = t.filters();
        let sizes: Vec<usize> = filters
            .iter()
            .map(|f| match f {
                TypeFilter::Names(n) => n.len(),
                TypeFilter::Pattern(_) => 0,
                TypeFilter::All => usize::MAX,
            })
            .collect();
        assert_eq!(sizes, [20, 20, 5, 0]);
        assert_eq!(filters[3], TypeFilter::Pattern("invoice.*".into()));
        assert_eq!(EventTypes::all().filters(), [TypeFilter::All]);
    }

    #[test]
    fn wildcards_match_as_stripe_reads_them() {
        assert!(type_matches("invoice.*", "invoice.paid"));
        assert!(type_matches("invoice.*", "invoice.payment_failed"));
        assert!(!type_matches("invoice.*", "invoiceitem.created"));
        assert!(type_matches("*.succeeded", "payment_intent.succeeded"));
        assert!(type_matches(
            "customer.*.updated",
            "customer.subscription.updated"
        ));
        assert!(!type_matches("customer.*.updated", "customer.updated"));
        assert!(type_matches("*", "anything.at_all"));
        assert!(type_matches("charge.failed", "charge.failed"));
        assert!(!type_matches("charge.failed", "charge.failed.more"));
        let t = EventTypes::parse(&types(&["charge.failed", "invoice.*"])).unwrap();
        assert!(t.matches("charge.failed") && t.matches("invoice.paid"));
        assert!(!t.matches("charge.succeeded"));
        assert!(EventTypes::all().matches("charge.succeeded"));
    }

    #[test]
    fn the_query_string_carries_the_window_types_limit_and_cursor() {
        let start =
            Utc.with_ymd_and_hms(2026, 11, 30, 10, 0, 0).unwrap() + Duration::milliseconds(500);
        let end = Utc.with_ymd_and_hms(2026, 11, 30, 11, 0, 0).unwrap();
        let q = EventQuery::new(start, end, &types(&["a.b", "c.*"]), now()).unwrap();
        let filters = q.types().filters();
        let first = q.query_string(&filters[0], None);
        let pairs: Vec<(String, String)> = form_urlencoded::parse(first.as_bytes())
            .into_owned()
            .collect();
        let (gte, lte) = (start.timestamp() + 1, end.timestamp());
        assert_eq!(
            pairs,
            [
                ("created[gte]".into(), gte.to_string()),
                ("created[lte]".into(), lte.to_string()),
                ("limit".into(), "100".into()),
                ("types[]".into(), "a.b".into()),
            ]
        );
        assert!(first.contains("created%5Bgte%5D="), "{first}");
        let next = q.query_string(&filters[1], Some("evt_9"));
        assert!(next.ends_with("&type=c.*&starting_after=evt_9"), "{next}");
        // The window never widens: 10:00:00.5 starts at 10:00:01.
        assert!(!q.window().contains(start - Duration::milliseconds(500)));
        assert!(q.window().contains(end));
    }
}
