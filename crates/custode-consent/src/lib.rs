//! Consent as the law reads it, without I/O: the ledger's events and the
//! state folded from them ([`ledger`]), what a consent was given to
//! ([`digest`]), the processing decision ([`decision`]), signed receipts
//! ([`receipt`]) and one-click unsubscribe tokens ([`unsubscribe`]).
//!
//! The store persists events and keeps the folded state warm; the faces
//! ask it for decisions. Every rule lives here once.

pub mod decision;
pub mod digest;
pub mod ledger;
pub mod receipt;
pub mod unsubscribe;

pub use decision::{Decision, Reason, decide, objection_applies};
pub use digest::{changed_consent_purposes, purpose_digest, purpose_digests};
pub use ledger::{Channel, Entry, EventId, EventKind, Evidence, InvalidEventId, SubjectState};
pub use receipt::{Format, Publication, ReceiptError, ReceiptEvent, SignedReceipt};
