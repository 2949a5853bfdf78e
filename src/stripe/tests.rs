//! The client against the loopback stand-in: paging, filters, the type split, retries and
//! their waits (through a recording sleeper: no real waiting), refusals, and the key.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Duration as Span, TimeZone, Utc};

use super::client::{STRIPE_VERSION, StripeClient};
use super::error::StripeError;
use super::key::ApiKey;
use super::query::EventQuery;
use super::retry::{MAX_ATTEMPTS, Sleeper};
use super::testing::{StripeStandIn, event};

const KEY: &str = "rk_test_51StandInKey0000000000abcd";

/// Records each wait and returns at once.
#[derive(Default)]
struct Waits(Mutex<Vec<Duration>>);

impl Waits {
    fn taken(&self) -> Vec<Duration> {
        self.0.lock().unwrap().clone()
    }
}

#[async_trait]
impl Sleeper for Waits {
    async fn sleep(&self, d: Duration) {
        self.0.lock().unwrap().push(d);
    }
}

fn key(value: &str) -> ApiKey {
    ApiKey::read("STRIPE_API_KEY", |_| Some(value.into())).unwrap()
}

fn client(stand_in: &StripeStandIn, key_value: &str) -> (StripeClient, Arc<Waits>) {
    let waits = Arc::new(Waits::default());
    let c = StripeClient::new(&stand_in.base_url, key(key_value))
        .unwrap()
        .with_sleeper(waits.clone());
    (c, waits)
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

/// The last two hours.
fn query(types: &[&str]) -> EventQuery {
    let types: Vec<String> = types.iter().map(|s| s.to_string()).collect();
    EventQuery::new(now() - Span::hours(2), now(), &types, now()).unwrap()
}

/// `n` events one second apart, the newest `newest_secs_ago` before now.
fn events(
    prefix: &str,
    event_type: &str,
    n: usize,
    newest_secs_ago: i64,
) -> Vec<serde_json::Value> {
    let newest = now().timestamp() - newest_secs_ago;
    (0..n)
        .map(|i| {
            event(
                &format!("evt_{prefix}{i:04}"),
                event_type,
                newest - i as i64,
            )
        })
        .collect()
}

#[tokio::test]
async fn every_page_is_followed_with_starting_after_and_the_pinned_version() {
    let stripe = StripeStandIn::start(KEY);
    stripe.add_events(events("p", "invoice.paid", 250, 60));
    let (c, waits) = client(&stripe, KEY);
    let listed = c.list_events(&query(&[])).await.unwrap();

    assert_eq!(listed.len(), 250);
    // Newest first, as Stripe lists them.
    assert!(listed.windows(2).all(|w| w[0].created >= w[1].created));
    assert_eq!(listed[0].id, "evt_p0000");
    assert_eq!(listed[249].id, "evt_p0249");
    let reqs = stripe.requests();
    assert_eq!(reqs.len(), 3);
    let cursors: Vec<Option<&str>> = reqs.iter().map(|r| r.value("starting_after")).collect();
    assert_eq!(cursors, [None, Some("evt_p0099"), Some("evt_p0199")]);
    for r in &reqs {
        assert_eq!((r.method.as_str(), r.path.as_str()), ("GET", "/v1/events"));
        assert_eq!(r.value("limit"), Some("100"));
        assert_eq!(r.stripe_version.as_deref(), Some(STRIPE_VERSION));
        assert_eq!(
            r.authorization.as_deref(),
            Some(format!("Bearer {KEY}").as_str())
        );
        assert!(r.values("types[]").is_empty() && r.value("type").is_none());
    }
    assert_eq!(c.stripe_version(), STRIPE_VERSION);
    assert!(waits.taken().is_empty());
}

#[tokio::test]
async fn only_events_created_in_the_window_are_listed() {
    let stripe = StripeStandIn::start(KEY);
    let q = query(&[]);
    let (gte, lte) = q.window().created_bounds();
    stripe.add_events([
        event("evt_before", "invoice.paid", gte - 1),
        event("evt_first", "invoice.paid", gte),
        event("evt_last", "invoice.paid", lte),
        event("evt_after", "invoice.paid", lte + 1),
    ]);
    let (c, _) = client(&stripe, KEY);
    let ids: Vec<String> = c
        .list_events(&q)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids, ["evt_last", "evt_first"]);
    let r = &stripe.requests()[0];
    assert_eq!(r.value("created[gte]"), Some(gte.to_string().as_str()));
    assert_eq!(r.value("created[lte]"), Some(lte.to_string().as_str()));
}

#[tokio::test]
async fn more_than_20_types_are_split_across_calls_and_merged_newest_first() {
    let stripe = StripeStandIn::start(KEY);
    let asked: Vec<String> = (0..25).map(|i| format!("test.type_{i:02}")).collect();
    // 120 events of the 21st type (past the first call), one each of some others, and
    // events of a type not asked for.
    stripe.add_events(events("late", "test.type_20", 120, 100));
    stripe.add_events([
        event("evt_t00", "test.type_00", now().timestamp() - 50),
        event("evt_t19", "test.type_19", now().timestamp() - 500),
        event("evt_t24", "test.type_24", now().timestamp() - 10),
    ]);
    stripe.add_events(events("not", "test.not_asked", 5, 20));
    let (c, _) = client(&stripe, KEY);
    let asked_refs: Vec<&str> = asked.iter().map(String::as_str).collect();
    let listed = c.list_events(&query(&asked_refs)).await.unwrap();

    assert_eq!(listed.len(), 123);
    assert!(listed.iter().all(|e| e.event_type != "test.not_asked"));
    assert!(listed.windows(2).all(|w| w[0].created >= w[1].created));
    assert_eq!(listed[0].id, "evt_t24");
    assert_eq!(listed[1].id, "evt_t00");
    assert_eq!(listed[122].id, "evt_t19");

    let reqs = stripe.requests();
    let sent: Vec<Vec<&str>> = reqs.iter().map(|r| r.values("types[]")).collect();
    // Call 1: the first 20 types, one page. Call 2: the other 5, two pages.
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[0], asked_refs[..20]);
    assert_eq!(sent[1], asked_refs[20..]);
    assert_eq!(sent[2], asked_refs[20..]);
    assert!(sent.iter().all(|s| s.len() <= 20));
    assert_eq!(reqs[2].value("starting_after"), Some("evt_late0098"));
}

#[tokio::test]
async fn a_wildcard_type_gets_its_own_type_call() {
    let stripe = StripeStandIn::start(KEY);
    stripe.add_events(events("inv", "invoice.paid", 3, 30));
    stripe.add_events(events("fail", "invoice.payment_failed", 2, 40));
    stripe.add_events(events("chg", "charge.failed", 2, 50));
    let (c, _) = client(&stripe, KEY);
    let listed = c
        .list_events(&query(&["invoice.*", "charge.failed"]))
        .await
        .unwrap();
    assert_eq!(listed.len(), 7);
    let reqs = stripe.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].values("types[]"), ["charge.failed"]);
    assert_eq!(reqs[1].value("type"), Some("invoice.*"));
    assert!(reqs[1].values("types[]").is_empty());
}

#[tokio::test]
async fn a_wildcard_overlapping_a_name_lists_each_event_once_across_full_pages() {
    // The wildcard call's first page holds only events the first call listed already:
    // paging goes on past it, and no event is listed twice.
    let stripe = StripeStandIn::start(KEY);
    stripe.add_events(events("paid", "invoice.paid", 150, 30));
    stripe.add_events(events("due", "invoice.upcoming", 4, 1000));
    let (c, _) = client(&stripe, KEY);
    let listed = c
        .list_events(&query(&["invoice.paid", "invoice.*"]))
        .await
        .unwrap();
    assert_eq!(listed.len(), 154);
    let ids: std::collections::HashSet<&str> = listed.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), 154);
    // 2 pages of names, then 2 of the wildcard.
    assert_eq!(stripe.requests().len(), 4);
}

#[tokio::test]
async fn a_429_is_retried_after_the_retry_after_stripe_sends() {
    let stripe = StripeStandIn::start(KEY);
    stripe.add_events(events("r", "invoice.paid", 3, 60));
    stripe.throttle_next(2, Some("7"));
    let (c, waits) = client(&stripe, KEY);
    let listed = c.list_events(&query(&[])).await.unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(
        waits.taken(),
        [Duration::from_secs(7), Duration::from_secs(7)]
    );
    assert_eq!(stripe.requests().len(), 3);
}

#[tokio::test]
async fn a_429_without_retry_after_and_a_5xx_back_off_with_jitter() {
    let stripe = StripeStandIn::start(KEY);
    stripe.add_events(events("b", "invoice.paid", 3, 60));
    stripe.throttle_next(1, None);
    stripe.fail_next(2, 503);
    stripe.fail_next(1, 500);
    let (c, waits) = client(&stripe, KEY);
    assert_eq!(c.list_events(&query(&[])).await.unwrap().len(), 3);
    let taken: Vec<u128> = waits.taken().iter().map(Duration::as_millis).collect();
    assert_eq!(taken.len(), 4);
    // Steps of 500 ms doubling; each wait is half its step plus up to the other half.
    for (wait, step) in taken.iter().zip([500u128, 1000, 2000, 4000]) {
        assert!(
            (step / 2..=step).contains(wait),
            "{wait} ms for a {step} ms step"
        );
    }
    assert_eq!(stripe.requests().len(), 5);
}

#[tokio::test]
async fn a_5xx_that_does_not_stop_ends_after_the_attempts_with_stripes_message() {
    let stripe = StripeStandIn::start(KEY);
    stripe.fail_next(MAX_ATTEMPTS as usize + 3, 500);
    let (c, waits) = client(&stripe, KEY);
    let e = c.list_events(&query(&[])).await.unwrap_err();
    assert!(
        matches!(&e, StripeError::Api { status: 500, attempts, .. } if *attempts == MAX_ATTEMPTS),
        "{e:?}"
    );
    assert!(
        e.to_string()
            .contains("An unknown error occurred on Stripe's side."),
        "{e}"
    );
    assert!(e.to_string().contains("(request req_"), "{e}");
    assert_eq!(e.exit_code(), crate::exit_codes::FAILURE);
    assert_eq!(stripe.requests().len(), MAX_ATTEMPTS as usize);
    assert_eq!(waits.taken().len(), MAX_ATTEMPTS as usize - 1);
}

#[tokio::test]
async fn a_retry_after_beyond_the_limit_ends_the_run_without_waiting() {
    let stripe = StripeStandIn::start(KEY);
    stripe.throttle_next(1, Some("3600"));
    let (c, waits) = client(&stripe, KEY);
    let e = c.list_events(&query(&[])).await.unwrap_err();
    assert!(
        matches!(e, StripeError::WaitTooLong { seconds: 3600, .. }),
        "{e:?}"
    );
    assert!(waits.taken().is_empty());
    assert_eq!(stripe.requests().len(), 1);
}

#[tokio::test]
async fn a_rejected_key_fails_at_once_with_stripes_message_and_never_shows_the_key() {
    let stripe = StripeStandIn::start(KEY);
    stripe.add_events(events("k", "invoice.paid", 3, 60));
    let wrong = "rk_test_51WrongKeyValue00000009876";
    let (c, waits) = client(&stripe, wrong);
    let e = c.list_events(&query(&[])).await.unwrap_err();

    assert!(
        matches!(e, StripeError::Refused { status: 401, .. }),
        "{e:?}"
    );
    assert_eq!(e.exit_code(), crate::exit_codes::FAILURE);
    let text = e.to_string();
    assert!(
        text.starts_with("Stripe refused the API key in STRIPE_API_KEY (HTTP 401): Invalid API Key provided: rk_test_"),
        "{text}"
    );
    assert!(text.contains("9876"), "Stripe's masked key is kept: {text}");
    assert!(e.hint().unwrap().contains("STRIPE_API_KEY"));
    // Not retried.
    assert_eq!(stripe.requests().len(), 1);
    assert!(waits.taken().is_empty());
    for shown in [text, format!("{e:?}"), format!("{c:?}"), e.hint().unwrap()] {
        assert!(
            !shown.contains(wrong) && !shown.contains("WrongKeyValue"),
            "{shown}"
        );
    }
}

#[tokio::test]
async fn no_answer_is_retried_then_reported_without_the_key() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let waits = Arc::new(Waits::default());
    let c = StripeClient::new(&format!("http://127.0.0.1:{port}"), key(KEY))
        .unwrap()
        .with_sleeper(waits.clone());
    let e = c.list_events(&query(&[])).await.unwrap_err();
    assert!(
        matches!(&e, StripeError::Unreachable { attempts, .. } if *attempts == MAX_ATTEMPTS),
        "{e:?}"
    );
    assert_eq!(waits.taken().len(), MAX_ATTEMPTS as usize - 1);
    assert!(e.hint().is_some());
    assert!(!format!("{e} {e:?}").contains(KEY));
}

#[tokio::test]
async fn a_window_older_than_30_days_is_refused_before_any_request() {
    let stripe = StripeStandIn::start(KEY);
    let (_c, _) = client(&stripe, KEY);
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
    let e = EventQuery::new(at - Span::days(31), at - Span::days(1), &[], at).unwrap_err();
    assert_eq!(e.exit_code(), crate::exit_codes::USAGE);
    assert!(
        e.to_string().contains("Stripe keeps events for 30 days"),
        "{e}"
    );
    // list_events takes only a checked EventQuery: nothing could be sent.
    assert!(stripe.requests().is_empty());
}

#[tokio::test]
async fn the_stand_in_refuses_what_stripe_refuses() {
    let stripe = StripeStandIn::start(KEY);
    let http = raw_get(&stripe, "/v1/events?types%5B%5D=a&type=b").await;
    assert_eq!(http.0, 400);
    assert!(http.1.contains("either type or types"), "{}", http.1);
    let too_many: String = (0..21).map(|i| format!("types%5B%5D=t{i}&")).collect();
    let http = raw_get(&stripe, &format!("/v1/events?{too_many}limit=10")).await;
    assert_eq!(http.0, 400);
    assert!(http.1.contains("at most 20"), "{}", http.1);
    for q in [
        "limit=101",
        "limit=0",
        "created%5Bgte%5D=soon",
        "expand%5B%5D=data",
        "starting_after=evt_nope",
    ] {
        let (status, body) = raw_get(&stripe, &format!("/v1/events?{q}")).await;
        assert_eq!(status, 400, "{q}: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"]["type"], "invalid_request_error", "{q}");
    }
    let (status, body) = raw_get(&stripe, "/v1/charges").await;
    assert_eq!(status, 404, "{body}");
}

/// A raw GET with the right key, for what the client never sends.
async fn raw_get(stripe: &StripeStandIn, path_and_query: &str) -> (u16, String) {
    use http_body_util::{BodyExt, Empty};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let http: Client<_, Empty<bytes::Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let req = hyper::Request::get(format!("{}{path_and_query}", stripe.base_url))
        .header("authorization", format!("Bearer {}", stripe.key()))
        .body(Empty::new())
        .unwrap();
    let resp = http.request(req).await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}
