//! Which target of a rule a DLQ message belongs to. EventBridge writes the failing target's
//! ARN into `TARGET_ARN`, but one rule may have several targets with the same ARN (say, two
//! input transformers for one function); then the queue the message sits in tells them
//! apart, as each target names its own dead-letter queue.

use crate::ports::bus::TargetInfo;

/// Why no single target could be picked: the message stays in its queue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PickError {
    #[error(
        "the rule has no target {target_arn} any more (it was removed or replaced): restore the target, or redrive with --to bus"
    )]
    NoSuchTarget { target_arn: String },
    #[error(
        "{} targets of the rule have the ARN {target_arn} ({}) and {}: redrive with --to bus",
        ids.len(),
        ids.join(", "),
        match dlq_matches {
            0 => format!("none of them has this queue ({dlq_arn}) as its dead-letter queue"),
            n => format!("{n} of them have this queue ({dlq_arn}) as their dead-letter queue"),
        }
    )]
    Ambiguous {
        target_arn: String,
        dlq_arn: String,
        /// The ids of the targets with that ARN.
        ids: Vec<String>,
        /// How many of them dead-letter to this queue (0, or more than one).
        dlq_matches: usize,
    },
}

/// The target among `targets` (one rule's) that dead-lettered a message carrying
/// `target_arn` into the queue `dlq_arn`.
pub fn pick_target<'a>(
    targets: &'a [TargetInfo],
    target_arn: &str,
    dlq_arn: &str,
) -> Result<&'a TargetInfo, PickError> {
    let same_arn: Vec<&TargetInfo> = targets.iter().filter(|t| t.arn == target_arn).collect();
    match same_arn.as_slice() {
        [] => Err(PickError::NoSuchTarget {
            target_arn: target_arn.to_string(),
        }),
        // One target with the ARN: it is the one, even if its DLQ has been changed since.
        [only] => Ok(only),
        several => {
            let by_dlq: Vec<&TargetInfo> = several
                .iter()
                .copied()
                .filter(|t| t.dlq_arn.as_deref() == Some(dlq_arn))
                .collect();
            match by_dlq.as_slice() {
                [only] => Ok(only),
                _ => Err(PickError::Ambiguous {
                    target_arn: target_arn.to_string(),
                    dlq_arn: dlq_arn.to_string(),
                    ids: several.iter().map(|t| t.id.clone()).collect(),
                    dlq_matches: by_dlq.len(),
                }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FN: &str = "arn:aws:lambda:us-east-2:123456789012:function:subs";
    const DLQ_A: &str = "arn:aws:sqs:us-east-2:123456789012:dlq-a";
    const DLQ_B: &str = "arn:aws:sqs:us-east-2:123456789012:dlq-b";

    fn target(id: &str, arn: &str, dlq: Option<&str>) -> TargetInfo {
        TargetInfo {
            id: id.into(),
            arn: arn.into(),
            dlq_arn: dlq.map(str::to_string),
            ..TargetInfo::default()
        }
    }

    #[test]
    fn the_target_with_the_arn_is_picked() {
        let targets = [
            target("q", "arn:aws:sqs:us-east-2:123456789012:q", Some(DLQ_A)),
            target("fn", FN, Some(DLQ_A)),
        ];
        assert_eq!(pick_target(&targets, FN, DLQ_A).unwrap().id, "fn");
        // Its DLQ was changed after the message was dead-lettered: still that target.
        assert_eq!(pick_target(&targets, FN, DLQ_B).unwrap().id, "fn");
    }

    #[test]
    fn targets_sharing_an_arn_are_told_apart_by_their_dlq() {
        let targets = [
            target("fn-v1", FN, Some(DLQ_A)),
            target("fn-v2", FN, Some(DLQ_B)),
            target("fn-nodlq", FN, None),
        ];
        assert_eq!(pick_target(&targets, FN, DLQ_B).unwrap().id, "fn-v2");
        assert_eq!(pick_target(&targets, FN, DLQ_A).unwrap().id, "fn-v1");
    }

    #[test]
    fn a_missing_target_is_named() {
        let targets = [target("q", "arn:aws:sqs:us-east-2:123456789012:q", None)];
        let err = pick_target(&targets, FN, DLQ_A).unwrap_err();
        assert_eq!(
            err,
            PickError::NoSuchTarget {
                target_arn: FN.into()
            }
        );
        assert!(err.to_string().contains(FN), "{err}");
        assert_eq!(
            pick_target(&[], FN, DLQ_A).unwrap_err(),
            PickError::NoSuchTarget {
                target_arn: FN.into()
            }
        );
    }

    #[test]
    fn shared_arns_without_one_dlq_match_are_ambiguous() {
        let none_match = [target("a", FN, Some(DLQ_B)), target("b", FN, None)];
        let err = pick_target(&none_match, FN, DLQ_A).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "2 targets of the rule have the ARN {FN} (a, b) and none of them has this queue ({DLQ_A}) as its dead-letter queue: redrive with --to bus"
            )
        );
        let both_match = [target("a", FN, Some(DLQ_A)), target("b", FN, Some(DLQ_A))];
        assert!(matches!(
            pick_target(&both_match, FN, DLQ_A),
            Err(PickError::Ambiguous { dlq_matches: 2, .. })
        ));
    }
}
