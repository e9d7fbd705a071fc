//! Checkpoints of the main SQLite file's write-ahead log, off the commit
//! path.
//!
//! SQLite copies the WAL back into the database file in whichever
//! connection's commit pushes the WAL past its threshold, and that commit
//! returns only once the copy is written and synced. The audit group commit
//! carries the entries of many reads at once, so every one of those reads
//! waited for tens of megabytes to reach the disk: the reads' p99 was the
//! checkpoint's duration.
//!
//! Here a thread of its own copies the WAL back ten times a second, in
//! `PASSIVE` mode: it waits for no reader and no writer, and commits keep
//! appending meanwhile. The writers still checkpoint past
//! [`AUTOCHECKPOINT_FRAMES`], but find only the last tenth of a second's
//! frames left to copy. That in-commit copy is still needed: under steady
//! commits the thread never leaves the log fully copied (a commit always
//! lands while it copies), and only then does SQLite start the log over at
//! the next commit instead of growing it.
//!
//! Must never: hold off writers or readers (no blocking checkpoint modes).

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::StoreError;

/// How often the WAL is copied back. Each copy ends with a sync of the main
/// file, and a commit's sync that overlaps it waits for that data too: many
/// small copies keep that wait short (with 64 MiB copies, reads' p99 was
/// hundreds of milliseconds; with 50-250 ms periods, 5-7 ms on this
/// machine, see BENCHMARKS.md).
const PERIOD: Duration = Duration::from_millis(100);

/// The `wal_autocheckpoint` of the main store's writers: WAL frames (4 KiB
/// pages) past which a commit copies the rest back, 16 MiB.
pub(crate) const AUTOCHECKPOINT_FRAMES: u32 = 4_096;

/// The checkpointing thread; stopped (and its connection closed) by
/// [`Checkpointer::stop`] or on drop.
pub(crate) struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the SQLite file at `path` (already migrated).
    pub(crate) fn start(path: &str) -> Result<Checkpointer, StoreError> {
        Checkpointer::every(path, PERIOD)
    }

    fn every(path: &str, period: Duration) -> Result<Checkpointer, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.execute_batch(
            "PRAGMA synchronous = FULL; \
             PRAGMA busy_timeout = 10000; \
             PRAGMA wal_autocheckpoint = 0;",
        )?;
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("custode-wal".to_owned())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(period) {
                    if let Err(e) = checkpoint(&conn) {
                        // The next round tries again; meanwhile the WAL only
                        // grows, and nothing is lost.
                        tracing::warn!(error = %e, "WAL checkpoint failed");
                    }
                }
            })
            .map_err(|e| StoreError::Invalid(format!("cannot start the WAL checkpointer: {e}")))?;
        Ok(Checkpointer {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Stops the thread and waits for it, so its connection is closed
    /// when this returns.
    pub(crate) fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.halt();
    }
}

/// One round: copy back what the WAL holds.
fn checkpoint(conn: &Connection) -> rusqlite::Result<()> {
    let started = std::time::Instant::now();
    let (log_frames, copied): (i64, i64) =
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get(1)?, r.get(2)?))
        })?;
    tracing::debug!(
        log_frames,
        copied,
        ms = started.elapsed().as_secs_f64() * 1e3,
        "WAL checkpoint"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thread_copies_the_log_back_and_it_starts_over() {
        let dir = std::env::temp_dir().join(format!("custode-wal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temporary directory");
        let path = dir.join("main.db");
        let path = path.to_str().expect("utf-8 path");
        let size = |p: String| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        // The writer never checkpoints itself here, so whatever reaches
        // the main file was copied by the thread.
        let writer = Connection::open(path).expect("open");
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; \
                 PRAGMA synchronous = OFF; CREATE TABLE t (v BLOB);",
            )
            .expect("schema");
        let period = Duration::from_millis(50);
        let checkpointer = Checkpointer::every(path, period).expect("start");
        let mut insert = writer
            .prepare("INSERT INTO t (v) VALUES (randomblob(4000))")
            .expect("prepare");
        let (rounds, rows) = (20, 200);
        for _ in 0..rounds {
            for _ in 0..rows {
                insert.execute([]).expect("insert");
            }
            std::thread::sleep(period * 3);
        }
        let written = rounds * rows * 4_000;
        // Copied back while the writer is still open (SQLite's own copy at
        // close would hide a checkpointer that did nothing).
        let main = size(path.to_owned());
        let log = size(format!("{path}-wal"));
        checkpointer.stop();
        drop(insert);
        drop(writer);
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            main > written,
            "the main file holds {main} of {written} bytes: the log was not copied back"
        );
        // Each round's commits start after a full copy, so they reuse the
        // log from its start instead of appending to it: the file stays
        // near one round's size (the file never shrinks).
        assert!(
            log < written / 4,
            "the WAL holds {log} bytes of {written} written: it was never started over"
        );
    }
}
