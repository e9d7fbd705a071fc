//! The consent ledger at rest: every consent event of a subject sealed
//! under its key and appended with its audit entry; decisions ("may this
//! purpose be pursued for this subject now?") answered from a warm cache of
//! each subject's fold; signed receipts; one-click unsubscribe.
//!
//! The rules themselves (what an event means, the fold, the decision, the
//! receipt formats) are pure and live in `custode-consent`; this crate keeps
//! them at rest over the store's kernel.

mod decisions;
mod ledger;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use custode_store::{Change, Store, StoreError};
use sqlx::Row;

pub use ledger::{ConsentEvent, NewConsentEvent, Unsubscribed};

/// The consent capability.
pub struct Ledger {
    store: Arc<Store>,
    /// Subjects' consent states, for decisions.
    decisions: Arc<decisions::DecisionCache>,
    /// Digests of notice texts, by policy digest and language.
    notices: Mutex<HashMap<(String, custode_policy::Lang), String>>,
}

impl Ledger {
    /// The ledger over a store: its decision cache starts cold, hears of
    /// this instance's erasures at once, and of other instances' writes
    /// through the audit chain.
    pub async fn new(store: Arc<Store>) -> Result<Ledger, StoreError> {
        let decisions = decisions::DecisionCache::new();
        let head: i64 = sqlx::query("SELECT seq FROM audit_head WHERE id = 1")
            .fetch_one(store.reader())
            .await?
            .try_get(0)?;
        decisions::spawn_poller(Arc::downgrade(&decisions), store.reader().clone(), head);
        let cache = Arc::downgrade(&decisions);
        store.on_change(move |change| {
            if let Some(cache) = cache.upgrade() {
                match change {
                    Change::Subject(id) => cache.invalidate(id),
                    Change::Everything => cache.invalidate_all(),
                    Change::CredentialsRevoked(_) => {}
                }
            }
        });
        Ok(Ledger {
            store,
            decisions,
            notices: Mutex::new(HashMap::new()),
        })
    }

    /// The kernel this ledger keeps its events in.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }
}
