//! Languages and texts written in several of them.

use std::fmt;

/// A language the notice can be published in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Lang {
    /// Italian.
    It,
    /// English.
    En,
    /// French.
    Fr,
    /// Dutch.
    Nl,
}

impl Lang {
    /// Every supported language.
    pub const ALL: [Lang; 4] = [Lang::It, Lang::En, Lang::Fr, Lang::Nl];

    /// The ISO 639-1 code.
    pub fn code(self) -> &'static str {
        match self {
            Lang::It => "it",
            Lang::En => "en",
            Lang::Fr => "fr",
            Lang::Nl => "nl",
        }
    }

    /// Parses an ISO 639-1 code, case-insensitively.
    pub fn parse(code: &str) -> Option<Lang> {
        Lang::ALL
            .into_iter()
            .find(|l| l.code().eq_ignore_ascii_case(code))
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl std::str::FromStr for Lang {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Lang::parse(s).ok_or_else(|| format!("unknown language `{s}`: use one of it, en, fr, nl"))
    }
}

/// A text in each of the policy's languages.
///
/// Loading guarantees that every language the policy declares is present, so
/// [`Text::get`] never falls back silently.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Text {
    pub(crate) values: Vec<(Lang, String)>,
}

impl Text {
    /// The same text in one language.
    pub fn single(lang: Lang, value: impl Into<String>) -> Self {
        Text {
            values: vec![(lang, value.into())],
        }
    }

    /// The text in `lang`; the first language given when it is absent, which
    /// loading rules out for the policy's own languages.
    pub fn get(&self, lang: Lang) -> &str {
        self.values
            .iter()
            .find(|(l, _)| *l == lang)
            .or_else(|| self.values.first())
            .map_or("", |(_, v)| v.as_str())
    }

    /// The languages present.
    pub fn languages(&self) -> impl Iterator<Item = Lang> + '_ {
        self.values.iter().map(|(l, _)| *l)
    }
}
