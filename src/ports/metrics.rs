//! The metrics port: CloudWatch `GetMetricData`, one call's worth of metric queries over
//! one time range, in SDK-neutral types.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::PortError;

/// At most this many metrics in one `GetMetricData` call (without a Metrics Insights query).
pub const MAX_METRICS_PER_CALL: usize = 500;
/// At most this many data points in one `GetMetricData` request.
pub const MAX_DATAPOINTS_PER_CALL: u64 = 100_800;

/// The statistic asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    Sum,
    Maximum,
}

impl Stat {
    pub fn as_str(self) -> &'static str {
        match self {
            Stat::Sum => "Sum",
            Stat::Maximum => "Maximum",
        }
    }
}

/// One metric asked for, under the caller's id (unique within a call; `[a-z][a-zA-Z0-9_]*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricQuery {
    pub id: String,
    pub namespace: String,
    pub metric: String,
    /// Name and value of each dimension, all of which the metric has.
    pub dimensions: Vec<(String, String)>,
    pub stat: Stat,
}

/// The dimensions of a rule's `AWS/Events` metrics: `RuleName` and `EventBusName`, or
/// `RuleName` alone for a rule of the `default` bus (EventBridge publishes those without the
/// bus dimension).
pub fn rule_dimensions(bus: &str, rule: &str) -> Vec<(String, String)> {
    let mut d = vec![("RuleName".to_string(), rule.to_string())];
    if bus != "default" {
        d.push(("EventBusName".to_string(), bus.to_string()));
    }
    d
}

/// One data point: the start of its period and the statistic's value.
pub type Point = (DateTime<Utc>, f64);

/// CloudWatch metrics, as triage reads them.
#[async_trait]
pub trait Metrics: Send + Sync {
    /// The data points of each query (by id) in `[start, end)` at `period_seconds`; a query
    /// without data has no entry or an empty list. The caller keeps within
    /// [`MAX_METRICS_PER_CALL`] and [`MAX_DATAPOINTS_PER_CALL`]; the adapter follows the
    /// answer's pages.
    async fn fetch(
        &self,
        queries: &[MetricQuery],
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        period_seconds: i32,
    ) -> Result<BTreeMap<String, Vec<Point>>, PortError>;
}
