//! Who is asking: the identity check a rights request passes before any
//! datum leaves or is changed. Either a one-time code sent to an e-mail
//! address the subject is already known by (only its keyed hash is kept;
//! checked in constant time, a few attempts, a short life, one use), or ID
//! documents — the subject's, or a delegate's proxy and ID — sealed under
//! the subject's key, approved by a staff member, deleted when the request
//! is answered. Every step, failed ones included, is in the audit log.

use custode_audit::{Action, Event};
use custode_crypto::constant_time_eq;
use custode_domain::Principal;
use custode_domain::clock::{from_micros, to_micros};
use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use sqlx::Row;

use crate::intake::LoadedRequest;
use custode_store::{StoreError, audit_log};

use crate::Requests;

/// How long a code may be used.
pub const CODE_LIFETIME: SignedDuration = SignedDuration::from_mins(15);
/// Wrong codes allowed before a new one must be asked for.
pub const CODE_ATTEMPTS: i64 = 5;
/// How soon a new code may be sent for the same request.
pub const CODE_RESEND_AFTER: SignedDuration = SignedDuration::from_secs(60);
/// The largest document accepted.
pub const DOCUMENT_MAX_BYTES: usize = 4 * 1024 * 1024;

/// The kinds of document a request can carry.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString, strum::VariantArray,
)]
#[strum(serialize_all = "snake_case")]
pub enum DocumentKind {
    /// The subject's identity document.
    IdDocument,
    /// The subject's proxy (delegation) to the delegate.
    Proxy,
    /// The delegate's identity document.
    DelegateId,
}

impl DocumentKind {
    /// Every kind, in declaration order.
    pub const ALL: &'static [DocumentKind] = <DocumentKind as strum::VariantArray>::VARIANTS;

    /// The name.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The kind with a name.
    pub fn from_name(name: &str) -> Option<DocumentKind> {
        name.parse().ok()
    }
}

/// The media types a document may have.
pub const DOCUMENT_TYPES: [&str; 3] = ["application/pdf", "image/jpeg", "image/png"];

/// A code to send: the caller mails it and forgets it.
pub struct CodeToSend {
    /// The six digits.
    pub code: String,
    /// Where it goes: the request's contact, known as the subject's e-mail.
    pub email: String,
    /// The language of the request.
    pub language: Option<String>,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// A document a request holds, described.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentInfo {
    /// Which.
    pub kind: DocumentKind,
    /// Its media type.
    pub media_type: String,
    /// When it arrived.
    pub uploaded_at: Timestamp,
}

/// A stored document, opened for a staff member.
pub struct Document {
    /// Its media type.
    pub media_type: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

fn six_digits() -> Result<String, StoreError> {
    // Rejection sampling keeps every code equally likely.
    loop {
        let n = u32::from_le_bytes(custode_crypto::random_bytes::<4>()?);
        if n < 4_294_000_000 {
            return Ok(format!("{:06}", n % 1_000_000));
        }
    }
}

impl Requests {
    fn code_mac(&self, request: &str, code: &str) -> Vec<u8> {
        self.store
            .keys()
            .hasher()
            .hash("request-code", &format!("{request}|{code}"))[..]
            .to_vec()
    }

    /// Issues a one-time code for a request filed by the subject, to be sent
    /// to the request's contact — which must be an e-mail address the
    /// subject is already known by, so that the code proves control of it.
    /// A new code replaces the previous one.
    pub async fn issue_code(&self, by: &Principal, id: &str) -> Result<CodeToSend, StoreError> {
        let now = self.store.now();
        let request = self.load_request(by, id, "request.code").await?;
        let mut tx = self.store.begin_write().await?;
        request.must_be_unverified()?;
        if request.requester != "subject" {
            return Err(StoreError::Invalid(format!(
                "request {id} was filed by a delegate: a delegate's identity is checked on the proxy and the delegate's ID document, not by a code"
            )));
        }
        let details = self.request_details(&request).await?;
        let email = details.contact.trim().to_owned();
        let known = self.ledger.knows_email(&request.subject, &email).await?;
        if !known {
            return Err(StoreError::Invalid(format!(
                "the contact of request {id} is not an e-mail address the subject is known by; check the identity with an ID document instead"
            )));
        }
        let previous = sqlx::query("SELECT sent_at FROM request_codes WHERE request_id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get::<i64, _>(0))
            .transpose()?;
        if let Some(sent) = previous {
            let again = from_micros(sent) + CODE_RESEND_AFTER;
            if now < again {
                return Err(StoreError::Invalid(format!(
                    "a code was sent less than a minute ago; a new one can be sent from {again}"
                )));
            }
        }
        let code = six_digits()?;
        let expires_at = now + CODE_LIFETIME;
        sqlx::query("DELETE FROM request_codes WHERE request_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO request_codes (request_id, code_mac, sent_at, expires_at, attempts, used_at) VALUES ($1, $2, $3, $4, 0, NULL)",
        )
        .bind(id)
        .bind(self.code_mac(id, &code))
        .bind(to_micros(now))
        .bind(to_micros(expires_at))
        .execute(&mut *tx)
        .await?;
        self.audit_request(
            &mut tx,
            by,
            &request,
            Action::RequestCodeSent,
            to_micros(now),
            json!({ "request": id, "expires_at": expires_at.to_string() }),
        )
        .await?;
        tx.commit().await?;
        Ok(CodeToSend {
            code,
            email,
            language: request.language.clone(),
            expires_at,
        })
    }

    /// Checks a code. A wrong one counts against the attempts left; an
    /// expired, exhausted or used one is refused; each refusal is audited
    /// and committed even though the call fails.
    pub async fn check_code(&self, by: &Principal, id: &str, code: &str) -> Result<(), StoreError> {
        let now = self.store.now();
        let request = self.load_request(by, id, "request.verify").await?;
        // Not `must_be_unverified`: a code used already is a replay, which
        // is refused and audited below.
        request.must_be_open()?;
        let mut tx = self.store.begin_write().await?;
        let row = sqlx::query(
            "SELECT code_mac, expires_at, attempts, used_at FROM request_codes WHERE request_id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let refusal = match &row {
            None => Some(("no_code", format!("no code was sent for request {id}"))),
            Some(r) => {
                let mac: Vec<u8> = r.try_get(0)?;
                let expires_at = from_micros(r.try_get(1)?);
                let attempts: i64 = r.try_get(2)?;
                let used: Option<i64> = r.try_get(3)?;
                if used.is_some() {
                    Some((
                        "replayed",
                        "this code was already used; it works once".to_owned(),
                    ))
                } else if now > expires_at {
                    Some((
                        "expired",
                        format!("the code expired at {expires_at}; ask for a new one"),
                    ))
                } else if attempts >= CODE_ATTEMPTS {
                    Some((
                        "exhausted",
                        "too many wrong codes; ask for a new one".to_owned(),
                    ))
                } else if !constant_time_eq(&mac, &self.code_mac(id, code.trim())) {
                    sqlx::query(
                        "UPDATE request_codes SET attempts = attempts + 1 WHERE request_id = $1",
                    )
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    let left = CODE_ATTEMPTS - attempts - 1;
                    Some((
                        "wrong",
                        format!("wrong code; {left} attempt(s) left before a new code is needed"),
                    ))
                } else {
                    None
                }
            }
        };
        let subject = Some(request.subject.to_string());
        if let Some((why, message)) = refusal {
            audit_log::append(
                &mut tx,
                self.store.engine(),
                to_micros(now),
                &[Event {
                    actor: by.id.clone(),
                    action: Action::RequestVerificationFailed,
                    subject,
                    reason: Some(format!("request {id}")),
                    detail: json!({ "request": id, "method": "email_code", "why": why }),
                }],
            )
            .await?;
            tx.commit().await?;
            return Err(if why == "replayed" {
                StoreError::Conflict(message)
            } else {
                StoreError::Invalid(message)
            });
        }
        if request.identity == "verified" {
            return Err(StoreError::Conflict(format!(
                "the requester's identity for request {id} is verified already"
            )));
        }
        sqlx::query("UPDATE request_codes SET used_at = $1 WHERE request_id = $2")
            .bind(to_micros(now))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        self.mark_verified(&mut tx, by, &request, "email_code", now)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn mark_verified(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        by: &Principal,
        request: &LoadedRequest,
        method: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE rights_requests SET identity = 'verified', identity_method = $1 WHERE id = $2",
        )
        .bind(method)
        .bind(&request.id)
        .execute(&mut **tx)
        .await?;
        self.audit_request(
            tx,
            by,
            request,
            Action::RequestVerified,
            to_micros(now),
            json!({ "request": request.id, "method": method }),
        )
        .await?;
        Ok(())
    }

    /// Stores a document of a request, sealed under the subject's key; a
    /// second upload of the same kind replaces the first.
    pub async fn put_document(
        &self,
        by: &Principal,
        id: &str,
        kind: DocumentKind,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        // The file says what it is; a declared type must agree with it.
        let sniffed = sniff(bytes).ok_or_else(|| {
            StoreError::Invalid(format!(
                "a document is a PDF, JPEG or PNG file ({}); these bytes are none of them",
                DOCUMENT_TYPES.join(", ")
            ))
        })?;
        if !matches!(media_type, "" | "application/octet-stream") && media_type != sniffed {
            return Err(StoreError::Invalid(format!(
                "the document was sent as `{media_type}` but is {sniffed}"
            )));
        }
        let media_type = sniffed;
        if bytes.is_empty() || bytes.len() > DOCUMENT_MAX_BYTES {
            return Err(StoreError::Invalid(format!(
                "a document has between 1 byte and {} MiB; got {} bytes",
                DOCUMENT_MAX_BYTES / (1024 * 1024),
                bytes.len()
            )));
        }
        let now = self.store.now();
        let request = self.load_request(by, id, "request.document").await?;
        let mut tx = self.store.begin_write().await?;
        request.must_be_open()?;
        if request.requester == "subject" && kind != DocumentKind::IdDocument {
            return Err(StoreError::Invalid(format!(
                "request {id} was filed by the subject: only an `id_document` is needed"
            )));
        }
        let key = self.request_key_of(&request).await?;
        let sealed = key.seal(bytes, document_aad(id, kind).as_bytes())?;
        sqlx::query("DELETE FROM request_documents WHERE request_id = $1 AND kind = $2")
            .bind(id)
            .bind(kind.name())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO request_documents (request_id, kind, media_type, sealed, uploaded_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(kind.name())
        .bind(media_type)
        .bind(sealed)
        .bind(to_micros(now))
        .execute(&mut *tx)
        .await?;
        self.audit_request(&mut tx, by, &request, Action::RequestDocument, to_micros(now), json!({ "request": id, "document": kind.name(), "did": "received", "bytes": bytes.len() }))
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The documents a request holds, described (kind, type, when), never
    /// opened: what the staff member checking it has to look at.
    pub async fn documents_of(
        &self,
        by: &Principal,
        id: &str,
    ) -> Result<Vec<DocumentInfo>, StoreError> {
        self.load_request(by, id, "request.document").await?;
        let rows = sqlx::query(
            "SELECT kind, media_type, uploaded_at FROM request_documents WHERE request_id = $1 ORDER BY kind",
        )
        .bind(id)
        .fetch_all(self.store.reader())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            // A kind this version does not know is skipped, not guessed.
            let Some(kind) = DocumentKind::from_name(&r.try_get::<String, _>(0)?) else {
                continue;
            };
            out.push(DocumentInfo {
                kind,
                media_type: r.try_get(1)?,
                uploaded_at: from_micros(r.try_get(2)?),
            });
        }
        Ok(out)
    }

    /// Opens a document for the staff member checking it; the look is
    /// audited.
    pub async fn document(
        &self,
        by: &Principal,
        id: &str,
        kind: DocumentKind,
    ) -> Result<Document, StoreError> {
        let now = self.store.now();
        let request = self.load_request(by, id, "request.document").await?;
        let mut tx = self.store.begin_write().await?;
        let row = sqlx::query(
            "SELECT media_type, sealed FROM request_documents WHERE request_id = $1 AND kind = $2",
        )
        .bind(id)
        .bind(kind.name())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| custode_store::not_found("document", &format!("{id}/{}", kind.name())))?;
        let key = self.request_key_of(&request).await?;
        let bytes = key.open(
            &row.try_get::<Vec<u8>, _>(1)?,
            document_aad(id, kind).as_bytes(),
        )?;
        self.audit_request(
            &mut tx,
            by,
            &request,
            Action::RequestDocument,
            to_micros(now),
            json!({ "request": id, "document": kind.name(), "did": "read" }),
        )
        .await?;
        tx.commit().await?;
        Ok(Document {
            media_type: row.try_get(0)?,
            bytes,
        })
    }

    /// A staff member approves the identity after looking at the documents:
    /// the subject's ID, or for a delegate the proxy and the delegate's ID.
    /// A missing document refuses the approval, and the refusal is audited.
    pub async fn approve_identity(&self, by: &Principal, id: &str) -> Result<(), StoreError> {
        let now = self.store.now();
        let request = self.load_request(by, id, "request.approve").await?;
        let mut tx = self.store.begin_write().await?;
        request.must_be_unverified()?;
        let present: Vec<String> =
            sqlx::query("SELECT kind FROM request_documents WHERE request_id = $1")
                .bind(id)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?;
        let needed: &[DocumentKind] = if request.requester == "subject" {
            &[DocumentKind::IdDocument]
        } else {
            &[DocumentKind::Proxy, DocumentKind::DelegateId]
        };
        let missing: Vec<&str> = needed
            .iter()
            .map(|k| k.name())
            .filter(|k| !present.iter().any(|p| p == k))
            .collect();
        if !missing.is_empty() {
            let message = if request.requester == "subject" {
                format!("request {id} has no ID document yet")
            } else {
                format!(
                    "a delegate's request needs the proxy and the delegate's ID document; missing: {}",
                    missing.join(", ")
                )
            };
            self.audit_request(
                &mut tx,
                by,
                &request,
                Action::RequestVerificationFailed,
                to_micros(now),
                json!({ "request": id, "method": "document", "missing": missing }),
            )
            .await?;
            tx.commit().await?;
            return Err(StoreError::Invalid(message));
        }
        let method = if request.requester == "subject" {
            "id_document"
        } else {
            "proxy_and_delegate_id"
        };
        self.mark_verified(&mut tx, by, &request, method, now)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The media type of a document, from its first bytes.
fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else {
        None
    }
}

fn document_aad(request: &str, kind: DocumentKind) -> String {
    format!("request-document|{request}|{}", kind.name())
}

#[cfg(test)]
mod document_kind_names {
    use super::*;

    /// The names as the API takes them and the documents table stores them:
    /// never renamed, whatever the enum becomes.
    const STORED: [(DocumentKind, &str); 3] = [
        (DocumentKind::IdDocument, "id_document"),
        (DocumentKind::Proxy, "proxy"),
        (DocumentKind::DelegateId, "delegate_id"),
    ];

    #[test]
    fn every_document_kind_round_trips_and_keeps_its_name() {
        for (value, name) in STORED {
            assert_eq!(value.name(), name);
            assert_eq!(DocumentKind::from_name(name), Some(value));
        }
        for value in DocumentKind::ALL {
            assert_eq!(DocumentKind::from_name(value.name()), Some(*value));
        }
        assert_eq!(DocumentKind::from_name(""), None);
        assert_eq!(
            DocumentKind::from_name(&STORED[0].1.to_uppercase()),
            None,
            "names are exact"
        );
    }
}
