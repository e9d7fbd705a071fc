//! The consent ledger at rest: events appended (never changed) with their
//! audit entry in one transaction, evidence sealed under the subject's key,
//! decisions answered from the warm fold (see `decisions`), receipts built
//! from the policy version each event cites, and one-click unsubscribe.

use std::collections::HashMap;
use std::sync::Arc;

use custode_audit::{Action, Event};
use custode_consent::receipt::{self, Format, Publication, ReceiptEvent, SignedReceipt};
use custode_consent::{
    Channel, Decision, Entry, EventId, EventKind, Evidence, Reason, SubjectState,
};
use custode_crypto::Key;
use custode_domain::clock::{from_micros, to_micros};
use custode_domain::{Principal, SubjectId};
use custode_policy::{Basis, Lang, Policy};
use jiff::Timestamp;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::decisions::Known;
use custode_store::{StoreError, audit_log, not_found};

use crate::Ledger;

/// An event to append to a subject's ledger.
#[derive(Clone, Debug)]
pub struct NewConsentEvent {
    /// What happened.
    pub kind: EventKind,
    /// The purpose: required for consent events; for an objection, `None`
    /// objects to all direct marketing; none for a restriction.
    pub purpose: Option<String>,
    /// How it reached the controller.
    pub channel: Channel,
    /// The language of the notice the subject was shown; the policy's
    /// first language when not given.
    pub language: Option<Lang>,
    /// Proof of how it was expressed.
    pub evidence: Evidence,
}

/// An event as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct ConsentEvent {
    /// Its id (also the receipt id).
    pub id: EventId,
    /// The subject.
    pub subject: SubjectId,
    /// What happened.
    pub kind: EventKind,
    /// The purpose, if the event names one.
    pub purpose: Option<String>,
    /// Through which channel.
    pub channel: Channel,
    /// The notice language.
    pub language: Lang,
    /// When.
    pub at: Timestamp,
    /// Who recorded it.
    pub actor: String,
    /// Digest of the policy file it was recorded under.
    pub policy_digest: String,
    /// Digest of the notice text in `language` under that policy.
    pub notice_digest: String,
    /// The evidence, when it was read (it is sealed at rest).
    pub evidence: Option<Evidence>,
}

/// What a one-click unsubscribe did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unsubscribed {
    /// The consent was withdrawn (or the objection recorded) now.
    Done(EventId),
    /// The token is not one of ours, or its subject is gone.
    Unknown,
}

/// Ledger rows per multi-row insert (13 parameters each).
const CONSENTS_PER_INSERT: usize = 400;

const EVENT_COLUMNS: &str = "e.id, e.kind, e.purpose, e.channel, e.language, e.at, e.actor, \
     p.digest, e.notice_digest, e.evidence, s.id, s.tenant_path";

impl Ledger {
    /// Appends an event to a subject's consent ledger, with its audit entry,
    /// in one transaction; the decision cache sees it before this returns.
    pub async fn record_consent(
        &self,
        by: &Principal,
        subject: &SubjectId,
        new: NewConsentEvent,
    ) -> Result<ConsentEvent, StoreError> {
        self.record_consents(by, vec![(subject.clone(), new)])
            .await?
            .pop()
            .ok_or_else(|| StoreError::Invalid("no consent event was recorded".to_owned()))
    }

    /// Appends a batch of ledger events (an import of consents collected
    /// elsewhere, say) in one transaction: all or nothing, each checked like
    /// a single one, each with its audit entry.
    pub async fn record_consents(
        &self,
        by: &Principal,
        batch: Vec<(SubjectId, NewConsentEvent)>,
    ) -> Result<Vec<ConsentEvent>, StoreError> {
        self.append_consents(by, batch, false).await
    }

    /// Lifts a subject's restriction (Art. 18(3)): only once the subject
    /// has been told, so the caller sends the notice first and names where
    /// it went; the ledger event records it.
    pub async fn lift_restriction(
        &self,
        by: &Principal,
        subject: &SubjectId,
        notice_sent_to: &str,
    ) -> Result<ConsentEvent, StoreError> {
        if !self.knows_email(subject, notice_sent_to).await? {
            return Err(StoreError::Invalid(
                "a restriction is lifted only after the subject is told (Art. 18(3)), at an e-mail address the subject is known by"
                    .to_owned(),
            ));
        }
        let mut events = self
            .append_consents(
                by,
                vec![(
                    subject.clone(),
                    NewConsentEvent {
                        kind: EventKind::RestrictionLifted,
                        purpose: None,
                        channel: Channel::Email,
                        language: None,
                        evidence: Evidence {
                            form_id: Some("restriction lift notice".to_owned()),
                            operator: Some(by.id.clone()),
                            ..Evidence::default()
                        },
                    },
                )],
                true,
            )
            .await?;
        events
            .pop()
            .ok_or_else(|| StoreError::Invalid("the restriction was not lifted".to_owned()))
    }

    /// Whether a subject in the caller's scope is restricted (Art. 18).
    pub async fn restriction_in_force(
        &self,
        by: &Principal,
        subject: &SubjectId,
    ) -> Result<bool, StoreError> {
        Ok(self
            .known_in_scope(by, subject, "subject.restriction")
            .await?
            .state
            .restriction
            .is_some())
    }

    /// Whether `email` is an address a subject in the caller's scope is
    /// known by.
    pub async fn knows_email_of(
        &self,
        by: &Principal,
        subject: &SubjectId,
        email: &str,
    ) -> Result<bool, StoreError> {
        self.known_in_scope(by, subject, "subject.email").await?;
        self.knows_email(subject, email).await
    }

    /// Whether `email` is an address the subject is known by (compared by
    /// keyed hash: no address is stored in clear).
    pub async fn knows_email(&self, subject: &SubjectId, email: &str) -> Result<bool, StoreError> {
        let normalised =
            custode_domain::normalise_identifier(custode_policy::IdentifierKind::Email, email);
        let hash =
            custode_store::identifier_hash(&self.store.keys().hasher(), "email", &normalised);
        Ok(sqlx::query(
            "SELECT 1 FROM identifiers i JOIN subjects s ON s.key = i.subject_key WHERE s.id = $1 AND i.hash = $2",
        )
        .bind(subject.as_str())
        .bind(hash)
        .fetch_optional(self.store.reader())
        .await?
        .is_some())
    }

    async fn append_consents(
        &self,
        by: &Principal,
        batch: Vec<(SubjectId, NewConsentEvent)>,
        notice_given: bool,
    ) -> Result<Vec<ConsentEvent>, StoreError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let in_force = self.store.in_force();
        let policy = &in_force.policy;
        let many = batch.len() > 1;
        let at_index = |i: usize, e: StoreError| match (many, e) {
            (true, StoreError::Invalid(m)) => {
                StoreError::Invalid(format!("event {i} of the batch: {m}; nothing was recorded"))
            }
            (_, e) => e,
        };
        let mut languages = Vec::with_capacity(batch.len());
        for (i, (subject, new)) in batch.iter().enumerate() {
            self.check_event(by, subject, policy, new, notice_given)
                .map_err(|e| at_index(i, e))?;
            let language = match new.language {
                Some(l) if policy.meta.languages.contains(&l) => l,
                Some(l) => {
                    return Err(at_index(
                        i,
                        StoreError::Invalid(format!(
                            "the policy has no notice in `{l}` (it has {})",
                            policy.meta.language_codes()
                        )),
                    ));
                }
                None => policy.meta.languages.first().copied().unwrap_or(Lang::En),
            };
            languages.push((language, self.notice_digest(policy, language)?));
        }
        let distinct_owned: Vec<String> = {
            let mut seen = std::collections::HashSet::new();
            batch
                .iter()
                .map(|(s, _)| s.as_str())
                .filter(|s| seen.insert(*s))
                .map(str::to_owned)
                .collect()
        };
        let distinct: Vec<&str> = distinct_owned.iter().map(String::as_str).collect();
        let now = self.store.now();
        let at = to_micros(now);
        let mut tx = self.store.begin_write().await?;
        let subjects = self.store.subjects_in_scope(&mut tx, by, &distinct).await?;
        if let Some(missing) = distinct.iter().find(|s| !subjects.contains_key(**s)) {
            let missing = (*missing).to_owned();
            drop(tx);
            self.store
                .audit_denied(by, Some(&missing), "consent.record")
                .await?;
            return Err(not_found("subject", &missing));
        }
        // Adults only, where the policy says so (seed 001): no consent is
        // taken from someone whose birth date says they are under age.
        // Withdrawals, objections and restrictions are always recorded.
        if policy.meta.birth_date.is_some() {
            for (i, (subject, new)) in batch.iter().enumerate() {
                if new.kind != EventKind::Given {
                    continue;
                }
                let Some(s) = subjects.get(subject.as_str()) else {
                    continue;
                };
                let of_age = self.of_age_from(policy, s.key, s.key).await?;
                if of_age.get(&s.key).is_some_and(|t| now < *t) {
                    return Err(at_index(
                        i,
                        StoreError::Invalid(format!(
                            "subject {subject} is younger than {}, the minimum age the policy sets: no consent of theirs is recorded",
                            policy.meta.minimum_age
                        )),
                    ));
                }
            }
        }
        let with_evidence: Vec<String> = batch
            .iter()
            .filter(|(_, n)| n.evidence != Evidence::default())
            .map(|(s, _)| s.to_string())
            .collect();
        let with_evidence: Vec<&str> = with_evidence.iter().map(String::as_str).collect();
        let keys = if with_evidence.is_empty() {
            HashMap::new()
        } else {
            self.store.keys().subject_keys(&with_evidence).await?
        };
        let mut recorded = Vec::with_capacity(batch.len());
        let mut sealed = Vec::with_capacity(batch.len());
        for ((subject, new), (language, notice_digest)) in batch.into_iter().zip(languages) {
            let id = EventId::generate();
            let evidence = if new.evidence == Evidence::default() {
                None
            } else {
                let key = keys
                    .get(subject.as_str())
                    .ok_or_else(|| StoreError::Erased(subject.to_string()))?;
                let plain = serde_json::to_vec(&new.evidence)
                    .map_err(|e| StoreError::Invalid(format!("evidence: {e}")))?;
                Some(key.seal(&plain, evidence_aad(&id).as_bytes())?)
            };
            sealed.push(evidence);
            recorded.push(ConsentEvent {
                id,
                subject,
                kind: new.kind,
                purpose: new.purpose,
                channel: new.channel,
                language,
                at: now,
                actor: by.id.clone(),
                policy_digest: policy.digest.clone(),
                notice_digest,
                evidence: Some(new.evidence),
            });
        }
        let events: Vec<Event> = recorded
            .iter()
            .map(|e| Event {
                actor: by.id.clone(),
                action: Action::ConsentRecorded,
                subject: Some(e.subject.to_string()),
                reason: e.purpose.clone(),
                detail: json!({
                    "event": e.id.to_string(),
                    "kind": e.kind.name(),
                    "purpose": e.purpose,
                    "channel": e.channel.name(),
                    "policy": policy.digest,
                }),
            })
            .collect();
        let head = audit_log::append(&mut tx, self.store.engine(), at, &events).await?;
        // Entries were appended in batch order, ending at `head`.
        let first_seq = head - recorded.len() as i64 + 1;
        for (n, chunk) in recorded.chunks(CONSENTS_PER_INSERT).enumerate() {
            let sql = format!(
                "INSERT INTO consent_events (id, subject_key, kind, purpose, purpose_digest, policy_id, notice_digest, language, channel, actor, at, evidence, audit_seq) VALUES {}",
                custode_store::values(self.store.engine(), chunk.len(), 13)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (k, e) in chunk.iter().enumerate() {
                let i = n * CONSENTS_PER_INSERT + k;
                let subject_key = subjects.get(e.subject.as_str()).map_or(0, |s| s.key);
                q = q
                    .bind(e.id.to_string())
                    .bind(subject_key)
                    .bind(e.kind.name())
                    .bind(e.purpose.clone())
                    .bind(
                        e.purpose
                            .as_ref()
                            .and_then(|p| in_force.digests.get(p))
                            .cloned(),
                    )
                    .bind(in_force.id)
                    .bind(e.notice_digest.clone())
                    .bind(e.language.code())
                    .bind(e.channel.name())
                    .bind(by.id.clone())
                    .bind(at)
                    .bind(sealed[i].clone())
                    .bind(first_seq + i as i64);
            }
            q.execute(&mut *tx).await?;
        }
        // A withdrawal starts the clock of purposes kept "until N days after
        // consent is withdrawn"; a renewed consent stops it again.
        let mut rescheduled = std::collections::HashSet::new();
        for e in &recorded {
            if custode_store::lifecycle::moves_retention(policy, e.purpose.as_deref())
                && let Some(s) = subjects.get(e.subject.as_str())
                && rescheduled.insert(s.key)
            {
                self.store.resolve_subject(&mut tx, s.key).await?;
            }
        }
        tx.commit().await?;
        for s in &distinct {
            self.store.changed(custode_store::Change::Subject(s));
        }
        Ok(recorded)
    }

    /// The rules an event must meet before it is written.
    fn check_event(
        &self,
        by: &Principal,
        subject: &SubjectId,
        policy: &Policy,
        new: &NewConsentEvent,
        notice_given: bool,
    ) -> Result<(), StoreError> {
        if new.kind == EventKind::RestrictionLifted && !notice_given {
            return Err(StoreError::Invalid(
                "a restriction is lifted only after the subject is told (Art. 18(3)): use the restriction lift, which sends the notice"
                    .to_owned(),
            ));
        }
        let purpose = match &new.purpose {
            Some(id) => Some(policy.purpose(id).ok_or_else(|| {
                StoreError::Invalid(format!(
                    "purpose `{id}` is not in the policy (its purposes: {})",
                    policy
                        .purposes
                        .iter()
                        .map(|p| p.id.value.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?),
            None => None,
        };
        match (new.kind, purpose) {
            (k, None) if k.is_consent() => Err(StoreError::Invalid(format!(
                "a `{}` event names the purpose it is about",
                k.name()
            ))),
            (k, Some(p)) if k.is_consent() && p.basis != Basis::Consent => {
                Err(StoreError::Invalid(format!(
                    "purpose `{}` rests on {}, not on consent: there is no consent to give or withdraw (to stop it, record an objection)",
                    p.id.value,
                    p.basis.key()
                )))
            }
            (EventKind::Objected | EventKind::ObjectionLifted, Some(p))
                if !custode_consent::objection_applies(p) =>
            {
                Err(StoreError::Invalid(format!(
                    "purpose `{}` rests on {}: Art. 21 gives a right to object only to legitimate interests, public tasks and direct marketing",
                    p.id.value,
                    p.basis.key()
                )))
            }
            (EventKind::Restricted | EventKind::RestrictionLifted, Some(_)) => {
                Err(StoreError::Invalid(
                    "a restriction covers the whole subject: leave out the purpose".to_owned(),
                ))
            }
            (EventKind::ObjectionLifted, None)
                if by.scope.only_subject() != Some(subject) =>
            {
                Err(StoreError::Forbidden(
                    "an objection to direct marketing is absolute (Art. 21(3)): only the subject can lift it"
                        .to_owned(),
                ))
            }
            _ => Ok(()),
        }
    }

    /// The SHA-256 of the notice text in `lang` under `policy`: what the
    /// subject was shown, pinned by value.
    fn notice_digest(&self, policy: &Policy, lang: Lang) -> Result<String, StoreError> {
        let key = (policy.digest.clone(), lang);
        let mut cache = self.notices.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(d) = cache.get(&key) {
            return Ok(d.clone());
        }
        let text = custode_policy::notice(policy, lang)
            .map_err(|e| StoreError::Invalid(format!("the notice cannot be built: {e}")))?
            .to_markdown();
        let digest = hex::encode(Sha256::digest(text.as_bytes()));
        cache.insert(key, digest.clone());
        Ok(digest)
    }

    /// May `purpose` be pursued for `subject` now? The hot path: answered
    /// from memory once the subject is known, from the ledger otherwise.
    pub async fn decide(
        &self,
        by: &Principal,
        subject: &SubjectId,
        purpose: &str,
    ) -> Result<Decision, StoreError> {
        let in_force = self.store.in_force();
        let p = in_force
            .policy
            .purpose(purpose)
            .ok_or_else(|| not_found("purpose", purpose))?;
        let digest = in_force.digests.get(purpose).map_or("", String::as_str);
        let known = self.known_in_scope(by, subject, "consent.decide").await?;
        let kept_for_this = known
            .kept_for
            .as_ref()
            .is_none_or(|kept| kept.iter().any(|k| **k == *purpose));
        if known.erased || !kept_for_this {
            return Ok(Decision {
                allowed: false,
                basis: p.basis,
                reason: Reason::Erased,
            });
        }
        // Adults only, where the policy says so (seed 001): nothing but
        // what the law requires is done for someone under age.
        if p.basis != Basis::LegalObligation
            && known.of_age_from.is_some_and(|t| self.store.now() < t)
        {
            return Ok(Decision {
                allowed: false,
                basis: p.basis,
                reason: Reason::UnderAge,
            });
        }
        Ok(custode_consent::decide(p, digest, &known.state))
    }

    /// A subject's warm state, read from the ledger when cold, refused (as
    /// not found, and audited) outside the caller's scope.
    async fn known_in_scope(
        &self,
        by: &Principal,
        subject: &SubjectId,
        attempt: &str,
    ) -> Result<Arc<Known>, StoreError> {
        let known = match self.decisions.get(subject.as_str()) {
            Some(k) => k,
            None => self.load_known(subject).await?,
        };
        if !by.scope.covers(&known.path, subject) {
            self.store
                .audit_denied(by, Some(subject.as_str()), attempt)
                .await?;
            return Err(not_found("subject", subject.as_str()));
        }
        Ok(known)
    }

    /// Reads one subject's state from the ledger and caches it.
    async fn load_known(&self, subject: &SubjectId) -> Result<Arc<Known>, StoreError> {
        let epoch = self.decisions.epoch();
        let row = sqlx::query(
            "SELECT key, tenant_path, erased_at, restricted_at FROM subjects WHERE id = $1",
        )
        .bind(subject.as_str())
        .fetch_optional(self.store.reader())
        .await?
        .ok_or_else(|| not_found("subject", subject.as_str()))?;
        let key: i64 = row.try_get(0)?;
        let path: String = row.try_get(1)?;
        let erased = row.try_get::<Option<i64>, _>(2)?.is_some();
        let kept_for = match row.try_get::<Option<i64>, _>(3)? {
            Some(_) => Some(self.kept_for(key).await?),
            None => None,
        };
        let mut states = self.fold_events(key, key).await?;
        let of_age_from = self
            .of_age_from(&self.store.policy(), key, key)
            .await?
            .remove(&key);
        let known = Arc::new(Known {
            path: self.decisions.intern(&path),
            erased,
            kept_for,
            state: states.remove(&key).unwrap_or_default(),
            of_age_from,
        });
        // Cached unless invalidated while it was read; answered either way,
        // since it was true when read.
        self.decisions
            .fill(epoch, vec![(subject.to_string(), known.clone())]);
        Ok(known)
    }

    /// The purposes a partially erased subject's kept records serve.
    async fn kept_for(&self, key: i64) -> Result<Box<[Arc<str>]>, StoreError> {
        let mut grounds = std::collections::BTreeSet::new();
        for r in sqlx::query("SELECT DISTINCT purposes FROM records WHERE subject_key = $1")
            .bind(key)
            .fetch_all(self.store.reader())
            .await?
        {
            let purposes: String = r.try_get(0)?;
            grounds.extend(
                purposes
                    .split(',')
                    .filter(|p| !p.is_empty())
                    .map(|p| self.decisions.intern(p)),
            );
        }
        Ok(grounds.into_iter().collect())
    }

    /// From when each subject with a key in `[low, high]` has the
    /// policy's minimum age, read from the birth date in the field the
    /// policy names (opened here and dropped). Subjects without one, and
    /// every subject when the policy names no field, are absent. When
    /// records disagree, the youngest date counts.
    pub async fn of_age_from(
        &self,
        policy: &Policy,
        low: i64,
        high: i64,
    ) -> Result<HashMap<i64, Timestamp>, StoreError> {
        let mut out = HashMap::new();
        let Some(b) = &policy.meta.birth_date else {
            return Ok(out);
        };
        let rows = sqlx::query(
            "SELECT r.subject_key, s.id, r.sealed FROM records r JOIN subjects s ON s.key = r.subject_key \
             WHERE r.category = $1 AND r.subject_key >= $2 AND r.subject_key <= $3 AND s.erased_at IS NULL",
        )
        .bind(b.category.as_str())
        .bind(low)
        .bind(high)
        .fetch_all(self.store.reader())
        .await?;
        if rows.is_empty() {
            return Ok(out);
        }
        let ids: Vec<String> = rows
            .iter()
            .map(|r| r.try_get::<String, _>(1))
            .collect::<Result<_, _>>()?;
        let mut distinct: Vec<&str> = ids.iter().map(String::as_str).collect();
        distinct.sort_unstable();
        distinct.dedup();
        let keys = self.store.keys().subject_keys(&distinct).await?;
        for (r, id) in rows.iter().zip(&ids) {
            let Some(key) = keys.get(id) else { continue };
            let sealed: Vec<u8> = r.try_get(2)?;
            let plain = key.open(&sealed, format!("{id}|{}", b.category).as_bytes())?;
            let Ok(fields) = serde_json::from_slice::<
                std::collections::BTreeMap<String, serde_json::Value>,
            >(&plain) else {
                continue;
            };
            if let Ok(Some(birth)) =
                custode_domain::age::birth_date_in(policy, &b.category, &fields)
                && let Some(t) = custode_domain::age::of_age_from(policy, birth)
            {
                let e = out.entry(r.try_get::<i64, _>(0)?).or_insert(t);
                *e = (*e).max(t);
            }
        }
        Ok(out)
    }

    /// The folded states of subjects with keys in `[low, high]`.
    pub async fn fold_events(
        &self,
        low: i64,
        high: i64,
    ) -> Result<HashMap<i64, SubjectState>, StoreError> {
        let rows = sqlx::query(
            "SELECT subject_key, id, kind, purpose, purpose_digest, at FROM consent_events \
             WHERE subject_key >= $1 AND subject_key <= $2 ORDER BY subject_key, seq",
        )
        .bind(low)
        .bind(high)
        .fetch_all(self.store.reader())
        .await?;
        let mut states: HashMap<i64, SubjectState> = HashMap::new();
        for r in rows {
            let kind: String = r.try_get(2)?;
            let id: String = r.try_get(1)?;
            let entry = Entry {
                id: EventId::parse(&id).map_err(|e| StoreError::Invalid(e.to_string()))?,
                kind: EventKind::from_name(&kind).ok_or_else(|| {
                    StoreError::Invalid(format!(
                        "unknown consent event kind `{kind}` in the ledger"
                    ))
                })?,
                purpose: r
                    .try_get::<Option<String>, _>(3)?
                    .map(|p| self.decisions.intern(&p)),
                purpose_digest: r
                    .try_get::<Option<String>, _>(4)?
                    .map(|d| self.decisions.intern(&d)),
                at: from_micros(r.try_get(5)?),
            };
            states.entry(r.try_get(0)?).or_default().apply(&entry);
        }
        Ok(states)
    }

    /// Loads every subject's consent state into memory, a chunk at a time,
    /// so that decisions never wait for the database; returns how many
    /// subjects are warm. Decisions asked meanwhile read the ledger.
    pub async fn warm_decisions(&self) -> Result<usize, StoreError> {
        let mut after = 0i64;
        loop {
            let epoch = self.decisions.epoch();
            let subjects = sqlx::query(
                "SELECT key, id, tenant_path, erased_at, restricted_at FROM subjects WHERE key > $1 ORDER BY key LIMIT 20000",
            )
            .bind(after)
            .fetch_all(self.store.reader())
            .await?;
            let Some(last) = subjects.last() else { break };
            let high: i64 = last.try_get(0)?;
            let mut states = self.fold_events(after + 1, high).await?;
            let mut of_age = self
                .of_age_from(&self.store.policy(), after + 1, high)
                .await?;
            let mut entries = Vec::with_capacity(subjects.len());
            for r in &subjects {
                let key: i64 = r.try_get(0)?;
                let path: String = r.try_get(2)?;
                // Few subjects are partially erased: each is one look-up.
                let kept_for = match r.try_get::<Option<i64>, _>(4)? {
                    Some(_) => Some(self.kept_for(key).await?),
                    None => None,
                };
                entries.push((
                    r.try_get::<String, _>(1)?,
                    Arc::new(Known {
                        path: self.decisions.intern(&path),
                        erased: r.try_get::<Option<i64>, _>(3)?.is_some(),
                        kept_for,
                        state: states.remove(&key).unwrap_or_default(),
                        of_age_from: of_age.remove(&key),
                    }),
                ));
            }
            self.decisions.fill(epoch, entries);
            after = high;
        }
        Ok(self.decisions.len())
    }

    /// A subject's ledger, oldest first, with its evidence opened. The read
    /// is audited before anything is returned.
    pub async fn consent_history(
        &self,
        by: &Principal,
        subject: &SubjectId,
        reason: &str,
    ) -> Result<Vec<ConsentEvent>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM consent_events e JOIN subjects s ON s.key = e.subject_key \
             JOIN policy_versions p ON p.id = e.policy_id WHERE s.id = $1 ORDER BY e.seq"
        )))
        .bind(subject.as_str())
        .fetch_all(self.store.reader())
        .await?;
        let row =
            sqlx::query("SELECT tenant_path, erased_at, restricted_at FROM subjects WHERE id = $1")
                .bind(subject.as_str())
                .fetch_optional(self.store.reader())
                .await?
                .ok_or_else(|| not_found("subject", subject.as_str()))?;
        let path: String = row.try_get(0)?;
        if !by.scope.covers(&path, subject) {
            self.store
                .audit_denied(by, Some(subject.as_str()), "consent.read")
                .await?;
            return Err(not_found("subject", subject.as_str()));
        }
        // After a partial erasure the evidence went with the first key.
        let erased = row.try_get::<Option<i64>, _>(1)?.is_some()
            || row.try_get::<Option<i64>, _>(2)?.is_some();
        let key = if erased {
            None
        } else {
            self.store
                .keys()
                .subject_keys(&[subject.as_str()])
                .await?
                .remove(subject.as_str())
        };
        let events = rows
            .iter()
            .map(|r| event_from_row(r, key.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        self.store
            .audit_alone(Event {
                actor: by.id.clone(),
                action: Action::ConsentRead,
                subject: Some(subject.to_string()),
                reason: Some(reason.to_owned()),
                detail: json!({ "events": events.len() }),
            })
            .await?;
        Ok(events)
    }

    /// The signed receipt of a ledger event, built from the policy version
    /// the event cites. Audited like any read about the subject.
    pub async fn consent_receipt(
        &self,
        by: &Principal,
        event: &EventId,
        format: Format,
        publication: &Publication<'_>,
    ) -> Result<SignedReceipt, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS}, p.source FROM consent_events e JOIN subjects s ON s.key = e.subject_key \
             JOIN policy_versions p ON p.id = e.policy_id WHERE e.id = $1"
        )))
        .bind(event.to_string())
        .fetch_optional(self.store.reader())
        .await?
        .ok_or_else(|| not_found("consent event", &event.to_string()))?;
        let e = event_from_row(&row, None)?;
        let path: String = row.try_get(11)?;
        if !by.scope.covers(&path, &e.subject) {
            self.store
                .audit_denied(by, Some(e.subject.as_str()), "consent.receipt")
                .await?;
            return Err(not_found("consent event", &event.to_string()));
        }
        let source: Option<String> = row.try_get(12)?;
        let policy = self.policy_version(&e.policy_digest, source.as_deref())?;
        let cited = ReceiptEvent {
            id: e.id,
            kind: e.kind,
            purpose: e.purpose.as_deref(),
            at: e.at,
            channel: e.channel,
            language: e.language,
            subject: e.subject.as_str(),
            actor: &e.actor,
            notice_digest: &e.notice_digest,
        };
        let signing = self.store.keys().signing_key();
        let body = match format {
            Format::Kantara => {
                receipt::kantara(&policy, &cited, publication, &signing.verifying_key())
            }
            Format::Iso27560 => receipt::iso27560(&policy, &cited, publication),
        }
        .map_err(|err| StoreError::Invalid(err.to_string()))?;
        self.store
            .audit_alone(Event {
                actor: by.id.clone(),
                action: Action::ConsentRead,
                subject: Some(e.subject.to_string()),
                reason: Some("consent receipt".to_owned()),
                detail: json!({ "event": event.to_string(), "format": format }),
            })
            .await?;
        Ok(receipt::sign(format, body, &signing))
    }

    /// A policy version by digest: the one in force, or one rebuilt from
    /// the source stored when it was registered.
    fn policy_version(
        &self,
        digest: &str,
        source: Option<&str>,
    ) -> Result<Arc<Policy>, StoreError> {
        let current = self.store.policy();
        if current.digest == digest {
            return Ok(current);
        }
        let source = source.ok_or_else(|| {
            StoreError::Invalid(format!(
                "policy version {digest} was registered without its text, so its receipts cannot be rebuilt"
            ))
        })?;
        custode_policy::load(digest, source)
            .map(Arc::new)
            .map_err(|e| {
                StoreError::Invalid(format!(
                    "stored policy version {digest} no longer loads: {e}"
                ))
            })
    }

    /// Subjects in scope whose consent to `purpose` was given against an
    /// earlier form of it: they must be asked again, and until then the
    /// consent does not count.
    pub async fn reconsent_needed(
        &self,
        by: &Principal,
        purpose: &str,
        after: Option<&SubjectId>,
        limit: u32,
    ) -> Result<Vec<SubjectId>, StoreError> {
        let in_force = self.store.in_force();
        let p = in_force
            .policy
            .purpose(purpose)
            .ok_or_else(|| not_found("purpose", purpose))?;
        if p.basis != Basis::Consent {
            return Ok(Vec::new());
        }
        let digest = in_force.digests.get(purpose).cloned().unwrap_or_default();
        let (low, high) = by.scope.path_range();
        let rows = sqlx::query(
            "SELECT s.id FROM consent_events e JOIN subjects s ON s.key = e.subject_key \
             WHERE e.purpose = $1 AND e.kind = 'given' AND e.purpose_digest <> $2 \
             AND e.seq = (SELECT MAX(x.seq) FROM consent_events x WHERE x.subject_key = e.subject_key \
                          AND x.purpose = $1 AND x.kind IN ('given', 'withdrawn', 'expired')) \
             AND s.erased_at IS NULL AND s.tenant_path >= $3 AND s.tenant_path < $4 AND s.id > $5 \
             AND ($6 IS NULL OR s.id = $6) ORDER BY s.id LIMIT $7",
        )
        .bind(purpose)
        .bind(digest)
        .bind(low)
        .bind(high)
        .bind(after.map_or(String::new(), |a| a.to_string()))
        .bind(by.scope.only_subject().map(|s| s.to_string()))
        .bind(i64::from(limit.min(10_000)))
        .fetch_all(self.store.reader())
        .await?;
        rows.iter()
            .map(|r| {
                SubjectId::parse(&r.try_get::<String, _>(0)?)
                    .map_err(|e| StoreError::Invalid(e.to_string()))
            })
            .collect()
    }

    // ---- One-click unsubscribe -----------------------------------------

    /// The key unsubscribe tokens are sealed with.
    fn unsubscribe_key(&self) -> Result<Key, StoreError> {
        Ok(self.store.keys().derived_key("unsubscribe tokens v1")?)
    }

    /// Mints an unsubscribe token for a subject in scope and a purpose the
    /// subject can opt out of (consent, or direct marketing).
    pub async fn unsubscribe_token(
        &self,
        by: &Principal,
        subject: &SubjectId,
        purpose: &str,
    ) -> Result<String, StoreError> {
        let policy = self.store.policy();
        let p = policy
            .purpose(purpose)
            .ok_or_else(|| not_found("purpose", purpose))?;
        if p.basis != Basis::Consent && !p.direct_marketing {
            return Err(StoreError::Invalid(format!(
                "purpose `{purpose}` rests on {} and is not direct marketing: there is nothing to unsubscribe from",
                p.basis.key()
            )));
        }
        let known = self
            .known_in_scope(by, subject, "consent.unsubscribe_link")
            .await?;
        if known.erased || known.kept_for.is_some() {
            return Err(StoreError::Erased(subject.to_string()));
        }
        Ok(custode_consent::unsubscribe::mint(
            &self.unsubscribe_key()?,
            subject,
            purpose,
        )?)
    }

    /// The subject and purpose of a token, without acting on it (for the
    /// confirmation page a GET shows).
    pub fn unsubscribe_target(&self, token: &str) -> Option<(SubjectId, String)> {
        let key = self.unsubscribe_key().ok()?;
        custode_consent::unsubscribe::open(&key, token)
    }

    /// Acts on a one-click unsubscribe: withdraws the consent, or, for
    /// direct marketing on legitimate interests, records the subject's
    /// objection to it. Repeating it records nothing new.
    pub async fn one_click_unsubscribe(
        &self,
        token: &str,
        evidence: Evidence,
    ) -> Result<Unsubscribed, StoreError> {
        let Some((subject, purpose)) = self.unsubscribe_target(token) else {
            return Ok(Unsubscribed::Unknown);
        };
        let policy = self.store.policy();
        let Some(p) = policy.purpose(&purpose) else {
            return Ok(Unsubscribed::Unknown);
        };
        let kind = if p.basis == Basis::Consent {
            EventKind::Withdrawn
        } else {
            EventKind::Objected
        };
        // The token alone speaks for the subject, and for nobody else.
        let me = Principal {
            id: format!("subject:{subject}"),
            role: custode_domain::Role::Subject,
            scope: custode_domain::Scope::subject("/", subject.clone()),
        };
        let decision = match self.decide(&me, &subject, &purpose).await {
            Ok(d) => d,
            Err(StoreError::NotFound { .. }) => return Ok(Unsubscribed::Unknown),
            Err(e) => return Err(e),
        };
        if decision.reason == Reason::Erased {
            return Ok(Unsubscribed::Unknown);
        }
        if !decision.allowed
            && let Some(e) = decision.reason.event()
        {
            return Ok(Unsubscribed::Done(e));
        }
        let recorded = self
            .record_consent(
                &me,
                &subject,
                NewConsentEvent {
                    kind,
                    purpose: Some(purpose),
                    channel: Channel::OneClick,
                    language: None,
                    evidence,
                },
            )
            .await?;
        Ok(Unsubscribed::Done(recorded.id))
    }
}

fn evidence_aad(id: &EventId) -> String {
    format!("consent-evidence|{id}")
}

fn event_from_row(r: &sqlx::any::AnyRow, key: Option<&Key>) -> Result<ConsentEvent, StoreError> {
    let bad = |what: &str| StoreError::Invalid(format!("a ledger row is malformed: {what}"));
    let id = EventId::parse(&r.try_get::<String, _>(0)?).map_err(|_| bad("id"))?;
    let sealed: Option<Vec<u8>> = r.try_get(9)?;
    let evidence = match (sealed, key) {
        (None, _) => Some(Evidence::default()),
        (Some(sealed), Some(key)) => {
            let plain = key.open(&sealed, evidence_aad(&id).as_bytes())?;
            Some(serde_json::from_slice(&plain).map_err(|_| bad("evidence"))?)
        }
        (Some(_), None) => None,
    };
    Ok(ConsentEvent {
        id,
        kind: EventKind::from_name(&r.try_get::<String, _>(1)?).ok_or_else(|| bad("kind"))?,
        purpose: r.try_get(2)?,
        channel: Channel::from_name(&r.try_get::<String, _>(3)?).ok_or_else(|| bad("channel"))?,
        language: Lang::parse(&r.try_get::<String, _>(4)?).ok_or_else(|| bad("language"))?,
        at: from_micros(r.try_get(5)?),
        actor: r.try_get(6)?,
        policy_digest: r.try_get(7)?,
        notice_digest: r.try_get(8)?,
        evidence,
        subject: SubjectId::parse(&r.try_get::<String, _>(10)?).map_err(|_| bad("subject"))?,
    })
}
