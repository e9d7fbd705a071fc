//! A small span-keeping reader over a parsed TOML table, in the manner of the
//! policy's: it records a problem per mistake instead of stopping, and at the
//! end reports every key nobody asked for with the closest known one.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diagnostic::{Problem, ProblemKind, Span};

/// Collects problems while a systems file is read and checked.
pub(crate) struct Sink {
    pub(crate) problems: Vec<Problem>,
}

impl Sink {
    pub(crate) fn push(&mut self, problem: Problem) {
        self.problems.push(problem);
    }

    pub(crate) fn error(&mut self, kind: ProblemKind, span: Span, message: impl Into<String>) {
        self.problems.push(Problem::new(kind, span, message));
    }
}

pub(crate) fn span_of<T>(s: &Spanned<T>) -> Span {
    Span::new(s.span())
}

/// A table being read; `path` names it in messages (`table "orders"`).
pub(crate) struct Table<'a, 'i> {
    table: &'a DeTable<'i>,
    pub(crate) span: Span,
    pub(crate) path: String,
    seen: Vec<&'static str>,
}

impl<'a, 'i> Table<'a, 'i> {
    pub(crate) fn new(table: &'a DeTable<'i>, span: Span, path: impl Into<String>) -> Self {
        Table {
            table,
            span,
            path: path.into(),
            seen: Vec::new(),
        }
    }

    pub(crate) fn raw(&mut self, key: &'static str) -> Option<&'a Spanned<DeValue<'i>>> {
        self.seen.push(key);
        self.table.get(key)
    }

    pub(crate) fn wrong_type(
        &self,
        sink: &mut Sink,
        key: &str,
        v: &Spanned<DeValue<'_>>,
        want: &str,
    ) {
        sink.error(
            ProblemKind::InvalidValue,
            span_of(v),
            format!(
                "`{key}` in {} must be {want}, not {}",
                self.path,
                v.get_ref().type_str()
            ),
        );
    }

    pub(crate) fn missing(&self, sink: &mut Sink, key: &str, what: &str) {
        sink.push(
            Problem::new(
                ProblemKind::Missing,
                self.span,
                format!("{} has no `{key}`", self.path),
            )
            .help(format!("add `{key} = ...`: {what}")),
        );
    }

    pub(crate) fn str(&mut self, sink: &mut Sink, key: &'static str) -> Option<(String, Span)> {
        let v = self.raw(key)?;
        match v.get_ref().as_str() {
            Some(s) if s.trim().is_empty() => {
                sink.error(
                    ProblemKind::InvalidValue,
                    span_of(v),
                    format!("`{key}` in {} is empty", self.path),
                );
                None
            }
            Some(s) => Some((s.to_owned(), span_of(v))),
            None => {
                self.wrong_type(sink, key, v, "a string");
                None
            }
        }
    }

    pub(crate) fn required_str(
        &mut self,
        sink: &mut Sink,
        key: &'static str,
        what: &str,
    ) -> Option<(String, Span)> {
        if self.table.get(key).is_none() {
            self.seen.push(key);
            self.missing(sink, key, what);
            return None;
        }
        self.str(sink, key)
    }

    pub(crate) fn bool(&mut self, sink: &mut Sink, key: &'static str) -> Option<(bool, Span)> {
        let v = self.raw(key)?;
        let b = v.get_ref().as_bool();
        if b.is_none() {
            self.wrong_type(sink, key, v, "true or false");
        }
        b.map(|b| (b, span_of(v)))
    }

    /// A sub-table, written either as `[section]` or inline.
    pub(crate) fn table(&mut self, sink: &mut Sink, key: &'static str) -> Option<Table<'a, 'i>> {
        let v = self.raw(key)?;
        match v.get_ref().as_table() {
            Some(t) => Some(Table::new(
                t,
                span_of(v),
                format!("`{key}` of {}", self.path),
            )),
            None => {
                self.wrong_type(sink, key, v, "a table");
                None
            }
        }
    }

    /// An array of tables, written `[[key]]` or as an array of inline tables.
    pub(crate) fn tables(
        &mut self,
        sink: &mut Sink,
        key: &'static str,
        name: impl Fn(&DeTable<'_>, usize) -> String,
    ) -> Vec<Table<'a, 'i>> {
        let Some(v) = self.raw(key) else {
            return Vec::new();
        };
        let Some(items) = v.get_ref().as_array() else {
            self.wrong_type(
                sink,
                key,
                v,
                &format!("an array of tables, written [[{key}]]"),
            );
            return Vec::new();
        };
        let mut out = Vec::with_capacity(items.len());
        for (n, item) in items.iter().enumerate() {
            match item.get_ref().as_table() {
                Some(t) => out.push(Table::new(t, span_of(item), name(t, n))),
                None => self.wrong_type(sink, key, item, "a table"),
            }
        }
        out
    }

    /// The entries of a table whose keys are free (names chosen by the user).
    pub(crate) fn entries(&self) -> impl Iterator<Item = (String, Span, &'a Spanned<DeValue<'i>>)> {
        self.table
            .iter()
            .map(|(k, v)| (k.get_ref().to_string(), span_of(k), v))
    }

    /// Reports every key that was never asked for.
    pub(crate) fn finish(&self, sink: &mut Sink) {
        for (key, _) in self.table.iter() {
            let name: &str = key.get_ref();
            if self.seen.contains(&name) {
                continue;
            }
            let mut p = Problem::new(
                ProblemKind::UnknownKey,
                span_of(key),
                format!("unknown key `{name}` in {}", self.path),
            );
            p = match closest(name, self.seen.iter().copied()) {
                Some(c) => p.help(format!("did you mean `{c}`?")),
                None => p.help(format!("known keys here: {}", self.seen.join(", "))),
            };
            sink.push(p);
        }
    }
}

/// The name of a `[[table]]` entry for messages, before it is read.
pub(crate) fn named(t: &DeTable<'_>, what: &str, n: usize) -> String {
    match t.get("name").and_then(|v| v.get_ref().as_str()) {
        Some(name) => format!("{what} \"{name}\""),
        None => format!("{what} #{}", n + 1),
    }
}

/// The candidate nearest to `word`, if it is near enough to be a typo.
pub(crate) fn closest<'c>(
    word: &str,
    candidates: impl Iterator<Item = &'c str>,
) -> Option<&'c str> {
    candidates
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
