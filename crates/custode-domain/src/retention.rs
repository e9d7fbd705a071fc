//! When a record must go, and when only the law still needs it.
//!
//! A record serves purposes; each purpose keeps it for a period counted from
//! collection or from an event of the subject's life (account closed,
//! contract ended, last activity, consent withdrawn). The record goes when
//! the last purpose is done with it, and not a day earlier. An event that has
//! not happened keeps the record's end open.
//!
//! Vault purposes (legal obligations the policy marks `vault`) keep data
//! apart: a record moves to the vault once no other purpose needs it — at
//! once when it serves only vault purposes, at account closure otherwise
//! (minimisation), or when the other purposes' periods run out.

use std::collections::BTreeMap;

use custode_policy::{Event, Period, Policy};
use jiff::Timestamp;

use crate::records::{period_end, zone};

/// What has happened in a subject's life that retention rules count from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LifeEvents {
    /// The account was closed.
    pub account_closed: Option<Timestamp>,
    /// The contract ended (the closure counts when none is recorded).
    pub contract_end: Option<Timestamp>,
    /// The latest recorded activity (the subject's creation when none).
    pub last_activity: Option<Timestamp>,
    /// Per consent purpose: `Some(t)` withdrawn (or expired) at `t`,
    /// `None` consent in force. A purpose absent here counts as in force:
    /// its period waits for a withdrawal or the account's closure.
    pub consent: BTreeMap<String, Option<Timestamp>>,
}

/// A record's resolved dates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resolved {
    /// When it must be gone; `None` while an event it waits for has not
    /// happened.
    pub retain_until: Option<Timestamp>,
    /// When it moves to the vault; `None` when it never does (or not yet
    /// known).
    pub vault_from: Option<Timestamp>,
    /// When its vault copy must be gone: the end of its vault purposes.
    pub vault_until: Option<Timestamp>,
    /// The purpose whose period ends last: the rule that erases it.
    pub rule: Option<String>,
}

/// The end of one purpose's period for a record, if known.
fn purpose_end(
    policy: &Policy,
    purpose: &custode_policy::Purpose,
    collected_at: Timestamp,
    life: &LifeEvents,
) -> Option<Timestamp> {
    let closed = life.account_closed;
    let from = match purpose.retention.from {
        Event::Collection => Some(collected_at),
        Event::AccountClosed => closed,
        Event::ContractEnd => life.contract_end.or(closed),
        Event::LastActivity => Some(
            life.last_activity
                .map_or(collected_at, |a| a.max(collected_at)),
        ),
        Event::ConsentWithdrawn => match life.consent.get(&purpose.id.value) {
            Some(Some(withdrawn)) => Some(*withdrawn),
            // Closing the account ends every consent.
            Some(None) | None => closed,
        },
    }?;
    // A period never starts before the datum existed.
    period_end(
        &policy.meta.jurisdiction,
        from.max(collected_at),
        purpose.retention.keep,
    )
}

/// Resolves a record serving `purposes`, collected at `collected_at`, given
/// the subject's life so far. Unknown purposes leave the end open, so a
/// record is never erased on a guess.
pub fn resolve(
    policy: &Policy,
    purposes: &[String],
    collected_at: Timestamp,
    life: &LifeEvents,
) -> Resolved {
    let mut latest: Option<(Timestamp, &str)> = None;
    let mut open = purposes.is_empty();
    let mut vault = false;
    let mut vault_end: Option<Timestamp> = None;
    let mut vault_open = false;
    let mut others_end: Option<Timestamp> = None;
    let mut others_open = false;
    let mut has_others = false;
    for id in purposes {
        let Some(p) = policy.purpose(id) else {
            open = true;
            continue;
        };
        let end = purpose_end(policy, p, collected_at, life);
        match end {
            Some(e) if latest.is_none_or(|(l, _)| e > l) => latest = Some((e, id)),
            Some(_) => {}
            None => open = true,
        }
        if p.vault {
            vault = true;
            match end {
                Some(e) => vault_end = Some(vault_end.map_or(e, |v| v.max(e))),
                None => vault_open = true,
            }
        } else {
            has_others = true;
            match end {
                Some(e) => others_end = Some(others_end.map_or(e, |o| o.max(e))),
                None => others_open = true,
            }
        }
    }
    let retain_until = if open { None } else { latest.map(|(e, _)| e) };
    let vault_from = if !vault {
        None
    } else if !has_others {
        Some(collected_at)
    } else if let Some(closed) = life.account_closed {
        Some(closed.max(collected_at))
    } else if others_open {
        None
    } else {
        others_end
    };
    let vault_until = if vault_open { None } else { vault_end };
    // Nothing moves to the vault that the law no longer needs by then.
    let vault_from = vault_from.filter(|v| vault_until.is_none_or(|u| *v < u));
    Resolved {
        retain_until,
        vault_from,
        vault_until: vault_from.and(vault_until),
        rule: latest.map(|(_, id)| id.to_owned()),
    }
}

/// When an account last active at `last` is closed by an inactivity rule of
/// `span` (the day after the span ends, counted like retention periods).
pub fn inactivity_closes_at(policy: &Policy, last: Timestamp, span: Period) -> Option<Timestamp> {
    period_end(&policy.meta.jurisdiction, last, span)
}

/// An instant such that every account last active before it has reached
/// its inactivity closure of `span` by `now` (give or take the days a
/// calendar month clamps): a bound for the query, refined by
/// [`inactivity_closes_at`].
pub fn inactive_before(policy: &Policy, now: Timestamp, span: Period) -> Option<Timestamp> {
    let tz = zone(&policy.meta.jurisdiction);
    let n = i64::from(span.amount);
    let span = match span.unit {
        custode_policy::Unit::Day => jiff::Span::new().days(n),
        custode_policy::Unit::Week => jiff::Span::new().weeks(n),
        custode_policy::Unit::Month => jiff::Span::new().months(n),
        custode_policy::Unit::Year => jiff::Span::new().years(n),
    };
    let day = now.to_zoned(tz.clone()).date().checked_sub(span).ok()?;
    day.to_zoned(tz).ok().map(|z| z.timestamp())
}
