//! The provider's own databases in rights requests: the subject's
//! identifiers (taken from its decrypted records, since the store keeps
//! them only as keyed hashes) handed to `custode-connectors` for access,
//! rectification and erasure. A system that is down or failing makes the
//! step fail with its (redacted) reason, so the job retries it with backoff
//! and the request shows what it waits for; nothing is reported done that
//! is not.

use std::sync::Arc;
use std::time::Duration;

use custode_connectors::{Connectors, Outcome, RetryPolicy, SubjectIdentifiers};
use serde_json::{Value, json};

use custode_store::{Record, StoreError};

use crate::Requests;
use crate::intake::LoadedRequest;

/// How long a step waits on a failing system before handing the retry to
/// the job's own backoff (a worker is never held for long).
const STEP_PATIENCE: RetryPolicy = RetryPolicy {
    first_delay: Duration::from_millis(200),
    max_delay: Duration::from_secs(1),
    give_up_after: Duration::from_secs(3),
};

/// What a system did, or the error that makes the step wait and retry.
fn done<T>(s: &custode_connectors::SystemResult<T>) -> Result<&T, StoreError> {
    let why = match &s.outcome {
        Outcome::Done(d) => return Ok(d),
        Outcome::Pending(p) => &p.last_error,
        Outcome::Failed(e) => e,
    };
    Err(StoreError::Invalid(format!(
        "system `{}` is not done: {why}",
        s.system
    )))
}

impl Requests {
    /// Connects rights requests to the provider's own databases. Set once,
    /// at start.
    pub fn attach_systems(&self, connectors: Connectors) -> Result<(), StoreError> {
        self.systems
            .set(Arc::new(connectors.with_retry(STEP_PATIENCE)))
            .map_err(|_| StoreError::Invalid("external systems are attached already".to_owned()))
    }

    pub(crate) fn external_systems(&self) -> Option<Arc<Connectors>> {
        self.systems.get().cloned()
    }

    /// The identifiers of a subject, from the identifier fields of its
    /// records (e-mail, phone, customer code...).
    pub(crate) fn identifiers_in(&self, records: &[Record]) -> SubjectIdentifiers {
        let policy = self.store.policy();
        let mut ids = SubjectIdentifiers::new();
        for r in records {
            let Some(category) = policy.category(&r.category) else {
                continue;
            };
            for f in &category.fields {
                let (Some(kind), Some(Value::String(v))) =
                    (f.identifier, r.fields.get(&f.id.value))
                else {
                    continue;
                };
                if !ids.values.iter().any(|(k, x)| *k == kind && x == v) {
                    ids = ids.with(kind, v.clone());
                }
            }
        }
        ids
    }

    /// Every row of the subject in every system, for its package:
    /// `(systems.json, systems.csv, rows)`; none when no system is attached.
    pub(crate) async fn external_rows(
        &self,
        request: &LoadedRequest,
        records: &[Record],
    ) -> Result<Option<(Vec<u8>, Vec<u8>, usize)>, StoreError> {
        let Some(systems) = self.external_systems() else {
            return Ok(None);
        };
        let ids = self.identifiers_for(request, records).await?;
        let mut rows = 0;
        let result = systems
            .access(&ids)
            .await
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut tables = Vec::new();
        let mut csv = custode_package::csv_writer("system,table,row,column,category,value");
        for s in &result.systems {
            let found = done(s)?;
            for t in found {
                rows += t.rows.len();
                for (n, row) in t.rows.iter().enumerate() {
                    for (c, value) in t.columns.iter().zip(row) {
                        let cells = [
                            t.system.clone(),
                            t.table.clone(),
                            n.to_string(),
                            c.name.clone(),
                            c.category.clone().unwrap_or_default(),
                            value.clone().unwrap_or_default(),
                        ];
                        csv.write_record(&cells)
                            .map_err(|e| StoreError::Invalid(e.to_string()))?;
                    }
                }
                tables.push(json!({
                    "system": t.system,
                    "table": t.table,
                    "columns": t.columns.iter().map(|c| json!({"name": c.name, "category": c.category, "field": c.field})).collect::<Vec<_>>(),
                    "rows": t.rows,
                }));
            }
        }
        let json = serde_json::to_vec_pretty(&json!({ "systems": tables }))
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let csv = csv
            .into_inner()
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        Ok(Some((json, csv, rows)))
    }

    /// Erases the subject in every system (the declared action per
    /// category); per system, what was found, changed and kept (with its
    /// ground), for the answer. Pass what [`Store::external_erasure_plan`]
    /// said before: its kept lines are added to those of this run, which
    /// after a crash may no longer see rows the first run made
    /// unfindable.
    pub(crate) async fn external_erasure(
        &self,
        request: &LoadedRequest,
        records: &[Record],
        planned: &Value,
    ) -> Result<Value, StoreError> {
        let mut lines = self.erasure_in_systems(request, records, false).await?;
        add_planned(&mut lines, planned);
        Ok(Value::Array(lines))
    }

    /// What [`Store::external_erasure`] will keep in every system, read
    /// before anything changes, in the same lines.
    pub(crate) async fn external_erasure_plan(
        &self,
        request: &LoadedRequest,
        records: &[Record],
    ) -> Result<Value, StoreError> {
        Ok(Value::Array(
            self.erasure_in_systems(request, records, true).await?,
        ))
    }

    async fn erasure_in_systems(
        &self,
        request: &LoadedRequest,
        records: &[Record],
        plan_only: bool,
    ) -> Result<Vec<Value>, StoreError> {
        let Some(systems) = self.external_systems() else {
            return Ok(Vec::new());
        };
        let ids = self.identifiers_for(request, records).await?;
        if ids.values.is_empty() {
            return Ok(Vec::new());
        }
        let result = if plan_only {
            systems.erasure_plan(&ids).await
        } else {
            systems.erase(&ids).await
        };
        erasure_lines(&result.map_err(|e| StoreError::Invalid(e.to_string()))?)
    }

    /// Applies corrections in every system (the same category and field).
    pub(crate) async fn external_rectification(
        &self,
        request: &LoadedRequest,
        records: &[Record],
        corrections: &[(String, String, String)],
    ) -> Result<(), StoreError> {
        let Some(systems) = self.external_systems() else {
            return Ok(());
        };
        let ids = self.identifiers_for(request, records).await?;
        for (category, field, value) in corrections {
            let result = systems
                .rectify(
                    &ids,
                    &custode_connectors::Correction {
                        category: category.clone(),
                        field: field.clone(),
                        value: value.clone(),
                    },
                )
                .await
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            for s in &result.systems {
                done(s)?;
            }
        }
        Ok(())
    }
}

/// One line per system: rows found, rows changed, and what is kept.
fn erasure_lines(result: &custode_connectors::ErasureResult) -> Result<Vec<Value>, StoreError> {
    let mut out = Vec::new();
    for s in &result.systems {
        let done = done(s)?;
        out.push(json!({
            "system": s.system,
            "rows_found": done.found_rows,
            "changes": done.changes(),
            "kept": done.tables.iter().flat_map(|t| t.kept.iter().map(|k| json!({
                "table": t.table,
                "category": k.category,
                "rows": k.rows,
                "ground": k.ground,
            }))).collect::<Vec<_>>(),
        }));
    }
    Ok(out)
}

/// Adds the planned kept lines (and rows found) that a run's own lines
/// lack: the larger count wins, a line the run no longer saw is added.
fn add_planned(lines: &mut [Value], planned: &Value) {
    for plan in planned.as_array().into_iter().flatten() {
        let Some(line) = lines.iter_mut().find(|l| l["system"] == plan["system"]) else {
            continue;
        };
        let found = line["rows_found"].as_u64().unwrap_or(0);
        line["rows_found"] = json!(found.max(plan["rows_found"].as_u64().unwrap_or(0)));
        for k in plan["kept"].as_array().into_iter().flatten() {
            let same = |x: &&mut Value| {
                ["table", "category", "ground"]
                    .iter()
                    .all(|f| x[*f] == k[*f])
            };
            let Some(kept) = line["kept"].as_array_mut() else {
                continue;
            };
            match kept.iter_mut().find(same) {
                Some(x) => {
                    let rows = x["rows"].as_u64().unwrap_or(0);
                    x["rows"] = json!(rows.max(k["rows"].as_u64().unwrap_or(0)));
                }
                None => kept.push(k.clone()),
            }
        }
    }
}
