//! Record acceptance and retention arithmetic, case by case.

use super::*;
use custode_policy::{IdentifierKind, Period, Unit};
use jiff::civil::date;

const POLICY: &str = r#"
[policy]
version = "t"
effective = "2026-01-01"
languages = ["it"]
jurisdiction = "IT"
[controller]
name = "T"
address = "Via T 1"
email = "t@t.example"
[authority]
name = "Garante"
[rights]
email = "t@t.example"
[[subject]]
id = "customer"
name = "Clienti"
close_after_inactivity = "24 months"
[[subject]]
id = "visitor"
name = "Visitatori"
[[category]]
id = "contact"
name = "Contatti"
fields = [{ id = "email", dpv = "pd:EmailAddress", identifier = "email" }, { id = "phone", dpv = "pd:TelephoneNumber", identifier = "phone" }]
[[category]]
id = "logs"
name = "Log"
fields = [{ id = "ip", dpv = "pd:IPAddress", identifier = "ip_address" }]
[[purpose]]
id = "service"
name = "Servizio"
basis = "contract"
categories = ["contact"]
subjects = ["customer"]
retention = { from = "account_closed", keep = "30 days" }
[[purpose]]
id = "security"
name = "Sicurezza"
basis = "legitimate_interests"
interest = "Proteggere il servizio."
categories = ["logs"]
subjects = ["customer", "visitor"]
retention = { keep = "6 months" }
[[purpose]]
id = "traffic"
name = "Traffico"
basis = "legal_obligation"
law = "Art. 132"
categories = ["logs"]
subjects = ["customer"]
retention = { keep = "12 months" }
"#;

fn policy() -> Policy {
    custode_policy::load("t.toml", POLICY).expect("test policy")
}

fn rome(y: i16, m: i8, d: i8, h: i8) -> Timestamp {
    date(y, m, d)
        .at(h, 0, 0, 0)
        .in_tz("Europe/Rome")
        .expect("valid")
        .timestamp()
}

fn record(category: &str, fields: &[(&str, &str)]) -> NewRecord {
    NewRecord {
        category: category.into(),
        fields: fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
            .collect(),
        source: "test".into(),
        purposes: vec![],
        collected_at: None,
    }
}

#[test]
fn periods_end_as_regulation_1182_71_counts() {
    let months = |n| Period {
        amount: n,
        unit: Unit::Month,
    };
    for (start, keep, erase_from) in [
        // The end of February when the date does not exist.
        (rome(2025, 1, 31, 10), months(1), rome(2025, 3, 1, 0)),
        (
            rome(2024, 2, 29, 23),
            Period {
                amount: 1,
                unit: Unit::Year,
            },
            rome(2025, 3, 1, 0),
        ),
        (rome(2025, 3, 15, 14), months(24), rome(2027, 3, 16, 0)),
        (
            rome(2025, 12, 31, 23),
            Period {
                amount: 30,
                unit: Unit::Day,
            },
            rome(2026, 1, 31, 0),
        ),
        // Across the change to summer time, still midnight in Rome.
        (rome(2025, 3, 1, 12), months(1), rome(2025, 4, 2, 0)),
    ] {
        assert_eq!(
            period_end("IT", start, keep),
            Some(erase_from),
            "{start} + {keep:?}"
        );
    }
}

#[test]
fn the_end_follows_the_local_day_and_period_however_often_it_is_asked() {
    let months = |n| Period {
        amount: n,
        unit: Unit::Month,
    };
    // Midnight in Rome is still the day before in UTC: Rome's day counts.
    let cases = [
        (rome(2025, 5, 9, 23), months(1), rome(2025, 6, 10, 0)),
        (rome(2025, 5, 10, 0), months(1), rome(2025, 6, 11, 0)),
        (rome(2025, 5, 10, 0), months(2), rome(2025, 7, 11, 0)),
        (rome(2025, 5, 10, 23), months(1), rome(2025, 6, 11, 0)),
    ];
    for _ in 0..3 {
        for (start, keep, end) in cases {
            assert_eq!(
                period_end("IT", start, keep),
                Some(end),
                "{start} + {keep:?}"
            );
        }
    }
}

#[test]
fn a_record_lives_as_long_as_its_longest_purpose() {
    let p = policy();
    let at = rome(2026, 5, 10, 9);
    let end = |purposes: &[&str]| {
        let purposes: Vec<String> = purposes.iter().map(|s| s.to_string()).collect();
        crate::retention::resolve(&p, &purposes, at, &crate::retention::LifeEvents::default())
            .retain_until
    };
    assert_eq!(end(&["security", "traffic"]), Some(rome(2027, 5, 11, 0)));
    assert_eq!(end(&["security"]), Some(rome(2026, 11, 11, 0)));
    // An event rule leaves the end open until the event.
    assert_eq!(end(&["service"]), None);
}

#[test]
fn records_take_every_covering_purpose_for_their_subject_kind() {
    let p = policy();
    let now = rome(2026, 1, 1, 0);
    let r = record("logs", &[("ip", "192.0.2.1")])
        .check(&p, "customer", now)
        .expect("ok");
    assert_eq!(r.purposes, ["security", "traffic"]);
    let r = record("logs", &[("ip", "192.0.2.1")])
        .check(&p, "visitor", now)
        .expect("ok");
    assert_eq!(r.purposes, ["security"]);
}

#[test]
fn records_the_policy_does_not_allow_are_refused_with_reasons() {
    let p = policy();
    let now = rome(2026, 1, 1, 0);
    let e = record("payments", &[("iban", "x")])
        .check(&p, "customer", now)
        .expect_err("unknown");
    assert_eq!(
        e.to_string(),
        "category `payments` is not declared in the policy (declared: contact, logs)"
    );
    let e = record("contact", &[("fax", "x")])
        .check(&p, "customer", now)
        .expect_err("field");
    assert_eq!(
        e.to_string(),
        "field `fax` is not part of category `contact` (its fields: email, phone)"
    );
    let e = record("contact", &[("email", "a@b.it")])
        .check(&p, "visitor", now)
        .expect_err("kind");
    assert!(matches!(e, RecordError::NoPurpose { .. }));
    let mut r = record("logs", &[("ip", "192.0.2.1")]);
    r.purposes = vec!["service".into()];
    assert!(matches!(
        r.check(&p, "customer", now),
        Err(RecordError::PurposeNotCovering { .. })
    ));
}

#[test]
fn identifiers_are_normalised_before_hashing() {
    assert_eq!(
        normalise_identifier(IdentifierKind::Email, " Mario.Rossi@Example.COM "),
        "mario.rossi@example.com"
    );
    assert_eq!(
        normalise_identifier(IdentifierKind::Phone, "+39 055 123-4567"),
        "+390551234567"
    );
    assert_eq!(
        normalise_identifier(IdentifierKind::Phone, "0039 055 1234567"),
        "+390551234567"
    );
    assert_eq!(
        normalise_identifier(IdentifierKind::TaxCode, "rssmra80a01h501u"),
        "RSSMRA80A01H501U"
    );
    assert_eq!(
        normalise_identifier(IdentifierKind::IpAddress, "2001:DB8::0001"),
        "2001:db8::1"
    );
    let p = policy();
    let r = record("contact", &[("email", "A@B.it"), ("phone", "+39 1")])
        .check(&p, "customer", rome(2026, 1, 1, 0))
        .expect("ok");
    assert_eq!(
        r.identifiers,
        [("email", "a@b.it".to_owned()), ("phone", "+391".to_owned())]
    );
}
