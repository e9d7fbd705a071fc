//! A thin, span-keeping reader over a parsed TOML table.
//!
//! It pulls typed values out of a table, records a [`Problem`] for each
//! mistake instead of stopping at the first, and at the end reports every key
//! nobody asked for, with the closest known key as a hint. This is what lets
//! `policy check` list all problems at once.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diagnostic::{Located, Problem, ProblemKind, Span};
use crate::text::{Lang, Text};

/// Collects problems while a policy is read and checked.
pub(crate) struct Sink<'s> {
    /// The policy source, to name lines in messages.
    pub(crate) source: &'s str,
    pub(crate) problems: Vec<Problem>,
    /// The notice languages, once `[policy]` has been read.
    pub(crate) languages: Vec<Lang>,
}

impl Sink<'_> {
    /// The one-based line of a span, for messages that refer to another place.
    pub(crate) fn line(&self, span: Span) -> usize {
        crate::diagnostic::line_col(self.source, span.start).line
    }

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

/// A table being read; `path` names it in messages (`purpose "billing"`).
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

    /// The raw value of a key, marking it as known.
    pub(crate) fn raw(&mut self, key: &'static str) -> Option<&'a Spanned<DeValue<'i>>> {
        self.seen.push(key);
        self.table.get(key)
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.table.get(key).is_some()
    }

    fn wrong_type(&self, sink: &mut Sink, key: &str, v: &Spanned<DeValue<'_>>, want: &str) {
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

    pub(crate) fn str(&mut self, sink: &mut Sink, key: &'static str) -> Option<Located<String>> {
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
            Some(s) => Some(Located::new(s.to_owned(), span_of(v))),
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
    ) -> Option<Located<String>> {
        if !self.has(key) {
            self.seen.push(key);
            self.missing(sink, key, what);
            return None;
        }
        self.str(sink, key)
    }

    pub(crate) fn bool(&mut self, sink: &mut Sink, key: &'static str) -> Option<bool> {
        let v = self.raw(key)?;
        let b = v.get_ref().as_bool();
        if b.is_none() {
            self.wrong_type(sink, key, v, "true or false");
        }
        b
    }

    pub(crate) fn int(&mut self, sink: &mut Sink, key: &'static str) -> Option<Located<i64>> {
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
    pub(crate) fn str_array(&mut self, sink: &mut Sink, key: &'static str) -> Vec<Located<String>> {
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

    /// A text in the notice languages: an inline table `{ it = .., en = .. }`,
    /// or a plain string when the policy has one language.
    pub(crate) fn text(&mut self, sink: &mut Sink, key: &'static str) -> Option<Text> {
        let v = self.raw(key)?;
        read_text(sink, &self.path, key, v)
    }

    pub(crate) fn required_text(
        &mut self,
        sink: &mut Sink,
        key: &'static str,
        what: &str,
    ) -> Option<Text> {
        if !self.has(key) {
            self.seen.push(key);
            self.missing(sink, key, what);
            return None;
        }
        self.text(sink, key)
    }

    /// One of a fixed set of names.
    pub(crate) fn choice<T: Copy>(
        &mut self,
        sink: &mut Sink,
        key: &'static str,
        choices: &[(&'static str, T)],
    ) -> Option<Located<T>> {
        let v = self.raw(key)?;
        let Some(s) = v.get_ref().as_str() else {
            self.wrong_type(sink, key, v, "a string");
            return None;
        };
        match choices.iter().find(|(name, _)| *name == s) {
            Some((_, value)) => Some(Located::new(*value, span_of(v))),
            None => {
                let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
                let mut p = Problem::new(
                    ProblemKind::InvalidValue,
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

    /// A sub-table, written either as `[section]` or inline.
    pub(crate) fn table(&mut self, sink: &mut Sink, key: &'static str) -> Option<Table<'a, 'i>> {
        let v = self.raw(key)?;
        match v.get_ref().as_table() {
            Some(t) => Some(Table::new(t, span_of(v), format!("[{key}]"))),
            None => {
                self.wrong_type(sink, key, v, "a table");
                None
            }
        }
    }

    /// An array of tables, written `[[key]]` or as an array of inline tables.
    pub(crate) fn tables(&mut self, sink: &mut Sink, key: &'static str) -> Vec<Table<'a, 'i>> {
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
                Some(t) => out.push(Table::new(t, span_of(item), format!("{key} #{}", n + 1))),
                None => self.wrong_type(sink, key, item, "a table"),
            }
        }
        out
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

pub(crate) fn read_text(
    sink: &mut Sink,
    path: &str,
    key: &str,
    v: &Spanned<DeValue<'_>>,
) -> Option<Text> {
    let span = span_of(v);
    if let Some(s) = v.get_ref().as_str() {
        return match sink.languages.as_slice() {
            [only] => Some(Text::single(*only, s)),
            langs => {
                let codes: Vec<&str> = langs.iter().map(|l| l.code()).collect();
                sink.push(
                    Problem::new(
                        ProblemKind::MissingTranslation,
                        span,
                        format!(
                            "`{key}` in {path} is a single text, but the notice is published in {}",
                            codes.join(", ")
                        ),
                    )
                    .help(format!(
                        "write it once per language: {{ {} }}",
                        codes
                            .iter()
                            .map(|c| format!("{c} = \"...\""))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                );
                None
            }
        };
    }
    let Some(table) = v.get_ref().as_table() else {
        sink.error(
            ProblemKind::InvalidValue,
            span,
            format!(
                "`{key}` in {path} must be a text: {{ it = \"...\", en = \"...\" }}, not {}",
                v.get_ref().type_str()
            ),
        );
        return None;
    };
    let mut values = Vec::with_capacity(table.len());
    let mut ok = true;
    for (lang_key, value) in table.iter() {
        let code: &str = lang_key.get_ref();
        let Some(lang) = Lang::parse(code) else {
            sink.push(
                Problem::new(
                    ProblemKind::InvalidValue,
                    span_of(lang_key),
                    format!("`{code}` in `{key}` of {path} is not a notice language"),
                )
                .help("use it, en, fr or nl"),
            );
            ok = false;
            continue;
        };
        match value.get_ref().as_str() {
            Some(s) if !s.trim().is_empty() => values.push((lang, s.to_owned())),
            Some(_) => {
                sink.error(
                    ProblemKind::InvalidValue,
                    span_of(value),
                    format!("the `{code}` text of `{key}` in {path} is empty"),
                );
                ok = false;
            }
            None => {
                sink.error(
                    ProblemKind::InvalidValue,
                    span_of(value),
                    format!("the `{code}` text of `{key}` in {path} must be a string"),
                );
                ok = false;
            }
        }
    }
    let missing: Vec<&str> = sink
        .languages
        .iter()
        .filter(|l| !values.iter().any(|(have, _)| have == *l))
        .map(|l| l.code())
        .collect();
    if !missing.is_empty() {
        sink.push(
            Problem::new(
                ProblemKind::MissingTranslation,
                span,
                format!(
                    "`{key}` in {path} has no {} text",
                    missing.join(", ")
                ),
            )
            .help(format!(
                "add {} to the table: the notice is published in every language of [policy] languages",
                missing
                    .iter()
                    .map(|c| format!("{c} = \"...\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        );
        ok = false;
    }
    // Keep the declared order so the default language comes first.
    values.sort_by_key(|(l, _)| {
        sink.languages
            .iter()
            .position(|d| d == l)
            .unwrap_or(usize::MAX)
    });
    (ok && !values.is_empty()).then_some(Text { values })
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
