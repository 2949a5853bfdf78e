//! The shared dedup ledger on DynamoDB, for drains on several hosts or fresh containers.
//!
//! One item per dedup key: `pk` (the key), `status` (IN_PROGRESS | DONE),
//! `in_progress_expiry` (epoch ms), `redrive`, `event_id`, `run_id`, `created_at` and
//! `updated_at` (epoch ms), `expires_at` (epoch seconds, the table's TTL attribute),
//! `claim_id` (random, per claim: a retried PutItem recognises its own write), and `digest`
//! (of the content the claim re-emits; items written by older versions have none).
//!
//! Calls per claimed batch of up to 10 keys: one strongly consistent `BatchGetItem` that
//! answers keys already DONE or held without writing, then one conditional `PutItem` per
//! remaining key (`ReturnValuesOnConditionCheckFailure=ALL_OLD`, so a lost race returns the
//! holder without a second read), later one conditional `UpdateItem` per key to mark it
//! DONE. Throttling is retried by the SDK (standard mode, exponential backoff with jitter).

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, KeysAndAttributes,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
    TimeToLiveStatus,
};
use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;

use super::error::classify;
use crate::ports::PortError;
use crate::ports::ledger::{
    Claim, ClaimOutcome, Finished, Ledger, LedgerRecord, LedgerState, LedgerStats,
};

pub const TTL_ATTRIBUTE: &str = "expires_at";
/// The random id of the PutItem that wrote an item's current claim.
const CLAIM_ID: &str = "claim_id";

type Item = HashMap<String, AttributeValue>;

/// The DynamoDB ledger on one table.
#[derive(Clone, Debug)]
pub struct DynamoLedger {
    client: Client,
    table: String,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn get_s<'a>(item: &'a Item, k: &str) -> Option<&'a str> {
    item.get(k).and_then(|v| v.as_s().ok()).map(String::as_str)
}

fn get_n(item: &Item, k: &str) -> i64 {
    item.get(k)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_default()
}

fn from_ms(v: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(v).single().unwrap_or_default()
}

/// Reads an item back into a record.
pub fn record_of(item: &Item) -> LedgerRecord {
    LedgerRecord {
        key: get_s(item, "pk").unwrap_or_default().to_string(),
        state: get_s(item, "status")
            .and_then(LedgerState::parse)
            .unwrap_or(LedgerState::InProgress),
        in_progress_expiry: from_ms(get_n(item, "in_progress_expiry")),
        redrive: get_n(item, "redrive").max(0) as u32,
        event_id: get_s(item, "event_id").map(str::to_string),
        run_id: get_s(item, "run_id").unwrap_or_default().to_string(),
        created_at: from_ms(get_n(item, "created_at")),
        updated_at: from_ms(get_n(item, "updated_at")),
        expires_at: Utc
            .timestamp_opt(get_n(item, TTL_ATTRIBUTE), 0)
            .single()
            .unwrap_or_default(),
        digest: get_s(item, "digest").map(str::to_string),
    }
}

/// The item a claim writes.
pub fn item_of(r: &LedgerRecord) -> Item {
    let mut item = HashMap::from([
        ("pk".to_string(), s(&r.key)),
        ("status".to_string(), s(r.state.as_str())),
        (
            "in_progress_expiry".to_string(),
            n(r.in_progress_expiry.timestamp_millis()),
        ),
        ("redrive".to_string(), n(r.redrive as i64)),
        ("run_id".to_string(), s(&r.run_id)),
        ("created_at".to_string(), n(r.created_at.timestamp_millis())),
        ("updated_at".to_string(), n(r.updated_at.timestamp_millis())),
        (TTL_ATTRIBUTE.to_string(), n(r.expires_at.timestamp())),
    ]);
    if let Some(e) = &r.event_id {
        item.insert("event_id".into(), s(e));
    }
    if let Some(d) = &r.digest {
        item.insert("digest".into(), s(d));
    }
    item
}

/// The claim condition: the rule of `Claim::may_replace`, evaluated by DynamoDB.
pub const CLAIM_CONDITION: &str = "attribute_not_exists(pk) OR expires_at < :now OR (#status = :in_progress AND in_progress_expiry < :now_ms) OR (#status = :done AND redrive < :redrive)";

impl DynamoLedger {
    pub fn new(client: Client, table: impl Into<String>) -> DynamoLedger {
        DynamoLedger {
            client,
            table: table.into(),
        }
    }

    /// An item call's error; a missing table is named with how to create it (the item
    /// calls answer only ResourceNotFoundException for it).
    fn on_table(&self, e: PortError) -> PortError {
        match e {
            PortError::NotFound(text) => PortError::LedgerTableMissing {
                table: self.table.clone(),
                text,
            },
            other => other,
        }
    }

    /// Strongly consistent reads of up to 100 keys (unprocessed keys are retried).
    async fn batch_get(&self, keys: &[String]) -> Result<HashMap<String, LedgerRecord>, PortError> {
        let mut out = HashMap::new();
        let mut pending: Vec<Item> = keys
            .iter()
            .map(|k| HashMap::from([("pk".to_string(), s(k))]))
            .collect();
        pending.dedup();
        let mut rounds = 0;
        while !pending.is_empty() {
            rounds += 1;
            let ka = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut pending)))
                .consistent_read(true)
                .build()
                .map_err(|e| PortError::Invalid(e.to_string()))?;
            let resp = self
                .client
                .batch_get_item()
                .request_items(&self.table, ka)
                .send()
                .await
                .map_err(|e| self.on_table(classify("BatchGetItem", e)))?;
            for item in resp
                .responses()
                .and_then(|r| r.get(&self.table))
                .into_iter()
                .flatten()
            {
                let r = record_of(item);
                out.insert(r.key.clone(), r);
            }
            if let Some(left) = resp.unprocessed_keys().and_then(|u| u.get(&self.table)) {
                pending = left.keys().to_vec();
                if rounds >= 8 {
                    return Err(PortError::Throttled(format!(
                        "BatchGetItem: {} keys still unprocessed after {rounds} rounds",
                        pending.len()
                    )));
                }
                tokio::time::sleep(Duration::from_millis(25 << rounds.min(6))).await;
            }
        }
        Ok(out)
    }

    /// One conditional PutItem. The item carries a random `claim_id`: when the SDK retries
    /// a PutItem whose answer was lost, the retry fails its condition on the item the first
    /// attempt wrote, and the matching `claim_id` tells that this claim won, not another.
    async fn put_claim(&self, claim: &Claim) -> Result<ClaimOutcome, PortError> {
        let now = claim.now;
        let claim_id = crate::ids::random_hex(16);
        let mut item = item_of(&claim.record());
        item.insert(CLAIM_ID.into(), s(&claim_id));
        let ours = |old: &Item| get_s(old, CLAIM_ID) == Some(claim_id.as_str());
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(CLAIM_CONDITION)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":now", n(now.timestamp()))
            .expression_attribute_values(":now_ms", n(now.timestamp_millis()))
            .expression_attribute_values(":in_progress", s(LedgerState::InProgress.as_str()))
            .expression_attribute_values(":done", s(LedgerState::Done.as_str()))
            .expression_attribute_values(":redrive", n(claim.redrive as i64))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match res {
            Ok(_) => Ok(ClaimOutcome::Claimed),
            Err(e) => {
                if let Some(PutItemError::ConditionalCheckFailedException(c)) = e.as_service_error()
                {
                    let old = match c.item() {
                        Some(old) => Some(old.clone()),
                        // Without the old item (an emulator that ignores ALL_OLD), read it.
                        None => self.get_item(&claim.key).await?,
                    };
                    return match old {
                        Some(old) if ours(&old) => Ok(ClaimOutcome::Claimed),
                        Some(old) => Ok(ClaimOutcome::refused_by(record_of(&old))),
                        None => Err(PortError::Transient(format!(
                            "PutItem: the claim of {} lost a race to a record that is gone; retry",
                            claim.key
                        ))),
                    };
                }
                Err(self.on_table(classify("PutItem", e)))
            }
        }
    }

    /// The item of a key, read strongly consistent.
    async fn get_item(&self, key: &str) -> Result<Option<Item>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.on_table(classify("GetItem", e)))?;
        Ok(out.item)
    }

    /// Creates the table (on-demand) and enables TTL on `expires_at`; safe to repeat.
    pub async fn init(&self, wait: Duration) -> Result<InitReport, PortError> {
        let mut report = InitReport {
            ledger: self.describe(),
            table_created: false,
            ttl_enabled: false,
            table_status: String::new(),
            ttl_status: String::new(),
        };
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(|e| PortError::Invalid(e.to_string()))?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("pk")
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(|e| PortError::Invalid(e.to_string()))?,
            )
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        match created {
            Ok(_) => report.table_created = true,
            Err(SdkError::ServiceError(se)) if se.err().is_resource_in_use_exception() => {}
            Err(e) => return Err(classify("CreateTable", e)),
        }
        let started = tokio::time::Instant::now();
        loop {
            let t = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(|e| classify("DescribeTable", e))?;
            let table = t.table();
            let keys: Vec<(&str, &KeyType)> = table
                .map(|t| {
                    t.key_schema()
                        .iter()
                        .map(|k| (k.attribute_name(), k.key_type()))
                        .collect()
                })
                .unwrap_or_default();
            if keys != [("pk", &KeyType::Hash)] {
                return Err(PortError::Invalid(format!(
                    "table {} exists with another key schema ({keys:?}); the ledger needs a table whose only key is the string hash key `pk`: name another table",
                    self.table
                )));
            }
            let status = table.and_then(|t| t.table_status()).cloned();
            report.table_status = status.as_ref().map(|s| s.to_string()).unwrap_or_default();
            if status == Some(TableStatus::Active) {
                break;
            }
            if started.elapsed() > wait {
                return Err(PortError::Transient(format!(
                    "table {} is still {}; run `ledger init` again in a minute",
                    self.table, report.table_status
                )));
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let ttl = self
            .client
            .describe_time_to_live()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| classify("DescribeTimeToLive", e))?;
        let desc = ttl.time_to_live_description();
        let status = desc.and_then(|d| d.time_to_live_status()).cloned();
        let attr = desc.and_then(|d| d.attribute_name());
        match status {
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
                if attr == Some(TTL_ATTRIBUTE) =>
            {
                report.ttl_status = status.map(|s| s.to_string()).unwrap_or_default();
            }
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling) => {
                return Err(PortError::Invalid(format!(
                    "table {} has TTL on {:?}, not {TTL_ATTRIBUTE}; ledger records would never expire: name another table",
                    self.table,
                    attr.unwrap_or_default()
                )));
            }
            _ => {
                self.client
                    .update_time_to_live()
                    .table_name(&self.table)
                    .time_to_live_specification(
                        TimeToLiveSpecification::builder()
                            .enabled(true)
                            .attribute_name(TTL_ATTRIBUTE)
                            .build()
                            .map_err(|e| PortError::Invalid(e.to_string()))?,
                    )
                    .send()
                    .await
                    .map_err(|e| classify("UpdateTimeToLive", e))?;
                report.ttl_enabled = true;
                report.ttl_status = "ENABLING".into();
            }
        }
        Ok(report)
    }
}

/// What `ledger init` did.
#[derive(Debug, Clone, Serialize)]
pub struct InitReport {
    pub ledger: String,
    pub table_created: bool,
    pub ttl_enabled: bool,
    pub table_status: String,
    pub ttl_status: String,
}

#[async_trait]
impl Ledger for DynamoLedger {
    async fn claim(&self, claims: &[Claim]) -> Result<Vec<ClaimOutcome>, PortError> {
        let keys: Vec<String> = claims.iter().map(|c| c.key.clone()).collect();
        let existing = if claims.len() > 1 {
            self.batch_get(&keys).await?
        } else {
            HashMap::new()
        };
        let mut out: Vec<Option<ClaimOutcome>> = vec![None; claims.len()];
        let mut tasks = tokio::task::JoinSet::new();
        let mut seen = std::collections::HashSet::new();
        for (i, c) in claims.iter().enumerate() {
            if let Some(r) = existing.get(&c.key)
                && !c.may_replace(r)
            {
                out[i] = Some(ClaimOutcome::refused_by(r.clone()));
                continue;
            }
            if !seen.insert(c.key.clone()) {
                // The same key twice in one batch: the second waits for the first below.
                continue;
            }
            let me = self.clone();
            let c = c.clone();
            tasks.spawn(async move { (i, me.put_claim(&c).await) });
        }
        while let Some(joined) = tasks.join_next().await {
            let (i, res) = joined.map_err(|e| PortError::Other(format!("claim task: {e}")))?;
            out[i] = Some(res?);
        }
        // A key repeated in the batch: decided after its first claim, by one more write.
        for (i, c) in claims.iter().enumerate() {
            if out[i].is_none() {
                out[i] = Some(self.put_claim(c).await?);
            }
        }
        Ok(out
            .into_iter()
            .map(|o| o.expect("every claim answered"))
            .collect())
    }

    async fn mark_done(
        &self,
        run_id: &str,
        done: &[Finished],
        now: DateTime<Utc>,
    ) -> Result<Vec<bool>, PortError> {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, f) in done.iter().enumerate() {
            let req = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(&f.key))
                .update_expression(
                    "SET #status = :done, event_id = :event_id, updated_at = :now_ms",
                )
                // A retry of a call whose answer was lost finds the key DONE by this run
                // with this event id: that is still this run's success.
                .condition_expression(
                    "run_id = :run AND (#status = :in_progress OR (#status = :done AND event_id = :event_id))",
                )
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":done", s(LedgerState::Done.as_str()))
                .expression_attribute_values(":in_progress", s(LedgerState::InProgress.as_str()))
                .expression_attribute_values(":event_id", s(&f.event_id))
                .expression_attribute_values(":now_ms", n(now.timestamp_millis()))
                .expression_attribute_values(":run", s(run_id));
            tasks.spawn(async move {
                let res = match req.send().await {
                    Ok(_) => Ok(true),
                    Err(e) => match e.as_service_error() {
                        Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(false),
                        _ => Err(classify("UpdateItem", e)),
                    },
                };
                (i, res)
            });
        }
        let mut out = vec![false; done.len()];
        while let Some(joined) = tasks.join_next().await {
            let (i, res) = joined.map_err(|e| PortError::Other(format!("mark-done task: {e}")))?;
            out[i] = res.map_err(|e| self.on_table(e))?;
        }
        Ok(out)
    }

    async fn release(&self, run_id: &str, keys: &[String]) -> Result<(), PortError> {
        for k in keys {
            let res = self
                .client
                .delete_item()
                .table_name(&self.table)
                .key("pk", s(k))
                .condition_expression("run_id = :run AND #status = :in_progress")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":run", s(run_id))
                .expression_attribute_values(":in_progress", s(LedgerState::InProgress.as_str()))
                .send()
                .await;
            match res {
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.as_service_error(),
                        Some(DeleteItemError::ConditionalCheckFailedException(_))
                    ) => {}
                Err(e) => return Err(self.on_table(classify("DeleteItem", e))),
            }
        }
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<LedgerRecord>, PortError> {
        Ok(self.get_item(key).await?.as_ref().map(record_of))
    }

    /// Counts by state with a Scan of `status` and `expires_at` (reads the whole table).
    async fn stats(&self, now: DateTime<Utc>) -> Result<LedgerStats, PortError> {
        let mut stats = LedgerStats::default();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .projection_expression("#status, expires_at")
                .expression_attribute_names("#status", "status")
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| self.on_table(classify("Scan", e)))?;
            for item in out.items() {
                if get_n(item, TTL_ATTRIBUTE) < now.timestamp() {
                    stats.expired += 1;
                } else if get_s(item, "status") == Some("DONE") {
                    stats.done += 1;
                } else {
                    stats.in_progress += 1;
                }
            }
            match out.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        Ok(stats)
    }

    async fn prune(&self, _now: DateTime<Utc>) -> Result<u64, PortError> {
        Err(PortError::Invalid(format!(
            "{}: DynamoDB removes expired records itself (TTL on {TTL_ATTRIBUTE}, usually within a few days of expiry; expired records are already ignored); prune is for the SQLite ledger",
            self.describe()
        )))
    }

    fn describe(&self) -> String {
        format!("dynamodb://{}", self.table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
    use aws_sdk_dynamodb::types::error::ConditionalCheckFailedException;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use std::sync::{Arc, Mutex};

    fn claim(key: &str) -> Claim {
        Claim {
            key: key.into(),
            run_id: "run-b".into(),
            redrive: 1,
            now: Utc.with_ymd_and_hms(2025, 9, 8, 14, 0, 0).unwrap(),
            in_progress_for: Duration::from_secs(300),
            ttl: Duration::from_secs(86400),
            digest: format!("sha256:{key}"),
        }
    }

    #[test]
    fn items_round_trip_and_carry_the_ttl_in_epoch_seconds() {
        let mut r = claim("evt_1").record();
        r.event_id = Some("ev".into());
        let item = item_of(&r);
        assert_eq!(
            item[TTL_ATTRIBUTE],
            n(r.expires_at.timestamp()),
            "TTL must be epoch seconds"
        );
        assert_eq!(record_of(&item), r);
        assert_eq!(get_s(&item, "digest"), Some("sha256:evt_1"));
        // An item of an older version, without a digest, reads back without one.
        let mut old = item.clone();
        old.remove("digest");
        assert_eq!(record_of(&old).digest, None);
    }

    #[tokio::test]
    async fn a_lost_race_answers_the_holder_from_all_old_without_a_read() {
        let holder = {
            let mut r = claim("evt_1").record();
            r.run_id = "run-a".into();
            item_of(&r)
        };
        let put = mock!(Client::put_item)
            .match_requests(|r| {
                r.condition_expression() == Some(CLAIM_CONDITION)
                    && r.return_values_on_condition_check_failure()
                        == Some(&ReturnValuesOnConditionCheckFailure::AllOld)
            })
            .then_error(move || {
                PutItemError::ConditionalCheckFailedException(
                    ConditionalCheckFailedException::builder()
                        .message("The conditional request failed")
                        .set_item(Some(holder.clone()))
                        .build(),
                )
            });
        let get = mock!(Client::get_item).then_output(|| {
            panic!("no read after a lost race");
        });
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&put, &get]);
        let l = DynamoLedger::new(client, "ledger");
        match l.claim(&[claim("evt_1")]).await.unwrap().remove(0) {
            ClaimOutcome::Held(r) => assert_eq!(r.run_id, "run-a"),
            other => panic!("{other:?}"),
        }
        assert_eq!(put.num_calls(), 1);
        assert_eq!(get.num_calls(), 0);
    }

    /// The cost model of the README: a full batch of 10 new keys costs one BatchGetItem
    /// (10 strongly consistent reads), 10 conditional PutItems and, once re-emitted, 10
    /// conditional UpdateItems: 1 RRU + 2 WRU per message. A batch already DONE costs the
    /// BatchGetItem only.
    #[tokio::test]
    async fn calls_per_batch_match_the_documented_cost() {
        use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
        use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
        let get = mock!(Client::batch_get_item)
            .match_requests(|r| {
                r.request_items()
                    .and_then(|m| m.get("ledger"))
                    .is_some_and(|k| k.keys().len() == 10 && k.consistent_read() == Some(true))
            })
            .then_output(|| BatchGetItemOutput::builder().build());
        let put = mock!(Client::put_item).then_output(|| PutItemOutput::builder().build());
        let update = mock!(Client::update_item).then_output(|| UpdateItemOutput::builder().build());
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&get, &put, &update]);
        let l = DynamoLedger::new(client, "ledger");
        let claims: Vec<Claim> = (0..10).map(|i| claim(&format!("evt_{i}"))).collect();
        let out = l.claim(&claims).await.unwrap();
        assert!(out.iter().all(|o| *o == ClaimOutcome::Claimed));
        let finished: Vec<Finished> = claims
            .iter()
            .map(|c| Finished {
                key: c.key.clone(),
                event_id: "ev".into(),
            })
            .collect();
        assert_eq!(
            l.mark_done("run-b", &finished, claims[0].now)
                .await
                .unwrap(),
            vec![true; 10]
        );
        assert_eq!(
            (get.num_calls(), put.num_calls(), update.num_calls()),
            (1, 10, 10)
        );
    }

    #[tokio::test]
    async fn keys_already_done_cost_one_read_and_no_write() {
        use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
        let done_items: Vec<Item> = (0..10)
            .map(|i| {
                let mut r = claim(&format!("evt_{i}")).record();
                r.state = LedgerState::Done;
                r.run_id = "earlier".into();
                item_of(&r)
            })
            .collect();
        let get = mock!(Client::batch_get_item).then_output(move || {
            BatchGetItemOutput::builder()
                .responses("ledger", done_items.clone())
                .build()
        });
        let put = mock!(Client::put_item).then_output(|| PutItemOutput::builder().build());
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&get, &put]);
        let l = DynamoLedger::new(client, "ledger");
        let claims: Vec<Claim> = (0..10).map(|i| claim(&format!("evt_{i}"))).collect();
        let out = l.claim(&claims).await.unwrap();
        assert!(
            out.iter()
                .all(|o| matches!(o, ClaimOutcome::Done(r) if r.run_id == "earlier"))
        );
        assert_eq!((get.num_calls(), put.num_calls()), (1, 0));
    }

    /// The ambiguous failure: the first PutItem is applied but its answer is lost (a 500
    /// here); the SDK's retry then fails the condition on the item that attempt wrote.
    /// Its `claim_id` is this claim's own, so the key is claimed, not held by "another".
    #[tokio::test]
    async fn a_retried_claim_whose_first_attempt_was_applied_is_claimed() {
        let written: Arc<Mutex<Option<Item>>> = Arc::default();
        let seen = written.clone();
        let put = mock!(Client::put_item)
            .match_requests(move |r| {
                *seen.lock().unwrap() = r.item().cloned();
                true
            })
            .sequence()
            .http_status(500, Some(r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"answer lost"}"#.into()))
            .error({
                let written = written.clone();
                move || {
                    PutItemError::ConditionalCheckFailedException(
                        ConditionalCheckFailedException::builder()
                            .message("The conditional request failed")
                            .set_item(written.lock().unwrap().clone())
                            .build(),
                    )
                }
            })
            .build();
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&put], |c| c
            .retry_config(
                aws_sdk_dynamodb::config::retry::RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(Duration::from_millis(1))
            ));
        let l = DynamoLedger::new(client, "ledger");
        assert_eq!(
            l.claim(&[claim("evt_1")]).await.unwrap(),
            vec![ClaimOutcome::Claimed]
        );
        assert_eq!(put.num_calls(), 2);
        let item = written.lock().unwrap().clone().unwrap();
        assert_eq!(get_s(&item, CLAIM_ID).map(str::len), Some(16));

        // Another claim of the same run (another copy of the event, same instant) that
        // finds that item is held off: only the claim_id makes a write one's own.
        let holder = item.clone();
        let put = mock!(Client::put_item).then_error(move || {
            PutItemError::ConditionalCheckFailedException(
                ConditionalCheckFailedException::builder()
                    .set_item(Some(holder.clone()))
                    .build(),
            )
        });
        let l = DynamoLedger::new(mock_client!(aws_sdk_dynamodb, [&put]), "ledger");
        assert!(matches!(
            l.claim(&[claim("evt_1")]).await.unwrap()[0],
            ClaimOutcome::Held(ref r) if r.run_id == "run-b"
        ));
    }

    #[tokio::test]
    async fn throttling_is_retried_by_the_sdk_then_the_claim_goes_through() {
        let throttled = mock!(Client::put_item)
            .sequence()
            .http_status(400, Some(r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}"#.into()))
            .times(2)
            .output(|| PutItemOutput::builder().build())
            .build();
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&throttled], |c| c
            .retry_config(
                aws_sdk_dynamodb::config::retry::RetryConfig::standard()
                    .with_max_attempts(4)
                    .with_initial_backoff(Duration::from_millis(1))
            ));
        let l = DynamoLedger::new(client, "ledger");
        assert_eq!(
            l.claim(&[claim("evt_1")]).await.unwrap(),
            vec![ClaimOutcome::Claimed]
        );
        assert_eq!(throttled.num_calls(), 3);
    }

    #[tokio::test]
    async fn a_missing_table_is_named_with_the_ledger_init_command() {
        use aws_sdk_dynamodb::error::ErrorMetadata;
        use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemError;
        use aws_sdk_dynamodb::operation::get_item::GetItemError;
        // What DynamoDB answers for a table that does not exist.
        let missing = || {
            ErrorMetadata::builder()
                .code("ResourceNotFoundException")
                .message("Requested resource not found")
                .build()
        };
        let get =
            mock!(Client::batch_get_item).then_error(move || BatchGetItemError::generic(missing()));
        let one = mock!(Client::get_item).then_error(move || GetItemError::generic(missing()));
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&get, &one]);
        let l = DynamoLedger::new(client, "nope");
        for e in [
            l.claim(&[claim("evt_1"), claim("evt_2")])
                .await
                .unwrap_err(),
            l.get("evt_1").await.unwrap_err(),
        ] {
            assert!(
                matches!(&e, PortError::LedgerTableMissing { table, .. } if table == "nope"),
                "{e:?}"
            );
            assert!(
                e.hint()
                    .unwrap()
                    .contains("`nexus-replay ledger init --ledger dynamodb://nope`"),
                "{e:?}"
            );
        }
    }
}
