//! The privacy policy as code.
//!
//! A controller declares in one TOML file who it is, which data it processes,
//! for which purposes and on which legal basis, how long it keeps them, and
//! who receives them. This crate loads that file, refuses it while it
//! contradicts itself (every problem at once, each with its line), and
//! renders from it the privacy notice (Art. 13/14 GDPR) and the record of
//! processing activities (Art. 30(1)).
//!
//! It is pure: it reads the text it is given and returns values. It knows
//! nothing of databases, HTTP or files, so every legal rule in it is tested
//! without them.
//!
//! ```
//! let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies/email-hosting.toml")).unwrap();
//! let policy = custode_policy::load("email-hosting.toml", &source).unwrap();
//! let notice = custode_policy::notice(&policy, custode_policy::Lang::It).unwrap();
//! assert!(notice.to_markdown().contains("Informativa"));
//! ```

mod access;
mod answer;
mod diagnostic;
mod doc;
mod i18n;
mod keep;
mod law;
mod load;
mod model;
mod notice;
mod read;
pub mod reader;
mod ropa;
mod text;
mod validate;

pub use access::{Held, VaultHeld, access_summary, vault_content_given, vault_lines};
pub use answer::{
    AnswerFacts, KeptFact, answer_letter, code_message, extension_message, portal_code_message,
    recipient_notice_message, restriction_lift_message,
};
pub use diagnostic::{FileError, Kind, LineCol, Located, PolicyError, Problem, ProblemKind, Span};
pub use doc::{Block, Document, Format, html_escape};
pub use i18n::Catalog;
pub use law::{digital_consent_age, has_adequacy_decision, is_eea};
pub use load::load;
pub use model::*;
pub use notice::{NoticeError, notice, period_words, retention_words};
pub use ropa::{RopaFormat, jsonld, record, ropa};
pub use text::{Lang, Text};
