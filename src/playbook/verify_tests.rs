//! Verify steps: retried within their window, and the unique-keys check.

use super::test_world::*;
use serde_json::json;
use std::collections::BTreeMap;

#[tokio::test(start_paused = true)]
async fn verify_retries_within_its_window_then_fails_with_the_counts() {
    let w = world(2, true);
    let src = "name = \"v\"\ndescription = \"d\"\nwhen = \"w\"\n[[steps]]\nkind = \"verify\"\nqueues_empty = [\"subs-dlq\"]\nwithin = \"30s\"\n";
    let mut ui = TestUi::default();
    let rec = run_it(&w, src, &w.opts(1, true), &mut ui).await.unwrap();
    assert_eq!(rec.exit_code, crate::exit_codes::PARTIAL);
    let report = rec.steps[0].report.clone().unwrap();
    assert!(report["attempts"].as_u64().unwrap() >= 6, "{report}");
    let err = rec.steps[0].error.clone().unwrap();
    assert!(err.contains("queue subs-dlq is empty (~2 visible"), "{err}");
}

#[tokio::test]
async fn unique_keys_check_finds_a_key_delivered_twice_and_leaves_the_queue_as_it_was() {
    let w = world(0, true);
    let meta = |key: &str, run: &str| {
        json!({"version": "0", "id": "x", "detail-type": "t", "source": "s", "time": "2025-09-08T14:00:00Z",
               "region": "us-east-2", "resources": [],
               "detail": {"id": key, "nexus_replay": {"dedup_key": key, "run_id": run}}})
        .to_string()
    };
    for (k, run) in [
        ("evt_1", "r1"),
        ("evt_2", "r1"),
        ("evt_1", "other"),
        ("evt_3", "r1"),
    ] {
        w.sqs.push("consumer", &meta(k, run), BTreeMap::new());
    }
    let src = "name = \"u\"\ndescription = \"d\"\nwhen = \"w\"\n[[params]]\nname = \"run\"\ntype = \"string\"\ndefault = \"r1\"\nhelp = \"h\"\n[[steps]]\nkind = \"verify\"\nunique_keys_in = \"consumer\"\nunique_key = \"detail.id\"\nreemitted_by = \"${run}\"\n";
    let mut ui = TestUi::default();
    let rec = run_it(&w, src, &w.opts(1, true), &mut ui).await.unwrap();
    assert_eq!(rec.exit_code, 0, "only r1's events count: {rec:#?}");
    w.sqs
        .push("consumer", &meta("evt_2", "r1"), BTreeMap::new());
    let rec = run_it(&w, src, &w.opts(1, true), &mut ui).await.unwrap();
    assert_eq!(rec.exit_code, crate::exit_codes::PARTIAL);
    assert!(
        rec.steps[0].error.as_deref().unwrap().contains("evt_2 x2"),
        "{rec:#?}"
    );
    assert_eq!(w.sqs.messages("consumer").len(), 5);
    assert_eq!(w.sqs.in_flight("consumer"), 0);
}
