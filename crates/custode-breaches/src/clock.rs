//! The authority's clock: when a breach must be notified, by the law the
//! policy's kind of provider falls under. Pure: instants in, deadlines out.
//!
//! - Any controller: within 72 hours of becoming aware of the breach (GDPR
//!   Art. 33(1)); later, only with the reasons for the delay.
//! - A provider of publicly available electronic communications services
//!   (`provider = "electronic_communications"`): within 24 hours of its
//!   detection; when the first notice could not be complete, a follow-up
//!   within 3 days of it (Regulation 611/2013 Art. 2(2) and 2(3)).

use custode_policy::ProviderKind;
use jiff::{SignedDuration, Timestamp};

/// 72 hours from awareness (GDPR Art. 33(1)).
pub const GDPR_HOURS: i64 = 72;
/// 24 hours from detection (Regulation 611/2013 Art. 2(2)).
pub const TELECOM_HOURS: i64 = 24;
/// The follow-up of an incomplete first notice: 3 days after it
/// (Regulation 611/2013 Art. 2(3)).
pub const FOLLOW_UP_HOURS: i64 = 72;

/// Where a breach stands against its deadlines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Clocks {
    /// The law the deadline comes from.
    pub regime: ProviderKind,
    /// When the authority must have been told.
    pub authority_due: Timestamp,
    /// When it was told, if it was.
    pub authority_notified_at: Option<Timestamp>,
    /// Whole hours left until `authority_due` (negative once past), while
    /// the authority has not been told.
    pub hours_left: Option<i64>,
    /// Not told and past the deadline.
    pub overdue: bool,
    /// Told late: the notice needed reasons for the delay.
    pub notified_late: bool,
    /// When the follow-up of an incomplete first notice is due.
    pub follow_up_due: Option<Timestamp>,
    /// When it was given, if it was.
    pub follow_up_at: Option<Timestamp>,
    /// Whole hours left until `follow_up_due` while it is owed.
    pub follow_up_hours_left: Option<i64>,
    /// A follow-up owed and past its deadline.
    pub follow_up_overdue: bool,
}

/// The facts the clocks are computed from.
#[derive(Clone, Copy, Debug)]
pub struct Timeline {
    /// The law, from the policy in force when the breach was recorded.
    pub regime: ProviderKind,
    /// When the breach was detected.
    pub detected_at: Timestamp,
    /// When the controller became aware that personal data were breached.
    pub aware_at: Timestamp,
    /// The first notice to the authority: when, and whether it was complete.
    pub notified: Option<(Timestamp, bool)>,
    /// When the follow-up was given.
    pub follow_up_at: Option<Timestamp>,
}

/// When the authority must be told.
pub fn authority_due(
    regime: ProviderKind,
    detected_at: Timestamp,
    aware_at: Timestamp,
) -> Timestamp {
    match regime {
        ProviderKind::ElectronicCommunications => {
            detected_at.checked_add(SignedDuration::from_hours(TELECOM_HOURS))
        }
        ProviderKind::Other => aware_at.checked_add(SignedDuration::from_hours(GDPR_HOURS)),
    }
    .unwrap_or(Timestamp::MAX)
}

/// When the follow-up of a first notice given at `first` is due, if the law
/// sets one and the notice was incomplete.
pub fn follow_up_due(regime: ProviderKind, first: Timestamp, complete: bool) -> Option<Timestamp> {
    (regime == ProviderKind::ElectronicCommunications && !complete).then(|| {
        first
            .checked_add(SignedDuration::from_hours(FOLLOW_UP_HOURS))
            .unwrap_or(Timestamp::MAX)
    })
}

/// The words of the law for a regime's deadline, for error messages.
pub fn rule(regime: ProviderKind) -> &'static str {
    match regime {
        ProviderKind::ElectronicCommunications => {
            "24 hours from detection, Regulation 611/2013 Art. 2(2)"
        }
        ProviderKind::Other => "72 hours from becoming aware, GDPR Art. 33(1)",
    }
}

/// Whole hours from `now` to `due`, rounded down (so one second past is -1).
fn hours_until(now: Timestamp, due: Timestamp) -> i64 {
    let seconds = due.as_second() - now.as_second();
    seconds.div_euclid(3600)
}

/// The clocks at `now`.
pub fn clocks(t: &Timeline, now: Timestamp) -> Clocks {
    let due = authority_due(t.regime, t.detected_at, t.aware_at);
    let notified_at = t.notified.map(|(at, _)| at);
    let follow_up_due = t
        .notified
        .and_then(|(at, complete)| follow_up_due(t.regime, at, complete));
    let owed = follow_up_due.filter(|_| t.follow_up_at.is_none());
    Clocks {
        regime: t.regime,
        authority_due: due,
        authority_notified_at: notified_at,
        hours_left: notified_at.is_none().then(|| hours_until(now, due)),
        overdue: notified_at.is_none() && now > due,
        notified_late: notified_at.is_some_and(|at| at > due),
        follow_up_due,
        follow_up_at: t.follow_up_at,
        follow_up_hours_left: owed.map(|d| hours_until(now, d)),
        follow_up_overdue: owed.is_some_and(|d| now > d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("a timestamp")
    }

    #[test]
    fn the_law_sets_the_deadline_by_kind_of_provider() {
        let detected = at("2026-03-02T08:00:00Z");
        let aware = at("2026-03-02T20:00:00Z");
        // Table: regime, due.
        for (regime, due) in [
            (ProviderKind::Other, "2026-03-05T20:00:00Z"),
            (
                ProviderKind::ElectronicCommunications,
                "2026-03-03T08:00:00Z",
            ),
        ] {
            assert_eq!(
                authority_due(regime, detected, aware),
                at(due),
                "{regime:?}"
            );
        }
    }

    #[test]
    fn hours_left_then_overdue() {
        let t = Timeline {
            regime: ProviderKind::Other,
            detected_at: at("2026-03-02T08:00:00Z"),
            aware_at: at("2026-03-02T08:00:00Z"),
            notified: None,
            follow_up_at: None,
        };
        let c = clocks(&t, at("2026-03-02T09:30:00Z"));
        assert_eq!(c.hours_left, Some(70));
        assert!(!c.overdue);
        let c = clocks(&t, at("2026-03-05T08:00:01Z"));
        assert_eq!(c.hours_left, Some(-1));
        assert!(c.overdue);
    }

    #[test]
    fn an_incomplete_telecom_notice_owes_a_follow_up_in_three_days() {
        let first = at("2026-03-02T20:00:00Z");
        let mut t = Timeline {
            regime: ProviderKind::ElectronicCommunications,
            detected_at: at("2026-03-02T08:00:00Z"),
            aware_at: at("2026-03-02T08:00:00Z"),
            notified: Some((first, false)),
            follow_up_at: None,
        };
        let c = clocks(&t, at("2026-03-03T20:00:00Z"));
        assert_eq!(c.follow_up_due, Some(at("2026-03-05T20:00:00Z")));
        assert_eq!(c.follow_up_hours_left, Some(48));
        assert!(!c.overdue && !c.notified_late);
        let c = clocks(&t, at("2026-03-06T00:00:00Z"));
        assert!(c.follow_up_overdue);
        t.follow_up_at = Some(at("2026-03-04T00:00:00Z"));
        let c = clocks(&t, at("2026-03-06T00:00:00Z"));
        assert!(!c.follow_up_overdue && c.follow_up_hours_left.is_none());
        // A complete first notice owes nothing; nor does the GDPR set a date.
        t.notified = Some((first, true));
        assert_eq!(clocks(&t, first).follow_up_due, None);
        t.regime = ProviderKind::Other;
        t.notified = Some((first, false));
        assert_eq!(clocks(&t, first).follow_up_due, None);
    }
}
