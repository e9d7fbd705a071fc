//! Direct reads on SQLite, for the two read paths where sqlx's driver cost
//! more than the read itself: a subject's records (the HTTP hot path) and
//! the audit chain scan.
//!
//! sqlx runs each SQLite connection on a thread of its own and passes every
//! query, every row and every pool check across channels; for a point read
//! of a few rows those hand-offs are most of the time. Here a read borrows a
//! plain connection, runs its prepared statement where it is called, and
//! gives the connection back. The connections are read-only
//! (`SQLITE_OPEN_READ_ONLY` and `query_only`): nothing can be written
//! through this path, so every change still goes through the one writer and
//! its audit entry. In WAL mode a reader never waits for the writer.

use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags};

use crate::StoreError;

/// Idle read-only connections to one SQLite file.
pub(crate) struct Readers {
    path: String,
    idle: Mutex<Vec<Connection>>,
}

/// Connections kept idle; more are opened when many reads run at once and
/// closed when given back beyond this.
const IDLE: usize = 8;

impl Readers {
    /// Readers of the SQLite file at `path` (which must exist).
    pub(crate) fn new(path: String) -> Readers {
        Readers {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    fn connect(&self) -> Result<Connection, StoreError> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.execute_batch(
            "PRAGMA query_only = ON; \
             PRAGMA busy_timeout = 10000; \
             PRAGMA cache_size = -16384; \
             PRAGMA mmap_size = 1073741824;",
        )?;
        Ok(conn)
    }

    /// Runs `read` on an idle connection (a new one when none is idle).
    pub(crate) fn with<T>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match idle {
            Some(c) => c,
            None => self.connect()?,
        };
        let result = read(&conn);
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < IDLE {
            idle.push(conn);
        }
        result
    }
}
