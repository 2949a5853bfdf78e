//! A loopback emulator of exactly the calls a drain makes (SQS: GetQueueUrl,
//! GetQueueAttributes, ReceiveMessage with long polling and visibility timeouts,
//! DeleteMessageBatch, ChangeMessageVisibilityBatch, and SendMessageBatch for a drain
//! `--to target` whose target is a queue; EventBridge, in `events.rs`: PutEvents,
//! DescribeEventBus, ListTargetsByRule), over real HTTP with the AWS JSON protocols, so the
//! benchmark drives the real binary and SDK. Queues are known by name (the last segment of
//! a queue URL), so a URL the tool builds from a queue ARN finds its queue too.
//!
//! Why not moto here: moto's SQS is quadratic in queue length (measured on this machine:
//! sending 2,000 messages to one queue took 93 s, 500 → 2,000 getting slower per batch), so
//! 20,000 messages would measure moto. Correctness on moto is the e2e suite's job.

mod events;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

#[derive(Clone)]
struct Msg {
    id: String,
    body: Arc<str>,
    attrs: Arc<Value>,
    receives: u32,
    sent_ms: u64,
}

#[derive(Default)]
struct Queue {
    visible: VecDeque<Msg>,
    in_flight: HashMap<String, (Msg, Instant)>,
}

#[derive(Default)]
struct State {
    /// By queue name.
    queues: HashMap<String, Queue>,
    handles: u64,
    /// Messages accepted by SendMessageBatch, numbering their ids.
    sent: u64,
    /// `ListTargetsByRule` answers (the `Targets` array), by `BUS/RULE`.
    targets: HashMap<String, Value>,
}

/// The emulator: `endpoint` serves both services.
pub struct Emulator {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
    /// PutEvents entries accepted.
    pub arrived: Arc<AtomicU64>,
    _rt: tokio::runtime::Runtime,
}

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-2";

/// The queue a URL names: its last path segment.
fn queue_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or("")
}

pub fn queue_arn(name: &str) -> String {
    format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}")
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

impl Emulator {
    pub fn start() -> Emulator {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let arrived = Arc::new(AtomicU64::new(0));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let (st, ar) = (state.clone(), arrived.clone());
        rt.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (st, ar) = (st.clone(), ar.clone());
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let (st, ar) = (st.clone(), ar.clone());
                        async move { Ok::<_, std::convert::Infallible>(handle(st, ar, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Emulator {
            endpoint,
            state,
            arrived,
            _rt: rt,
        }
    }

    pub fn queue_url(&self, name: &str) -> String {
        format!("{}/{ACCOUNT}/{name}", self.endpoint)
    }

    /// Replaces the queue's content with `bodies`, each with the message attributes
    /// `attrs`; creates the queue if needed (so an empty iterator makes an empty queue).
    pub fn seed(&self, name: &str, bodies: impl Iterator<Item = String>, attrs: Value) {
        let attrs = Arc::new(attrs);
        let now = now_ms();
        let mut st = self.state.lock().unwrap();
        let q = st.queues.entry(name.to_string()).or_default();
        q.visible.clear();
        q.in_flight.clear();
        for (i, b) in bodies.enumerate() {
            q.visible.push_back(Msg {
                id: format!("m-{i}"),
                body: b.into(),
                attrs: attrs.clone(),
                receives: 0,
                sent_ms: now,
            });
        }
    }

    /// Messages left (visible and in flight).
    pub fn left(&self, name: &str) -> usize {
        let st = self.state.lock().unwrap();
        st.queues
            .get(name)
            .map(|q| q.visible.len() + q.in_flight.len())
            .unwrap_or(0)
    }

    /// The bodies of every message in the queue (visible and in flight).
    pub fn bodies(&self, name: &str) -> Vec<Arc<str>> {
        let st = self.state.lock().unwrap();
        st.queues
            .get(name)
            .map(|q| {
                q.visible
                    .iter()
                    .chain(q.in_flight.values().map(|(m, _)| m))
                    .map(|m| m.body.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Messages accepted by SendMessageBatch since the start.
    pub fn sent(&self) -> u64 {
        self.state.lock().unwrap().sent
    }

    /// What `ListTargetsByRule` answers for `rule` on `bus`: `targets` is the `Targets`
    /// array in the API's JSON shape.
    pub fn set_targets(&self, bus: &str, rule: &str, targets: Value) {
        let mut st = self.state.lock().unwrap();
        st.targets.insert(format!("{bus}/{rule}"), targets);
    }
}

fn reply(content_type: &str, v: Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(200)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(v.to_string())))
        .unwrap()
}

fn not_found() -> Response<Full<Bytes>> {
    Response::builder()
        .status(400)
        .header("content-type", "application/x-amz-json-1.0")
        .header(
            "x-amzn-query-error",
            "AWS.SimpleQueueService.NonExistentQueue;Sender",
        )
        .body(Full::new(Bytes::from(
            json!({"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "no such queue"})
                .to_string(),
        )))
        .unwrap()
}

async fn handle(
    st: Arc<Mutex<State>>,
    arrived: Arc<AtomicU64>,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let host = req
        .headers()
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let op = target.rsplit('.').next().unwrap_or("");
    if let Some(answer) = events::handle(op, &v, &st, &arrived) {
        return answer;
    }
    let sqs = "application/x-amz-json-1.0";
    match op {
        "GetQueueUrl" => {
            let name = v["QueueName"].as_str().unwrap_or("");
            if !st.lock().unwrap().queues.contains_key(name) {
                return not_found();
            }
            reply(
                sqs,
                json!({"QueueUrl": format!("http://{host}/{ACCOUNT}/{name}")}),
            )
        }
        "GetQueueAttributes" => {
            let name = queue_name(v["QueueUrl"].as_str().unwrap_or(""));
            let st = st.lock().unwrap();
            let Some(q) = st.queues.get(name) else {
                return not_found();
            };
            reply(
                sqs,
                json!({"Attributes": {
                    "QueueArn": queue_arn(name),
                    "ApproximateNumberOfMessages": q.visible.len().to_string(),
                    "ApproximateNumberOfMessagesNotVisible": q.in_flight.len().to_string(),
                    "ApproximateNumberOfMessagesDelayed": "0",
                }}),
            )
        }
        "ReceiveMessage" => {
            let name = queue_name(v["QueueUrl"].as_str().unwrap_or("")).to_string();
            let max = v["MaxNumberOfMessages"].as_u64().unwrap_or(1).clamp(1, 10) as usize;
            let vis = Duration::from_secs(v["VisibilityTimeout"].as_u64().unwrap_or(30));
            let wait = Duration::from_secs(v["WaitTimeSeconds"].as_u64().unwrap_or(0));
            let deadline = Instant::now() + wait;
            loop {
                let out = {
                    let mut s = st.lock().unwrap();
                    s.handles += 1;
                    let generation = s.handles;
                    let Some(q) = s.queues.get_mut(&name) else {
                        return not_found();
                    };
                    let now = Instant::now();
                    let expired: Vec<String> = q
                        .in_flight
                        .iter()
                        .filter(|(_, (_, until))| *until <= now)
                        .map(|(h, _)| h.clone())
                        .collect();
                    for h in expired {
                        if let Some((m, _)) = q.in_flight.remove(&h) {
                            q.visible.push_back(m);
                        }
                    }
                    let mut out = Vec::new();
                    while out.len() < max {
                        let Some(mut m) = q.visible.pop_front() else {
                            break;
                        };
                        m.receives += 1;
                        let handle = format!("{}-{generation}", m.id);
                        out.push(json!({
                            "MessageId": m.id,
                            "ReceiptHandle": handle,
                            "MD5OfBody": "",
                            "Body": &*m.body,
                            "Attributes": {
                                "ApproximateReceiveCount": m.receives.to_string(),
                                "SentTimestamp": m.sent_ms.to_string(),
                            },
                            "MessageAttributes": &*m.attrs,
                        }));
                        q.in_flight.insert(handle, (m, now + vis));
                    }
                    out
                };
                if !out.is_empty() || Instant::now() >= deadline {
                    return reply(sqs, json!({"Messages": out}));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        // To the target queue of a drain `--to target`: every entry is accepted.
        "SendMessageBatch" => {
            let name = queue_name(v["QueueUrl"].as_str().unwrap_or(""));
            let mut s = st.lock().unwrap();
            let first = s.sent;
            let Some(q) = s.queues.get_mut(name) else {
                return not_found();
            };
            let now = now_ms();
            let no_attrs = Arc::new(json!({}));
            let mut ok = Vec::new();
            for (i, e) in v["Entries"].as_array().into_iter().flatten().enumerate() {
                let id = format!("s-{}", first + i as u64);
                q.visible.push_back(Msg {
                    id: id.clone(),
                    body: e["MessageBody"].as_str().unwrap_or("").into(),
                    attrs: no_attrs.clone(),
                    receives: 0,
                    sent_ms: now,
                });
                ok.push(json!({"Id": e["Id"], "MessageId": id, "MD5OfMessageBody": ""}));
            }
            s.sent += ok.len() as u64;
            reply(sqs, json!({"Successful": ok, "Failed": []}))
        }
        op @ ("DeleteMessageBatch" | "ChangeMessageVisibilityBatch") => {
            let name = queue_name(v["QueueUrl"].as_str().unwrap_or(""));
            let mut s = st.lock().unwrap();
            let Some(q) = s.queues.get_mut(name) else {
                return not_found();
            };
            let mut ok = Vec::new();
            let mut failed = Vec::new();
            for e in v["Entries"].as_array().into_iter().flatten() {
                let h = e["ReceiptHandle"].as_str().unwrap_or("");
                match q.in_flight.remove(h) {
                    Some((m, _)) => {
                        if op == "ChangeMessageVisibilityBatch" {
                            let t = e["VisibilityTimeout"].as_u64().unwrap_or(0);
                            if t == 0 {
                                q.visible.push_front(m);
                            } else {
                                q.in_flight
                                    .insert(h.to_string(), (m, Instant::now() + Duration::from_secs(t)));
                            }
                        }
                        ok.push(json!({"Id": e["Id"]}));
                    }
                    None => failed.push(json!({"Id": e["Id"], "SenderFault": true, "Code": "ReceiptHandleIsInvalid", "Message": "unknown receipt handle"})),
                }
            }
            reply(sqs, json!({"Successful": ok, "Failed": failed}))
        }
        other => unknown(other),
    }
}

fn unknown(op: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(400)
        .body(Full::new(Bytes::from(
            json!({"__type": "UnknownOperationException", "message": format!("the bench emulator does not serve {op:?}")})
                .to_string(),
        )))
        .unwrap()
}
