//! Errors of the connectors, and the two guards that keep passwords out of
//! them: [`Secret`] (never printed, zeroed on drop) and [`redact`] (applied to
//! every text that comes back from a database driver).

use std::fmt;

use zeroize::Zeroize;

use crate::diagnostic::MappingError;

/// A password. Its `Debug` and `Display` print `***`; it is zeroed on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a password.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The password itself, for the driver only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Removes passwords from a text: every known secret, and the password of
/// any `scheme://user:password@host` URL in it.
pub fn redact(text: &str, secrets: &[&Secret]) -> String {
    let mut out = text.to_owned();
    for s in secrets {
        let s = s.expose();
        if !s.is_empty() {
            out = out.replace(s, "***");
        }
    }
    redact_urls(&out)
}

fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || c == '/' || c == '"' || c == '\'' || c == '`')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rsplit_once('@') {
            Some((userinfo, host)) => match userinfo.split_once(':') {
                Some((user, _)) => {
                    out.push_str(user);
                    out.push_str(":***@");
                    out.push_str(host);
                }
                None => out.push_str(authority),
            },
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    redact_params(&out)
}

/// `password=...` (as in a URL's query) becomes `password=***`.
fn redact_params(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("password=") {
        let (head, tail) = rest.split_at(i + "password=".len());
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || c == '&' || c == '"' || c == '\'' || c == '`')
            .unwrap_or(tail.len());
        if end > 0 {
            out.push_str("***");
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// What went wrong in the connectors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A systems file does not load; every problem is inside, with its line.
    #[error(transparent)]
    Mapping(#[from] MappingError),
    /// A systems directory or file could not be read.
    #[error("cannot read {path}: {message}")]
    Read {
        /// The path.
        path: String,
        /// Why.
        message: String,
    },
    /// Two systems files declare the same system id.
    #[error("system `{0}` is declared by two systems files")]
    DuplicateSystem(String),
    /// The password of a system could not be had.
    #[error("system `{system}`: {message}")]
    Secret {
        /// The system.
        system: String,
        /// Why (names the variable or file, never a value).
        message: String,
    },
    /// A URL the driver refuses (the password is redacted).
    #[error("system `{system}`: bad connection URL: {message}")]
    Url {
        /// The system.
        system: String,
        /// The driver's reason, redacted.
        message: String,
    },
    /// The request names no identifier to find the subject by.
    #[error("the subject has no identifier to look for (email, phone, ...)")]
    NoIdentifier,
    /// A database answered with an error (redacted).
    #[error("system `{system}`: {message}")]
    Database {
        /// The system.
        system: String,
        /// What the database said, redacted.
        message: String,
    },
}
