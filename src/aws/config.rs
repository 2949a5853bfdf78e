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
}

impl Clients {
    pub async fn load(opts: &AwsOptions) -> Result<Clients, ConfigError> {
        let config = load(opts).await?;
        let raw_eventbridge = aws_sdk_eventbridge::Client::new(&config);
        let raw_sqs = aws_sdk_sqs::Client::new(&config);
        Ok(Clients {
            region: config.region().map(|r| r.to_string()).unwrap_or_default(),
            eventbridge: super::eventbridge::EventBridge::new(raw_eventbridge.clone()),
            sqs: super::sqs::Sqs::new(raw_sqs.clone()),
            raw_eventbridge,
            raw_sqs,
        })
    }
}
