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

use crate::{Store, StoreError, audit_log, not_found};

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

impl Store {
    /// Files a rights request: its deadline is fixed now, from the day of
    /// receipt in the controller's calendar (the stricter of the law and
    /// the policy's own promise). A request repeating an open one of the
    /// same subject and rights is recorded and linked to it.
    pub async fn file_request(
        &self,
        by: &Principal,
        new: NewRequest,
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
        let policy = self.policy();
        let jurisdiction = policy.meta.jurisdiction.clone();
        let now = self.now();
        let due_on = due(&jurisdiction, now, policy.rights.response_days);
        let rights = rights_text(&new.rights);
        let mut tx = self.begin_write().await?;
        let row = sqlx::query("SELECT key, tenant_path, erased_at FROM subjects WHERE id = $1")
            .bind(new.subject.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row.filter(|r| {
            r.try_get::<String, _>(1)
                .is_ok_and(|p| by.scope.covers(&p, &new.subject))
        }) else {
            drop(tx);
            self.audit_denied(by, Some(new.subject.as_str()), "request.file")
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
        let keys = self.keys.subject_keys(&[new.subject.as_str()]).await?;
        let key = keys
            .get(new.subject.as_str())
            .ok_or_else(|| StoreError::Erased(new.subject.to_string()))?;
        let id = SubjectId::generate().to_string();
        let (requester, delegate) = match &new.requester {
            Requester::Subject => ("subject", None),
            Requester::Delegate { name } => ("delegate", Some(name.clone())),
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
            "INSERT INTO rights_requests (id, subject_key, tenant_path, rights, requester, details, received_at, due_on, status, duplicate_of, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', $9, $10)",
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
        .execute(&mut *tx)
        .await?;
        audit_log::append(
            &mut tx,
            self.engine,
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
        let jurisdiction = self.policy().meta.jurisdiction.clone();
        let now = self.now();
        let (low, high) = by.scope.path_range();
        let rows = sqlx::query(
            "SELECT r.id, s.id, r.rights, r.requester, r.received_at, r.due_on, r.extended_due_on, r.extension_reason, r.status, r.duplicate_of \
             FROM rights_requests r JOIN subjects s ON s.key = r.subject_key \
             WHERE r.tenant_path >= $1 AND r.tenant_path < $2 AND ($3 = 0 OR r.status = 'open') AND ($4 IS NULL OR s.id = $4) AND ($5 IS NULL OR r.id = $5)",
        )
        .bind(low)
        .bind(high)
        .bind(i64::from(open_only))
        .bind(by.scope.only_subject().map(|s| s.to_string()))
        .bind(id)
        .fetch_all(&self.db)
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
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        out.sort_by(|a, b| a.due.cmp(&b.due).then(a.received_at.cmp(&b.received_at)));
        Ok(out)
    }

    /// Extends a request by two months (Art. 12(3)): only while the first
    /// month runs, and with the reasons, which go to the requester.
    pub async fn extend_request(
        &self,
        by: &Principal,
        id: &str,
        reason: &str,
    ) -> Result<RequestSummary, StoreError> {
        let jurisdiction = self.policy().meta.jurisdiction.clone();
        let now = self.now();
        let mut tx = self.begin_write().await?;
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
            self.audit_denied(by, Some(subject.as_str()), "request.extend")
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
            self.engine,
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

/// Data an erasure leaves, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptLine {
    /// The category.
    pub category: String,
    /// The purposes (legal obligations) that keep them.
    pub grounds: Vec<String>,
    /// How many records.
    pub records: u64,
    /// When they go.
    pub until: Option<Timestamp>,
}

/// The answer to an erasure request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ErasureAnswer {
    /// Records erased now.
    pub erased: u64,
    /// Moved to the vault (kept only because a law requires it).
    pub vaulted: Vec<KeptLine>,
    /// Kept in place under a legal obligation, until their end.
    pub kept: Vec<KeptLine>,
    /// Whether the subject was erased whole (its key destroyed).
    pub shredded: bool,
}

impl Store {
    /// Carries out an erasure request (Art. 17): the account is closed,
    /// what a vault purpose keeps moves to the vault, what another legal
    /// obligation keeps stays with its ground and end, everything else is
    /// erased now — the subject whole, key destroyed, when nothing is kept.
    /// Each step can be repeated, so a run cut short is finished by running
    /// it again.
    pub async fn fulfil_erasure(
        &self,
        by: &Principal,
        id: &str,
    ) -> Result<ErasureAnswer, StoreError> {
        let request = self.request(by, id).await?;
        if !request.rights.contains(&Right::Erasure) {
            return Err(StoreError::Invalid(format!(
                "request {id} does not ask for erasure"
            )));
        }
        let subject = request.subject.clone();
        let reason = format!("rights request {id}");
        match self
            .record_life_event(by, &subject, crate::LifeEvent::AccountClosed, None, &reason)
            .await
        {
            Ok(()) | Err(StoreError::Erased(_)) => {}
            Err(StoreError::Invalid(m)) if m.contains("already closed") => {}
            Err(e) => return Err(e),
        }
        let policy = self.policy();
        let mut answer = ErasureAnswer::default();
        // Vault-bound records move now (the closure made them due).
        while self.move_to_vault(by, 10_000).await? > 0 {}
        answer.vaulted = self.vault_lines_of(&subject).await?;
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let row = sqlx::query("SELECT key, erased_at FROM subjects WHERE id = $1")
            .bind(subject.as_str())
            .fetch_one(&mut *tx)
            .await?;
        let key: i64 = row.try_get(0)?;
        let already_erased = row.try_get::<Option<i64>, _>(1)?.is_some();
        let life = crate::retention::life_of(&mut tx, self.engine, key).await?;
        let rows = sqlx::query(
            "SELECT id, category, purposes, collected_at FROM records WHERE subject_key = $1",
        )
        .bind(key)
        .fetch_all(&mut *tx)
        .await?;
        let mut erase: Vec<i64> = Vec::new();
        // Records kept under a legal obligation: (id, purposes, end, rule).
        let mut held: Vec<(i64, String, Option<i64>, Option<String>)> = Vec::new();
        let mut kept: std::collections::BTreeMap<(String, String), (u64, Option<Timestamp>)> =
            std::collections::BTreeMap::new();
        for r in &rows {
            let id: i64 = r.try_get(0)?;
            let category: String = r.try_get(1)?;
            let purposes: String = r.try_get(2)?;
            let legal: Vec<String> = purposes
                .split(',')
                .filter(|p| {
                    policy
                        .purpose(p)
                        .is_some_and(|x| x.basis == custode_policy::Basis::LegalObligation)
                })
                .map(str::to_owned)
                .collect();
            if legal.is_empty() {
                erase.push(id);
                continue;
            }
            let resolved = custode_domain::retention::resolve(
                &policy,
                &legal,
                from_micros(r.try_get(3)?),
                &life,
            );
            held.push((
                id,
                legal.join(","),
                resolved.retain_until.map(to_micros),
                resolved.rule,
            ));
            let entry = kept.entry((category, legal.join(","))).or_insert((0, None));
            entry.0 += 1;
            entry.1 = entry.1.max(resolved.retain_until);
        }
        // What stays serves its legal obligations only, and ends with them.
        for chunk in held.chunks(100) {
            let sql = format!(
                "UPDATE records SET purposes = v.column2, retain_until = CAST(v.column3 AS BIGINT), \
                 retain_rule = v.column4, vault_from = NULL, vault_until = NULL \
                 FROM (VALUES {}) AS v WHERE records.id = v.column1",
                crate::values(self.engine, chunk.len(), 4)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (id, purposes, until, rule) in chunk {
                q = q
                    .bind(*id)
                    .bind(purposes.clone())
                    .bind(*until)
                    .bind(rule.clone());
            }
            q.execute(&mut *tx).await?;
        }
        crate::delete_ids(
            &mut tx,
            self.engine,
            "DELETE FROM records WHERE id IN ({ids})",
            &erase,
        )
        .await?;
        answer.erased = erase.len() as u64;
        answer.kept = kept
            .into_iter()
            .map(|((category, grounds), (records, until))| KeptLine {
                category,
                grounds: grounds.split(',').map(str::to_owned).collect(),
                records,
                until,
            })
            .collect();
        let shred = answer.kept.is_empty() && !already_erased;
        sqlx::query("UPDATE rights_requests SET status = 'answered' WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        audit_log::append(
            &mut tx,
            self.engine,
            to_micros(now),
            &[Event {
                actor: by.id.clone(),
                action: Action::RequestAnswered,
                subject: Some(subject.to_string()),
                reason: Some(reason.clone()),
                detail: json!({
                    "request": id,
                    "right": "erasure",
                    "erased": answer.erased,
                    "vaulted": answer.vaulted.iter().map(|l| json!({"category": l.category, "grounds": l.grounds, "records": l.records})).collect::<Vec<_>>(),
                    "kept": answer.kept.iter().map(|l| json!({"category": l.category, "grounds": l.grounds, "records": l.records})).collect::<Vec<_>>(),
                }),
            }],
        )
        .await?;
        tx.commit().await?;
        if shred {
            match self.erase_subject(by, &subject, &reason).await {
                Ok(()) | Err(StoreError::Erased(_)) => {}
                Err(e) => return Err(e),
            }
            answer.shredded = true;
        }
        self.decisions.invalidate(subject.as_str());
        Ok(answer)
    }
}
