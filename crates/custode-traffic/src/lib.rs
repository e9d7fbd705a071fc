//! Traffic data: what the provider's switches, RADIUS servers and mail
//! servers write, kept as Art. 132 Codice privacy requires and read only as
//! the law allows.
//!
//! **Owns** the traffic tables (a catalogue of partitions, one table per
//! month and category, the ingestion cursors), the native parsers
//! ([`parse`]), the periods ([`rules`], [`law`]), ingestion ([`ingest`]),
//! judicial extraction with its signed manifest ([`extract`]), the
//! subscriber's bill check ([`bill`]) and the dropping of expired months
//! ([`partitions`]).
//!
//! **Must never**: store an identifier in clear (records are linked by the
//! kernel's keyed hash, payloads sealed under their partition's key), store
//! half a line, count a period from the load rather than the
//! communication, answer an order without the vault's checks (role, person,
//! fresh second factor, order reference, every attempt logged), or show a
//! subscriber the numbers they called in full.

pub mod bill;
pub mod extract;
pub mod ingest;
pub mod law;
pub mod parse;
pub mod partitions;
pub mod rules;

use std::sync::Arc;

use custode_store::migrations::Migration;
use custode_store::{Store, StoreError};
use custode_vault::Vault;

pub use bill::BillLine;
pub use extract::{Extracted, Extraction, Manifest, Target, verify_dir};
pub use ingest::{IngestOptions, IngestSummary};
pub use parse::Kind;
pub use parse::cdr::CdrMapping;

/// The traffic tables. The partitions themselves are tables made as months
/// arrive (`traffic_<category>_<yyyymm>`), listed in `traffic_partitions`.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 2300,
    name: "traffic: partitions and ingestion cursors",
    sql: r#"
CREATE TABLE traffic_partitions (
    name TEXT PRIMARY KEY,
    category TEXT NOT NULL,
    month TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    key_name TEXT NOT NULL,
    records BIGINT NOT NULL,
    pending BIGINT NOT NULL,
    kept_until BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    dropped_at BIGINT,
    UNIQUE (category, month)
);
CREATE INDEX traffic_partitions_by_end ON traffic_partitions (kept_until);
CREATE TABLE traffic_sources (
    identity TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    byte_offset BIGINT NOT NULL,
    lines BIGINT NOT NULL,
    stored BIGINT NOT NULL,
    pending BIGINT NOT NULL,
    skipped BIGINT NOT NULL,
    rejected BIGINT NOT NULL,
    rejected_lines TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT
)
"#,
}];

/// What goes wrong with traffic.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrafficError {
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The input could not be read.
    #[error("reading the input: {0}")]
    Io(#[from] std::io::Error),
    /// The file is not of the format named: nothing was stored.
    #[error("line {line}: {why} (nothing was stored: is this a {kind} file?)")]
    WrongFormat {
        /// Where.
        line: u64,
        /// What was expected.
        kind: &'static str,
        /// What is wrong.
        why: String,
    },
    /// The policy has no periods for traffic.
    #[error(transparent)]
    Rules(#[from] rules::RulesError),
    /// A request that cannot be answered as asked.
    #[error("{0}")]
    Invalid(String),
    /// Another ingestion of the same file moved its cursor meanwhile.
    #[error(
        "another ingestion of this file is running (its cursor moved): nothing of this batch was stored; run again once it ends"
    )]
    Busy,
}

impl From<sqlx::Error> for TrafficError {
    fn from(e: sqlx::Error) -> Self {
        TrafficError::Store(e.into())
    }
}

/// The traffic capability over the kernel and the vault (whose checks and
/// access log judicial extraction goes through).
pub struct Traffic {
    store: Arc<Store>,
    vault: Arc<Vault>,
    partitions: partitions::Partitions,
}

impl Traffic {
    /// The capability over an open store and vault.
    pub fn new(vault: Arc<Vault>) -> Traffic {
        let store = vault.store().clone();
        Traffic {
            partitions: partitions::Partitions::new(store.clone()),
            store,
            vault,
        }
    }

    /// The rules of the policy in force.
    pub fn rules(&self) -> Result<rules::Rules, TrafficError> {
        Ok(rules::Rules::from_policy(&self.store.policy())?)
    }
}
