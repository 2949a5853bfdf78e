//! `dlq export`: write a DLQ's messages (body and attributes) to a JSON Lines file without
//! deleting anything. `reemit --from` reads the same format.

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::drain::browse::browse;
use crate::error::{AppError, not_found_as};
use crate::ports::queue::Queue;

/// One exported message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedMessage {
    pub queue: String,
    /// The queue's ARN: `reemit` checks each RULE_ARN against its account and Region. Files
    /// written before it was recorded lack it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_arn: Option<String>,
    pub message_id: String,
    pub body: String,
    pub attributes: std::collections::BTreeMap<String, String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub receive_count: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    pub queue: String,
    pub file: String,
    pub messages: usize,
}

pub async fn export(
    queue: &dyn Queue,
    name: &str,
    out: &Path,
    max: usize,
    force: bool,
) -> Result<ExportReport, AppError> {
    if out.exists() && !force {
        return Err(AppError::usage(format!(
            "{} exists; pick another --out or pass --force",
            out.display()
        )));
    }
    let q = queue.resolve(name).await.map_err(|e| {
        not_found_as(e, || {
            format!("queue {name:?} does not exist; check --queue and --region")
        })
    })?;
    let msgs = browse(queue, &q.url, max).await?;
    let tmp = out.with_extension("jsonl.partial");
    let write = || -> std::io::Result<()> {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        for m in &msgs {
            let line = ExportedMessage {
                queue: q.name.clone(),
                queue_arn: Some(q.arn.clone()).filter(|a| !a.is_empty()),
                message_id: m.message_id.clone(),
                body: m.body.clone(),
                attributes: m.attributes.clone(),
                sent_at: m.sent_at,
                receive_count: m.receive_count,
            };
            serde_json::to_writer(&mut f, &line)?;
            f.write_all(b"\n")?;
        }
        f.flush()?;
        std::fs::rename(&tmp, out)
    };
    write().map_err(|e| AppError::Io(format!("cannot write {}: {e}", out.display())))?;
    Ok(ExportReport {
        queue: q.name,
        file: out.display().to_string(),
        messages: msgs.len(),
    })
}

/// Reads an export; every line must parse, or nothing is done.
pub fn read(path: &Path) -> Result<Vec<ExportedMessage>, AppError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| AppError::usage(format!("cannot read {}: {e}", path.display())))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| {
                AppError::usage(format!(
                    "{}:{}: not an exported message ({e}); each line needs queue, message_id, body and attributes as written by `nexus-replay dlq export`",
                    path.display(),
                    i + 1
                ))
            })
        })
        .collect()
}
