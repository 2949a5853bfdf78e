//! Replay filters: what the request selects by (event types, sources, named rules, or
//! every rule), checked for a usable combination, and where event types are read.

use super::request::PlanRequest;
use super::rules::DEFAULT_TYPE_FIELDS;
use crate::error::AppError;

/// Refuses a request that selects nothing, or `--all-rules` combined with a filter.
pub fn check_filters(req: &PlanRequest) -> Result<(), AppError> {
    let filtering = !req.event_types.is_empty() || !req.sources.is_empty() || !req.rules.is_empty();
    if req.all_rules && filtering {
        return Err(AppError::usage(
            "--all-rules replays to every rule; it cannot be combined with --event-type, --source or --rule",
        ));
    }
    if !req.all_rules && !filtering {
        return Err(AppError::usage(
            "say what to replay: --event-type TYPE, --source SOURCE, --rule RULE, or --all-rules",
        ));
    }
    Ok(())
}

/// The fields a rule's pattern is searched for the event type, in order.
pub fn type_fields(req: &PlanRequest) -> Vec<String> {
    if req.type_fields.is_empty() {
        DEFAULT_TYPE_FIELDS.iter().map(|s| s.to_string()).collect()
    } else {
        req.type_fields.clone()
    }
}

#[cfg(test)]
mod tests {
    use crate::replay::fixtures::{err, fake, now, req, s};
    use crate::replay::plan::plan;

    #[tokio::test]
    async fn filters_are_validated() {
        let eb = fake();
        let mut r = req("2h");
        r.event_types.clear();
        assert!(err(&eb, r).await.contains("say what to replay"));
        let mut r = req("2h");
        r.all_rules = true;
        assert!(err(&eb, r).await.contains("cannot be combined"));
        let mut r = req("2h");
        r.event_types.clear();
        r.all_rules = true;
        let p = plan(&eb, &eb, &r, now()).await.unwrap();
        assert!(p.filter_arns.is_empty());
    }

    #[test]
    fn type_fields_default_to_detail_type_fields() {
        let r = req("2h");
        assert_eq!(super::type_fields(&r), s(&["detail.type", "detail-type"]));
        let mut r = req("2h");
        r.type_fields = s(&["detail.kind"]);
        assert_eq!(super::type_fields(&r), s(&["detail.kind"]));
    }
}
