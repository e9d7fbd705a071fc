//! Every capability over one store, opened together: what the server and
//! the command line work with. Nothing here decides anything; it only
//! wires the capabilities to the kernel and to each other.

use std::sync::Arc;

use custode_accounts::Accounts;
use custode_backup::Backup;
use custode_breaches::Breaches;
use custode_domain::Clock;
use custode_erasure::Eraser;
use custode_finding::Finder;
use custode_ledger::Ledger;
use custode_policy::Policy;
use custode_requests::Requests;
use custode_retention::Retention;
use custode_store::migrations::{KERNEL, Migration};
use custode_store::{Store, StoreConfig, StoreError};
use custode_traffic::Traffic;
use custode_trail::AuditTrail;
use custode_vault::Vault;

/// The main store's schema: the kernel's part and each capability's that
/// has tables there. A new capability adds its `MIGRATIONS` here.
pub const SCHEMA: &[&[Migration]] = &[
    KERNEL,
    custode_accounts::MIGRATIONS,
    custode_vault::MIGRATIONS,
    custode_requests::MIGRATIONS,
    custode_traffic::MIGRATIONS,
    custode_breaches::MIGRATIONS,
];

/// The store's kernel and its capabilities.
#[derive(Clone)]
pub struct Custode {
    /// The kernel: subjects, records, keys, audit, tenants.
    pub store: Arc<Store>,
    /// Data kept only because a law requires it.
    pub vault: Arc<Vault>,
    /// Consents and decisions.
    pub ledger: Arc<Ledger>,
    /// People and machines, and their credentials.
    pub accounts: Arc<Accounts>,
    /// The sweeper, the plan and the report.
    pub retention: Arc<Retention>,
    /// Erasure that keeps only what a law requires; closing tenants.
    pub erasure: Arc<Eraser>,
    /// Rights requests.
    pub requests: Arc<Requests>,
    /// Backups and restores.
    pub backup: Arc<Backup>,
    /// Subjects' audit trails.
    pub trail: Arc<AuditTrail>,
    /// Traffic data: ingestion, judicial extraction, the bill check.
    pub traffic: Arc<Traffic>,
    /// Finding people by identifier; the tenancy tree.
    pub finder: Arc<Finder>,
    /// The breach register.
    pub breaches: Arc<Breaches>,
}

impl Custode {
    /// Opens the store (and on first start creates it) with every
    /// capability.
    pub async fn open(
        config: &StoreConfig,
        policy: Arc<Policy>,
        clock: Arc<dyn Clock>,
    ) -> Result<Custode, StoreError> {
        let store = Arc::new(Store::open(config, SCHEMA, policy, clock).await?);
        Custode::over(store, config).await
    }

    /// The capabilities over a kernel already open.
    pub async fn over(store: Arc<Store>, config: &StoreConfig) -> Result<Custode, StoreError> {
        let vault = Arc::new(Vault::open(store.clone(), config).await?);
        let ledger = Arc::new(Ledger::new(store.clone()).await?);
        let erasure = Arc::new(Eraser::new(vault.clone()));
        Ok(Custode {
            accounts: Arc::new(Accounts::new(store.clone())),
            retention: Arc::new(Retention::new(vault.clone())),
            requests: Arc::new(Requests::new(
                vault.clone(),
                ledger.clone(),
                erasure.clone(),
            )),
            erasure,
            backup: Arc::new(Backup::new(vault.clone())),
            trail: Arc::new(AuditTrail::new(store.clone())),
            traffic: Arc::new(Traffic::new(vault.clone())),
            finder: Arc::new(Finder::new(store.clone())),
            breaches: Arc::new(Breaches::new(store.clone(), ledger.clone())),
            store,
            vault,
            ledger,
        })
    }

    /// Closes every database cleanly.
    pub async fn close(&self) {
        self.vault.close().await;
        self.store.close().await;
    }
}
