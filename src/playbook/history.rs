//! Run history: the run records in the state dir (`<state>/playbook-runs/<run_id>.json`,
//! written by `run` after every step) listed newest first: id, playbook, start, duration,
//! status and the step that failed.
//!
//! A record says "running" until its run ends, so a process that died (killed, machine lost,
//! a signal before a step installed its handler) would leave it "running" for ever. Its last
//! update time says nothing, since one step (a replay waited on, a large drain) may take
//! hours. So a record holds the pid and host of the process running it, and [`list_runs`]
//! takes an `alive` predicate, asked only about records that say "running", and reports a
//! run it answers `false` for as `interrupted`, with the step in hand (the first step after
//! `from_step` that had not ended) as its failing step. [`process_alive`] is the predicate
//! the CLI uses:
//! - same host: alive while `/proc/<pid>` is a process whose command line holds `playbook`
//!   (a pid reused by another program reads as gone); without procfs it cannot tell and
//!   says alive;
//! - another host (a scheduled container has a new one each time), or a record written
//!   before pids were kept: it cannot see the process, so it says alive until
//!   [`STALE_AFTER`] (24 h) passed since the run's last sign of life (its start or the last
//!   step that ended).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::record::{RunRecord, RunStatus, StepStatus, hostname, runs_dir};
use crate::error::AppError;
use crate::output::{Report, Table};

/// How long a "running" record whose process cannot be seen (another host, no pid kept) may
/// go without a step ending before it reads as interrupted: longer than any one step is
/// expected to take.
pub const STALE_AFTER: Duration = Duration::hours(24);

/// The last sign of life of a run: its start or the last step that ended.
fn last_activity(r: &RunRecord) -> DateTime<Utc> {
    r.steps
        .iter()
        .filter_map(|s| s.ended_at)
        .max()
        .map_or(r.started_at, |e| e.max(r.started_at))
}

/// Whether `/proc/<pid>` is a process running a playbook; true without procfs (unknown).
fn runs_a_playbook(pid: u32) -> bool {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return true;
    }
    match std::fs::read(proc.join(pid.to_string()).join("cmdline")) {
        Ok(cmd) => cmd.split(|b| *b == 0).any(|arg| arg == b"playbook"),
        Err(_) => false,
    }
}

/// Whether the process that wrote a "running" record may still be running it (see the
/// module doc); `now` bounds records without a pid.
pub fn process_alive(r: &RunRecord, now: DateTime<Utc>) -> bool {
    match (r.pid, r.host.as_deref()) {
        (Some(pid), Some(host)) if host == hostname() => runs_a_playbook(pid),
        _ => now - last_activity(r) < STALE_AFTER,
    }
}

/// The step a run stopped at.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailingStep {
    pub number: usize,
    pub id: Option<String>,
    pub kind: String,
    pub error: Option<String>,
}

/// One run, as the history lists it.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub run_id: String,
    pub playbook: String,
    pub started_at: DateTime<Utc>,
    /// From the start to the run's end, or to the last step that ended for a run that did
    /// not end; none when nothing ended.
    pub duration_seconds: Option<f64>,
    pub status: RunStatus,
    /// The record said "running" but its process is gone: reported as `interrupted`.
    pub abandoned: bool,
    /// Why an abandoned run reads as interrupted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abandoned_because: Option<String>,
    pub failing_step: Option<FailingStep>,
    pub file: String,
}

/// `playbook runs`: the newest `limit` runs, and the records that could not be read.
#[derive(Debug, Clone, Serialize)]
pub struct RunHistory {
    pub dir: String,
    /// How many readable records there are (before the limit).
    pub total: usize,
    pub runs: Vec<RunSummary>,
    pub unreadable: Vec<String>,
}

/// Every readable run record in the state dir, and the paths of those that are not.
pub fn read_records(state_dir: &Path) -> (Vec<RunRecord>, Vec<PathBuf>) {
    let mut records = Vec::new();
    let mut unreadable = Vec::new();
    let Ok(entries) = std::fs::read_dir(runs_dir(state_dir)) else {
        return (records, unreadable);
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    for path in paths {
        let parsed = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| serde_json::from_str::<RunRecord>(&text).ok());
        match parsed {
            Some(mut r) => {
                r.path = path;
                records.push(r);
            }
            None => unreadable.push(path),
        }
    }
    (records, unreadable)
}

/// The step in hand when a run stopped: its recorded failed step, or for a run that never
/// ended, the first step it was to run that had not ended.
fn failing_step(r: &RunRecord, abandoned: bool) -> Option<FailingStep> {
    let step = match r.failed_step {
        Some(n) => r.steps.iter().find(|s| s.number == n),
        None if abandoned => r
            .steps
            .iter()
            .find(|s| s.number >= r.from_step && s.status == StepStatus::NotRun),
        None => None,
    }?;
    Some(FailingStep {
        number: step.number,
        id: step.id.clone(),
        kind: step.kind.clone(),
        error: step.error.clone(),
    })
}

/// Why a "running" record [`process_alive`] answered `false` for reads as interrupted.
fn abandoned_because(r: &RunRecord) -> String {
    let idle = STALE_AFTER.num_hours();
    match (r.pid, r.host.as_deref()) {
        (None, _) => format!("no pid kept, idle over {idle}h"),
        (Some(_), Some(h)) if h != hostname() => format!("ran on host {h}, idle over {idle}h"),
        _ => "process gone".to_string(),
    }
}

/// A record as the history shows it; `alive` is asked only when it says "running".
pub fn summarize(r: &RunRecord, alive: &dyn Fn(&RunRecord) -> bool) -> RunSummary {
    let abandoned = r.status == RunStatus::Running && !alive(r);
    let last = r
        .ended_at
        .or_else(|| r.steps.iter().filter_map(|s| s.ended_at).max());
    RunSummary {
        run_id: r.run_id.clone(),
        playbook: r.playbook.clone(),
        started_at: r.started_at,
        duration_seconds: last
            .map(|e| ((e - r.started_at).num_milliseconds().max(0) as f64 / 100.0).round() / 10.0),
        status: if abandoned {
            RunStatus::Interrupted
        } else {
            r.status
        },
        abandoned,
        abandoned_because: abandoned.then(|| abandoned_because(r)),
        failing_step: failing_step(r, abandoned),
        file: r.file.clone(),
    }
}

/// A record as the history sees it: one left "running" by a process that is gone says
/// interrupted, at the step in hand, and why (for `playbook report`).
pub fn settle(mut r: RunRecord, alive: &dyn Fn(&RunRecord) -> bool) -> RunRecord {
    let s = summarize(&r, alive);
    if s.abandoned {
        r.status = RunStatus::Interrupted;
        r.failed_step = s.failing_step.as_ref().map(|f| f.number);
        r.message = Some(format!(
            "interrupted: the record still said running ({}){}",
            s.abandoned_because.unwrap_or_default(),
            s.failing_step
                .map(|f| format!(": step {} ({}) never ended", f.number, f.kind))
                .unwrap_or_default()
        ));
    }
    r
}

/// The run records of the state dir, newest first (by start, then id), at most `limit`.
pub fn list_runs(
    state_dir: &Path,
    limit: usize,
    alive: &dyn Fn(&RunRecord) -> bool,
) -> Result<RunHistory, AppError> {
    let (mut records, unreadable) = read_records(state_dir);
    records.sort_by(|a, b| {
        b.started_at
            .cmp(&a.started_at)
            .then_with(|| b.run_id.cmp(&a.run_id))
    });
    for p in &unreadable {
        tracing::warn!("skipping unreadable run record {}", p.display());
    }
    Ok(RunHistory {
        dir: runs_dir(state_dir).display().to_string(),
        total: records.len(),
        runs: records
            .iter()
            .take(limit)
            .map(|r| summarize(r, alive))
            .collect(),
        unreadable: unreadable.iter().map(|p| p.display().to_string()).collect(),
    })
}

/// The word a status reads as in a listing.
pub fn status_word(s: RunStatus) -> &'static str {
    match s {
        RunStatus::Running => "running",
        RunStatus::Succeeded => "succeeded",
        RunStatus::Failed => "FAILED",
        RunStatus::Declined => "declined",
        RunStatus::Interrupted => "INTERRUPTED",
    }
}

impl Report for RunHistory {
    fn human(&self) -> String {
        if self.runs.is_empty() {
            return format!("No playbook runs recorded in {}\n", self.dir);
        }
        let mut t = Table::new(["RUN", "PLAYBOOK", "STARTED (UTC)", "TIME", "STATUS", "STEP"]);
        for r in &self.runs {
            let status = match &r.abandoned_because {
                Some(why) => format!("INTERRUPTED ({why})"),
                None => status_word(r.status).to_string(),
            };
            t.row([
                r.run_id.clone(),
                r.playbook.clone(),
                r.started_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                r.duration_seconds
                    .map(|d| format!("{d:.1}s"))
                    .unwrap_or_default(),
                status,
                r.failing_step
                    .as_ref()
                    .map(|f| format!("{} ({})", f.number, f.kind))
                    .unwrap_or_default(),
            ]);
        }
        let mut s = t.render();
        if self.total > self.runs.len() {
            s.push_str(&format!(
                "{} of {} runs shown (raise --limit to see more)\n",
                self.runs.len(),
                self.total
            ));
        }
        for p in &self.unreadable {
            s.push_str(&format!("unreadable run record skipped: {p}\n"));
        }
        s
    }
}

/// A record of playbook `outage` with a doctor, a replay and a drain step, started at
/// `start` (RFC 3339); tests change what they need.
#[cfg(test)]
pub(super) fn sample_record(run_id: &str, start: &str) -> RunRecord {
    use super::record::StepRecord;
    let at: DateTime<Utc> = start.parse().expect("an RFC 3339 time");
    let step = |number: usize, kind: &str| StepRecord {
        number,
        id: Some(format!("{kind}{number}")),
        kind: kind.into(),
        title: Some(format!("the {kind} step")),
        status: StepStatus::NotRun,
        started_at: None,
        ended_at: None,
        duration_seconds: None,
        exit_code: None,
        outputs: Default::default(),
        error: None,
        report: None,
    };
    RunRecord {
        run_id: run_id.into(),
        playbook: "outage".into(),
        file: "playbooks/outage.toml".into(),
        invoked_as: None,
        params: Default::default(),
        from_step: 1,
        resumed_from: None,
        started_by: "me@host".into(),
        pid: None,
        host: None,
        started_at: at,
        ended_at: None,
        status: RunStatus::Running,
        exit_code: 0,
        failed_step: None,
        message: None,
        resume: None,
        steps: vec![step(1, "doctor"), step(2, "replay"), step(3, "drain")],
        path: PathBuf::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state_dir() -> PathBuf {
        std::env::temp_dir().join(format!("nr-pb-hist-{}", crate::ids::random_hex(8)))
    }

    fn save(state: &Path, mut r: RunRecord) {
        r.path = runs_dir(state).join(format!("{}.json", r.run_id));
        r.save().unwrap();
    }

    fn ended(mut r: RunRecord, status: RunStatus, failed: Option<usize>, secs: i64) -> RunRecord {
        for s in r.steps.iter_mut() {
            s.status = StepStatus::Ok;
            s.ended_at = Some(r.started_at + Duration::seconds(secs));
        }
        if let Some(n) = failed {
            let s = &mut r.steps[n - 1];
            s.status = StepStatus::Failed;
            s.error = Some("2 message(s) failed".into());
            for later in r.steps.iter_mut().skip(n) {
                later.status = StepStatus::NotRun;
                later.ended_at = None;
            }
        }
        r.status = status;
        r.failed_step = failed;
        r.ended_at = Some(r.started_at + Duration::seconds(secs));
        r
    }

    #[test]
    fn lists_newest_first_with_a_limit_and_names_the_failing_step() {
        let dir = state_dir();
        let old = sample_record("nexus-a", "2026-11-01T10:00:00Z");
        save(&dir, ended(old, RunStatus::Succeeded, None, 30));
        let mid = sample_record("nexus-b", "2026-11-02T10:00:00Z");
        save(&dir, ended(mid, RunStatus::Failed, Some(3), 95));
        let new = sample_record("nexus-c", "2026-11-03T10:00:00Z");
        save(&dir, ended(new, RunStatus::Succeeded, None, 12));
        std::fs::write(runs_dir(&dir).join("broken.json"), "{not json").unwrap();
        std::fs::write(runs_dir(&dir).join("x.json.tmp"), "{}").unwrap();

        let h = list_runs(&dir, 2, &|_| true).unwrap();
        assert_eq!(h.total, 3);
        let ids: Vec<&str> = h.runs.iter().map(|r| r.run_id.as_str()).collect();
        assert_eq!(ids, ["nexus-c", "nexus-b"]);
        let failed = &h.runs[1];
        assert_eq!(failed.status, RunStatus::Failed);
        assert_eq!(failed.duration_seconds, Some(95.0));
        let f = failed.failing_step.as_ref().unwrap();
        assert_eq!((f.number, f.kind.as_str()), (3, "drain"));
        assert_eq!(f.error.as_deref(), Some("2 message(s) failed"));
        assert!(h.runs[0].failing_step.is_none());
        assert_eq!(h.unreadable.len(), 1);
        assert!(h.unreadable[0].ends_with("broken.json"));
        let text = h.human();
        assert!(
            text.contains("nexus-b") && text.contains("3 (drain)"),
            "{text}"
        );
        assert!(text.contains("2 of 3 runs shown"), "{text}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_running_record_whose_process_is_gone_reads_interrupted_at_the_step_in_hand() {
        let dir = state_dir();
        let mut r = sample_record("nexus-dead", "2026-11-04T10:00:00Z");
        r.pid = Some(4_000_000);
        r.host = Some(hostname());
        r.steps[0].status = StepStatus::Ok;
        r.steps[0].ended_at = Some(r.started_at + Duration::seconds(4));
        save(&dir, r);
        let live = sample_record("nexus-live", "2026-11-04T09:00:00Z");
        save(&dir, live);

        let asked = std::cell::RefCell::new(Vec::new());
        let alive = |r: &RunRecord| {
            asked.borrow_mut().push(r.run_id.clone());
            r.run_id == "nexus-live"
        };
        let h = list_runs(&dir, 10, &alive).unwrap();
        let dead = &h.runs[0];
        assert_eq!(dead.run_id, "nexus-dead");
        assert_eq!(dead.status, RunStatus::Interrupted);
        assert!(dead.abandoned);
        assert_eq!(dead.duration_seconds, Some(4.0));
        assert_eq!(dead.failing_step.as_ref().map(|f| f.number), Some(2));
        let live = &h.runs[1];
        assert_eq!(live.status, RunStatus::Running);
        assert!(!live.abandoned && live.failing_step.is_none());
        assert!(live.duration_seconds.is_none());
        assert!(h.human().contains("INTERRUPTED (process gone)"));
        assert_eq!(asked.borrow().len(), 2, "asked only about running records");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn an_ended_run_is_never_asked_about_and_keeps_its_status() {
        let r = ended(
            sample_record("nexus-ok", "2026-11-05T10:00:00Z"),
            RunStatus::Succeeded,
            None,
            7,
        );
        let s = summarize(&r, &|_| panic!("an ended run is not asked about"));
        assert_eq!(s.status, RunStatus::Succeeded);
        assert!(!s.abandoned);
    }

    #[test]
    fn no_runs_dir_is_an_empty_history() {
        let h = list_runs(&state_dir(), 5, &|_| true).unwrap();
        assert_eq!(h.total, 0);
        assert!(h.human().starts_with("No playbook runs recorded"));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_pid_on_this_host_is_alive_while_it_runs_a_playbook() {
        use std::process::Command;
        let mut r = sample_record("nexus-pid", "2026-11-06T10:00:00Z");
        r.host = Some(hostname());
        let now = r.started_at;
        // `sleep; true` keeps the shell (whose argv holds `playbook`) from exec-ing sleep.
        let mut live = Command::new("sh")
            .args(["-c", "sleep 30; true", "playbook"])
            .spawn()
            .unwrap();
        r.pid = Some(live.id());
        // Until the child has exec'd the shell, /proc shows the test binary.
        let cmdline = format!("/proc/{}/cmdline", live.id());
        let exec = std::time::Instant::now();
        while !std::fs::read(&cmdline).is_ok_and(|c| c.starts_with(b"sh\0")) {
            assert!(exec.elapsed().as_secs() < 10, "sh did not start");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(process_alive(&r, now));
        live.kill().unwrap();
        live.wait().unwrap();
        assert!(!process_alive(&r, now), "a reaped process is gone");
        let mut other = Command::new("sleep").arg("30").spawn().unwrap();
        r.pid = Some(other.id());
        let cmdline = format!("/proc/{}/cmdline", other.id());
        while !std::fs::read(&cmdline).is_ok_and(|c| c.starts_with(b"sleep\0")) {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(!process_alive(&r, now), "a pid reused by another program");
        other.kill().unwrap();
        other.wait().unwrap();
        r.host = Some(format!("{}-elsewhere", hostname()));
        assert!(
            process_alive(&r, now),
            "another host's process cannot be seen"
        );
        assert!(!process_alive(&r, now + STALE_AFTER), "but a day idle is");
        let s = summarize(&r, &|r| process_alive(r, now + STALE_AFTER));
        assert_eq!(
            s.abandoned_because,
            Some(format!(
                "ran on host {}-elsewhere, idle over 24h",
                hostname()
            ))
        );
    }

    #[test]
    fn a_record_without_a_pid_reads_interrupted_once_idle_for_a_day() {
        let mut r = sample_record("nexus-old", "2026-11-06T10:00:00Z");
        r.steps[0].ended_at = Some(r.started_at + Duration::hours(3));
        let idle = |h: i64| r.started_at + Duration::hours(3) + Duration::hours(h);
        assert!(process_alive(&r, idle(23)));
        assert!(!process_alive(&r, idle(24)));
        let s = summarize(&r, &|r| process_alive(r, idle(25)));
        assert_eq!(s.status, RunStatus::Interrupted);
        assert_eq!(
            s.abandoned_because.as_deref(),
            Some("no pid kept, idle over 24h")
        );
    }
}
