//! The span-keeping TOML reader that the policy and the systems files share.
//!
//! It pulls typed values out of a parsed table, reports a [`Problem`] for
//! each mistake instead of stopping at the first, and at the end reports
//! every key nobody asked for, with the closest known key as a hint. This is
//! what lets `policy check` and `systems check` list all problems at once.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diagnostic::{Kind, Located, Problem, Span};

/// Where a reader reports the problems it finds.
pub trait Problems<K: Kind> {
    /// Records one problem.
    fn push(&mut self, problem: Problem<K>);

    /// Records a problem without advice.
    fn error(&mut self, kind: K, span: Span, message: impl Into<String>)
    where
        Self: Sized,
    {
        self.push(Problem::new(kind, span, message));
    }
}

impl<K: Kind> Problems<K> for Vec<Problem<K>> {
    fn push(&mut self, problem: Problem<K>) {
        Vec::push(self, problem);
    }
}

/// The span of a parsed value.
pub fn span_of<T>(s: &Spanned<T>) -> Span {
    Span::new(s.span())
}

/// A table being read; `path` names it in messages (`purpose "billing"`).
pub struct Table<'a, 'i> {
    table: &'a DeTable<'i>,
    /// Where the table is written.
    pub span: Span,
    /// How messages name it.
    pub path: String,
    seen: Vec<&'static str>,
}

impl<'a, 'i> Table<'a, 'i> {
    /// A table to read, named `path` in messages.
    pub fn new(table: &'a DeTable<'i>, span: Span, path: impl Into<String>) -> Self {
        Table {
            table,
            span,
            path: path.into(),
            seen: Vec::new(),
        }
    }

    /// The raw value of a key, marking it as known.
    pub fn raw(&mut self, key: &'static str) -> Option<&'a Spanned<DeValue<'i>>> {
        self.seen.push(key);
        self.table.get(key)
    }

    /// Whether the key is written, without marking it as known.
    pub fn has(&self, key: &str) -> bool {
        self.table.get(key).is_some()
    }

    /// Reports that `key` holds the wrong type of value.
    pub fn wrong_type<K: Kind>(
        &self,
        sink: &mut impl Problems<K>,
        key: &str,
        v: &Spanned<DeValue<'_>>,
        want: &str,
    ) {
        sink.error(
            K::INVALID_VALUE,
            span_of(v),
            format!(
                "`{key}` in {} must be {want}, not {}",
                self.path,
                v.get_ref().type_str()
            ),
        );
    }

    /// Reports that `key` is absent; `what` says what it should hold.
    pub fn missing<K: Kind>(&self, sink: &mut impl Problems<K>, key: &str, what: &str) {
        sink.push(
            Problem::new(
                K::MISSING,
                self.span,
                format!("{} has no `{key}`", self.path),
            )
            .help(format!("add `{key} = ...`: {what}")),
        );
    }

    /// Whether a required key is written; reports it missing if not.
    pub fn require<K: Kind>(
        &mut self,
        sink: &mut impl Problems<K>,
        key: &'static str,
        what: &str,
    ) -> bool {
        if self.has(key) {
            return true;
        }
        self.seen.push(key);
        self.missing(sink, key, what);
        false
    }

    /// A non-empty string.
    pub fn str<K: Kind>(
        &mut self,
        sink: &mut impl Problems<K>,
        key: &'static str,
    ) -> Option<Located<String>> {
        let v = self.raw(key)?;
        match v.get_ref().as_str() {
            Some(s) if s.trim().is_empty() => {
                sink.error(
                    K::INVALID_VALUE,
                    span_of(v),
                    format!("`{key}` in {} is empty", self.path),
                );
                None
            }
            Some(s) => Some(Located::new(s.to_owned(), span_of(v))),
            None => {
                self.wrong_type(sink, key, v, "a string");
                None
            }
        }
    }

    /// A non-empty string that must be written; `what` says what it holds.
    pub fn required_str<K: Kind>(
        &mut self,
        sink: &mut impl Problems<K>,
        key: &'static str,
        what: &str,
    ) -> Option<Located<String>> {
        if !self.require(sink, key, what) {
            return None;
        }
        self.str(sink, key)
    }

    /// `true` or `false`.
    pub fn bool<K: Kind>(
        &mut self,
        sink: &mut impl Problems<K>,
        key: &'static str,
    ) -> Option<Located<bool>> {
        let v = self.raw(key)?;
        let b = v.get_ref().as_bool();
        if b.is_none() {
            self.wrong_type(sink, key, v, "true or false");
        }
        b.map(|b| Located::new(b, span_of(v)))
    }

    /// A whole number.
    pub fn int<K: Kind>(
        &mut self,
        sink: &mut impl Problems<K>,
        key: &'static str,
    ) -> Option<Located<i64>> {
        let v = self.raw(key)?;
        let parsed = v
            .get_ref()
            .as_integer()
            .and_then(|i| i64::from_str_radix(i.as_str(), i.radix()).ok());
        if parsed.is_none() {
            self.wrong_type(sink, key, v, "a whole number");
        }
        parsed.map(|n| Located::new(n, span_of(v)))
    }

    /// An array of strings; a lone string is a mistake worth naming.
    pub fn str_array<K: Kind>(
        &mut self,
        sink: &mut impl Problems<K>,
        key: &'static str,
    ) -> Vec<Located<String>> {
        let Some(v) = self.raw(key) else {
            return Vec::new();
        };
        let Some(items) = v.get_ref().as_array() else {
            self.wrong_type(sink, key, v, "an array of strings, like [\"a\", \"b\"]");
            return Vec::new();
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items.iter() {
            match item.get_ref().as_str() {
                Some(s) => out.push(Located::new(s.to_owned(), span_of(item))),
                None => self.wrong_type(sink, key, item, "an array of strings"),
            }
        }
        out
    }

    /// One of a fixed set of names.
    pub fn choice<K: Kind, T: Copy + Into<&'static str>>(
        &mut self,
        sink: &mut impl Problems<K>,
        key: &'static str,
        choices: &[T],
    ) -> Option<Located<T>> {
        let v = self.raw(key)?;
        let Some(s) = v.get_ref().as_str() else {
            self.wrong_type(sink, key, v, "a string");
            return None;
        };
        match choices.iter().find(|c| (**c).into() == s) {
            Some(value) => Some(Located::new(*value, span_of(v))),
            None => {
                let names: Vec<&str> = choices.iter().map(|c| (*c).into()).collect();
                let mut p = Problem::new(
                    K::INVALID_VALUE,
                    span_of(v),
                    format!("`{s}` is not a valid `{key}` in {}", self.path),
                );
                p = match closest(s, names.iter().copied()) {
                    Some(c) => p.help(format!(
                        "did you mean `{c}`? Valid values: {}",
                        names.join(", ")
                    )),
                    None => p.help(format!("valid values: {}", names.join(", "))),
                };
                sink.push(p);
                None
            }
        }
    }

    /// A sub-table named `[key]` in messages, written as `[key]` or inline.
    pub fn section<K: Kind>(
        &mut self,
        sink: &mut impl Problems<K>,
        key: &'static str,
    ) -> Option<Table<'a, 'i>> {
        self.sub_table(sink, key, format!("[{key}]"))
    }

    /// A sub-table named after its parent in messages (`` `erase` of table "orders" ``).
    pub fn table<K: Kind>(
        &mut self,
        sink: &mut impl Problems<K>,
        key: &'static str,
    ) -> Option<Table<'a, 'i>> {
        let name = format!("`{key}` of {}", self.path);
        self.sub_table(sink, key, name)
    }

    fn sub_table<K: Kind>(
        &mut self,
        sink: &mut impl Problems<K>,
        key: &'static str,
        name: String,
    ) -> Option<Table<'a, 'i>> {
        let v = self.raw(key)?;
        match v.get_ref().as_table() {
            Some(t) => Some(Table::new(t, span_of(v), name)),
            None => {
                self.wrong_type(sink, key, v, "a table");
                None
            }
        }
    }

    /// An array of tables, written `[[key]]` or as an array of inline
    /// tables, each named `key #n` in messages.
    pub fn tables<K: Kind>(
        &mut self,
        sink: &mut impl Problems<K>,
        key: &'static str,
    ) -> Vec<Table<'a, 'i>> {
        self.tables_named(sink, key, |_, n| format!("{key} #{}", n + 1))
    }

    /// An array of tables, each named by `name` (given the table and its
    /// index) in messages.
    pub fn tables_named<K: Kind>(
        &mut self,
        sink: &mut impl Problems<K>,
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
    pub fn entries(&self) -> impl Iterator<Item = (String, Span, &'a Spanned<DeValue<'i>>)> {
        self.table
            .iter()
            .map(|(k, v)| (k.get_ref().to_string(), span_of(k), v))
    }

    /// Reports every key that was never asked for.
    pub fn finish<K: Kind>(&self, sink: &mut impl Problems<K>) {
        for (key, _) in self.table.iter() {
            let name: &str = key.get_ref();
            if self.seen.contains(&name) {
                continue;
            }
            let mut p = Problem::new(
                K::UNKNOWN_KEY,
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

/// The candidate nearest to `word`, if it is near enough to be a typo.
pub fn closest<'c>(word: &str, candidates: impl Iterator<Item = &'c str>) -> Option<&'c str> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_their_key() {
        let keys = ["retention", "recipients", "categories"];
        assert_eq!(closest("retnetion", keys.into_iter()), Some("retention"));
        assert_eq!(closest("colour", keys.into_iter()), None);
    }
}
