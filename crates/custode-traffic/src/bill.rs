//! The subscriber's bill check (Art. 124 Codice privacy): the itemised
//! calls of a billing period, read by the subscriber (or staff serving
//! them, in scope), with the last three digits of every number called
//! masked. Only calls still within their billing use (Art. 123: the
//! policy's billing purposes, at most six months) are shown: older ones
//! exist only for justice, which this path never reads.

use custode_audit::{Action, Event};
use custode_domain::clock::{from_micros, to_micros};
use custode_domain::{Principal, SubjectId};
use custode_store::StoreError;
use jiff::Timestamp;
use serde_json::json;
use sqlx::Row;

use crate::rules::PHONE;
use crate::{Traffic, TrafficError};

/// One call of an itemised bill.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BillLine {
    /// When it started.
    pub start: Timestamp,
    /// The number called, its last three digits masked.
    pub called: String,
    /// Seconds.
    pub duration: u64,
    /// The cell or trunk.
    pub cell: Option<String>,
}

/// A number with its last three digits replaced by `x` (Art. 124(2)).
pub fn mask_number(number: &str) -> String {
    let digits = number.chars().filter(char::is_ascii_digit).count();
    let keep = digits.saturating_sub(3);
    let mut seen = 0;
    number
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                seen += 1;
                if seen > keep { 'x' } else { c }
            } else {
                c
            }
        })
        .collect()
}

impl Traffic {
    /// The calls `subject` made in `[from, to)`, masked, oldest first. The
    /// read is audited against the subject.
    pub async fn bill_check(
        &self,
        by: &Principal,
        subject: &SubjectId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<BillLine>, TrafficError> {
        if !custode_domain::may(by.role, custode_domain::Operation::ReadRecords) {
            self.store
                .audit_denied(by, Some(subject.as_str()), "traffic.bill_check")
                .await?;
            return Err(StoreError::Forbidden(
                "the bill check is for the subscriber and the staff serving them".to_owned(),
            )
            .into());
        }
        let row = sqlx::query("SELECT key, tenant_path, erased_at FROM subjects WHERE id = $1")
            .bind(subject.as_str())
            .fetch_optional(self.store.reader())
            .await
            .map_err(StoreError::from)?;
        let key = match row {
            Some(r) => {
                let path: String = r.try_get(1).map_err(StoreError::from)?;
                let erased: Option<i64> = r.try_get(2).map_err(StoreError::from)?;
                if !by.scope.covers(&path, subject) || erased.is_some() {
                    None
                } else {
                    Some(r.try_get::<i64, _>(0).map_err(StoreError::from)?)
                }
            }
            None => None,
        };
        let Some(key) = key else {
            return Err(custode_store::not_found("subject", subject.as_str()).into());
        };
        if from >= to {
            return Err(TrafficError::Invalid(
                "the billing period's start must come before its end".to_owned(),
            ));
        }
        let rules = self.rules()?;
        let Some(billing) = rules.periods(PHONE).and_then(|p| p.billing) else {
            return Err(TrafficError::Invalid(
                "the policy has no billing use of telephone traffic".to_owned(),
            ));
        };
        let now = self.store.now();
        if rules.end(to, billing) <= now {
            return Err(TrafficError::Invalid(format!(
                "calls of that period are past their billing use ({} months, Art. 123): they are no longer itemised",
                billing.amount
            )));
        }
        let mut out = Vec::new();
        for p in self.partitions.in_range(&[PHONE], from, to).await? {
            let table = p.table();
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT at, link_hash, sealed FROM {table} \
                 WHERE subject_key = $1 AND at >= $2 AND at < $3 AND billing_until > $4 ORDER BY at"
            )))
            .bind(key)
            .bind(to_micros(from))
            .bind(to_micros(to))
            .bind(to_micros(now))
            .fetch_all(self.store.reader())
            .await
            .map_err(StoreError::from)?;
            let Some(partition_key) = self.partitions.key(&p).await? else {
                continue;
            };
            for r in rows {
                let at: i64 = r.try_get(0).map_err(StoreError::from)?;
                let link: Vec<u8> = r.try_get(1).map_err(StoreError::from)?;
                let sealed: Vec<u8> = r.try_get(2).map_err(StoreError::from)?;
                let plain = partition_key
                    .open(&sealed, &p.aad(at, &link))
                    .map_err(StoreError::from)?;
                let fields: serde_json::Value = serde_json::from_slice(&plain)
                    .map_err(|e| TrafficError::Invalid(format!("a sealed call record: {e}")))?;
                out.push(BillLine {
                    start: from_micros(at),
                    called: mask_number(fields["callee"].as_str().unwrap_or_default()),
                    duration: fields["duration"].as_u64().unwrap_or(0),
                    cell: fields["cell"].as_str().map(str::to_owned),
                });
            }
        }
        self.store
            .audit_alone(Event {
                actor: by.id.clone(),
                action: Action::RecordsRead,
                subject: Some(subject.to_string()),
                reason: Some("bill check (Art. 124)".to_owned()),
                detail: json!({
                    "traffic": PHONE,
                    "from": from.to_string(),
                    "to": to.to_string(),
                    "calls": out.len(),
                }),
            })
            .await?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::mask_number;

    #[test]
    fn the_last_three_digits_are_masked() {
        assert_eq!(mask_number("+390287654321"), "+390287654xxx");
        assert_eq!(mask_number("+39 02 876 54 321"), "+39 02 876 54 xxx");
        assert_eq!(mask_number("12"), "xx");
    }
}
