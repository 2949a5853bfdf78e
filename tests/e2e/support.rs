//! Test support: a moto server on a free loopback port (killed on drop, even when a test
//! panics), a seeded sandbox, and a small runner for the built binary.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BUS: &str = "ai-nexus-dev-stripe-event-bus";
pub const ARCHIVE: &str = "ai-nexus-dev-stripe-event-archive";
pub const REGION: &str = "us-east-2";

/// An SDK client of `$krate` on the emulator.
macro_rules! client {
    ($krate:ident, $endpoint:expr) => {
        $krate::Client::from_conf(
            $krate::Config::builder()
                .behavior_version($krate::config::BehaviorVersion::latest())
                .credentials_provider($krate::config::Credentials::new(
                    "testing", "testing", None, None, "test",
                ))
                .region($krate::config::Region::new($crate::support::REGION))
                .endpoint_url($endpoint)
                .build(),
        )
    };
}
pub(crate) use client;

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

/// A running emulator server (moto or LocalStack), killed on drop.
pub struct Server {
    child: Child,
    pub endpoint: String,
}

/// A running moto server.
pub type Moto = Server;

impl Server {
    /// Spawns `command(port)` on free loopback ports until one answers `ready(port)`
    /// within `wait` (a process that exits, its port taken, is tried again elsewhere).
    fn spawn_ready(
        what: &str,
        wait: Duration,
        command: impl Fn(u16) -> Command,
        ready: impl Fn(u16) -> bool,
    ) -> Server {
        for _attempt in 0..3 {
            let port = free_port();
            let child = command(port)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("spawn {what}: {e}"));
            let mut server = Server {
                child,
                endpoint: format!("http://127.0.0.1:{port}"),
            };
            let deadline = Instant::now() + wait;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = server.child.try_wait() {
                    break; // exited (port taken?): try another port
                }
                if ready(port) {
                    return server;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        panic!("{what} did not start on loopback");
    }

    pub fn start() -> Moto {
        Server::spawn_ready(
            "moto_server",
            Duration::from_secs(30),
            |port| {
                let mut c = Command::new(moto_binary());
                c.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
                c
            },
            |port| TcpStream::connect(("127.0.0.1", port)).is_ok(),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The account LocalStack answers for (moto's is 123456789012).
pub const LOCALSTACK_ACCOUNT: &str = "000000000000";

/// The Python of the LocalStack venv (NEXUS_REPLAY_LOCALSTACK_PYTHON or the repo's
/// .venv-localstack). Missing, it fails the test: run scripts/localstack-venv.sh.
fn localstack_python() -> PathBuf {
    if let Some(p) = std::env::var_os("NEXUS_REPLAY_LOCALSTACK_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = repo_root().join(".venv-localstack/bin/python");
    assert!(
        venv.exists(),
        "{} not found: run scripts/localstack-venv.sh (scripts/test.sh does) or set NEXUS_REPLAY_LOCALSTACK_PYTHON",
        venv.display()
    );
    venv
}

/// LocalStack in host mode (no Docker), with EventBridge, SQS and STS: unlike moto it
/// creates rules on a bus whose name holds `/` (a partner event bus). Its files go to a
/// scratch directory, removed with it.
pub struct LocalStack {
    pub server: Server,
    /// Its files; keep it as long as the server.
    pub dir: TempDir,
}

impl LocalStack {
    pub fn start() -> LocalStack {
        let dir = TempDir::new("localstack");
        let python = localstack_python();
        let root = dir.path().to_path_buf();
        let server = Server::spawn_ready(
            "LocalStack",
            Duration::from_secs(120),
            |port| {
                let mut c = Command::new(&python);
                c.args(["-m", "localstack.runtime.main"])
                    .current_dir(&root)
                    .env("GATEWAY_LISTEN", format!("127.0.0.1:{port}"))
                    .env("SERVICES", "events,sqs,sts")
                    .env("PROVIDER_OVERRIDE_EVENTS", "v2")
                    .env("DNS_ADDRESS", "0")
                    .env("SKIP_SSL_CERT_DOWNLOAD", "1")
                    // No analytics events sent home.
                    .env("DISABLE_EVENTS", "1")
                    .env("FILESYSTEM_ROOT", root.join("fs"))
                    .env("LOCALSTACK_VOLUME_DIR", root.join("volume"))
                    .env("TMPDIR", &root);
                c
            },
            |port| {
                http_get(port, "/_localstack/health").is_some_and(|a| a.starts_with("HTTP/1.1 200"))
            },
        );
        LocalStack { server, dir }
    }
}

/// GETs `path` from a loopback port: the whole answer, or None if nothing answers.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    Some(answer)
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
    (
        client!(aws_sdk_eventbridge, endpoint),
        client!(aws_sdk_sqs, endpoint),
    )
}

/// A DynamoDB client on an emulator endpoint.
pub fn dynamodb_client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    client!(aws_sdk_dynamodb, endpoint)
}

/// The role moto wants a function or state machine to have.
const ROLE: &str = "arn:aws:iam::123456789012:role/nexus-delivery-test";

/// An empty ZIP archive (only its end-of-directory record): moto without Docker never runs
/// the code, it echoes the payload.
const EMPTY_ZIP: [u8; 22] = [
    0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// POSTs `body` to moto at `path`; panics unless it answers 2xx.
fn post(moto: &Moto, path: &str, headers: &[(&str, &str)], body: &str) -> String {
    let addr = moto.endpoint.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("connect to moto");
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 2"), "{path}: {answer}");
    answer
}

/// moto answers Lambda Invoke without Docker after this, and knows the role.
fn prepare_lambda(moto: &Moto) {
    post(
        moto,
        "/moto-api/config",
        &[("Content-Type", "application/json")],
        r#"{"lambda": {"use_docker": false}}"#,
    );
    // IAM through its query API: moto routes by the credential scope and checks no
    // signature (an IAM client would cost the tests another large crate).
    post(
        moto,
        "/",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
            ),
        ],
        "Action=CreateRole&Version=2010-05-08&RoleName=nexus-delivery-test&AssumeRolePolicyDocument=%7B%7D",
    );
}

/// A Lambda function on moto (which, without Docker, echoes the payload and never runs the
/// code); answers its ARN.
pub fn create_function(moto: &Moto, name: &str) -> String {
    prepare_lambda(moto);
    let lambda = client!(aws_sdk_lambda, &moto.endpoint);
    block_on(async {
        lambda
            .create_function()
            .function_name(name)
            .runtime(aws_sdk_lambda::types::Runtime::Python312)
            .role(ROLE)
            .handler("handler.handle")
            .code(
                aws_sdk_lambda::types::FunctionCode::builder()
                    .zip_file(aws_sdk_lambda::primitives::Blob::new(EMPTY_ZIP.to_vec()))
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .function_arn()
            .unwrap()
            .to_string()
    })
}

/// A state machine of one Pass state on moto; answers its ARN.
pub fn create_state_machine(moto: &Moto, name: &str) -> String {
    let sfn = client!(aws_sdk_sfn, &moto.endpoint);
    block_on(async {
        sfn.create_state_machine()
            .name(name)
            .definition(r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#)
            .role_arn(ROLE)
            .send()
            .await
            .unwrap()
            .state_machine_arn()
            .to_string()
    })
}

/// A new SNS topic whose one subscription is the queue `queue_arn`, raw (the queue gets
/// the message itself, not an SNS envelope); answers the topic's ARN.
pub async fn subscribed_topic(sns: &aws_sdk_sns::Client, name: &str, queue_arn: &str) -> String {
    let topic = sns
        .create_topic()
        .name(name)
        .send()
        .await
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_string();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(queue_arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .unwrap();
    topic
}

/// Creates the queue `name`; answers its URL and ARN.
pub async fn queue_with_arn(sqs: &aws_sdk_sqs::Client, name: &str) -> (String, String) {
    let url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    (url, arn)
}

/// Creates the bus `bus` with the archive `archive` (kept forever) and puts on it, one call
/// each, `shop`/`Order` events with these details and event times; answers the bus's ARN.
pub async fn archived_bus_with(
    eb: &aws_sdk_eventbridge::Client,
    bus: &str,
    archive: &str,
    events: &[(Value, chrono::DateTime<chrono::Utc>)],
) -> String {
    let bus_arn = eb
        .create_event_bus()
        .name(bus)
        .send()
        .await
        .unwrap()
        .event_bus_arn()
        .unwrap()
        .to_string();
    eb.create_archive()
        .archive_name(archive)
        .event_source_arn(&bus_arn)
        .send()
        .await
        .unwrap();
    for (detail, time) in events {
        let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .event_bus_name(bus)
            .source("shop")
            .detail_type("Order")
            .detail(detail.to_string())
            .time(aws_sdk_eventbridge::primitives::DateTime::from_secs(
                time.timestamp(),
            ))
            .build();
        let out = eb.put_events().entries(entry).send().await.unwrap();
        assert_eq!(out.failed_entry_count(), 0);
    }
    bus_arn
}

/// A String message attribute.
pub fn attr(v: &str) -> aws_sdk_sqs::types::MessageAttributeValue {
    aws_sdk_sqs::types::MessageAttributeValue::builder()
        .data_type("String")
        .string_value(v)
        .build()
        .unwrap()
}

/// One message as EventBridge dead-letters it: the event, the rule and the target.
pub struct DeadLetter {
    pub body: String,
    pub rule_arn: String,
    pub target_arn: String,
}

/// Puts dead letters on a queue with the attributes EventBridge sets (moto and LocalStack
/// never write to rule DLQs): a Lambda target that timed out until its retries ran out.
pub async fn put_dead_letters(sqs: &aws_sdk_sqs::Client, url: &str, letters: &[DeadLetter]) {
    for (c, chunk) in letters.chunks(10).enumerate() {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, l)| {
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(format!("{c}-{i}"))
                    .message_body(&l.body)
                    .message_attributes("RULE_ARN", attr(&l.rule_arn))
                    .message_attributes("TARGET_ARN", attr(&l.target_arn))
                    .message_attributes("ERROR_CODE", attr("ERROR_FROM_TARGET"))
                    .message_attributes("ERROR_MESSAGE", attr("Task timed out"))
                    .message_attributes("RETRY_ATTEMPTS", attr("185"))
                    .message_attributes("EXHAUSTED_RETRY_CONDITION", attr("MaximumRetryAttempts"))
                    .build()
                    .unwrap()
            })
            .collect();
        let out = sqs
            .send_message_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .unwrap();
        assert!(out.failed().is_empty(), "{out:?}");
    }
}

/// Every message on a queue, received (with its attributes and, on a FIFO queue, its
/// group) and deleted, until a receive waiting 1 s finds none.
pub async fn take_all(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
    let mut out = Vec::new();
    loop {
        let got = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_attribute_names("All")
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap();
        let messages = got.messages();
        if messages.is_empty() {
            return out;
        }
        for m in messages {
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
            out.push(m.clone());
        }
    }
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
        // The process that ran a playbook and its host, in its run record.
        (r#""pid": \d+"#, r#""pid": "[PID]""#),
        (r#""host": "[^"]*""#, r#""host": "[HOST]""#),
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
