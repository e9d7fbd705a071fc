//! What reading a systems file adds to the policy crate's shared TOML reader
//! ([`custode_policy::reader`]): its sink, and how `[[table]]` entries are
//! named in messages.

use toml::de::DeTable;

use crate::diagnostic::{Problem, ProblemKind};
use custode_policy::reader::Problems;

/// Collects problems while a systems file is read and checked.
pub(crate) struct Sink {
    pub(crate) problems: Vec<Problem>,
}

impl Problems<ProblemKind> for Sink {
    fn push(&mut self, problem: Problem) {
        self.problems.push(problem);
    }
}

/// The name of a `[[table]]` entry for messages, before it is read.
pub(crate) fn named(t: &DeTable<'_>, what: &str, n: usize) -> String {
    match t.get("name").and_then(|v| v.get_ref().as_str()) {
        Some(name) => format!("{what} \"{name}\""),
        None => format!("{what} #{}", n + 1),
    }
}
