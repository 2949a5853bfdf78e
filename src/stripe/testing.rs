//! A loopback stand-in for Stripe's `GET /v1/events`, for the unit tests here and the e2e
//! tests of the built binary (`--stripe-api-base`). Not part of the tool: it binds
//! 127.0.0.1 only and runs on its own thread, so it serves a test in any runtime (or none).
//!
//! It follows Stripe's API reference ("List all events", "Errors"): Bearer auth, a 401
//! with Stripe's error JSON for a missing or unknown key (the key shown masked, as Stripe
//! does); events newest first; `created[gte|gt|lte|lt]` (and `created=N`); `types[]` (at
//! most 20) or `type` (with `*` wildcards), not both; `limit` 1–100 (default 10);
//! `starting_after` (an unknown id is a 400 `resource_missing`); `has_more`; unknown
//! parameters refused. On demand it answers the next calls with 429 (with `Retry-After`
//! when given) or 5xx, and it records every request (query pairs, `Stripe-Version`,
//! `Authorization`) so tests can check pagination, the version and the type split.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use super::query::{MAX_TYPES_PER_CALL, PAGE_LIMIT, type_matches};

/// A request the stand-in received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// The decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    pub stripe_version: Option<String>,
    pub authorization: Option<String>,
}

impl Recorded {
    /// The values of query parameter `name`, in order.
    pub fn values(&self, name: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The single value of `name`, if sent.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values(name).first().copied()
    }
}

/// Failures to answer instead of the list, one per call, in order.
#[derive(Debug, Clone)]
enum Fault {
    Throttle { retry_after: Option<String> },
    Status(u16),
}

#[derive(Debug, Default)]
struct State {
    /// (insertion number, event); listed by `created` descending, the later insertion
    /// first within one second.
    events: Vec<(usize, Value)>,
    inserted: usize,
    faults: std::collections::VecDeque<Fault>,
    requests: Vec<Recorded>,
}

/// The running stand-in; stops when dropped.
pub struct StripeStandIn {
    /// `http://127.0.0.1:PORT`, for `--stripe-api-base`.
    pub base_url: String,
    key: String,
    state: Arc<Mutex<State>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StripeStandIn {
    /// Starts on a free loopback port, accepting `key` (as `Authorization: Bearer KEY`).
    pub fn start(key: &str) -> StripeStandIn {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let addr: SocketAddr = listener.local_addr().expect("the stand-in's address");
        let state = Arc::new(Mutex::new(State::default()));
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let served = Arc::clone(&state);
        let key_served = key.to_string();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("the stand-in's runtime");
            rt.block_on(serve(listener, served, key_served, stopped));
        });
        StripeStandIn {
            base_url: format!("http://{addr}"),
            key: key.to_string(),
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The key it accepts.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Adds Stripe event objects (each needs `id`, `type` and `created`).
    pub fn add_events(&self, events: impl IntoIterator<Item = Value>) {
        let mut s = self.state();
        for e in events {
            s.inserted += 1;
            let n = s.inserted;
            s.events.push((n, e));
        }
    }

    /// Answers the next `n` calls with 429 and Stripe's rate-limit error, with
    /// `Retry-After: retry_after` when given.
    pub fn throttle_next(&self, n: usize, retry_after: Option<&str>) {
        let mut s = self.state();
        for _ in 0..n {
            s.faults.push_back(Fault::Throttle {
                retry_after: retry_after.map(str::to_string),
            });
        }
    }

    /// Answers the next `n` calls with `status` (a 5xx) and Stripe's `api_error`.
    pub fn fail_next(&self, n: usize, status: u16) {
        let mut s = self.state();
        for _ in 0..n {
            s.faults.push_back(Fault::Status(status));
        }
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state().requests.clone()
    }
}

impl Drop for StripeStandIn {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A Stripe-shaped event object (see `aws::sandbox::stripe_event`).
pub fn event(id: &str, event_type: &str, created: i64) -> Value {
    crate::aws::sandbox::stripe_event(event_type, id, created, 1)
}

async fn serve(
    listener: std::net::TcpListener,
    state: Arc<Mutex<State>>,
    key: String,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
    let key: Arc<str> = key.into();
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let (state, key) = (Arc::clone(&state), Arc::clone(&key));
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let answer = handle(&state, &key, &req);
                        async move { Ok::<_, std::convert::Infallible>(answer) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        }
    }
}

type Answer = Response<Full<Bytes>>;

fn reply(status: u16, body: Value) -> Answer {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("request-id", format!("req_{}", crate::ids::random_hex(14)))
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a response")
}

/// Stripe's error JSON.
fn error(
    status: u16,
    kind: &str,
    code: Option<&str>,
    param: Option<&str>,
    message: &str,
) -> Answer {
    let mut err = json!({"type": kind, "message": message});
    if let Some(c) = code {
        err["code"] = json!(c);
    }
    if let Some(p) = param {
        err["param"] = json!(p);
    }
    reply(status, json!({"error": err}))
}

fn bad_request(param: &str, message: &str) -> Answer {
    error(
        400,
        "invalid_request_error",
        Some("parameter_invalid_integer")
            .filter(|_| param.starts_with("created") || param == "limit"),
        Some(param),
        message,
    )
}

/// A key as Stripe shows it in an error: its prefix, stars, its last four characters.
fn masked(key: &str) -> String {
    let prefix_len = key
        .match_indices('_')
        .nth(1)
        .map_or(0, |(i, _)| i + 1)
        .min(key.len());
    let tail = key.len().saturating_sub(4).max(prefix_len);
    format!(
        "{}{}{}",
        &key[..prefix_len],
        "*".repeat(tail - prefix_len),
        &key[tail..]
    )
}

fn handle(state: &Mutex<State>, key: &str, req: &Request<Incoming>) -> Answer {
    let header = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let query: Vec<(String, String)> =
        form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
    s.requests.push(Recorded {
        method: req.method().to_string(),
        path: req.uri().path().to_string(),
        query: query.clone(),
        stripe_version: header("stripe-version"),
        authorization: header("authorization"),
    });
    match header("authorization")
        .as_deref()
        .map(|a| a.strip_prefix("Bearer "))
    {
        None => {
            return error(
                401,
                "invalid_request_error",
                None,
                None,
                "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            );
        }
        Some(Some(k)) if k == key => {}
        Some(given) => {
            return error(
                401,
                "invalid_request_error",
                None,
                None,
                &format!("Invalid API Key provided: {}", masked(given.unwrap_or(""))),
            );
        }
    }
    if let Some(fault) = s.faults.pop_front() {
        return match fault {
            Fault::Throttle { retry_after } => {
                let mut a = error(
                    429,
                    "invalid_request_error",
                    Some("rate_limit"),
                    None,
                    "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
                );
                if let Some(r) = retry_after {
                    a.headers_mut()
                        .insert("retry-after", r.parse().expect("a header value"));
                }
                a
            }
            Fault::Status(status) => error(
                status,
                "api_error",
                None,
                None,
                "An unknown error occurred on Stripe's side.",
            ),
        };
    }
    if req.method() != hyper::Method::GET || req.uri().path() != "/v1/events" {
        return error(
            404,
            "invalid_request_error",
            None,
            None,
            &format!(
                "Unrecognized request URL ({}: {}).",
                req.method(),
                req.uri().path()
            ),
        );
    }
    list(&s, &query)
}

/// `GET /v1/events` over the stored events.
fn list(s: &State, query: &[(String, String)]) -> Answer {
    let mut limit = 10usize;
    let (mut gt, mut lt) = (i64::MIN, i64::MAX);
    let mut types: Vec<&str> = Vec::new();
    let mut pattern: Option<&str> = None;
    let mut after: Option<&str> = None;
    for (k, v) in query {
        match k.as_str() {
            "limit" => match v.parse::<usize>() {
                Ok(n) if (1..=PAGE_LIMIT as usize).contains(&n) => limit = n,
                _ => {
                    return bad_request(
                        k,
                        &format!("This value must be between 1 and {PAGE_LIMIT}: {v}"),
                    );
                }
            },
            "created[gte]" | "created[gt]" | "created[lte]" | "created[lt]" | "created" => {
                let Ok(n) = v.parse::<i64>() else {
                    return bad_request(k, &format!("Invalid integer: {v}"));
                };
                match k.as_str() {
                    "created[gte]" => gt = gt.max(n - 1),
                    "created[gt]" => gt = gt.max(n),
                    "created[lte]" => lt = lt.min(n + 1),
                    "created[lt]" => lt = lt.min(n),
                    _ => (gt, lt) = (gt.max(n - 1), lt.min(n + 1)),
                }
            }
            "types[]" => types.push(v),
            "type" => pattern = Some(v),
            "starting_after" => after = Some(v),
            other => {
                return error(
                    400,
                    "invalid_request_error",
                    Some("parameter_unknown"),
                    Some(other),
                    &format!("Received unknown parameter: {other}"),
                );
            }
        }
    }
    if types.len() > MAX_TYPES_PER_CALL {
        return bad_request(
            "types",
            &format!("Invalid array: types must have at most {MAX_TYPES_PER_CALL} elements"),
        );
    }
    if pattern.is_some() && !types.is_empty() {
        return bad_request("types", "You may pass either type or types, but not both.");
    }

    let mut ordered: Vec<&(usize, Value)> = s.events.iter().collect();
    let created = |e: &Value| e["created"].as_i64().unwrap_or(0);
    ordered.sort_by(|(na, a), (nb, b)| created(b).cmp(&created(a)).then(nb.cmp(na)));
    let from = match after {
        None => 0,
        Some(id) => match ordered.iter().position(|(_, e)| e["id"] == id) {
            Some(i) => i + 1,
            None => {
                return error(
                    400,
                    "invalid_request_error",
                    Some("resource_missing"),
                    Some("starting_after"),
                    &format!("No such event: '{id}'"),
                );
            }
        },
    };
    let mut matching = ordered[from..].iter().map(|(_, e)| e).filter(|e| {
        let c = created(e);
        let t = e["type"].as_str().unwrap_or("");
        c > gt
            && c < lt
            && (types.is_empty() || types.contains(&t))
            && pattern.is_none_or(|p| type_matches(p, t))
    });
    let data: Vec<Value> = matching.by_ref().take(limit).cloned().collect();
    let has_more = matching.next().is_some();
    reply(
        200,
        json!({"object": "list", "url": "/v1/events", "has_more": has_more, "data": data}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One raw HTTP/1.1 GET: the stand-in needs no runtime in the test that starts it, as
    /// in an e2e test that runs the binary against it.
    fn get(base: &str, path: &str, auth: &str) -> (u16, serde_json::Value) {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(base.trim_start_matches("http://")).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let status = text[9..12].parse().unwrap();
        let body = &text[text.find("\r\n\r\n").unwrap() + 4..];
        (status, serde_json::from_str(body).unwrap())
    }

    #[test]
    fn it_lists_newest_first_in_pages_without_a_runtime_in_the_test() {
        let stripe = StripeStandIn::start("sk_test_standin");
        stripe.add_events([
            event("evt_old", "invoice.paid", 100),
            event("evt_mid", "charge.failed", 200),
            event("evt_new", "invoice.paid", 300),
            event("evt_new2", "invoice.paid", 300), // same second, added later: listed first
        ]);
        let auth = "Bearer sk_test_standin";
        let (status, page) = get(&stripe.base_url, "/v1/events?limit=2", auth);
        assert_eq!(status, 200);
        assert_eq!(page["object"], "list");
        assert_eq!(page["has_more"], true);
        let ids = |p: &Value| {
            p["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&page), ["evt_new2", "evt_new"]);
        let (_, page) = get(
            &stripe.base_url,
            "/v1/events?limit=2&starting_after=evt_new",
            auth,
        );
        assert_eq!(ids(&page), ["evt_mid", "evt_old"]);
        assert_eq!(page["has_more"], false);
        let (_, page) = get(
            &stripe.base_url,
            "/v1/events?created%5Bgt%5D=100&created%5Blt%5D=300&types%5B%5D=charge.failed",
            auth,
        );
        assert_eq!(ids(&page), ["evt_mid"]);
        let (_, page) = get(&stripe.base_url, "/v1/events?type=invoice.*", auth);
        assert_eq!(ids(&page), ["evt_new2", "evt_new", "evt_old"]);
        let (status, err) = get(&stripe.base_url, "/v1/events", "Bearer sk_test_wrong1234");
        assert_eq!(status, 401);
        assert_eq!(
            err["error"]["message"],
            "Invalid API Key provided: sk_test_*****1234"
        );
        assert_eq!(stripe.requests().len(), 5);
    }

    #[test]
    fn keys_are_masked_as_stripe_masks_them() {
        assert_eq!(masked("sk_test_abcdefgh1234"), "sk_test_********1234");
        assert_eq!(masked("rk_live_12345"), "rk_live_*2345");
        assert_eq!(masked("nope"), "nope");
        assert_eq!(masked("wrong-key-9876"), "**********9876");
    }
}
