//! Partner events (Stripe through a partner event bus): `--to target` delivers them to the
//! rule target of the partner bus (on LocalStack: moto cannot create rules on a bus whose
//! name holds `/`); bus mode cannot (AWS refuses PutEvents for `aws.` sources) and says so.

use serde_json::{Value, json};

use super::topology::{Topo, letters, partner_event, sorted, target, unique};
use crate::drain::bodies;
use crate::proxy::{Faults, Proxy};
use crate::support::{REGION, block_on, client};

/// A partner bus name as AWS makes it from the event source.
fn partner_bus() -> String {
    format!(
        "aws.partner/stripe.com/{}",
        unique("ed_test_61Rz").replace('-', "")
    )
}

#[test]
fn a_partner_bus_rule_target_receives_the_partner_events_once() {
    let bus = partner_bus();
    let topo = Topo::on_localstack(&bus);
    let dlq = topo.queue("partner-dlq");
    let queue = topo.queue("stripe-subscriptions");
    let rule = unique("subscription-updated");
    let rule_arn = topo.rule_with_target(
        &rule,
        r#"{"source": [{"prefix": "aws.partner/stripe.com"}]}"#,
        target("q", &queue.arn, &dlq),
    );
    // The bus is everything between `rule/` and the rule's name.
    assert!(
        rule_arn.ends_with(&format!(":rule/{bus}/{rule}")),
        "{rule_arn}"
    );
    let evs: Vec<Value> = (0..5).map(|i| partner_event(i, &bus)).collect();
    topo.seed(&dlq, &letters(&evs, &rule_arn, &queue.arn));

    let run = topo.drain(&dlq, None, &[]);
    run.code(0);
    super::topology::assert_tally(&run.json(), &queue.arn, "sqs", [5, 0, 0]);
    let got = topo.take(&queue).into_iter().map(|d| d.body).collect();
    assert_eq!(
        sorted(got),
        sorted(evs),
        "each partner event once, as it was"
    );
    assert_eq!(topo.depth(&dlq), 0);
}

#[test]
fn bus_mode_leaves_partner_events_in_the_dlq_and_says_to_use_to_target() {
    let topo = Topo::on_moto("partner-bus-mode");
    let dlq = topo.queue("partner-dlq");
    let queue = topo.queue("stripe-subscriptions");
    // moto cannot hold a rule on a partner bus; bus mode reads none, it only needs the ARN.
    let bus = partner_bus();
    let rule_arn = format!(
        "arn:aws:events:{REGION}:{}:rule/{bus}/subscription-updated",
        topo.account
    );
    let evs: Vec<Value> = (0..5).map(|i| partner_event(i, &bus)).collect();
    topo.seed(&dlq, &letters(&evs, &rule_arn, &queue.arn));
    // The proxy refuses `aws.` sources as AWS does, should anything reach PutEvents.
    let proxy = Proxy::start(topo.endpoint(), 7, Faults::default());

    let run = topo.drain_as(&dlq, Some(&proxy.endpoint), &[]);
    run.code(3);
    let doc = run.json();
    assert_eq!(doc["counts"]["reemitted"], 0, "{doc}");
    assert_eq!(doc["counts"]["deleted"], 0, "{doc}");
    let failures = doc["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 5, "{doc}");
    for f in failures {
        let reason = f["reason"].as_str().unwrap();
        assert!(reason.contains("--to target"), "{f}");
        assert!(reason.contains("aws.") || reason.contains("partner"), "{f}");
    }
    let stats = proxy.stats();
    assert!(
        stats.put_sources.is_empty(),
        "nothing put: {:?}",
        stats.put_sources
    );
    assert!(topo.take(&queue).is_empty());
    let left: Vec<Value> = bodies(&topo.sb, &dlq.url)
        .into_iter()
        .map(|(b, _)| serde_json::from_str(&b).unwrap())
        .collect();
    assert_eq!(sorted(left), sorted(evs), "the DLQ is unchanged");
}

#[test]
fn the_proxy_refuses_aws_sources_in_putevents_as_aws_does() {
    let topo = Topo::on_moto("reserved-source");
    let proxy = Proxy::start(topo.endpoint(), 8, Faults::default());
    let eb = client!(aws_sdk_eventbridge, &proxy.endpoint);
    let entry = |source: &str| {
        aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .event_bus_name(&topo.bus)
            .source(source)
            .detail_type("customer.subscription.updated")
            .detail(json!({"id": "evt_1"}).to_string())
            .build()
    };
    let out = block_on(async {
        eb.put_events()
            .entries(entry("aws.partner/stripe.com/ed_test_61Rz"))
            .entries(entry("stripe.webhook"))
            .send()
            .await
            .unwrap()
    });
    assert_eq!(out.failed_entry_count(), 1);
    let entries = out.entries();
    assert_eq!(
        entries[0].error_code(),
        Some("NotAuthorizedForSourceException")
    );
    assert!(entries[1].event_id().is_some(), "{:?}", entries[1]);
    let stats = proxy.stats();
    assert_eq!(
        stats.put_sources.keys().collect::<Vec<_>>(),
        ["stripe.webhook"]
    );
    assert_eq!(stats.injected_of("PutEvents:NotAuthorizedForSource"), 1);
}
