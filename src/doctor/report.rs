//! What `doctor` answers: one verdict per check, and the counts.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }
}

/// One check's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable identifier: bus, rule-enabled, target-dlq, target-retry, archive, dlq-depth,
    /// dlq-policy, dlq-encryption, target-role, partner-sources.
    pub check: String,
    pub status: Status,
    pub subject: String,
    pub message: String,
    pub hint: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    pub bus: String,
    pub checks: Vec<Check>,
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
}

impl DoctorReport {
    /// Adds a check made after the others, counting it.
    pub fn push(&mut self, check: Check) {
        match check.status {
            Status::Pass => self.pass += 1,
            Status::Warn => self.warn += 1,
            Status::Fail => self.fail += 1,
        }
        self.checks.push(check);
    }
}

/// The verdicts gathered so far, in the order they are shown.
pub(crate) struct Checks(pub(crate) Vec<Check>);

impl Checks {
    pub(crate) fn add(
        &mut self,
        check: &str,
        status: Status,
        subject: &str,
        message: String,
        hint: Option<String>,
    ) {
        self.0.push(Check {
            check: check.into(),
            status,
            subject: subject.into(),
            message,
            hint,
        });
    }

    /// The report, with its counts.
    pub(crate) fn report(self, bus: String) -> DoctorReport {
        let count = |s| self.0.iter().filter(|x| x.status == s).count();
        DoctorReport {
            bus,
            pass: count(Status::Pass),
            warn: count(Status::Warn),
            fail: count(Status::Fail),
            checks: self.0,
        }
    }
}
