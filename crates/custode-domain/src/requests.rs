//! Rights requests as the law frames them: the rights of Art. 15–22 and
//! 7(3), and the answer's deadline under Art. 12(3) counted in the
//! controller's time zone and calendar (see [`crate::deadline`]), with the
//! one extension the law allows, decided while the first month runs.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::deadline::answer_due;
use crate::records::zone_for;
use strum::{EnumString, IntoStaticStr, VariantArray};

/// A right a request asks for.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    IntoStaticStr,
    EnumString,
    VariantArray,
)]
#[strum(serialize_all = "snake_case")]
pub enum Right {
    /// Access (Art. 15).
    Access,
    /// Rectification (Art. 16).
    Rectification,
    /// Erasure (Art. 17).
    Erasure,
    /// Restriction of processing (Art. 18).
    Restriction,
    /// Portability (Art. 20).
    Portability,
    /// Objection (Art. 21).
    Objection,
    /// Withdrawal of consent (Art. 7(3)).
    ConsentWithdrawal,
    /// Human review of an automated decision (Art. 22).
    HumanReview,
}

impl Right {
    /// Every right, in declaration order.
    pub const ALL: &'static [Right] = <Right as strum::VariantArray>::VARIANTS;

    /// The name.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The right with a name.
    pub fn from_name(name: &str) -> Option<Right> {
        name.parse().ok()
    }
}

/// The day an instant falls on in the controller's time zone.
pub fn local_day(jurisdiction: &str, at: Timestamp) -> Date {
    let tz = TimeZone::get(zone_for(jurisdiction)).unwrap_or(TimeZone::UTC);
    at.to_zoned(tz).date()
}

/// The last day to answer a request received at `received_at`: one month by
/// Regulation 1182/71 with the country's holidays, or the controller's own
/// promise when stricter.
pub fn due(jurisdiction: &str, received_at: Timestamp, promised_days: Option<u16>) -> Date {
    answer_due(
        local_day(jurisdiction, received_at),
        jurisdiction,
        false,
        promised_days,
    )
}

/// Why a request cannot be extended.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExtensionError {
    /// Art. 12(3): the extension and its reasons are notified within the
    /// first month.
    #[error(
        "an extension must be decided within the first month, which ended on {due}; today is {today}"
    )]
    TooLate {
        /// The first deadline.
        due: Date,
        /// Today, in the controller's zone.
        today: Date,
    },
    /// The reasons go to the requester, so there must be some.
    #[error("an extension needs its reasons, which are sent to the requester")]
    NoReason,
    /// Only one extension, of two months, is allowed.
    #[error("the request was already extended, to {0}")]
    AlreadyExtended(Date),
}

/// The extended deadline (three months from receipt, Art. 12(3)), if the
/// extension is still allowed today.
pub fn extend(
    jurisdiction: &str,
    received_at: Timestamp,
    first_due: Date,
    already: Option<Date>,
    now: Timestamp,
    reason: &str,
) -> Result<Date, ExtensionError> {
    if let Some(d) = already {
        return Err(ExtensionError::AlreadyExtended(d));
    }
    if reason.trim().is_empty() {
        return Err(ExtensionError::NoReason);
    }
    let today = local_day(jurisdiction, now);
    if today > first_due {
        return Err(ExtensionError::TooLate {
            due: first_due,
            today,
        });
    }
    Ok(answer_due(
        local_day(jurisdiction, received_at),
        jurisdiction,
        true,
        None,
    ))
}

/// Days from today to a deadline: negative once it has passed.
pub fn days_left(jurisdiction: &str, due: Date, now: Timestamp) -> i64 {
    let today = local_day(jurisdiction, now);
    today
        .until(due)
        .map_or(0, |span| i64::from(span.get_days()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("instant")
    }

    #[test]
    fn the_deadline_counts_in_the_controllers_zone() {
        // 23:30 UTC on 31 January is already 1 February in Rome; a month
        // from it ends on Sunday 1 March, so the answer is due Monday 2 March.
        let d = due("IT", at("2026-01-31T23:30:00Z"), None);
        assert_eq!(d, Date::new(2026, 3, 2).expect("date"));
        // The seeds' "within thirty days" is stricter than the month here.
        let d = due("IT", at("2026-01-10T10:00:00Z"), Some(30));
        assert_eq!(d, Date::new(2026, 2, 9).expect("date"));
    }

    #[test]
    fn an_extension_is_decided_in_the_first_month_with_reasons() {
        let received = at("2025-02-01T09:00:00Z");
        let first = due("IT", received, None);
        assert_eq!(first, Date::new(2025, 3, 3).expect("date"));
        let extended = extend(
            "IT",
            received,
            first,
            None,
            at("2025-02-20T09:00:00Z"),
            "many requests",
        );
        assert_eq!(
            extended,
            Ok(Date::new(2025, 5, 2).expect("date")),
            "1 May is a holiday"
        );
        assert_eq!(
            extend("IT", received, first, None, at("2025-02-20T09:00:00Z"), " "),
            Err(ExtensionError::NoReason)
        );
        assert!(matches!(
            extend(
                "IT",
                received,
                first,
                None,
                at("2025-03-04T09:00:00Z"),
                "late"
            ),
            Err(ExtensionError::TooLate { .. })
        ));
        assert!(matches!(
            extend(
                "IT",
                received,
                first,
                Some(first),
                at("2025-02-20T09:00:00Z"),
                "again"
            ),
            Err(ExtensionError::AlreadyExtended(_))
        ));
        assert_eq!(days_left("IT", first, at("2025-03-01T09:00:00Z")), 2);
        assert_eq!(days_left("IT", first, at("2025-03-05T09:00:00Z")), -2);
    }
}

#[cfg(test)]
mod right_names {
    use super::*;

    /// The names as the API takes them and the requests tables store them:
    /// never renamed, whatever the enum becomes.
    const STORED: [(Right, &str); 8] = [
        (Right::Access, "access"),
        (Right::Rectification, "rectification"),
        (Right::Erasure, "erasure"),
        (Right::Restriction, "restriction"),
        (Right::Portability, "portability"),
        (Right::Objection, "objection"),
        (Right::ConsentWithdrawal, "consent_withdrawal"),
        (Right::HumanReview, "human_review"),
    ];

    #[test]
    fn every_right_round_trips_and_keeps_its_name() {
        for (value, name) in STORED {
            assert_eq!(value.name(), name);
            assert_eq!(Right::from_name(name), Some(value));
        }
        for value in Right::ALL {
            assert_eq!(Right::from_name(value.name()), Some(*value));
        }
        assert_eq!(Right::from_name(""), None);
        assert_eq!(
            Right::from_name(&STORED[0].1.to_uppercase()),
            None,
            "names are exact"
        );
    }
}
