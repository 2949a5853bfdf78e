//! A fault-injecting HTTP proxy on loopback, put between the binary (`--endpoint-url`) and
//! moto. Configured per test with a fixed seed, it adds latency, answers errors for a
//! fraction of calls per operation (by `X-Amz-Target`, the Lambda `Invoke` path, or a
//! query API's `Action`), fails some `PutEvents` or `SendMessageBatch` entries while
//! forwarding the rest, forwards a call and then drops the connection without answering
//! (the ambiguous failure), and fails `DeleteMessageBatch` entries. It counts what it
//! injected and every PutEvents entry it forwarded, by dedup key and by source, and keeps
//! the request bodies of the operations a test asks for (what reached a Lambda function).
//!
//! Like AWS (and unlike the emulators), it refuses PutEvents entries whose source starts
//! with `aws.` (`NotAuthorizedForSourceException` in their slots), forwarding the rest.
//!
//! Also used by `benches/wire.rs` (`#[path]`), so it depends only on dev-dependencies.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

/// Faults for one operation (or `*`, every operation without its own entry).
#[derive(Debug, Clone, Default)]
pub struct OpFaults {
    /// Fraction of calls answered 500 InternalFailure (not forwarded).
    pub http_500: f64,
    /// Fraction answered 503 ServiceUnavailable (not forwarded).
    pub http_503: f64,
    /// Fraction answered 400 ThrottlingException (not forwarded).
    pub throttle: f64,
    /// PutEvents and SendMessageBatch: fraction of calls with some entries failed (in
    /// their slots, or in SendMessageBatch's `Failed` list)...
    pub partial_calls: f64,
    /// ...each entry failing with this probability (at least one per affected call).
    pub partial_entries: f64,
    /// Fraction of calls forwarded, then the connection dropped without an answer.
    pub drop_after_forward: f64,
    /// DeleteMessageBatch: fraction of entries answered as failed (not forwarded).
    pub delete_entry_failures: f64,
}

/// The proxy's configuration; replaceable while it runs.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    pub latency: Duration,
    /// Up to this much more, uniformly.
    pub jitter: Duration,
    /// By operation name (`PutEvents`, `ReceiveMessage`, ...) or `*`.
    pub ops: BTreeMap<String, OpFaults>,
    /// Do not parse PutEvents bodies for dedup keys or sources (the benchmark: keep the
    /// proxy cheap; the `aws.` source check is then off too).
    pub skip_key_tracking: bool,
    /// Operations whose forwarded request bodies are kept (`Stats::requests`).
    pub record: Vec<String>,
    /// By operation: the faults of its first calls, in order (then the rolls of `ops`), so
    /// that a test with few calls meets each kind whatever the order of calls.
    pub script: BTreeMap<String, Vec<Fault>>,
}

/// One fault forced on a call (see `Faults::script`); kinds as in [`OpFaults`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Http500,
    Http503,
    Throttle,
    /// PutEvents or SendMessageBatch: some entries failed (`partial_entries`, at least one).
    PartialEntries,
    DropAfterForward,
}

impl Faults {
    pub fn on(mut self, op: &str, f: OpFaults) -> Faults {
        self.ops.insert(op.to_string(), f);
        self
    }
    /// Forces `faults` on the first calls of `op`, in order.
    pub fn first(mut self, op: &str, faults: &[Fault]) -> Faults {
        self.script.insert(op.to_string(), faults.to_vec());
        self
    }
    /// Keeps the request bodies of `op` that are forwarded.
    pub fn recording(mut self, op: &str) -> Faults {
        self.record.push(op.to_string());
        self
    }
}

/// A request forwarded to the emulator, kept because its operation is recorded.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub op: String,
    /// The path (for Lambda `Invoke`, it names the function).
    pub path: String,
    /// The request's headers, names in lower case.
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

/// What the proxy saw and did.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Calls received, by operation.
    pub calls: BTreeMap<String, u64>,
    /// Faults injected, by `Operation:kind`.
    pub injected: BTreeMap<String, u64>,
    /// PutEvents entries forwarded to the emulator, by `detail.nexus_replay.dedup_key`.
    pub put_keys: BTreeMap<String, u32>,
    /// PutEvents entries forwarded in total.
    pub put_entries: u64,
    /// PutEvents entries received (forwarded or not), by dedup key: the tries per entry.
    pub put_attempts: BTreeMap<String, u32>,
    /// PutEvents entries forwarded, by `Source`.
    pub put_sources: BTreeMap<String, u32>,
    /// The forwarded requests of the recorded operations, in order.
    pub requests: Vec<Recorded>,
}

impl Stats {
    pub fn calls_of(&self, op: &str) -> u64 {
        self.calls.get(op).copied().unwrap_or(0)
    }
    pub fn injected_of(&self, key: &str) -> u64 {
        self.injected.get(key).copied().unwrap_or(0)
    }
    pub fn total_calls(&self) -> u64 {
        self.calls.values().sum()
    }
    /// Entries forwarded beyond the first of their key: the copies consumers may see.
    pub fn extra_puts(&self) -> u64 {
        self.put_keys.values().map(|n| u64::from(n - 1)).sum()
    }
    /// The recorded `Invoke` calls of the Lambda function `name`, named in the path by its
    /// name or (percent-encoded) ARN.
    pub fn invocations_of(&self, name: &str) -> Vec<&Recorded> {
        self.requests
            .iter()
            .filter(|r| {
                r.op == "Invoke"
                    && r.path
                        .trim_start_matches("/2015-03-31/functions/")
                        .trim_end_matches("/invocations")
                        .replace("%3A", ":")
                        .replace("%3a", ":")
                        .rsplit(':')
                        .next()
                        == Some(name)
            })
            .collect()
    }
    /// Keys forwarded more than once.
    pub fn keys_put_twice(&self) -> Vec<String> {
        self.put_keys
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(k, _)| k.clone())
            .collect()
    }
}

struct Shared {
    upstream: SocketAddr,
    faults: Mutex<Faults>,
    rng: Mutex<u64>,
    stats: Mutex<Stats>,
}

impl Shared {
    /// splitmix64: a seeded stream, shared by every call.
    fn roll(&self) -> f64 {
        let mut s = self.rng.lock().unwrap();
        *s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    fn count(&self, op: &str, kind: &str) {
        *self
            .stats
            .lock()
            .unwrap()
            .injected
            .entry(format!("{op}:{kind}"))
            .or_default() += 1;
    }
}

/// A running proxy; stops when dropped.
pub struct Proxy {
    pub endpoint: String,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    /// Starts a proxy to `upstream` (`http://127.0.0.1:PORT`) on a free loopback port.
    pub fn start(upstream: &str, seed: u64, faults: Faults) -> Proxy {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .expect("upstream is http://IP:PORT");
        let shared = Arc::new(Shared {
            upstream,
            faults: Mutex::new(faults),
            rng: Mutex::new(seed),
            stats: Mutex::new(Stats::default()),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let sh = shared.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(serve(listener, sh, rx));
        });
        Proxy {
            endpoint: format!("http://{addr}"),
            shared,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    /// Replaces the faults (e.g. to end a storm).
    pub fn set(&self, faults: Faults) {
        *self.shared.faults.lock().unwrap() = faults;
    }

    pub fn stats(&self) -> Stats {
        self.shared.stats.lock().unwrap().clone()
    }

    pub fn reset_stats(&self) {
        *self.shared.stats.lock().unwrap() = Stats::default();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve(
    listener: std::net::TcpListener,
    sh: Arc<Shared>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let sh = sh.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let sh = sh.clone();
                        async move { handle(sh, req).await }
                    });
                    // A dropped answer ends the connection with an error: expected.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        }
    }
}

/// The answer when the connection is dropped on purpose.
#[derive(Debug)]
struct Dropped;
impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by the fault proxy")
    }
}
impl std::error::Error for Dropped {}

fn reply(status: u16, body: Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.1")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

fn error(status: u16, code: &str) -> Response<Full<Bytes>> {
    let mut r = reply(
        status,
        json!({"__type": code, "message": "injected by the fault proxy"}),
    );
    // The SQS JSON protocol also reads the code from this header.
    r.headers_mut().insert(
        "x-amzn-query-error",
        format!("{code};Receiver").parse().unwrap(),
    );
    r
}

async fn handle(sh: Arc<Shared>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Dropped> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map_err(|_| Dropped)?.to_bytes();
    let op = operation(&parts, &body);
    let call_number = {
        let mut st = sh.stats.lock().unwrap();
        let n = st.calls.entry(op.clone()).or_default();
        *n += 1;
        *n as usize
    };
    let (track, record) = {
        let f = sh.faults.lock().unwrap();
        (!f.skip_key_tracking, f.record.contains(&op))
    };
    if op == "PutEvents" && track {
        let mut st = sh.stats.lock().unwrap();
        for k in dedup_keys_of(&body) {
            *st.put_attempts.entry(k).or_default() += 1;
        }
    }
    let faults = sh.faults.lock().unwrap().clone();
    let delay = faults.latency + faults.jitter.mul_f64(sh.roll());
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let f = faults
        .ops
        .get(&op)
        .or_else(|| faults.ops.get("*"))
        .cloned()
        .unwrap_or_default();
    let scripted = faults
        .script
        .get(&op)
        .and_then(|s| s.get(call_number - 1))
        .copied();
    let rejected = match scripted {
        Some(k @ (Fault::Http500 | Fault::Http503 | Fault::Throttle)) => Some(k),
        Some(_) => None,
        None => {
            let r = sh.roll();
            if r < f.http_500 {
                Some(Fault::Http500)
            } else if r < f.http_500 + f.http_503 {
                Some(Fault::Http503)
            } else if r < f.http_500 + f.http_503 + f.throttle {
                Some(Fault::Throttle)
            } else {
                None
            }
        }
    };
    match rejected {
        Some(Fault::Http500) => {
            sh.count(&op, "500");
            return Ok(error(500, "InternalFailure"));
        }
        Some(Fault::Http503) => {
            sh.count(&op, "503");
            return Ok(error(503, "ServiceUnavailable"));
        }
        Some(_) => {
            sh.count(&op, "throttle");
            return Ok(error(400, "ThrottlingException"));
        }
        None => {}
    }
    let drop_it = match scripted {
        Some(k) => k == Fault::DropAfterForward,
        None => sh.roll() < f.drop_after_forward,
    };
    let partial = |sh: &Shared| match scripted {
        Some(k) => k == Fault::PartialEntries,
        None => f.partial_calls > 0.0 && sh.roll() < f.partial_calls,
    };
    if record {
        sh.stats.lock().unwrap().requests.push(Recorded {
            op: op.clone(),
            path: parts.uri.path().to_string(),
            headers: parts
                .headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
                .collect(),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
    }
    let reserved = op == "PutEvents" && track && has_reserved_source(&body);
    let answer = match op.as_str() {
        "PutEvents" if reserved || partial(&sh) => {
            let p = if reserved { 0.0 } else { f.partial_entries };
            partial_put(&sh, &parts, &body, p).await?
        }
        "SendMessageBatch" if partial(&sh) => {
            let p = f.partial_entries;
            partial_batch(&sh, &op, &parts, &body, true, |sh| sh.roll() < p).await?
        }
        "DeleteMessageBatch" if f.delete_entry_failures > 0.0 => {
            let p = f.delete_entry_failures;
            partial_batch(&sh, &op, &parts, &body, false, |sh| sh.roll() < p).await?
        }
        _ => {
            if op == "PutEvents" && track {
                record_puts(&sh, &body);
            }
            forward(&sh, &parts, body).await?
        }
    };
    if drop_it {
        sh.count(&op, "dropped");
        return Err(Dropped);
    }
    Ok(answer)
}

/// The `detail.nexus_replay.dedup_key` of each PutEvents entry.
fn dedup_keys_of(body: &[u8]) -> Vec<String> {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    v["Entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            e["Detail"]
                .as_str()
                .and_then(|d| serde_json::from_str::<Value>(d).ok())
                .and_then(|d| d["nexus_replay"]["dedup_key"].as_str().map(str::to_string))
        })
        .collect()
}

fn record_puts(sh: &Shared, body: &[u8]) {
    let keys = dedup_keys_of(body);
    let sources: Vec<String> = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["Entries"].as_array().cloned())
        .into_iter()
        .flatten()
        .filter_map(|e| e["Source"].as_str().map(str::to_string))
        .collect();
    let mut st = sh.stats.lock().unwrap();
    for s in sources {
        *st.put_sources.entry(s).or_default() += 1;
    }
    st.put_entries += keys.len() as u64;
    for k in keys {
        *st.put_keys.entry(k).or_default() += 1;
    }
}

/// Forwards only the entries that do not fail; the failed ones get an error in their
/// slots, in the original order: `NotAuthorizedForSourceException` for a source starting
/// with `aws.` (as AWS answers), else `InternalFailure` with probability `p` (at least one
/// entry of the call when `p > 0`).
async fn partial_put(
    sh: &Shared,
    parts: &hyper::http::request::Parts,
    body: &Bytes,
    p: f64,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let mut req: Value = serde_json::from_slice(body).map_err(|_| Dropped)?;
    let entries = req["Entries"].as_array().cloned().unwrap_or_default();
    let mut fail: Vec<Option<(&str, &str)>> = entries
        .iter()
        .map(|e| {
            if reserved(e) {
                Some((
                    "NotAuthorizedForSourceException",
                    "Not authorized for the source.",
                ))
            } else if p > 0.0 && sh.roll() < p {
                Some(("InternalFailure", "injected by the fault proxy"))
            } else {
                None
            }
        })
        .collect();
    let injected = ("InternalFailure", "injected by the fault proxy");
    if p > 0.0 && !fail.contains(&Some(injected)) {
        let open: Vec<usize> = (0..fail.len()).filter(|i| fail[*i].is_none()).collect();
        if !open.is_empty() {
            let i = (sh.roll() * open.len() as f64) as usize % open.len();
            fail[open[i]] = Some(injected);
        }
    }
    let keep: Vec<Value> = entries
        .iter()
        .zip(&fail)
        .filter(|(_, f)| f.is_none())
        .map(|(e, _)| e.clone())
        .collect();
    for f in fail.iter().flatten() {
        let kind = if f.0 == "InternalFailure" {
            "entry"
        } else {
            "NotAuthorizedForSource"
        };
        sh.count("PutEvents", kind);
    }
    let mut forwarded: Vec<Value> = Vec::new();
    let mut upstream_failed = 0;
    if !keep.is_empty() {
        req["Entries"] = Value::Array(keep);
        let b = Bytes::from(req.to_string());
        record_puts(sh, &b);
        let v = match forward_json(sh, parts, b).await? {
            Ok(v) => v,
            Err(passed_through) => return Ok(passed_through),
        };
        upstream_failed = v["FailedEntryCount"].as_u64().unwrap_or(0);
        forwarded = v["Entries"].as_array().cloned().unwrap_or_default();
    }
    let mut it = forwarded.into_iter();
    let merged: Vec<Value> = fail
        .iter()
        .map(|f| match f {
            Some((code, message)) => json!({"ErrorCode": code, "ErrorMessage": message}),
            None => it
                .next()
                .unwrap_or(json!({"ErrorCode": "InternalFailure", "ErrorMessage": "missing"})),
        })
        .collect();
    let failed = fail.iter().filter(|f| f.is_some()).count() as u64 + upstream_failed;
    Ok(reply(
        200,
        json!({"FailedEntryCount": failed, "Entries": merged}),
    ))
}

/// An SQS batch call (`SendMessageBatch`, `DeleteMessageBatch`): forwards only the entries
/// `fails` spares; the rest are answered in `Failed` (at least one when `at_least_one`).
async fn partial_batch(
    sh: &Shared,
    op: &str,
    parts: &hyper::http::request::Parts,
    body: &Bytes,
    at_least_one: bool,
    mut fails: impl FnMut(&Shared) -> bool,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let mut req: Value = serde_json::from_slice(body).map_err(|_| Dropped)?;
    let entries = req["Entries"].as_array().cloned().unwrap_or_default();
    let mut fail: Vec<bool> = entries.iter().map(|_| fails(sh)).collect();
    if at_least_one && !fail.iter().any(|f| *f) && !fail.is_empty() {
        let i = (sh.roll() * fail.len() as f64) as usize % fail.len();
        fail[i] = true;
    }
    let mut failing = Vec::new();
    let mut keep = Vec::new();
    for (e, f) in entries.into_iter().zip(fail) {
        if f { failing.push(e) } else { keep.push(e) }
    }
    for _ in &failing {
        sh.count(op, "entry");
    }
    let mut successful = Vec::new();
    let mut failed: Vec<Value> = failing
        .iter()
        .map(|e| json!({"Id": e["Id"], "SenderFault": false, "Code": "InternalError", "Message": "injected by the fault proxy"}))
        .collect();
    if !keep.is_empty() {
        req["Entries"] = Value::Array(keep);
        let v = match forward_json(sh, parts, Bytes::from(req.to_string())).await? {
            Ok(v) => v,
            Err(passed_through) => return Ok(passed_through),
        };
        successful = v["Successful"].as_array().cloned().unwrap_or_default();
        failed.extend(v["Failed"].as_array().cloned().unwrap_or_default());
    }
    Ok(reply(
        200,
        json!({"Successful": successful, "Failed": failed}),
    ))
}

/// The operation of a call: the `X-Amz-Target` of the JSON protocols, the Lambda `Invoke`
/// path, or the `Action` of a query API's form body (SNS, IAM).
fn operation(parts: &hyper::http::request::Parts, body: &[u8]) -> String {
    if let Some(t) = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
    {
        return t.rsplit('.').next().unwrap_or(t).to_string();
    }
    let path = parts.uri.path();
    if path.starts_with("/2015-03-31/functions/") && path.ends_with("/invocations") {
        return "Invoke".into();
    }
    let form = parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if form {
        let action = String::from_utf8_lossy(body)
            .split('&')
            .find_map(|kv| kv.strip_prefix("Action=").map(str::to_string));
        if let Some(a) = action {
            return a;
        }
    }
    "Unknown".into()
}

/// A PutEvents entry with a source AWS reserves (`aws.`…), which callers may not put.
fn reserved(entry: &Value) -> bool {
    entry["Source"]
        .as_str()
        .is_some_and(|s| s.starts_with("aws."))
}

fn has_reserved_source(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body).is_ok_and(|v| {
        v["Entries"]
            .as_array()
            .is_some_and(|es| es.iter().any(reserved))
    })
}

/// Forwards a call and parses a 200 answer as JSON; any other status is passed through
/// as it came (`Err`), for the caller to return.
async fn forward_json(
    sh: &Shared,
    parts: &hyper::http::request::Parts,
    body: Bytes,
) -> Result<Result<Value, Response<Full<Bytes>>>, Dropped> {
    let resp = forward(sh, parts, body).await?;
    let status = resp.status();
    let rb = resp
        .into_body()
        .collect()
        .await
        .map_err(|_| Dropped)?
        .to_bytes();
    if status != StatusCode::OK {
        return Ok(Err(Response::builder()
            .status(status)
            .body(Full::new(rb))
            .unwrap()));
    }
    serde_json::from_slice(&rb).map(Ok).map_err(|_| Dropped)
}

async fn forward(
    sh: &Shared,
    parts: &hyper::http::request::Parts,
    body: Bytes,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let stream = tokio::net::TcpStream::connect(sh.upstream)
        .await
        .map_err(|_| Dropped)?;
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|_| Dropped)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut b = Request::builder().method(parts.method.clone()).uri(
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/"),
    );
    for (k, v) in &parts.headers {
        if k == "host" || k == "content-length" || k == "transfer-encoding" {
            continue;
        }
        b = b.header(k, v);
    }
    let req = b
        .header("host", sh.upstream.to_string())
        .header("content-length", body.len())
        .body(Full::new(body))
        .map_err(|_| Dropped)?;
    let resp = send.send_request(req).await.map_err(|_| Dropped)?;
    let (rp, rb) = resp.into_parts();
    let rb = rb.collect().await.map_err(|_| Dropped)?.to_bytes();
    let mut out = Response::builder().status(rp.status);
    for (k, v) in &rp.headers {
        if k == "content-length" || k == "transfer-encoding" || k == "connection" {
            continue;
        }
        out = out.header(k, v);
    }
    Ok(out.body(Full::new(rb)).unwrap())
}
