//! The text of the playbooks `playbook init` writes: TOML built line by line, so each file
//! keeps its header comment and the order of a runbook, with every string value quoted and
//! escaped by the `toml` crate and every `$` from the topology written `$$` (step values
//! are templates).

use super::init::ConsumerRule;

/// A TOML document under construction.
#[derive(Default)]
struct Doc(String);

impl Doc {
    /// `# ` before each line of `text`; control characters (a newline in a rule's
    /// description) cannot end the comment early.
    fn comment(&mut self, text: &str) {
        if text.is_empty() {
            self.0.push_str("#\n");
        }
        for line in text.lines() {
            let clean: String = line
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            let clean = clean.trim_end();
            if clean.is_empty() {
                self.0.push_str("#\n");
            } else {
                self.0.push_str(&format!("# {clean}\n"));
            }
        }
    }

    fn blank(&mut self) {
        self.0.push('\n');
    }

    fn line(&mut self, text: &str) {
        self.0.push_str(text);
        self.0.push('\n');
    }

    fn str(&mut self, key: &str, value: &str) {
        self.line(&format!("{key} = {}", quote(value)));
    }

    /// Text for a person (a title, a description, help): one line, whatever the topology
    /// put in it.
    fn prose(&mut self, key: &str, value: &str) {
        let flat: String = value
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        self.str(key, &flat);
    }

    fn list(&mut self, key: &str, values: &[String]) {
        let items: Vec<String> = values.iter().map(|v| quote(v)).collect();
        self.line(&format!("{key} = [{}]", items.join(", ")));
    }

    fn table(&mut self, name: &str) {
        self.blank();
        self.line(&format!("[[{name}]]"));
    }

    fn param(&mut self, name: &str, ty: &str, default: &str, help: &str) {
        self.table("params");
        self.str("name", name);
        self.str("type", ty);
        self.str("default", default);
        self.prose("help", help);
    }

    fn step(&mut self, id: &str, kind: &str, title: &str) {
        self.table("steps");
        self.str("id", id);
        self.str("kind", kind);
        self.prose("title", title);
    }
}

/// A TOML string literal of `s`, escaped as the `toml` crate writes it.
pub(super) fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// `s` as literal text in a templated step value: `$` is written `$$`.
fn lit(s: &str) -> String {
    s.replace('$', "$$")
}

const WINDOW_HELP_SINCE: &str =
    "Start of the outage: a duration back from now (2h) or a UTC time (\"2025-09-08 14:00\")";
const WINDOW_HELP_UNTIL: &str = "End of the outage (default 10 min ago: archives lag ingestion by up to ~10 min; \"now\" on a fresh sandbox)";
const LEDGER_HELP: &str =
    "Dedup ledger: sqlite (this host), sqlite:PATH, dynamodb://TABLE (shared), none";

/// What `playbook init` writes at the top of every file.
fn provenance(doc: &mut Doc, bus: &str) {
    doc.comment(&format!(
        "Written by `nexus-replay playbook init --bus {bus}` from the bus's rules as they were;\n\
         edit it freely, or run init again (with --force) after the rules change."
    ));
}

/// The exit codes a scheduler or a wrapper script acts on (src/exit_codes.rs).
const EXIT_CODES: &str = "Exit codes: 0 done; 1 AWS, network or local file error; 2 bad parameter or playbook\n\
(nothing changed); 3 some messages failed or stayed in their DLQ, a doctor check failed,\n\
or a DLQ is not empty afterwards; 4 the replay ended FAILED or CANCELLED; 5 a wait timed\n\
out; 130 Ctrl-C; 143 SIGTERM (e.g. a scheduler's timeout). Alert on anything but 0.";

/// The outage playbook of one consumer rule.
pub(super) fn outage(bus: &str, rule: &ConsumerRule) -> String {
    let mut doc = Doc::default();
    let name = &rule.name;
    let file = format!("{}.toml", rule.playbook);
    doc.comment(&format!("Outage of rule {name} on bus {bus}."));
    provenance(&mut doc, bus);
    doc.comment("");
    let sources = if rule.sources.is_empty() {
        "any source".to_string()
    } else {
        format!("sources {}", rule.sources.join(", "))
    };
    doc.comment(&format!(
        "Rule {name} takes {types}\nfrom {sources}.",
        types = rule.types
    ));
    doc.comment(
        "What it does: replays the window's archived events to this rule only, then drains the\n\
         DLQs of the rule's targets, then checks that the replay completed and those DLQs are\n\
         empty. The archive (the one ENABLED archive recording the bus) and the DLQs (those of\n\
         the rule's targets) are found from the bus at plan time: nothing else is named here.",
    );
    if rule.partner {
        doc.comment(
            "The pattern takes partner events, whose aws. source PutEvents refuses: the drain\n\
             delivers each message to the target that failed it (to = \"target\").",
        );
    }
    if !rule.has_dlq {
        doc.comment(
            "The rule's targets have no DLQ: the drain finds nothing (the plan warns); give them one.",
        );
    }
    doc.comment(&format!(
        "Use it when: the consumer behind {name} failed or was throttled for a while: it missed\n\
         the events of that window and its DLQ has messages."
    ));
    doc.comment(&format!(
        "Run it:\n  nexus-replay playbook plan {file} --set since=3h          # the exact window, rule and queues; changes nothing\n  nexus-replay playbook run  {file} --set since=3h --yes    # --set until=... ends the window earlier than 10 min ago"
    ));
    doc.comment(EXIT_CODES);
    doc.blank();
    doc.str("name", &rule.playbook);
    doc.prose(
        "description",
        &format!("Replay a window's events to rule {name}, drain its DLQs, verify"),
    );
    doc.prose(
        "when",
        &format!(
            "The consumer of rule {name} ({}) failed or was throttled: it missed a window's events and its DLQ has messages",
            rule.types
        ),
    );
    doc.param("since", "when", "2h", WINDOW_HELP_SINCE);
    doc.param("until", "when", "10m", WINDOW_HELP_UNTIL);
    doc.param("bus", "string", bus, "The event bus");
    doc.param("ledger", "string", "sqlite", LEDGER_HELP);
    let rules = vec![lit(name)];

    doc.step(
        "doctor",
        "doctor",
        "The bus, its rules, targets, DLQs and archive are in place",
    );
    doc.str("bus", "${bus}");
    doc.list("allow", &["pass".into(), "warn".into()]);

    doc.step(
        "replay",
        "replay",
        &format!(
            "Replay the window's events to rule {name} only: {}",
            rule.types
        ),
    );
    doc.str("bus", "${bus}");
    doc.str("since", "${since}");
    doc.str("until", "${until}");
    doc.comment("The rule by name, not by event types: types would also select other rules.");
    doc.list("rules", &rules);
    doc.str("timeout", "2h");

    doc.table("steps");
    doc.str("kind", "confirm");
    doc.prose(
        "message",
        &format!(
            "Replay ${{steps.replay.name}} is done. Drain the DLQs of rule {} now?",
            lit(name)
        ),
    );

    doc.step(
        "drain",
        "drain",
        &format!("Re-deliver what the targets of rule {name} dead-lettered"),
    );
    doc.str("bus", "${bus}");
    doc.list("rules", &rules);
    if rule.partner {
        doc.str("to", "target");
    }
    doc.str("ledger", "${ledger}");

    doc.step(
        "verify",
        "verify",
        "The replay completed and the rule's DLQs are empty",
    );
    doc.str("replay_completed", "${steps.replay.name}");
    doc.str("bus_dlqs_empty", "${bus}");
    doc.list("rules", &rules);
    doc.str("within", "1m");
    doc.0
}

/// The nightly drain of every DLQ of the bus.
/// `partners`: some rule takes partner events, which a bus redrive cannot put back.
pub(super) fn nightly(bus: &str, partners: bool) -> String {
    let mut doc = Doc::default();
    let file = format!("{}.toml", super::init::NIGHTLY);
    doc.comment(&format!("Nightly DLQ drain of bus {bus}."));
    provenance(&mut doc, bus);
    doc.comment("");
    doc.comment(
        "What it does: re-emits every message older than min_age in every DLQ behind the bus's\n\
         rule targets, for at most max_duration, then checks that those DLQs are empty. Poison\n\
         messages (bad bodies, redriven more than max_redrives times, rejected entries) stay in\n\
         their DLQ and are reported. Safe unattended and concurrently with itself: runs sharing a\n\
         ledger never re-emit a key twice.\n\
         Use it: on a schedule, or whenever DLQs filled up after consumers recovered.",
    );
    if partners {
        doc.comment(&format!(
            "Partner events (source aws.partner/...) cannot be put back on a bus: they stay in their\n\
             DLQ and the run exits 3; {}.toml delivers them to their targets.",
            super::init::CUTOVER
        ));
    }
    doc.comment(&format!(
        "Run it:\n  nexus-replay playbook run {file} --yes --output json\n\
         Schedule it (cron, every night at 03:15; keep max_duration below the interval; systemd\n\
         and EventBridge Scheduler -> ECS with a DynamoDB ledger are in playbooks/README.md):\n  \
         15 3 * * * nexus-replay --yes --output json --log-format json playbook run /etc/nexus-replay/playbooks/{file} >>/var/log/nexus-replay/nightly.jsonl 2>>/var/log/nexus-replay/nightly.log"
    ));
    doc.comment(EXIT_CODES);
    doc.blank();
    doc.str("name", super::init::NIGHTLY);
    doc.prose(
        "description",
        &format!("Drain every rule DLQ of bus {bus}: older than min_age, bounded in time"),
    );
    doc.prose(
        "when",
        "On a schedule (nightly), or whenever DLQs have filled up after consumers recovered",
    );
    doc.param(
        "bus",
        "string",
        bus,
        "The event bus whose rule-target DLQs are drained",
    );
    doc.param(
        "min_age",
        "duration",
        "15m",
        "Leave messages younger than this (they may be under investigation)",
    );
    doc.param(
        "max_duration",
        "duration",
        "50m",
        "Stop draining after this long (keep it below the schedule's interval)",
    );
    doc.table("params");
    doc.str("name", "max_redrives");
    doc.str("type", "int");
    doc.line("default = 3");
    doc.str(
        "help",
        "Leave an event redriven more than this many times in its DLQ instead of re-emitting it again",
    );
    doc.param(
        "ledger",
        "string",
        "sqlite",
        "Dedup ledger: sqlite (one host), dynamodb://TABLE (containers, several hosts)",
    );

    doc.step("doctor", "doctor", "The bus and its DLQs are reachable");
    doc.str("bus", "${bus}");
    doc.comment(
        "A failed check (say, a target without a DLQ) does not stop the drain of the others.",
    );
    doc.list("allow", &["pass".into(), "warn".into(), "fail".into()]);

    doc.step(
        "drain",
        "drain",
        "Re-emit every DLQ message older than min_age",
    );
    doc.str("bus", "${bus}");
    doc.str("min_age", "${min_age}");
    doc.str("max_duration", "${max_duration}");
    doc.str("max_redrives", "${max_redrives}");
    doc.str("ledger", "${ledger}");
    doc.comment(&format!(
        "Poison messages stay in their DLQ. To copy them, with the reason, to {bus}-parked\n\
         (created if missing) and delete them from the DLQ instead:\n\
         park_queue = \"create\""
    ));

    doc.step("verify", "verify", "Every DLQ of the bus is empty");
    doc.str("bus_dlqs_empty", "${bus}");
    doc.str("within", "1m");
    doc.0
}

/// The partner cutover: the DLQs of the rules that take partner events, delivered to
/// their targets.
pub(super) fn cutover(bus: &str, partners: &[&ConsumerRule]) -> String {
    let mut doc = Doc::default();
    let file = format!("{}.toml", super::init::CUTOVER);
    let names: Vec<&str> = partners.iter().map(|r| r.name.as_str()).collect();
    doc.comment(&format!("Partner cutover on bus {bus}."));
    provenance(&mut doc, bus);
    doc.comment("");
    doc.comment(&format!(
        "What it does: delivers each message dead-lettered by the rules that take partner events\n\
         ({}) back to the rule target that failed it (to = \"target\": PutEvents refuses\n\
         events whose source starts with \"aws.\", and a bus redrive would reach every matching\n\
         rule again), once per dedup key and target (the default key is the Stripe event id for\n\
         Stripe events), then checks that those rules' DLQs are empty.\n\
         Use it when: partner events were dead-lettered, e.g. while a webhook source and a\n\
         partner event source (aws.partner/...) both deliver the same events.",
        names.join(", ")
    ));
    doc.comment(&format!(
        "Run it:\n  nexus-replay playbook plan {file}          # the DLQs and targets; changes nothing\n  nexus-replay playbook run  {file} --yes"
    ));
    doc.comment(EXIT_CODES);
    doc.blank();
    doc.str("name", super::init::CUTOVER);
    doc.prose(
        "description",
        &format!(
            "Deliver the dead-lettered partner events of bus {bus} to the targets that failed them"
        ),
    );
    doc.prose(
        "when",
        "Partner events were dead-lettered, e.g. during a move from webhooks to a partner event source",
    );
    doc.param(
        "bus",
        "string",
        bus,
        "The event bus the partner events reach",
    );
    doc.param("ledger", "string", "sqlite", LEDGER_HELP);
    let rules: Vec<String> = names.iter().map(|n| lit(n)).collect();

    doc.step(
        "doctor",
        "doctor",
        "The bus is healthy; partner event sources are listed",
    );
    doc.str("bus", "${bus}");
    doc.list("allow", &["pass".into(), "warn".into()]);

    doc.table("steps");
    doc.str("kind", "confirm");
    doc.prose(
        "message",
        "Deliver the DLQ messages of the partner rules of ${bus} to the targets that failed them?",
    );

    doc.step(
        "drain",
        "drain",
        "Deliver every DLQ message of the partner rules to its rule target",
    );
    doc.str("bus", "${bus}");
    doc.list("rules", &rules);
    doc.str("to", "target");
    doc.str("ledger", "${ledger}");

    doc.step("verify", "verify", "The partner rules' DLQs are empty");
    doc.str("bus_dlqs_empty", "${bus}");
    doc.list("rules", &rules);
    doc.str("within", "1m");
    doc.0
}
