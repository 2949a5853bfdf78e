//! Loads the SDK configuration with the normal credential chain, honouring the global
//! `--region`, `--profile` and `--endpoint-url` options (and `AWS_*` variables).
//!
//! It also picks the wall clock the engine reads ([`Clients::clock`]). For end-to-end tests
//! only, `NEXUS_REPLAY_TEST_CLOCK_OFFSET=SECONDS` moves that clock forward, so a test can run
//! a command "11 s later" (claims of a killed run expired) without sleeping. It is honoured
//! only when the endpoint is on loopback (an emulator); against any other endpoint, or AWS
//! itself, it is ignored with a warning: the time of claims in a shared ledger is never
//! skewed on purpose.

use std::sync::OnceLock;

use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::clock::{Clock, SharedClock};

/// Seconds to add to the wall clock, honoured only against a loopback endpoint (tests).
pub const TEST_CLOCK_OFFSET_ENV: &str = "NEXUS_REPLAY_TEST_CLOCK_OFFSET";

/// The AWS-related global options, already resolved from flags, env and config file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsOptions {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
}

/// Why no SDK configuration could be made.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "no AWS region configured; pass --region, set AWS_REGION, or put region = \"...\" in nexus-replay.toml"
    )]
    NoRegion,
}

/// Loads the shared SDK configuration.
pub async fn load(opts: &AwsOptions) -> Result<SdkConfig, ConfigError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(profile) = &opts.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &opts.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(url) = &opts.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let config = loader.load().await;
    if config.region().is_none() {
        return Err(ConfigError::NoRegion);
    }
    Ok(config)
}

/// The adapters (and raw clients for provisioning) built from one SDK configuration.
#[derive(Debug, Clone)]
pub struct Clients {
    pub region: String,
    pub eventbridge: super::eventbridge::EventBridge,
    pub sqs: super::sqs::Sqs,
    pub raw_eventbridge: aws_sdk_eventbridge::Client,
    pub raw_sqs: aws_sdk_sqs::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// The wall clock the engine reads (see the module doc for the test offset).
    pub clock: SharedClock,
    /// For the delivery adapters, built on first use: most commands never deliver to a
    /// target, and each client costs its own runtime setup.
    config: SdkConfig,
    lambda: OnceLock<super::lambda::Lambda>,
    sqs_sender: OnceLock<super::sqs_send::SqsSender>,
    sns: OnceLock<super::sns::Sns>,
    sfn: OnceLock<super::sfn::StepFunctions>,
    logs: OnceLock<super::logs::Logs>,
}

impl Clients {
    pub async fn load(opts: &AwsOptions) -> Result<Clients, ConfigError> {
        let config = load(opts).await?;
        let raw_eventbridge = aws_sdk_eventbridge::Client::new(&config);
        // One retry layer per call (`retry`): the SDK's, with the attempts chosen there.
        let raw_sqs = aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(&config)
                .retry_config(super::retry::at_least(&config, super::retry::SQS_ATTEMPTS))
                .build(),
        );
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&config)
                .retry_config(super::retry::at_least(
                    &config,
                    super::retry::DYNAMODB_ATTEMPTS,
                ))
                .build(),
        );
        Ok(Clients {
            region: config.region().map(|r| r.to_string()).unwrap_or_default(),
            eventbridge: super::eventbridge::EventBridge::new(raw_eventbridge.clone()),
            sqs: super::sqs::Sqs::new(raw_sqs.clone()),
            raw_eventbridge,
            raw_sqs,
            dynamodb,
            clock: clock_for(
                opts.endpoint_url.as_deref(),
                std::env::var(TEST_CLOCK_OFFSET_ENV).ok().as_deref(),
            ),
            config,
            lambda: OnceLock::new(),
            sqs_sender: OnceLock::new(),
            sns: OnceLock::new(),
            sfn: OnceLock::new(),
            logs: OnceLock::new(),
        })
    }

    /// CloudWatch `GetMetricData`, for `triage` (built when asked for).
    pub fn cloudwatch(&self) -> super::cloudwatch::CloudWatch {
        super::cloudwatch::CloudWatch::new(aws_sdk_cloudwatch::Client::new(&self.config))
    }

    /// Lambda `Invoke`, for function targets.
    pub fn lambda(&self) -> &super::lambda::Lambda {
        self.lambda
            .get_or_init(|| super::lambda::Lambda::new(aws_sdk_lambda::Client::new(&self.config)))
    }

    /// SQS `SendMessageBatch`, for queue targets (the DLQs themselves go through `sqs`).
    pub fn sqs_sender(&self) -> &super::sqs_send::SqsSender {
        self.sqs_sender
            .get_or_init(|| super::sqs_send::SqsSender::new(self.raw_sqs.clone()))
    }

    /// SNS `Publish`, for topic targets.
    pub fn sns(&self) -> &super::sns::Sns {
        self.sns
            .get_or_init(|| super::sns::Sns::new(aws_sdk_sns::Client::new(&self.config)))
    }

    /// Step Functions `StartExecution`, for state machine targets.
    pub fn sfn(&self) -> &super::sfn::StepFunctions {
        self.sfn
            .get_or_init(|| super::sfn::StepFunctions::new(aws_sdk_sfn::Client::new(&self.config)))
    }

    /// CloudWatch Logs `PutLogEvents`, for log group targets.
    pub fn logs(&self) -> &super::logs::Logs {
        self.logs.get_or_init(|| {
            super::logs::Logs::new(aws_sdk_cloudwatchlogs::Client::new(&self.config))
        })
    }

    /// The shared SDK configuration, for clients only one command uses.
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.config
    }

    /// The DynamoDB dedup ledger on `table`.
    pub fn dynamo_ledger(&self, table: &str) -> super::dynamodb::DynamoLedger {
        super::dynamodb::DynamoLedger::new(self.dynamodb.clone(), table)
    }
}

/// The system clock, moved by `offset` seconds when the endpoint is on loopback.
fn clock_for(endpoint_url: Option<&str>, offset: Option<&str>) -> SharedClock {
    let Some(offset) = offset.filter(|o| !o.trim().is_empty()) else {
        return crate::clock::system();
    };
    if !endpoint_url.is_some_and(is_loopback) {
        tracing::warn!(
            "{TEST_CLOCK_OFFSET_ENV} is ignored: it applies only to an emulator on loopback"
        );
        return crate::clock::system();
    }
    match offset.trim().parse::<i64>() {
        Ok(secs) => std::sync::Arc::new(OffsetClock(chrono::Duration::seconds(secs))),
        Err(_) => {
            tracing::warn!(
                "{TEST_CLOCK_OFFSET_ENV}={offset:?} is ignored: not a whole number of seconds"
            );
            crate::clock::system()
        }
    }
}

/// Whether an endpoint URL names this machine (localhost, 127.0.0.0/8, ::1).
fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host_port.split(':').next().unwrap_or(""),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The system clock moved by a fixed offset (tests against an emulator).
#[derive(Debug)]
struct OffsetClock(chrono::Duration);

impl Clock for OffsetClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now() + self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_loopback_endpoint_counts_as_loopback() {
        for url in [
            "http://127.0.0.1:5000",
            "http://localhost:4566/",
            "https://[::1]:443",
            "http://127.0.0.2",
        ] {
            assert!(is_loopback(url), "{url}");
        }
        for url in [
            "https://sqs.us-east-2.amazonaws.com",
            "http://10.0.0.1:5000",
            "http://localhost.example.com",
            "http://127.0.0.1.example.com",
        ] {
            assert!(!is_loopback(url), "{url}");
        }
    }

    #[test]
    fn the_test_offset_moves_the_clock_only_against_loopback() {
        let skew = |c: SharedClock| (c.now() - chrono::Utc::now()).num_seconds();
        let moved = skew(clock_for(Some("http://127.0.0.1:5000"), Some("11")));
        assert!((10..=11).contains(&moved), "{moved}");
        let aws = skew(clock_for(
            Some("https://dynamodb.us-east-2.amazonaws.com"),
            Some("11"),
        ));
        assert!(aws.abs() <= 1, "{aws}");
        assert!(skew(clock_for(None, Some("11"))).abs() <= 1);
        assert!(skew(clock_for(Some("http://127.0.0.1:5000"), Some("soon"))).abs() <= 1);
        assert!(skew(clock_for(Some("http://127.0.0.1:5000"), None)).abs() <= 1);
    }
}
