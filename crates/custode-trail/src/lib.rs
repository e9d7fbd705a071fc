//! The audit trail of one subject: who read or changed which of its data,
//! when, in which role and why, read from the audit chain's entries about
//! it (the `audit_by_subject` index, never a scan of the chain).
//!
//! Two views of the same entries. Staff (the DPO, the local operator) see
//! every entry with its actor named, refusals included. The subject sees
//! the reads and changes of its data and its own requests, with dates,
//! roles and purposes (the CJEU's reading of Art. 15 in C-579/21), but not
//! staff names: the policy has no setting that names staff to the people
//! whose data they handle, so the role stands for the person. Nor does it
//! see the legal officer's queries of the vault under an authority's order,
//! which the law may keep confidential (Art. 23); the DPO sees them.
//!
//! Reading a trail is itself a read about the subject, audited before the
//! answer leaves. Entries that name no subject (the retention sweeper's
//! batches, counted per category) are not in any subject's trail.

use std::collections::{BTreeSet, HashMap};

use custode_audit::{Action, Event};
use custode_domain::clock::{from_micros, to_micros};
use custode_domain::{Principal, Role, SubjectId};
use jiff::Timestamp;
use serde_json::{Value, json};
use sqlx::Row;

use std::sync::Arc;

use custode_store::{Store, StoreError, in_query, not_found};

/// The audit-trail capability.
pub struct AuditTrail {
    store: Arc<Store>,
}

impl AuditTrail {
    /// Trails read from a store's audit chain.
    pub fn new(store: Arc<Store>) -> AuditTrail {
        AuditTrail { store }
    }
}

/// At most this many entries per page of a trail.
pub const TRAIL_PAGE_MAX: u32 = 10_000;

/// At most this many entries of a trail go into an access package.
const PACKAGE_MAX: usize = 100_000;

/// What a subject's own view says of how staff are shown, and why.
pub const SUBJECT_VIEW_NOTE: &str = "Staff are shown by their role, not by name: the policy has no \
setting that names them to the people whose data they handle. Queries of the legal-hold vault \
under an authority's order are not listed, as the law may keep them confidential (Art. 23 GDPR); \
the DPO can tell you more.";

/// Who a trail is shown to, which decides what it shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrailView {
    /// Staff (the DPO, the local operator): every entry, actors named.
    Staff,
    /// The subject itself: reads, changes and requests; roles, no names.
    Subject,
}

impl TrailView {
    /// `staff` or `subject`.
    pub fn name(self) -> &'static str {
        match self {
            TrailView::Staff => "staff",
            TrailView::Subject => "subject",
        }
    }
}

/// What part of a trail to read.
#[derive(Clone, Debug, Default)]
pub struct TrailFilter {
    /// Only entries by this actor (`user:…`, `token:…`, `job:…`, `cli:…`);
    /// staff only.
    pub actor: Option<String>,
    /// Only entries of this action (`records.read`, ...).
    pub action: Option<String>,
    /// Only entries at or after this instant.
    pub from: Option<Timestamp>,
    /// Only entries before this instant (see [`parse_until`]).
    pub until: Option<Timestamp>,
    /// Only entries after this position in the chain (the previous page's
    /// `next`).
    pub after: Option<i64>,
    /// At most this many entries (1 to [`TRAIL_PAGE_MAX`]; 0 means 1,000).
    pub limit: u32,
    /// Show the subject's own view although the caller is staff (what the
    /// subject would see). A subject always gets its own view.
    pub as_subject: bool,
}

/// One entry of a trail.
#[derive(Clone, Debug, PartialEq)]
pub struct TrailEntry {
    /// Its position in the audit chain.
    pub seq: i64,
    /// When.
    pub at: Timestamp,
    /// What, as the audit chain names it (`records.read`).
    pub action: String,
    /// `read`, `change`, `request`, `refused` or `other`.
    pub kind: &'static str,
    /// Who (staff view only).
    pub actor: Option<String>,
    /// The actor's name: a user's name, a token's holder (staff view only).
    pub actor_name: Option<String>,
    /// The actor's role (its current one), `operator` for the local
    /// operator, `system` for a job.
    pub role: String,
    /// Why, as the actor gave it: the purpose of a consultation.
    pub reason: Option<String>,
    /// Which categories of data, where the entry names them.
    pub categories: Vec<String>,
    /// How many records, where the entry counts them.
    pub records: Option<u64>,
    /// The entry's detail as recorded (staff view only).
    pub detail: Option<Value>,
}

/// A page of a subject's trail.
#[derive(Clone, Debug, PartialEq)]
pub struct Trail {
    /// Whose.
    pub subject: SubjectId,
    /// Which view.
    pub view: TrailView,
    /// The entries, oldest first.
    pub entries: Vec<TrailEntry>,
    /// Pass as `after` for the next page; none on the last.
    pub next: Option<i64>,
    /// What the view leaves out, and why (the subject's view).
    pub note: Option<&'static str>,
}

/// A `from` bound: an RFC 3339 instant, or a day (`2026-01-31`, from its
/// start, UTC).
pub fn parse_from(text: &str) -> Result<Timestamp, StoreError> {
    bound(text, false)
}

/// An `until` bound, inclusive: an RFC 3339 instant, or a day
/// (`2026-01-31`, to its end, UTC). Returned as the exclusive end.
pub fn parse_until(text: &str) -> Result<Timestamp, StoreError> {
    bound(text, true)
}

fn bound(text: &str, end: bool) -> Result<Timestamp, StoreError> {
    let text = text.trim();
    let bad = || {
        StoreError::Invalid(format!(
            "`{text}` is neither an RFC 3339 instant (2026-01-31T10:00:00Z) nor a day (2026-01-31)"
        ))
    };
    if let Ok(t) = text.parse::<Timestamp>() {
        return if end {
            t.checked_add(jiff::SignedDuration::from_micros(1))
                .map_err(|_| bad())
        } else {
            Ok(t)
        };
    }
    let day = text.parse::<jiff::civil::Date>().map_err(|_| bad())?;
    let day = if end {
        day.tomorrow().map_err(|_| bad())?
    } else {
        day
    };
    Ok(day
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map_err(|_| bad())?
        .timestamp())
}

/// What an action does to a subject's data.
fn kind_of(action: &str) -> &'static str {
    match action {
        "records.read" | "consent.read" | "vault.queried" | "subject.found"
        | "audit.trail_read" => "read",
        "records.written" | "records.rectified" | "subject.created" | "subject.erased"
        | "subject.event" | "consent.recorded" | "retention.vaulted" | "retention.erased" => {
            "change"
        }
        "access.denied" => "refused",
        a if a.starts_with("request.") => "request",
        _ => "other",
    }
}

/// Whether the subject's own view shows an entry: its data read or
/// changed and its requests, but no refusal, and no query of the vault
/// but those its own access requests made (a job's).
fn shown_to_subject(kind: &str, action: &str, actor: &str) -> bool {
    matches!(kind, "read" | "change" | "request")
        && (action != "vault.queried" || actor.starts_with("job:"))
}

/// The categories an entry's detail names.
fn categories_in(detail: &Value) -> Vec<String> {
    let mut out = BTreeSet::new();
    if let Some(list) = detail.get("categories").and_then(Value::as_array) {
        out.extend(list.iter().filter_map(Value::as_str).map(str::to_owned));
    }
    if let Some(c) = detail.get("category").and_then(Value::as_str) {
        out.insert(c.to_owned());
    }
    for key in ["by_rule", "by_ground"] {
        for line in detail
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(c) = line.get("category").and_then(Value::as_str) {
                out.insert(c.to_owned());
            }
        }
    }
    out.into_iter().collect()
}

/// An actor's name and role, from the credential it acted with.
type Actors = HashMap<String, (Option<String>, String)>;

impl AuditTrail {
    /// A page of a subject's audit trail (see the module doc), audited as a
    /// read of the subject with `reason`. A subject reads its own and no
    /// one else's (another is not found); staff read those in their scope.
    /// Bad filters (an unknown action, an actor filter in the subject's
    /// view) are [`StoreError::Invalid`], and nothing is recorded.
    pub async fn subject_trail(
        &self,
        by: &Principal,
        subject: &SubjectId,
        filter: &TrailFilter,
        reason: &str,
    ) -> Result<Trail, StoreError> {
        let view = if by.role == Role::Subject || filter.as_subject {
            TrailView::Subject
        } else {
            TrailView::Staff
        };
        if let Some(action) = &filter.action
            && Action::from_name(action).is_none()
        {
            return Err(StoreError::Invalid(format!(
                "unknown action `{action}`: use one of {}",
                Action::ALL
                    .iter()
                    .map(|a| a.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if view == TrailView::Subject && filter.actor.is_some() {
            return Err(StoreError::Invalid(
                "the actor filter is for staff: a subject's own trail does not name staff"
                    .to_owned(),
            ));
        }
        if let (Some(from), Some(until)) = (filter.from, filter.until)
            && from >= until
        {
            return Err(StoreError::Invalid(
                "the trail's `from` must come before its `until`".to_owned(),
            ));
        }
        let limit = match filter.limit {
            0 => 1000,
            n if n <= TRAIL_PAGE_MAX => n,
            n => {
                return Err(StoreError::Invalid(format!(
                    "a trail page holds 1 to {TRAIL_PAGE_MAX} entries, not {n}"
                )));
            }
        };
        let path: Option<String> = sqlx::query("SELECT tenant_path FROM subjects WHERE id = $1")
            .bind(subject.as_str())
            .fetch_optional(self.store.reader())
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
        let Some(path) = path else {
            return Err(not_found("subject", subject.as_str()));
        };
        if !by.scope.covers(&path, subject) {
            self.store
                .audit_denied(by, Some(subject.as_str()), "audit.trail")
                .await?;
            return Err(not_found("subject", subject.as_str()));
        }
        let (entries, next) = self.trail_page(subject, filter, limit, view).await?;
        self.store
            .audit_alone(Event {
                actor: by.id.clone(),
                action: Action::TrailRead,
                subject: Some(subject.to_string()),
                reason: Some(reason.to_owned()),
                detail: json!({ "entries": entries.len(), "view": view.name() }),
            })
            .await?;
        Ok(Trail {
            subject: subject.clone(),
            view,
            entries,
            next,
            note: (view == TrailView::Subject).then_some(SUBJECT_VIEW_NOTE),
        })
    }

    /// The subject's own view of its whole trail, for its access package
    /// (Art. 15 as C-579/21 reads it); the read is audited under the
    /// request.
    pub async fn trail_for_access(
        &self,
        by: &Principal,
        subject: &SubjectId,
        request: &str,
    ) -> Result<Trail, StoreError> {
        let mut filter = TrailFilter {
            limit: TRAIL_PAGE_MAX,
            ..TrailFilter::default()
        };
        let mut entries = Vec::new();
        loop {
            let (page, next) = self
                .trail_page(subject, &filter, TRAIL_PAGE_MAX, TrailView::Subject)
                .await?;
            entries.extend(page);
            match next {
                Some(after) if entries.len() < PACKAGE_MAX => filter.after = Some(after),
                _ => break,
            }
        }
        self.store
            .audit_alone(Event {
                actor: by.id.clone(),
                action: Action::TrailRead,
                subject: Some(subject.to_string()),
                reason: Some(request.to_owned()),
                detail: json!({ "entries": entries.len(), "view": TrailView::Subject.name() }),
            })
            .await?;
        Ok(Trail {
            subject: subject.clone(),
            view: TrailView::Subject,
            entries,
            next: None,
            note: Some(SUBJECT_VIEW_NOTE),
        })
    }

    /// Entries about `subject` after `filter.after`, oldest first, at most
    /// `limit` read; those the view hides are dropped after the read, so a
    /// page can be shorter than `limit` and still have a next.
    async fn trail_page(
        &self,
        subject: &SubjectId,
        filter: &TrailFilter,
        limit: u32,
        view: TrailView,
    ) -> Result<(Vec<TrailEntry>, Option<i64>), StoreError> {
        let rows = sqlx::query(
            "SELECT seq, body FROM audit_log WHERE subject_id = $1 AND seq > $2 \
             AND ($3 IS NULL OR actor = $3) AND ($4 IS NULL OR action = $4) \
             AND ($5 IS NULL OR at >= $5) AND ($6 IS NULL OR at < $6) \
             ORDER BY seq LIMIT $7",
        )
        .bind(subject.as_str())
        .bind(filter.after.unwrap_or(0))
        .bind(filter.actor.clone())
        .bind(filter.action.clone())
        .bind(filter.from.map(to_micros))
        .bind(filter.until.map(to_micros))
        .bind(i64::from(limit))
        .fetch_all(self.store.reader())
        .await?;
        let next = if rows.len() == limit as usize {
            rows.last().map(|r| r.try_get::<i64, _>(0)).transpose()?
        } else {
            None
        };
        let mut read = Vec::with_capacity(rows.len());
        for r in &rows {
            let seq: i64 = r.try_get(0)?;
            let body: String = r.try_get(1)?;
            let body: Value = serde_json::from_str(&body).map_err(|e| {
                StoreError::AuditFailed(format!("audit entry {seq} is not JSON: {e}"))
            })?;
            read.push((seq, body));
        }
        let actors = self
            .actors(read.iter().filter_map(|(_, b)| b["actor"].as_str()))
            .await?;
        let mut entries = Vec::with_capacity(read.len());
        for (seq, body) in read {
            let action = body["action"].as_str().unwrap_or_default().to_owned();
            let actor = body["actor"].as_str().unwrap_or_default().to_owned();
            let kind = kind_of(&action);
            if view == TrailView::Subject && !shown_to_subject(kind, &action, &actor) {
                continue;
            }
            let (name, role) = actors
                .get(&actor)
                .cloned()
                .unwrap_or((None, "unknown".to_owned()));
            let detail = body.get("detail").cloned().unwrap_or(Value::Null);
            let staff = view == TrailView::Staff;
            entries.push(TrailEntry {
                seq,
                at: from_micros(body["at"].as_i64().unwrap_or_default()),
                kind,
                categories: categories_in(&detail),
                records: detail.get("records").and_then(Value::as_u64),
                reason: body["reason"].as_str().map(str::to_owned),
                role,
                actor_name: name.filter(|_| staff),
                actor: staff.then_some(actor),
                detail: staff.then_some(detail),
                action,
            });
        }
        Ok((entries, next))
    }

    /// The name and role of each actor: a user's name and role, a token's
    /// holder (or name) and role, the local operator, a job.
    async fn actors<'a>(
        &self,
        actors: impl Iterator<Item = &'a str>,
    ) -> Result<Actors, StoreError> {
        let mut out = Actors::new();
        let mut users = BTreeSet::new();
        let mut tokens = BTreeSet::new();
        for actor in actors {
            if out.contains_key(actor) {
                continue;
            }
            let (prefix, rest) = actor.split_once(':').unwrap_or((actor, ""));
            let known = match prefix {
                "user" => {
                    users.insert(rest);
                    None
                }
                "token" => {
                    tokens.insert(rest);
                    None
                }
                "cli" => Some((Some(rest.to_owned()), "operator")),
                "job" => Some((Some(rest.to_owned()), "system")),
                "subject" => Some((None, "subject")),
                "anonymous" => Some((None, "anonymous")),
                _ => Some((None, "unknown")),
            };
            let (name, role) = known.unwrap_or((None, "unknown"));
            out.insert(actor.to_owned(), (name, role.to_owned()));
        }
        let users: Vec<&str> = users.into_iter().collect();
        for chunk in users.chunks(500) {
            let q = in_query(
                self.store.engine(),
                "SELECT id, username, role FROM users WHERE id IN ({ids})",
                chunk,
            );
            for r in q.fetch_all(self.store.reader()).await? {
                let id: String = r.try_get(0)?;
                out.insert(format!("user:{id}"), (Some(r.try_get(1)?), r.try_get(2)?));
            }
        }
        let tokens: Vec<&str> = tokens.into_iter().collect();
        for chunk in tokens.chunks(500) {
            let q = in_query(
                self.store.engine(),
                "SELECT id, name, holder, role FROM api_tokens WHERE id IN ({ids})",
                chunk,
            );
            for r in q.fetch_all(self.store.reader()).await? {
                let id: String = r.try_get(0)?;
                let holder: Option<String> = r.try_get(2)?;
                let name = holder.unwrap_or(r.try_get(1)?);
                out.insert(format!("token:{id}"), (Some(name), r.try_get(3)?));
            }
        }
        Ok(out)
    }
}

impl Trail {
    /// The trail as JSON: the subject, the view, the entries (the subject's
    /// view without actors, names or details), the next page and the note.
    pub fn to_json(&self) -> Value {
        json!({
            "subject": self.subject.as_str(),
            "view": self.view.name(),
            "entries": self.entries.iter().map(|e| {
                let mut v = json!({
                    "seq": e.seq,
                    "at": e.at.to_string(),
                    "kind": e.kind,
                    "action": e.action,
                    "role": e.role,
                    "reason": e.reason,
                    "categories": e.categories,
                    "records": e.records,
                });
                if self.view == TrailView::Staff {
                    v["actor"] = json!(e.actor);
                    v["actor_name"] = json!(e.actor_name);
                    v["detail"] = e.detail.clone().unwrap_or(Value::Null);
                }
                v
            }).collect::<Vec<_>>(),
            "next": self.next.map(|n| n.to_string()),
            "note": self.note,
        })
    }

    /// The trail as CSV (RFC 4180, a header row): for staff `seq, at, kind,
    /// action, actor, actor_name, role, reason, categories, records,
    /// detail`; for the subject the same without actor, name and detail.
    pub fn to_csv(&self) -> Result<Vec<u8>, StoreError> {
        let fail = |e: csv::Error| StoreError::Invalid(format!("the trail as CSV: {e}"));
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(Vec::new());
        let staff = self.view == TrailView::Staff;
        if staff {
            w.write_record([
                "seq",
                "at",
                "kind",
                "action",
                "actor",
                "actor_name",
                "role",
                "reason",
                "categories",
                "records",
                "detail",
            ])
            .map_err(fail)?;
        } else {
            w.write_record([
                "seq",
                "at",
                "kind",
                "action",
                "role",
                "reason",
                "categories",
                "records",
            ])
            .map_err(fail)?;
        }
        for e in &self.entries {
            let seq = e.seq.to_string();
            let at = e.at.to_string();
            let reason = e.reason.clone().unwrap_or_default();
            let categories = e.categories.join(" ");
            let records = e.records.map(|n| n.to_string()).unwrap_or_default();
            if staff {
                let detail = e.detail.as_ref().map(Value::to_string).unwrap_or_default();
                w.write_record([
                    seq.as_str(),
                    &at,
                    e.kind,
                    &e.action,
                    e.actor.as_deref().unwrap_or_default(),
                    e.actor_name.as_deref().unwrap_or_default(),
                    &e.role,
                    &reason,
                    &categories,
                    &records,
                    &detail,
                ])
                .map_err(fail)?;
            } else {
                w.write_record([
                    seq.as_str(),
                    &at,
                    e.kind,
                    &e.action,
                    &e.role,
                    &reason,
                    &categories,
                    &records,
                ])
                .map_err(fail)?;
            }
        }
        w.into_inner()
            .map_err(|e| StoreError::Invalid(format!("the trail as CSV: {e}")))
    }
}

/// The files an access package adds for the trail: `audit-trail.json`
/// and `audit-trail.csv`.
pub fn package_files(trail: &Trail) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    let json = serde_json::to_vec_pretty(&trail.to_json())
        .map_err(|e| StoreError::Invalid(format!("the trail as JSON: {e}")))?;
    Ok(vec![
        ("audit-trail.json".to_owned(), json),
        ("audit-trail.csv".to_owned(), trail.to_csv()?),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_take_instants_and_whole_days() {
        let from = parse_from("2026-01-31").expect("day");
        assert_eq!(from.to_string(), "2026-01-31T00:00:00Z");
        let until = parse_until("2026-01-31").expect("day");
        assert_eq!(until.to_string(), "2026-02-01T00:00:00Z");
        let until = parse_until("2026-01-31T10:00:00Z").expect("instant");
        assert_eq!(until.to_string(), "2026-01-31T10:00:00.000001Z");
        assert!(parse_from("yesterday").is_err());
    }

    #[test]
    fn the_subject_sees_its_data_read_and_changed_not_refusals_nor_orders() {
        assert!(shown_to_subject("read", "records.read", "user:x"));
        assert!(shown_to_subject("change", "records.written", "token:y"));
        assert!(!shown_to_subject("refused", "access.denied", "user:x"));
        assert!(!shown_to_subject("read", "vault.queried", "user:officer"));
        assert!(shown_to_subject("read", "vault.queried", "job:requests"));
    }
}
