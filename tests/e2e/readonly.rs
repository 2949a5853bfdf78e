//! Issue 2: read-only commands on the sandbox, in both output modes, and input errors.

use aws_sdk_eventbridge::types::Target;

use crate::support::{ARCHIVE, BUS, Cmd, Sandbox, TempDir, block_on};

#[test]
fn doctor_passes_the_sandbox_and_shows_dlq_depth() {
    let sb = Sandbox::new(10, 3);
    let human = sb.run(&["doctor", "--bus", BUS]);
    human.code(0);
    assert!(human.stdout.contains("PASS    bus"), "{}", human.stdout);
    assert!(human.stdout.contains("0 failed"), "{}", human.stdout);

    let doc = sb
        .run(&["doctor", "--bus", BUS, "--output", "json"])
        .code(0)
        .json();
    assert_eq!(doc["fail"], 0);
    let checks = doc["checks"].as_array().unwrap();
    let of = |kind: &str| {
        checks
            .iter()
            .filter(|c| c["check"] == kind)
            .collect::<Vec<_>>()
    };
    assert_eq!(of("rule-enabled").len(), 4);
    assert_eq!(
        of("target-dlq")
            .iter()
            .filter(|c| c["status"] == "PASS")
            .count(),
        4
    );
    assert_eq!(
        of("target-retry")
            .iter()
            .filter(|c| c["status"] == "PASS")
            .count(),
        4
    );
    let archive = of("archive");
    assert_eq!(archive.len(), 1);
    assert_eq!(archive[0]["status"], "PASS");
    assert_eq!(archive[0]["subject"], ARCHIVE);
    let depth = of("dlq-depth");
    assert_eq!(depth.len(), 4);
    for d in depth {
        assert_eq!(d["status"], "WARN");
        assert!(d["message"].as_str().unwrap().contains("~3 waiting"), "{d}");
    }
    // moto does not implement ListEventSources: the check degrades to a WARN, whose hint
    // does not blame a permission (the answer was a 500, not AccessDenied).
    let partner = of("partner-sources");
    assert_eq!(partner.len(), 1);
    assert_eq!(partner[0]["status"], "WARN");
    let hint = partner[0]["hint"].as_str().unwrap();
    assert!(
        hint.contains("console") && !hint.contains("grant"),
        "{hint}"
    );
}

#[test]
fn doctor_fails_a_target_without_dlq_and_an_unarchived_bus() {
    let sb = Sandbox::new(0, 0);
    let (eb, sqs) = sb.clients();
    block_on(async {
        eb.create_event_bus().name("bare-bus").send().await.unwrap();
        let q = sqs
            .create_queue()
            .queue_name("bare-target")
            .send()
            .await
            .unwrap();
        let _ = q;
        eb.put_rule()
            .name("bare-rule")
            .event_bus_name("bare-bus")
            .event_pattern(r#"{"source":["x"]}"#)
            .send()
            .await
            .unwrap();
        eb.put_targets()
            .rule("bare-rule")
            .event_bus_name("bare-bus")
            .targets(
                Target::builder()
                    .id("t1")
                    .arn("arn:aws:sqs:us-east-2:123456789012:bare-target")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    });
    let run = sb.run(&["doctor", "--bus", "bare-bus", "--output", "json"]);
    run.code(3);
    let doc = run.json();
    let checks = doc["checks"].as_array().unwrap();
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| c["status"] == "FAIL")
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["target-dlq", "archive"]);
    let retry = checks
        .iter()
        .find(|c| c["check"] == "target-retry")
        .unwrap();
    assert_eq!(retry["status"], "WARN");
    assert!(
        checks
            .iter()
            .all(|c| c["status"] == "PASS" || c["hint"].is_string())
    );
}

#[test]
fn rules_dlq_list_and_archives_describe_the_topology() {
    let sb = Sandbox::new(10, 2);
    assert_eq!(sb.seed["rules"].as_array().unwrap().len(), 4);
    let rules = sb
        .run(&["rules", "--bus", BUS, "--output", "json"])
        .code(0)
        .json();
    let own = rules["rules"].as_array().unwrap();
    assert_eq!(own.len(), 4);
    for r in own {
        assert_eq!(r["state"], "ENABLED");
        assert_eq!(r["targets"].as_array().unwrap().len(), 1);
        assert!(
            r["targets"][0]["dlq_arn"]
                .as_str()
                .unwrap()
                .ends_with("-dlq")
        );
        assert_eq!(r["targets"][0]["retry_policy"]["maximum_retry_attempts"], 8);
    }
    let managed = rules["managed_rules"].as_array().unwrap();
    assert_eq!(managed.len(), 1);
    assert_eq!(managed[0]["name"], format!("Events-Archive-{ARCHIVE}"));
    let human = sb.run(&["rules", "--bus", BUS]).code(0).stdout.clone();
    assert!(human.contains("Managed rules"), "{human}");

    let dlqs = sb
        .run(&["dlq", "list", "--bus", BUS, "--output", "json"])
        .code(0)
        .json();
    let dlqs = dlqs["dlqs"].as_array().unwrap();
    assert_eq!(dlqs.len(), 4);
    for d in dlqs {
        assert_eq!(d["depth"]["visible"], 2, "{d}");
        assert_eq!(d["feeds"].as_array().unwrap().len(), 1);
    }
    let human = sb
        .run(&["dlq", "list", "--bus", BUS])
        .code(0)
        .stdout
        .clone();
    assert!(
        human.contains("ai-nexus-dev-stripe-update-subscription-dlq  2"),
        "{human}"
    );

    let archives = sb
        .run(&["archives", "--bus", BUS, "--output", "json"])
        .code(0)
        .json();
    let a = &archives["archives"][0];
    assert_eq!(a["name"], ARCHIVE);
    assert_eq!(a["retention_days"], 30);
    assert_eq!(a["source_bus"], BUS);
    assert_eq!(a["state"], "ENABLED");
    assert!(a["earliest_replayable"].is_string());
    let human = sb.run(&["archives"]).code(0).stdout.clone();
    assert!(
        human.contains("30 days") && human.contains("approximate"),
        "{human}"
    );
}

#[test]
fn a_missing_bus_is_a_one_line_usage_error() {
    let sb = Sandbox::new(0, 0);
    for args in [
        &["doctor", "--bus", "nope"][..],
        &["rules", "--bus", "nope"],
        &["dlq", "list", "--bus", "nope"],
        &["archives", "--bus", "nope"],
    ] {
        let run = sb.run(args);
        run.code(2);
        assert!(run.stdout.is_empty());
        assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
        assert!(
            run.stderr.contains("\"nope\" does not exist"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn bad_flags_and_bad_config_exit_2() {
    let home = TempDir::new("flags");
    let run = Cmd::new(None, home.path()).run(&["doctor", "--bogus"]);
    run.code(2);
    assert!(run.stderr.contains("--bogus"), "{}", run.stderr);
    let run = Cmd::new(None, home.path()).run(&["rules"]);
    run.code(2);
    assert!(run.stderr.contains("no event bus given"), "{}", run.stderr);

    std::fs::write(
        home.path().join("nexus-replay.toml"),
        "bus = \"b\"\nregoin = \"x\"\n",
    )
    .unwrap();
    let run = Cmd::new(None, home.path()).run(&["rules"]);
    run.code(2);
    assert!(run.stderr.contains("regoin"), "{}", run.stderr);
}

#[test]
fn flags_win_over_env_which_wins_over_the_config_file() {
    let sb = Sandbox::new(0, 0);
    std::fs::write(
        sb.home.path().join("nexus-replay.toml"),
        "bus = \"from-file\"\n",
    )
    .unwrap();
    // The file alone: its bus is used (and does not exist).
    let run = sb.bare_cmd().run(&["rules"]);
    run.code(2);
    assert!(run.stderr.contains("\"from-file\""), "{}", run.stderr);
    // Env beats the file.
    let run = sb
        .bare_cmd()
        .env("NEXUS_REPLAY_BUS", "from-env")
        .run(&["rules"]);
    assert!(run.stderr.contains("\"from-env\""), "{}", run.stderr);
    // The flag beats both.
    sb.bare_cmd()
        .env("NEXUS_REPLAY_BUS", "from-env")
        .run(&["rules", "--bus", BUS])
        .code(0);
}

#[test]
fn missing_credentials_are_a_plain_error_with_a_hint() {
    let home = TempDir::new("nocreds");
    // No keys, no profile files (HOME is empty), no IMDS: nothing in the chain. The call
    // never leaves the process, so the endpoint is a closed port.
    let run = Cmd::new(Some("http://127.0.0.1:9"), home.path())
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .run(&["rules", "--bus", BUS]);
    run.code(1);
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr
            .starts_with("error: DescribeEventBus: cannot load AWS credentials: "),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("no credentials found in chain"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("\nhint: check which credentials"),
        "{}",
        run.stderr
    );
    // The SDK's debug dump of the error is not shown.
    assert!(!run.stderr.contains("DispatchFailure"), "{}", run.stderr);
}
