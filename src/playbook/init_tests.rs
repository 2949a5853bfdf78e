//! `playbook init` on the in-memory EventBridge: which rules get an outage playbook, the
//! partner rules' `to = "target"` and cutover file, file names made safe, escaping, and
//! the refusal to overwrite.
//!
//! The outage playbooks use the verify step's `rules` field (issue 16's shared syntax,
//! landed by the discovery branch): here they are checked as TOML and step by step; the
//! e2e tests (tests/e2e/playbook_init.rs) validate, plan and run them.

use super::init::*;
use super::load::load;
use crate::memory::eventbridge::MemoryEventBridge;
use crate::ports::bus::{RuleInfo, TargetInfo};
use crate::replay::fixtures::unmarked_archive_rule;

const BUS: &str = "orders-prod";

fn rule(name: &str, pattern: Option<&str>, dlq: bool) -> RuleInfo {
    RuleInfo {
        name: name.into(),
        arn: format!("arn:aws:events:us-east-2:123456789012:rule/{BUS}/{name}"),
        state: "ENABLED".into(),
        event_pattern: pattern.map(str::to_string),
        schedule_expression: pattern.is_none().then(|| "rate(1 hour)".into()),
        managed_by: None,
        description: None,
        targets: vec![TargetInfo {
            id: format!("{name}-target"),
            arn: format!("arn:aws:lambda:us-east-2:123456789012:function:{name}"),
            dlq_arn: dlq.then(|| format!("arn:aws:sqs:us-east-2:123456789012:{name}-dlq")),
            ..TargetInfo::default()
        }],
    }
}

/// A bus unlike the sandbox's: an exact-type consumer, a partner consumer with a prefix
/// pattern, a catch-all, a disabled and a scheduled rule, the archive's rule (LocalStack
/// style) and an AWS-managed one; listed out of order.
fn topology() -> Vec<RuleInfo> {
    let mut disabled = rule("paused-rule", Some(r#"{"source": ["shop"]}"#), true);
    disabled.state = "DISABLED".into();
    let mut managed = rule("Managed-by-aws", Some(r#"{"source": ["aws.s3"]}"#), false);
    managed.managed_by = Some("prod.vhs.events.aws.internal".into());
    let mut marked_archive = rule("Events-Archive-old", Some(r#"{"source": ["shop"]}"#), false);
    marked_archive.managed_by = Some("prod.vhs.events.aws.internal".into());
    vec![
        rule(
            "ship-orders",
            Some(r#"{"source": ["shop"], "detail-type": ["OrderPlaced", "OrderPaid"]}"#),
            true,
        ),
        unmarked_archive_rule("orders-archive"),
        rule(
            "billing-sync",
            Some(
                r#"{"source": [{"prefix": "aws.partner/stripe.com"}], "detail": {"type": [{"prefix": "invoice."}]}}"#,
            ),
            true,
        ),
        rule("audit-all", Some(r#"{"source": ["shop"]}"#), false),
        disabled,
        rule("hourly-report", None, true),
        managed,
        marked_archive,
    ]
}

fn table(text: &str) -> toml::Table {
    text.parse::<toml::Table>()
        .unwrap_or_else(|e| panic!("not TOML ({e}):\n{text}"))
}

fn steps(t: &toml::Table) -> Vec<&toml::Table> {
    t["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_table().unwrap())
        .collect()
}

fn strings(v: &toml::Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

/// The playbook loads, or (before the discovery branch is merged) only the verify step's
/// `rules` field is refused.
#[track_caller]
fn only_verify_rules_refused(loaded: &Result<super::load::Playbook, Vec<super::load::Diagnostic>>) {
    if let Err(diags) = loaded {
        assert!(
            diags
                .iter()
                .all(|d| d.message.contains("(verify): unknown field `rules`")),
            "{diags:?}"
        );
    }
}

fn file<'a>(set: &'a PlaybookSet, name: &str) -> &'a GeneratedFile {
    set.files
        .iter()
        .find(|f| f.file == name)
        .unwrap_or_else(|| panic!("no {name} in {:?}", set.files))
}

#[tokio::test]
async fn each_consumer_rule_gets_an_outage_playbook_and_reserved_ones_none() {
    let eb = MemoryEventBridge::new();
    eb.add_bus(BUS);
    for r in topology() {
        eb.add_rule(BUS, r);
    }
    let set = generate(&eb, BUS).await.unwrap();
    let names: Vec<&str> = set.files.iter().map(|f| f.file.as_str()).collect();
    assert_eq!(
        names,
        [
            "audit-all-outage.toml",
            "billing-sync-outage.toml",
            "ship-orders-outage.toml",
            "nightly-dlq-drain.toml",
            "partner-cutover.toml",
        ]
    );
    let skipped: Vec<(&str, &str)> = set
        .skipped
        .iter()
        .map(|s| (s.rule.as_str(), s.reason.as_str()))
        .collect();
    assert_eq!(skipped.len(), 5, "{skipped:?}");
    let reason = |rule: &str| skipped.iter().find(|s| s.0 == rule).unwrap().1;
    assert!(reason("Events-Archive-orders-archive").contains("archive's own rule"));
    assert!(reason("Events-Archive-old").contains("archive's own rule"));
    assert!(reason("Managed-by-aws").contains("managed by prod.vhs"));
    assert!(reason("hourly-report").contains("scheduled"));
    assert!(reason("paused-rule").starts_with("DISABLED"));
}

#[tokio::test]
async fn a_missing_bus_is_a_usage_error() {
    let eb = MemoryEventBridge::new();
    let e = generate(&eb, "nope").await.unwrap_err();
    assert_eq!(e.exit_code(), crate::exit_codes::USAGE);
    assert!(e.to_string().contains("\"nope\" does not exist"), "{e}");
}

#[test]
fn an_outage_playbook_replays_to_its_rule_by_name_and_drains_and_verifies_its_dlqs() {
    let set = set_for(BUS, &topology());
    let text = &file(&set, "ship-orders-outage.toml").text;
    // The verify step's `rules` is the discovery branch's: until it is merged, that field
    // is the only thing `load` may refuse.
    only_verify_rules_refused(&load("ship-orders-outage.toml", text));
    let t = table(text);
    assert_eq!(t["name"].as_str(), Some("ship-orders-outage"));
    let params: Vec<(&str, &str)> = t["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["default"].as_str().unwrap()))
        .collect();
    assert_eq!(
        params,
        [
            ("since", "2h"),
            ("until", "10m"),
            ("bus", BUS),
            ("ledger", "sqlite")
        ]
    );
    let s = steps(&t);
    let kinds: Vec<&str> = s.iter().map(|s| s["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["doctor", "replay", "confirm", "drain", "verify"]);
    let replay = s[1];
    assert_eq!(strings(&replay["rules"]), ["ship-orders"]);
    assert!(
        !replay.contains_key("event_types") && !replay.contains_key("archive"),
        "the rule by name, the archive found from the bus: {replay:?}"
    );
    assert_eq!(replay["since"].as_str(), Some("${since}"));
    assert!(
        replay["title"]
            .as_str()
            .unwrap()
            .contains("detail-type = OrderPaid, OrderPlaced")
    );
    let drain = s[3];
    assert_eq!(drain["bus"].as_str(), Some("${bus}"));
    assert_eq!(strings(&drain["rules"]), ["ship-orders"]);
    assert!(!drain.contains_key("to"), "not a partner rule: {drain:?}");
    assert!(!drain.contains_key("queues") && !drain.contains_key("park_queue"));
    let verify = s[4];
    assert_eq!(
        verify["replay_completed"].as_str(),
        Some("${steps.replay.name}")
    );
    assert_eq!(verify["bus_dlqs_empty"].as_str(), Some("${bus}"));
    assert_eq!(strings(&verify["rules"]), ["ship-orders"]);
    assert!(text.starts_with("# Outage of rule ship-orders on bus orders-prod."));
    assert!(
        text.contains("nexus-replay playbook run  ship-orders-outage.toml --set since=3h --yes")
    );
    // A catch-all says so.
    let audit = &file(&set, "audit-all-outage.toml").text;
    assert!(
        audit.contains(
            "# Rule audit-all takes every event type its pattern accepts\n# from sources shop."
        ),
        "{audit}"
    );
}

#[test]
fn a_partner_rule_is_drained_to_its_target_and_gets_the_cutover_file() {
    let set = set_for(BUS, &topology());
    let t = table(&file(&set, "billing-sync-outage.toml").text);
    let drain = steps(&t)[3];
    assert_eq!(drain["to"].as_str(), Some("target"));
    let replay_title = steps(&t)[1]["title"].as_str().unwrap().to_string();
    assert!(
        replay_title.contains(r#"detail.type matching [{"prefix":"invoice."}]"#),
        "{replay_title}"
    );

    let cutover = &file(&set, "partner-cutover.toml").text;
    only_verify_rules_refused(&load("partner-cutover.toml", cutover));
    let t = table(cutover);
    let s = steps(&t);
    let kinds: Vec<&str> = s.iter().map(|s| s["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["doctor", "confirm", "drain", "verify"]);
    assert_eq!(s[2]["to"].as_str(), Some("target"));
    assert_eq!(strings(&s[2]["rules"]), ["billing-sync"]);
    assert_eq!(strings(&s[3]["rules"]), ["billing-sync"]);

    // Without a partner rule there is no cutover file.
    let plain: Vec<RuleInfo> = topology()
        .into_iter()
        .filter(|r| r.name != "billing-sync")
        .collect();
    let set = set_for(BUS, &plain);
    assert!(set.files.iter().all(|f| f.kind != "cutover"));
    // On a partner bus every consumer takes partner events.
    let partner_bus = "aws.partner/stripe.com/ed_1";
    let set = set_for(partner_bus, &plain);
    let t = table(&file(&set, "ship-orders-outage.toml").text);
    assert_eq!(steps(&t)[3]["to"].as_str(), Some("target"));
    assert!(set.files.iter().any(|f| f.kind == "cutover"));
}

#[test]
fn the_nightly_drain_loads_as_written_and_parks_nothing_unless_asked() {
    let set = set_for(BUS, &topology());
    let text = &file(&set, "nightly-dlq-drain.toml").text;
    let pb = load("nightly-dlq-drain.toml", text).unwrap_or_else(|d| panic!("{d:?}\n{text}"));
    assert_eq!(pb.name, "nightly-dlq-drain");
    let t = table(text);
    let s = steps(&t);
    let kinds: Vec<&str> = s.iter().map(|s| s["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["doctor", "drain", "verify"]);
    assert!(!s[1].contains_key("park_queue") && !s[1].contains_key("queues"));
    assert_eq!(s[1]["min_age"].as_str(), Some("${min_age}"));
    assert!(text.contains("\n# park_queue = \"create\"\n"), "{text}");
    assert!(
        text.contains("15 3 * * * nexus-replay"),
        "a cron line: {text}"
    );
    assert_eq!(s[2]["bus_dlqs_empty"].as_str(), Some("${bus}"));
    assert!(
        text.contains("partner-cutover.toml delivers them"),
        "{text}"
    );
    let plain = set_for(BUS, &[rule("a", Some(r#"{"source": ["shop"]}"#), true)]);
    assert!(
        !file(&plain, "nightly-dlq-drain.toml")
            .text
            .contains("Partner events")
    );
}

#[test]
fn rule_names_become_safe_distinct_file_names() {
    assert_eq!(
        file_stem("Orders/Prod Rule.v2", "-outage"),
        "orders-prod-rule-v2-outage"
    );
    assert_eq!(file_stem("9lives", "-outage"), "rule-9lives-outage");
    assert_eq!(file_stem("../..", "-outage"), "rule-outage");
    assert_eq!(
        file_stem("ai-nexus-dev-stripe-subscription_events-rule", ""),
        "ai-nexus-dev-stripe-subscription_events-rule"
    );
    assert_eq!(
        default_out("aws.partner/stripe.com/ed_1"),
        std::path::PathBuf::from("playbooks-aws-partner-stripe-com-ed_1")
    );
    let p = r#"{"source": ["shop"]}"#;
    let set = set_for(
        BUS,
        &[
            rule("orders", Some(p), true),
            rule("Orders", Some(p), true),
            rule("a/../../b", Some(p), true),
        ],
    );
    let names: Vec<&str> = set.files.iter().map(|f| f.file.as_str()).collect();
    assert_eq!(
        names,
        [
            "orders-outage.toml",
            "a-b-outage.toml",
            "orders-outage-2.toml",
            "nightly-dlq-drain.toml"
        ]
    );
    for f in &set.files {
        assert!(!f.file.contains('/') && !f.file.starts_with('.'));
    }
}

#[test]
fn strings_from_the_topology_are_escaped() {
    let name = r#"odd "name" \ with $ and ${x}"#;
    let pattern = r#"{"source": ["a\"b"], "detail-type": ["x\ny"]}"#;
    let set = set_for("bus \"q\"", &[rule(name, Some(pattern), true)]);
    let f = &set.files[0];
    let t = table(&f.text);
    let s = steps(&t);
    assert_eq!(
        strings(&s[1]["rules"]),
        [r#"odd "name" \ with $$ and $${x}"#]
    );
    assert_eq!(t["params"][2]["default"].as_str(), Some("bus \"q\""));
    assert!(s[1]["title"].as_str().unwrap().contains("x y"), "one line");
    // Every comment line is a comment: the newline in the type did not end one.
    for line in f.text.lines() {
        assert!(!line.starts_with("y"), "{line}");
    }
}

#[test]
fn the_same_topology_gives_the_same_files_in_any_order() {
    let mut reversed = topology();
    reversed.reverse();
    assert_eq!(set_for(BUS, &topology()), set_for(BUS, &reversed));
}

fn tmp() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("nr-init-{}", crate::ids::random_hex(8)))
}

#[test]
fn existing_files_are_not_overwritten_without_force() {
    let dir = tmp();
    let out = dir.join("nested/out");
    let set = set_for(BUS, &topology());
    let report = write(&set, &out, false).unwrap();
    assert_eq!(report.files.len(), 5);
    for f in &set.files {
        assert_eq!(std::fs::read_to_string(out.join(&f.file)).unwrap(), f.text);
    }
    // One edited, one removed: a second init refuses, writes nothing, names the file.
    let edited = out.join("ship-orders-outage.toml");
    std::fs::write(&edited, "# mine\n").unwrap();
    let removed = out.join("nightly-dlq-drain.toml");
    std::fs::remove_file(&removed).unwrap();
    let e = write(&set, &out, false).unwrap_err();
    assert_eq!(e.exit_code(), crate::exit_codes::USAGE);
    let msg = e.to_string();
    assert!(
        msg.contains("ship-orders-outage.toml") && msg.contains("--force"),
        "{msg}"
    );
    assert_eq!(std::fs::read_to_string(&edited).unwrap(), "# mine\n");
    assert!(!removed.exists(), "nothing written");
    // --force writes them all.
    write(&set, &out, true).unwrap();
    assert_ne!(std::fs::read_to_string(&edited).unwrap(), "# mine\n");
    assert!(removed.exists());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_report_names_the_files_and_what_to_do_next() {
    use crate::output::Report;
    let dir = tmp();
    let report = write(&set_for(BUS, &topology()), &dir, false).unwrap();
    let human = report.human();
    assert!(human.starts_with("Wrote 5 playbooks for bus orders-prod to "));
    assert!(
        human
            .lines()
            .any(|l| l.contains("/ship-orders-outage.toml ")
                && l.ends_with("  outage of rule ship-orders")),
        "{human}"
    );
    assert!(human.contains("paused-rule: DISABLED"));
    assert!(human.contains("nexus-replay playbook validate "));
    assert!(human.contains("nexus-replay playbook plan "));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["files"][0]["rule"], "audit-all");
    assert_eq!(json["files"][3]["kind"], "nightly");
    std::fs::remove_dir_all(dir).unwrap();
}

/// The files as a reviewer reads them.
#[test]
fn snapshot_of_the_generated_set() {
    let set = set_for(BUS, &topology());
    let all: Vec<String> = set
        .files
        .iter()
        .map(|f| format!("===== {} =====\n{}", f.file, f.text))
        .collect();
    insta::assert_snapshot!("init_orders_prod", all.join("\n"));
}
