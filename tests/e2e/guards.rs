//! Issue 19, guards that could be bypassed and output that was not true: the park-queue
//! self-loop under another spelling of the queue, RULE_ARNs that do not parse or name another
//! account or Region, out-of-range option values, and the words of a run's summary.

use crate::support::{Cmd, TempDir};

#[test]
fn out_of_range_values_are_refused_before_anything_runs() {
    let home = TempDir::new("ranges");
    let file = home.path().join("export.jsonl");
    std::fs::write(&file, "").unwrap();
    let f = file.to_str().unwrap();
    // No endpoint: an answer would need AWS, so exit 2 shows nothing was called.
    for (args, want) in [
        (
            vec!["drain", "--queue", "q", "--concurrency", "30000"],
            "between 1 and 256",
        ),
        (
            vec!["drain", "--queue", "q", "--concurrency", "0"],
            "between 1 and 256",
        ),
        (
            vec!["drain", "--queue", "q", "--claim-timeout", "300000years"],
            "between 10s and 7days",
        ),
        (
            vec!["drain", "--queue", "q", "--visibility-timeout", "1s"],
            "between 10s and 12h",
        ),
        (
            vec!["drain", "--queue", "q", "--receive-wait", "30s"],
            "between 0s and 20s",
        ),
        (
            vec!["drain", "--queue", "q", "--max-messages", "0"],
            "at least 1",
        ),
        (
            vec!["drain", "--queue", "q", "--max-duration", "0s"],
            "between 1s and 30days",
        ),
        (
            vec!["drain", "--queue", "q", "--max-redrives", "0"],
            "between 1 and 100",
        ),
        (
            vec!["drain", "--queue", "q", "--rate=-3"],
            "between 0.01 and 10000",
        ),
        (
            vec!["reemit", "--from", f, "--rate", "0"],
            "between 0.01 and 10000",
        ),
        (
            vec!["reemit", "--from", f, "--size-limit", "10"],
            "between 1024 and 1048576",
        ),
        (
            vec!["start", "--since", "2h", "--rule", "r", "--poll", "0s"],
            "between 1s and 5m",
        ),
        (
            vec!["status", "x", "--watch", "--timeout", "0s"],
            "between 1s and 30days",
        ),
        (vec!["list", "--limit", "0"], "between 1 and 10000"),
        (
            vec!["dlq", "peek", "--queue", "q", "--max", "0"],
            "between 1 and 120000",
        ),
        (
            vec![
                "dlq", "export", "--queue", "q", "--out", "x", "--max", "200000",
            ],
            "between 1 and 120000",
        ),
    ] {
        let run = Cmd::new(None, home.path()).run(&args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(want), "{args:?}: {}", run.stderr);
    }
}
