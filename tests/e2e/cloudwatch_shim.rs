//! A CloudWatch front for moto: the CloudWatch SDK speaks Smithy RPC v2 CBOR
//! (`POST /service/GraniteServiceVersion20100801/operation/OP`), which moto does not; this
//! loopback shim turns each call into moto's JSON 1.0 form (`X-Amz-Target`) and the answer
//! back into CBOR. Timestamps (CBOR tag 1) travel as epoch seconds; every number of an
//! answer is a CBOR double (the only number type in CloudWatch's GetMetricData answer)
//! and a `Timestamps`/`Timestamp` value a tag-1 double. The binary reaches it through
//! `AWS_ENDPOINT_URL_CLOUDWATCH` (moto through `AWS_ENDPOINT_URL`: an endpoint given with
//! `--endpoint-url` would be every service's).

use std::net::SocketAddr;

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use minicbor::data::{Tag, Type};
use serde_json::{Map, Number, Value};

const TARGET_PREFIX: &str = "GraniteServiceVersion20100801";

/// A running shim, stopped on drop.
pub struct CloudWatchShim {
    pub endpoint: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CloudWatchShim {
    /// Starts the shim in front of moto at `upstream` (`http://127.0.0.1:PORT`).
    pub fn start(upstream: &str) -> CloudWatchShim {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .expect("upstream is http://IP:PORT");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    tokio::select! {
                        _ = &mut rx => return,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            tokio::spawn(async move {
                                let svc = hyper::service::service_fn(move |req| handle(upstream, req));
                                let _ = hyper::server::conn::http1::Builder::new()
                                    .serve_connection(TokioIo::new(stream), svc)
                                    .await;
                            });
                        }
                    }
                }
            });
        });
        CloudWatchShim {
            endpoint: format!("http://{addr}"),
            stop: Some(tx),
            thread: Some(thread),
        }
    }
}

impl Drop for CloudWatchShim {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One data point of `metric` at `at`, with these dimensions, for PutMetricData.
pub fn datum(metric: &str, dims: &[(&str, &str)], at: DateTime<Utc>, value: f64) -> MetricDatum {
    let mut d = MetricDatum::builder()
        .metric_name(metric)
        .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
            at.timestamp(),
        ))
        .value(value);
    for (k, v) in dims {
        d = d.dimensions(Dimension::builder().name(*k).value(*v).build());
    }
    d.build()
}

async fn handle(
    upstream: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    let op = parts
        .uri
        .path()
        .rsplit_once("/operation/")
        .map(|(_, op)| op.to_string())
        .ok_or_else(|| std::io::Error::other("not a CloudWatch RPC v2 path"))?;
    let json = if body.is_empty() {
        Value::Object(Map::new())
    } else {
        let mut d = minicbor::Decoder::new(&body);
        to_json(&mut d).map_err(std::io::Error::other)?
    };
    let stream = tokio::net::TcpStream::connect(upstream).await?;
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let text = json.to_string();
    let mut b = Request::builder()
        .method("POST")
        .uri("/")
        .header("host", upstream.to_string())
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", format!("{TARGET_PREFIX}.{op}"))
        .header("content-length", text.len());
    // moto reads the account and region from the signature's scope.
    for h in ["authorization", "x-amz-date"] {
        if let Some(v) = parts.headers.get(h) {
            b = b.header(h, v);
        }
    }
    let answer = send
        .send_request(b.body(Full::new(Bytes::from(text))).unwrap())
        .await
        .map_err(std::io::Error::other)?;
    let status = answer.status();
    let rb = answer
        .into_body()
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    let value: Value = if rb.is_empty() {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice(&rb).map_err(std::io::Error::other)?
    };
    let mut e = minicbor::Encoder::new(Vec::new());
    to_cbor(&value, false, &mut e).map_err(std::io::Error::other)?;
    Ok(Response::builder()
        .status(status)
        .header("content-type", "application/cbor")
        .header("smithy-protocol", "rpc-v2-cbor")
        .body(Full::new(Bytes::from(e.into_writer())))
        .unwrap())
}

fn to_json(d: &mut minicbor::Decoder<'_>) -> Result<Value, minicbor::decode::Error> {
    Ok(match d.datatype()? {
        Type::Bool => Value::Bool(d.bool()?),
        Type::Null => {
            d.null()?;
            Value::Null
        }
        Type::Undefined => {
            d.undefined()?;
            Value::Null
        }
        Type::U8 | Type::U16 | Type::U32 | Type::U64 => Value::from(d.u64()?),
        Type::I8 | Type::I16 | Type::I32 | Type::I64 | Type::Int => Value::from(d.i64()?),
        Type::F16 | Type::F32 | Type::F64 => {
            Number::from_f64(d.f64()?).map_or(Value::Null, Value::Number)
        }
        Type::String => Value::String(d.str()?.to_string()),
        Type::StringIndef => {
            let mut s = String::new();
            for part in d.str_iter()? {
                s.push_str(part?);
            }
            Value::String(s)
        }
        Type::Tag => {
            d.tag()?; // tag 1, a timestamp: its epoch seconds
            to_json(d)?
        }
        Type::Array | Type::ArrayIndef => {
            let mut out = Vec::new();
            match d.array()? {
                Some(n) => {
                    for _ in 0..n {
                        out.push(to_json(d)?);
                    }
                }
                None => {
                    while d.datatype()? != Type::Break {
                        out.push(to_json(d)?);
                    }
                    d.skip()?;
                }
            }
            Value::Array(out)
        }
        Type::Map | Type::MapIndef => {
            let mut out = Map::new();
            match d.map()? {
                Some(n) => {
                    for _ in 0..n {
                        let k = d.str()?.to_string();
                        out.insert(k, to_json(d)?);
                    }
                }
                None => {
                    while d.datatype()? != Type::Break {
                        let k = d.str()?.to_string();
                        out.insert(k, to_json(d)?);
                    }
                    d.skip()?;
                }
            }
            Value::Object(out)
        }
        other => {
            return Err(minicbor::decode::Error::message(format!(
                "the shim does not read CBOR {other}"
            )));
        }
    })
}

fn to_cbor(
    v: &Value,
    timestamp: bool,
    e: &mut minicbor::Encoder<Vec<u8>>,
) -> Result<(), minicbor::encode::Error<std::convert::Infallible>> {
    match v {
        Value::Null => {
            e.null()?;
        }
        Value::Bool(b) => {
            e.bool(*b)?;
        }
        Value::Number(n) => {
            if timestamp {
                e.tag(Tag::new(1))?;
            }
            e.f64(n.as_f64().unwrap_or_default())?;
        }
        Value::String(s) => {
            e.str(s)?;
        }
        Value::Array(items) => {
            e.array(items.len() as u64)?;
            for i in items {
                to_cbor(i, timestamp, e)?;
            }
        }
        Value::Object(m) => {
            // An absent member, not a null one.
            let m: Vec<(&String, &Value)> = m.iter().filter(|(_, x)| !x.is_null()).collect();
            e.map(m.len() as u64)?;
            for (k, x) in m {
                e.str(k)?;
                to_cbor(x, k == "Timestamps" || k == "Timestamp", e)?;
            }
        }
    }
    Ok(())
}
