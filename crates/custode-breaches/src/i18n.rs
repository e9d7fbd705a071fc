//! The register's own message catalogues (Fluent, `locales/*.ftl`, it, en,
//! fr, nl), embedded: the authority's notification and the notice to the
//! people are assembled from messages with named arguments, never from
//! sentences in code.

use std::sync::OnceLock;

use custode_policy::Lang;
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

pub(crate) const SOURCES: [(Lang, &str); 4] = [
    (Lang::It, include_str!("../locales/it.ftl")),
    (Lang::En, include_str!("../locales/en.ftl")),
    (Lang::Fr, include_str!("../locales/fr.ftl")),
    (Lang::Nl, include_str!("../locales/nl.ftl")),
];

/// The messages of one language.
pub(crate) struct Messages(FluentBundle<FluentResource>);

/// The catalogue of a language, parsed once.
pub(crate) fn messages(lang: Lang) -> &'static Messages {
    static ALL: OnceLock<Vec<Messages>> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        SOURCES
            .iter()
            .map(|(l, source)| {
                // A syntax error keeps what parsed; the test below fails on any.
                let resource =
                    FluentResource::try_new((*source).to_owned()).unwrap_or_else(|(r, _)| r);
                let id: unic_langid::LanguageIdentifier = l.code().parse().unwrap_or_default();
                let mut bundle = FluentBundle::new_concurrent(vec![id]);
                bundle.set_use_isolating(false);
                let _ = bundle.add_resource(resource);
                Messages(bundle)
            })
            .collect()
    });
    let i = Lang::ALL.iter().position(|l| *l == lang).unwrap_or(0);
    &all[i]
}

impl Messages {
    /// A message with named arguments; an unknown id comes back as itself.
    pub(crate) fn get(&self, id: &str, args: &[(&str, &str)]) -> String {
        let Some(pattern) = self.0.get_message(id).and_then(|m| m.value()) else {
            return id.to_owned();
        };
        let mut fluent = FluentArgs::with_capacity(args.len());
        for (name, value) in args {
            fluent.set(*name, FluentValue::from(*value));
        }
        let mut errors = Vec::new();
        self.0
            .format_pattern(pattern, Some(&fluent), &mut errors)
            .into_owned()
    }

    /// A message without arguments.
    pub(crate) fn msg(&self, id: &str) -> String {
        self.get(id, &[])
    }
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
        assert!(english.len() > 20);
        for (lang, source) in SOURCES {
            if let Err((_, errors)) = FluentResource::try_new(source.to_owned()) {
                panic!("{lang:?}.ftl does not parse: {errors:?}");
            }
            assert_eq!(ids(source), english, "{lang:?}.ftl and en.ftl differ");
        }
    }
}
