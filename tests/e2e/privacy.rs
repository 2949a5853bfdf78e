//! Issue 19, items 12-14: logs carry no message bodies or access key ids unless
//! `--log-payloads`; a config file says what it changed and may not pick the endpoint when
//! others could have written it; the SQLite ledger is whole in its main file after a run; a
//! missing DynamoDB ledger table says how to create it.

use serde_json::json;

use crate::drain::{ONE_PIPELINE, seed};
use crate::output::chmod;
use crate::support::{BUS, Cmd, Sandbox, TempDir};

const DLQ: &str = "ai-nexus-dev-stripe-update-subscription-dlq";
/// What must not reach a log: a customer's email in a body, and the access key id.
const BODY_MARKER: &str = "card-holder-7f3a91@example.com";
const KEY_ID: &str = "AKIAE2EMARKER7F3A91X";

fn customer_event(i: usize) -> String {
    json!({
        "version": "0", "id": format!("env-priv-{i}"), "detail-type": "Stripe Webhook Event",
        "source": "stripe.webhook", "account": "123456789012", "time": "2026-01-01T10:00:00Z",
        "region": "us-east-2", "resources": [],
        "detail": {"id": format!("evt_priv_{i}"), "object": "event", "type": "customer.subscription.updated",
                   "data": {"object": {"id": format!("sub_{i}"), "email": BODY_MARKER, "card": {"last4": "4242"}}}}
    })
    .to_string()
}

#[test]
fn trace_logs_keep_bodies_and_key_ids_out_unless_log_payloads() {
    let sb = Sandbox::new(0, 0);
    seed(&sb, DLQ, &(0..3).map(customer_event).collect::<Vec<_>>());
    let traced = || {
        sb.cmd()
            .env("AWS_ACCESS_KEY_ID", KEY_ID)
            .env("NEXUS_REPLAY_LOG", "trace")
    };
    let clean = |what: &str, stderr: &str| {
        assert!(
            !stderr.contains(BODY_MARKER),
            "{what}: a body reached the log"
        );
        assert!(
            !stderr.contains(KEY_ID),
            "{what}: the key id reached the log"
        );
    };

    // -v prints targets: the trace filter is on (connections are logged at debug).
    let run = traced().run(&["dlq", "peek", "--queue", DLQ, "-v"]);
    run.code(0);
    assert!(
        run.stderr.contains("hyper_util::client::legacy::connect"),
        "{}",
        run.stderr
    );
    clean("peek", &run.stderr);
    // A filter naming the wire crates itself cannot lift the clamp either.
    let run = traced()
        .env(
            "NEXUS_REPLAY_LOG",
            "trace,aws_smithy_runtime=trace,aws_sigv4=trace",
        )
        .run(&["dlq", "peek", "--queue", DLQ]);
    run.code(0);
    clean("peek, wire targets named", &run.stderr);
    let run = sb
        .cmd()
        .env("AWS_ACCESS_KEY_ID", KEY_ID)
        .run(&["-vv", "dlq", "peek", "--queue", DLQ]);
    run.code(0);
    clean("peek -vv", &run.stderr);

    // Asked for, the wire logging shows them.
    let run = traced().run(&["dlq", "peek", "--queue", DLQ, "--log-payloads"]);
    run.code(0);
    assert!(
        run.stderr.contains(BODY_MARKER),
        "--log-payloads showed no body"
    );
    assert!(
        run.stderr.contains(KEY_ID),
        "--log-payloads showed no key id"
    );

    let mut args = vec!["drain", "--queue", DLQ, "--yes"];
    args.extend(ONE_PIPELINE);
    let run = traced().run(&args);
    run.code(0);
    assert!(run.stderr.contains("re-emitted 3"), "{}", run.stderr);
    clean("drain", &run.stderr);
}

#[test]
fn a_config_file_says_what_it_set_and_may_not_pick_the_endpoint_if_others_can_write_it() {
    let sb = Sandbox::new(0, 0);
    let cfg = sb.home.path().join("nexus-replay.toml");
    std::fs::write(
        &cfg,
        format!("endpoint_url = \"{}\"\nbus = \"{BUS}\"\n", sb.moto.endpoint),
    )
    .unwrap();
    // No endpoint from the environment: the file's is the one used.
    let cmd = || Cmd::new(None, sb.home.path());

    chmod(&cfg, 0o644);
    let run = cmd().run(&["rules"]);
    run.code(0);
    let read = format!("read config file {}", "nexus-replay.toml");
    assert!(run.stderr.contains(&read), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "nexus-replay.toml: endpoint_url = \"{}\"",
            sb.moto.endpoint
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains(&format!("nexus-replay.toml: bus = \"{BUS}\"")),
        "{}",
        run.stderr
    );

    for mode in [0o664, 0o646] {
        chmod(&cfg, mode);
        let run = cmd().run(&["rules"]);
        run.code(2);
        assert!(run.stdout.is_empty());
        assert!(
            run.stderr.contains(
                "error: refusing endpoint_url from config file nexus-replay.toml: it is writable by"
            ),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr.contains("`chmod go-w nexus-replay.toml`"),
            "{}",
            run.stderr
        );
        // Choosing the endpoint yourself makes the file's irrelevant.
        cmd()
            .run(&["rules", "--endpoint-url", &sb.moto.endpoint])
            .code(0);
    }
}

#[test]
fn after_a_drain_the_ledger_file_alone_holds_every_record() {
    let sb = Sandbox::new(0, 0);
    seed(&sb, DLQ, &(0..5).map(customer_event).collect::<Vec<_>>());
    let mut args = vec!["drain", "--queue", DLQ, "--yes"];
    args.extend(ONE_PIPELINE);
    sb.run(&args).code(0);
    let state = sb.home.path().join("state");
    let wal = state.join("ledger.sqlite3-wal");
    assert!(
        std::fs::metadata(&wal).map_or(true, |m| m.len() == 0),
        "the run left its commits in {}",
        wal.display()
    );
    // A backup by copying the main file only.
    let backup = TempDir::new("ledger-backup");
    let copy = backup.path().join("ledger.sqlite3");
    std::fs::copy(state.join("ledger.sqlite3"), &copy).unwrap();
    let ledger = format!("sqlite:{}", copy.display());
    let stats = sb
        .run(&["ledger", "stats", "--ledger", &ledger, "--output", "json"])
        .code(0)
        .json();
    assert_eq!(stats["done"], 5, "{stats}");
    sb.run(&["ledger", "show", "evt_priv_4", "--ledger", &ledger])
        .code(0);
}

#[test]
fn a_missing_dynamodb_ledger_table_says_to_run_ledger_init() {
    let sb = Sandbox::new(0, 0);
    seed(&sb, DLQ, &[customer_event(0), customer_event(1)]);
    let hint = "hint: create it once with `nexus-replay ledger init --ledger dynamodb://missing`";
    let mut args = vec![
        "drain",
        "--queue",
        DLQ,
        "--yes",
        "--ledger",
        "dynamodb://missing",
    ];
    args.extend(ONE_PIPELINE);
    for args in [
        &args[..],
        &["ledger", "stats", "--ledger", "dynamodb://missing"],
    ] {
        let run = sb.run(args);
        run.code(1);
        assert!(
            run.stderr
                .contains("the ledger table missing does not exist"),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains(hint), "{}", run.stderr);
    }
}
