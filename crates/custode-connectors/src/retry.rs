//! Waiting out a system that fails: the backoff policy, which errors are
//! worth waiting for, and the board where callers see which systems a
//! request is waiting on, and why.
//!
//! A system that is unreachable, refuses the connection, drops it, or
//! refuses access is retried with exponential backoff until it answers or
//! the policy's patience runs out; then the step is reported as pending,
//! never as done. An error that waiting cannot fix (a column the mapping
//! names that the database lacks, a value the column's type refuses) ends
//! the step at once as failed.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// How long and how often a failing system is tried again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failure.
    pub first_delay: Duration,
    /// The longest wait between two attempts.
    pub max_delay: Duration,
    /// After this long the step is reported as pending (to be retried by
    /// the caller later; every operation is safe to repeat).
    pub give_up_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            give_up_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `n + 1` (after `n` failures, `n >= 1`).
    pub fn delay(&self, failures: u32) -> Duration {
        let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(16));
        self.first_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// A step waiting on a system, as the caller sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    /// The system.
    pub system: String,
    /// What is waiting: `access`, `erase` or `rectify`.
    pub operation: &'static str,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the first attempt failed.
    pub since: SystemTime,
    /// The last error, with any password removed.
    pub last_error: String,
}

/// The steps currently waiting, shared by every request of one
/// [`crate::Connectors`].
#[derive(Clone, Debug, Default)]
pub(crate) struct Board {
    inner: Arc<Mutex<BTreeMap<u64, Pending>>>,
    next: Arc<Mutex<u64>>,
}

impl Board {
    pub(crate) fn ticket(&self) -> u64 {
        let mut n = self.next.lock().unwrap_or_else(|e| e.into_inner());
        *n += 1;
        *n
    }

    pub(crate) fn set(&self, ticket: u64, pending: Pending) {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(ticket, pending);
    }

    pub(crate) fn clear(&self, ticket: u64) {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&ticket);
    }

    pub(crate) fn list(&self) -> Vec<Pending> {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }
}

/// Whether waiting may fix an error. Errors the mapping causes (a missing
/// table or column, a value of the wrong type, a foreign key the declared
/// order breaks) do not go away by themselves.
pub(crate) fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
                // MySQL/MariaDB error numbers the mapping causes: unknown
                // column or table, syntax, bad or too long value, foreign
                // key, NOT NULL, duplicate key, out of range.
                return !matches!(
                    my.number(),
                    1054 | 1146 | 1064 | 1366 | 1292 | 1406 | 1451 | 1452 | 1048 | 1062 | 1264
                );
            }
            // PostgreSQL SQLSTATE: class 22 (data), 23 (integrity) and 42
            // (syntax or missing object) are the mapping's fault; 42501
            // (privilege revoked) can be given back.
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            let class = code.get(..2).unwrap_or("");
            !(matches!(class, "22" | "23") || class == "42" && code != "42501")
        }
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::Configuration(_) => false,
        _ => true,
    }
}
