//! From a mapping to the order tables are visited in and the columns read
//! from each: parents before children (so a child is asked for with its
//! parents' keys already known), children before parents when rows are
//! deleted.

use std::collections::{BTreeMap, BTreeSet};

use crate::mapping::{SystemMapping, TableMapping};

/// The tables of a system, parents first; tables in a cycle come after the
/// rest, in file order (they are followed until nothing new turns up).
pub(crate) fn order(mapping: &SystemMapping) -> Vec<&TableMapping> {
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut out = Vec::with_capacity(mapping.tables.len());
    loop {
        let before = out.len();
        for t in &mapping.tables {
            if done.contains(t.name.as_str()) {
                continue;
            }
            if t.parents
                .iter()
                .all(|p| done.contains(p.table.as_str()) || p.table == t.name)
            {
                done.insert(t.name.as_str());
                out.push(t);
            }
        }
        if out.len() == before {
            break;
        }
    }
    for t in &mapping.tables {
        if !done.contains(t.name.as_str()) {
            out.push(t);
        }
    }
    out
}

/// The columns read from a table: its key, its mapped columns, and the
/// columns its children refer to, each once, in that order.
pub(crate) fn columns_read(mapping: &SystemMapping, table: &TableMapping) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |c: &str| {
        if !out.iter().any(|o| o == c) {
            out.push(c.to_owned());
        }
    };
    if let Some(k) = &table.key {
        push(k);
    }
    for c in &table.columns {
        push(&c.column);
    }
    for child in &mapping.tables {
        for link in &child.parents {
            if link.table == table.name {
                push(&link.references);
            }
        }
    }
    out
}

/// Every column a mapping names in one table, for the catalogue check.
pub(crate) fn columns_named(mapping: &SystemMapping) -> BTreeMap<&str, BTreeSet<&str>> {
    let mut out: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for t in &mapping.tables {
        let cols = out.entry(t.name.as_str()).or_default();
        cols.extend(t.key.as_deref());
        cols.extend(t.identifiers.iter().map(|i| i.column.as_str()));
        cols.extend(t.columns.iter().map(|c| c.column.as_str()));
        cols.extend(t.parents.iter().map(|p| p.column.as_str()));
        for p in &t.parents {
            out.entry(p.table.as_str())
                .or_default()
                .insert(p.references.as_str());
        }
    }
    out
}
