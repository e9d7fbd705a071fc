//! Rights requests at rest: intake (who asks, for which rights, how to
//! reach them — sealed under the subject's key), the deadline fixed at
//! receipt, the one extension with its reasons, duplicates linked rather
//! than lost, and the list that puts the nearest deadlines first.

use custode_audit::{Action, Event};
use custode_domain::clock::{from_micros, to_micros};
use custode_domain::requests::{Right, days_left, due, extend};
use custode_domain::{Principal, SubjectId};
use jiff::Timestamp;
use jiff::civil::Date;
use serde_json::json;
use sqlx::Row;

use custode_store::{StoreError, audit_log, not_found};

use crate::Requests;

/// Who files a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requester {
    /// The data subject.
    Subject,
    /// Someone acting for the subject, with a proxy (checked before any
    /// answer is given).
    Delegate {
        /// The delegate's name.
        name: String,
    },
}

/// A request as it arrives.
#[derive(Clone, Debug)]
pub struct NewRequest {
    /// The subject it concerns.
    pub subject: SubjectId,
    /// The rights asked.
    pub rights: Vec<Right>,
    /// Who asks.
    pub requester: Requester,
    /// How to reach the requester (e-mail or postal address).
    pub contact: String,
    /// The request in the requester's words.
    pub text: String,
    /// The requester's language, one of the policy's (its first when not
    /// given): the code, the answer and the package use it.
    pub language: Option<custode_policy::Lang>,
}

/// A request as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestSummary {
    /// Its id.
    pub id: String,
    /// The subject.
    pub subject: SubjectId,
    /// The rights asked.
    pub rights: Vec<Right>,
    /// `subject` or `delegate`.
    pub requester: String,
    /// When it was received.
    pub received_at: Timestamp,
    /// The deadline in force (the extended one when extended).
    pub due: Date,
    /// Whether it was extended, and why.
    pub extension: Option<String>,
    /// Days left to the deadline; negative when late.
    pub days_left: i64,
    /// `open` until answered.
    pub status: String,
    /// An earlier open request this one repeats.
    pub duplicate_of: Option<String>,
    /// `unverified` until the requester's identity is checked, then
    /// `verified`.
    pub identity: String,
    /// How the identity was checked.
    pub identity_method: Option<String>,
    /// The requester's language.
    pub language: String,
    /// `accepted`, `partially_accepted` or `refused`, once answered.
    pub outcome: Option<String>,
    /// The fulfilment of each right carried out, in order.
    pub jobs: Vec<crate::fulfilment::JobStatus>,
}

/// A request as loaded to act on it, after the scope check.
pub(crate) struct LoadedRequest {
    pub(crate) id: String,
    pub(crate) subject: SubjectId,
    pub(crate) subject_key: i64,
    pub(crate) status: String,
    pub(crate) identity: String,
    pub(crate) requester: String,
    pub(crate) language: Option<String>,
    pub(crate) rights: Vec<Right>,
    details: Vec<u8>,
}

impl LoadedRequest {
    pub(crate) fn must_be_open(&self) -> Result<(), StoreError> {
        if self.status == "open" {
            Ok(())
        } else {
            Err(StoreError::Conflict(format!(
                "request {} is {} already",
                self.id, self.status
            )))
        }
    }

    pub(crate) fn must_be_unverified(&self) -> Result<(), StoreError> {
        self.must_be_open()?;
        if self.identity == "verified" {
            return Err(StoreError::Conflict(format!(
                "the requester's identity for request {} is verified already",
                self.id
            )));
        }
        Ok(())
    }

    pub(crate) fn must_be_verified(&self) -> Result<(), StoreError> {
        if self.identity != "verified" {
            return Err(StoreError::Conflict(format!(
                "the requester's identity for request {} is not verified yet: send a code to the subject's e-mail, or approve the ID documents",
                self.id
            )));
        }
        Ok(())
    }
}

/// The sealed part of a request.
pub(crate) struct Details {
    pub(crate) contact: String,
}

/// The name of a request's key in the key store.
pub(crate) fn request_key_name(id: &str) -> String {
    format!("request:{id}")
}

fn rights_text(rights: &[Right]) -> String {
    let mut names: Vec<&str> = rights.iter().map(|r| r.name()).collect();
    names.sort_unstable();
    names.dedup();
    names.join(",")
}

fn parse_day(s: &str) -> Result<Date, StoreError> {
    custode_domain::deadline::parse_date(s)
        .ok_or_else(|| StoreError::Invalid(format!("a stored deadline is malformed: {s}")))
}

impl Requests {
    /// Files a rights request: its deadline is fixed now, from the day of
    /// receipt in the controller's calendar (the stricter of the law and
    /// the policy's own promise). A request repeating an open one of the
    /// same subject and rights is recorded and linked to it.
    pub async fn file_request(
        &self,
        by: &Principal,
        new: NewRequest,
    ) -> Result<RequestSummary, StoreError> {
        self.file_request_as(by, new, None).await
    }

    /// [`Store::file_request`], recording in the same transaction the
    /// identifier a request filed by identity came with (`by_identity.rs`).
    pub(crate) async fn file_request_as(
        &self,
        by: &Principal,
        new: NewRequest,
        filed: Option<&crate::by_identity::Filed>,
    ) -> Result<RequestSummary, StoreError> {
        if new.rights.is_empty() {
            return Err(StoreError::Invalid(
                "a request names at least one right".to_owned(),
            ));
        }
        if new.contact.trim().is_empty() {
            return Err(StoreError::Invalid(
                "a request needs a contact to answer to".to_owned(),
            ));
        }
        if let Requester::Delegate { name } = &new.requester
            && name.trim().is_empty()
        {
            return Err(StoreError::Invalid(
                "a delegate gives their name; the proxy and their ID are checked before any answer"
                    .to_owned(),
            ));
        }
        let policy = self.store.policy();
        let jurisdiction = policy.meta.jurisdiction.clone();
        let now = self.store.now();
        let due_on = due(&jurisdiction, now, policy.rights.response_days);
        let rights = rights_text(&new.rights);
        let mut tx = self.store.begin_write().await?;
        let row = sqlx::query("SELECT key, tenant_path, erased_at FROM subjects WHERE id = $1")
            .bind(new.subject.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row.filter(|r| {
            r.try_get::<String, _>(1)
                .is_ok_and(|p| by.scope.covers(&p, &new.subject))
        }) else {
            drop(tx);
            self.store
                .audit_denied(by, Some(new.subject.as_str()), "request.file")
                .await?;
            return Err(not_found("subject", new.subject.as_str()));
        };
        if row.try_get::<Option<i64>, _>(2)?.is_some() {
            return Err(StoreError::Erased(new.subject.to_string()));
        }
        let subject_key: i64 = row.try_get(0)?;
        let path: String = row.try_get(1)?;
        let duplicate_of: Option<String> = sqlx::query(
            "SELECT id FROM rights_requests WHERE subject_key = $1 AND rights = $2 AND status = 'open' \
             AND duplicate_of IS NULL ORDER BY received_at LIMIT 1",
        )
        .bind(subject_key)
        .bind(&rights)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
        let id = SubjectId::generate().to_string();
        // The request has a key of its own: the answer must still reach the
        // requester after an erasure has destroyed the subject's key.
        let key_name = request_key_name(&id);
        self.store
            .keys()
            .create_subject_keys(&[key_name.as_str()], to_micros(now))
            .await?;
        let key = self
            .store
            .keys()
            .subject_keys(&[key_name.as_str()])
            .await?
            .remove(&key_name)
            .ok_or_else(|| {
                StoreError::Invalid(format!("the key of request {id} was not created"))
            })?;
        let (requester, delegate) = match &new.requester {
            Requester::Subject => ("subject", None),
            Requester::Delegate { name } => ("delegate", Some(name.clone())),
        };
        let language = match new.language {
            Some(l) if !policy.meta.languages.contains(&l) => {
                return Err(StoreError::Invalid(format!(
                    "`{}` is not a language of the policy ({})",
                    l.code(),
                    policy.meta.language_codes()
                )));
            }
            Some(l) => l,
            None => policy.meta.languages[0],
        };
        // A subject filing for itself through its portal session (the
        // accounts crate names that principal `subject:…`; a subject's API
        // token is `token:…` and proves nothing of the sort) proved it holds
        // an address the provider knows it by (the portal's code), as the
        // code of the identity check would: asking it again proves nothing
        // more. A delegate's proxy is still checked.
        let portal = by.role == custode_domain::Role::Subject && by.id.starts_with("subject:");
        let (identity, identity_method) = if portal && new.requester == Requester::Subject {
            ("verified", Some("portal"))
        } else {
            ("unverified", None)
        };
        let details = serde_json::to_vec(&json!({
            "contact": new.contact,
            "text": new.text,
            "delegate": delegate,
        }))
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let sealed = key.seal(&details, format!("request|{id}").as_bytes())?;
        let at = to_micros(now);
        sqlx::query(
            "INSERT INTO rights_requests (id, subject_key, tenant_path, rights, requester, details, received_at, due_on, status, duplicate_of, created_by, language, identity, identity_method) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', $9, $10, $11, $12, $13)",
        )
        .bind(&id)
        .bind(subject_key)
        .bind(&path)
        .bind(&rights)
        .bind(requester)
        .bind(sealed)
        .bind(at)
        .bind(due_on.to_string())
        .bind(duplicate_of.clone())
        .bind(by.id.as_str())
        .bind(language.code())
        .bind(identity)
        .bind(identity_method)
        .execute(&mut *tx)
        .await?;
        if let Some(filed) = filed {
            filed.record(&mut tx, &id, subject_key, &key).await?;
        }
        audit_log::append(
            &mut tx,
            self.store.engine(),
            at,
            &[Event {
                actor: by.id.clone(),
                action: Action::RequestFiled,
                subject: Some(new.subject.to_string()),
                reason: Some(format!("request {id}")),
                detail: json!({
                    "request": id,
                    "rights": rights,
                    "requester": requester,
                    "due": due_on.to_string(),
                    "duplicate_of": duplicate_of,
                    "filed_by": filed.map(|f| f.kind_name()),
                    "identity": identity_method,
                }),
            }],
        )
        .await?;
        tx.commit().await?;
        Ok(RequestSummary {
            id,
            subject: new.subject,
            rights: rights.split(',').filter_map(Right::from_name).collect(),
            requester: requester.to_owned(),
            received_at: now,
            due: due_on,
            extension: None,
            days_left: days_left(&jurisdiction, due_on, now),
            status: "open".to_owned(),
            duplicate_of,
            identity: identity.to_owned(),
            identity_method: identity_method.map(str::to_owned),
            language: language.code().to_owned(),
            outcome: None,
            jobs: Vec::new(),
        })
    }

    /// The requests in the caller's scope, nearest deadline first (late
    /// ones at the top).
    pub async fn requests(
        &self,
        by: &Principal,
        open_only: bool,
    ) -> Result<Vec<RequestSummary>, StoreError> {
        self.find_requests(by, open_only, None).await
    }

    /// One request in the caller's scope.
    pub async fn request(&self, by: &Principal, id: &str) -> Result<RequestSummary, StoreError> {
        self.find_requests(by, false, Some(id))
            .await?
            .pop()
            .ok_or_else(|| not_found("request", id))
    }

    async fn find_requests(
        &self,
        by: &Principal,
        open_only: bool,
        id: Option<&str>,
    ) -> Result<Vec<RequestSummary>, StoreError> {
        let jurisdiction = self.store.policy().meta.jurisdiction.clone();
        let now = self.store.now();
        let (low, high) = by.scope.path_range();
        let rows = sqlx::query(
            "SELECT r.id, s.id, r.rights, r.requester, r.received_at, r.due_on, r.extended_due_on, r.extension_reason, r.status, r.duplicate_of, r.identity, r.identity_method, r.language, r.outcome \
             FROM rights_requests r JOIN subjects s ON s.key = r.subject_key \
             WHERE r.tenant_path >= $1 AND r.tenant_path < $2 AND ($3 = 0 OR r.status = 'open') AND ($4 IS NULL OR s.id = $4) AND ($5 IS NULL OR r.id = $5)",
        )
        .bind(low)
        .bind(high)
        .bind(i64::from(open_only))
        .bind(by.scope.only_subject().map(|s| s.to_string()))
        .bind(id)
        .fetch_all(self.store.reader())
        .await?;
        let mut out = rows
            .iter()
            .map(|r| {
                let first: String = r.try_get(5)?;
                let extended: Option<String> = r.try_get(6)?;
                let due = parse_day(extended.as_deref().unwrap_or(&first))?;
                let rights: String = r.try_get(2)?;
                Ok(RequestSummary {
                    id: r.try_get(0)?,
                    subject: SubjectId::parse(&r.try_get::<String, _>(1)?)
                        .map_err(|e| StoreError::Invalid(e.to_string()))?,
                    rights: rights.split(',').filter_map(Right::from_name).collect(),
                    requester: r.try_get(3)?,
                    received_at: from_micros(r.try_get(4)?),
                    due,
                    extension: r.try_get(7)?,
                    days_left: days_left(&jurisdiction, due, now),
                    status: r.try_get(8)?,
                    duplicate_of: r.try_get(9)?,
                    identity: r.try_get(10)?,
                    identity_method: r.try_get(11)?,
                    language: r
                        .try_get::<Option<String>, _>(12)?
                        .unwrap_or_else(|| self.store.policy().meta.languages[0].code().to_owned()),
                    outcome: r.try_get(13)?,
                    jobs: Vec::new(),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.attach_jobs(&mut out).await?;
        out.sort_by(|a, b| a.due.cmp(&b.due).then(a.received_at.cmp(&b.received_at)));
        Ok(out)
    }

    /// A request to act on: refused as not found, and audited, when out of
    /// the caller's scope. Read before any write transaction begins.
    pub(crate) async fn load_request(
        &self,
        by: &Principal,
        id: &str,
        attempt: &str,
    ) -> Result<LoadedRequest, StoreError> {
        let row = sqlx::query(
            "SELECT r.tenant_path, s.id, s.key, r.status, r.identity, r.requester, r.language, r.rights, r.details \
             FROM rights_requests r JOIN subjects s ON s.key = r.subject_key WHERE r.id = $1",
        )
        .bind(id)
        .fetch_optional(self.store.reader())
        .await?
        .ok_or_else(|| not_found("request", id))?;
        let path: String = row.try_get(0)?;
        let subject = SubjectId::parse(&row.try_get::<String, _>(1)?)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        if !by.scope.covers(&path, &subject) {
            self.store
                .audit_denied(by, Some(subject.as_str()), attempt)
                .await?;
            return Err(not_found("request", id));
        }
        Ok(LoadedRequest {
            id: id.to_owned(),
            subject,
            subject_key: row.try_get(2)?,
            status: row.try_get(3)?,
            identity: row.try_get(4)?,
            requester: row.try_get(5)?,
            language: row.try_get(6)?,
            rights: row
                .try_get::<String, _>(7)?
                .split(',')
                .filter_map(Right::from_name)
                .collect(),
            details: row.try_get(8)?,
        })
    }

    /// Appends the audit entry of a step of `request`, in the step's own
    /// transaction.
    pub(crate) async fn audit_request(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        by: &Principal,
        request: &LoadedRequest,
        action: Action,
        at: i64,
        detail: serde_json::Value,
    ) -> Result<i64, StoreError> {
        audit_log::append(
            tx,
            self.store.engine(),
            at,
            &[Event {
                actor: by.id.clone(),
                action,
                subject: Some(request.subject.to_string()),
                reason: Some(format!("rights request {}", request.id)),
                detail,
            }],
        )
        .await
    }

    /// The language letters and packages for `request` are written in.
    pub(crate) fn language_of(&self, request: &LoadedRequest) -> custode_policy::Lang {
        let policy = self.store.policy();
        request
            .language
            .as_deref()
            .and_then(custode_policy::Lang::parse)
            .filter(|l| policy.meta.languages.contains(l))
            .unwrap_or(policy.meta.languages[0])
    }

    /// Where to write to the requester, and in which language: for the
    /// letters staff send (an extension's reasons), never shown to them.
    pub async fn requester_contact(
        &self,
        by: &Principal,
        id: &str,
    ) -> Result<(String, Option<String>), StoreError> {
        let request = self.load_request(by, id, "request.contact").await?;
        let details = self.request_details(&request).await?;
        Ok((details.contact, request.language))
    }

    /// The subject's data key; gone once the subject is erased.
    pub(crate) async fn subject_key_of(
        &self,
        request: &LoadedRequest,
    ) -> Result<custode_crypto::Key, StoreError> {
        self.store
            .current_keys(&[request.subject.as_str()])
            .await?
            .remove(request.subject.as_str())
            .ok_or_else(|| StoreError::Erased(request.subject.to_string()))
    }

    /// The request's own key (contact, documents, packages); destroyed
    /// when the request is answered.
    pub(crate) async fn request_key_of(
        &self,
        request: &LoadedRequest,
    ) -> Result<custode_crypto::Key, StoreError> {
        let name = request_key_name(&request.id);
        self.store
            .keys()
            .subject_keys(&[name.as_str()])
            .await?
            .remove(&name)
            .ok_or_else(|| {
                StoreError::Conflict(format!(
                    "request {} is answered: its contact, documents and packages are destroyed",
                    request.id
                ))
            })
    }

    /// The sealed part of a request, opened.
    pub(crate) async fn request_details(
        &self,
        request: &LoadedRequest,
    ) -> Result<Details, StoreError> {
        let key = self.request_key_of(request).await?;
        let clear = key.open(
            &request.details,
            format!("request|{}", request.id).as_bytes(),
        )?;
        let value: serde_json::Value = serde_json::from_slice(&clear)
            .map_err(|e| StoreError::Invalid(format!("request {}: {e}", request.id)))?;
        Ok(Details {
            contact: value["contact"].as_str().unwrap_or_default().to_owned(),
        })
    }

    /// Extends a request by two months (Art. 12(3)): only while the first
    /// month runs, and with the reasons, which go to the requester.
    pub async fn extend_request(
        &self,
        by: &Principal,
        id: &str,
        reason: &str,
    ) -> Result<RequestSummary, StoreError> {
        let jurisdiction = self.store.policy().meta.jurisdiction.clone();
        let now = self.store.now();
        let mut tx = self.store.begin_write().await?;
        let row = sqlx::query(
            "SELECT r.tenant_path, s.id, r.received_at, r.due_on, r.extended_due_on, r.status FROM rights_requests r \
             JOIN subjects s ON s.key = r.subject_key WHERE r.id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(not_found("request", id));
        };
        let path: String = row.try_get(0)?;
        let subject = SubjectId::parse(&row.try_get::<String, _>(1)?)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        if !by.scope.covers(&path, &subject) {
            drop(tx);
            self.store
                .audit_denied(by, Some(subject.as_str()), "request.extend")
                .await?;
            return Err(not_found("request", id));
        }
        let status: String = row.try_get(5)?;
        if status != "open" {
            return Err(StoreError::Invalid(format!("request {id} is {status}")));
        }
        let first = parse_day(&row.try_get::<String, _>(3)?)?;
        let already = row
            .try_get::<Option<String>, _>(4)?
            .map(|d| parse_day(&d))
            .transpose()?;
        let received = from_micros(row.try_get(2)?);
        let extended = extend(&jurisdiction, received, first, already, now, reason)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        sqlx::query(
            "UPDATE rights_requests SET extended_due_on = $1, extension_reason = $2 WHERE id = $3",
        )
        .bind(extended.to_string())
        .bind(reason.trim())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        audit_log::append(
            &mut tx,
            self.store.engine(),
            to_micros(now),
            &[Event {
                actor: by.id.clone(),
                action: Action::RequestExtended,
                subject: Some(subject.to_string()),
                reason: Some(reason.trim().to_owned()),
                detail: json!({ "request": id, "from": first.to_string(), "to": extended.to_string() }),
            }],
        )
        .await?;
        tx.commit().await?;
        self.request(by, id).await
    }
}
