//! The ledger's vocabulary, and a subject's consent state as derived from
//! its events. Events are never changed: the state is a fold over them, so
//! any past state can be rebuilt and proven.

use std::fmt;
use std::sync::Arc;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use strum::{EnumString, IntoStaticStr, VariantArray};

/// What happened.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    IntoStaticStr,
    EnumString,
    VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum EventKind {
    /// Consent given to a purpose (Art. 6(1)(a), 7).
    Given,
    /// Consent withdrawn (Art. 7(3)): processing stops from now on.
    Withdrawn,
    /// Consent lapsed (a validity the controller set ran out).
    Expired,
    /// The subject was asked again (after a change of the purpose); the old
    /// consent still does not count until a new one is given.
    Reasked,
    /// Objection (Art. 21) to one purpose, or to all direct marketing when
    /// the event names no purpose.
    Objected,
    /// An objection ended.
    ObjectionLifted,
    /// Restriction of processing (Art. 18): the data are only stored.
    Restricted,
    /// The restriction ended.
    RestrictionLifted,
}

impl EventKind {
    /// Every kind, in declaration order.
    pub const ALL: &'static [EventKind] = <EventKind as strum::VariantArray>::VARIANTS;

    /// The stored name.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The kind with a stored name.
    pub fn from_name(name: &str) -> Option<EventKind> {
        name.parse().ok()
    }

    /// Whether the event is about consent to one purpose (and so names it).
    pub fn is_consent(self) -> bool {
        matches!(
            self,
            EventKind::Given | EventKind::Withdrawn | EventKind::Expired | EventKind::Reasked
        )
    }
}

/// How the event reached the controller.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    IntoStaticStr,
    EnumString,
    VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Channel {
    /// A form on the controller's web site.
    WebForm,
    /// The controller's app.
    App,
    /// A phone call, recorded by an operator.
    Phone,
    /// A signed paper form.
    Paper,
    /// An e-mail from the subject.
    Email,
    /// The one-click unsubscribe link of a message (RFC 8058).
    OneClick,
    /// Another system through the API.
    Api,
}

impl Channel {
    /// Every channel, in declaration order.
    pub const ALL: &'static [Channel] = <Channel as strum::VariantArray>::VARIANTS;

    /// The stored name.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The channel with a stored name.
    pub fn from_name(name: &str) -> Option<Channel> {
        name.parse().ok()
    }
}

/// Proof of how the event was expressed. Personal data: stored sealed
/// under the subject's key, so erasing the subject erases it too.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// The address the request came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// The browser or app that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Which form or screen, and its version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form_id: Option<String>,
    /// The operator who took it by phone or on paper.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
}

/// The id of a ledger event: a random UUID (version 4), which is also the
/// consent receipt's id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId([u8; 16]);

/// Why a string is not an event id.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a consent event id: ids are UUIDs like 0b6f3c1e-5d2a-4f7e-9a41-3c2d1e0f9b8a")]
pub struct InvalidEventId(pub String);

impl EventId {
    /// A fresh random id.
    pub fn generate() -> EventId {
        let mut b = [0u8; 16];
        // The OS generator failing is not recoverable: no id can be made safely.
        getrandom::fill(&mut b).unwrap_or_else(|e| panic!("no system randomness: {e}"));
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        EventId(b)
    }

    /// Parses the hyphenated form.
    pub fn parse(s: &str) -> Result<EventId, InvalidEventId> {
        let bad = || InvalidEventId(s.chars().take(64).collect());
        let groups: Vec<&str> = s.split('-').collect();
        if groups.iter().map(|g| g.len()).collect::<Vec<_>>() != [8, 4, 4, 4, 12] {
            return Err(bad());
        }
        let digits: String = groups.concat();
        if !digits
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(bad());
        }
        let bytes = hex::decode(digits).map_err(|_| bad())?;
        Ok(EventId(bytes.try_into().map_err(|_| bad())?))
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = hex::encode(self.0);
        write!(
            f,
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// What a state fold needs of an event: no evidence, no personal data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Its id.
    pub id: EventId,
    /// What happened.
    pub kind: EventKind,
    /// The purpose; `None` for a restriction, or for an objection to all
    /// direct marketing.
    pub purpose: Option<Arc<str>>,
    /// The purpose's digest when the event happened (see [`crate::digest`]).
    pub purpose_digest: Option<Arc<str>>,
    /// When.
    pub at: Timestamp,
}

/// The latest consent event of one purpose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PurposeConsent {
    /// The purpose.
    pub purpose: Arc<str>,
    /// Given, withdrawn or expired.
    pub kind: EventKind,
    /// The purpose's digest the consent was given against.
    pub digest: Option<Arc<str>>,
    /// The event.
    pub event: EventId,
    /// When.
    pub at: Timestamp,
}

/// A subject's state: the fold of its events in ledger order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubjectState {
    /// Per purpose, the latest consent event (re-asking changes nothing).
    pub consents: Vec<PurposeConsent>,
    /// Objections in force: the purpose (`None`: all direct marketing) and
    /// the event that raised it.
    pub objections: Vec<(Option<Arc<str>>, EventId)>,
    /// The restriction in force, if any.
    pub restriction: Option<EventId>,
}

impl SubjectState {
    /// The state after `events`, in ledger order.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a Entry>) -> SubjectState {
        let mut s = SubjectState::default();
        for e in events {
            s.apply(e);
        }
        s
    }

    /// Folds one more event in.
    pub fn apply(&mut self, e: &Entry) {
        match e.kind {
            EventKind::Reasked => {}
            EventKind::Given | EventKind::Withdrawn | EventKind::Expired => {
                let Some(purpose) = &e.purpose else { return };
                let latest = PurposeConsent {
                    purpose: purpose.clone(),
                    kind: e.kind,
                    digest: e.purpose_digest.clone(),
                    event: e.id,
                    at: e.at,
                };
                match self.consents.iter_mut().find(|c| c.purpose == *purpose) {
                    Some(c) => *c = latest,
                    None => self.consents.push(latest),
                }
            }
            EventKind::Objected => {
                if !self.objections.iter().any(|(p, _)| *p == e.purpose) {
                    self.objections.push((e.purpose.clone(), e.id));
                }
            }
            EventKind::ObjectionLifted => self.objections.retain(|(p, _)| *p != e.purpose),
            EventKind::Restricted => self.restriction = Some(e.id),
            EventKind::RestrictionLifted => self.restriction = None,
        }
    }

    /// The latest consent event of a purpose.
    pub fn consent(&self, purpose: &str) -> Option<&PurposeConsent> {
        self.consents.iter().find(|c| &*c.purpose == purpose)
    }

    /// The objection in force against a purpose (`None`: against all
    /// direct marketing).
    pub fn objection(&self, purpose: Option<&str>) -> Option<EventId> {
        self.objections
            .iter()
            .find(|(p, _)| p.as_deref() == purpose)
            .map(|(_, id)| *id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: EventKind, purpose: Option<&str>) -> Entry {
        Entry {
            id: EventId::generate(),
            kind,
            purpose: purpose.map(Arc::from),
            purpose_digest: Some(Arc::from("d1")),
            at: Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn event_ids_round_trip_as_uuids() {
        let id = EventId::generate();
        let text = id.to_string();
        assert_eq!(text.len(), 36);
        assert_eq!(&text[14..15], "4", "version 4");
        assert_eq!(EventId::parse(&text), Ok(id));
        assert!(EventId::parse("0b6f3c1e5d2a4f7e9a413c2d1e0f9b8a").is_err());
        assert!(EventId::parse("0B6F3C1E-5D2A-4F7E-9A41-3C2D1E0F9B8A").is_err());
    }

    #[test]
    fn the_latest_consent_event_wins_and_reasking_changes_nothing() {
        let given = entry(EventKind::Given, Some("news"));
        let withdrawn = entry(EventKind::Withdrawn, Some("news"));
        let s = SubjectState::from_events([&given, &withdrawn]);
        assert_eq!(
            s.consent("news").map(|c| c.kind),
            Some(EventKind::Withdrawn)
        );
        let again = entry(EventKind::Given, Some("news"));
        let asked = entry(EventKind::Reasked, Some("news"));
        let s = SubjectState::from_events([&given, &withdrawn, &again, &asked]);
        assert_eq!(s.consent("news").map(|c| c.event), Some(again.id));
    }

    #[test]
    fn objections_and_restrictions_are_raised_and_lifted() {
        let o = entry(EventKind::Objected, None);
        let r = entry(EventKind::Restricted, None);
        let s = SubjectState::from_events([&o, &r]);
        assert_eq!(s.objection(None), Some(o.id));
        assert_eq!(s.restriction, Some(r.id));
        let lifted = entry(EventKind::ObjectionLifted, None);
        let s = SubjectState::from_events([&o, &r, &lifted]);
        assert_eq!(s.objection(None), None);
        assert_eq!(s.restriction, Some(r.id));
    }
}

#[cfg(test)]
mod event_kind_names {
    use super::*;

    /// The names as the consent ledger stores them (and receipts show them):
    /// never renamed, whatever the enum becomes.
    const STORED: [(EventKind, &str); 8] = [
        (EventKind::Given, "given"),
        (EventKind::Withdrawn, "withdrawn"),
        (EventKind::Expired, "expired"),
        (EventKind::Reasked, "reasked"),
        (EventKind::Objected, "objected"),
        (EventKind::ObjectionLifted, "objection_lifted"),
        (EventKind::Restricted, "restricted"),
        (EventKind::RestrictionLifted, "restriction_lifted"),
    ];

    #[test]
    fn every_event_kind_round_trips_and_keeps_its_name() {
        for (value, name) in STORED {
            assert_eq!(value.name(), name);
            assert_eq!(EventKind::from_name(name), Some(value));
        }
        for value in EventKind::ALL {
            assert_eq!(EventKind::from_name(value.name()), Some(*value));
        }
        assert_eq!(EventKind::from_name(""), None);
        assert_eq!(
            EventKind::from_name(&STORED[0].1.to_uppercase()),
            None,
            "names are exact"
        );
    }
}

#[cfg(test)]
mod channel_names {
    use super::*;

    /// The names as the consent ledger stores them (and receipts show them):
    /// never renamed, whatever the enum becomes.
    const STORED: [(Channel, &str); 7] = [
        (Channel::WebForm, "web_form"),
        (Channel::App, "app"),
        (Channel::Phone, "phone"),
        (Channel::Paper, "paper"),
        (Channel::Email, "email"),
        (Channel::OneClick, "one_click"),
        (Channel::Api, "api"),
    ];

    #[test]
    fn every_channel_round_trips_and_keeps_its_name() {
        for (value, name) in STORED {
            assert_eq!(value.name(), name);
            assert_eq!(Channel::from_name(name), Some(value));
        }
        for value in Channel::ALL {
            assert_eq!(Channel::from_name(value.name()), Some(*value));
        }
        assert_eq!(Channel::from_name(""), None);
        assert_eq!(
            Channel::from_name(&STORED[0].1.to_uppercase()),
            None,
            "names are exact"
        );
    }
}
