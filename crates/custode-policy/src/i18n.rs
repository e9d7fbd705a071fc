//! Message catalogues (Fluent) for the notice and the record of processing.
//!
//! The catalogues live in `locales/*.ftl`, one per language, embedded in the
//! binary. Renderers ask for messages by id with named arguments; no sentence
//! is assembled in code.

use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

use crate::text::Lang;

/// The messages of one language.
pub struct Catalog {
    lang: Lang,
    bundle: FluentBundle<FluentResource>,
}

const SOURCES: [(Lang, &str); 4] = [
    (Lang::It, include_str!("../locales/it.ftl")),
    (Lang::En, include_str!("../locales/en.ftl")),
    (Lang::Fr, include_str!("../locales/fr.ftl")),
    (Lang::Nl, include_str!("../locales/nl.ftl")),
];

impl Catalog {
    /// The catalogue of a language, parsed once per process.
    pub fn get(lang: Lang) -> &'static Catalog {
        static ALL: OnceLock<Vec<Catalog>> = OnceLock::new();
        let all = ALL.get_or_init(|| SOURCES.iter().map(|(l, s)| Catalog::parse(*l, s)).collect());
        let i = Lang::ALL.iter().position(|l| *l == lang).unwrap_or(0);
        &all[i]
    }

    fn parse(lang: Lang, source: &str) -> Catalog {
        // A syntax error keeps the entries that did parse; the catalogue test
        // fails on any error, so none ships.
        let resource = match FluentResource::try_new(source.to_owned()) {
            Ok(r) => r,
            Err((r, _)) => r,
        };
        let id: unic_langid::LanguageIdentifier = lang.code().parse().unwrap_or_default();
        let mut bundle = FluentBundle::new_concurrent(vec![id]);
        bundle.set_use_isolating(false);
        // Ids are unique in each file (checked by test), so adding cannot clash.
        let _ = bundle.add_resource(resource);
        Catalog { lang, bundle }
    }

    /// The catalogue's language.
    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// Whether the catalogue has a message.
    pub fn has(&self, id: &str) -> bool {
        self.bundle.has_message(id)
    }

    /// A message without arguments.
    pub fn msg(&self, id: &str) -> String {
        self.msg_args(id, &[])
    }

    /// A message with named arguments. An unknown id comes back as itself, so
    /// a missing translation shows instead of vanishing.
    pub fn msg_args(&self, id: &str, args: &[(&str, Arg)]) -> String {
        let Some(pattern) = self.bundle.get_message(id).and_then(|m| m.value()) else {
            return id.to_owned();
        };
        let mut fluent_args = FluentArgs::with_capacity(args.len());
        for (name, value) in args {
            let v = match value {
                Arg::Str(s) => FluentValue::from(s.as_str()),
                Arg::Num(n) => FluentValue::from(*n),
            };
            fluent_args.set(*name, v);
        }
        let mut errors = Vec::new();
        self.bundle
            .format_pattern(pattern, Some(&fluent_args), &mut errors)
            .into_owned()
    }

    /// A date `YYYY-MM-DD` in words: "1 novembre 2026".
    pub fn date(&self, iso: &str) -> String {
        let parts: Vec<&str> = iso.split('-').collect();
        let [y, m, d] = parts.as_slice() else {
            return iso.to_owned();
        };
        let (Ok(m), Ok(d)) = (m.parse::<u32>(), d.parse::<u32>()) else {
            return iso.to_owned();
        };
        self.msg_args(
            "date",
            &[
                ("day", Arg::Num(i64::from(d))),
                ("month", Arg::Str(self.msg(&format!("month-{m}")))),
                ("year", Arg::Str((*y).to_owned())),
            ],
        )
    }

    /// "Label: value", punctuated as the language does.
    pub fn labelled(&self, label: &str, value: &str) -> String {
        self.msg_args(
            "labelled",
            &[("label", label.into()), ("value", value.into())],
        )
    }

    /// A country's name, or its code when the catalogue does not know it.
    pub fn country(&self, code: &str) -> String {
        let id = format!("country-{code}");
        if self.has(&id) {
            self.msg(&id)
        } else {
            code.to_owned()
        }
    }
}

/// A message argument.
pub enum Arg {
    /// Text.
    Str(String),
    /// A number, which also selects plural forms.
    Num(i64),
}

impl From<&str> for Arg {
    fn from(s: &str) -> Self {
        Arg::Str(s.to_owned())
    }
}

impl From<String> for Arg {
    fn from(s: String) -> Self {
        Arg::Str(s)
    }
}

/// Whether every catalogue can name a DPV term (`pd:EmailAddress`), so a
/// field may leave out its label.
pub fn knows_term(term: &str) -> bool {
    let id = term.replacen(':', "-", 1);
    Lang::ALL.iter().all(|l| Catalog::get(*l).has(&id))
}

/// The name of a DPV term in a language, if known.
pub fn term_name(term: &str, lang: Lang) -> Option<String> {
    let id = term.replacen(':', "-", 1);
    let c = Catalog::get(lang);
    c.has(&id).then(|| c.msg(&id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn ids(source: &str) -> BTreeSet<String> {
        source
            .lines()
            .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_alphabetic()))
            .filter_map(|l| l.split_once(" =").map(|(id, _)| id.trim().to_owned()))
            .collect()
    }

    #[test]
    fn every_catalogue_parses_and_has_the_same_messages() {
        let english = ids(SOURCES[1].1);
        for (lang, source) in SOURCES {
            if let Err((_, errors)) = FluentResource::try_new(source.to_owned()) {
                panic!("{lang}.ftl does not parse: {errors:?}");
            }
            let these = ids(source);
            let missing: Vec<_> = english.difference(&these).collect();
            let extra: Vec<_> = these.difference(&english).collect();
            assert!(missing.is_empty(), "{lang}.ftl lacks {missing:?}");
            assert!(
                extra.is_empty(),
                "{lang}.ftl has ids en.ftl lacks: {extra:?}"
            );
        }
    }

    #[test]
    fn plurals_follow_the_language() {
        let it = Catalog::get(Lang::It);
        assert_eq!(it.msg_args("span-month", &[("n", Arg::Num(1))]), "1 mese");
        assert_eq!(it.msg_args("span-month", &[("n", Arg::Num(24))]), "24 mesi");
        assert_eq!(it.date("2026-11-01"), "1 novembre 2026");
    }
}
