//! `triage` on moto: the rules' `AWS/Events` metrics put with PutMetricData, DLQs seeded by
//! the sandbox, the archive covering the window; counts, verdicts and the exact commands.

use std::time::Duration;

use chrono::{SubsecRound, Utc};

use crate::cloudwatch_shim::{CloudWatchShim, datum};
use crate::support::{BUS, Sandbox, block_on, client, report_settings};

const PAYMENT: &str = "ai-nexus-dev-stripe-payment_events-rule";
const CUSTOMER: &str = "ai-nexus-dev-stripe-customer_events-rule";

/// A sandbox (2 messages in each DLQ), the CloudWatch shim, and the metrics of one
/// incident put a second into a window that starts after the archive was created.
struct Incident {
    sb: Sandbox,
    shim: CloudWatchShim,
    since: String,
    until: String,
}

fn incident() -> Incident {
    let sb = Sandbox::new(0, 2);
    let shim = CloudWatchShim::start(&sb.moto.endpoint);
    let start = Utc::now().trunc_subsecs(0) + chrono::Duration::seconds(1);
    let at = start + chrono::Duration::seconds(1);
    let cw = client!(aws_sdk_cloudwatch, &shim.endpoint);
    let rule = |r: &'static str| [("RuleName", r), ("EventBusName", BUS)];
    let events = [
        datum("MatchedEvents", &rule(PAYMENT), at, 40.0),
        datum("Invocations", &rule(PAYMENT), at, 40.0),
        datum("FailedInvocations", &rule(PAYMENT), at, 5.0),
        datum("InvocationsSentToDlq", &rule(PAYMENT), at, 3.0),
        datum("InvocationsFailedToBeSentToDlq", &rule(PAYMENT), at, 2.0),
        datum("RetryInvocationAttempts", &rule(PAYMENT), at, 12.0),
        datum("MatchedEvents", &rule(CUSTOMER), at, 9.0),
        datum("Invocations", &rule(CUSTOMER), at, 9.0),
        datum("FailedInvocations", &rule(CUSTOMER), at, 4.0),
        datum("InvocationsSentToDlq", &rule(CUSTOMER), at, 4.0),
    ];
    let payment_dlq = sb.seed["rules"][1]["dlq_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    block_on(async {
        cw.put_metric_data()
            .namespace("AWS/Events")
            .set_metric_data(Some(events.to_vec()))
            .send()
            .await
            .expect("PutMetricData AWS/Events");
        cw.put_metric_data()
            .namespace("AWS/SQS")
            .metric_data(datum(
                "ApproximateAgeOfOldestMessage",
                &[("QueueName", &payment_dlq)],
                Utc::now(),
                420.0,
            ))
            .send()
            .await
            .expect("PutMetricData AWS/SQS");
    });
    // The window ends on a whole second after the data point.
    std::thread::sleep(Duration::from_millis(3200));
    let until = Utc::now().trunc_subsecs(0);
    Incident {
        sb,
        shim,
        since: start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        until: until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }
}

impl Incident {
    fn triage(&self, output: &str) -> crate::support::Run {
        self.sb
            .cmd()
            .env_remove("NEXUS_REPLAY_ENDPOINT_URL")
            .env("AWS_ENDPOINT_URL", &self.sb.moto.endpoint)
            .env("AWS_ENDPOINT_URL_CLOUDWATCH", &self.shim.endpoint)
            .run(&[
                "triage",
                "--since",
                &self.since,
                "--until",
                &self.until,
                "--output",
                output,
            ])
    }
}

#[test]
fn triage_counts_the_losses_and_prints_the_commands_that_recover_them() {
    let inc = incident();
    let run = inc.triage("json");
    run.code(0);
    let j = run.json();
    assert_eq!(j["resolution"]["period_seconds"], 60);
    assert_eq!(j["totals"]["failed"], 9);
    assert_eq!(j["totals"]["in_dlq"], 7);
    assert_eq!(j["totals"]["lost"], 2);
    let rule = |name: &str| {
        j["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["rule"] == name)
            .unwrap_or_else(|| panic!("{name} in {j}"))
            .clone()
    };
    let p = rule(PAYMENT);
    assert_eq!(p["metrics"]["matched_events"], 40);
    assert_eq!(p["metrics"]["retry_invocation_attempts"], 12);
    assert_eq!(p["verdict"]["failed"], 5);
    assert_eq!(p["verdict"]["in_dlq"], 3);
    assert_eq!(p["verdict"]["lost"], 2);
    assert_eq!(p["verdict"]["dlq_messages_now"], 2);
    // The rules match Stripe's partner source: a drain delivers to the target.
    assert_eq!(
        p["verdict"]["actions"][0]["command"],
        format!("nexus-replay drain --bus {BUS} --rule {PAYMENT} --to target")
    );
    assert_eq!(
        p["verdict"]["actions"][1]["command"],
        format!(
            "nexus-replay start --bus {BUS} --rule {PAYMENT} --since {} --until {}",
            inc.since, inc.until
        )
    );
    let c = rule(CUSTOMER);
    assert_eq!(c["verdict"]["lost"], 0);
    assert_eq!(c["verdict"]["actions"].as_array().unwrap().len(), 1);
    assert_eq!(c["verdict"]["actions"][0]["kind"], "drain");
    let dlq = j["dlqs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["rules"][0] == PAYMENT)
        .unwrap();
    assert_eq!(dlq["depth"]["visible"], 2);
    assert_eq!(dlq["oldest_message_age_seconds"], 420);
    assert_eq!(j["archives"][0]["coverage"], "full");
    report_settings().bind(|| insta::assert_snapshot!("triage_json", run.stdout));

    let human = inc.triage("human");
    human.code(0);
    assert!(human.stdout.contains(&format!(
        "nexus-replay start --bus {BUS} --rule {PAYMENT} --since {} --until {}",
        inc.since, inc.until
    )));
    report_settings().bind(|| insta::assert_snapshot!("triage_human", human.transcript()));
}
