//! Rights requests end to end (Art. 12, 15–22 GDPR): intake with the legal
//! deadline, the identity check, durable fulfilment of every right (the
//! access package, erasure that keeps only what a law requires, rectified
//! records, the provider's own systems through the connectors), Art. 19
//! notices to recipients, and the answer letter; and the closing of a
//! tenant, which erases each subject below it as an erasure request would.
//!
//! Built on the store's kernel; reads the vault (what it holds of a subject,
//! for the access package and the letter) and writes the consent ledger
//! (an objection, a withdrawal) through their capabilities.

mod by_identity;
mod fulfilment;
mod identity;
mod intake;
mod migrations;
mod notices;
mod systems;

use std::sync::{Arc, OnceLock};

use custode_connectors::Connectors;
use custode_erasure::Eraser;
use custode_ledger::Ledger;
use custode_store::Store;
use custode_vault::Vault;

pub use by_identity::{Attestation, FiledByIdentity, Identity, RequestByIdentity};
pub use custode_erasure::TenantClosure;
pub use custode_package as package;
pub use custode_vault::KeptLine;
pub use fulfilment::{
    Answer, Claim, Correction, FulfilmentInput, JobStatus, Outcome, backoff, steps,
};
pub use identity::{
    CODE_ATTEMPTS, CODE_LIFETIME, CodeToSend, DOCUMENT_MAX_BYTES, DOCUMENT_TYPES, Document,
    DocumentKind,
};
pub use intake::{NewRequest, RequestSummary, Requester};
pub use migrations::MIGRATIONS;
pub use notices::{RecipientMail, RecipientNotice, recipients_to_tell};

/// The rights-requests capability.
pub struct Requests {
    store: Arc<Store>,
    vault: Arc<Vault>,
    ledger: Arc<Ledger>,
    eraser: Arc<Eraser>,
    /// The provider's own databases that rights requests reach, if any.
    systems: OnceLock<Arc<Connectors>>,
}

impl Requests {
    /// Requests over a store, its vault and its consent ledger.
    pub fn new(vault: Arc<Vault>, ledger: Arc<Ledger>, eraser: Arc<Eraser>) -> Requests {
        Requests {
            store: vault.store().clone(),
            vault,
            ledger,
            eraser,
            systems: OnceLock::new(),
        }
    }

    /// The kernel requests are kept in.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }
}
