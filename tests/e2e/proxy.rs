//! A fault-injecting HTTP proxy on loopback, put between the binary (`--endpoint-url`) and
//! moto. Configured per test with a fixed seed, it adds latency, answers errors for a
//! fraction of calls per operation (by `X-Amz-Target`), fails some `PutEvents` entries in
//! their slots while forwarding the rest, forwards a call and then drops the connection
//! without answering (the ambiguous failure), and fails `DeleteMessageBatch` entries. It
//! counts what it injected and every PutEvents entry it forwarded, by dedup key.
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
    /// PutEvents: fraction of calls with some entries failed in place...
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
    /// Do not parse PutEvents bodies for dedup keys (the benchmark: keep the proxy cheap).
    pub skip_key_tracking: bool,
}

impl Faults {
    pub fn on(mut self, op: &str, f: OpFaults) -> Faults {
        self.ops.insert(op.to_string(), f);
        self
    }
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
    let op = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or("Unknown")
        .to_string();
    *sh.stats
        .lock()
        .unwrap()
        .calls
        .entry(op.clone())
        .or_default() += 1;
    let track = !sh.faults.lock().unwrap().skip_key_tracking;
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
    let r = sh.roll();
    if r < f.http_500 {
        sh.count(&op, "500");
        return Ok(error(500, "InternalFailure"));
    }
    if r < f.http_500 + f.http_503 {
        sh.count(&op, "503");
        return Ok(error(503, "ServiceUnavailable"));
    }
    if r < f.http_500 + f.http_503 + f.throttle {
        sh.count(&op, "throttle");
        return Ok(error(400, "ThrottlingException"));
    }
    let drop_it = sh.roll() < f.drop_after_forward;
    let answer = match op.as_str() {
        "PutEvents" if f.partial_calls > 0.0 && sh.roll() < f.partial_calls => {
            partial_put(&sh, &parts, &body, f.partial_entries).await?
        }
        "DeleteMessageBatch" if f.delete_entry_failures > 0.0 => {
            partial_delete(&sh, &parts, &body, f.delete_entry_failures).await?
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
    let mut st = sh.stats.lock().unwrap();
    st.put_entries += keys.len() as u64;
    for k in keys {
        *st.put_keys.entry(k).or_default() += 1;
    }
}

/// Forwards only the entries that do not fail; the failed ones get InternalFailure in their
/// slots, in the original order.
async fn partial_put(
    sh: &Shared,
    parts: &hyper::http::request::Parts,
    body: &Bytes,
    p: f64,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let mut req: Value = serde_json::from_slice(body).map_err(|_| Dropped)?;
    let entries = req["Entries"].as_array().cloned().unwrap_or_default();
    let mut fail: Vec<bool> = entries.iter().map(|_| sh.roll() < p).collect();
    if !fail.iter().any(|f| *f) && !fail.is_empty() {
        let i = (sh.roll() * fail.len() as f64) as usize % fail.len();
        fail[i] = true;
    }
    let keep: Vec<Value> = entries
        .iter()
        .zip(&fail)
        .filter(|(_, f)| !**f)
        .map(|(e, _)| e.clone())
        .collect();
    for _ in fail.iter().filter(|f| **f) {
        sh.count("PutEvents", "entry");
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
        .map(|f| {
            if *f {
                json!({"ErrorCode": "InternalFailure", "ErrorMessage": "injected by the fault proxy"})
            } else {
                it.next().unwrap_or(json!({"ErrorCode": "InternalFailure", "ErrorMessage": "missing"}))
            }
        })
        .collect();
    let failed = fail.iter().filter(|f| **f).count() as u64 + upstream_failed;
    Ok(reply(
        200,
        json!({"FailedEntryCount": failed, "Entries": merged}),
    ))
}

/// Forwards only the entries that do not fail; the rest are answered as failed.
async fn partial_delete(
    sh: &Shared,
    parts: &hyper::http::request::Parts,
    body: &Bytes,
    p: f64,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let mut req: Value = serde_json::from_slice(body).map_err(|_| Dropped)?;
    let entries = req["Entries"].as_array().cloned().unwrap_or_default();
    let (fail, keep): (Vec<Value>, Vec<Value>) = entries.into_iter().partition(|_| sh.roll() < p);
    for _ in &fail {
        sh.count("DeleteMessageBatch", "entry");
    }
    let mut successful = Vec::new();
    let mut failed: Vec<Value> = fail
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
