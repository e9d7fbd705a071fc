//! Who is old enough: the policy's `minimum_age` against the birth date held
//! in the field the policy names (`birth_date = "category.field"`).
//!
//! Ages are counted in the controller's time zone: a person is of age from
//! the start of the birthday (a 29 February birthday falls on 28 February in
//! common years, as jiff's calendar arithmetic gives).

use std::collections::BTreeMap;

use custode_policy::Policy;
use jiff::Timestamp;
use jiff::civil::Date;

use crate::records::zone;

/// Why a birth date cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum AgeError {
    /// The field does not hold a date.
    #[error("field `{field}` must hold a birth date written \"YYYY-MM-DD\"")]
    NotADate {
        /// The field.
        field: String,
    },
}

/// The birth date a record of `category` carries in the field the policy
/// names, if the policy names one and this record holds it.
pub fn birth_date_in(
    policy: &Policy,
    category: &str,
    fields: &BTreeMap<String, serde_json::Value>,
) -> Result<Option<Date>, AgeError> {
    let Some(b) = &policy.meta.birth_date else {
        return Ok(None);
    };
    if b.category != category {
        return Ok(None);
    }
    match fields.get(&b.field) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v) => v
            .as_str()
            .and_then(|s| s.trim().parse::<Date>().ok())
            .map(Some)
            .ok_or_else(|| AgeError::NotADate {
                field: b.field.clone(),
            }),
    }
}

/// The instant from which someone born on `birth` has the policy's
/// minimum age, in the controller's zone.
pub fn of_age_from(policy: &Policy, birth: Date) -> Option<Timestamp> {
    let birthday = birth
        .checked_add(jiff::Span::new().years(i64::from(policy.meta.minimum_age)))
        .ok()?;
    birthday
        .to_zoned(zone(&policy.meta.jurisdiction))
        .ok()
        .map(|z| z.timestamp())
}

/// Whether someone born on `birth` is younger than the policy's minimum age
/// at `now`. A date too far off to compute counts as of age only when it is
/// in the past.
pub fn under_age(policy: &Policy, birth: Date, now: Timestamp) -> bool {
    of_age_from(policy, birth).is_none_or(|t| now < t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(age: u8) -> Policy {
        let src = include_str!("../../../policies/telecom.toml")
            .replace("minimum_age = 18", &format!("minimum_age = {age}"));
        custode_policy::load("telecom.toml", &src).expect("policy")
    }

    fn rome_noon(d: &str) -> Timestamp {
        d.parse::<Date>()
            .expect("date")
            .at(12, 0, 0, 0)
            .to_zoned(jiff::tz::TimeZone::get("Europe/Rome").expect("tz"))
            .expect("zoned")
            .timestamp()
    }

    #[test]
    fn of_age_from_the_birthday_in_rome() {
        let p = policy(18);
        let birth: Date = "2008-03-10".parse().expect("date");
        assert!(under_age(&p, birth, rome_noon("2026-03-09")));
        assert!(!under_age(&p, birth, rome_noon("2026-03-10")));
        // Midnight of the birthday in Rome is 23:00 UTC the day before.
        let start = of_age_from(&p, birth).expect("instant");
        assert_eq!(start.to_string(), "2026-03-09T23:00:00Z");
        let leap: Date = "2008-02-29".parse().expect("date");
        assert!(!under_age(&p, leap, rome_noon("2026-02-28")));
        assert!(under_age(
            &policy(18),
            "2011-05-01".parse().expect("d"),
            rome_noon("2026-12-07")
        ));
        assert!(!under_age(
            &policy(14),
            "2011-05-01".parse().expect("d"),
            rome_noon("2026-12-07")
        ));
    }

    #[test]
    fn the_named_field_is_read_and_checked() {
        let p = policy(18);
        let mut fields = BTreeMap::new();
        fields.insert("name".to_owned(), serde_json::Value::from("Lia"));
        assert_eq!(birth_date_in(&p, "master_data", &fields), Ok(None));
        fields.insert(
            "birth_date".to_owned(),
            serde_json::Value::from("2011-05-01"),
        );
        assert_eq!(
            birth_date_in(&p, "master_data", &fields),
            Ok(Some("2011-05-01".parse().expect("d")))
        );
        assert_eq!(birth_date_in(&p, "billing", &fields), Ok(None));
        fields.insert(
            "birth_date".to_owned(),
            serde_json::Value::from("01/05/2011"),
        );
        assert!(birth_date_in(&p, "master_data", &fields).is_err());
    }
}
