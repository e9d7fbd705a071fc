//! The consent state of subjects, kept warm in memory for the decision hot
//! path (mail systems ask before every promotional message).
//!
//! The ledger in the database is the truth; this is a cache of its fold.
//! Correctness rests on three rules:
//! - a write on this instance invalidates the subject after its commit, so
//!   the next decision here reads the new state;
//! - writes of other instances (or of the CLI) are seen through the audit
//!   chain, whose order is the commit order: a poller invalidates every
//!   subject a new `consent.recorded` or `subject.erased` entry names
//!   (a partial erasure writes `subject.erased` too);
//! - an invalidation leaves a tombstone with its epoch, and a fill from the
//!   database is dropped for a subject invalidated after the fill began to
//!   read, so a stale read never overwrites a newer one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use custode_consent::SubjectState;
use sqlx::{AnyPool, Row};

const SHARDS: usize = 32;

/// What a decision needs to know of a subject.
#[derive(Debug)]
pub(crate) struct Known {
    /// Where it hangs, for the scope check.
    pub(crate) path: Arc<str>,
    /// Whether it was erased.
    pub(crate) erased: bool,
    /// After a partial erasure, the purposes (legal grounds) its kept
    /// records serve: every other purpose answers `erased`.
    pub(crate) kept_for: Option<Box<[Arc<str>]>>,
    /// Its consent state.
    pub(crate) state: SubjectState,
    /// From when it has the policy's minimum age, when the policy names a
    /// birth-date field and the subject has one (the date itself is not
    /// kept).
    pub(crate) of_age_from: Option<jiff::Timestamp>,
}

/// A subject's place in the cache.
enum Slot {
    Known(Arc<Known>),
    /// Invalidated at this epoch; read again on the next decision.
    Invalidated(u64),
}

type Shard = RwLock<HashMap<Box<str>, Slot>>;

pub(crate) struct DecisionCache {
    shards: Vec<Shard>,
    /// Bumped before every invalidation.
    epoch: AtomicU64,
    /// Interned tenant paths and purpose texts: few distinct values shared
    /// by a million entries.
    strings: RwLock<std::collections::HashSet<Arc<str>>>,
}

impl DecisionCache {
    pub(crate) fn new() -> Arc<DecisionCache> {
        Arc::new(DecisionCache {
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
            epoch: AtomicU64::new(0),
            strings: RwLock::new(std::collections::HashSet::new()),
        })
    }

    fn shard(&self, subject: &str) -> &Shard {
        // Subject ids are random hex: their last digits spread evenly.
        let h = subject.bytes().rev().take(4).fold(0usize, |a, b| {
            a.wrapping_mul(31).wrapping_add(usize::from(b))
        });
        &self.shards[h % SHARDS]
    }

    pub(crate) fn get(&self, subject: &str) -> Option<Arc<Known>> {
        let shard = self
            .shard(subject)
            .read()
            .unwrap_or_else(|e| e.into_inner());
        match shard.get(subject) {
            Some(Slot::Known(k)) => Some(k.clone()),
            _ => None,
        }
    }

    /// The epoch to pass to [`DecisionCache::fill`] for a read starting now.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Caches states whose reading began at `epoch`. A subject already
    /// known is kept (nothing changed it since it was read); one
    /// invalidated after `epoch` is skipped (the read may predate the change).
    pub(crate) fn fill(&self, epoch: u64, entries: Vec<(String, Arc<Known>)>) {
        for (subject, known) in entries {
            let mut shard = self
                .shard(&subject)
                .write()
                .unwrap_or_else(|e| e.into_inner());
            match shard.get(subject.as_str()) {
                Some(Slot::Known(_)) => {}
                Some(Slot::Invalidated(at)) if *at > epoch => {}
                _ => {
                    shard.insert(subject.into_boxed_str(), Slot::Known(known));
                }
            }
        }
    }

    pub(crate) fn invalidate(&self, subject: &str) {
        let at = self.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        self.shard(subject)
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(Box::from(subject), Slot::Invalidated(at));
    }

    /// Invalidates every subject (a policy change that moves what every
    /// answer rests on, such as the minimum age).
    pub(crate) fn invalidate_all(&self) {
        let at = self.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        for shard in &self.shards {
            for slot in shard
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .values_mut()
            {
                *slot = Slot::Invalidated(at);
            }
        }
    }

    /// How many subjects are known.
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.read()
                    .unwrap_or_else(|e| e.into_inner())
                    .values()
                    .filter(|v| matches!(v, Slot::Known(_)))
                    .count()
            })
            .sum()
    }

    pub(crate) fn intern(&self, s: &str) -> Arc<str> {
        if let Some(found) = self
            .strings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(s)
        {
            return found.clone();
        }
        let mut all = self.strings.write().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = all.get(s) {
            return found.clone();
        }
        let new: Arc<str> = Arc::from(s);
        all.insert(new.clone());
        new
    }
}

/// How often other writers' changes are looked for.
const POLL_EVERY: Duration = Duration::from_millis(200);

/// Watches the audit chain from `after` and invalidates the subjects that
/// other writers changed. Ends when the cache is dropped with its store.
pub(crate) fn spawn_poller(cache: Weak<DecisionCache>, pool: AnyPool, after: i64) {
    tokio::spawn(async move {
        let mut after = after;
        let mut tick = tokio::time::interval(POLL_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(cache) = cache.upgrade() else { return };
            let rows = sqlx::query(
                "SELECT seq, subject_id, action FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 5000",
            )
            .bind(after)
            .fetch_all(&pool)
            .await;
            let rows = match rows {
                Ok(rows) => rows,
                Err(e) => {
                    if pool.is_closed() {
                        return;
                    }
                    tracing::warn!(error = %e, "consent cache: cannot read the audit chain; retrying");
                    continue;
                }
            };
            for row in rows {
                let (Ok(seq), Ok(subject), Ok(action)) = (
                    row.try_get::<i64, _>(0),
                    row.try_get::<Option<String>, _>(1),
                    row.try_get::<Option<String>, _>(2),
                ) else {
                    continue;
                };
                after = after.max(seq);
                if let (Some(subject), Some("consent.recorded" | "subject.erased")) =
                    (subject, action.as_deref())
                {
                    cache.invalidate(&subject);
                }
            }
        }
    });
}
