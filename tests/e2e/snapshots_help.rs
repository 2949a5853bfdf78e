//! Issue 13: `--help` of the top-level command and of every subcommand, as the built binary
//! prints it, under insta snapshots (tests/e2e/snapshots/). The commands are walked from the
//! binary's own `Commands:` lists, so a new subcommand without a snapshot fails here.
//! The width is fixed (COLUMNS, stdout not a terminal) so `wrap_help` wraps the same way.

use crate::support::{Cmd, TempDir, snapshot_settings};

/// The subcommand names of a help text's `Commands:` section (without `help`).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        // An entry is indented two spaces; wrapped lines of an about text are indented more.
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn help_of_every_command_is_snapshotted() {
    let home = TempDir::new("help");
    // The hidden `sandbox` is not listed; walk it too.
    let mut todo: Vec<Vec<String>> = vec![vec![], vec!["sandbox".to_string()]];
    let mut seen = Vec::new();
    let settings = snapshot_settings();
    while let Some(path) = todo.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let run = Cmd::new(None, home.path()).env("COLUMNS", "100").run(&args);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr, "", "{args:?}");
        let name = if path.is_empty() {
            "help".to_string()
        } else {
            format!("help_{}", path.join("_"))
        };
        settings.bind(|| insta::assert_snapshot!(name.clone(), run.stdout));
        for sub in subcommands(&run.stdout) {
            let mut p = path.clone();
            p.push(sub);
            todo.push(p);
        }
        seen.push(path.join(" "));
    }
    seen.sort();
    // The walk reached the nested commands, not only the top level.
    settings.bind(|| insta::assert_snapshot!("help_walked_commands", seen.join("\n")));
}
