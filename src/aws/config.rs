//! Loads the SDK configuration with the normal credential chain, honouring the global
//! `--region`, `--profile` and `--endpoint-url` options (and `AWS_*` variables).

use aws_config::{BehaviorVersion, Region, SdkConfig};

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
}

impl Clients {
    pub async fn load(opts: &AwsOptions) -> Result<Clients, ConfigError> {
        let config = load(opts).await?;
        let raw_eventbridge = aws_sdk_eventbridge::Client::new(&config);
        let raw_sqs = aws_sdk_sqs::Client::new(&config);
        // The ledger is on every message's path: ride out throttling with more attempts
        // (standard mode: exponential backoff with jitter) than the default three.
        let retry = config
            .retry_config()
            .cloned()
            .unwrap_or_else(aws_config::retry::RetryConfig::standard);
        let retry = if retry.max_attempts() < DYNAMODB_MIN_ATTEMPTS {
            retry.with_max_attempts(DYNAMODB_MIN_ATTEMPTS)
        } else {
            retry
        };
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&config)
                .retry_config(retry)
                .build(),
        );
        Ok(Clients {
            region: config.region().map(|r| r.to_string()).unwrap_or_default(),
            eventbridge: super::eventbridge::EventBridge::new(raw_eventbridge.clone()),
            sqs: super::sqs::Sqs::new(raw_sqs.clone()),
            raw_eventbridge,
            raw_sqs,
            dynamodb,
        })
    }

    /// The DynamoDB dedup ledger on `table`.
    pub fn dynamo_ledger(&self, table: &str) -> super::dynamodb::DynamoLedger {
        super::dynamodb::DynamoLedger::new(self.dynamodb.clone(), table)
    }
}

/// Attempts per DynamoDB call (at least), for throttling.
pub const DYNAMODB_MIN_ATTEMPTS: u32 = 8;
