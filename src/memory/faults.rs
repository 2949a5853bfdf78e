//! Call-level fault injection shared by the delivery fakes: errors for the next calls
//! (nothing applied) and lost answers (applied, then answered with a transient error, as a
//! connection reset after the request was sent).

use std::collections::VecDeque;

use crate::ports::PortError;

#[derive(Debug, Default)]
pub(crate) struct CallFaults {
    errors: VecDeque<PortError>,
    lost_answers: usize,
    calls: usize,
}

impl CallFaults {
    pub(crate) fn fail_next(&mut self, errors: Vec<PortError>) {
        self.errors.extend(errors);
    }

    pub(crate) fn lose_next(&mut self, n: usize) {
        self.lost_answers += n;
    }

    pub(crate) fn calls(&self) -> usize {
        self.calls
    }

    /// Counts a call; the injected error it fails with before anything is applied, if any.
    pub(crate) fn before(&mut self) -> Result<(), PortError> {
        self.calls += 1;
        self.errors.pop_front().map_or(Ok(()), Err)
    }

    /// After the call was applied: the lost answer it ends with, if one is due.
    pub(crate) fn after(&mut self, call: &str) -> Result<(), PortError> {
        if self.lost_answers == 0 {
            return Ok(());
        }
        self.lost_answers -= 1;
        Err(PortError::Transient(format!(
            "{call}: connection closed before the response (injected)"
        )))
    }
}
