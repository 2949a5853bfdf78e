//! Loads the SDK configuration with the normal credential chain, honouring the global
//! `--region`, `--profile` and `--endpoint-url` options (and `AWS_*` variables).

use std::sync::OnceLock;

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
            config,
            lambda: OnceLock::new(),
            sqs_sender: OnceLock::new(),
            sns: OnceLock::new(),
            sfn: OnceLock::new(),
            logs: OnceLock::new(),
        })
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

    /// The DynamoDB dedup ledger on `table`.
    pub fn dynamo_ledger(&self, table: &str) -> super::dynamodb::DynamoLedger {
        super::dynamodb::DynamoLedger::new(self.dynamodb.clone(), table)
    }
}

/// Attempts per DynamoDB call (at least), for throttling.
pub const DYNAMODB_MIN_ATTEMPTS: u32 = 8;
