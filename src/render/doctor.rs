//! `doctor`: each check with its status, and the exit code the checks decide.

use crate::doctor::{Check, DoctorReport, Status};
use crate::exit_codes;
use crate::output::{Report, Table};

impl Report for DoctorReport {
    fn human(&self) -> String {
        let mut t = Table::new(["STATUS", "CHECK", "SUBJECT", "DETAIL"]);
        for c in &self.checks {
            t.row([
                c.status.as_str().to_string(),
                c.check.clone(),
                c.subject.clone(),
                c.message.clone(),
            ]);
        }
        let mut s = t.render();
        let hints: Vec<&Check> = self
            .checks
            .iter()
            .filter(|c| c.hint.is_some() && c.status != Status::Pass)
            .collect();
        if !hints.is_empty() {
            s.push_str("\nHow to fix:\n");
            for c in hints {
                s.push_str(&format!(
                    "  [{}] {}: {}\n",
                    c.status.as_str(),
                    c.subject,
                    c.hint.as_deref().unwrap_or("")
                ));
            }
        }
        s.push_str(&format!(
            "\n{}: {} passed, {} warnings, {} failed\n",
            self.bus, self.pass, self.warn, self.fail
        ));
        s
    }

    fn exit_code(&self) -> u8 {
        if self.fail > 0 {
            exit_codes::PARTIAL
        } else {
            exit_codes::SUCCESS
        }
    }
}
