//! What reading a policy adds to the shared TOML reader ([`crate::reader`]):
//! the sink that knows the source and the notice languages, and texts
//! written once per language.

use toml::Spanned;
use toml::de::DeValue;

use crate::diagnostic::{Problem, ProblemKind, Span};
use crate::reader::{Problems, Table, span_of};
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
}

impl Problems<ProblemKind> for Sink<'_> {
    fn push(&mut self, problem: Problem) {
        self.problems.push(problem);
    }
}

/// The policy's own kind of value: a text in every notice language.
pub(crate) trait Texts {
    /// A text in the notice languages: an inline table `{ it = .., en = .. }`,
    /// or a plain string when the policy has one language.
    fn text(&mut self, sink: &mut Sink, key: &'static str) -> Option<Text>;

    /// A text that must be written; `what` says what it holds.
    fn required_text(&mut self, sink: &mut Sink, key: &'static str, what: &str) -> Option<Text>;
}

impl Texts for Table<'_, '_> {
    fn text(&mut self, sink: &mut Sink, key: &'static str) -> Option<Text> {
        let v = self.raw(key)?;
        read_text(sink, &self.path, key, v)
    }

    fn required_text(&mut self, sink: &mut Sink, key: &'static str, what: &str) -> Option<Text> {
        if !self.require(sink, key, what) {
            return None;
        }
        self.text(sink, key)
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
