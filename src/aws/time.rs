//! Conversions between the SDK's DateTime and chrono.

use aws_sdk_eventbridge::primitives::DateTime as AwsDateTime;
use chrono::{DateTime, Utc};

pub(crate) fn from_aws(t: &AwsDateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

pub(crate) fn to_aws(t: DateTime<Utc>) -> AwsDateTime {
    AwsDateTime::from_millis(t.timestamp_millis())
}
