//! The EventBridge calls of a drain: PutEvents (to a bus with no rules: entries are
//! counted, not kept), DescribeEventBus (every bus exists) and ListTargetsByRule (the
//! targets set with `Emulator::set_targets`; a rule without them does not exist).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;
use serde_json::{Value, json};

use super::{ACCOUNT, REGION, State, reply};

const JSON_1_1: &str = "application/x-amz-json-1.1";

/// The answer to `op` if it is an EventBridge call.
pub(super) fn handle(
    op: &str,
    v: &Value,
    st: &Arc<Mutex<State>>,
    arrived: &AtomicU64,
) -> Option<Response<Full<Bytes>>> {
    Some(match op {
        "PutEvents" => {
            let n = v["Entries"].as_array().map(|a| a.len()).unwrap_or(0);
            let base = arrived.fetch_add(n as u64, Ordering::Relaxed);
            let entries: Vec<Value> = (0..n)
                .map(|i| json!({"EventId": format!("ev-{}", base + i as u64)}))
                .collect();
            reply(JSON_1_1, json!({"FailedEntryCount": 0, "Entries": entries}))
        }
        // The drain checks that --to-bus exists; every bus exists here.
        "DescribeEventBus" => {
            let name = v["Name"].as_str().unwrap_or("default");
            reply(
                JSON_1_1,
                json!({"Name": name, "Arn": format!("arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{name}")}),
            )
        }
        "ListTargetsByRule" => {
            // A name or an ARN (`arn:...:event-bus/NAME`).
            let bus = v["EventBusName"].as_str().unwrap_or("default");
            let bus = bus.split_once(":event-bus/").map_or(bus, |(_, name)| name);
            let rule = v["Rule"].as_str().unwrap_or("");
            let targets = st
                .lock()
                .unwrap()
                .targets
                .get(&format!("{bus}/{rule}"))
                .cloned();
            match targets {
                Some(t) => reply(JSON_1_1, json!({"Targets": t})),
                None => Response::builder()
                    .status(400)
                    .header("content-type", JSON_1_1)
                    .body(Full::new(Bytes::from(
                        json!({"__type": "ResourceNotFoundException",
                               "message": format!("Rule {rule} does not exist on EventBus {bus}.")})
                        .to_string(),
                    )))
                    .unwrap(),
            }
        }
        _ => return None,
    })
}
