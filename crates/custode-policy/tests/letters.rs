//! The letters and notices a person reads, in every language: one register
//! per language (Italian "Lei", French "vous", Dutch "u"), counts with their
//! real plural forms, and an answer that names only the recipients that were
//! told (Art. 19). Guards the issue "Every promise kept".

use std::collections::BTreeSet;

use custode_policy::{AnswerFacts, Held, KeptFact, Lang, access_summary, answer_letter};

const EMAIL_HOSTING: &str = include_str!("../../../policies/email-hosting.toml");
const CATALOGUES: [(Lang, &str); 4] = [
    (Lang::It, include_str!("../locales/it.ftl")),
    (Lang::En, include_str!("../locales/en.ftl")),
    (Lang::Fr, include_str!("../locales/fr.ftl")),
    (Lang::Nl, include_str!("../locales/nl.ftl")),
];

fn policy() -> custode_policy::Policy {
    custode_policy::load("email-hosting.toml", EMAIL_HOSTING).expect("policy")
}

/// The form of "N records" each language must show for 0, 1 and 2.
fn records(lang: Lang, n: u64) -> String {
    let word = match (lang, n) {
        (Lang::It, 1) => "registrazione",
        (Lang::It, _) => "registrazioni",
        (Lang::En, 1) => "record",
        (Lang::En, _) => "records",
        // French counts 0 with the singular.
        (Lang::Fr, 0 | 1) => "enregistrement",
        (Lang::Fr, _) => "enregistrements",
        (Lang::Nl, 1) => "registratie",
        (Lang::Nl, _) => "registraties",
    };
    format!("{n} {word}")
}

fn letter_with(lang: Lang, n: u64) -> String {
    let facts = AnswerFacts {
        request: "R-1".into(),
        date: "2026-11-20".into(),
        outcome: "accepted".into(),
        done: vec!["erasure".into()],
        erased: Some(n),
        kept: vec![
            KeptFact {
                category: "billing".into(),
                records: n,
                grounds: vec![],
                until: Some("2036-11-20".into()),
                vault: false,
                fields: vec![],
            },
            KeptFact {
                category: "usage".into(),
                records: n,
                grounds: vec![],
                until: None,
                vault: true,
                fields: vec![],
            },
        ],
        ..Default::default()
    };
    answer_letter(&policy(), lang, &facts).to_markdown()
}

#[test]
fn every_count_in_every_language_takes_its_plural_form() {
    let policy = policy();
    for lang in Lang::ALL {
        for n in [0u64, 1, 2] {
            let want = records(lang, n);
            let letter = letter_with(lang, n);
            // Erased, kept, and kept in the vault: three counts.
            assert_eq!(
                letter.matches(&want).count(),
                3,
                "{lang}, {n}: expected `{want}` three times in\n{letter}"
            );
            // No singular count written with a plural word, nor the reverse.
            let wrong = records(lang, if n == 1 { 2 } else { 1 })
                .split_once(' ')
                .map(|(_, w)| format!("{n} {w}"))
                .unwrap_or_default();
            if wrong != want {
                assert!(
                    !letter.contains(&format!("{wrong} "))
                        && !letter.contains(&format!("{wrong},"))
                        && !letter.contains(&format!("{wrong}."))
                        && !letter.contains(&format!("{wrong}\n")),
                    "{lang}, {n}: `{wrong}` in\n{letter}"
                );
            }
            let summary = access_summary(
                &policy,
                lang,
                "2026-11-20",
                &[Held {
                    category: "contact".into(),
                    records: n as usize,
                    purposes: BTreeSet::new(),
                }],
                &[],
            )
            .expect("summary")
            .to_markdown();
            assert!(
                summary.contains(&format!("{want}\n")),
                "{lang}, {n}: `{want}` in the access summary\n{summary}"
            );
        }
        // Past participles agree with the count in Italian and French.
        let (one, many) = match lang {
            Lang::It => ("1 registrazione, conservata", "2 registrazioni, conservate"),
            Lang::Fr => (
                "1 enregistrement, conservé ",
                "2 enregistrements, conservés ",
            ),
            Lang::En => ("1 record, kept", "2 records, kept"),
            Lang::Nl => ("1 registratie, bewaard", "2 registraties, bewaard"),
        };
        assert!(letter_with(lang, 1).contains(one), "{lang}: {one}");
        assert!(letter_with(lang, 2).contains(many), "{lang}: {many}");
    }
}

/// Words that address the reader informally, per language.
fn informal(lang: Lang) -> &'static [&'static str] {
    match lang {
        Lang::It => &[
            " ritieni",
            " hai ",
            " tuo",
            " tuoi",
            " tua ",
            " tue ",
            " puoi ",
            " vuoi ",
            " te ",
            " ti ",
            " sei ",
            "riceverai",
        ],
        Lang::Fr => &[" tu ", " ton ", " tes ", " ta ", " toi ", " te "],
        Lang::Nl => &[" je ", " jij ", " jouw ", " jou ", " jullie "],
        Lang::En => &[],
    }
}

#[test]
fn the_catalogues_address_the_reader_in_one_formal_register() {
    for (lang, source) in CATALOGUES {
        for (i, line) in source.lines().enumerate() {
            if line.starts_with('#') {
                continue;
            }
            // Words are matched with a space each side, so the start and end
            // of a text and its punctuation are padded to spaces.
            let padded = format!(
                " {} ",
                line.to_lowercase()
                    .replace([',', '.', ';', ':', '(', ')', '«', '»', '?', '!', '='], " ")
            );
            for word in informal(lang) {
                assert!(
                    !padded.contains(word),
                    "{lang}.ftl line {}: informal `{}` in: {line}",
                    i + 1,
                    word.trim()
                );
            }
        }
    }
    // And the formal one is there.
    let it = letter_with(Lang::It, 1);
    assert!(it.contains("Risposta alla Sua richiesta"), "{it}");
    assert!(
        it.contains("Se ritiene che il trattamento dei Suoi dati"),
        "{it}"
    );
}

#[test]
fn the_answer_names_the_recipients_told_with_their_day_and_those_pending() {
    let policy = policy();
    let facts = AnswerFacts {
        request: "R-2".into(),
        date: "2026-11-20".into(),
        outcome: "accepted".into(),
        done: vec!["rectification".into()],
        art19: true,
        told: vec![("Centrodati Lumière SAS".into(), "2026-11-18".into())],
        pending: vec!["Studio Contabile Bardi & Associati".into()],
        ..Default::default()
    };
    let it = answer_letter(&policy, Lang::It, &facts).to_markdown();
    assert!(
        it.contains("Centrodati Lumière SAS, il 18 novembre 2026"),
        "{it}"
    );
    assert!(it.contains("Stiamo informando"), "{it}");
    assert!(it.contains("Studio Contabile Bardi"), "{it}");
    let none = AnswerFacts {
        told: vec![],
        pending: vec![],
        ..facts
    };
    let en = answer_letter(&policy, Lang::En, &none).to_markdown();
    assert!(
        en.contains("had not been disclosed to any recipient"),
        "{en}"
    );
    assert!(!en.contains("We told the recipients"), "{en}");
}

/// The shipped policies' own texts (purposes, categories, recipients) stand
/// in the notice beside the catalogue's: the notice of each, in each
/// language, keeps one formal register too. Their Italian once said "tu".
#[test]
fn the_shipped_notices_address_the_reader_in_one_formal_register() {
    let policies = [
        ("email-hosting", EMAIL_HOSTING),
        (
            "messaging",
            include_str!("../../../policies/messaging.toml"),
        ),
        ("telecom", include_str!("../../../policies/telecom.toml")),
    ];
    // Forms of the second person singular that the catalogue's list does
    // not hold; "sei" is left out here, since a notice counts "sei mesi".
    let more_it = [
        " ricevi ",
        " accedi ",
        " usi ",
        " chiedi ",
        "contattarti",
        "chiamarti",
        "venderti",
        "inviarti",
        "consentirti",
        "permetterti",
        "ricordarti",
    ];
    for (name, source) in policies {
        let policy = custode_policy::load(name, source).expect("example loads");
        for lang in [Lang::It, Lang::Fr, Lang::Nl] {
            let text = custode_policy::notice(&policy, lang)
                .expect("language declared")
                .to_markdown();
            let padded = format!(
                " {} ",
                text.to_lowercase().replace(
                    [
                        ',', '.', ';', ':', '(', ')', '«', '»', '?', '!', '*', '\n', '\'', '’'
                    ],
                    " "
                )
            );
            let extra: &[&str] = if lang == Lang::It { &more_it } else { &[] };
            for word in informal(lang)
                .iter()
                .filter(|w| **w != " sei ")
                .chain(extra)
            {
                assert!(
                    !padded.contains(word),
                    "{name}, {lang:?}: informal `{}` in the notice",
                    word.trim()
                );
            }
        }
    }
}

/// Issue #21: a request filed by an identifier that matched no one is
/// answered "we hold nothing about you" in the requester's language (Art.
/// 15), and only then.
#[test]
fn an_answer_says_when_nothing_is_held() {
    let policy = policy();
    let facts = AnswerFacts {
        request: "R-3".into(),
        date: "2026-11-20".into(),
        outcome: "accepted".into(),
        done: vec!["access".into()],
        nothing_held: true,
        ..Default::default()
    };
    for (lang, words) in [
        (Lang::It, "Non trattiamo alcun dato personale"),
        (Lang::En, "We hold no personal data about you"),
        (Lang::Fr, "Nous ne détenons aucune donnée personnelle"),
        (Lang::Nl, "Wij verwerken geen persoonsgegevens over u"),
    ] {
        let letter = answer_letter(&policy, lang, &facts).to_markdown();
        assert!(letter.contains(words), "{letter}");
    }
    let held = AnswerFacts {
        nothing_held: false,
        ..facts
    };
    let en = answer_letter(&policy, Lang::En, &held).to_markdown();
    assert!(!en.contains("We hold no personal data"), "{en}");
}
