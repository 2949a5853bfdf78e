//! Test support: a moto server on a free loopback port (killed on drop, even when a test
//! panics), a seeded sandbox, and a small runner for the built binary.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BUS: &str = "ai-nexus-dev-stripe-event-bus";
pub const ARCHIVE: &str = "ai-nexus-dev-stripe-event-archive";
pub const REGION: &str = "us-east-2";

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// moto_server from NEXUS_REPLAY_MOTO, the repo's .venv, or PATH. A missing emulator
/// fails the test (never skips it): run scripts/test.sh, which installs it.
fn moto_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("NEXUS_REPLAY_MOTO") {
        return PathBuf::from(p);
    }
    let venv = repo_root().join(".venv/bin/moto_server");
    if venv.exists() {
        return venv;
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("moto_server"))
            .find(|p| p.exists())
    });
    on_path.unwrap_or_else(|| {
        panic!("moto_server not found: run scripts/test.sh (it creates .venv with moto[server]) or set NEXUS_REPLAY_MOTO")
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A running moto server.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Moto {
        for _attempt in 0..3 {
            let port = free_port();
            let child = Command::new(moto_binary())
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn moto_server");
            let mut moto = Moto {
                child,
                endpoint: format!("http://127.0.0.1:{port}"),
            };
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = moto.child.try_wait() {
                    break; // exited (port taken?): try another port
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return moto;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        panic!("moto_server did not start on loopback");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scratch directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "nexus-e2e-{tag}-{}-{}",
            std::process::id(),
            nexus_replay::ids::random_hex(8)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A finished run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON document ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
    #[track_caller]
    pub fn code(&self, want: i32) -> &Run {
        assert_eq!(
            self.code, want,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// The binary with a clean environment pointed at one emulator.
pub struct Cmd {
    cmd: Command,
}

impl Cmd {
    pub fn new(endpoint: Option<&str>, home: &Path) -> Cmd {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_nexus-replay"));
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().to_string();
            if k.starts_with("AWS_") || k.starts_with("NEXUS_REPLAY_") {
                cmd.env_remove(&k);
            }
        }
        cmd.env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", REGION)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_MAX_ATTEMPTS", "2")
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("NEXUS_REPLAY_STATE_DIR", home.join("state"))
            .current_dir(home)
            .stdin(Stdio::null());
        if let Some(e) = endpoint {
            cmd.env("NEXUS_REPLAY_ENDPOINT_URL", e);
        }
        Cmd { cmd }
    }
    pub fn env(mut self, k: &str, v: &str) -> Cmd {
        self.cmd.env(k, v);
        self
    }
    pub fn env_remove(mut self, k: &str) -> Cmd {
        self.cmd.env_remove(k);
        self
    }
    /// Starts the binary without waiting (output discarded), e.g. to kill it mid-run.
    pub fn spawn(mut self, args: &[&str]) -> Child {
        self.cmd
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn nexus-replay")
    }
    pub fn run(mut self, args: &[&str]) -> Run {
        let out = self.cmd.args(args).output().expect("run nexus-replay");
        Run::of(out)
    }
    /// Starts the binary without waiting, keeping its output for [`finish`] (e.g. to send it
    /// a signal mid-run and read its summary).
    pub fn start(mut self, args: &[&str]) -> Child {
        self.cmd
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn nexus-replay")
    }
}

impl Run {
    fn of(out: std::process::Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Waits for a binary started with [`Cmd::start`] and collects its output.
pub fn finish(child: Child) -> Run {
    Run::of(child.wait_with_output().expect("wait for nexus-replay"))
}

/// Sends a signal (`TERM`, `INT`) to a child, as a scheduler or a terminal would.
pub fn signal(child: &Child, name: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("run kill")
        .success();
    assert!(ok, "kill -{name} {}", child.id());
}

/// moto seeded with the billing topology, plus a private home directory.
pub struct Sandbox {
    pub moto: Moto,
    pub home: TempDir,
    pub seed: Value,
}

impl Sandbox {
    pub fn new(events: usize, dlq_messages: usize) -> Sandbox {
        let moto = Moto::start();
        let home = TempDir::new("home");
        let seed = Cmd::new(Some(&moto.endpoint), home.path())
            .run(&[
                "sandbox",
                "seed",
                "--events",
                &events.to_string(),
                "--dlq-messages",
                &dlq_messages.to_string(),
                "--output",
                "json",
            ])
            .code(0)
            .json();
        Sandbox { moto, home, seed }
    }

    /// The binary as `.sandbox/env` sets it up: endpoint and bus from the environment.
    pub fn cmd(&self) -> Cmd {
        self.bare_cmd().env("NEXUS_REPLAY_BUS", BUS)
    }

    /// The binary pointed at the emulator, with no default bus.
    pub fn bare_cmd(&self) -> Cmd {
        Cmd::new(Some(&self.moto.endpoint), self.home.path())
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.cmd().run(args)
    }

    /// A DynamoDB client on the emulator.
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        dynamodb_client(&self.moto.endpoint)
    }

    /// SDK clients on the emulator, for checks independent of the binary.
    pub fn clients(&self) -> (aws_sdk_eventbridge::Client, aws_sdk_sqs::Client) {
        clients_on(&self.moto.endpoint)
    }
}

/// EventBridge and SQS clients on an emulator endpoint.
pub fn clients_on(endpoint: &str) -> (aws_sdk_eventbridge::Client, aws_sdk_sqs::Client) {
    let creds = aws_sdk_sqs::config::Credentials::new("testing", "testing", None, None, "test");
    let region = aws_sdk_sqs::config::Region::new(REGION);
    let eb = aws_sdk_eventbridge::Config::builder()
        .behavior_version(aws_sdk_eventbridge::config::BehaviorVersion::latest())
        .credentials_provider(creds.clone())
        .region(region.clone())
        .endpoint_url(endpoint)
        .build();
    let sqs = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .credentials_provider(creds)
        .region(region)
        .endpoint_url(endpoint)
        .build();
    (
        aws_sdk_eventbridge::Client::from_conf(eb),
        aws_sdk_sqs::Client::from_conf(sqs),
    )
}

/// A DynamoDB client on an emulator endpoint.
pub fn dynamodb_client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .region(aws_sdk_dynamodb::config::Region::new(REGION))
        .endpoint_url(endpoint)
        .build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}

/// Runs a future to completion on a fresh runtime (tests are synchronous).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

impl Run {
    /// The whole run as one text for a snapshot: exit code, stdout and stderr.
    pub fn transcript(&self) -> String {
        format!(
            "exit: {}\n----- stdout -----\n{}----- stderr -----\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// insta settings for snapshots of the binary's output: no expression in the header, and
/// the loopback endpoint and the scratch directories (which vary per run) redacted.
///
/// The snapshots live in tests/e2e/snapshots/. A mismatch or a missing snapshot fails the
/// test (under CI=true nothing is written). After a deliberate change of the text, rewrite
/// them with `INSTA_UPDATE=always cargo test --test e2e snapshots` (or `cargo insta review`
/// where cargo-insta is installed) and review the diff of the .snap files.
pub fn snapshot_settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_omit_expression(true);
    s.add_filter(r"https?://(127\.0\.0\.1|localhost):\d+", "[ENDPOINT]");
    s.add_filter(r"/[^\s\x22']*nexus-e2e-[a-z0-9-]+-\d+-[0-9a-f]{8}", "[TMP]");
    s
}

/// [`snapshot_settings`] plus what varies between runs against an emulator: times,
/// durations, run ids and replay names, SQS message ids, the random ids of seeded events,
/// and the user and host in a replay's description.
pub fn report_settings() -> insta::Settings {
    let mut s = snapshot_settings();
    for (re, to) in [
        // Run ids (nexus-20261201T104720-860219) and replay names (nexus-20261201T1045-subscr-d507).
        (r"nexus-\d{8}T\d{6}-[0-9a-f]{6}", "[RUN-ID]"),
        (r"nexus-\d{8}T\d{4}-([a-z]+-)?[0-9a-f]{4}", "[REPLAY-NAME]"),
        // RFC 3339 and the CLI's own UTC forms, with or without seconds and fractions.
        (
            r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}| UTC)?",
            "[TIME]",
        ),
        (
            r#""duration_seconds": [0-9.e-]+"#,
            r#""duration_seconds": "[DURATION]""#,
        ),
        // A window's length, which follows the clock ("1m" on a whole minute).
        (r"\(UTC, [^)]*\)", "(UTC, [DURATION])"),
        (r"(\.\. \[TIME\]) \([^)]*\)", "$1 ([DURATION])"),
        // Human durations: 0.4s, 41s, 1m 38s, 250ms; in a table cell, with the padding
        // (which follows the widest duration) made two spaces.
        (r"\b(\d+m )?\d+(\.\d+)?(ms|s)\b {2,}", "[DURATION]  "),
        (r"\b(\d+m )?\d+(\.\d+)?(ms|s)\b", "[DURATION]"),
        (r"\bTIME +NOTE\b", "TIME  NOTE"),
        (
            r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
            "[UUID]",
        ),
        (
            r"\b(evt|sub|in|pi|obj|req|cus)_[0-9a-f]{14,24}\b",
            "${1}_[ID]",
        ),
        (r"by [^\s@;]+@[^\s;]+;", "by [USER]@[HOST];"),
        (r"\b[0-9a-f]{64}\b", "[SHA256]"),
        // Epoch seconds in the seeded Stripe objects.
        (
            r#""(created|current_period_end)": \d+"#,
            r#""$1": "[EPOCH]""#,
        ),
    ] {
        s.add_filter(re, to);
    }
    s
}
