//! What an export shows while it runs: the resources it creates, the replay's progress,
//! the events captured so far, and the removal at the end. The command line renders it.

use std::sync::Mutex;
use std::time::Duration;

use super::collect::Tally;
use crate::ports::PortError;
use crate::ports::replay::ReplayStatus;
use crate::replay::watch::WatchObserver;

/// Receives an export's progress. Every method does nothing by default.
pub trait ExportObserver: Send {
    /// A step done ("created queue …").
    fn step(&mut self, _what: &str) {}
    /// The replay as DescribeReplay answered, `elapsed` since the watch began.
    fn replay(&mut self, _status: &ReplayStatus, _elapsed: Duration) {}
    /// A DescribeReplay call failed and the watch goes on.
    fn replay_error(&mut self, _error: &PortError, _consecutive: u32) {}
    /// The counts after a received batch.
    fn captured(&mut self, _tally: &Tally) {}
    /// The temporary resources are being removed.
    fn removing(&mut self) {}
}

/// Shows nothing.
pub struct Silent;

impl ExportObserver for Silent {}

/// The replay watch's observer: forwards to the export's, and keeps the last status for
/// the removal at the end (an interrupted export cancels a replay that has not ended).
pub(crate) struct WatchForward<'a, 'o> {
    pub observer: &'a Mutex<&'o mut dyn ExportObserver>,
    pub last: &'a Mutex<Option<ReplayStatus>>,
}

impl WatchObserver for WatchForward<'_, '_> {
    fn status(&mut self, status: &ReplayStatus, elapsed: Duration) {
        *self.last.lock().expect("status lock") = Some(status.clone());
        self.observer
            .lock()
            .expect("observer lock")
            .replay(status, elapsed);
    }

    fn transient_error(&mut self, error: &PortError, consecutive: u32) {
        self.observer
            .lock()
            .expect("observer lock")
            .replay_error(error, consecutive);
    }

    fn finish(&mut self) {}
}
