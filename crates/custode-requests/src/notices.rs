//! Art. 19: telling each recipient that received a subject's data of a
//! rectification, erasure or restriction. The step that makes the change
//! queues one notice per recipient, with the change, in one transaction:
//! the recipients of the purposes the subject's records actually serve,
//! for the categories they received — never an authority that receives
//! data only on an order in a particular inquiry (Art. 4(9)). A recipient
//! with an address in the policy is mailed by the server's worker; one
//! without is a task that staff carry out and confirm. Each notice keeps
//! when it was done and by whom (audited), and the answer names exactly
//! the recipients told, with the day, and those still pending.

use std::collections::{BTreeMap, BTreeSet};

use custode_audit::{Action, Event};
use custode_domain::Principal;
use custode_domain::clock::{from_micros, to_micros};
use custode_domain::requests::Right;
use jiff::Timestamp;
use serde_json::json;
use sqlx::Row;

use crate::intake::LoadedRequest;
use custode_store::{StoreError, audit_log};

use crate::Requests;

/// The recipients to tell of a change to data the subject has, given as
/// (category, purpose) pairs of its records: for each purpose a record
/// serves, that purpose's recipients received the record's category.
/// Authorities that receive only on an order are left out. Each comes with
/// the categories it received, in the policy's order.
pub fn recipients_to_tell<'p>(
    policy: &'p custode_policy::Policy,
    held: &BTreeSet<(String, String)>,
) -> Vec<(&'p custode_policy::Recipient, Vec<String>)> {
    let mut got: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (category, purpose) in held {
        let Some(p) = policy.purpose(purpose) else {
            continue;
        };
        if !p.categories.iter().any(|c| c.value == *category) {
            continue;
        }
        for r in &p.recipients {
            got.entry(r.value.as_str())
                .or_default()
                .insert(category.as_str());
        }
    }
    policy
        .recipients
        .iter()
        .filter(|r| !r.on_order)
        .filter_map(|r| {
            got.get(r.id.value.as_str()).map(|cats| {
                let ordered = policy
                    .categories
                    .iter()
                    .map(|c| c.id.value.as_str())
                    .filter(|c| cats.contains(c))
                    .map(str::to_owned)
                    .collect();
                (r, ordered)
            })
        })
        .collect()
}

/// One Art. 19 notice to a recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecipientNotice {
    /// The request.
    pub request: String,
    /// The right whose change the recipient is told of.
    pub right: String,
    /// The recipient's id in the policy.
    pub recipient: String,
    /// Its name, as the policy had it.
    pub name: String,
    /// `mail` (sent by the server) or `task` (staff tell it and confirm).
    pub channel: String,
    /// Where the mail goes.
    pub address: Option<String>,
    /// The categories it received.
    pub categories: Vec<String>,
    /// When the notice was queued.
    pub created_at: Timestamp,
    /// When the recipient was told, once it was.
    pub told_at: Option<Timestamp>,
    /// Who told it: `mail`, or the staff member who confirmed.
    pub told_by: Option<String>,
    /// Failed mail attempts.
    pub attempts: u32,
    /// Why the last mail failed.
    pub last_error: Option<String>,
}

/// A notice for the mail worker to send.
#[derive(Clone, Debug)]
pub struct RecipientMail {
    /// The request.
    pub request: String,
    /// The right.
    pub right: String,
    /// The recipient's id in the policy.
    pub recipient: String,
    /// The recipient's address.
    pub to: String,
    /// The subject line.
    pub subject_line: String,
    /// The body.
    pub body: String,
    subject: String,
}

const COLUMNS: &str = "n.request_id, n.right_name, n.recipient, n.name, n.channel, n.address, n.categories, n.created_at, n.told_at, n.told_by, n.attempts, n.last_error";

fn notice_of(r: &sqlx::any::AnyRow) -> Result<RecipientNotice, StoreError> {
    let categories: String = r.try_get(6)?;
    Ok(RecipientNotice {
        request: r.try_get(0)?,
        right: r.try_get(1)?,
        recipient: r.try_get(2)?,
        name: r.try_get(3)?,
        channel: r.try_get(4)?,
        address: r.try_get(5)?,
        categories: categories
            .split(',')
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect(),
        created_at: from_micros(r.try_get(7)?),
        told_at: r.try_get::<Option<i64>, _>(8)?.map(from_micros),
        told_by: r.try_get(9)?,
        attempts: u32::try_from(r.try_get::<i64, _>(10)?).unwrap_or(0),
        last_error: r.try_get(11)?,
    })
}

impl Requests {
    /// Queues the notices of a change, inside the transaction that makes
    /// it; queuing again (a repeated step) adds nothing. Returns the
    /// recipients' names, for the job's result.
    pub(crate) async fn queue_notices(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        request: &LoadedRequest,
        right: Right,
        held: &BTreeSet<(String, String)>,
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        let policy = self.store.policy();
        let mut names = Vec::new();
        for (r, categories) in recipients_to_tell(&policy, held) {
            sqlx::query(
                "INSERT INTO recipient_notices (request_id, right_name, recipient, name, channel, address, categories, created_at, next_at, attempts) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, 0) ON CONFLICT (request_id, right_name, recipient) DO NOTHING",
            )
            .bind(&request.id)
            .bind(right.name())
            .bind(&r.id.value)
            .bind(&r.name)
            .bind(if r.notify_email.is_some() { "mail" } else { "task" })
            .bind(r.notify_email.clone())
            .bind(categories.join(","))
            .bind(now)
            .execute(&mut **tx)
            .await?;
            names.push(r.name.clone());
        }
        Ok(names)
    }

    /// The notices of one request, for its answer.
    pub(crate) async fn notices_of(
        &self,
        request: &str,
    ) -> Result<Vec<RecipientNotice>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM recipient_notices n WHERE n.request_id = $1 ORDER BY n.created_at, n.recipient"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(request)
            .fetch_all(self.store.reader())
            .await?
            .iter()
            .map(notice_of)
            .collect()
    }

    /// The Art. 19 notices of the requests in the caller's scope, oldest
    /// first; with `pending_only`, those not yet told.
    pub async fn recipient_notices(
        &self,
        by: &Principal,
        pending_only: bool,
    ) -> Result<Vec<RecipientNotice>, StoreError> {
        let (low, high) = by.scope.path_range();
        let sql = format!(
            "SELECT {COLUMNS} FROM recipient_notices n JOIN rights_requests r ON r.id = n.request_id JOIN subjects s ON s.key = r.subject_key \
             WHERE r.tenant_path >= $1 AND r.tenant_path < $2 AND ($3 IS NULL OR s.id = $3) AND ($4 = 0 OR n.told_at IS NULL) \
             ORDER BY n.created_at, n.request_id, n.recipient"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(low)
            .bind(high)
            .bind(by.scope.only_subject().map(|s| s.to_string()))
            .bind(i64::from(pending_only))
            .fetch_all(self.store.reader())
            .await?
            .iter()
            .map(notice_of)
            .collect()
    }

    /// Staff confirm that they told a recipient (a task, or a mail sent by
    /// hand): the day and who confirmed are kept, and audited with it.
    pub async fn confirm_recipient_notice(
        &self,
        by: &Principal,
        id: &str,
        right: &str,
        recipient: &str,
    ) -> Result<RecipientNotice, StoreError> {
        let request = self.load_request(by, id, "request.notice").await?;
        let find = || async {
            self.notices_of(id).await.map(|all| {
                all.into_iter()
                    .find(|n| n.right == right && n.recipient == recipient)
            })
        };
        let Some(notice) = find().await? else {
            return Err(StoreError::NotFound {
                what: "Art. 19 notice (request/right/recipient)",
                id: format!("{id}/{right}/{recipient}"),
            });
        };
        if let (Some(at), Some(who)) = (notice.told_at, &notice.told_by) {
            return Err(StoreError::Conflict(format!(
                "`{recipient}` was told of request {id}'s {right} already, at {at}, by {who}"
            )));
        }
        let now = to_micros(self.store.now());
        let mut tx = self.store.begin_write().await?;
        let told = sqlx::query(
            "UPDATE recipient_notices SET told_at = $1, told_by = $2 WHERE request_id = $3 AND right_name = $4 AND recipient = $5 AND told_at IS NULL",
        )
        .bind(now)
        .bind(&by.id)
        .bind(id)
        .bind(right)
        .bind(recipient)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if told == 0 {
            return Err(StoreError::Conflict(format!(
                "`{recipient}` was told of request {id}'s {right} meanwhile"
            )));
        }
        self.audit_request(
            &mut tx,
            by,
            &request,
            Action::RequestFulfilled,
            now,
            json!({ "request": id, "right": right, "recipient_told": recipient, "how": "confirmed" }),
        )
        .await?;
        tx.commit().await?;
        find().await?.ok_or_else(|| StoreError::NotFound {
            what: "Art. 19 notice (request/right/recipient)",
            id: format!("{id}/{right}/{recipient}"),
        })
    }

    /// Mail notices due, at most `limit`, written in the policy's first
    /// language. Each names the subject only by its id here.
    pub async fn recipient_mails_due(&self, limit: u32) -> Result<Vec<RecipientMail>, StoreError> {
        let policy = self.store.policy();
        let lang = policy.meta.languages[0];
        let rows = sqlx::query(
            "SELECT n.request_id, n.right_name, n.recipient, n.address, n.categories, s.id FROM recipient_notices n \
             JOIN rights_requests r ON r.id = n.request_id JOIN subjects s ON s.key = r.subject_key \
             WHERE n.told_at IS NULL AND n.channel = 'mail' AND n.next_at <= $1 ORDER BY n.next_at LIMIT $2",
        )
        .bind(to_micros(self.store.now()))
        .bind(i64::from(limit))
        .fetch_all(self.store.reader())
        .await?;
        rows.iter()
            .map(|r| {
                let request: String = r.try_get(0)?;
                let right: String = r.try_get(1)?;
                let subject: String = r.try_get(5)?;
                let categories: Vec<String> = r
                    .try_get::<String, _>(4)?
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned)
                    .collect();
                let (subject_line, body) = custode_policy::recipient_notice_message(
                    &policy,
                    lang,
                    &request,
                    &right,
                    &subject,
                    &categories,
                );
                Ok(RecipientMail {
                    request,
                    right,
                    recipient: r.try_get(2)?,
                    to: r.try_get::<Option<String>, _>(3)?.unwrap_or_default(),
                    subject_line,
                    body,
                    subject,
                })
            })
            .collect()
    }

    /// Records that the relay took a notice's mail: the recipient is told,
    /// and the audit entry commits with it.
    pub async fn recipient_mailed(&self, mail: &RecipientMail) -> Result<(), StoreError> {
        let now = to_micros(self.store.now());
        let mut tx = self.store.begin_write().await?;
        let told = sqlx::query(
            "UPDATE recipient_notices SET told_at = $1, told_by = 'mail', last_error = NULL WHERE request_id = $2 AND right_name = $3 AND recipient = $4 AND told_at IS NULL",
        )
        .bind(now)
        .bind(&mail.request)
        .bind(&mail.right)
        .bind(&mail.recipient)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if told == 1 {
            audit_log::append(
                &mut tx,
                self.store.engine(),
                now,
                &[Event {
                    actor: Principal::system("requests").id,
                    action: Action::RequestFulfilled,
                    subject: Some(mail.subject.clone()),
                    reason: Some(format!("rights request {}", mail.request)),
                    detail: json!({ "request": mail.request, "right": mail.right, "recipient_told": mail.recipient, "how": "mail" }),
                }],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records a mail the relay did not take: tried again after
    /// [`crate::fulfilment::backoff`], and shown with the notice meanwhile.
    pub async fn recipient_mail_failed(
        &self,
        mail: &RecipientMail,
        error: &str,
    ) -> Result<(), StoreError> {
        let now = self.store.now();
        let attempts: i64 = sqlx::query(
            "SELECT attempts FROM recipient_notices WHERE request_id = $1 AND right_name = $2 AND recipient = $3",
        )
        .bind(&mail.request)
        .bind(&mail.right)
        .bind(&mail.recipient)
        .fetch_optional(self.store.reader())
        .await?
        .map(|r| r.try_get(0))
        .transpose()?
        .unwrap_or(0)
            + 1;
        let pause = crate::fulfilment::backoff(u32::try_from(attempts).unwrap_or(u32::MAX));
        let next = now
            + jiff::SignedDuration::try_from(pause)
                .unwrap_or(jiff::SignedDuration::from_secs(3600));
        sqlx::query(
            "UPDATE recipient_notices SET attempts = $1, last_error = $2, next_at = $3 WHERE request_id = $4 AND right_name = $5 AND recipient = $6 AND told_at IS NULL",
        )
        .bind(attempts)
        .bind(error.chars().take(500).collect::<String>())
        .bind(to_micros(next))
        .bind(&mail.request)
        .bind(&mail.right)
        .bind(&mail.recipient)
        .execute(self.store.writer())
        .await?;
        Ok(())
    }
}
