//! The audit log as a hash chain.
//!
//! Every entry commits to the one before it: `hash = SHA-256(domain || prev_hash
//! || seq || at || actor || action || subject || reason || detail)`. Changing a
//! byte, deleting an entry or reordering entries breaks the chain at that
//! point, and [`verify`] names each break. An attacker who rewrites the whole
//! chain is caught by checkpoints: the chain head signed from time to time with
//! the instance's Ed25519 key, which only the key holder can produce.
//!
//! Pure: the store appends entries in the same transaction as the change they
//! record and streams them back here to verify.

use custode_crypto::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use strum::{EnumString, IntoStaticStr, VariantArray};

/// The hash of the (absent) entry before the first one.
pub const GENESIS: [u8; 32] = [0; 32];

/// What happened, in words the audit reader filters on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, IntoStaticStr, EnumString, VariantArray)]
#[non_exhaustive]
#[strum(serialize_all = "snake_case")]
pub enum Action {
    /// A node of the tenancy tree was created.
    #[strum(serialize = "tenant.created")]
    TenantCreated,
    /// A node of the tenancy tree was closed: its subjects erased, its
    /// credentials revoked, its name dropped.
    #[strum(serialize = "tenant.closed")]
    TenantClosed,
    /// A data subject was created.
    #[strum(serialize = "subject.created")]
    SubjectCreated,
    /// Records were written for a subject.
    #[strum(serialize = "records.written")]
    RecordsWritten,
    /// A subject's records were read (decrypted) by someone.
    #[strum(serialize = "records.read")]
    RecordsRead,
    /// A subject was erased and its key destroyed.
    #[strum(serialize = "subject.erased")]
    SubjectErased,
    /// The master key was rotated.
    #[strum(serialize = "key.master_rotated")]
    MasterKeyRotated,
    /// A principal tried something it may not do.
    #[strum(serialize = "access.denied")]
    AccessDenied,
    /// A user or token was given a role.
    #[strum(serialize = "access.granted")]
    AccessGranted,
    /// A token was revoked.
    #[strum(serialize = "access.revoked")]
    AccessRevoked,
    /// A new policy version was put in force.
    #[strum(serialize = "policy.loaded")]
    PolicyLoaded,
    /// A person logged in.
    #[strum(serialize = "access.logged_in")]
    LoggedIn,
    /// A consent, objection or restriction event entered the ledger.
    #[strum(serialize = "consent.recorded")]
    ConsentRecorded,
    /// A subject's consent ledger (with its evidence) or a receipt was read.
    #[strum(serialize = "consent.read")]
    ConsentRead,
    /// An event of a subject's life (account closed, contract ended,
    /// activity) was recorded and its records rescheduled.
    #[strum(serialize = "subject.event")]
    SubjectEvent,
    /// The retention sweeper erased records whose end had passed.
    #[strum(serialize = "retention.erased")]
    RetentionErased,
    /// Records that only a legal obligation still needs moved to the vault.
    #[strum(serialize = "retention.vaulted")]
    RetentionVaulted,
    /// The legal officer queried the vault under an authority's order.
    #[strum(serialize = "vault.queried")]
    VaultQueried,
    /// A rights request was received.
    #[strum(serialize = "request.filed")]
    RequestFiled,
    /// A rights request's deadline was extended, with its reasons.
    #[strum(serialize = "request.extended")]
    RequestExtended,
    /// A rights request was answered (what was done, in counts).
    #[strum(serialize = "request.answered")]
    RequestAnswered,
    /// A one-time code was sent to check a requester's identity.
    #[strum(serialize = "request.code_sent")]
    RequestCodeSent,
    /// A requester's identity was checked: by code, or by a staff member
    /// who approved the documents.
    #[strum(serialize = "request.verified")]
    RequestVerified,
    /// A wrong, expired or replayed code, or a refused approval.
    #[strum(serialize = "request.verification_failed")]
    RequestVerificationFailed,
    /// An ID document or proxy was received, read or deleted.
    #[strum(serialize = "request.document")]
    RequestDocument,
    /// One right of a request was carried out (what was done, in counts).
    #[strum(serialize = "request.fulfilled")]
    RequestFulfilled,
    /// Fields of records were corrected (Art. 16); before and after are
    /// sealed under the subject's key.
    #[strum(serialize = "records.rectified")]
    RecordsRectified,
    /// A backup was taken: the stores copied, the key store exported
    /// sealed under a backup key generation.
    #[strum(serialize = "backup.taken")]
    BackupTaken,
    /// A backup key generation was made, or expired ones destroyed.
    #[strum(serialize = "backup.keys_rotated")]
    BackupKeysRotated,
    /// A backup was restored into a new data directory.
    #[strum(serialize = "backup.restored")]
    BackupRestored,
    /// The vault access log's lines written before it was a chain were
    /// chained at an upgrade; the entry holds the head they ended at.
    #[strum(serialize = "vault.log_chained")]
    VaultLogChained,
    /// A subject was found by one of its identifiers (the kind is kept,
    /// never the value).
    #[strum(serialize = "subject.found")]
    SubjectFound,
    /// A subject's audit trail was read (by the DPO, or by the subject).
    #[strum(serialize = "audit.trail_read")]
    TrailRead,
    /// A one-time code for the subject's portal was sent to an address the
    /// subject is known by.
    #[strum(serialize = "portal.code_sent")]
    PortalCodeSent,
    /// A personal data breach entered the register (Art. 33(5)).
    #[strum(serialize = "breach.recorded")]
    BreachRecorded,
    /// A breach's register entry changed (a new version: which fields).
    #[strum(serialize = "breach.changed")]
    BreachChanged,
    /// The people and records a breach touched were computed from the data
    /// (counts only).
    #[strum(serialize = "breach.assessed")]
    BreachAssessed,
    /// The list of the people a breach touched was read (ids, no data).
    #[strum(serialize = "breach.people_read")]
    BreachPeopleRead,
    /// The supervisory authority was notified of a breach, or given its
    /// follow-up.
    #[strum(serialize = "breach.authority_notified")]
    BreachAuthorityNotified,
    /// A person affected by a breach was told of it (Art. 34).
    #[strum(serialize = "breach.person_notified")]
    BreachPersonNotified,
}

impl Action {
    /// Every action, in declaration order.
    pub const ALL: &'static [Action] = <Action as strum::VariantArray>::VARIANTS;

    /// The stored name, e.g. `records.read`.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The action with a stored name.
    pub fn from_name(name: &str) -> Option<Action> {
        name.parse().ok()
    }
}

/// An event to append: who did what to whom, and why. `detail` is JSON and
/// never holds a personal value in clear — only ids, categories and counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The principal (person, machine or job) that acted.
    pub actor: String,
    /// What it did.
    pub action: Action,
    /// The subject concerned, if any.
    pub subject: Option<String>,
    /// Why: a purpose, a request id, an order reference.
    pub reason: Option<String>,
    /// Facts about the change: ids, categories, counts.
    pub detail: serde_json::Value,
}

/// An entry as stored: its position, its body, and the two hashes.
///
/// The body is the canonical JSON of the event (`at`, `actor`, `action`,
/// `subject`, `reason`, `detail`) and the only thing hashed; the database
/// derives its readable columns from it, so no column can be changed apart
/// from what the hash covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    /// The event, as canonical JSON.
    pub body: String,
    /// The hash of the previous entry.
    pub prev_hash: Vec<u8>,
    /// This entry's hash.
    pub hash: Vec<u8>,
}

/// The hash an entry must carry: `SHA-256("custode audit v2" || prev_hash ||
/// seq || body)`.
pub fn entry_hash(prev_hash: &[u8], seq: i64, body: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"custode audit v2");
    h.update((prev_hash.len() as u64).to_be_bytes());
    h.update(prev_hash);
    h.update(seq.to_be_bytes());
    h.update(body.as_bytes());
    h.finalize().into()
}

/// The canonical body of an event at a time (microseconds since the epoch).
pub fn body(event: &Event, at: i64) -> String {
    // serde_json orders object keys, so equal events give equal bodies.
    serde_json::json!({
        "at": at,
        "actor": event.actor,
        "action": event.action.name(),
        "subject": event.subject,
        "reason": event.reason,
        "detail": event.detail,
    })
    .to_string()
}

impl Entry {
    /// Builds the entry that follows `prev_hash` at `seq`.
    pub fn chain(prev_hash: &[u8], seq: i64, at: i64, event: &Event) -> Entry {
        let body = body(event, at);
        let hash = entry_hash(prev_hash, seq, &body).to_vec();
        Entry {
            seq,
            body,
            prev_hash: prev_hash.to_vec(),
            hash,
        }
    }

    fn computed_hash_at(&self, seq: i64) -> [u8; 32] {
        entry_hash(&self.prev_hash, seq, &self.body)
    }

    /// The body's fields, for display.
    pub fn fields(&self) -> EntryFields {
        let v: serde_json::Value = serde_json::from_str(&self.body).unwrap_or_default();
        let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
        EntryFields {
            at: v
                .get("at")
                .and_then(serde_json::Value::as_i64)
                .unwrap_or_default(),
            actor: text("actor").unwrap_or_default(),
            action: text("action").unwrap_or_default(),
            subject: text("subject"),
            reason: text("reason"),
            detail: v.get("detail").cloned().unwrap_or_default(),
        }
    }
}

/// An entry's body, read back.
#[derive(Clone, Debug, PartialEq)]
pub struct EntryFields {
    /// When, in microseconds since the epoch.
    pub at: i64,
    /// Who.
    pub actor: String,
    /// The action's stored name.
    pub action: String,
    /// Which subject.
    pub subject: Option<String>,
    /// Why.
    pub reason: Option<String>,
    /// Detail.
    pub detail: serde_json::Value,
}

/// A break in the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Break {
    /// The entry's content no longer matches its hash: it was altered.
    Altered {
        /// Which entry.
        seq: i64,
    },
    /// Entries are missing: `from..=to` were deleted.
    Missing {
        /// First missing.
        from: i64,
        /// Last missing.
        to: i64,
    },
    /// The entry is intact but stands in the wrong place.
    OutOfOrder {
        /// Where it stands.
        seq: i64,
        /// Where its hash says it belongs.
        belongs_at: i64,
    },
    /// The entry does not link to its predecessor's hash.
    Unlinked {
        /// Which entry.
        seq: i64,
    },
    /// A signed checkpoint disagrees with the chain (history rewritten, or
    /// its tail cut off).
    Checkpoint {
        /// The checkpoint's position.
        seq: i64,
        /// What is wrong.
        reason: &'static str,
    },
    /// A line of the vault access log, a chain of its own whose lines are
    /// also recorded in this one, is missing, altered or was added by hand.
    VaultLog {
        /// The line's position in the vault access log (0 when the break
        /// is not one line's).
        line: i64,
        /// What is wrong with it, in words.
        what: String,
    },
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Break::Altered { seq } => write!(
                f,
                "entry {seq} was altered: its content does not match its hash"
            ),
            Break::Missing { from, to } if from == to => write!(f, "entry {from} is missing"),
            Break::Missing { from, to } => write!(f, "entries {from} to {to} are missing"),
            Break::OutOfOrder { seq, belongs_at } => {
                write!(
                    f,
                    "entry {seq} is out of order: it belongs at position {belongs_at}"
                )
            }
            Break::Unlinked { seq } => {
                write!(f, "entry {seq} does not link to the entry before it")
            }
            Break::Checkpoint { seq, reason } => write!(f, "checkpoint at entry {seq}: {reason}"),
            Break::VaultLog { line: 0, what } => write!(f, "vault access log: {what}"),
            Break::VaultLog { line, what } => write!(f, "vault access log line {line}: {what}"),
        }
    }
}

/// What [`verify`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Entries read.
    pub checked: u64,
    /// The last entry's position.
    pub last_seq: i64,
    /// The last entry's hash, the chain head.
    pub head: Vec<u8>,
    /// Every break, in chain order (at most [`MAX_BREAKS`]).
    pub breaks: Vec<Break>,
}

impl Report {
    /// Whether the chain is intact.
    pub fn is_intact(&self) -> bool {
        self.breaks.is_empty()
    }
}

/// Breaks kept in a report; past this the chain is plainly compromised.
pub const MAX_BREAKS: usize = 1000;

/// Verifies the chain, streaming: feed entries in `seq` order with
/// [`Verifier::push`], then [`Verifier::finish`].
#[derive(Default)]
pub struct Verifier {
    report: Report,
    prev_seq: i64,
    prev_hash: Vec<u8>,
    // The previous entry, kept to recognise two entries swapped in place.
    prev_entry: Option<Entry>,
}

impl Verifier {
    /// A verifier at the start of the chain.
    pub fn new() -> Self {
        Verifier {
            prev_hash: GENESIS.to_vec(),
            ..Default::default()
        }
    }

    fn record(&mut self, b: Break) {
        if self.report.breaks.len() < MAX_BREAKS {
            self.report.breaks.push(b);
        }
    }

    /// Checks the next entry.
    pub fn push(&mut self, entry: Entry) {
        self.report.checked += 1;
        let expected_seq = self.prev_seq + 1;
        let hashes_at = |e: &Entry, seq: i64| e.computed_hash_at(seq)[..] == e.hash[..];
        let mut next_prev_hash = entry.hash.clone();
        if entry.seq > expected_seq {
            self.record(Break::Missing {
                from: expected_seq,
                to: entry.seq - 1,
            });
        } else if !hashes_at(&entry, entry.seq) {
            let swapped = self
                .prev_entry
                .as_ref()
                .filter(|p| hashes_at(p, entry.seq) && hashes_at(&entry, p.seq))
                .map(|p| (p.seq, p.hash.clone()));
            if let Some((a, prev_hash)) = swapped {
                // Two entries traded places: each hashes at the other's seat.
                let b = entry.seq;
                if matches!(self.report.breaks.last(), Some(Break::OutOfOrder { seq, .. }) if *seq == a)
                {
                    self.report.breaks.pop();
                }
                self.record(Break::OutOfOrder {
                    seq: a,
                    belongs_at: b,
                });
                self.record(Break::OutOfOrder {
                    seq: b,
                    belongs_at: a,
                });
                // The chain goes on from the entry that belongs later.
                next_prev_hash = prev_hash;
            } else if let Some(at) = [entry.seq - 1, entry.seq + 1]
                .into_iter()
                .find(|s| hashes_at(&entry, *s))
            {
                self.record(Break::OutOfOrder {
                    seq: entry.seq,
                    belongs_at: at,
                });
            } else {
                self.record(Break::Altered { seq: entry.seq });
            }
        } else if entry.prev_hash != self.prev_hash {
            self.record(Break::Unlinked { seq: entry.seq });
        }
        // Continue from the stored values, so later breaks are found too.
        self.prev_seq = entry.seq;
        self.prev_hash = next_prev_hash;
        self.prev_entry = Some(entry);
    }

    /// Checks signed checkpoints against what was read, then reports.
    pub fn finish(
        mut self,
        checkpoints: &[Checkpoint],
        key: &VerifyingKey,
        hashes_at: impl Fn(i64) -> Option<Vec<u8>>,
    ) -> Report {
        for cp in checkpoints {
            if !cp.verify(key) {
                self.record(Break::Checkpoint {
                    seq: cp.seq,
                    reason: "its signature is not valid for this instance's key",
                });
            } else if cp.seq > self.prev_seq {
                self.record(Break::Checkpoint {
                    seq: cp.seq,
                    reason: "the chain ends before it: entries were cut off",
                });
            } else if hashes_at(cp.seq).is_none_or(|h| h != cp.hash) {
                self.record(Break::Checkpoint {
                    seq: cp.seq,
                    reason: "the chain's hash there differs from the signed one: history was rewritten",
                });
            }
        }
        self.report.last_seq = self.prev_seq;
        self.report.head = self.prev_hash;
        self.report
    }
}

/// The fast first pass over a chain: recomputes each hash from the previous
/// entry's and checks positions follow without gaps, without keeping or
/// classifying anything. When it reports a break, run [`Verifier`] over the
/// chain to name each one.
#[derive(Clone, Debug)]
pub struct QuickScan {
    prev_seq: i64,
    prev_hash: Vec<u8>,
    /// Entries read.
    pub checked: u64,
    /// Whether every entry so far chained correctly.
    pub intact: bool,
}

impl Default for QuickScan {
    fn default() -> Self {
        QuickScan {
            prev_seq: 0,
            prev_hash: GENESIS.to_vec(),
            checked: 0,
            intact: true,
        }
    }
}

impl QuickScan {
    /// Checks the next entry, given its position, body and stored hash.
    pub fn push(&mut self, seq: i64, body: &str, hash: &[u8]) {
        self.checked += 1;
        if seq != self.prev_seq + 1 || entry_hash(&self.prev_hash, seq, body)[..] != *hash {
            self.intact = false;
        }
        self.prev_seq = seq;
        self.prev_hash.clear();
        self.prev_hash.extend_from_slice(hash);
    }

    /// The last position and hash read.
    pub fn head(&self) -> (i64, &[u8]) {
        (self.prev_seq, &self.prev_hash)
    }

    /// Takes in a [`Segment`] checked elsewhere, as if its entries had been
    /// pushed one by one: only the link from this scan's last entry to the
    /// segment's first is left to check here. Segments must be joined in
    /// chain order.
    pub fn join(&mut self, segment: Segment) {
        let Some((seq, body, hash)) = segment.first else {
            return;
        };
        self.push(seq, &body, &hash);
        self.checked += segment.checked - 1;
        self.intact &= segment.intact;
        self.prev_seq = segment.last_seq;
        self.prev_hash = segment.last_hash;
    }

    /// Checks the signed checkpoints against the hashes seen at their
    /// positions, and reports.
    pub fn finish(
        self,
        checkpoints: &[Checkpoint],
        key: &VerifyingKey,
        hashes_at: impl Fn(i64) -> Option<Vec<u8>>,
    ) -> Report {
        let mut v = Verifier {
            report: Report {
                checked: self.checked,
                ..Report::default()
            },
            prev_seq: self.prev_seq,
            prev_hash: self.prev_hash,
            prev_entry: None,
        };
        if !self.intact {
            v.record(Break::Unlinked { seq: 0 });
        }
        v.finish(checkpoints, key, hashes_at)
    }
}

/// A run of consecutive entries checked on its own, so that runs can be
/// checked on several cores at once: each entry's hash depends only on the
/// stored hash of the entry before it, so every link inside the run is
/// checked here, and the one link into the run (its first entry) when it is
/// joined to the scan of everything before it ([`QuickScan::join`]).
#[derive(Clone, Debug)]
pub struct Segment {
    /// The first entry, checked at the join: position, body, stored hash.
    first: Option<(i64, String, Vec<u8>)>,
    last_seq: i64,
    last_hash: Vec<u8>,
    checked: u64,
    intact: bool,
}

impl Default for Segment {
    fn default() -> Self {
        Segment {
            first: None,
            last_seq: 0,
            last_hash: Vec::new(),
            checked: 0,
            intact: true,
        }
    }
}

impl Segment {
    /// Checks the next entry of the run, given its position, body and
    /// stored hash.
    pub fn push(&mut self, seq: i64, body: &str, hash: &[u8]) {
        self.checked += 1;
        if self.first.is_none() {
            self.first = Some((seq, body.to_owned(), hash.to_vec()));
        } else if seq != self.last_seq + 1 || entry_hash(&self.last_hash, seq, body)[..] != *hash {
            self.intact = false;
        }
        self.last_seq = seq;
        self.last_hash.clear();
        self.last_hash.extend_from_slice(hash);
    }

    /// Entries pushed.
    pub fn checked(&self) -> u64 {
        self.checked
    }
}

/// Verifies a whole chain held in memory (tests, small logs).
pub fn verify(entries: &[Entry], checkpoints: &[Checkpoint], key: &VerifyingKey) -> Report {
    let mut v = Verifier::new();
    for e in entries {
        v.push(e.clone());
    }
    v.finish(checkpoints, key, |seq| {
        entries
            .iter()
            .find(|e| e.seq == seq)
            .map(|e| e.hash.clone())
    })
}

/// The chain head at `seq`, signed by the instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The position signed.
    pub seq: i64,
    /// The entry's hash there.
    pub hash: Vec<u8>,
    /// When it was signed, microseconds since the epoch.
    pub at: i64,
    /// Ed25519 signature.
    pub signature: Vec<u8>,
}

fn checkpoint_message(seq: i64, hash: &[u8], at: i64) -> Vec<u8> {
    let mut m = b"custode audit checkpoint v1".to_vec();
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(hash);
    m.extend_from_slice(&at.to_be_bytes());
    m
}

impl Checkpoint {
    /// Signs the head `(seq, hash)`.
    pub fn sign(key: &SigningKey, seq: i64, hash: &[u8], at: i64) -> Checkpoint {
        let signature = key.sign(&checkpoint_message(seq, hash, at));
        Checkpoint {
            seq,
            hash: hash.to_vec(),
            at,
            signature: signature.to_bytes().to_vec(),
        }
    }

    /// Whether the signature holds under `key`.
    pub fn verify(&self, key: &VerifyingKey) -> bool {
        let Ok(bytes) = <[u8; 64]>::try_from(self.signature.as_slice()) else {
            return false;
        };
        key.verify_strict(
            &checkpoint_message(self.seq, &self.hash, self.at),
            &Signature::from_bytes(&bytes),
        )
        .is_ok()
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod action_names {
    use super::*;

    /// The names as the audit log stores them (in every entry's hashed body):
    /// never renamed, whatever the enum becomes.
    const STORED: [(Action, &str); 31] = [
        (Action::TenantCreated, "tenant.created"),
        (Action::TenantClosed, "tenant.closed"),
        (Action::SubjectCreated, "subject.created"),
        (Action::RecordsWritten, "records.written"),
        (Action::RecordsRead, "records.read"),
        (Action::SubjectErased, "subject.erased"),
        (Action::MasterKeyRotated, "key.master_rotated"),
        (Action::AccessDenied, "access.denied"),
        (Action::AccessGranted, "access.granted"),
        (Action::AccessRevoked, "access.revoked"),
        (Action::PolicyLoaded, "policy.loaded"),
        (Action::LoggedIn, "access.logged_in"),
        (Action::ConsentRecorded, "consent.recorded"),
        (Action::ConsentRead, "consent.read"),
        (Action::SubjectEvent, "subject.event"),
        (Action::RetentionErased, "retention.erased"),
        (Action::RetentionVaulted, "retention.vaulted"),
        (Action::VaultQueried, "vault.queried"),
        (Action::RequestFiled, "request.filed"),
        (Action::RequestExtended, "request.extended"),
        (Action::RequestAnswered, "request.answered"),
        (Action::RequestCodeSent, "request.code_sent"),
        (Action::RequestVerified, "request.verified"),
        (
            Action::RequestVerificationFailed,
            "request.verification_failed",
        ),
        (Action::RequestDocument, "request.document"),
        (Action::RequestFulfilled, "request.fulfilled"),
        (Action::RecordsRectified, "records.rectified"),
        (Action::BackupTaken, "backup.taken"),
        (Action::BackupKeysRotated, "backup.keys_rotated"),
        (Action::BackupRestored, "backup.restored"),
        (Action::VaultLogChained, "vault.log_chained"),
    ];

    #[test]
    fn every_action_round_trips_and_keeps_its_name() {
        for (value, name) in STORED {
            assert_eq!(value.name(), name);
            assert_eq!(Action::from_name(name), Some(value));
        }
        for value in Action::ALL {
            assert_eq!(Action::from_name(value.name()), Some(*value));
        }
        assert_eq!(Action::from_name(""), None);
        assert_eq!(
            Action::from_name(&STORED[0].1.to_uppercase()),
            None,
            "names are exact"
        );
    }
}
