//! Domain rules every module shares, as pure functions over plain data:
//! identifiers ([`ids`]), who is old enough ([`age`]), the injectable clock ([`clock`]), the tenancy scope
//! that bounds every query ([`scope`]), what makes a record acceptable
//! ([`records`]), how long it lives and when it moves to the vault
//! ([`retention`]), and the rights requests' deadlines ([`requests`]).
//!
//! No I/O here: the store calls these rules inside its transactions.

pub mod access;
pub mod age;
pub mod clock;
pub mod deadline;
pub mod ids;
pub mod records;
pub mod requests;
pub mod retention;
pub mod scope;

pub use access::{Operation, may, reads_personal_data};
pub use clock::{Clock, ManualClock, SystemClock};
pub use ids::{BreachId, SubjectId, TenantId};
pub use records::{
    CheckedRecord, NewRecord, RecordError, identifiers_in, normalise_identifier, zone_for,
};
pub use scope::{Principal, Role, Scope, TenantKind};
