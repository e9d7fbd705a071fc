//! The pages' catalogues: every message in all four languages, every id the
//! templates and handlers ask for present, no syntax error.

use std::collections::BTreeSet;

use custode_policy::Lang;
use custode_web::i18n::{SOURCES, Texts};

fn ids(source: &str) -> BTreeSet<String> {
    source
        .lines()
        .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
        .filter_map(|l| l.split_once(" =").map(|(id, _)| id.trim().to_owned()))
        .collect()
}

#[test]
fn every_message_is_in_every_language() {
    let en = ids(SOURCES[1].1);
    assert!(en.len() > 100, "the English catalogue is read");
    for (lang, source) in SOURCES {
        fluent_ok(lang, source);
        let here = ids(source);
        let missing: Vec<_> = en.difference(&here).collect();
        let extra: Vec<_> = here.difference(&en).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{lang}: missing {missing:?}, not in English {extra:?}"
        );
    }
}

fn fluent_ok(lang: Lang, source: &str) {
    if let Err((_, errors)) = fluent_bundle::FluentResource::try_new(source.to_owned()) {
        panic!("{lang}: syntax errors {errors:?}");
    }
}

/// Every literal id the templates and the handlers ask for (`.t("…")`), and
/// every id made from a name (`right-…`, `role-…`).
#[test]
fn every_id_asked_for_exists() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"));
    let mut asked = BTreeSet::new();
    for sub in ["templates", "src"] {
        for entry in std::fs::read_dir(format!("{dir}/{sub}")).expect("dir") {
            let text = std::fs::read_to_string(entry.expect("entry").path()).expect("file");
            for opener in [".t(\"", ".with(\""] {
                for (i, _) in text.match_indices(opener) {
                    let rest = &text[i + opener.len()..];
                    if let Some(end) = rest.find('"') {
                        asked.insert(rest[..end].to_owned());
                    }
                }
            }
        }
    }
    assert!(asked.len() > 80, "the ids are found: {}", asked.len());
    for r in custode_domain::requests::Right::ALL {
        asked.insert(format!("right-{}", r.name()));
    }
    for r in custode_domain::Role::ALL {
        asked.insert(format!("role-{}", r.name()));
    }
    for role in ["operator", "unknown", "anonymous"] {
        asked.insert(format!("role-{role}"));
    }
    for kind in custode_policy::IdentifierKind::ALL {
        asked.insert(format!("identifier-{}", kind.key()));
    }
    for kind in ["read", "change", "request", "refused", "other"] {
        asked.insert(format!("trail-{kind}"));
    }
    for kind in custode_requests::DocumentKind::ALL {
        asked.insert(format!("document-{}", kind.name()));
    }
    for outcome in ["accepted", "partially_accepted", "refused"] {
        asked.insert(format!("outcome-{outcome}"));
    }
    for method in [
        "email_code",
        "id_document",
        "proxy_and_delegate_id",
        "attestation",
    ] {
        asked.insert(format!("method-{method}"));
    }
    for state in ["pending", "done", "cancelled"] {
        asked.insert(format!("job-{state}"));
    }
    for requester in ["subject", "delegate"] {
        asked.insert(format!("requester-{requester}"));
    }
    for channel in custode_consent::Channel::ALL {
        asked.insert(format!("channel-{}", channel.name()));
    }
    for kind in custode_consent::EventKind::ALL {
        asked.insert(format!("consent-event-{}", kind.name()));
    }
    for done in [
        "approved",
        "queued",
        "extended",
        "answered",
        "unmailed",
        "erased",
        "restricted",
        "told",
    ] {
        asked.insert(format!("done-{done}"));
    }
    for lang in Lang::ALL {
        let t = Texts::of(lang);
        let missing: Vec<_> = asked.iter().filter(|id| !t.has(id)).collect();
        assert!(missing.is_empty(), "{lang}: no message for {missing:?}");
    }
}
