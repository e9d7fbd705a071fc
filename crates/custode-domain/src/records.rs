//! What makes a record acceptable, and when it must go.
//!
//! A record is one category of the policy for one subject. It is refused
//! unless the category exists, every field belongs to it, and it serves at
//! least one purpose that covers that category for that kind of subject
//! (invariant 1). Its end of retention comes from the purposes' rules.

use std::collections::BTreeMap;

use custode_policy::{IdentifierKind, Policy, Unit};
use jiff::{Span, Timestamp, tz::TimeZone};

/// A record as a writer submits it.
#[derive(Clone, Debug, PartialEq)]
pub struct NewRecord {
    /// The policy category.
    pub category: String,
    /// Field values by field id.
    pub fields: BTreeMap<String, serde_json::Value>,
    /// Where the data came from (a system, a form, a request id).
    pub source: String,
    /// Purposes it serves; empty means every purpose that covers it.
    pub purposes: Vec<String>,
    /// When it was collected; `None` means now.
    pub collected_at: Option<Timestamp>,
}

/// A record that the policy accepts, ready to seal and store.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckedRecord {
    /// The category.
    pub category: String,
    /// The payload to seal: the fields as a JSON object.
    pub payload: Vec<u8>,
    /// The source.
    pub source: String,
    /// The purposes it serves.
    pub purposes: Vec<String>,
    /// When it was collected.
    pub collected_at: Timestamp,
    /// Identifiers to index: (kind, normalised value).
    pub identifiers: Vec<(&'static str, String)>,
}

/// Why a record is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordError {
    /// The category is not in the policy.
    #[error("category `{category}` is not declared in the policy (declared: {declared})")]
    UnknownCategory {
        /// The category asked for.
        category: String,
        /// Those the policy has.
        declared: String,
    },
    /// A field is not part of the category.
    #[error("field `{field}` is not part of category `{category}` (its fields: {fields})")]
    UnknownField {
        /// The category.
        category: String,
        /// The field asked for.
        field: String,
        /// The category's fields.
        fields: String,
    },
    /// A purpose does not exist, or does not cover the category for this kind of subject.
    #[error("purpose `{purpose}` does not cover category `{category}` for subject kind `{kind}`")]
    PurposeNotCovering {
        /// The purpose.
        purpose: String,
        /// The category.
        category: String,
        /// The subject's kind.
        kind: String,
    },
    /// No purpose at all covers the category for this kind of subject.
    #[error(
        "no purpose covers category `{category}` for subject kind `{kind}`: such data may not be kept"
    )]
    NoPurpose {
        /// The category.
        category: String,
        /// The subject's kind.
        kind: String,
    },
    /// The record has no field.
    #[error("the record of category `{0}` has no field")]
    Empty(String),
    /// The record says its subject is younger than the policy's minimum
    /// age (the birth date is never quoted).
    #[error(
        "the subject is younger than {minimum}, the minimum age the policy sets, so the record is refused: the service is for people aged {minimum} or over and keeps no data of younger people"
    )]
    UnderAge {
        /// The policy's minimum age.
        minimum: u8,
    },
    /// The birth-date field the policy names holds no date.
    #[error(transparent)]
    BirthDate(#[from] crate::age::AgeError),
    /// An identifier field holds something that is not a usable identifier.
    #[error("field `{field}` must be a text identifier ({kind})")]
    BadIdentifier {
        /// The field.
        field: String,
        /// What kind of identifier.
        kind: &'static str,
    },
}

impl NewRecord {
    /// Checks the record against the policy for a subject of `subject_kind`,
    /// computes its end of retention in the controller's time zone, and
    /// extracts the identifiers to index.
    pub fn check(
        self,
        policy: &Policy,
        subject_kind: &str,
        now: Timestamp,
    ) -> Result<CheckedRecord, RecordError> {
        let Some(category) = policy.category(&self.category) else {
            return Err(RecordError::UnknownCategory {
                declared: policy
                    .categories
                    .iter()
                    .map(|c| c.id.value.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                category: self.category,
            });
        };
        if self.fields.is_empty() {
            return Err(RecordError::Empty(self.category));
        }
        for (name, value) in &self.fields {
            let Some(field) = category.fields.iter().find(|f| &f.id.value == name) else {
                return Err(RecordError::UnknownField {
                    category: self.category.clone(),
                    field: name.clone(),
                    fields: category
                        .fields
                        .iter()
                        .map(|f| f.id.value.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            };
            if let Some(kind) = field.identifier
                && value.as_str().is_none_or(|t| t.trim().is_empty())
            {
                return Err(RecordError::BadIdentifier {
                    field: name.clone(),
                    kind: identifier_name(kind),
                });
            }
        }
        // Adults only, where the policy says so (seed 001).
        if let Some(birth) = crate::age::birth_date_in(policy, &self.category, &self.fields)?
            && crate::age::under_age(policy, birth, now)
        {
            return Err(RecordError::UnderAge {
                minimum: policy.meta.minimum_age,
            });
        }
        let identifiers = identifiers_of(category, &self.fields);
        let covering: Vec<&custode_policy::Purpose> = policy
            .purposes_of_category(&self.category)
            .filter(|p| p.subjects.iter().any(|s| s.value == subject_kind))
            .collect();
        let purposes: Vec<String> = if self.purposes.is_empty() {
            if covering.is_empty() {
                return Err(RecordError::NoPurpose {
                    category: self.category,
                    kind: subject_kind.to_owned(),
                });
            }
            covering.iter().map(|p| p.id.value.clone()).collect()
        } else {
            for p in &self.purposes {
                if !covering.iter().any(|c| &c.id.value == p) {
                    return Err(RecordError::PurposeNotCovering {
                        purpose: p.clone(),
                        category: self.category.clone(),
                        kind: subject_kind.to_owned(),
                    });
                }
            }
            self.purposes
        };
        let collected_at = self.collected_at.unwrap_or(now);
        let payload = serde_json::to_vec(&self.fields).unwrap_or_default();
        Ok(CheckedRecord {
            category: self.category,
            payload,
            source: self.source,
            purposes,
            collected_at,
            identifiers,
        })
    }
}

/// The identifiers (kind, canonical value) that a stored record of
/// `category` carries: its identifier fields with a non-empty text. Unlike
/// [`NewRecord::check`], nothing is refused, since the record was accepted
/// when written (under this or an earlier policy).
pub fn identifiers_in(
    policy: &Policy,
    category: &str,
    fields: &BTreeMap<String, serde_json::Value>,
) -> Vec<(&'static str, String)> {
    policy
        .category(category)
        .map_or_else(Vec::new, |c| identifiers_of(c, fields))
}

/// What [`NewRecord::check`] indexes and [`identifiers_in`] finds: one
/// definition of a record's identifiers.
fn identifiers_of(
    category: &custode_policy::Category,
    fields: &BTreeMap<String, serde_json::Value>,
) -> Vec<(&'static str, String)> {
    category
        .fields
        .iter()
        .filter_map(|f| {
            let kind = f.identifier?;
            let text = fields.get(&f.id.value)?.as_str()?;
            (!text.trim().is_empty())
                .then(|| (identifier_name(kind), normalise_identifier(kind, text)))
        })
        .collect()
}

fn identifier_name(kind: IdentifierKind) -> &'static str {
    kind.key()
}

/// The canonical form of an identifier, so that `Mario.Rossi@Example.com `
/// and `mario.rossi@example.com` find the same person.
pub fn normalise_identifier(kind: IdentifierKind, value: &str) -> String {
    let v = value.trim();
    match kind {
        IdentifierKind::Email | IdentifierKind::Username => v.to_lowercase(),
        IdentifierKind::Phone => {
            let digits: String = v.chars().filter(|c| c.is_ascii_digit()).collect();
            if v.starts_with('+') {
                format!("+{digits}")
            } else if let Some(rest) = digits.strip_prefix("00") {
                format!("+{rest}")
            } else {
                digits
            }
        }
        IdentifierKind::TaxCode | IdentifierKind::VatNumber | IdentifierKind::CustomerCode => v
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_uppercase(),
        IdentifierKind::IpAddress => v
            .parse::<std::net::IpAddr>()
            .map_or_else(|_| v.to_lowercase(), |ip| ip.to_string()),
    }
}

/// The time zone in which the controller counts days.
pub fn zone_for(jurisdiction: &str) -> &'static str {
    match jurisdiction {
        "FR" => "Europe/Paris",
        "NL" => "Europe/Amsterdam",
        "BE" => "Europe/Brussels",
        "DE" => "Europe/Berlin",
        "ES" => "Europe/Madrid",
        "AT" => "Europe/Vienna",
        "LU" => "Europe/Luxembourg",
        "IE" => "Europe/Dublin",
        "PT" => "Europe/Lisbon",
        _ => "Europe/Rome",
    }
}

/// The controller's time zone, looked up once per zone.
pub(crate) fn zone(jurisdiction: &str) -> TimeZone {
    use std::sync::{Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<Vec<(String, TimeZone)>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(Vec::new()));
    if let Ok(mut zones) = cache.lock() {
        if let Some((_, tz)) = zones.iter().find(|(j, _)| j == jurisdiction) {
            return tz.clone();
        }
        let tz = TimeZone::get(zone_for(jurisdiction)).unwrap_or(TimeZone::UTC);
        zones.push((jurisdiction.to_owned(), tz.clone()));
        return tz;
    }
    TimeZone::get(zone_for(jurisdiction)).unwrap_or(TimeZone::UTC)
}

/// The first instant after a period of `keep` that starts on the day of
/// `start`, in the jurisdiction's zone.
///
/// Counting follows Regulation 1182/71: the starting day is not counted,
/// and a period ends at the end of the day with the same date (the month's
/// last day when there is none), so the data are due for erasure from the
/// start of the next day.
pub fn period_end(
    jurisdiction: &str,
    start: Timestamp,
    keep: custode_policy::Period,
) -> Option<Timestamp> {
    let tz = zone(jurisdiction);
    let day = start.to_zoned(tz.clone()).date();
    let n = i64::from(keep.amount);
    let span = match keep.unit {
        Unit::Day => Span::new().days(n),
        Unit::Week => Span::new().weeks(n),
        Unit::Month => Span::new().months(n),
        Unit::Year => Span::new().years(n),
    };
    let last_day = day.checked_add(span).ok()?;
    let next = last_day.tomorrow().ok()?;
    next.to_zoned(tz).ok().map(|z| z.timestamp())
}

#[cfg(test)]
#[path = "records/tests.rs"]
mod tests;
