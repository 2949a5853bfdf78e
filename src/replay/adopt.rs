//! Adopting a replay whose StartReplay answer was lost: the SDK retries the call, and the
//! retry is refused because the first attempt already created the replay.

use chrono::{DateTime, Utc};

use crate::ports::PortError;
use crate::ports::replay::{ReplayControl, ReplayRequest, ReplayStarted, ReplayStatus};

/// StartReplay is not idempotent: when its answer is lost, the retry finds the replay the
/// first attempt created and is refused with `ResourceAlreadyExistsException`. A generated
/// name ends in a random suffix, so a replay of that name over the same archive and window
/// is the one this run started: it is adopted. Anything else answers `refused` as it came.
/// Call it only for generated names: a name the user chose may be an older replay.
pub async fn adopt_lost_start(
    ctl: &dyn ReplayControl,
    request: &ReplayRequest,
    refused: PortError,
) -> Result<ReplayStarted, PortError> {
    let existing = match ctl.describe_replay(&request.name).await {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(replay = %request.name, "cannot describe the replay StartReplay says exists: {e}");
            return Err(refused);
        }
    };
    if !same_replay(&existing, request) {
        return Err(refused);
    }
    tracing::warn!(
        replay = %request.name,
        state = %existing.state,
        "StartReplay was refused as already existing, but the replay of that name is ours (same archive and window): its first answer was lost, so it is adopted"
    );
    Ok(ReplayStarted {
        arn: existing.arn,
        state: existing.state,
        started_at: existing.replay_start,
    })
}

/// Same archive and window. StartReplay takes times to the millisecond, and answers them
/// back at most that precisely, so the window is compared to within a second.
fn same_replay(existing: &ReplayStatus, request: &ReplayRequest) -> bool {
    let near = |t: Option<DateTime<Utc>>, want: DateTime<Utc>| {
        t.is_some_and(|t| (t - want).num_milliseconds().abs() < 1000)
    };
    existing.archive_arn.as_deref() == Some(request.archive_arn.as_str())
        && near(existing.event_start, request.start)
        && near(existing.event_end, request.end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::eventbridge::MemoryEventBridge;
    use crate::ports::replay::ReplayState;
    use chrono::{Duration, TimeZone};

    fn request() -> ReplayRequest {
        let start = Utc.with_ymd_and_hms(2025, 9, 8, 14, 0, 0).unwrap();
        ReplayRequest {
            name: "nexus-20250908T1400-subscr-3f9a".into(),
            description: None,
            archive_arn: "arn:aws:events:us-east-2:123456789012:archive/a".into(),
            start,
            end: start + Duration::hours(2),
            destination_bus_arn: "arn:aws:events:us-east-2:123456789012:event-bus/b".into(),
            filter_arns: vec![],
        }
    }

    fn refused() -> PortError {
        PortError::AlreadyExists("Replay nexus-20250908T1400-subscr-3f9a already exists.".into())
    }

    #[tokio::test]
    async fn the_replay_a_lost_answer_started_is_adopted() {
        let eb = MemoryEventBridge::new();
        eb.start_replay(&request()).await.unwrap();
        // The SDK's retry: the same request again. Times come back to the millisecond.
        let mut retry = request();
        retry.start += Duration::microseconds(300);
        let started = adopt_lost_start(&eb, &retry, refused()).await.unwrap();
        assert_eq!(started.state, ReplayState::Starting);
        assert_eq!(
            started.arn.as_deref(),
            Some("arn:aws:events:us-east-2:123456789012:replay/nexus-20250908T1400-subscr-3f9a")
        );
        assert_eq!(eb.started().len(), 1, "nothing is started again");
    }

    #[tokio::test]
    async fn another_archive_or_window_is_a_real_clash() {
        let eb = MemoryEventBridge::new();
        eb.start_replay(&request()).await.unwrap();
        let mut other_archive = request();
        other_archive.archive_arn = "arn:aws:events:us-east-2:123456789012:archive/z".into();
        let mut other_window = request();
        other_window.end += Duration::minutes(5);
        for r in [other_archive, other_window] {
            let e = adopt_lost_start(&eb, &r, refused()).await.unwrap_err();
            assert_eq!(e, refused());
        }
    }

    #[tokio::test]
    async fn a_replay_that_cannot_be_described_is_not_adopted() {
        let eb = MemoryEventBridge::new();
        let e = adopt_lost_start(&eb, &request(), refused())
            .await
            .unwrap_err();
        assert_eq!(e, refused());
    }
}
