//! The breach register: GDPR Art. 33–34 and, for electronic communications
//! providers, Regulation 611/2013.
//!
//! Owns the tables `breaches`, `breach_versions`, `breach_assessments` and
//! `breach_people` (migrations 2600–2699) and the rules of the register:
//! every breach recorded, notified or not (Art. 33(5)), each change a new
//! version audited in the same transaction; the authority's clock from the
//! policy's kind of provider ([`clock`]); the people and records a breach
//! touched, computed from the data by one set-based query through the
//! kernel's keyed-hash identifier index ([`affected`]); the authority's
//! notification as a document and the notices to the people in their
//! language, or the exemption that spares them ([`notices`]).
//!
//! Every path checks the role (`ManageBreaches`: the DPO and the
//! administrator; support agents never see the register) and the scope:
//! a breach belongs to a tenant, and a principal sees only breaches under
//! its own node (a reseller's DPO, its tenants' breaches).
//!
//! **What it must never do:** hold a personal value in its tables or audit
//! entries (people are kept by the kernel's row key, identifiers only as
//! the kernel's keyed hashes, and counts), write the kernel's tables (it
//! reads `subjects`, `records` and `identifiers` only), or send mail
//! itself: the face hands it a [`Courier`].

pub mod affected;
pub mod clock;
mod i18n;
pub mod notices;
pub mod register;

use std::sync::Arc;

use custode_domain::{Operation, Principal, may};
use custode_ledger::Ledger;
use custode_store::migrations::Migration;
use custode_store::{Store, StoreError};

pub use affected::{Assessment, Count, Scope};
pub use clock::Clocks;
pub use notices::{
    Courier, Exemption, ExemptionGround, PeopleReport, authority_document, person_message,
};
pub use register::{Amendment, Breach, Facts, Health, Nature, NewBreach, Notification, Version};

/// The register's tables, in the block 2600–2699.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 2600,
    name: "breach register",
    // `details` is the register's entry as the DPO wrote it (JSON: nature,
    // description, systems, categories, numbers, consequences, measures,
    // contact); no personal value of a subject goes there. People are
    // kept by the kernel's row key, never by name or address.
    sql: r#"
CREATE TABLE breaches (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    tenant_path {path} NOT NULL,
    regime TEXT NOT NULL,
    detected_at BIGINT NOT NULL,
    aware_at BIGINT NOT NULL,
    details TEXT NOT NULL,
    version BIGINT NOT NULL,
    notified_at BIGINT,
    notice_complete BIGINT,
    late_reason TEXT,
    authority_reference TEXT,
    follow_up_at BIGINT,
    follow_up_late_reason TEXT,
    exemption TEXT,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX breaches_by_path ON breaches (tenant_path);
CREATE TABLE breach_versions (
    breach_id TEXT NOT NULL REFERENCES breaches(id),
    version BIGINT NOT NULL,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    changed TEXT NOT NULL,
    entry TEXT NOT NULL,
    PRIMARY KEY (breach_id, version)
);
CREATE TABLE breach_assessments (
    id {serial_pk},
    breach_id TEXT NOT NULL REFERENCES breaches(id),
    computed_at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    scope TEXT NOT NULL,
    query TEXT NOT NULL,
    subjects BIGINT NOT NULL,
    records BIGINT NOT NULL,
    counts TEXT NOT NULL
);
CREATE INDEX breach_assessments_by_breach ON breach_assessments (breach_id, id);
CREATE TABLE breach_people (
    assessment_id BIGINT NOT NULL,
    subject_key BIGINT NOT NULL,
    tenant_id TEXT NOT NULL,
    category TEXT NOT NULL,
    records BIGINT NOT NULL,
    PRIMARY KEY (assessment_id, subject_key, category)
);
CREATE TABLE breach_notices (
    breach_id TEXT NOT NULL REFERENCES breaches(id),
    subject_key BIGINT NOT NULL,
    language TEXT NOT NULL,
    sent_at BIGINT NOT NULL,
    PRIMARY KEY (breach_id, subject_key)
)
"#,
}];

/// The register over the kernel.
pub struct Breaches {
    store: Arc<Store>,
    ledger: Arc<Ledger>,
}

impl Breaches {
    /// The register over a kernel; the ledger says which language each
    /// person read the notice in.
    pub fn new(store: Arc<Store>, ledger: Arc<Ledger>) -> Breaches {
        Breaches { store, ledger }
    }

    /// Refuses, audited, a role that does not keep the register.
    async fn check_role(&self, by: &Principal, what: &str) -> Result<(), StoreError> {
        if may(by.role, Operation::ManageBreaches) && by.scope.only_subject().is_none() {
            return Ok(());
        }
        self.store.record_denied(by, what).await?;
        Err(StoreError::Forbidden(format!(
            "the breach register is kept by the DPO and the administrator; a {} cannot see it",
            by.role.name()
        )))
    }

    /// Refuses, audited, a role that may not read who was affected (the
    /// administrator reads no personal data).
    async fn check_reads_people(&self, by: &Principal, what: &str) -> Result<(), StoreError> {
        self.check_role(by, what).await?;
        if may(by.role, Operation::ReadRecords) {
            return Ok(());
        }
        self.store.record_denied(by, what).await?;
        Err(StoreError::Forbidden(format!(
            "who a breach touched and the notices to them are personal data: the DPO's, not a {}'s",
            by.role.name()
        )))
    }
}
