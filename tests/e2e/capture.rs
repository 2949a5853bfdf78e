//! Issue 15: `archive export` through the library on moto, until the command line drives
//! it. moto replays the whole archive at once to every rule, ignoring the window and
//! FilterArns, but adds `replay-name` and applies each rule's pattern: so the temporary
//! rule captures what its pattern allows, and the local window guard does the rest.

use std::future::pending;
use std::time::Duration;

use chrono::{DateTime, Utc};
use nexus_replay::archive::cleanup::{find_leftovers, remove_leftovers};
use nexus_replay::archive::export::{ExportOptions, ExportPorts, ExportRequest, export};
use nexus_replay::archive::filter::ExportFilter;
use nexus_replay::archive::names::PREFIX;
use nexus_replay::archive::progress::Silent;
use nexus_replay::archive::report::{ExportOutcome, Removal};
use nexus_replay::aws::capture::AwsCapture;
use nexus_replay::aws::eventbridge::EventBridge;
use nexus_replay::aws::sqs::Sqs;
use nexus_replay::drain::event::DedupSpec;
use serde_json::{Value, json};

use crate::support::{Moto, TempDir, block_on, clients_on};

const BUS: &str = "capture-bus";
const ARCHIVE: &str = "capture-archive";

fn clients(moto: &Moto) -> (aws_sdk_eventbridge::Client, aws_sdk_sqs::Client) {
    clients_on(&moto.endpoint)
}

/// A bus with an archive (kept forever) and these events put on it: (order id, event
/// time, type).
async fn seed(eb: &aws_sdk_eventbridge::Client, events: &[(&str, DateTime<Utc>, &str)]) {
    let bus_arn = eb
        .create_event_bus()
        .name(BUS)
        .send()
        .await
        .unwrap()
        .event_bus_arn()
        .unwrap()
        .to_string();
    eb.create_archive()
        .archive_name(ARCHIVE)
        .event_source_arn(&bus_arn)
        .send()
        .await
        .unwrap();
    for (order, time, kind) in events {
        let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .event_bus_name(BUS)
            .source("shop")
            .detail_type("Order")
            .detail(json!({"type": kind, "order": order}).to_string())
            .time(aws_sdk_eventbridge::primitives::DateTime::from_secs(
                time.timestamp(),
            ))
            .build();
        let out = eb.put_events().entries(entry).send().await.unwrap();
        assert_eq!(out.failed_entry_count(), 0);
    }
}

/// The names of the rules and queues an export may leave.
async fn leftovers(eb: &aws_sdk_eventbridge::Client, sqs: &aws_sdk_sqs::Client) -> Vec<String> {
    let rules = eb
        .list_rules()
        .event_bus_name(BUS)
        .name_prefix(PREFIX)
        .send()
        .await
        .unwrap();
    let queues = sqs
        .list_queues()
        .queue_name_prefix(PREFIX)
        .send()
        .await
        .unwrap();
    rules
        .rules()
        .iter()
        .map(|r| format!("rule {}", r.name().unwrap_or_default()))
        .chain(queues.queue_urls().iter().map(|u| format!("queue {u}")))
        .collect()
}

/// The library's adapters on the emulator.
struct Adapters {
    bus: EventBridge,
    queue: Sqs,
    capture: AwsCapture,
}

impl Adapters {
    fn new(eb: &aws_sdk_eventbridge::Client, sqs: &aws_sdk_sqs::Client) -> Adapters {
        Adapters {
            bus: EventBridge::new(eb.clone()),
            queue: Sqs::new(sqs.clone()),
            capture: AwsCapture::new(eb.clone(), sqs.clone()),
        }
    }

    fn ports(&self) -> ExportPorts<'_> {
        ExportPorts {
            catalogue: &self.bus,
            replays: &self.bus,
            resources: &self.capture,
            queue: &self.queue,
        }
    }
}

fn request(out: std::path::PathBuf, settle: Duration) -> ExportRequest {
    ExportRequest {
        archive: ARCHIVE.into(),
        start: Utc::now() - chrono::Duration::days(3),
        end: None,
        filter: ExportFilter {
            event_types: vec!["order.paid".into()],
            ..ExportFilter::default()
        },
        dedup: DedupSpec::Default,
        out,
        started_by: "e2e@test".into(),
        options: ExportOptions {
            settle,
            receive_wait: Duration::from_secs(1),
            ..ExportOptions::default()
        },
    }
}

#[test]
fn an_export_holds_exactly_the_windows_events_of_one_type_once_each_and_leaves_nothing() {
    let moto = Moto::start();
    let home = TempDir::new("capture");
    let (eb, sqs) = clients(&moto);
    let now = Utc::now();
    let out = home.path().join("paid.jsonl");
    let report = block_on(async {
        seed(
            &eb,
            &[
                // Back-dated by its producer: older than the archive itself.
                ("backdated", now - chrono::Duration::days(2), "order.paid"),
                ("paid", now - chrono::Duration::minutes(90), "order.paid"),
                (
                    "refunded",
                    now - chrono::Duration::minutes(90),
                    "order.refunded",
                ),
                ("too-new", now, "order.paid"),
                ("too-old", now - chrono::Duration::days(5), "order.paid"),
            ],
        )
        .await;
        let a = Adapters::new(&eb, &sqs);
        let ports = a.ports();
        export(
            &ports,
            &request(out.clone(), Duration::from_secs(2)),
            Utc::now(),
            &mut Silent,
            pending(),
        )
        .await
        .unwrap()
    });
    assert_eq!(report.outcome, ExportOutcome::Completed, "{report:#?}");
    assert_eq!(report.exit_code(), 0);
    let lines: Vec<Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut orders: Vec<&str> = lines
        .iter()
        .map(|l| l["detail"]["order"].as_str().unwrap())
        .collect();
    orders.sort();
    assert_eq!(orders, ["backdated", "paid"], "{lines:#?}");
    assert!(lines.iter().all(|l| l.get("replay-name").is_none()));
    assert_eq!(report.events_per_type["order.paid"], 2);
    // moto ignores the window: the local guard dropped the two outside it.
    assert_eq!(
        report.skipped.values().sum::<u64>(),
        2,
        "{:?}",
        report.skipped
    );
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("before archive capture-archive was created")),
        "{:?}",
        report.warnings
    );
    assert_eq!(report.resources.len(), 3);
    assert!(
        report
            .resources
            .iter()
            .all(|r| r.removal == Removal::Removed),
        "{:?}",
        report.resources
    );
    let left = block_on(leftovers(&eb, &sqs));
    assert!(left.is_empty(), "{left:?}");
    // The archive's own rule is untouched.
    let rules = block_on(async { eb.list_rules().event_bus_name(BUS).send().await.unwrap() });
    assert_eq!(rules.rules().len(), 1);
}

#[test]
fn cleanup_removes_what_a_killed_export_left_on_moto() {
    let moto = Moto::start();
    let home = TempDir::new("capture-kill");
    let (eb, sqs) = clients(&moto);
    block_on(async {
        seed(
            &eb,
            &[(
                "paid",
                Utc::now() - chrono::Duration::hours(2),
                "order.paid",
            )],
        )
        .await;
        let a = Adapters::new(&eb, &sqs);
        let ports = a.ports();
        // A long settle period, and the export "dies" during it: nothing of its end runs.
        let req = request(home.path().join("x.jsonl"), Duration::from_secs(600));
        let mut silent = Silent;
        tokio::select! {
            r = export(&ports, &req, Utc::now(), &mut silent, pending()) => panic!("finished: {:?}", r.map(|r| r.outcome)),
            _ = tokio::time::sleep(Duration::from_secs(4)) => {}
        }
        assert_eq!(leftovers(&eb, &sqs).await.len(), 2);
        let buses = vec![BUS.to_string()];
        let found = find_leftovers(&a.capture, &a.bus, &buses).await.unwrap();
        assert_eq!(found.runs.len(), 1, "{found:#?}");
        let run = &found.runs[0];
        assert!(!run.in_use, "moto's replay has COMPLETED");
        assert_eq!((run.rules.len(), run.queues.len()), (1, 1));
        assert_eq!(run.queues[0].tags["nexus-replay:run-id"], run.run_id);
        assert!(run.queues[0].created.is_some());
        let removed = remove_leftovers(&a.capture, &found).await;
        assert_eq!(removed.exit_code(), 0, "{removed:#?}");
        assert_eq!(
            removed.resources.len(),
            3,
            "target, rule, queue: {removed:#?}"
        );
        assert!(leftovers(&eb, &sqs).await.is_empty());
    });
}
