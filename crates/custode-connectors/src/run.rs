//! Carrying out a request in one system: find the subject's rows (by its
//! identifiers, then down the foreign keys, to any depth), then read them,
//! correct them or erase them, all in one transaction that commits whole or
//! not at all.
//!
//! Erasure is idempotent by construction: a delete removes rows that are
//! there, and an update touches only rows whose value still differs from
//! the erased one, so a second run finds nothing to change and reports zero.

use std::collections::{BTreeMap, BTreeSet};

use custode_policy::IdentifierKind;

use crate::db::{Bind, Catalogue, Conn, Dialect, TextRows, catalogue};
use crate::error::redact;
use crate::mapping::{Action, SystemMapping, TableMapping};
use crate::plan::{columns_named, columns_read, order};
use crate::retry::is_transient;
use crate::{
    ColumnDesc, Correction, Kept, RectifiedColumn, SubjectIdentifiers, System, SystemErasure,
    TableErasure, TableRows,
};

/// Why one attempt failed.
#[derive(Debug)]
pub(crate) enum StepError {
    /// Waiting may fix it (the system is down, the connection dropped...).
    Transient(String),
    /// Waiting will not: the mapping and the database disagree.
    Permanent(String),
}

impl System {
    fn step_error(&self, e: &sqlx::Error) -> StepError {
        let secrets: Vec<_> = self.secret.iter().collect();
        let message = redact(&e.to_string(), &secrets);
        if is_transient(e) {
            StepError::Transient(message)
        } else {
            StepError::Permanent(message)
        }
    }
}

/// What one attempt does inside its transaction.
#[derive(Clone, Debug)]
pub(crate) enum Op {
    Access,
    /// What an erasure would keep, read before anything changes.
    ErasurePlan,
    Erase,
    Rectify(Correction),
}

/// What one attempt returns.
#[derive(Debug)]
pub(crate) enum OpResult {
    Access(Vec<TableRows>),
    Erase(SystemErasure),
    Rectify(Vec<RectifiedColumn>),
}

/// The rows of one table found for the subject.
#[derive(Debug, Default)]
struct Found {
    /// The columns read, as [`columns_read`] lists them.
    columns: Vec<String>,
    rows: TextRows,
    /// The key of each row found, when the table has a key.
    keys: BTreeSet<String>,
    /// How the rows were found, for tables without a key: `column IN values`.
    predicates: Vec<(String, Vec<String>)>,
}

impl Found {
    /// The values of one column over the rows found.
    fn values(&self, column: &str) -> Vec<String> {
        let Some(i) = self.columns.iter().position(|c| c == column) else {
            return Vec::new();
        };
        let set: BTreeSet<&String> = self.rows.iter().filter_map(|r| r[i].as_ref()).collect();
        set.into_iter().cloned().collect()
    }
}

/// A connection inside a transaction of ours. Unless the transaction
/// committed, the connection is closed rather than returned to the pool —
/// also when the request is cancelled mid-way (its future dropped) — so a
/// half-done transaction can never be finished by the next user.
struct Held(Option<Conn>);

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            conn.discard();
        }
    }
}

/// One attempt: a connection, a transaction, the operation, the commit.
pub(crate) async fn attempt(
    system: &System,
    op: &Op,
    ids: &SubjectIdentifiers,
) -> Result<OpResult, StepError> {
    let conn = system
        .pool
        .acquire()
        .await
        .map_err(|e| system.step_error(&e))?;
    let mut held = Held(Some(conn));
    let Some(conn) = held.0.as_mut() else {
        return Err(StepError::Transient("no connection".into()));
    };
    let result = in_transaction(system, conn, op, ids).await?;
    // Committed: the connection may serve again.
    drop(held.0.take());
    Ok(result)
}

async fn in_transaction(
    system: &System,
    conn: &mut Conn,
    op: &Op,
    ids: &SubjectIdentifiers,
) -> Result<OpResult, StepError> {
    let dialect = Dialect(system.mapping.engine);
    let sql_err = |e: sqlx::Error| system.step_error(&e);
    conn.simple(dialect.begin(matches!(op, Op::Access | Op::ErasurePlan)))
        .await
        .map_err(sql_err)?;
    let cat = match system.catalogue.get() {
        Some(c) => c,
        None => {
            let c = catalogue(conn, system.mapping.schema.as_deref())
                .await
                .map_err(sql_err)?;
            check_catalogue(&system.mapping, &c)?;
            warn_unindexed(system, conn).await.map_err(sql_err)?;
            // Another request may have set it meanwhile; either is the same.
            let _ = system.catalogue.set(c);
            system
                .catalogue
                .get()
                .ok_or_else(|| StepError::Transient("catalogue not kept".into()))?
        }
    };
    let found = collect(system, conn, cat, ids).await?;
    let result = match op {
        Op::Access => OpResult::Access(access(&system.mapping, &found)),
        Op::ErasurePlan => OpResult::Erase(erasure_plan(&system.mapping, &found)),
        Op::Erase => OpResult::Erase(erase(system, conn, cat, &found).await?),
        Op::Rectify(c) => OpResult::Rectify(rectify(system, conn, cat, &found, c).await?),
    };
    conn.simple("COMMIT").await.map_err(sql_err)?;
    Ok(result)
}

/// Every table and column the mapping names must exist: names reach SQL
/// only after this check.
fn check_catalogue(mapping: &SystemMapping, cat: &Catalogue) -> Result<(), StepError> {
    let schema = mapping.schema.as_deref().unwrap_or("the default schema");
    for (table, columns) in columns_named(mapping) {
        let Some(have) = cat.get(table) else {
            return Err(StepError::Permanent(format!(
                "the mapping names table `{table}`, which {schema} does not have"
            )));
        };
        for c in columns {
            if !have.contains_key(c) {
                return Err(StepError::Permanent(format!(
                    "the mapping names column `{c}` of table `{table}`, which does not exist"
                )));
            }
        }
    }
    Ok(())
}

/// Says once, in the log, where a look-up will read a whole table: an
/// identifier or link column without an index.
async fn warn_unindexed(system: &System, conn: &mut Conn) -> Result<(), sqlx::Error> {
    let mapping = &system.mapping;
    let facts = crate::scan::facts(conn, mapping.engine, mapping.schema.as_deref()).await?;
    for t in &mapping.tables {
        let indexed = facts.get(&t.name).map(|f| &f.indexed);
        let columns = t
            .identifiers
            .iter()
            .map(|i| &i.column)
            .chain(t.parents.iter().map(|p| &p.column));
        for column in columns {
            if !indexed.is_some_and(|i| i.contains(column)) {
                tracing::warn!(
                    system = %mapping.id,
                    table = %t.name,
                    column = %column,
                    "no index: finding a subject's rows here reads the whole table"
                );
            }
        }
    }
    Ok(())
}

/// The spellings an identifier is looked for under: as given, and (for
/// emails) in lower case.
fn spellings(kind: IdentifierKind, value: &str) -> Vec<String> {
    let mut out = vec![value.trim().to_owned()];
    if kind == IdentifierKind::Email {
        let lower = value.trim().to_lowercase();
        if !out.contains(&lower) {
            out.push(lower);
        }
    }
    out.retain(|v| !v.is_empty());
    out
}

fn type_of<'c>(cat: &'c Catalogue, table: &str, column: &str) -> &'c str {
    cat.get(table)
        .and_then(|t| t.get(column))
        .map_or("text", |c| c.type_name.as_str())
}

/// Finds the subject's rows in every table: first through the identifiers,
/// then down each link with the parents' values, until a round finds
/// nothing new (one round when the links have no cycle).
async fn collect(
    system: &System,
    conn: &mut Conn,
    cat: &Catalogue,
    ids: &SubjectIdentifiers,
) -> Result<BTreeMap<String, Found>, StepError> {
    let mapping = &system.mapping;
    let dialect = Dialect(mapping.engine);
    let tables = order(mapping);
    let mut found: BTreeMap<String, Found> = BTreeMap::new();
    for t in &tables {
        found.insert(
            t.name.clone(),
            Found {
                columns: columns_read(mapping, t),
                ..Found::default()
            },
        );
    }
    // Parent values each link has already followed.
    let mut followed: BTreeMap<(String, usize), BTreeSet<String>> = BTreeMap::new();
    let mut first = true;
    loop {
        let mut progress = false;
        for t in &tables {
            let mut predicates: Vec<(String, Vec<String>)> = Vec::new();
            if first {
                for id in &t.identifiers {
                    let values: Vec<String> = ids
                        .values
                        .iter()
                        .filter(|(k, _)| *k == id.kind)
                        .flat_map(|(k, v)| spellings(*k, v))
                        .collect();
                    if !values.is_empty() {
                        predicates.push((id.column.clone(), values));
                    }
                }
            }
            for (n, link) in t.parents.iter().enumerate() {
                let parent_values = found
                    .get(&link.table)
                    .map(|f| f.values(&link.references))
                    .unwrap_or_default();
                let seen = followed.entry((t.name.clone(), n)).or_default();
                let new: Vec<String> = parent_values
                    .into_iter()
                    .filter(|v| seen.insert(v.clone()))
                    .collect();
                if !new.is_empty() {
                    predicates.push((link.column.clone(), new));
                }
            }
            if predicates.is_empty() {
                continue;
            }
            let Some(f) = found.get_mut(&t.name) else {
                continue;
            };
            let select: Vec<String> = f.columns.iter().map(|c| dialect.as_text(c)).collect();
            let from = dialect.table(mapping.schema.as_deref(), &t.name);
            let key_index = t
                .key
                .as_ref()
                .and_then(|k| f.columns.iter().position(|c| c == k));
            let mut seen_rows: BTreeSet<Vec<Option<String>>> = if key_index.is_none() {
                f.rows.iter().cloned().collect()
            } else {
                BTreeSet::new()
            };
            for (column, values) in &predicates {
                let type_name = type_of(cat, &t.name, column);
                for chunk in values.chunks(dialect.chunk()) {
                    let mut binds: Vec<Bind> = Vec::new();
                    let pred = dialect.in_list(&mut binds, column, type_name, chunk);
                    let sql = format!("SELECT {} FROM {from} WHERE {pred}", select.join(", "));
                    let rows = conn
                        .fetch(&sql, &binds)
                        .await
                        .map_err(|e| system.step_error(&e))?;
                    for row in rows {
                        let new = match key_index {
                            Some(i) => match &row[i] {
                                Some(k) => f.keys.insert(k.clone()),
                                None => false,
                            },
                            None => seen_rows.insert(row.clone()),
                        };
                        if new {
                            f.rows.push(row);
                            progress = true;
                        }
                    }
                }
            }
            if key_index.is_none() {
                f.predicates.extend(predicates);
            }
        }
        first = false;
        if !progress {
            break;
        }
    }
    Ok(found)
}

fn access(mapping: &SystemMapping, found: &BTreeMap<String, Found>) -> Vec<TableRows> {
    let mut out = Vec::new();
    for t in order(mapping) {
        let Some(f) = found.get(&t.name) else {
            continue;
        };
        if f.rows.is_empty() {
            continue;
        }
        // The key, then the mapped columns; columns read only to follow
        // links are left out.
        let mut columns: Vec<(usize, ColumnDesc)> = Vec::new();
        for (i, c) in f.columns.iter().enumerate() {
            let mapped = t.columns.iter().find(|m| &m.column == c);
            if mapped.is_none() && t.key.as_deref() != Some(c) {
                continue;
            }
            columns.push((
                i,
                ColumnDesc {
                    name: c.clone(),
                    category: mapped.map(|m| m.category.clone()),
                    field: mapped.and_then(|m| m.field.clone()),
                },
            ));
        }
        let rows = f
            .rows
            .iter()
            .map(|r| columns.iter().map(|(i, _)| r[*i].clone()).collect())
            .collect();
        out.push(TableRows {
            system: mapping.id.clone(),
            table: t.name.clone(),
            columns: columns.into_iter().map(|(_, c)| c).collect(),
            rows,
        });
    }
    out
}

/// `WHERE` parts that select exactly the rows found: by key, or by the
/// predicates that found them. Each comes with its binds, after `base` (the
/// statement's own parameters, numbered first).
fn row_filters(
    dialect: Dialect,
    cat: &Catalogue,
    t: &TableMapping,
    f: &Found,
    base: &[Bind],
) -> Vec<(String, Vec<Bind>)> {
    let mut out = Vec::new();
    let parts: Vec<(String, Vec<String>)> = match &t.key {
        Some(k) => vec![(k.clone(), f.keys.iter().cloned().collect())],
        None => f.predicates.clone(),
    };
    for (column, values) in parts {
        let type_name = type_of(cat, &t.name, &column);
        for chunk in values.chunks(dialect.chunk()) {
            let mut binds = base.to_vec();
            let pred = dialect.in_list(&mut binds, &column, type_name, chunk);
            out.push((pred, binds));
        }
    }
    out
}

async fn erase(
    system: &System,
    conn: &mut Conn,
    cat: &Catalogue,
    found: &BTreeMap<String, Found>,
) -> Result<SystemErasure, StepError> {
    let mapping = &system.mapping;
    let dialect = Dialect(mapping.engine);
    let schema = mapping.schema.as_deref();
    let tables = order(mapping);
    let mut result: BTreeMap<String, TableErasure> = BTreeMap::new();
    let mut found_rows = 0u64;
    // Children first, so deleting a parent never trips a foreign key.
    for t in tables.iter().rev() {
        let Some(f) = found.get(&t.name) else {
            continue;
        };
        found_rows += f.rows.len() as u64;
        let entry = result
            .entry(t.name.clone())
            .or_insert_with(|| TableErasure {
                table: t.name.clone(),
                ..TableErasure::default()
            });
        if f.rows.is_empty() {
            continue;
        }
        let from = dialect.table(schema, &t.name);
        if t.deletes_rows() {
            for filter in row_filters(dialect, cat, t, f, &[]) {
                let sql = format!("DELETE FROM {from} WHERE {}", filter.0);
                entry.deleted += conn
                    .execute(&sql, &filter.1)
                    .await
                    .map_err(|e| system.step_error(&e))?;
            }
            continue;
        }
        // Two passes so the parameters come in the order the statement
        // names them (MySQL's `?` are positional).
        let mut sets = Vec::new();
        let mut changed = Vec::new();
        let mut binds = Vec::new();
        for c in &t.columns {
            let type_name = type_of(cat, &t.name, &c.column);
            let col = dialect.quote(&c.column);
            match &c.erase {
                Action::SetNull => sets.push(format!("{col} = NULL")),
                Action::Mask(m) => {
                    let value = dialect.mask(&mut binds, m, t.key.as_deref(), type_name);
                    sets.push(format!("{col} = {value}"));
                }
                Action::Keep { .. } | Action::DeleteRow => {}
            }
        }
        for c in &t.columns {
            let type_name = type_of(cat, &t.name, &c.column);
            let col = dialect.quote(&c.column);
            match &c.erase {
                Action::SetNull => changed.push(format!("{col} IS NOT NULL")),
                Action::Mask(m) => {
                    let again = dialect.mask(&mut binds, m, t.key.as_deref(), type_name);
                    changed.push(dialect.distinct(&col, &again));
                }
                Action::Keep { .. } | Action::DeleteRow => {}
            }
        }
        if !sets.is_empty() {
            // Only rows that still differ are touched: a second run
            // changes nothing and says so.
            let head = format!(
                "UPDATE {from} SET {} WHERE ({})",
                sets.join(", "),
                changed.join(" OR ")
            );
            for (pred, all) in row_filters(dialect, cat, t, f, &binds) {
                let sql = format!("{head} AND ({pred})");
                entry.updated += conn
                    .execute(&sql, &all)
                    .await
                    .map_err(|e| system.step_error(&e))?;
            }
        }
        entry.kept = kept(t, f.rows.len() as u64);
    }
    Ok(SystemErasure {
        found_rows,
        tables: in_order(mapping, result),
    })
}

/// What [`erase`] would report keeping, from the rows found alone: nothing
/// is changed. Asked before the erasure, so that what is kept stays known
/// even when the erasure itself hides the rows from a second look (an
/// identifier masked, the kept rows found through it).
fn erasure_plan(mapping: &SystemMapping, found: &BTreeMap<String, Found>) -> SystemErasure {
    let mut result = BTreeMap::new();
    let mut found_rows = 0u64;
    for t in order(mapping) {
        let Some(f) = found.get(&t.name) else {
            continue;
        };
        let rows = f.rows.len() as u64;
        found_rows += rows;
        let keeps = rows > 0 && !t.deletes_rows();
        result.insert(
            t.name.clone(),
            TableErasure {
                table: t.name.clone(),
                kept: if keeps { kept(t, rows) } else { Vec::new() },
                ..TableErasure::default()
            },
        );
    }
    SystemErasure {
        found_rows,
        tables: in_order(mapping, result),
    }
}

/// The columns a table keeps after erasure, by category and ground.
fn kept(t: &TableMapping, rows: u64) -> Vec<Kept> {
    let mut kept: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for c in &t.columns {
        if let Action::Keep { ground } = &c.erase {
            kept.entry((c.category.clone(), ground.clone()))
                .or_default()
                .push(c.column.clone());
        }
    }
    kept.into_iter()
        .map(|((category, ground), columns)| Kept {
            category,
            columns,
            rows,
            ground,
        })
        .collect()
}

/// Per-table results in the mapping's order (parents first).
fn in_order(
    mapping: &SystemMapping,
    mut result: BTreeMap<String, TableErasure>,
) -> Vec<TableErasure> {
    order(mapping)
        .iter()
        .filter_map(|t| result.remove(&t.name))
        .collect()
}

async fn rectify(
    system: &System,
    conn: &mut Conn,
    cat: &Catalogue,
    found: &BTreeMap<String, Found>,
    correction: &Correction,
) -> Result<Vec<RectifiedColumn>, StepError> {
    let mapping = &system.mapping;
    let dialect = Dialect(mapping.engine);
    let mut out = Vec::new();
    for t in order(mapping) {
        let Some(f) = found.get(&t.name) else {
            continue;
        };
        for c in &t.columns {
            if c.category != correction.category
                || c.field.as_deref() != Some(correction.field.as_str())
            {
                continue;
            }
            let mut changed = 0;
            if !f.rows.is_empty() {
                let type_name = type_of(cat, &t.name, &c.column);
                let col = dialect.quote(&c.column);
                let mut binds = Vec::new();
                let value = dialect.param(&mut binds, Some(correction.value.clone()), type_name);
                let again = dialect.param(&mut binds, Some(correction.value.clone()), type_name);
                let head = format!(
                    "UPDATE {} SET {col} = {value} WHERE {}",
                    dialect.table(mapping.schema.as_deref(), &t.name),
                    dialect.distinct(&col, &again)
                );
                for (pred, all) in row_filters(dialect, cat, t, f, &binds) {
                    let sql = format!("{head} AND ({pred})");
                    changed += conn
                        .execute(&sql, &all)
                        .await
                        .map_err(|e| system.step_error(&e))?;
                }
            }
            out.push(RectifiedColumn {
                table: t.name.clone(),
                column: c.column.clone(),
                changed,
            });
        }
    }
    Ok(out)
}
