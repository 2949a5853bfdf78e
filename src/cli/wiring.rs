//! Building the ports a command runs on from the settings: AWS clients, the ledger a URL
//! names, the drain's and the playbook's port sets.

use crate::aws::config::Clients;
use crate::error::AppError;
use crate::options::DrainOptions;
use crate::replay::journal::Journal;
use crate::settings::Settings;

/// Opens the ledger a `ledger` subcommand names; `none` makes no sense there.
pub(super) async fn open_ledger(
    settings: &Settings,
    url: Option<&str>,
) -> Result<std::sync::Arc<dyn crate::ports::ledger::Ledger>, AppError> {
    let spec = crate::ledger::open::parse(url, &settings.state_dir)?;
    let clients = match spec {
        crate::ledger::open::LedgerSpec::DynamoDb(_) => Some(Clients::load(&settings.aws).await?),
        _ => None,
    };
    crate::ledger::open::open(&spec, clients.as_ref())?.ok_or_else(|| {
        AppError::usage(
            "--ledger none has no records; name a ledger: sqlite, sqlite:PATH or dynamodb://TABLE",
        )
    })
}

/// `user@host` for replay descriptions.
pub(super) fn started_by() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("{user}@{}", crate::playbook::exec::hostname())
}

pub(super) fn drain_ports(
    settings: &Settings,
    c: &Clients,
    emit: &DrainOptions,
) -> Result<crate::drain::engine::DrainPorts, AppError> {
    let spec = crate::ledger::open::parse(emit.ledger.as_deref(), &settings.state_dir)?;
    let ledger = if emit.dry_run {
        None
    } else {
        crate::ledger::open::open(&spec, Some(c))?
    };
    Ok(crate::drain::engine::DrainPorts {
        queue: std::sync::Arc::new(c.sqs.clone()),
        sink: std::sync::Arc::new(c.eventbridge.clone()),
        ledger,
        rules: Some(std::sync::Arc::new(c.eventbridge.clone())),
        delivery: (emit.to == crate::options::RedriveTo::Target).then(|| delivery_ports(c)),
        clock: c.clock.clone(),
    })
}

pub(super) fn playbook_ports(settings: &Settings, c: &Clients) -> crate::playbook::exec::Ports {
    use std::sync::Arc;
    let state_dir = settings.state_dir.clone();
    let aws = c.clone();
    let clients = c.clone();
    crate::playbook::exec::Ports {
        cat: Arc::new(c.eventbridge.clone()),
        ctl: Arc::new(c.eventbridge.clone()),
        queue: Arc::new(c.sqs.clone()),
        sink: Arc::new(c.eventbridge.clone()),
        capture: Arc::new(crate::aws::capture::AwsCapture::new(
            c.raw_eventbridge.clone(),
            c.raw_sqs.clone(),
        )),
        ledger: Box::new(move |url| {
            let spec = crate::ledger::open::parse(url, &state_dir)?;
            crate::ledger::open::open(&spec, Some(&aws))
        }),
        delivery: Box::new(move || delivery_ports(&clients)),
        metrics: Arc::new(c.cloudwatch()),
        keys: Arc::new(crate::aws::kms::Kms::new(aws_sdk_kms::Client::new(
            c.sdk_config(),
        ))),
        roles: Arc::new(crate::aws::iam::Iam::new(aws_sdk_iam::Client::new(
            c.sdk_config(),
        ))),
        journal: Journal::in_dir(&settings.state_dir),
        started_by: started_by(),
    }
}

/// The calls that deliver to rule targets (`drain --to target`), on the account's clients.
pub(super) fn delivery_ports(c: &Clients) -> crate::ports::delivery::DeliveryPorts {
    use std::sync::Arc;
    crate::ports::delivery::DeliveryPorts {
        lambda: Arc::new(c.lambda().clone()),
        sqs: Arc::new(c.sqs_sender().clone()),
        sns: Arc::new(c.sns().clone()),
        sfn: Arc::new(c.sfn().clone()),
        logs: Arc::new(c.logs().clone()),
    }
}
