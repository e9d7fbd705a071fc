//! The pages' own words in it/en/fr/nl (`locales/*.ftl`, embedded), and
//! which language a request is answered in: the `lang` the visitor chose
//! (a `?lang=` link of the switcher, then its cookie), then its browser's
//! `Accept-Language`, then the policy's first language. The policy's own
//! texts (names of categories and purposes, bases, dates) come from the
//! policy and its catalogue, in the same language.

use std::sync::OnceLock;

use axum::http::HeaderMap;
use custode_policy::Lang;
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

/// The catalogues, in the order of `Lang::ALL`.
pub const SOURCES: [(Lang, &str); 4] = [
    (Lang::It, include_str!("../locales/it.ftl")),
    (Lang::En, include_str!("../locales/en.ftl")),
    (Lang::Fr, include_str!("../locales/fr.ftl")),
    (Lang::Nl, include_str!("../locales/nl.ftl")),
];

/// The pages' messages in one language.
pub struct Texts {
    lang: Lang,
    bundle: FluentBundle<FluentResource>,
}

impl Texts {
    /// The messages of `lang`, parsed once per process.
    pub fn of(lang: Lang) -> &'static Texts {
        static ALL: OnceLock<Vec<Texts>> = OnceLock::new();
        let all = ALL.get_or_init(|| {
            SOURCES
                .iter()
                .map(|(lang, source)| {
                    // A syntax error keeps what parsed; the catalogue test
                    // fails on any, so none ships.
                    let resource = FluentResource::try_new((*source).to_owned())
                        .unwrap_or_else(|(partial, _)| partial);
                    let id: unic_langid::LanguageIdentifier =
                        lang.code().parse().unwrap_or_default();
                    let mut bundle = FluentBundle::new_concurrent(vec![id]);
                    bundle.set_use_isolating(false);
                    let _ = bundle.add_resource(resource);
                    Texts {
                        lang: *lang,
                        bundle,
                    }
                })
                .collect()
        });
        let i = Lang::ALL.iter().position(|l| *l == lang).unwrap_or(0);
        &all[i]
    }

    /// The language.
    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// Whether a message exists.
    pub fn has(&self, id: &str) -> bool {
        self.bundle.has_message(id)
    }

    /// A message; an unknown id shows as itself, never vanishes.
    pub fn get(&self, id: &str) -> String {
        self.with(id, &[])
    }

    /// A message with named arguments.
    pub fn with(&self, id: &str, args: &[(&str, &str)]) -> String {
        let Some(pattern) = self.bundle.get_message(id).and_then(|m| m.value()) else {
            return id.to_owned();
        };
        let mut fluent = FluentArgs::with_capacity(args.len());
        for (name, value) in args {
            fluent.set(*name, FluentValue::from(*value));
        }
        let mut errors = Vec::new();
        self.bundle
            .format_pattern(pattern, Some(&fluent), &mut errors)
            .into_owned()
    }

    /// A day in the language's words ("1 novembre 2026"), through the
    /// policy's catalogue, which the notice uses too.
    pub fn date(&self, at: jiff::Timestamp) -> String {
        let day = at.to_zoned(jiff::tz::TimeZone::UTC).date();
        custode_policy::Catalog::get(self.lang).date(&day.to_string())
    }

    /// A calendar day in words.
    pub fn day(&self, day: jiff::civil::Date) -> String {
        custode_policy::Catalog::get(self.lang).date(&day.to_string())
    }
}

/// The language cookie's name.
pub const LANG_COOKIE: &str = "lang";

/// The language of a request (see the module doc).
pub fn choose(headers: &HeaderMap, query: Option<&str>, default: Lang) -> Lang {
    if let Some(l) = query.and_then(query_lang) {
        return l;
    }
    if let Some(l) = crate::cookies::get(headers, LANG_COOKIE).and_then(|v| Lang::parse(&v)) {
        return l;
    }
    if let Some(l) = headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(accepted)
    {
        return l;
    }
    default
}

/// The `lang` of a query string, when it is a language of ours.
pub fn query_lang(query: &str) -> Option<Lang> {
    query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == "lang")
        .and_then(|(_, v)| Lang::parse(v))
}

/// The browser's most wanted language among ours (`fr-BE;q=0.8, en;q=0.5`).
fn accepted(header: &str) -> Option<Lang> {
    let mut best: Option<(f32, Lang)> = None;
    for item in header.split(',') {
        let mut parts = item.trim().split(';');
        let tag = parts.next().unwrap_or("").trim();
        let primary = tag.split('-').next().unwrap_or("");
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        if let Some(lang) = Lang::parse(primary)
            && q > 0.0
            && best.is_none_or(|(b, _)| q > b)
        {
            best = Some((q, lang));
        }
    }
    best.map(|(_, l)| l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_preference_with_weights() {
        assert_eq!(accepted("de-DE, fr-BE;q=0.8, en;q=0.5"), Some(Lang::Fr));
        assert_eq!(accepted("en;q=0.2, nl;q=0.9"), Some(Lang::Nl));
        assert_eq!(accepted("de, es"), None);
        assert_eq!(accepted("it;q=0"), None);
    }
}
