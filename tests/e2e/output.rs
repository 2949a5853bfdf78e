//! Issue 19, item 10: with `--output json` every failure is one JSON document on stdout
//! (`error`, `kind`, `exit_code`, `hint`), the human line stays on stderr, and with
//! `--log-format json` that line is a JSON log line.

use serde_json::Value;

use crate::support::{BUS, Cmd, Run, Sandbox, TempDir, finish};

/// The error document of a failed run, checked for the shape every failure shares.
#[track_caller]
fn error_doc(run: &Run, code: i32, kind: &str) -> Value {
    run.code(code);
    let doc = run.json();
    assert_eq!(doc["kind"], kind, "{doc}");
    assert_eq!(doc["exit_code"], code, "{doc}");
    assert!(
        doc["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{doc}"
    );
    assert!(doc["hint"].is_null() || doc["hint"].is_string(), "{doc}");
    doc
}

#[test]
fn every_failure_is_one_json_document_on_stdout_and_a_line_on_stderr() {
    let sb = Sandbox::new(0, 0);

    // Usage: no bus anywhere.
    let run = sb.bare_cmd().run(&["rules", "--output", "json"]);
    let doc = error_doc(&run, 2, "usage");
    assert!(
        doc["error"]
            .as_str()
            .unwrap()
            .starts_with("no event bus given")
    );
    assert!(
        run.stderr.starts_with("error: no event bus given"),
        "{}",
        run.stderr
    );

    // Not found.
    let run = sb.run(&["rules", "--bus", "nope", "--output", "json"]);
    let doc = error_doc(&run, 2, "not_found");
    assert!(
        doc["error"]
            .as_str()
            .unwrap()
            .contains("\"nope\" does not exist")
    );

    // AWS answered with an error code: the operation and the code are fields, and the hint
    // says how to fix it.
    let run = sb.run(&[
        "ledger",
        "show",
        "k",
        "--ledger",
        "dynamodb://missing",
        "--output",
        "json",
    ]);
    let doc = error_doc(&run, 1, "aws");
    assert_eq!(doc["operation"], "GetItem");
    assert_eq!(doc["aws_error_code"], "ResourceNotFoundException");
    assert!(
        doc["hint"]
            .as_str()
            .unwrap()
            .contains("nexus-replay ledger init --ledger dynamodb://missing"),
        "{doc}"
    );
    assert!(
        run.stderr.contains(
            "\nhint: create it once with `nexus-replay ledger init --ledger dynamodb://missing`"
        ),
        "{}",
        run.stderr
    );

    // AWS unreachable: nothing listens on port 9.
    let home = TempDir::new("unreachable");
    let run = Cmd::new(Some("http://127.0.0.1:9"), home.path())
        .run(&["rules", "--bus", BUS, "--output", "json"]);
    let doc = error_doc(&run, 1, "aws");
    assert_eq!(doc["operation"], "DescribeEventBus");
    assert!(
        run.stderr.starts_with("error: DescribeEventBus: "),
        "{}",
        run.stderr
    );
}

#[test]
fn config_errors_are_json_too_from_the_flag_the_env_or_the_file() {
    let home = TempDir::new("cfg-json");
    // No region anywhere (AWS_REGION removed, no profile files in this HOME).
    let run = Cmd::new(None, home.path())
        .env_remove("AWS_REGION")
        .run(&["rules", "--bus", BUS, "--output", "json"]);
    let doc = error_doc(&run, 2, "config");
    assert!(
        doc["error"]
            .as_str()
            .unwrap()
            .starts_with("no AWS region configured")
    );

    // A config file that is not UTF-8 (it used to exit 1), with the output asked for in
    // the environment.
    std::fs::write(
        home.path().join("nexus-replay.toml"),
        b"bus = \"b\"\nregion = \"\xff\"\n",
    )
    .unwrap();
    let run = Cmd::new(None, home.path())
        .env("NEXUS_REPLAY_OUTPUT", "json")
        .run(&["rules"]);
    let doc = error_doc(&run, 2, "config");
    assert!(
        doc["error"]
            .as_str()
            .unwrap()
            .ends_with("nexus-replay.toml:2 is not UTF-8 text; save it as UTF-8"),
        "{doc}"
    );

    // The file itself asks for JSON, and its endpoint cannot be used (others may write
    // it): the refusal is a JSON document too.
    let cfg = home.path().join("nexus-replay.toml");
    std::fs::write(
        &cfg,
        "output = \"json\"\nendpoint_url = \"http://127.0.0.1:9\"\n",
    )
    .unwrap();
    chmod(&cfg, 0o666);
    let run = Cmd::new(None, home.path()).run(&["rules", "--bus", BUS]);
    let doc = error_doc(&run, 2, "config");
    assert!(
        doc["error"]
            .as_str()
            .unwrap()
            .starts_with("refusing endpoint_url"),
        "{doc}"
    );
}

#[test]
fn flags_clap_refuses_are_json_when_the_flag_or_env_asks() {
    let home = TempDir::new("clap-json");
    // The flag after the argument clap refused still counts.
    let run = Cmd::new(None, home.path()).run(&["doctor", "--bogus", "--output", "json"]);
    let doc = error_doc(&run, 2, "usage");
    assert_eq!(doc["error"], "unexpected argument '--bogus' found");
    assert!(doc["hint"].as_str().unwrap().contains("--help"), "{doc}");
    // clap's own message stays on stderr.
    assert!(
        run.stderr
            .starts_with("error: unexpected argument '--bogus' found"),
        "{}",
        run.stderr
    );

    let run = Cmd::new(None, home.path())
        .env("NEXUS_REPLAY_OUTPUT", "json")
        .run(&["frobnicate"]);
    let doc = error_doc(&run, 2, "usage");
    assert_eq!(doc["error"], "unrecognized subcommand 'frobnicate'");

    // --help is not a failure: its text, exit 0.
    let run = Cmd::new(None, home.path()).run(&["--help", "--output", "json"]);
    run.code(0);
    assert!(run.stdout.contains("Usage:"), "{}", run.stdout);
}

#[test]
fn with_json_logs_the_final_error_line_is_json() {
    let home = TempDir::new("json-log");
    for args in [
        &["rules", "--log-format", "json", "--output", "json"][..],
        &["drain", "--log-format", "json"],
    ] {
        let run = Cmd::new(None, home.path()).run(args);
        run.code(2);
        let last = run.stderr.trim_end().lines().last().unwrap_or_default();
        let line: Value = serde_json::from_str(last)
            .unwrap_or_else(|e| panic!("{e}: the last stderr line is not JSON:\n{}", run.stderr));
        assert_eq!(line["level"], "ERROR", "{line}");
        assert_eq!(line["fields"]["kind"], "usage", "{line}");
        assert_eq!(line["fields"]["exit_code"], 2, "{line}");
        assert!(line["fields"]["message"].is_string(), "{line}");
        assert!(!run.stderr.contains("error: "), "{}", run.stderr);
    }
}

pub(crate) fn chmod(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Issue 13: a reader that closes stdout early (`| head -c1`) ends no output path in a
/// panic, and the exit code stays 0: a table, a JSON document, a completion script and the
/// man page. The pipe is closed before the binary has started, so its first write fails.
#[test]
fn a_closed_stdout_is_not_a_panic_and_exits_0() {
    let home = TempDir::new("epipe");
    for args in [
        vec!["playbook", "list"],
        vec!["playbook", "list", "--output", "json"],
        vec!["completions", "bash"],
        vec!["man"],
    ] {
        let mut child = Cmd::new(None, home.path()).start(&args);
        drop(child.stdout.take());
        let run = finish(child);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{args:?}: {}", run.stderr);
    }
}

/// `completions SHELL` prints a script for each shell, and `man` a roff page.
#[test]
fn completions_and_the_man_page_are_printed() {
    let home = TempDir::new("complete");
    for (shell, mark) in [
        ("bash", "complete -F _nexus__replay"),
        ("zsh", "#compdef nexus-replay"),
        ("fish", "complete -c nexus-replay"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[nexus-replay]"),
    ] {
        let run = Cmd::new(None, home.path()).run(&["completions", shell]);
        run.code(0);
        assert!(
            run.stdout.contains(mark),
            "{shell}: {}",
            &run.stdout[..200.min(run.stdout.len())]
        );
        assert!(run.stdout.contains("reemit"), "{shell}");
    }
    let man = Cmd::new(None, home.path()).run(&["man"]);
    man.code(0);
    assert!(
        man.stdout.starts_with(".ie"),
        "{}",
        &man.stdout[..200.min(man.stdout.len())]
    );
    assert!(man.stdout.contains(".TH nexus-replay 1"), "man page header");
    let bad = Cmd::new(None, home.path()).run(&["completions", "tcsh"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}
