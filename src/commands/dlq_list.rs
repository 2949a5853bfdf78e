//! `dlq list`: the DLQs behind a bus's rule targets, with their approximate depth.

use serde::Serialize;

use crate::discovery::{DlqFeed, arn_name, dlqs_of, require_bus};
use crate::error::AppError;
use crate::ports::bus::BusCatalogue;
use crate::ports::queue::{Queue, QueueDepth};

#[derive(Debug, Clone, Serialize)]
pub struct DlqRow {
    pub arn: String,
    pub name: String,
    pub url: Option<String>,
    /// Approximate counts; None when the queue could not be read.
    pub depth: Option<QueueDepth>,
    pub error: Option<String>,
    pub feeds: Vec<DlqFeed>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DlqListReport {
    pub bus: String,
    pub dlqs: Vec<DlqRow>,
}

/// Discovers the DLQs of a bus and reads each one's depth.
pub async fn dlq_rows(
    cat: &dyn BusCatalogue,
    queues: &dyn Queue,
    bus: &str,
) -> Result<DlqListReport, AppError> {
    let bus = require_bus(cat, bus).await?;
    let rules = cat.list_rules(&bus.name).await?;
    let mut rows = Vec::new();
    for d in dlqs_of(&rules) {
        let (url, depth, error) = match queues.resolve(&d.arn).await {
            Ok(q) => match queues.depth(&q.url).await {
                Ok(depth) => (Some(q.url), Some(depth), None),
                Err(e) => (Some(q.url), None, Some(e.to_string())),
            },
            Err(e) => (None, None, Some(e.to_string())),
        };
        rows.push(DlqRow {
            name: arn_name(&d.arn).to_string(),
            arn: d.arn,
            url,
            depth,
            error,
            feeds: d.feeds,
        });
    }
    Ok(DlqListReport {
        bus: bus.name,
        dlqs: rows,
    })
}
