//! How long each kind of traffic is kept and used, counted from the
//! communication's own date: the ordinary legal period and the billing use
//! from the policy's purposes, the longer period for the gravest crimes
//! from the law ([`law`](crate::law)). Pure.
//!
//! For a traffic category (`phone_traffic`, `unanswered_calls`,
//! `net_traffic`) the **ordinary period** is the longest of the policy's
//! vault purposes (legal obligations, Art. 132) that cover it and count
//! from collection; the **billing use** the longest of its other purposes
//! counting from collection (Art. 123: at most six months). A record is
//! kept to the later of the ordinary end and, where the controller's law
//! has one, the extended end (L. 167/2017 art. 24: 72 months), and read
//! beyond its ordinary end only for an order about a crime that rule lists.

use std::collections::HashMap;

use custode_policy::{Event as Start, Period, Policy};
use jiff::Timestamp;

use crate::law::Extension;

/// The traffic categories and what each holds.
pub const PHONE: &str = "phone_traffic";
/// Calls placed but not answered.
pub const UNANSWERED: &str = "unanswered_calls";
/// Internet sessions and mail logins.
pub const NET: &str = "net_traffic";

/// The periods of one category.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Periods {
    /// The ordinary legal period (Art. 132).
    pub ordinary: Period,
    /// The billing use, when a purpose has one (none for unanswered calls).
    pub billing: Option<Period>,
}

/// When a record's uses end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ends {
    /// End of the ordinary legal period.
    pub legal_until: Timestamp,
    /// End of the billing use.
    pub billing_until: Option<Timestamp>,
    /// When it goes: the later of the legal end and the extended one.
    pub kept_until: Timestamp,
}

/// The rules, read once from a policy.
#[derive(Clone, Debug)]
pub struct Rules {
    jurisdiction: String,
    periods: HashMap<&'static str, Periods>,
    /// The extended period and its crimes, when the controller's law has one.
    pub extension: Option<&'static Extension>,
}

/// Why a policy cannot keep traffic.
#[derive(Debug, thiserror::Error)]
#[error("the policy cannot keep traffic data: {0}")]
pub struct RulesError(pub String);

impl Rules {
    /// Reads the periods of every traffic category from `policy`.
    pub fn from_policy(policy: &Policy) -> Result<Rules, RulesError> {
        let mut periods = HashMap::new();
        for category in [PHONE, UNANSWERED, NET] {
            let mut ordinary: Option<Period> = None;
            let mut billing: Option<Period> = None;
            for p in &policy.purposes {
                if p.retention.from != Start::Collection
                    || !p.categories.iter().any(|c| c.value == category)
                {
                    continue;
                }
                let slot = if p.vault { &mut ordinary } else { &mut billing };
                let keep = p.retention.keep;
                if slot.is_none_or(|s| longer(keep, s)) {
                    *slot = Some(keep);
                }
            }
            let Some(ordinary) = ordinary else {
                if policy.category(category).is_some() {
                    return Err(RulesError(format!(
                        "category `{category}` has no legal-obligation (vault) purpose counting from collection: its legal period is unknown"
                    )));
                }
                continue;
            };
            periods.insert(category, Periods { ordinary, billing });
        }
        if periods.is_empty() {
            return Err(RulesError(format!(
                "it declares none of the categories `{PHONE}`, `{UNANSWERED}`, `{NET}`"
            )));
        }
        Ok(Rules {
            jurisdiction: policy.meta.jurisdiction.clone(),
            periods,
            extension: crate::law::extension(&policy.meta.jurisdiction),
        })
    }

    /// The periods of a category, when the policy keeps it.
    pub fn periods(&self, category: &str) -> Option<Periods> {
        self.periods.get(category).copied()
    }

    /// The categories the policy keeps.
    pub fn categories(&self) -> Vec<&'static str> {
        let mut c: Vec<&'static str> = self.periods.keys().copied().collect();
        c.sort_unstable();
        c
    }

    /// The end of `keep` counted from `at`, by Regulation 1182/71 in the
    /// controller's zone (the day of the communication is not counted).
    pub fn end(&self, at: Timestamp, keep: Period) -> Timestamp {
        custode_domain::records::period_end(&self.jurisdiction, at, keep).unwrap_or(Timestamp::MAX)
    }

    /// When a record of `category` made at `at` stops being used, read, kept.
    pub fn ends(&self, category: &str, at: Timestamp) -> Option<Ends> {
        let p = self.periods(category)?;
        let legal_until = self.end(at, p.ordinary);
        let extended = self.extension.map(|e| self.end(at, e.period));
        Some(Ends {
            legal_until,
            billing_until: p.billing.map(|b| self.end(at, b)),
            kept_until: extended.map_or(legal_until, |e| e.max(legal_until)),
        })
    }

    /// The controller's time zone.
    pub fn zone(&self) -> jiff::tz::TimeZone {
        jiff::tz::TimeZone::get(custode_domain::zone_for(&self.jurisdiction))
            .unwrap_or(jiff::tz::TimeZone::UTC)
    }
}

/// Whether `a` is longer than `b` (compared as days, months as 31).
fn longer(a: Period, b: Period) -> bool {
    days(a) > days(b)
}

fn days(p: Period) -> u64 {
    use custode_policy::Unit;
    u64::from(p.amount)
        * match p.unit {
            Unit::Day => 1,
            Unit::Week => 7,
            Unit::Month => 31,
            Unit::Year => 366,
        }
}

/// A small cache of ends by category and hour: every record of one hour
/// ends on the same day, and computing an end walks the calendar.
#[derive(Default)]
pub(crate) struct EndsCache {
    by_hour: HashMap<(&'static str, i64), Ends>,
}

impl EndsCache {
    pub(crate) fn ends(
        &mut self,
        rules: &Rules,
        category: &'static str,
        at: Timestamp,
    ) -> Option<Ends> {
        // Zones the controllers use are whole hours from UTC, so an hour
        // never straddles a local midnight.
        let hour = at.as_second().div_euclid(3600);
        if let Some(e) = self.by_hour.get(&(category, hour)) {
            return Some(*e);
        }
        let e = rules.ends(category, at)?;
        if self.by_hour.len() > 100_000 {
            self.by_hour.clear();
        }
        self.by_hour.insert((category, hour), e);
        Some(e)
    }
}
