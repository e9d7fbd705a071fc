//! "May I process purpose P for this subject now?" — the rule, once.
//!
//! In order of precedence: an objection to direct marketing stops every
//! direct-marketing purpose whatever its basis (Art. 21(3), absolute); a
//! restriction stops everything but storage, so only legal obligations go
//! on (Art. 18(2)); an objection to a purpose stops it (Art. 21(1)); a
//! consent purpose needs a consent given against the purpose as it stands
//! now (Art. 7); the other bases need nothing from the subject.

use custode_policy::{Basis, Purpose};
use serde::Serialize;

use crate::ledger::{EventId, EventKind, SubjectState};

/// Why the answer is what it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// A consent in force: the event that gave it.
    Consent(EventId),
    /// The purpose rests on a basis other than consent, and nothing stops it.
    Basis,
    /// No consent was ever given to the purpose.
    NoConsent,
    /// The consent was withdrawn, by this event.
    Withdrawn(EventId),
    /// The consent expired, by this event.
    Expired(EventId),
    /// The consent was given to an earlier form of the purpose.
    ReconsentNeeded(EventId),
    /// Processing is restricted (Art. 18), by this event.
    Restricted(EventId),
    /// The subject objected to this purpose (Art. 21(1)).
    Objected(EventId),
    /// The subject objected to direct marketing (Art. 21(3)).
    ObjectedToDirectMarketing(EventId),
    /// The subject is younger than the policy's minimum age (its birth
    /// date says so): only legal obligations go on.
    UnderAge,
    /// The subject was erased.
    Erased,
}

impl Reason {
    /// A stable code for machines.
    pub fn code(self) -> &'static str {
        match self {
            Reason::Consent(_) => "consent",
            Reason::Basis => "legal_basis",
            Reason::NoConsent => "no_consent",
            Reason::Withdrawn(_) => "consent_withdrawn",
            Reason::Expired(_) => "consent_expired",
            Reason::ReconsentNeeded(_) => "reconsent_needed",
            Reason::Restricted(_) => "restricted",
            Reason::Objected(_) => "objected",
            Reason::ObjectedToDirectMarketing(_) => "objected_to_direct_marketing",
            Reason::UnderAge => "under_age",
            Reason::Erased => "erased",
        }
    }

    /// The ledger event the answer rests on, if any.
    pub fn event(self) -> Option<EventId> {
        match self {
            Reason::Consent(e)
            | Reason::Withdrawn(e)
            | Reason::Expired(e)
            | Reason::ReconsentNeeded(e)
            | Reason::Restricted(e)
            | Reason::Objected(e)
            | Reason::ObjectedToDirectMarketing(e) => Some(e),
            Reason::Basis | Reason::NoConsent | Reason::UnderAge | Reason::Erased => None,
        }
    }
}

/// The answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Whether the purpose may be pursued now.
    pub allowed: bool,
    /// The purpose's legal basis.
    pub basis: Basis,
    /// Why.
    pub reason: Reason,
}

impl Serialize for Decision {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Decision", 4)?;
        st.serialize_field("allowed", &self.allowed)?;
        st.serialize_field("basis", self.basis.key())?;
        st.serialize_field("reason", self.reason.code())?;
        st.serialize_field("event", &self.reason.event().map(|e| e.to_string()))?;
        st.end()
    }
}

/// Decides for a purpose as it stands in the policy now; `current_digest`
/// is its digest in that policy.
pub fn decide(purpose: &Purpose, current_digest: &str, state: &SubjectState) -> Decision {
    let answer = |allowed, reason| Decision {
        allowed,
        basis: purpose.basis,
        reason,
    };
    if purpose.direct_marketing
        && let Some(e) = state.objection(None)
    {
        return answer(false, Reason::ObjectedToDirectMarketing(e));
    }
    if let Some(e) = state.restriction
        && purpose.basis != Basis::LegalObligation
    {
        return answer(false, Reason::Restricted(e));
    }
    if let Some(e) = state.objection(Some(&purpose.id.value)) {
        return answer(false, Reason::Objected(e));
    }
    if purpose.basis != Basis::Consent {
        return answer(true, Reason::Basis);
    }
    match state.consent(&purpose.id.value) {
        None => answer(false, Reason::NoConsent),
        Some(c) => match c.kind {
            EventKind::Given if c.digest.as_deref() == Some(current_digest) => {
                answer(true, Reason::Consent(c.event))
            }
            EventKind::Given => answer(false, Reason::ReconsentNeeded(c.event)),
            EventKind::Expired => answer(false, Reason::Expired(c.event)),
            _ => answer(false, Reason::Withdrawn(c.event)),
        },
    }
}

/// Whether the subject may object to a purpose under Art. 21: processing
/// on legitimate interests or a public task (21(1)), direct marketing on
/// any basis (21(2)), or consent (where objecting means withdrawing).
pub fn objection_applies(purpose: &Purpose) -> bool {
    purpose.direct_marketing
        || matches!(
            purpose.basis,
            Basis::LegitimateInterests | Basis::PublicTask | Basis::Consent
        )
}
