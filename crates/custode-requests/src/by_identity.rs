//! Requests by identity: a rights request filed with an e-mail address or a
//! phone number (any identifier kind the policy declares) instead of a
//! subject id, and identities attested by a trusted system or staff member.
//!
//! The identifier is looked up by its keyed hash among the subjects in the
//! caller's scope. A person Custode does not hold gets a subject of their
//! own, created for the request and holding no record: only the
//! identifier's keyed hash (so a code can be sent to that address, and a
//! repeated request finds the same subject). The identifier itself is
//! sealed under the request's key, so it dies with the answer, and handed
//! to the provider's systems with those taken from the subject's records:
//! a person known only there is served, and one known nowhere is answered
//! "we hold nothing about you". Such a subject is erased once its request
//! is answered, unless something was written to it meanwhile.

use custode_audit::Action;
use custode_connectors::SubjectIdentifiers;
use custode_domain::requests::Right;
use custode_domain::{Principal, Scope, SubjectId, TenantId};
use custode_policy::{IdentifierKind, Policy};
use serde_json::{Value, json};
use sqlx::Row;

use crate::fulfilment::JobStatus;
use crate::intake::LoadedRequest;
use custode_store::{Record, StoreError, Tenant};

use crate::{NewRequest, RequestSummary, Requester, Requests};

/// The longest identifier accepted (an e-mail address is at most 254).
const IDENTIFIER_MAX: usize = 254;
/// The longest text of an attestation field.
const ATTESTATION_FIELD_MAX: usize = 200;

/// An identifier a request is filed with, checked against the policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    kind: IdentifierKind,
    kind_name: &'static str,
    /// Normalised: what the look-up hash is computed from.
    value: String,
    /// As the requester wrote it (trimmed): the provider's systems may keep
    /// that spelling rather than ours.
    given: String,
}

impl Identity {
    /// Checks an identifier given by a requester: its kind is one the
    /// policy declares on a field, and its value has that kind's shape.
    /// The error says what is wrong, for a 400.
    pub fn parse(policy: &Policy, kind: &str, value: &str) -> Result<Identity, StoreError> {
        let declared = custode_finding::declared_identifier_kinds(policy);
        let Some((kind_name, kind)) = IdentifierKind::from_key(kind)
            .filter(|k| declared.contains(&k.key()))
            .map(|k| (k.key(), k))
        else {
            return Err(StoreError::Invalid(format!(
                "identifier kind `{kind}` is not declared by the policy: a request can be filed by {}",
                declared.join(", ")
            )));
        };
        let value = value.trim();
        if value.is_empty() || value.len() > IDENTIFIER_MAX || value.chars().any(char::is_control) {
            return Err(StoreError::Invalid(format!(
                "the {kind_name} is empty, longer than {IDENTIFIER_MAX} bytes, or holds control characters"
            )));
        }
        let normalised = custode_domain::normalise_identifier(kind, value);
        match kind {
            IdentifierKind::Email if !is_email(&normalised) => {
                return Err(StoreError::Invalid(format!(
                    "`{value}` is not an e-mail address (name@domain.tld)"
                )));
            }
            IdentifierKind::Phone if !is_phone(value, &normalised) => {
                return Err(StoreError::Invalid(format!(
                    "`{value}` is not a phone number: 6 to 15 digits, an optional leading + or 00, spaces, dots, dashes and brackets"
                )));
            }
            _ => {}
        }
        Ok(Identity {
            kind,
            kind_name,
            value: normalised,
            given: value.to_owned(),
        })
    }

    /// The kind, by its policy name (`email`, `phone`...).
    pub fn kind_name(&self) -> &'static str {
        self.kind_name
    }
}

fn is_email(v: &str) -> bool {
    let Some((local, domain)) = v.split_once('@') else {
        return false;
    };
    let labels: Vec<&str> = domain.split('.').collect();
    !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c))
}

fn is_phone(raw: &str, normalised: &str) -> bool {
    let digits = normalised.trim_start_matches('+').len();
    raw.chars()
        .all(|c| c.is_ascii_digit() || " +-.()/".contains(c))
        && raw.chars().filter(|c| *c == '+').count() <= 1
        && (6..=15).contains(&digits)
}

/// A request as it arrives with an identifier instead of a subject id.
#[derive(Clone, Debug)]
pub struct RequestByIdentity {
    /// The identifier the requester gave.
    pub identity: Identity,
    /// Where to look and, if the person is not found, where their subject
    /// goes: the tenant at the root of the caller's scope (or the only
    /// top-level tenant) when not given.
    pub tenant: Option<TenantId>,
    /// The subject kind of a person not found: the policy's first kind that
    /// may hang from the tenant when not given.
    pub subject_kind: Option<String>,
    /// The rights asked.
    pub rights: Vec<Right>,
    /// Who asks.
    pub requester: Requester,
    /// How to reach the requester; for an e-mail identifier, that address
    /// when not given.
    pub contact: Option<String>,
    /// The request in the requester's words.
    pub text: String,
    /// The requester's language.
    pub language: Option<custode_policy::Lang>,
}

/// A request filed by identity, and whether Custode knew the person.
#[derive(Clone, Debug)]
pub struct FiledByIdentity {
    /// The request.
    pub request: RequestSummary,
    /// `custode` when a subject of the store is known by the identifier;
    /// `created` when none was, and a subject was made for the request
    /// (the provider's systems are searched when it is fulfilled).
    pub found: &'static str,
}

/// How a staff member or trusted system verified the requester.
#[derive(Clone, Debug)]
pub struct Attestation {
    /// How (`logged in to the self-care portal`, `ID card at the shop`).
    pub method: String,
    /// Who verified (the system, or the staff member).
    pub verified_by: String,
    /// The reference of the check there (session, ticket).
    pub reference: String,
}

/// What a request filed by identity records with it, in its transaction.
pub(crate) struct Filed {
    identity: Identity,
    hash: Vec<u8>,
    created_subject: bool,
}

impl Filed {
    pub(crate) fn kind_name(&self) -> &'static str {
        self.identity.kind_name
    }

    /// The identifier sealed under the request's key, and, for a subject
    /// made for the request, its keyed hash as the subject's identifier.
    pub(crate) async fn record(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        request: &str,
        subject_key: i64,
        key: &custode_crypto::Key,
    ) -> Result<(), StoreError> {
        let sealed = key.seal(self.identity.given.as_bytes(), &identity_aad(request))?;
        sqlx::query(
            "INSERT INTO request_identities (request_id, kind, sealed, created_subject) VALUES ($1, $2, $3, $4)",
        )
        .bind(request)
        .bind(self.identity.kind_name)
        .bind(sealed)
        .bind(i64::from(self.created_subject))
        .execute(&mut **tx)
        .await?;
        if self.created_subject {
            sqlx::query("INSERT INTO identifiers (hash, subject_key, kind) VALUES ($1, $2, $3)")
                .bind(&self.hash)
                .bind(subject_key)
                .bind(self.identity.kind_name)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }
}

fn identity_aad(request: &str) -> Vec<u8> {
    format!("request-identity|{request}").into_bytes()
}

fn attestation_field(name: &str, value: &str) -> Result<String, StoreError> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > ATTESTATION_FIELD_MAX || v.chars().any(char::is_control)
    {
        return Err(StoreError::Invalid(format!(
            "an attestation gives `{name}`: 1 to {ATTESTATION_FIELD_MAX} characters, no control characters"
        )));
    }
    Ok(v.to_owned())
}

impl Requests {
    /// Files a rights request for the person an identifier belongs to. The
    /// subject in scope known by it is used; none known, a subject is made
    /// for the request (see the module). Two or more known: refused, the
    /// request must name the subject or the tenant.
    pub async fn file_request_by_identity(
        &self,
        by: &Principal,
        new: RequestByIdentity,
    ) -> Result<FiledByIdentity, StoreError> {
        let policy = self.store.policy();
        if by.scope.only_subject().is_some() {
            return Err(StoreError::Invalid(
                "a data subject files a request for itself: give `subject`, your own id".to_owned(),
            ));
        }
        // Checked before a subject is made for a request that would fail.
        if new.rights.is_empty() {
            return Err(StoreError::Invalid(
                "a request names at least one right".to_owned(),
            ));
        }
        if let Some(l) = new.language
            && !policy.meta.languages.contains(&l)
        {
            return Err(StoreError::Invalid(format!(
                "`{}` is not a language of the policy ({})",
                l.code(),
                policy.meta.language_codes()
            )));
        }
        let contact = match (new.contact, new.identity.kind) {
            (Some(c), _) if !c.trim().is_empty() => c,
            (_, IdentifierKind::Email) => new.identity.value.clone(),
            _ => {
                return Err(StoreError::Invalid(format!(
                    "a request filed by {} needs a contact to answer to (an e-mail or postal address)",
                    new.identity.kind_name
                )));
            }
        };
        let tenant = match &new.tenant {
            Some(t) => Some(self.store.tenant(by, t).await?),
            None => None,
        };
        let looking = match &tenant {
            Some(t) if by.scope.only_subject().is_none() => Principal {
                scope: Scope::under(&t.path),
                ..by.clone()
            },
            _ => by.clone(),
        };
        let known = custode_finding::subjects_by_identifier(
            &self.store,
            &looking,
            new.identity.kind,
            &new.identity.value,
        )
        .await?;
        let (subject, created) = match known.as_slice() {
            [one] => (one.clone(), false),
            [] => {
                let tenant = match tenant {
                    Some(t) => t,
                    None => self.home_tenant(by).await?,
                };
                let kind = match new.subject_kind {
                    Some(k) => k,
                    None => policy
                        .subjects
                        .iter()
                        .find(|s| s.may_live_in(tenant.kind.name()))
                        .map(|s| s.id.value.clone())
                        .ok_or_else(|| {
                            StoreError::Invalid(format!(
                                "no subject kind of the policy may hang from a {} tenant: give the tenant",
                                tenant.kind.name()
                            ))
                        })?,
                };
                let s = self
                    .store
                    .create_subject(
                        by,
                        &tenant.id,
                        &kind,
                        &format!("rights request filed by {}", new.identity.kind_name),
                    )
                    .await?;
                (s, true)
            }
            many => {
                return Err(StoreError::Conflict(format!(
                    "{} subjects in your scope are known by this {}: {}; file the request with the subject id, or give the tenant",
                    many.len(),
                    new.identity.kind_name,
                    many.iter()
                        .map(SubjectId::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        };
        let filed = Filed {
            hash: custode_store::identifier_hash(
                &self.store.keys().hasher(),
                new.identity.kind_name,
                &new.identity.value,
            ),
            identity: new.identity,
            created_subject: created,
        };
        let result = self
            .file_request_as(
                by,
                NewRequest {
                    subject: subject.clone(),
                    rights: new.rights,
                    requester: new.requester,
                    contact,
                    text: new.text,
                    language: new.language,
                },
                Some(&filed),
            )
            .await;
        match result {
            Ok(request) => Ok(FiledByIdentity {
                request,
                found: if created { "created" } else { "custode" },
            }),
            Err(e) => {
                if created {
                    // The subject made for a request that was not filed
                    // holds nothing; it goes.
                    let _ = self
                        .store
                        .erase_subject(
                            &Principal::system("requests"),
                            &subject,
                            "rights request not filed",
                        )
                        .await;
                }
                Err(e)
            }
        }
    }

    /// The tenant at the root of the caller's scope, else the only
    /// top-level tenant in it.
    async fn home_tenant(&self, by: &Principal) -> Result<Tenant, StoreError> {
        let row = sqlx::query("SELECT id FROM tenants WHERE path = $1 AND closed_at IS NULL")
            .bind(by.scope.path())
            .fetch_optional(self.store.reader())
            .await?;
        let id: String = match row {
            Some(r) => r.try_get(0)?,
            None => {
                let tops = sqlx::query(
                    "SELECT id, path FROM tenants WHERE parent_id IS NULL AND closed_at IS NULL",
                )
                .fetch_all(self.store.reader())
                .await?;
                let mut in_scope = Vec::new();
                for r in &tops {
                    if r.try_get::<String, _>(1)?.starts_with(by.scope.path()) {
                        in_scope.push(r.try_get::<String, _>(0)?);
                    }
                }
                match in_scope.as_slice() {
                    [one] => one.clone(),
                    _ => {
                        return Err(StoreError::Invalid(
                            "no subject is known by this identifier, and your scope holds several tenants: give the tenant the request concerns".to_owned(),
                        ));
                    }
                }
            }
        };
        let id = TenantId::parse(&id).map_err(|e| StoreError::Invalid(e.to_string()))?;
        self.store.tenant(by, &id).await
    }

    /// The identifiers to look for in the provider's systems: those of the
    /// subject's records and the one the request was filed with.
    pub(crate) async fn identifiers_for(
        &self,
        request: &LoadedRequest,
        records: &[Record],
    ) -> Result<SubjectIdentifiers, StoreError> {
        let mut ids = self.identifiers_in(records);
        let row = sqlx::query("SELECT kind, sealed FROM request_identities WHERE request_id = $1")
            .bind(&request.id)
            .fetch_optional(self.store.reader())
            .await?;
        let Some(row) = row else { return Ok(ids) };
        let kind_name: String = row.try_get(0)?;
        let Some(kind) = IdentifierKind::from_key(&kind_name) else {
            return Err(StoreError::Invalid(format!(
                "request {}: unknown identifier kind `{kind_name}`",
                request.id
            )));
        };
        let key = self.request_key_of(request).await?;
        let clear = key.open(&row.try_get::<Vec<u8>, _>(1)?, &identity_aad(&request.id))?;
        let given = String::from_utf8(clear).map_err(|e| StoreError::Invalid(e.to_string()))?;
        // As given and normalised: the systems are searched under both
        // spellings, unless the subject's records already bring it.
        let normalised = custode_domain::normalise_identifier(kind, &given);
        let same = |x: &String| custode_domain::normalise_identifier(kind, x) == normalised;
        if !ids.values.iter().any(|(k, x)| *k == kind && same(x)) {
            if given != normalised {
                ids = ids.with(kind, given);
            }
            ids = ids.with(kind, normalised);
        }
        Ok(ids)
    }

    /// Whether the subject of `request` was made for a request by identity.
    async fn made_for_a_request(&self, subject_key: i64) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "SELECT 1 FROM request_identities i JOIN rights_requests r ON r.id = i.request_id \
             WHERE r.subject_key = $1 AND i.created_subject = 1",
        )
        .bind(subject_key)
        .fetch_optional(self.store.reader())
        .await?
        .is_some())
    }

    async fn holds_records(&self, subject_key: i64) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("SELECT 1 FROM records WHERE subject_key = $1 LIMIT 1")
                .bind(subject_key)
                .fetch_optional(self.store.reader())
                .await?
                .is_some(),
        )
    }

    /// Whether the answer to `request` is "we hold nothing about you": its
    /// subject was made for a request by identity, holds no record, and
    /// every job done found nothing, in the store, the vault or any system.
    pub(crate) async fn nothing_held(
        &self,
        request: &LoadedRequest,
        jobs: &[JobStatus],
    ) -> Result<bool, StoreError> {
        let done: Vec<&Value> = jobs
            .iter()
            .filter(|j| j.state == "done")
            .filter_map(|j| j.result.as_ref())
            .collect();
        if done.is_empty() || !self.made_for_a_request(request.subject_key).await? {
            return Ok(false);
        }
        let zero = |v: &Value| v.as_u64().is_none_or(|n| n == 0);
        let empty = |v: &Value| v.as_array().is_none_or(Vec::is_empty);
        let found_nothing = done.iter().all(|r| {
            zero(&r["records"])
                && zero(&r["system_rows"])
                && empty(&r["vault"])
                && zero(&r["erased"])
                && empty(&r["kept"])
                && empty(&r["vaulted"])
                && r["systems"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .all(|s| zero(&s["rows_found"]) && empty(&s["kept"]))
        });
        // An erasure shreds the subject; otherwise it must still be empty.
        let erased = sqlx::query("SELECT erased_at FROM subjects WHERE key = $1")
            .bind(request.subject_key)
            .fetch_one(self.store.reader())
            .await?
            .try_get::<Option<i64>, _>(0)?
            .is_some();
        Ok(found_nothing && (erased || !self.holds_records(request.subject_key).await?))
    }

    /// After the answer: a subject made for a request by identity that
    /// holds nothing, with no other open request, is erased, so nothing of
    /// the requester outlives the answer but the audit trail.
    pub(crate) async fn forget_request_subject(
        &self,
        request: &LoadedRequest,
    ) -> Result<(), StoreError> {
        if !self.made_for_a_request(request.subject_key).await?
            || self.holds_records(request.subject_key).await?
        {
            return Ok(());
        }
        let open = sqlx::query(
            "SELECT 1 FROM rights_requests WHERE subject_key = $1 AND status = 'open' LIMIT 1",
        )
        .bind(request.subject_key)
        .fetch_optional(self.store.reader())
        .await?;
        if open.is_some() {
            return Ok(());
        }
        match self
            .store
            .erase_subject(
                &Principal::system("requests"),
                &request.subject,
                &format!("rights request {} answered", request.id),
            )
            .await
        {
            Ok(()) | Err(StoreError::Erased(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Records that the requester's identity was verified elsewhere — by a
    /// trusted system (a customer logged in to the self-care portal) or a
    /// staff member (who saw an ID card) — instead of a code or documents.
    /// Only the roles the policy's `[rights] attest_roles` names may; a
    /// refusal is audited and changes nothing. How, by whom and with which
    /// reference are in the audit entry.
    pub async fn attest_identity(
        &self,
        by: &Principal,
        id: &str,
        attestation: Attestation,
    ) -> Result<RequestSummary, StoreError> {
        let policy = self.store.policy();
        let request = self.load_request(by, id, "request.attest").await?;
        if !policy
            .rights
            .attest_roles
            .iter()
            .any(|r| r == by.role.name())
        {
            self.store
                .record_denied(by, "attest a requester's identity")
                .await?;
            return Err(StoreError::Forbidden(format!(
                "the policy does not let the role `{}` attest a requester's identity (`[rights] attest_roles`: {})",
                by.role.name(),
                if policy.rights.attest_roles.is_empty() {
                    "none".to_owned()
                } else {
                    policy.rights.attest_roles.join(", ")
                }
            )));
        }
        let method = attestation_field("method", &attestation.method)?;
        let verified_by = attestation_field("verified_by", &attestation.verified_by)?;
        let reference = attestation_field("reference", &attestation.reference)?;
        if request.requester != "subject" {
            return Err(StoreError::Invalid(format!(
                "request {id} was filed by a delegate: a delegate's identity is checked on the proxy and the delegate's ID document"
            )));
        }
        let now = custode_domain::clock::to_micros(self.store.now());
        let mut tx = self.store.begin_write().await?;
        request.must_be_unverified()?;
        let changed = sqlx::query(
            "UPDATE rights_requests SET identity = 'verified', identity_method = 'attestation' WHERE id = $1 AND identity <> 'verified'",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::Conflict(format!(
                "the requester's identity for request {id} is verified already"
            )));
        }
        self.audit_request(
            &mut tx,
            by,
            &request,
            Action::RequestVerified,
            now,
            json!({
                "request": id,
                "method": "attestation",
                "how": method,
                "verified_by": verified_by,
                "reference": reference,
            }),
        )
        .await?;
        tx.commit().await?;
        self.request(by, id).await
    }
}
