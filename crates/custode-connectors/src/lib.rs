//! Connectors: a provider's own databases (PostgreSQL, MySQL/MariaDB) as
//! systems that hold personal data, declared as code and reached for the
//! rights of access, portability, rectification and erasure.
//!
//! Each system is one TOML file in a `systems/` directory (see
//! `docs/connectors.md`): how to connect (the password from an environment
//! variable or a file, never in the file), which columns find a subject,
//! which tables hang off which, which column holds which policy category and
//! what erasure does per category. [`load`] checks a file against the policy
//! and reports every problem with its line; [`scan`] drafts one from a live
//! database for a person to review.
//!
//! # The API for the rights-requests flow
//!
//! ```no_run
//! # async fn example(policy: &custode_policy::Policy) -> Result<(), custode_connectors::Error> {
//! use custode_connectors::{Connectors, SubjectIdentifiers};
//!
//! // Reads systems/*.toml, checks them, reads the passwords; no I/O to the
//! // databases yet (pools connect on first use).
//! let connectors = Connectors::load("systems".as_ref(), policy)?;
//! let ids = SubjectIdentifiers::new().email("mario.rossi@example.com");
//!
//! // Every mapped row of the subject, per system and table, with each
//! // column's category. A system that is down is retried with backoff;
//! // past the retry policy's patience it is reported as pending.
//! let access = connectors.access(&ids).await?;
//! assert!(access.is_complete());
//!
//! // The declared action per category, one transaction per system. Safe to
//! // run again: what is done is not done twice, and a pending system is
//! // simply retried by calling `erase` again.
//! let erasure = connectors.erase(&ids).await?;
//! for s in &erasure.systems {
//!     if let custode_connectors::Outcome::Pending(p) = &s.outcome {
//!         eprintln!("{} waits: {}", p.system, p.last_error);
//!     }
//! }
//! // While a request waits, any other task can see on what and why.
//! let _waiting = connectors.pending();
//! # Ok(()) }
//! ```
//!
//! Results never carry a password: driver errors are redacted before they
//! are stored, logged or returned.

mod db;
mod detect;
mod diagnostic;
mod error;
mod mapping;
mod plan;
mod read;
mod retry;
mod run;
mod scan;

use std::path::Path;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use custode_policy::{IdentifierKind, Policy};
use tokio::sync::OnceCell;

pub use detect::{
    Detected, codice_fiscale_check, detect, is_codice_fiscale, is_email, is_iban, is_ip,
    is_partita_iva, is_phone,
};
pub use diagnostic::{MappingError, Problem, ProblemKind};
pub use error::{Error, Secret, redact};
pub use mapping::{
    Action, ColumnMapping, Engine, IdentityColumn, ParentLink, PasswordSource, SystemMapping,
    TableMapping, load,
};
pub use retry::{Pending, RetryPolicy};
pub use scan::{ScanOptions, ScanReport, scan};

use run::{Op, OpResult, StepError};

/// The identifiers a subject is looked for by, each with its kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubjectIdentifiers {
    /// The identifiers, in no particular order.
    pub values: Vec<(IdentifierKind, String)>,
}

impl SubjectIdentifiers {
    /// No identifier yet.
    pub fn new() -> Self {
        SubjectIdentifiers::default()
    }

    /// Adds an identifier of any kind.
    pub fn with(mut self, kind: IdentifierKind, value: impl Into<String>) -> Self {
        self.values.push((kind, value.into()));
        self
    }

    /// Adds an email address.
    pub fn email(self, value: impl Into<String>) -> Self {
        self.with(IdentifierKind::Email, value)
    }

    /// Adds a phone number, as the systems store it.
    pub fn phone(self, value: impl Into<String>) -> Self {
        self.with(IdentifierKind::Phone, value)
    }
}

/// How one system's part of a request ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome<T> {
    /// Done and committed.
    Done(T),
    /// Not done: the system kept failing for as long as the retry policy
    /// waits. Safe to retry later.
    Pending(Pending),
    /// Not done, and waiting will not help: the mapping and the database
    /// disagree (the message says how, without passwords).
    Failed(String),
}

impl<T> Outcome<T> {
    /// The result, when done.
    pub fn done(&self) -> Option<&T> {
        match self {
            Outcome::Done(t) => Some(t),
            _ => None,
        }
    }
}

/// One system's part of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SystemResult<T> {
    /// The system's id.
    pub system: String,
    /// How it ended.
    pub outcome: Outcome<T>,
}

/// A column in an access answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnDesc {
    /// The column's name.
    pub name: String,
    /// Its policy category (none for the row's key).
    pub category: Option<String>,
    /// The category's field, when the mapping names one.
    pub field: Option<String>,
}

/// The subject's rows of one table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableRows {
    /// The system.
    pub system: String,
    /// The table.
    pub table: String,
    /// The columns, the key first.
    pub columns: Vec<ColumnDesc>,
    /// The rows, each value as text (NULL as `None`).
    pub rows: Vec<Vec<Option<String>>>,
}

/// The answer to an access (or portability) request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessResult {
    /// Per system, in the order the systems were loaded.
    pub systems: Vec<SystemResult<Vec<TableRows>>>,
}

impl AccessResult {
    /// Whether every system answered.
    pub fn is_complete(&self) -> bool {
        self.systems
            .iter()
            .all(|s| matches!(s.outcome, Outcome::Done(_)))
    }

    /// Every table answered, across systems.
    pub fn tables(&self) -> impl Iterator<Item = &TableRows> {
        self.systems
            .iter()
            .filter_map(|s| s.outcome.done())
            .flatten()
    }
}

/// What is kept of a table after erasure, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kept {
    /// The category kept.
    pub category: String,
    /// Its columns.
    pub columns: Vec<String>,
    /// How many of the subject's rows keep it.
    pub rows: u64,
    /// The legal ground it is kept under.
    pub ground: String,
}

/// What erasure did to one table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableErasure {
    /// The table.
    pub table: String,
    /// Rows deleted.
    pub deleted: u64,
    /// Rows whose columns were set to NULL or masked.
    pub updated: u64,
    /// What stays, with its ground.
    pub kept: Vec<Kept>,
}

/// What erasure did in one system.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SystemErasure {
    /// The subject's rows found, over all tables.
    pub found_rows: u64,
    /// Per table, parents first.
    pub tables: Vec<TableErasure>,
}

impl SystemErasure {
    /// Rows deleted or changed.
    pub fn changes(&self) -> u64 {
        self.tables.iter().map(|t| t.deleted + t.updated).sum()
    }
}

/// The answer to an erasure request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErasureResult {
    /// Per system, in the order the systems were loaded.
    pub systems: Vec<SystemResult<SystemErasure>>,
}

impl ErasureResult {
    /// Whether every system is done.
    pub fn is_complete(&self) -> bool {
        self.systems
            .iter()
            .all(|s| matches!(s.outcome, Outcome::Done(_)))
    }

    /// Rows deleted or changed, over the systems that are done.
    pub fn changes(&self) -> u64 {
        self.systems
            .iter()
            .filter_map(|s| s.outcome.done())
            .map(SystemErasure::changes)
            .sum()
    }
}

/// A correction: the new value of one field of a category.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Correction {
    /// The category (`master_data`).
    pub category: String,
    /// The field (`phone`); columns mapped to `category.field` change.
    pub field: String,
    /// The new value, as text.
    pub value: String,
}

/// One column a rectification touched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RectifiedColumn {
    /// The table.
    pub table: String,
    /// The column.
    pub column: String,
    /// Rows whose value changed.
    pub changed: u64,
}

/// The answer to a rectification request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RectifyResult {
    /// Per system.
    pub systems: Vec<SystemResult<Vec<RectifiedColumn>>>,
}

/// One loaded system: its mapping, its pool, and its catalogue once read.
#[derive(Debug)]
pub(crate) struct System {
    pub(crate) mapping: SystemMapping,
    pub(crate) pool: db::Pool,
    pub(crate) secret: Option<Secret>,
    pub(crate) catalogue: OnceCell<db::Catalogue>,
}

/// Every system of a provider, ready to answer requests.
#[derive(Clone, Debug)]
pub struct Connectors {
    systems: Vec<Arc<System>>,
    retry: RetryPolicy,
    board: retry::Board,
}

impl Connectors {
    /// Loads every `*.toml` file of a directory, checks each against the
    /// policy, and reads the passwords. No database is contacted yet.
    pub fn load(dir: &Path, policy: &Policy) -> Result<Connectors, Error> {
        let entries = std::fs::read_dir(dir).map_err(|e| Error::Read {
            path: dir.display().to_string(),
            message: e.to_string(),
        })?;
        let mut files: Vec<_> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        let mut mappings = Vec::new();
        for path in files {
            let source = std::fs::read_to_string(&path).map_err(|e| Error::Read {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
            let name = path.display().to_string();
            mappings.push(load(&name, &source, policy)?);
        }
        Connectors::from_mappings(mappings)
    }

    /// Builds the connectors from mappings already loaded; reads each
    /// system's password from its variable or file.
    pub fn from_mappings(mappings: Vec<SystemMapping>) -> Result<Connectors, Error> {
        let mut systems: Vec<Arc<System>> = Vec::new();
        for m in mappings {
            if systems.iter().any(|s| s.mapping.id == m.id) {
                return Err(Error::DuplicateSystem(m.id));
            }
            let secret = read_secret(&m)?;
            let pool = db::lazy_pool(&m.id, m.engine, &m.url, secret.as_ref(), false)?;
            systems.push(Arc::new(System {
                mapping: m,
                pool,
                secret,
                catalogue: OnceCell::new(),
            }));
        }
        Ok(Connectors {
            systems,
            retry: RetryPolicy::default(),
            board: retry::Board::default(),
        })
    }

    /// Uses another retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The systems' mappings, in load order.
    pub fn systems(&self) -> impl Iterator<Item = &SystemMapping> {
        self.systems.iter().map(|s| &s.mapping)
    }

    /// The steps waiting on a failing system right now, with the last error.
    pub fn pending(&self) -> Vec<Pending> {
        self.board.list()
    }

    /// Every mapped row of the subject in every system (access, Art. 15;
    /// portability, Art. 20). Read in one read-only transaction per system.
    pub async fn access(&self, ids: &SubjectIdentifiers) -> Result<AccessResult, Error> {
        let results = self.fan_out(Op::Access, ids).await?;
        Ok(AccessResult {
            systems: results
                .into_iter()
                .map(|(system, o)| SystemResult {
                    system,
                    outcome: map_outcome(o, |r| match r {
                        OpResult::Access(t) => t,
                        _ => Vec::new(),
                    }),
                })
                .collect(),
        })
    }

    /// Erases the subject in every system by the declared actions, one
    /// transaction per system. Running it again changes nothing.
    pub async fn erase(&self, ids: &SubjectIdentifiers) -> Result<ErasureResult, Error> {
        self.erasure(Op::Erase, ids).await
    }

    /// What [`Connectors::erase`] would keep in every system, and why,
    /// read in one read-only transaction per system: nothing changes. Ask
    /// it before erasing and keep the answer: once an erasure has masked
    /// the identifier that finds a kept row, a second erasure (after a
    /// crash) no longer sees that row, and could not say it is kept.
    pub async fn erasure_plan(&self, ids: &SubjectIdentifiers) -> Result<ErasureResult, Error> {
        self.erasure(Op::ErasurePlan, ids).await
    }

    async fn erasure(&self, op: Op, ids: &SubjectIdentifiers) -> Result<ErasureResult, Error> {
        let results = self.fan_out(op, ids).await?;
        Ok(ErasureResult {
            systems: results
                .into_iter()
                .map(|(system, o)| SystemResult {
                    system,
                    outcome: map_outcome(o, |r| match r {
                        OpResult::Erase(e) => e,
                        _ => SystemErasure::default(),
                    }),
                })
                .collect(),
        })
    }

    /// Sets one field to its corrected value wherever the subject's rows
    /// hold it (rectification, Art. 16). Running it again changes nothing.
    pub async fn rectify(
        &self,
        ids: &SubjectIdentifiers,
        correction: &Correction,
    ) -> Result<RectifyResult, Error> {
        let results = self.fan_out(Op::Rectify(correction.clone()), ids).await?;
        Ok(RectifyResult {
            systems: results
                .into_iter()
                .map(|(system, o)| SystemResult {
                    system,
                    outcome: map_outcome(o, |r| match r {
                        OpResult::Rectify(c) => c,
                        _ => Vec::new(),
                    }),
                })
                .collect(),
        })
    }

    /// Closes every pool.
    pub async fn close(&self) {
        for s in &self.systems {
            s.pool.close().await;
        }
    }

    /// Runs one operation in every system at once, each with its retries.
    async fn fan_out(
        &self,
        op: Op,
        ids: &SubjectIdentifiers,
    ) -> Result<Vec<(String, Outcome<OpResult>)>, Error> {
        if ids.values.iter().all(|(_, v)| v.trim().is_empty()) {
            return Err(Error::NoIdentifier);
        }
        let mut set = tokio::task::JoinSet::new();
        for (n, s) in self.systems.iter().enumerate() {
            let system = Arc::clone(s);
            let op = op.clone();
            let ids = ids.clone();
            let retry = self.retry;
            let board = self.board.clone();
            set.spawn(async move {
                let outcome = with_retry(&system, &op, &ids, retry, &board).await;
                (n, system.mapping.id.clone(), outcome)
            });
        }
        let mut out: Vec<(usize, String, Outcome<OpResult>)> = Vec::new();
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(r) => out.push(r),
                Err(e) => {
                    return Err(Error::Database {
                        system: "?".into(),
                        message: format!("a connector task ended abnormally: {e}"),
                    });
                }
            }
        }
        out.sort_by_key(|(n, _, _)| *n);
        Ok(out.into_iter().map(|(_, s, o)| (s, o)).collect())
    }
}

fn map_outcome<T>(o: Outcome<OpResult>, f: impl FnOnce(OpResult) -> T) -> Outcome<T> {
    match o {
        Outcome::Done(r) => Outcome::Done(f(r)),
        Outcome::Pending(p) => Outcome::Pending(p),
        Outcome::Failed(m) => Outcome::Failed(m),
    }
}

/// One system's step, tried until it succeeds, fails for good, or the
/// retry policy's patience runs out.
async fn with_retry(
    system: &System,
    op: &Op,
    ids: &SubjectIdentifiers,
    retry: RetryPolicy,
    board: &retry::Board,
) -> Outcome<OpResult> {
    let start = Instant::now();
    let since = SystemTime::now();
    let ticket = board.ticket();
    let operation = match op {
        Op::Access => "access",
        Op::ErasurePlan => "erasure plan",
        Op::Erase => "erase",
        Op::Rectify(_) => "rectify",
    };
    let mut failures = 0u32;
    loop {
        match run::attempt(system, op, ids).await {
            Ok(r) => {
                board.clear(ticket);
                if failures > 0 {
                    tracing::info!(system = %system.mapping.id, operation, failures, "system answered again");
                }
                return Outcome::Done(r);
            }
            Err(StepError::Permanent(message)) => {
                board.clear(ticket);
                tracing::warn!(system = %system.mapping.id, operation, error = %message, "step failed");
                return Outcome::Failed(message);
            }
            Err(StepError::Transient(message)) => {
                failures += 1;
                let pending = Pending {
                    system: system.mapping.id.clone(),
                    operation,
                    attempts: failures,
                    since,
                    last_error: message,
                };
                let delay = retry.delay(failures);
                if start.elapsed() + delay > retry.give_up_after {
                    board.clear(ticket);
                    tracing::warn!(system = %system.mapping.id, operation, failures, error = %pending.last_error, "system still failing: step left pending");
                    return Outcome::Pending(pending);
                }
                tracing::warn!(system = %system.mapping.id, operation, failures, error = %pending.last_error, "system failing: waiting to retry");
                board.set(ticket, pending);
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// The password of a system, from its variable or file.
fn read_secret(m: &SystemMapping) -> Result<Option<Secret>, Error> {
    m.password
        .read()
        .map(|p| p.map(Secret::new))
        .map_err(|message| Error::Secret {
            system: m.id.clone(),
            message,
        })
}
