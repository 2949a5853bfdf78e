//! Issue 15: `archive export` on moto, through the library and through the command line
//! (`archive export`, Ctrl-C, a SIGKILL then `doctor` and `--cleanup`). moto replays the whole archive at once to every rule, ignoring the window and
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

use crate::support::{Cmd, Moto, Run, TempDir, block_on, clients_on, finish, signal};

const BUS: &str = "capture-bus";
const ARCHIVE: &str = "capture-archive";

fn clients(moto: &Moto) -> (aws_sdk_eventbridge::Client, aws_sdk_sqs::Client) {
    clients_on(&moto.endpoint)
}

/// A bus with an archive (kept forever) and these events put on it: (order id, event
/// time, type).
async fn seed(eb: &aws_sdk_eventbridge::Client, events: &[(&str, DateTime<Utc>, &str)]) {
    let events: Vec<(Value, DateTime<Utc>)> = events
        .iter()
        .map(|(order, time, kind)| (json!({"type": kind, "order": order}), *time))
        .collect();
    crate::support::archived_bus_with(eb, BUS, ARCHIVE, &events).await;
}

/// Around a window of the last 3 days: two `order.paid` events inside it (one back-dated
/// by its producer, older than the archive itself), one of another type, and two
/// `order.paid` outside it.
fn window_events(now: DateTime<Utc>) -> Vec<(&'static str, DateTime<Utc>, &'static str)> {
    vec![
        ("backdated", now - chrono::Duration::days(2), "order.paid"),
        ("paid", now - chrono::Duration::minutes(90), "order.paid"),
        (
            "refunded",
            now - chrono::Duration::minutes(90),
            "order.refunded",
        ),
        ("too-new", now, "order.paid"),
        ("too-old", now - chrono::Duration::days(5), "order.paid"),
    ]
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
        seed(&eb, &window_events(now)).await;
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

/// The binary on this emulator, at home in `home`.
fn cli(moto: &Moto, home: &TempDir) -> Cmd {
    Cmd::new(Some(&moto.endpoint), home.path())
}

/// The export of `order.paid` events of the last 3 days to `out`, with these extra flags.
fn export_args<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "archive",
        "export",
        "--archive",
        ARCHIVE,
        "--since",
        "3d",
        "--event-type",
        "order.paid",
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    args
}

/// moto with the bus and archive holding one `order.paid` event of 2 hours ago, and a home.
fn one_paid_event(
    tag: &str,
) -> (
    Moto,
    TempDir,
    aws_sdk_eventbridge::Client,
    aws_sdk_sqs::Client,
) {
    let moto = Moto::start();
    let home = TempDir::new(tag);
    let (eb, sqs) = clients(&moto);
    block_on(seed(
        &eb,
        &[(
            "paid",
            Utc::now() - chrono::Duration::hours(2),
            "order.paid",
        )],
    ));
    (moto, home, eb, sqs)
}

/// The replays started so far.
async fn replays(eb: &aws_sdk_eventbridge::Client) -> usize {
    eb.list_replays().send().await.unwrap().replays().len()
}

/// Waits until a running export has its rule, its queue and the rule's target.
fn wait_for_capture(eb: &aws_sdk_eventbridge::Client, sqs: &aws_sdk_sqs::Client) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let ready = block_on(async {
            let left = leftovers(eb, sqs).await;
            let Some(rule) = left.iter().find_map(|l| l.strip_prefix("rule ")) else {
                return false;
            };
            let targets = eb
                .list_targets_by_rule()
                .event_bus_name(BUS)
                .rule(rule)
                .send()
                .await
                .map(|t| t.targets().len())
                .unwrap_or(0);
            left.len() == 2 && targets == 1 && replays(eb).await == 1
        });
        if ready {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the export never created its rule, queue, target and replay"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_command_exports_one_type_of_a_window_once_each_and_leaves_nothing() {
    let moto = Moto::start();
    let home = TempDir::new("export-cli");
    let (eb, sqs) = clients(&moto);
    let now = Utc::now();
    block_on(seed(&eb, &window_events(now)));
    let run = cli(&moto, &home).run(&export_args(
        "paid.jsonl",
        &["--settle", "2s", "--output", "json"],
    ));
    run.code(0);
    let report = run.json();
    assert_eq!(report["outcome"], "completed", "{report:#}");
    assert_eq!(report["events_per_type"], json!({"order.paid": 2}));
    assert_eq!(report["total"], 2);
    assert!(report["replay_name"].as_str().unwrap().starts_with(PREFIX));
    let resources = report["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 3, "{report:#}");
    assert!(
        resources.iter().all(|r| r["removal"]["state"] == "removed"),
        "{report:#}"
    );
    let text = std::fs::read_to_string(home.path().join("paid.jsonl")).unwrap();
    let mut orders: Vec<String> = text
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            assert!(v.get("replay-name").is_none(), "{l}");
            v["detail"]["order"].as_str().unwrap().to_string()
        })
        .collect();
    orders.sort();
    // Each once; the back-dated one (older than the archive) too.
    assert_eq!(orders, ["backdated", "paid"], "{text}");
    assert!(
        run.stderr
            .contains("before archive capture-archive was created"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("captured 2 event(s)") && run.stderr.contains("removed rule"),
        "{}",
        run.stderr
    );
    assert!(block_on(leftovers(&eb, &sqs)).is_empty());

    // The human summary names the replay, the window, the counts, the file and the removal.
    let run = cli(&moto, &home).run(&export_args("paid.jsonl", &["--settle", "1s", "--force"]));
    run.code(0);
    for part in [
        "Exported 2 event(s) of archive capture-archive (bus capture-bus) to paid.jsonl",
        "replay:  nexus-export-",
        "(event time)",
        "order.paid",
        "removed queue nexus-export-",
        "removed target nexus-export",
    ] {
        assert!(run.stdout.contains(part), "{part:?} in\n{}", run.stdout);
    }
    assert!(block_on(leftovers(&eb, &sqs)).is_empty());
    // `archive list` is the `archives` listing.
    let list = cli(&moto, &home).run(&["archive", "list", "--output", "json"]);
    let archives = cli(&moto, &home).run(&["archives", "--output", "json"]);
    assert_eq!(list.code(0).json(), archives.code(0).json());
}

#[test]
fn bad_input_is_refused_with_exit_2_and_creates_nothing() {
    let (moto, home, eb, sqs) = one_paid_event("export-bad");
    let refused = |args: &[&str], says: &str| {
        let run: Run = cli(&moto, &home).run(args);
        run.code(2);
        assert!(run.stderr.contains(says), "{says:?} in\n{}", run.stderr);
        assert!(block_on(leftovers(&eb, &sqs)).is_empty(), "{args:?}");
        assert_eq!(block_on(replays(&eb)), 0, "{args:?}");
    };
    let mut a = export_args("x.jsonl", &[]);
    a[5] = "last tuesday";
    refused(&a, "--since");
    refused(
        &export_args("x.jsonl", &["--until", "4d"]),
        "the window is empty",
    );
    refused(
        &export_args("x.jsonl", &["--pattern", "{not json"]),
        "pattern",
    );
    refused(
        &export_args("no-such-dir/x.jsonl", &[]),
        "no-such-dir/x.jsonl",
    );
    refused(
        &["archive", "export", "--archive", ARCHIVE, "--since", "1h"],
        "--out",
    );
    let mut a = export_args("x.jsonl", &[]);
    a[3] = "missing-archive";
    // A missing archive is its own error; it still creates nothing.
    let run = cli(&moto, &home).run(&a);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("missing-archive"), "{}", run.stderr);
    assert!(block_on(leftovers(&eb, &sqs)).is_empty());
    assert!(!home.path().join("x.jsonl").exists());
}

#[test]
fn ctrl_c_mid_export_removes_the_temporary_resources_and_exits_130() {
    let (moto, home, eb, sqs) = one_paid_event("export-int");
    // A long settle period: the export waits in it, after moto's instant replay.
    let child = cli(&moto, &home).start(&export_args("x.jsonl", &["--settle", "10m"]));
    wait_for_capture(&eb, &sqs);
    signal(&child, "INT");
    let run = finish(child);
    run.code(130);
    assert!(
        run.stdout
            .contains("Export interrupted (SIGINT): no file written"),
        "{}",
        run.stdout
    );
    for kind in ["queue", "rule", "target"] {
        assert!(
            run.stdout.contains(&format!("removed {kind} nexus-export")),
            "{kind} in\n{}",
            run.stdout
        );
    }
    assert!(block_on(leftovers(&eb, &sqs)).is_empty());
    assert!(!home.path().join("x.jsonl").exists());
}

#[test]
fn after_a_sigkill_doctor_reports_the_leftovers_and_cleanup_removes_them() {
    let (moto, home, eb, sqs) = one_paid_event("export-kill");
    let mut child = cli(&moto, &home).spawn(&export_args("x.jsonl", &["--settle", "10m"]));
    wait_for_capture(&eb, &sqs);
    signal(&child, "KILL");
    child.wait().unwrap();
    let left = block_on(leftovers(&eb, &sqs));
    assert_eq!(left.len(), 2, "{left:?}");

    let doctor = cli(&moto, &home).run(&["doctor", "--bus", BUS, "--output", "json"]);
    let report = doctor.json();
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "export-leftovers")
        .unwrap_or_else(|| panic!("no export-leftovers check: {report:#}"));
    assert_eq!(check["status"], "WARN");
    assert_eq!(
        check["hint"],
        format!("nexus-replay archive export --cleanup --bus {BUS}")
    );

    // Without --yes off a terminal: listed, refused, nothing removed.
    let run = cli(&moto, &home).run(&["archive", "export", "--cleanup", "--bus", BUS]);
    run.code(2);
    assert!(run.stderr.contains("rule nexus-export-"), "{}", run.stderr);
    assert_eq!(block_on(leftovers(&eb, &sqs)).len(), 2);

    let run = cli(&moto, &home).run(&[
        "archive",
        "export",
        "--cleanup",
        "--bus",
        BUS,
        "--yes",
        "--output",
        "json",
    ]);
    run.code(0);
    let removed = run.json();
    assert_eq!(
        removed["removed"]["resources"].as_array().unwrap().len(),
        3,
        "target, rule, queue: {removed:#}"
    );
    assert!(block_on(leftovers(&eb, &sqs)).is_empty());

    // Nothing left: exit 0, and doctor has nothing to say about exports.
    let run = cli(&moto, &home).run(&["archive", "export", "--cleanup"]);
    run.code(0);
    assert!(run.stdout.contains("No leftovers"), "{}", run.stdout);
    let doctor = cli(&moto, &home).run(&["doctor", "--bus", BUS, "--output", "json"]);
    assert!(
        !doctor.stdout.contains("export-leftovers"),
        "{}",
        doctor.stdout
    );
}

#[test]
fn start_keeps_a_window_before_the_archives_creation_and_warns() {
    let (moto, home, eb, _sqs) = one_paid_event("start-backdated");
    block_on(async {
        eb.put_rule()
            .event_bus_name(BUS)
            .name("paid")
            .event_pattern(json!({"detail": {"type": ["order.paid"]}}).to_string())
            .send()
            .await
            .unwrap();
    });
    // The archive was created seconds ago: this whole window lies before it.
    let since = (Utc::now() - chrono::Duration::days(3)).to_rfc3339();
    let until = (Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    let run = cli(&moto, &home).run(&[
        "start",
        "--archive",
        ARCHIVE,
        "--since",
        &since,
        "--until",
        &until,
        "--event-type",
        "order.paid",
        "--yes",
        "--output",
        "json",
    ]);
    run.code(0);
    let doc = run.json();
    assert_eq!(doc["outcome"], "completed", "{doc:#}");
    assert_eq!(doc["window"]["start"], doc["window"]["requested_start"]);
    let start: DateTime<Utc> = doc["window"]["start"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        start.timestamp(),
        DateTime::parse_from_rfc3339(&since).unwrap().timestamp()
    );
    assert!(
        run.stderr.contains("the whole window starts at")
            && run.stderr.contains("back-dated")
            && run.stderr.contains("kept as asked"),
        "{}",
        run.stderr
    );
}
