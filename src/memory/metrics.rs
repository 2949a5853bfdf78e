//! In-memory CloudWatch metrics: data points put by the test, summed or maxed per period
//! like `GetMetricData`, with every call's size recorded and an optional refusal.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ports::PortError;
use crate::ports::metrics::{
    MAX_DATAPOINTS_PER_CALL, MAX_METRICS_PER_CALL, MetricQuery, Metrics, Point, Stat,
};

#[derive(Debug, Clone)]
struct Datum {
    namespace: String,
    metric: String,
    dimensions: Vec<(String, String)>,
    at: DateTime<Utc>,
    value: f64,
}

/// One `fetch` call as the fake saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsCall {
    pub queries: usize,
    pub period_seconds: i32,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub struct MemoryMetrics {
    data: Mutex<Vec<Datum>>,
    calls: Mutex<Vec<MetricsCall>>,
    denied: Mutex<Option<String>>,
}

impl MemoryMetrics {
    pub fn new() -> MemoryMetrics {
        MemoryMetrics::default()
    }

    /// Records one data point (like `PutMetricData`).
    pub fn put(
        &self,
        namespace: &str,
        metric: &str,
        dimensions: &[(&str, &str)],
        at: DateTime<Utc>,
        value: f64,
    ) {
        self.data.lock().unwrap().push(Datum {
            namespace: namespace.into(),
            metric: metric.into(),
            dimensions: dimensions
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            at,
            value,
        });
    }

    /// Every later call fails as AWS answers credentials without the permission.
    pub fn deny(&self, message: &str) {
        *self.denied.lock().unwrap() = Some(message.into());
    }

    pub fn calls(&self) -> Vec<MetricsCall> {
        self.calls.lock().unwrap().clone()
    }
}

fn same_dimensions(a: &[(String, String)], b: &[(String, String)]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort();
    b.sort();
    a == b
}

#[async_trait]
impl Metrics for MemoryMetrics {
    async fn fetch(
        &self,
        queries: &[MetricQuery],
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        period_seconds: i32,
    ) -> Result<BTreeMap<String, Vec<Point>>, PortError> {
        if let Some(m) = self.denied.lock().unwrap().clone() {
            return Err(PortError::Denied(format!(
                "GetMetricData: AccessDenied: {m}"
            )));
        }
        let period = i64::from(period_seconds);
        let points = ((end - start).num_seconds() + period - 1) / period;
        if queries.len() > MAX_METRICS_PER_CALL
            || points as u64 * queries.len() as u64 > MAX_DATAPOINTS_PER_CALL
        {
            return Err(PortError::Invalid(format!(
                "GetMetricData: ValidationError: {} metrics of {points} points each is over the limits",
                queries.len()
            )));
        }
        self.calls.lock().unwrap().push(MetricsCall {
            queries: queries.len(),
            period_seconds,
            start,
            end,
        });
        let data = self.data.lock().unwrap();
        let mut out = BTreeMap::new();
        for q in queries {
            let mut buckets: BTreeMap<i64, f64> = BTreeMap::new();
            for d in data.iter().filter(|d| {
                d.namespace == q.namespace
                    && d.metric == q.metric
                    && same_dimensions(&d.dimensions, &q.dimensions)
                    && d.at >= start
                    && d.at < end
            }) {
                let bucket = (d.at - start).num_seconds() / period;
                let slot = buckets.entry(bucket).or_insert(match q.stat {
                    Stat::Sum => 0.0,
                    Stat::Maximum => f64::MIN,
                });
                *slot = match q.stat {
                    Stat::Sum => *slot + d.value,
                    Stat::Maximum => slot.max(d.value),
                };
            }
            let series = buckets
                .into_iter()
                .map(|(b, v)| (start + chrono::Duration::seconds(b * period), v))
                .collect();
            out.insert(q.id.clone(), series);
        }
        Ok(out)
    }
}
