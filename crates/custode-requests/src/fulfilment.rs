//! Carrying out rights requests as durable jobs. A verified request gets one
//! job per right, run in a fixed order (the access package before any
//! erasure) by whichever instance claims it under a short lease. A job is a
//! list of steps; each step is idempotent, and the step that changes data
//! records its progress and its result in the same transaction, so a crash
//! at any point repeats at most one step and ends in the same state as an
//! uninterrupted run. A failing step is retried with a growing pause; the
//! request list shows every job's step, attempts and last error, so nothing
//! is stuck unseen. The answer (Art. 12(4)) closes the request.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use custode_audit::{Action, Event};
use custode_consent::{Channel, EventKind, Evidence};
use custode_domain::clock::{from_micros, to_micros};
use custode_domain::requests::Right;
use custode_domain::{NewRecord, Principal};
use custode_policy::Basis;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::Row;

use crate::intake::{LoadedRequest, RequestSummary};
use custode_ledger::NewConsentEvent;
use custode_store::{StoreError, audit_log};
use custode_vault::KeptLine;

use crate::Requests;

/// The order jobs of one request run in: nothing is erased before it is
/// packaged for the requester.
const ORDER: [Right; 7] = [
    Right::Access,
    Right::Portability,
    Right::Rectification,
    Right::Restriction,
    Right::Objection,
    Right::ConsentWithdrawal,
    Right::Erasure,
];

/// The steps of each right's job.
pub fn steps(right: Right) -> &'static [&'static str] {
    match right {
        Right::Access | Right::Portability => &["package"],
        Right::Erasure => &["external_systems", "erase", "shred"],
        Right::Rectification => &["rectify"],
        Right::Restriction => &["restrict"],
        Right::Objection => &["object"],
        Right::ConsentWithdrawal => &["withdraw"],
        Right::HumanReview => &[],
    }
}

/// A correction of one record (Art. 16).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Correction {
    /// The record.
    pub record: i64,
    /// The fields' new values.
    pub fields: BTreeMap<String, Value>,
}

/// What staff decide when they queue the fulfilment, per right.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FulfilmentInput {
    /// Rectification: the corrections.
    #[serde(default)]
    pub corrections: Vec<Correction>,
    /// Objection: the purposes objected to; none means all direct marketing.
    #[serde(default)]
    pub object_to: Vec<String>,
    /// Withdrawal: the purposes; none means every consent purpose.
    #[serde(default)]
    pub withdraw: Vec<String>,
}

/// A job as shown with its request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobStatus {
    /// The right.
    pub right: String,
    /// The next step to run (equal to `steps` once done).
    pub step: u32,
    /// How many steps the job has.
    pub steps: u32,
    /// `pending`, `done` or `cancelled`.
    pub state: String,
    /// Failed tries of the current step.
    pub attempts: u32,
    /// Why the last try failed.
    pub last_error: Option<String>,
    /// When the next try is due.
    pub next_at: Timestamp,
    /// What was done, once done.
    pub result: Option<Value>,
}

/// A job claimed by a worker.
#[derive(Clone, Debug)]
pub struct Claim {
    /// The request.
    pub request: String,
    /// The right.
    pub right: Right,
    /// The step to run.
    pub step: u32,
    input: FulfilmentInput,
    /// How long the worker holds the job; each step renews it.
    lease: Duration,
}

/// The answer to a request (Art. 12(4)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every right carried out.
    Accepted,
    /// Some carried out, some refused, with reasons.
    PartiallyAccepted,
    /// Refused, with reasons (manifestly unfounded or excessive, identity
    /// not established, or an exception of the law).
    Refused,
}

impl Outcome {
    /// The name in the API.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::PartiallyAccepted => "partially_accepted",
            Outcome::Refused => "refused",
        }
    }
}

/// The pause before the next try of a failed step: doubling from two
/// seconds, at most an hour.
pub fn backoff(attempts: u32) -> Duration {
    Duration::from_secs(2u64.saturating_pow(attempts.min(12)).min(3600))
}

fn job_principal() -> Principal {
    Principal::system("requests")
}

impl Requests {
    /// Queues the fulfilment of a verified request: one job per right it
    /// asks for (a human review is answered by a person, not a job).
    /// Queuing again changes nothing. A request that asks for erasure is
    /// refused, and the refusal audited, unless `by` may erase a subject.
    pub async fn queue_fulfilment(
        &self,
        by: &Principal,
        id: &str,
        input: FulfilmentInput,
    ) -> Result<RequestSummary, StoreError> {
        let request = self.load_request(by, id, "request.fulfil").await?;
        // Handling requests is not enough for an erasure: that destroys the
        // subject's keys, which only the roles that may erase a subject do.
        if request.rights.contains(&Right::Erasure)
            && !custode_domain::may(by.role, custode_domain::Operation::EraseSubject)
        {
            let what = "carry out erasure requests";
            self.store.record_denied(by, what).await?;
            return Err(StoreError::Forbidden(format!("your role may not {what}")));
        }
        request.must_be_open()?;
        request.must_be_verified()?;
        if request.rights.contains(&Right::Rectification) && input.corrections.is_empty() {
            return Err(StoreError::Invalid(format!(
                "request {id} asks for rectification: give the corrections (record and fields)"
            )));
        }
        let policy = self.store.policy();
        for p in input.object_to.iter().chain(&input.withdraw) {
            if policy.purpose(p).is_none() {
                return Err(StoreError::Invalid(format!(
                    "`{p}` is not a purpose of the policy"
                )));
            }
        }
        let now = to_micros(self.store.now());
        let text = serde_json::to_string(&input).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut tx = self.store.begin_write().await?;
        let existing: Vec<String> =
            sqlx::query("SELECT right_name FROM request_jobs WHERE request_id = $1")
                .bind(id)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?;
        let mut queued = Vec::new();
        for (position, right) in ORDER.iter().enumerate() {
            if !request.rights.contains(right) || existing.iter().any(|e| e == right.name()) {
                continue;
            }
            sqlx::query(
                "INSERT INTO request_jobs (request_id, right_name, position, input, step, state, attempts, last_error, next_at, updated_at, result) \
                 VALUES ($1, $2, $3, $4, 0, 'pending', 0, NULL, $5, $5, NULL)",
            )
            .bind(id)
            .bind(right.name())
            .bind(position as i64)
            .bind(&text)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            queued.push(right.name());
        }
        if !queued.is_empty() {
            self.audit_request(
                &mut tx,
                by,
                &request,
                Action::RequestFulfilled,
                now,
                json!({ "request": id, "queued": queued }),
            )
            .await?;
        }
        tx.commit().await?;
        self.request(by, id).await
    }

    /// Claims the next job due, for `lease`: a worker that dies holding it
    /// loses it when the lease ends, and another takes over.
    pub async fn claim_job(&self, lease: Duration) -> Result<Option<Claim>, StoreError> {
        let now = to_micros(self.store.now());
        let until = now + i64::try_from(lease.as_micros()).unwrap_or(i64::MAX / 2);
        for _ in 0..5 {
            let row = sqlx::query(
                "SELECT j.request_id, j.right_name, j.step, j.input FROM request_jobs j \
                 WHERE j.state = 'pending' AND j.next_at <= $1 AND NOT EXISTS ( \
                   SELECT 1 FROM request_jobs e WHERE e.request_id = j.request_id AND e.position < j.position AND e.state = 'pending') \
                 ORDER BY j.next_at LIMIT 1",
            )
            .bind(now)
            .fetch_optional(self.store.reader())
            .await?;
            let Some(row) = row else { return Ok(None) };
            let request: String = row.try_get(0)?;
            let right_name: String = row.try_get(1)?;
            let step: i64 = row.try_get(2)?;
            let taken = sqlx::query(
                "UPDATE request_jobs SET next_at = $1, updated_at = $2 \
                 WHERE request_id = $3 AND right_name = $4 AND state = 'pending' AND step = $5 AND next_at <= $2",
            )
            .bind(until)
            .bind(now)
            .bind(&request)
            .bind(&right_name)
            .bind(step)
            .execute(self.store.writer())
            .await?
            .rows_affected();
            if taken == 1 {
                let right = Right::from_name(&right_name).ok_or_else(|| {
                    StoreError::Invalid(format!(
                        "job of request {request}: unknown right `{right_name}`"
                    ))
                })?;
                let input = serde_json::from_str(&row.try_get::<String, _>(3)?)
                    .map_err(|e| StoreError::Invalid(format!("job of request {request}: {e}")))?;
                return Ok(Some(Claim {
                    request,
                    right,
                    step: u32::try_from(step).unwrap_or(0),
                    input,
                    lease,
                }));
            }
        }
        Ok(None)
    }

    /// Runs the claimed step, then `after_effects` (a test's crash point),
    /// then records the progress. Steps that change data record progress
    /// in their own transaction; recording it again is a no-op.
    pub async fn run_step(
        &self,
        claim: &Claim,
        after_effects: impl FnOnce(&Claim),
    ) -> Result<(), StoreError> {
        let by = job_principal();
        let request = self
            .load_request(&by, &claim.request, "request.job")
            .await?;
        let reason = format!("rights request {}", claim.request);
        let name = steps(claim.right)
            .get(claim.step as usize)
            .copied()
            .unwrap_or("done");
        let result: Option<Value> = match (claim.right, name) {
            (Right::Access | Right::Portability, "package") => {
                self.package_step(&by, &request, claim, &reason).await?;
                None
            }
            (Right::Erasure, "external_systems") => {
                // First, while the identifiers are still readable here.
                let systems = match self.external_systems() {
                    None => json!([]),
                    Some(_) => {
                        let records = self
                            .store
                            .records_for_request(&by, &request.subject, &reason)
                            .await?;
                        let planned = self.erasure_planned(&request, claim, &records).await?;
                        self.external_erasure(&request, &records, &planned).await?
                    }
                };
                Some(json!({ "systems": systems }))
            }
            (Right::Erasure, "erase") => {
                self.erase_step(&by, &request, claim, &reason).await?;
                None
            }
            (Right::Erasure, "shred") => {
                let done = self.job_result(&claim.request, Right::Erasure).await?;
                let kept = done
                    .as_ref()
                    .and_then(|r| r["kept"].as_array())
                    .is_some_and(|k| !k.is_empty());
                if kept {
                    self.eraser
                        .finish_reseal(request.subject_key, request.subject.as_str())
                        .await?;
                } else {
                    match self
                        .store
                        .erase_subject(&by, &request.subject, &reason)
                        .await
                    {
                        Ok(()) | Err(StoreError::Erased(_)) => {}
                        Err(e) => return Err(e),
                    }
                }
                self.store
                    .changed(custode_store::Change::Subject(request.subject.as_str()));
                done.map(|mut r| {
                    r["shredded"] = json!(!kept);
                    r
                })
            }
            (Right::Rectification, "rectify") => {
                self.rectify_step(&by, &request, claim, &reason).await?;
                None
            }
            (Right::Restriction, "restrict") => {
                let state = self.ledger_state(request.subject_key).await?;
                if state.restriction.is_none() {
                    self.ledger_event(&by, &request, EventKind::Restricted, None)
                        .await?;
                }
                Some(self.told(&request, claim.right).await?)
            }
            (Right::Objection, "object") => {
                let state = self.ledger_state(request.subject_key).await?;
                let wanted: Vec<Option<String>> = if claim.input.object_to.is_empty() {
                    vec![None]
                } else {
                    claim.input.object_to.iter().cloned().map(Some).collect()
                };
                for p in &wanted {
                    if state.objection(p.as_deref()).is_none() {
                        self.ledger_event(&by, &request, EventKind::Objected, p.clone())
                            .await?;
                    }
                }
                Some(json!({ "objected": wanted }))
            }
            (Right::ConsentWithdrawal, "withdraw") => {
                let state = self.ledger_state(request.subject_key).await?;
                let policy = self.store.policy();
                let mut withdrawn = Vec::new();
                for c in &state.consents {
                    let asked = claim.input.withdraw.is_empty()
                        || claim.input.withdraw.iter().any(|w| **w == *c.purpose);
                    if asked
                        && c.kind == EventKind::Given
                        && policy
                            .purpose(&c.purpose)
                            .is_some_and(|p| p.basis == Basis::Consent)
                    {
                        self.ledger_event(
                            &by,
                            &request,
                            EventKind::Withdrawn,
                            Some(c.purpose.to_string()),
                        )
                        .await?;
                        withdrawn.push(c.purpose.to_string());
                    }
                }
                Some(json!({ "withdrawn": withdrawn }))
            }
            _ => None,
        };
        after_effects(claim);
        self.advance(&by, &request, claim, result).await
    }

    /// Records a failed try: the step is retried after [`backoff`].
    pub async fn step_failed(&self, claim: &Claim, error: &str) -> Result<(), StoreError> {
        let now = self.store.now();
        let attempts: i64 = sqlx::query(
            "SELECT attempts FROM request_jobs WHERE request_id = $1 AND right_name = $2",
        )
        .bind(&claim.request)
        .bind(claim.right.name())
        .fetch_optional(self.store.reader())
        .await?
        .map(|r| r.try_get(0))
        .transpose()?
        .unwrap_or(0)
            + 1;
        let pause = backoff(u32::try_from(attempts).unwrap_or(u32::MAX));
        let next = now
            + jiff::SignedDuration::try_from(pause)
                .unwrap_or(jiff::SignedDuration::from_secs(3600));
        sqlx::query(
            "UPDATE request_jobs SET last_error = $1, next_at = $2, updated_at = $3, attempts = $6 WHERE request_id = $4 AND right_name = $5 AND state = 'pending'",
        )
        .bind(error.chars().take(500).collect::<String>())
        .bind(to_micros(next))
        .bind(to_micros(now))
        .bind(&claim.request)
        .bind(claim.right.name())
        .bind(attempts)
        .execute(self.store.writer())
        .await?;
        Ok(())
    }

    async fn advance(
        &self,
        by: &Principal,
        request: &LoadedRequest,
        claim: &Claim,
        result: Option<Value>,
    ) -> Result<(), StoreError> {
        let mut tx = self.store.begin_write().await?;
        self.advance_in(&mut tx, by, request, claim, result).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Moves a job past `claim.step` (once: a repeat finds it moved); the
    /// last step marks it done and audits what was done.
    async fn advance_in(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        by: &Principal,
        request: &LoadedRequest,
        claim: &Claim,
        result: Option<Value>,
    ) -> Result<(), StoreError> {
        let total = steps(claim.right).len() as u32;
        let next = claim.step + 1;
        let done = next >= total;
        let now = to_micros(self.store.now());
        // The worker goes on with the next step itself: the lease is renewed
        // so no other takes it meanwhile, and lapses if this one dies.
        let held_until = now + i64::try_from(claim.lease.as_micros()).unwrap_or(i64::MAX / 2);
        let moved = sqlx::query(
            "UPDATE request_jobs SET step = $1, state = $2, attempts = 0, last_error = NULL, next_at = $3, updated_at = $8, \
             result = COALESCE($4, result) WHERE request_id = $5 AND right_name = $6 AND step = $7 AND state = 'pending'",
        )
        .bind(i64::from(next))
        .bind(if done { "done" } else { "pending" })
        .bind(if done { now } else { held_until })
        .bind(result.map(|r| r.to_string()))
        .bind(&claim.request)
        .bind(claim.right.name())
        .bind(i64::from(claim.step))
        .bind(now)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if moved == 1 && done {
            self.audit_request(
                tx,
                by,
                request,
                Action::RequestFulfilled,
                now,
                json!({ "request": request.id, "right": claim.right.name(), "done": true }),
            )
            .await?;
        }
        Ok(())
    }

    /// What the external erasure will keep, as planned by this job's first
    /// attempt (kept in its result), or planned now and kept before
    /// anything is erased: a crash between the erasure and the recording
    /// of its outcome then cannot lose what the systems keep.
    async fn erasure_planned(
        &self,
        request: &LoadedRequest,
        claim: &Claim,
        records: &[custode_store::Record],
    ) -> Result<Value, StoreError> {
        let earlier = self.job_result(&claim.request, claim.right).await?;
        if let Some(planned) = earlier.and_then(|r| r.get("systems_planned").cloned()) {
            return Ok(planned);
        }
        let planned = self.external_erasure_plan(request, records).await?;
        sqlx::query(
            "UPDATE request_jobs SET result = $1 WHERE request_id = $2 AND right_name = $3 AND step = $4 AND state = 'pending'",
        )
        .bind(json!({ "systems_planned": planned }).to_string())
        .bind(&claim.request)
        .bind(claim.right.name())
        .bind(i64::from(claim.step))
        .execute(self.store.reader())
        .await?;
        Ok(planned)
    }

    async fn job_result(&self, request: &str, right: Right) -> Result<Option<Value>, StoreError> {
        let text: Option<String> = sqlx::query(
            "SELECT result FROM request_jobs WHERE request_id = $1 AND right_name = $2",
        )
        .bind(request)
        .bind(right.name())
        .fetch_optional(self.store.reader())
        .await?
        .map(|r| r.try_get::<Option<String>, _>(0))
        .transpose()?
        .flatten();
        text.map(|t| serde_json::from_str(&t).map_err(|e| StoreError::Invalid(e.to_string())))
            .transpose()
    }

    /// The jobs of listed requests.
    pub(crate) async fn attach_jobs(&self, out: &mut [RequestSummary]) -> Result<(), StoreError> {
        if out.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = out.iter().map(|r| r.id.as_str()).collect();
        let mut by_request: BTreeMap<String, Vec<(i64, JobStatus)>> = BTreeMap::new();
        for chunk in ids.chunks(500) {
            let q = custode_store::in_query(
                self.store.engine(),
                "SELECT request_id, right_name, position, step, state, attempts, last_error, next_at, result FROM request_jobs WHERE request_id IN ({ids})",
                chunk,
            );
            for r in q.fetch_all(self.store.reader()).await? {
                let right_name: String = r.try_get(1)?;
                let total = Right::from_name(&right_name).map_or(0, |x| steps(x).len() as u32);
                let result: Option<String> = r.try_get(8)?;
                by_request.entry(r.try_get(0)?).or_default().push((
                    r.try_get(2)?,
                    JobStatus {
                        right: right_name,
                        step: u32::try_from(r.try_get::<i64, _>(3)?).unwrap_or(0),
                        steps: total,
                        state: r.try_get(4)?,
                        attempts: u32::try_from(r.try_get::<i64, _>(5)?).unwrap_or(0),
                        last_error: r.try_get(6)?,
                        next_at: from_micros(r.try_get(7)?),
                        result: result.and_then(|t| serde_json::from_str(&t).ok()),
                    },
                ));
            }
        }
        for r in out.iter_mut() {
            if let Some(mut jobs) = by_request.remove(&r.id) {
                jobs.sort_by_key(|(p, _)| *p);
                r.jobs = jobs.into_iter().map(|(_, j)| j).collect();
            }
        }
        Ok(())
    }

    /// The folded consent state of a subject, read from the ledger.
    pub(crate) async fn ledger_state(
        &self,
        subject_key: i64,
    ) -> Result<custode_consent::SubjectState, StoreError> {
        Ok(self
            .ledger
            .fold_events(subject_key, subject_key)
            .await?
            .remove(&subject_key)
            .unwrap_or_default())
    }

    async fn ledger_event(
        &self,
        by: &Principal,
        request: &LoadedRequest,
        kind: EventKind,
        purpose: Option<String>,
    ) -> Result<(), StoreError> {
        self.ledger
            .record_consent(
                by,
                &request.subject,
                NewConsentEvent {
                    kind,
                    purpose,
                    channel: Channel::Api,
                    language: request
                        .language
                        .as_deref()
                        .and_then(custode_policy::Lang::parse),
                    evidence: Evidence {
                        form_id: Some(format!("rights request {}", request.id)),
                        ..Evidence::default()
                    },
                },
            )
            .await
            .map(|_| ())
    }

    /// Art. 19: queues a notice to each recipient of the data the subject
    /// has (its own transaction; a repeat adds nothing).
    async fn told(&self, request: &LoadedRequest, right: Right) -> Result<Value, StoreError> {
        let mut held = BTreeSet::new();
        for r in
            sqlx::query("SELECT DISTINCT category, purposes FROM records WHERE subject_key = $1")
                .bind(request.subject_key)
                .fetch_all(self.store.reader())
                .await?
        {
            let category: String = r.try_get(0)?;
            held.extend(custode_erasure::held_pairs(
                &category,
                &r.try_get::<String, _>(1)?,
            ));
        }
        let mut tx = self.store.begin_write().await?;
        let names = self
            .queue_notices(&mut tx, request, right, &held, to_micros(self.store.now()))
            .await?;
        tx.commit().await?;
        Ok(json!({
            "right": right.name(),
            "recipients_to_tell": names,
        }))
    }

    async fn package_step(
        &self,
        by: &Principal,
        request: &LoadedRequest,
        claim: &Claim,
        reason: &str,
    ) -> Result<(), StoreError> {
        let policy = self.store.policy();
        let lang = self.language_of(request);
        let all_records = self
            .store
            .records_for_request(by, &request.subject, reason)
            .await?;
        let mut records = all_records.clone();
        if claim.right == Right::Portability {
            // Art. 20: what the person provided, or what was observed of
            // their use of the service (EDPB WP242 rev.01), processed on
            // consent or contract; not data derived by the controller, nor
            // data received only from third parties.
            records.retain(|r| {
                policy
                    .category(&r.category)
                    .is_some_and(custode_policy::Category::portable)
                    && r.purposes.iter().any(|p| {
                        policy
                            .purpose(p)
                            .is_some_and(|p| matches!(p.basis, Basis::Consent | Basis::Contract))
                    })
            });
        }
        let consent = self
            .ledger
            .consent_history(by, &request.subject, reason)
            .await?;
        let external = self.external_rows(request, &all_records).await?;
        let system_rows = external.as_ref().map_or(0, |e| e.2);
        // Art. 15 covers what the vault keeps too; portability only what
        // the person gave, which the vault never holds.
        let vault = if claim.right == Right::Access {
            self.vault
                .vault_holdings_for_access(by, &request.subject, &request.id)
                .await?
        } else {
            Vec::new()
        };
        let mut files = custode_package::package(
            &policy,
            lang,
            request.subject.as_str(),
            self.store.now(),
            &records,
            &consent,
            &vault,
        )
        .map_err(|e| StoreError::Invalid(format!("the package cannot be built: {e}")))?;
        if let Some((json, csv, _)) = external {
            files.push(("systems.json".to_owned(), json));
            files.push(("systems.csv".to_owned(), csv));
        }
        if claim.right == Right::Access {
            // Who read or changed the person's data, when, in which role
            // and why (C-579/21); the other files stay as they were.
            let trail = custode_trail::AuditTrail::new(self.store.clone())
                .trail_for_access(by, &request.subject, &request.id)
                .await?;
            files.extend(custode_trail::package_files(&trail)?);
        }
        let files = custode_package::zip(&files)
            .map_err(|e| StoreError::Invalid(format!("the package cannot be built: {e}")))?;
        let key = self.request_key_of(request).await?;
        let sealed = key.seal(&files, export_aad(&request.id, claim.right).as_bytes())?;
        let mut tx = self.store.begin_write().await?;
        sqlx::query("DELETE FROM request_exports WHERE request_id = $1 AND right_name = $2")
            .bind(&request.id)
            .bind(claim.right.name())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO request_exports (request_id, right_name, sealed, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&request.id)
        .bind(claim.right.name())
        .bind(sealed)
        .bind(to_micros(self.store.now()))
        .execute(&mut *tx)
        .await?;
        let vault: Vec<Value> = vault
            .iter()
            .map(|v| {
                json!({
                    "category": v.held.category,
                    "grounds": v.held.grounds,
                    "records": v.held.records,
                    "until": v.held.until,
                    "given": v.given.len(),
                })
            })
            .collect();
        let result = json!({ "records": records.len(), "system_rows": system_rows, "bytes": files.len(), "language": lang.code(), "vault": vault });
        self.advance_in(&mut tx, by, request, claim, Some(result))
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The package of a request, once its job is done.
    pub async fn request_export(
        &self,
        by: &Principal,
        id: &str,
        right: Right,
    ) -> Result<Vec<u8>, StoreError> {
        let request = self.load_request(by, id, "request.export").await?;
        let row = sqlx::query(
            "SELECT sealed FROM request_exports WHERE request_id = $1 AND right_name = $2",
        )
        .bind(id)
        .bind(right.name())
        .fetch_optional(self.store.reader())
        .await?;
        let Some(row) = row else {
            return Err(if request.rights.contains(&right) {
                StoreError::Conflict(format!(
                    "the {} package of request {id} is not ready: verify the identity, queue the fulfilment, and wait for its job",
                    right.name()
                ))
            } else {
                StoreError::Invalid(format!("request {id} does not ask for {}", right.name()))
            });
        };
        let key = self.request_key_of(&request).await?;
        Ok(key.open(
            &row.try_get::<Vec<u8>, _>(0)?,
            export_aad(id, right).as_bytes(),
        )?)
    }

    /// The erasure proper, in one transaction with its progress (see
    /// [`Store::erase_keeping`]), with the Art. 19 notices it owes.
    async fn erase_step(
        &self,
        by: &Principal,
        request: &LoadedRequest,
        claim: &Claim,
        reason: &str,
    ) -> Result<(), StoreError> {
        let now = self.store.now();
        let micros = to_micros(now);
        let subject = request.subject.as_str();
        let keys = self
            .eraser
            .erasure_keys(subject, request.subject_key)
            .await?;
        let mut tx = self.store.begin_write().await?;
        let custode_erasure::Erasure {
            erased,
            kept,
            mut had,
        } = self
            .eraser
            .erase_keeping(&mut tx, by, &request.subject, &keys, reason, now)
            .await?;
        // Everything the vault holds for the subject, from this erasure or
        // from earlier moves.
        let vaulted = self.vault.vault_lines_of(&request.subject).await?;
        for line in &vaulted {
            for g in &line.grounds {
                had.insert((line.category.clone(), g.clone()));
            }
        }
        let lines = |v: &[KeptLine]| -> Vec<Value> {
            v.iter()
                .map(|l| json!({ "category": l.category, "grounds": l.grounds, "records": l.records, "until": l.until.map(|t| t.to_string()), "fields": l.fields }))
                .collect()
        };
        let external = self
            .job_result(&request.id, Right::Erasure)
            .await?
            .and_then(|r| r.get("systems").cloned())
            .unwrap_or_else(|| json!([]));
        let result = json!({
            "erased": erased,
            "vaulted": lines(&vaulted),
            "kept": lines(&kept),
            "systems": external,
            "recipients_to_tell": self.queue_notices(&mut tx, request, Right::Erasure, &had, micros).await?,
        });
        self.audit_request(&mut tx, by, request, Action::RequestFulfilled, micros, json!({ "request": request.id, "right": "erasure", "erased": erased, "kept": kept.len(), "vaulted": vaulted.len() }))
        .await?;
        self.advance_in(&mut tx, by, request, claim, Some(result))
            .await?;
        tx.commit().await?;
        self.store.changed(custode_store::Change::Subject(subject));
        self.eraser
            .finish_reseal(request.subject_key, subject)
            .await
    }

    /// Art. 16: each correction checked against the policy like a new
    /// record, resealed, and audited with before and after sealed under the
    /// subject's key (erasing the subject makes them unreadable too).
    async fn rectify_step(
        &self,
        by: &Principal,
        request: &LoadedRequest,
        claim: &Claim,
        reason: &str,
    ) -> Result<(), StoreError> {
        let policy = self.store.policy();
        let key = self.subject_key_of(request).await?;
        if self.external_systems().is_some() {
            // The provider's systems first: a system that waits leaves
            // nothing changed here, and the step is retried whole.
            let records = self
                .store
                .records_for_request(by, &request.subject, reason)
                .await?;
            let mut external = Vec::new();
            for c in &claim.input.corrections {
                let Some(r) = records.iter().find(|r| r.id == c.record) else {
                    continue;
                };
                for (field, value) in &c.fields {
                    let text = value
                        .as_str()
                        .map_or_else(|| value.to_string(), str::to_owned);
                    external.push((r.category.clone(), field.clone(), text));
                }
            }
            self.external_rectification(request, &records, &external)
                .await?;
        }
        let now = self.store.now();
        let mut tx = self.store.begin_write().await?;
        let kind: String = sqlx::query("SELECT kind FROM subjects WHERE key = $1")
            .bind(request.subject_key)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        let mut events = Vec::new();
        let mut categories = BTreeSet::new();
        // Identifiers the corrections took out of a record.
        let mut replaced = BTreeSet::new();
        for c in &claim.input.corrections {
            let row = sqlx::query(
                "SELECT category, sealed, source, purposes FROM records WHERE id = $1 AND subject_key = $2",
            )
            .bind(c.record)
            .bind(request.subject_key)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| {
                StoreError::Invalid(format!(
                    "record {} is not a record of the subject of request {}",
                    c.record, request.id
                ))
            })?;
            let category: String = row.try_get(0)?;
            categories.extend(custode_erasure::held_pairs(
                &category,
                &row.try_get::<String, _>(3)?,
            ));
            let aad = format!("{}|{}", request.subject, category);
            let before: BTreeMap<String, Value> =
                serde_json::from_slice(&key.open(&row.try_get::<Vec<u8>, _>(1)?, aad.as_bytes())?)
                    .map_err(|e| StoreError::Invalid(format!("record {}: {e}", c.record)))?;
            let mut after = before.clone();
            after.extend(c.fields.clone());
            let checked = NewRecord {
                category: category.clone(),
                fields: after.clone(),
                source: row.try_get(2)?,
                purposes: row
                    .try_get::<String, _>(3)?
                    .split(',')
                    .map(str::to_owned)
                    .collect(),
                collected_at: Some(now),
            }
            .check(&policy, &kind, now)
            .map_err(|e| StoreError::Invalid(format!("record {}: {e}", c.record)))?;
            replaced.extend(
                custode_domain::identifiers_in(&policy, &category, &before)
                    .into_iter()
                    .filter(|i| !checked.identifiers.contains(i)),
            );
            let sealed = key.seal(&checked.payload, aad.as_bytes())?;
            sqlx::query("UPDATE records SET sealed = $1 WHERE id = $2")
                .bind(sealed)
                .bind(c.record)
                .execute(&mut *tx)
                .await?;
            for (kind, value) in &checked.identifiers {
                sqlx::query(
                    "INSERT INTO identifiers (hash, subject_key, kind) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                )
                .bind(custode_store::identifier_hash(&self.store.keys().hasher(), kind, value))
                .bind(request.subject_key)
                .bind(*kind)
                .execute(&mut *tx)
                .await?;
            }
            let was: BTreeMap<&String, Option<&Value>> =
                c.fields.keys().map(|f| (f, before.get(f))).collect();
            let seal_json = |v: Value| -> Result<String, StoreError> {
                Ok(hex::encode(key.seal(
                    v.to_string().as_bytes(),
                    format!("rectified|{}", c.record).as_bytes(),
                )?))
            };
            events.push(Event {
                actor: by.id.clone(),
                action: Action::RecordsRectified,
                subject: Some(request.subject.to_string()),
                reason: Some(reason.to_owned()),
                detail: json!({
                    "request": request.id,
                    "record": c.record,
                    "category": category,
                    "fields": c.fields.keys().collect::<Vec<_>>(),
                    "before_sealed": seal_json(json!(was))?,
                    "after_sealed": seal_json(json!(c.fields))?,
                }),
            });
        }
        self.forget_identifiers(&mut tx, request, &key, replaced)
            .await?;
        audit_log::append(&mut tx, self.store.engine(), to_micros(now), &events).await?;
        let result = json!({
            "rectified": claim.input.corrections.len(),
            "recipients_to_tell": self.queue_notices(&mut tx, request, Right::Rectification, &categories, to_micros(now)).await?,
        });
        self.advance_in(&mut tx, by, request, claim, Some(result))
            .await?;
        tx.commit().await?;
        self.store
            .changed(custode_store::Change::Subject(request.subject.as_str()));
        Ok(())
    }

    /// Drops the look-up hashes of `replaced` identifiers that no record of
    /// the subject carries any more, so a corrected e-mail or phone number
    /// no longer finds the subject (it may be someone else's). Runs in the
    /// rectification's transaction, after its records are rewritten.
    async fn forget_identifiers(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        request: &LoadedRequest,
        key: &custode_crypto::Key,
        mut replaced: BTreeSet<(&'static str, String)>,
    ) -> Result<(), StoreError> {
        if replaced.is_empty() {
            return Ok(());
        }
        let policy = self.store.policy();
        let rows = sqlx::query("SELECT category, sealed FROM records WHERE subject_key = $1")
            .bind(request.subject_key)
            .fetch_all(&mut **tx)
            .await?;
        for row in rows {
            let category: String = row.try_get(0)?;
            let aad = format!("{}|{}", request.subject, category);
            let fields =
                custode_store::payload_fields(&key.open_owned(row.try_get(1)?, aad.as_bytes())?)?;
            for still in custode_domain::identifiers_in(&policy, &category, &fields) {
                replaced.remove(&still);
            }
        }
        let hasher = self.store.keys().hasher();
        for (kind, value) in replaced {
            sqlx::query("DELETE FROM identifiers WHERE hash = $1 AND subject_key = $2")
                .bind(custode_store::identifier_hash(&hasher, kind, &value))
                .bind(request.subject_key)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }
}

fn export_aad(request: &str, right: Right) -> String {
    format!("request-export|{request}|{}", right.name())
}

/// An answer, ready to send to the requester.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The request.
    pub request: String,
    /// The outcome.
    pub outcome: Outcome,
    /// Where it goes.
    pub contact: String,
    /// The language it is written in.
    pub language: custode_policy::Lang,
    /// The letter.
    pub letter: custode_policy::Document,
}

impl Requests {
    /// Answers a request (Art. 12(4)) and closes it. A refusal — manifestly
    /// unfounded or excessive, identity not established, an exception of
    /// the law — needs the staff member's reasons and cancels what was
    /// queued; an acceptance needs the identity checked and every right's
    /// job done; a partial one, reasons too. The letter always names the
    /// supervisory authority and the right to go to court. Documents and
    /// packages are deleted and the request's key destroyed: nothing of the
    /// requester outlives the answer but the audit trail.
    pub async fn answer_request(
        &self,
        by: &Principal,
        id: &str,
        outcome: Outcome,
        reasons: &str,
    ) -> Result<Answer, StoreError> {
        let now = self.store.now();
        let (request, facts, lang, letter) =
            self.compose_answer(by, id, outcome, reasons, now).await?;
        let details = self.request_details(&request).await?;
        let mut tx = self.store.begin_write().await?;
        let closed = sqlx::query(
            "UPDATE rights_requests SET status = 'answered', outcome = $1, answered_at = $2, answer = $3 WHERE id = $4 AND status = 'open'",
        )
        .bind(outcome.name())
        .bind(to_micros(now))
        .bind(letter.to_markdown().into_bytes())
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if closed == 0 {
            return Err(StoreError::Conflict(format!(
                "request {id} is answered already"
            )));
        }
        sqlx::query("UPDATE request_jobs SET state = 'cancelled' WHERE request_id = $1 AND state = 'pending'")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let documents = sqlx::query("DELETE FROM request_documents WHERE request_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM request_exports WHERE request_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM request_codes WHERE request_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        self.audit_request(
            &mut tx,
            by,
            &request,
            Action::RequestAnswered,
            to_micros(now),
            json!({
                "request": id,
                "outcome": outcome.name(),
                "done": facts.done,
                "documents_deleted": documents,
                "recipients_told": facts.told.iter().map(|t| &t.0).collect::<Vec<_>>(),
                "recipients_pending": facts.pending,
            }),
        )
        .await?;
        tx.commit().await?;
        // After the commit, like a subject's erasure: a crash here leaves a
        // key that no open request uses, which changes nothing readable.
        self.store
            .keys()
            .destroy(&[crate::intake::request_key_name(id).as_str()])
            .await?;
        self.forget_request_subject(&request).await?;
        Ok(Answer {
            request: id.to_owned(),
            outcome,
            contact: details.contact,
            language: lang,
            letter,
        })
    }

    /// Previews the answer letter of a request as [`Requests::answer_request`]
    /// would write it now, in the requester's language, after the same
    /// checks; nothing is changed, sent or recorded.
    pub async fn preview_answer(
        &self,
        by: &Principal,
        id: &str,
        outcome: Outcome,
        reasons: &str,
    ) -> Result<(custode_policy::Lang, custode_policy::Document), StoreError> {
        let (_, _, lang, letter) = self
            .compose_answer(by, id, outcome, reasons, self.store.now())
            .await?;
        Ok((lang, letter))
    }

    /// The checks of an answer and its letter: the one rule for the
    /// preview and the answer.
    async fn compose_answer(
        &self,
        by: &Principal,
        id: &str,
        outcome: Outcome,
        reasons: &str,
        now: Timestamp,
    ) -> Result<
        (
            crate::intake::LoadedRequest,
            custode_policy::AnswerFacts,
            custode_policy::Lang,
            custode_policy::Document,
        ),
        StoreError,
    > {
        let request = self.load_request(by, id, "request.answer").await?;
        request.must_be_open()?;
        if outcome != Outcome::Accepted && reasons.trim().is_empty() {
            return Err(StoreError::Invalid(format!(
                "a {} answer states its reasons, which go to the requester",
                outcome.name()
            )));
        }
        let mut summary = vec![self.request(by, id).await?];
        self.attach_jobs(&mut summary).await?;
        let jobs = summary.pop().map(|s| s.jobs).unwrap_or_default();
        if outcome != Outcome::Refused {
            request.must_be_verified()?;
            if let Some(j) = jobs.iter().find(|j| j.state == "pending") {
                return Err(StoreError::Conflict(format!(
                    "the {} job of request {id} is still running (step {} of {}{}); answer when it is done",
                    j.right,
                    j.step + 1,
                    j.steps,
                    j.last_error
                        .as_deref()
                        .map(|e| format!(", last error: {e}"))
                        .unwrap_or_default()
                )));
            }
        }
        if outcome == Outcome::Accepted {
            let missing: Vec<&str> = request
                .rights
                .iter()
                .filter(|r| **r != Right::HumanReview)
                .filter(|r| {
                    !jobs
                        .iter()
                        .any(|j| j.right == r.name() && j.state == "done")
                })
                .map(|r| r.name())
                .collect();
            if !missing.is_empty() {
                return Err(StoreError::Conflict(format!(
                    "request {id} is not carried out for: {}; queue its fulfilment, or answer partially_accepted with reasons",
                    missing.join(", ")
                )));
            }
        }
        let policy = self.store.policy();
        let lang = self.language_of(&request);
        let mut facts = custode_policy::AnswerFacts {
            request: id.to_owned(),
            date: custode_vault::local_day_text(&policy, now),
            outcome: outcome.name().to_owned(),
            reasons: reasons.trim().to_owned(),
            ..Default::default()
        };
        if outcome != Outcome::Refused {
            for j in jobs.iter().filter(|j| j.state == "done") {
                facts.done.push(j.right.clone());
                let Some(r) = &j.result else { continue };
                if let Some(n) = r["erased"].as_u64() {
                    facts.erased = Some(n);
                }
                for (field, vault) in [("vaulted", true), ("kept", false)] {
                    for k in r[field].as_array().into_iter().flatten() {
                        facts.kept.push(custode_policy::KeptFact {
                            category: k["category"].as_str().unwrap_or_default().to_owned(),
                            records: k["records"].as_u64().unwrap_or(0),
                            grounds: k["grounds"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .filter_map(|g| g.as_str().map(str::to_owned))
                                .collect(),
                            until: k["until"].as_str().map(|t| t.chars().take(10).collect()),
                            vault,
                            fields: k["fields"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .filter_map(|f| f.as_str().map(str::to_owned))
                                .collect(),
                        });
                    }
                }
                for system in r["systems"].as_array().into_iter().flatten() {
                    for k in system["kept"].as_array().into_iter().flatten() {
                        facts.kept.push(custode_policy::KeptFact {
                            category: k["category"].as_str().unwrap_or_default().to_owned(),
                            records: k["rows"].as_u64().unwrap_or(0),
                            grounds: k["ground"]
                                .as_str()
                                .map(str::to_owned)
                                .into_iter()
                                .collect(),
                            until: None,
                            vault: false,
                            fields: vec![],
                        });
                    }
                }
                for v in r["vault"].as_array().into_iter().flatten() {
                    facts.vault.push(custode_policy::VaultHeld {
                        category: v["category"].as_str().unwrap_or_default().to_owned(),
                        records: v["records"].as_u64().unwrap_or(0),
                        grounds: v["grounds"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|g| g.as_str().map(str::to_owned))
                            .collect(),
                        until: v["until"].as_str().map(str::to_owned),
                    });
                }
            }
            facts.nothing_held = self.nothing_held(&request, &jobs).await?;
            facts.art19 = jobs.iter().any(|j| {
                j.state == "done"
                    && ["erasure", "rectification", "restriction"].contains(&j.right.as_str())
            });
            // Art. 19: a recipient is told once every notice to it is done
            // (the last day counts); otherwise it is still being told.
            let mut by_recipient: BTreeMap<String, (String, Option<Timestamp>, bool)> =
                BTreeMap::new();
            let mut order = Vec::new();
            for n in self.notices_of(id).await? {
                let e = by_recipient.entry(n.recipient.clone()).or_insert_with(|| {
                    order.push(n.recipient.clone());
                    (n.name.clone(), None, true)
                });
                match n.told_at {
                    Some(at) => e.1 = e.1.max(Some(at)),
                    None => e.2 = false,
                }
            }
            for r in order {
                let Some((name, at, all)) = by_recipient.remove(&r) else {
                    continue;
                };
                match at {
                    Some(at) if all => facts
                        .told
                        .push((name, custode_vault::local_day_text(&policy, at))),
                    _ => facts.pending.push(name),
                }
            }
        }
        let letter = custode_policy::answer_letter(&policy, lang, &facts);
        Ok((request, facts, lang, letter))
    }

    /// The answer letter of an answered request, as sent (Markdown).
    pub async fn answer_of(&self, by: &Principal, id: &str) -> Result<String, StoreError> {
        self.load_request(by, id, "request.answer").await?;
        let row = sqlx::query("SELECT answer FROM rights_requests WHERE id = $1")
            .bind(id)
            .fetch_one(self.store.reader())
            .await?;
        let bytes: Option<Vec<u8>> = row.try_get(0)?;
        let bytes = bytes
            .ok_or_else(|| StoreError::Conflict(format!("request {id} is not answered yet")))?;
        String::from_utf8(bytes).map_err(|e| StoreError::Invalid(e.to_string()))
    }
}

impl Requests {
    /// Runs every step due now, one claim at a time, until none is left;
    /// returns how many ran. A failing step is recorded with its error and
    /// retried after [`backoff`]; `after_effects` runs after each step's
    /// effects (where tests inject a crash).
    pub async fn run_due_jobs(
        &self,
        lease: Duration,
        after_effects: &(dyn Fn(&Claim) + Sync),
    ) -> Result<u32, StoreError> {
        let mut ran = 0;
        while let Some(mut claim) = self.claim_job(lease).await? {
            // One job's steps in a row, under the lease each step renews.
            loop {
                ran += 1;
                if let Err(e) = self.run_step(&claim, after_effects).await {
                    tracing::warn!(request = %claim.request, right = claim.right.name(), step = claim.step, error = %e, "fulfilment step failed; it will be retried");
                    self.step_failed(&claim, &e.to_string()).await?;
                    break;
                }
                if claim.step + 1 >= steps(claim.right).len() as u32 {
                    break;
                }
                claim.step += 1;
            }
        }
        Ok(ran)
    }
}

impl Requests {
    /// When the next pending step is due (now or later), if any is pending.
    pub async fn next_step_due(&self) -> Result<Option<Timestamp>, StoreError> {
        let at: Option<i64> =
            sqlx::query("SELECT MIN(next_at) FROM request_jobs WHERE state = 'pending'")
                .fetch_one(self.store.reader())
                .await?
                .try_get(0)?;
        Ok(at.map(from_micros))
    }
}

/// What a monitor watches so that no request is stuck unseen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestHealth {
    /// Requests not answered yet.
    pub open: u64,
    /// Open requests past their deadline (the extended one when extended).
    pub overdue: u64,
    /// Pending steps whose last try failed (being retried).
    pub steps_failing: u64,
}

impl Requests {
    /// Counts for monitoring: open and overdue requests, failing steps.
    pub async fn request_health(&self) -> Result<RequestHealth, StoreError> {
        let today = custode_vault::local_day_text(&self.store.policy(), self.store.now());
        let row = sqlx::query(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN COALESCE(extended_due_on, due_on) < $1 THEN 1 ELSE 0 END), 0) \
             FROM rights_requests WHERE status = 'open'",
        )
        .bind(today)
        .fetch_one(self.store.reader())
        .await?;
        let failing: i64 = sqlx::query(
            "SELECT COUNT(*) FROM request_jobs WHERE state = 'pending' AND last_error IS NOT NULL",
        )
        .fetch_one(self.store.reader())
        .await?
        .try_get(0)?;
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(RequestHealth {
            open: count(row.try_get(0)?),
            overdue: count(row.try_get(1)?),
            steps_failing: count(failing),
        })
    }
}
