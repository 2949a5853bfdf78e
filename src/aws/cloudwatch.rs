//! CloudWatch adapter for the metrics port: `GetMetricData`, pages followed.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, StatusCode};
use chrono::{DateTime, Utc};

use super::error::classify;
use super::time::{from_aws, to_aws};
use crate::ports::PortError;
use crate::ports::metrics::{MetricQuery, Metrics, Point};

/// The CloudWatch client behind the metrics port.
#[derive(Debug, Clone)]
pub struct CloudWatch {
    client: Client,
}

impl CloudWatch {
    pub fn new(client: Client) -> CloudWatch {
        CloudWatch { client }
    }
}

fn query(q: &MetricQuery, period_seconds: i32) -> MetricDataQuery {
    let metric = Metric::builder()
        .namespace(&q.namespace)
        .metric_name(&q.metric)
        .set_dimensions(Some(
            q.dimensions
                .iter()
                .map(|(name, value)| Dimension::builder().name(name).value(value).build())
                .collect(),
        ))
        .build();
    MetricDataQuery::builder()
        .id(&q.id)
        .metric_stat(
            MetricStat::builder()
                .metric(metric)
                .period(period_seconds)
                .stat(q.stat.as_str())
                .build(),
        )
        .return_data(true)
        .build()
}

#[async_trait]
impl Metrics for CloudWatch {
    async fn fetch(
        &self,
        queries: &[MetricQuery],
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        period_seconds: i32,
    ) -> Result<BTreeMap<String, Vec<Point>>, PortError> {
        let mut out: BTreeMap<String, Vec<Point>> = BTreeMap::new();
        let mut token: Option<String> = None;
        loop {
            let answer = self
                .client
                .get_metric_data()
                .set_metric_data_queries(Some(
                    queries.iter().map(|q| query(q, period_seconds)).collect(),
                ))
                .start_time(to_aws(start))
                .end_time(to_aws(end))
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| classify("GetMetricData", e))?;
            for r in answer.metric_data_results() {
                let id = r.id().unwrap_or_default().to_string();
                if r.status_code() == Some(&StatusCode::Forbidden) {
                    return Err(PortError::Denied(format!(
                        "GetMetricData: Forbidden: metric {id} was refused"
                    )));
                }
                let series = out.entry(id).or_default();
                for (t, v) in r.timestamps().iter().zip(r.values()) {
                    if let Some(t) = from_aws(t) {
                        series.push((t, *v));
                    }
                }
            }
            match answer.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_string()),
                _ => break,
            }
        }
        for series in out.values_mut() {
            series.sort_by_key(|(t, _)| *t);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::metrics::Stat;
    use aws_sdk_cloudwatch::error::ErrorMetadata;
    use aws_sdk_cloudwatch::operation::get_metric_data::{GetMetricDataError, GetMetricDataOutput};
    use aws_sdk_cloudwatch::primitives::DateTime as AwsDateTime;
    use aws_sdk_cloudwatch::types::MetricDataResult;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use chrono::TimeZone;

    fn q(id: &str) -> MetricQuery {
        MetricQuery {
            id: id.into(),
            namespace: "AWS/Events".into(),
            metric: "FailedInvocations".into(),
            dimensions: vec![("RuleName".into(), "r".into())],
            stat: Stat::Sum,
        }
    }

    fn t(min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 9, 8, 14, min, 0).unwrap()
    }

    #[tokio::test]
    async fn access_denied_is_a_refusal() {
        let rule = mock!(Client::get_metric_data).then_error(|| {
            GetMetricDataError::generic(
                ErrorMetadata::builder()
                    .code("AccessDenied")
                    .message("User: arn:aws:iam::1:user/x is not authorized to perform: cloudwatch:GetMetricData")
                    .build(),
            )
        });
        let cw = CloudWatch::new(mock_client!(aws_sdk_cloudwatch, [&rule]));
        let err = cw.fetch(&[q("m0")], t(0), t(10), 60).await.unwrap_err();
        assert!(matches!(err, PortError::Denied(_)), "{err:?}");
        assert!(
            err.to_string().starts_with("GetMetricData: AccessDenied:"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn pages_are_followed_and_points_kept_by_id() {
        let first = mock!(Client::get_metric_data)
            .match_requests(|r| r.next_token().is_none())
            .then_output(|| {
                GetMetricDataOutput::builder()
                    .metric_data_results(
                        MetricDataResult::builder()
                            .id("m0")
                            .timestamps(AwsDateTime::from_secs(t(1).timestamp()))
                            .values(2.0)
                            .status_code(StatusCode::PartialData)
                            .build(),
                    )
                    .next_token("more")
                    .build()
            });
        let second = mock!(Client::get_metric_data)
            .match_requests(|r| r.next_token() == Some("more"))
            .then_output(|| {
                GetMetricDataOutput::builder()
                    .metric_data_results(
                        MetricDataResult::builder()
                            .id("m0")
                            .timestamps(AwsDateTime::from_secs(t(0).timestamp()))
                            .values(3.0)
                            .status_code(StatusCode::Complete)
                            .build(),
                    )
                    .build()
            });
        let cw = CloudWatch::new(mock_client!(
            aws_sdk_cloudwatch,
            RuleMode::Sequential,
            [&first, &second]
        ));
        let got = cw.fetch(&[q("m0")], t(0), t(10), 60).await.unwrap();
        assert_eq!(got["m0"], vec![(t(0), 3.0), (t(1), 2.0)]);
    }
}
