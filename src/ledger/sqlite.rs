//! The embedded dedup ledger: SQLite (bundled) in the state dir. One machine, any number
//! of processes: each batch is one IMMEDIATE transaction, so a claim's read-and-write is
//! atomic across processes; WAL and a busy timeout keep concurrent drainers moving.
//!
//! The connection lives on one thread of its own, which runs the ledger's calls in the
//! order they arrive: the async side never blocks on SQLite, and however many pipelines
//! share the ledger, it costs one thread (the blocking pool would grow a thread, with its
//! stack and malloc arena, per waiting call).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use crate::ports::PortError;
use crate::ports::ledger::{
    Claim, ClaimOutcome, Finished, Ledger, LedgerRecord, LedgerState, LedgerStats,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS dedup (
    key                   TEXT PRIMARY KEY,
    state                 TEXT NOT NULL,
    in_progress_expiry_ms INTEGER NOT NULL,
    redrive               INTEGER NOT NULL,
    event_id              TEXT,
    run_id                TEXT NOT NULL,
    created_at_ms         INTEGER NOT NULL,
    updated_at_ms         INTEGER NOT NULL,
    expires_at            INTEGER NOT NULL,
    digest                TEXT
);
CREATE INDEX IF NOT EXISTS dedup_expires_at ON dedup (expires_at);
";

macro_rules! columns {
    () => {
        "key, state, in_progress_expiry_ms, redrive, event_id, run_id, created_at_ms, updated_at_ms, expires_at, digest"
    };
}
/// The values of a new IN_PROGRESS record, bound by `insert`.
macro_rules! new_row {
    () => {
        "(?1, ?2, ?3, ?4, NULL, ?5, ?6, ?7, ?8, ?9)"
    };
}
/// Claims a key nobody holds.
const INSERT_NEW: &str = concat!(
    "INSERT INTO dedup (",
    columns!(),
    ") VALUES ",
    new_row!(),
    " ON CONFLICT (key) DO NOTHING"
);
/// Marks a key this run claimed done (again, for a retried call: same run, same event id).
const MARK_DONE: &str = "UPDATE dedup SET state = 'DONE', event_id = ?1, updated_at_ms = ?2 WHERE key = ?3 AND run_id = ?4 AND (state = 'IN_PROGRESS' OR (state = 'DONE' AND event_id = ?1))";
/// Claims a key whose record `Claim::may_replace`.
const INSERT_REPLACE: &str = concat!(
    "INSERT OR REPLACE INTO dedup (",
    columns!(),
    ") VALUES ",
    new_row!()
);

/// A call for the ledger thread.
type Job = Box<dyn FnOnce(&Connection) + Send>;

/// A SQLite ledger file. Clones share the connection and its thread; dropping the last
/// clone closes the ledger (see [`Closer`]).
#[derive(Clone)]
pub struct SqliteLedger {
    path: PathBuf,
    jobs: mpsc::Sender<Job>,
    // Declared after `jobs`, so it is dropped after it: when the last clone goes, every
    // sender is gone and the ledger thread is on its way out before it is waited for.
    _closer: Arc<Closer>,
}

/// Waits for the ledger thread to close the database when the last clone is dropped.
///
/// In WAL mode a commit lands in the `-wal` file; SQLite folds it into the main file when
/// the last connection closes. The thread used to be left running when the process exited,
/// so the connection was never closed and the records stayed in `-wal`: a copy of
/// `ledger.sqlite3` alone (a backup) had no records. Now the thread checkpoints and closes,
/// and the drop waits for it.
struct Closer(Mutex<Option<std::thread::JoinHandle<()>>>);

impl Drop for Closer {
    fn drop(&mut self) {
        let handle = self.0.get_mut().ok().and_then(Option::take);
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

fn db_err(what: &str, e: impl std::fmt::Display) -> PortError {
    let text = e.to_string();
    if text.contains("locked") || text.contains("busy") {
        PortError::Transient(format!("ledger {what}: {text}"))
    } else {
        PortError::Other(format!("ledger {what}: {text}"))
    }
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_ms(v: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(v).single().unwrap_or_default()
}

fn row_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<LedgerRecord> {
    let state: String = row.get(1)?;
    Ok(LedgerRecord {
        key: row.get(0)?,
        state: LedgerState::parse(&state).unwrap_or(LedgerState::InProgress),
        in_progress_expiry: from_ms(row.get(2)?),
        redrive: row.get(3)?,
        event_id: row.get(4)?,
        run_id: row.get(5)?,
        created_at: from_ms(row.get(6)?),
        updated_at: from_ms(row.get(7)?),
        expires_at: Utc
            .timestamp_opt(row.get(8)?, 0)
            .single()
            .unwrap_or_default(),
        digest: row.get(9)?,
    })
}

/// Files written before records carried a digest have no `digest` column: add it (in an
/// IMMEDIATE transaction, so two processes opening an old file do not both try).
fn add_digest_column(c: &Connection) -> rusqlite::Result<()> {
    immediate(c, |tx| {
        let has = tx
            .prepare("SELECT 1 FROM pragma_table_info('dedup') WHERE name = 'digest'")?
            .exists([])?;
        if !has {
            tx.execute_batch("ALTER TABLE dedup ADD COLUMN digest TEXT")?;
        }
        Ok(())
    })
}

impl SqliteLedger {
    /// Opens (creating if needed) the ledger file.
    pub fn open(path: &Path) -> Result<SqliteLedger, PortError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| db_err("open", format!("{}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path)
            .map_err(|e| db_err("open", format!("{}: {e}", path.display())))?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(|e| db_err("open", e))?;
        conn.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))
            .map_err(|e| db_err("open", e))?;
        conn.execute_batch("PRAGMA synchronous=NORMAL;")
            .map_err(|e| db_err("open", e))?;
        conn.execute_batch(SCHEMA).map_err(|e| db_err("open", e))?;
        add_digest_column(&conn).map_err(|e| db_err("open", e))?;
        let (jobs, queue) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("nexus-ledger".into())
            .spawn(move || {
                while let Ok(job) = queue.recv() {
                    job(&conn);
                }
                close(conn);
            })
            .map_err(|e| db_err("open", format!("cannot start the ledger thread: {e}")))?;
        Ok(SqliteLedger {
            path: path.to_path_buf(),
            jobs,
            _closer: Arc::new(Closer(Mutex::new(Some(thread)))),
        })
    }

    /// Runs `f` on the ledger thread and answers its result.
    async fn on_thread<T: Send + 'static>(
        &self,
        what: &'static str,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, PortError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |c| {
            let _ = reply.send(f(c).map_err(|e| db_err(what, e)));
        });
        // Either fails only if the ledger thread is gone (a panic inside SQLite's caller).
        let gone = || db_err(what, "the ledger thread stopped");
        self.jobs.send(job).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// Copies the WAL into the main file, empties it, and closes the connection. Another process
/// reading the ledger at the same time can keep part of the WAL from being copied; the
/// last connection to close then finishes the job.
fn close(conn: Connection) {
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
        tracing::debug!(error = %e, "ledger checkpoint on close");
    }
    if let Err((_, e)) = conn.close() {
        tracing::warn!(error = %e, "could not close the ledger database");
    }
}

fn read(tx: &Connection, key: &str) -> rusqlite::Result<Option<LedgerRecord>> {
    // Cached statements: a batch runs the same few statements, so each is parsed once per
    // connection instead of once per key.
    tx.prepare_cached(concat!("SELECT ", columns!(), " FROM dedup WHERE key = ?1"))?
        .query_row(params![key], row_record)
        .optional()
}

/// Writes a new IN_PROGRESS record with `sql` (`INSERT_NEW` or `INSERT_REPLACE`); returns
/// the rows changed.
fn insert(tx: &Connection, r: &LedgerRecord, sql: &str) -> rusqlite::Result<usize> {
    tx.prepare_cached(sql)?.execute(params![
        r.key,
        r.state.as_str(),
        ms(r.in_progress_expiry),
        r.redrive,
        r.run_id,
        ms(r.created_at),
        ms(r.updated_at),
        r.expires_at.timestamp(),
        r.digest
    ])
}

/// Runs `f` in an IMMEDIATE transaction: the write lock is taken up front, so a claim's read
/// and write are atomic across processes. BEGIN and COMMIT come from the statement cache
/// (rusqlite's `Transaction` parses both again for every batch).
fn immediate<T>(
    c: &Connection,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    c.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
    let out = f(c).and_then(|v| {
        c.prepare_cached("COMMIT")?.execute([])?;
        Ok(v)
    });
    if out.is_err() && !c.is_autocommit() {
        // Whatever failed, the transaction is still open: undo it all.
        let _ = c.execute_batch("ROLLBACK");
    }
    out
}

#[async_trait]
impl Ledger for SqliteLedger {
    async fn claim(&self, claims: &[Claim]) -> Result<Vec<ClaimOutcome>, PortError> {
        let claims = claims.to_vec();
        self.on_thread("claim", move |c| {
            immediate(c, |tx| {
                let mut out = Vec::with_capacity(claims.len());
                for claim in &claims {
                    // A new key (the usual case) costs one statement: the insert that claims it.
                    // Only a key already present is read and judged, and replaced if it may be.
                    let r = claim.record();
                    if insert(tx, &r, INSERT_NEW)? == 1 {
                        out.push(ClaimOutcome::Claimed);
                        continue;
                    }
                    match read(tx, &claim.key)? {
                        Some(existing) if !claim.may_replace(&existing) => {
                            out.push(ClaimOutcome::refused_by(existing))
                        }
                        _ => {
                            insert(tx, &r, INSERT_REPLACE)?;
                            out.push(ClaimOutcome::Claimed);
                        }
                    }
                }
                Ok(out)
            })
        })
        .await
    }

    async fn mark_done(
        &self,
        run_id: &str,
        done: &[Finished],
        now: DateTime<Utc>,
    ) -> Result<Vec<bool>, PortError> {
        let done = done.to_vec();
        let run_id = run_id.to_string();
        self.on_thread("mark done", move |c| {
            immediate(c, |tx| {
                let mut out = Vec::with_capacity(done.len());
                for f in &done {
                    let n = tx.prepare_cached(MARK_DONE)?.execute(params![
                        f.event_id,
                        ms(now),
                        f.key,
                        run_id
                    ])?;
                    out.push(n == 1);
                }
                Ok(out)
            })
        })
        .await
    }

    async fn release(&self, run_id: &str, keys: &[String]) -> Result<(), PortError> {
        let keys = keys.to_vec();
        let run_id = run_id.to_string();
        self.on_thread("release", move |c| {
            immediate(c, |tx| {
                for k in &keys {
                    tx.execute(
                        "DELETE FROM dedup WHERE key = ?1 AND run_id = ?2 AND state = 'IN_PROGRESS'",
                        params![k, run_id],
                    )?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn get(&self, key: &str) -> Result<Option<LedgerRecord>, PortError> {
        let key = key.to_string();
        self.on_thread("get", move |c| read(c, &key)).await
    }

    async fn stats(&self, now: DateTime<Utc>) -> Result<LedgerStats, PortError> {
        let now_s = now.timestamp();
        self.on_thread("stats", move |c| {
            c.query_row(
                "SELECT
                    COALESCE(SUM(CASE WHEN expires_at >= ?1 AND state = 'IN_PROGRESS' THEN 1 ELSE 0 END), 0),
                    COALESCE(SUM(CASE WHEN expires_at >= ?1 AND state = 'DONE' THEN 1 ELSE 0 END), 0),
                    COALESCE(SUM(CASE WHEN expires_at < ?1 THEN 1 ELSE 0 END), 0)
                 FROM dedup",
                params![now_s],
                |r| {
                    Ok(LedgerStats {
                        in_progress: r.get::<_, i64>(0)? as u64,
                        done: r.get::<_, i64>(1)? as u64,
                        expired: r.get::<_, i64>(2)? as u64,
                    })
                },
            )
        })
        .await
    }

    async fn prune(&self, now: DateTime<Utc>) -> Result<u64, PortError> {
        let now_s = now.timestamp();
        self.on_thread("prune", move |c| {
            c.execute("DELETE FROM dedup WHERE expires_at < ?1", params![now_s])
                .map(|n| n as u64)
        })
        .await
    }

    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The state a crash-free run leaves: every record in the main file, so that copying
    /// `ledger.sqlite3` alone (no `-wal`) keeps them.
    #[tokio::test]
    async fn a_dropped_ledger_leaves_every_record_in_the_main_file() {
        let dir = std::env::temp_dir().join(format!("nr-sqlite-{}", crate::ids::random_hex(8)));
        let path = dir.join("ledger.sqlite3");
        let ledger = SqliteLedger::open(&path).unwrap();
        let other = ledger.clone();
        let now = Utc::now();
        let claims: Vec<Claim> = (0..25)
            .map(|i| Claim {
                key: format!("evt_{i}"),
                run_id: "run-a".into(),
                redrive: 1,
                now,
                in_progress_for: Duration::from_secs(300),
                ttl: Duration::from_secs(86_400),
                digest: format!("sha256:{i}"),
            })
            .collect();
        ledger.claim(&claims).await.unwrap();
        let done: Vec<Finished> = claims
            .iter()
            .map(|c| Finished {
                key: c.key.clone(),
                event_id: format!("ev-{}", c.key),
            })
            .collect();
        other.mark_done("run-a", &done, now).await.unwrap();
        drop(ledger);
        drop(other);
        let wal = dir.join("ledger.sqlite3-wal");
        assert!(
            std::fs::metadata(&wal).map_or(true, |m| m.len() == 0),
            "the WAL still holds commits"
        );
        let copy = dir.join("copy.sqlite3");
        std::fs::copy(&path, &copy).unwrap();
        let c = Connection::open(&copy).unwrap();
        let n: i64 = c
            .query_row("SELECT COUNT(*) FROM dedup WHERE state = 'DONE'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(n, 25);
        drop(c);
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A ledger file of a version before digests: its records read back without one (and
    /// so match any content), and new claims record theirs.
    #[tokio::test]
    async fn a_file_without_the_digest_column_is_migrated_on_open() {
        let dir = std::env::temp_dir().join(format!("nr-ledger-{}", crate::ids::random_hex(8)));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("old.sqlite3");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(
                "CREATE TABLE dedup (key TEXT PRIMARY KEY, state TEXT NOT NULL, in_progress_expiry_ms INTEGER NOT NULL, redrive INTEGER NOT NULL, event_id TEXT, run_id TEXT NOT NULL, created_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL, expires_at INTEGER NOT NULL);
                 INSERT INTO dedup VALUES ('evt_old', 'DONE', 0, 1, 'ev-1', 'old-run', 0, 0, 4102444800);",
            )
            .unwrap();
        }
        // Two handles, as two processes opening the old file: the second finds the column.
        let l = SqliteLedger::open(&path).unwrap();
        let again = SqliteLedger::open(&path).unwrap();
        let old = again.get("evt_old").await.unwrap().unwrap();
        assert_eq!((old.digest, old.run_id.as_str()), (None, "old-run"));
        let claim = Claim {
            key: "evt_new".into(),
            run_id: "r".into(),
            redrive: 1,
            now: Utc::now(),
            in_progress_for: Duration::from_secs(60),
            ttl: Duration::from_secs(60),
            digest: "sha256:abc".into(),
        };
        assert_eq!(l.claim(&[claim]).await.unwrap(), [ClaimOutcome::Claimed]);
        let new = again.get("evt_new").await.unwrap().unwrap();
        assert_eq!(new.digest.as_deref(), Some("sha256:abc"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_failed_transaction_is_rolled_back_and_the_connection_stays_usable() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(SCHEMA).unwrap();
        let count = |c: &Connection| -> i64 {
            c.query_row("SELECT COUNT(*) FROM dedup", [], |r| r.get(0))
                .unwrap()
        };
        let insert_k = |c: &Connection, key: &str| {
            c.execute(
                "INSERT INTO dedup (key, state, in_progress_expiry_ms, redrive, run_id, created_at_ms, updated_at_ms, expires_at) VALUES (?1, 'IN_PROGRESS', 0, 1, 'r', 0, 0, 0)",
                params![key],
            )
        };
        // The second insert breaks the primary key: the first is undone with it.
        let failed = immediate(&c, |c| {
            insert_k(c, "a")?;
            insert_k(c, "a")
        });
        assert!(failed.is_err());
        assert!(c.is_autocommit(), "the transaction was left open");
        assert_eq!(count(&c), 0);
        immediate(&c, |c| insert_k(c, "b")).unwrap();
        assert_eq!(count(&c), 1);
    }
}
