//! The decision rules and receipts, against the example telecom policy.

use std::sync::Arc;

use custode_consent::receipt::{self, Format, Publication, ReceiptEvent};
use custode_consent::{
    Channel, Entry, EventId, EventKind, Reason, SubjectState, decide, purpose_digest,
};
use custode_crypto::{Key, signing_key};
use custode_policy::{Lang, Policy};
use jiff::Timestamp;
use serde_json::Value;

fn policy() -> Policy {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies/telecom.toml");
    let source = std::fs::read_to_string(path).expect("policy file");
    custode_policy::load(path, &source).expect("valid policy")
}

fn event(policy: &Policy, kind: EventKind, purpose: Option<&str>) -> Entry {
    Entry {
        id: EventId::generate(),
        kind,
        purpose: purpose.map(Arc::from),
        purpose_digest: purpose
            .and_then(|p| policy.purpose(p))
            .map(|p| Arc::from(purpose_digest(policy, p))),
        at: Timestamp::UNIX_EPOCH,
    }
}

fn ask(policy: &Policy, state: &SubjectState, purpose: &str) -> (bool, Reason) {
    let p = policy.purpose(purpose).expect("purpose");
    let d = decide(p, &purpose_digest(policy, p), state);
    (d.allowed, d.reason)
}

#[test]
fn consent_purposes_need_a_consent_in_force() {
    let p = policy();
    let none = SubjectState::default();
    assert_eq!(ask(&p, &none, "marketing"), (false, Reason::NoConsent));
    let given = event(&p, EventKind::Given, Some("marketing"));
    let s = SubjectState::from_events([&given]);
    assert_eq!(ask(&p, &s, "marketing"), (true, Reason::Consent(given.id)));
    let withdrawn = event(&p, EventKind::Withdrawn, Some("marketing"));
    let s = SubjectState::from_events([&given, &withdrawn]);
    assert_eq!(
        ask(&p, &s, "marketing"),
        (false, Reason::Withdrawn(withdrawn.id))
    );
    // Consent to one purpose says nothing of another.
    let s = SubjectState::from_events([&given]);
    assert_eq!(ask(&p, &s, "directory"), (false, Reason::NoConsent));
}

#[test]
fn other_bases_need_nothing_from_the_subject_until_restricted_or_objected() {
    let p = policy();
    let none = SubjectState::default();
    assert_eq!(ask(&p, &none, "website"), (true, Reason::Basis));
    let objected = event(&p, EventKind::Objected, Some("website"));
    let s = SubjectState::from_events([&objected]);
    assert_eq!(
        ask(&p, &s, "website"),
        (false, Reason::Objected(objected.id))
    );
    let restricted = event(&p, EventKind::Restricted, None);
    let s = SubjectState::from_events([&restricted]);
    assert_eq!(
        ask(&p, &s, "website"),
        (false, Reason::Restricted(restricted.id))
    );
    let legal = p
        .purposes
        .iter()
        .find(|x| x.basis == custode_policy::Basis::LegalObligation)
        .expect("a legal-obligation purpose");
    assert_eq!(
        ask(&p, &s, &legal.id.value),
        (true, Reason::Basis),
        "a restriction still lets the law's own retention run (Art. 18(2): storage)"
    );
}

#[test]
fn an_objection_to_direct_marketing_beats_a_fresh_consent() {
    let p = policy();
    let objected = event(&p, EventKind::Objected, None);
    let fresh = event(&p, EventKind::Given, Some("marketing"));
    let s = SubjectState::from_events([&objected, &fresh]);
    assert_eq!(
        ask(&p, &s, "marketing"),
        (false, Reason::ObjectedToDirectMarketing(objected.id))
    );
    // Not direct marketing: the general objection does not touch it.
    let directory = event(&p, EventKind::Given, Some("directory"));
    let s = SubjectState::from_events([&objected, &directory]);
    assert!(ask(&p, &s, "directory").0);
    let lifted = event(&p, EventKind::ObjectionLifted, None);
    let s = SubjectState::from_events([&objected, &fresh, &lifted]);
    assert_eq!(ask(&p, &s, "marketing"), (true, Reason::Consent(fresh.id)));
}

#[test]
fn a_change_to_a_consent_purpose_asks_for_consent_again() {
    let old = policy();
    let given = event(&old, EventKind::Given, Some("marketing"));
    let s = SubjectState::from_events([&given]);
    let source = old.source.replace(
        "categories = [\"master_data\", \"requests\"]\nsubjects = [\"customer\", \"prospect\"]\nretention = { keep = \"24 months\" }",
        "categories = [\"master_data\", \"requests\"]\nsubjects = [\"customer\", \"prospect\"]\nretention = { keep = \"36 months\" }",
    );
    assert_ne!(
        source, *old.source,
        "the test edits the marketing retention"
    );
    let new = custode_policy::load("new.toml", &source).expect("valid");
    assert_eq!(
        custode_consent::changed_consent_purposes(&old, &new),
        ["marketing"]
    );
    assert_eq!(
        ask(&new, &s, "marketing"),
        (false, Reason::ReconsentNeeded(given.id))
    );
    // Re-asking alone does not restore it; a new consent does.
    let asked = event(&new, EventKind::Reasked, Some("marketing"));
    let s = SubjectState::from_events([&given, &asked]);
    assert!(!ask(&new, &s, "marketing").0);
    let renewed = event(&new, EventKind::Given, Some("marketing"));
    let s = SubjectState::from_events([&given, &asked, &renewed]);
    assert_eq!(
        ask(&new, &s, "marketing"),
        (true, Reason::Consent(renewed.id))
    );
}

fn sample(p: &Policy, kind: EventKind) -> (receipt::SignedReceipt, custode_crypto::VerifyingKey) {
    let key = signing_key(&Key::generate().expect("key"));
    let e = ReceiptEvent {
        id: EventId::generate(),
        kind,
        purpose: Some("marketing"),
        at: Timestamp::from_second(1_780_000_000).expect("time"),
        channel: Channel::WebForm,
        language: Lang::It,
        subject: "0123456789abcdef0123456789abcdef",
        actor: "token:shop",
        notice_digest: "ab12",
    };
    let publication = Publication {
        notice_url: "https://privacy.example/notice?lang=it",
    };
    let body = receipt::kantara(p, &e, &publication, &key.verifying_key()).expect("receipt");
    (
        receipt::sign(Format::Kantara, body, &key),
        key.verifying_key(),
    )
}

#[test]
fn kantara_receipts_carry_every_field_of_v1_1() {
    let p = policy();
    let (signed, _) = sample(&p, EventKind::Given);
    let r = &signed.receipt;
    let expect = |field: &str, ok: fn(&Value) -> bool| {
        assert!(
            ok(&r[field]),
            "`{field}` missing or of the wrong type in {r:#}"
        );
    };
    expect("version", |v| v == "KI-CR-v1.1.0");
    expect("jurisdiction", |v| {
        v.as_str().is_some_and(|s| !s.is_empty())
    });
    expect("consentTimestamp", Value::is_i64);
    expect("collectionMethod", Value::is_string);
    expect("consentReceiptID", |v| {
        v.as_str().is_some_and(|s| EventId::parse(s).is_ok())
    });
    expect("publicKey", Value::is_string);
    expect("language", |v| v == "it");
    expect("piiPrincipalId", Value::is_string);
    expect("piiControllers", |v| {
        v.as_array().is_some_and(|a| {
            !a.is_empty()
                && a.iter().all(|c| {
                    c["piiController"].is_string()
                        && c["contact"].is_string()
                        && c["address"].is_string()
                        && c["email"].is_string()
                        && c["onBehalf"].is_boolean()
                })
        })
    });
    expect("policyUrl", Value::is_string);
    expect("services", |v| {
        v.as_array().is_some_and(|a| {
            a.iter().all(|s| {
                s["service"].is_string()
                    && s["purposes"].as_array().is_some_and(|ps| {
                        !ps.is_empty()
                            && ps.iter().all(|p| {
                                p["purpose"].is_string()
                                    && p["purposeCategory"].is_array()
                                    && p["consentType"].is_string()
                                    && p["piiCategory"].as_array().is_some_and(|c| !c.is_empty())
                                    && p["termination"].is_string()
                                    && p["thirdPartyDisclosure"].is_boolean()
                            })
                    })
            })
        })
    });
    expect("sensitive", Value::is_boolean);
    expect("spiCat", Value::is_array);
}

#[test]
fn receipts_verify_and_tampering_is_caught() {
    let p = policy();
    let (signed, key) = sample(&p, EventKind::Given);
    let doc = serde_json::to_string(&signed).expect("json");
    assert_eq!(
        receipt::verify(&doc, &key).expect("verifies"),
        signed.receipt
    );
    assert!(receipt::verify(&signed.jws, &key).is_ok());

    // The readable copy altered.
    let mut altered = signed.clone();
    altered.receipt["piiPrincipalId"] = Value::from("ffffffffffffffffffffffffffffffff");
    let err = receipt::verify(&serde_json::to_string(&altered).expect("json"), &key)
        .expect_err("tampered");
    assert!(err.to_string().contains("/piiPrincipalId"), "{err}");

    // The signed payload altered.
    let parts: Vec<&str> = signed.jws.split('.').collect();
    let mut forged_body = signed.receipt.clone();
    forged_body["consentTimestamp"] = Value::from(1);
    use base64::Engine as _;
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(forged_body.to_string()),
        parts[2]
    );
    assert!(matches!(
        receipt::verify(&forged, &key),
        Err(receipt::ReceiptError::BadSignature(_))
    ));

    // Another instance's key.
    let other = signing_key(&Key::generate().expect("key")).verifying_key();
    assert!(receipt::verify(&doc, &other).is_err());
}

#[test]
fn kantara_is_for_consents_and_iso_for_every_event() {
    let p = policy();
    let key = signing_key(&Key::generate().expect("key")).verifying_key();
    let e = ReceiptEvent {
        id: EventId::generate(),
        kind: EventKind::Withdrawn,
        purpose: Some("marketing"),
        at: Timestamp::UNIX_EPOCH,
        channel: Channel::OneClick,
        language: Lang::En,
        subject: "0123456789abcdef0123456789abcdef",
        actor: "subject:0123456789abcdef0123456789abcdef",
        notice_digest: "ab12",
    };
    let publication = Publication {
        notice_url: "https://privacy.example/notice",
    };
    assert!(receipt::kantara(&p, &e, &publication, &key).is_err());
    let iso = receipt::iso27560(&p, &e, &publication).expect("record");
    for field in [
        "schema_version",
        "record_id",
        "pii_principal_id",
        "notice",
        "purposes",
        "controllers",
        "jurisdiction",
        "storage_location",
        "events",
    ] {
        assert!(
            !iso[field].is_null(),
            "ISO/IEC TS 27560 field `{field}` missing"
        );
    }
    let purpose = &iso["purposes"][0];
    for field in [
        "purpose",
        "legal_basis",
        "data",
        "retention",
        "recipients",
        "withdrawal_method",
    ] {
        assert!(!purpose[field].is_null(), "purpose field `{field}` missing");
    }
    assert_eq!(iso["events"][0]["event_state"], "withdrawn");
    assert_eq!(purpose["legal_basis"], "eu-gdpr:A6-1-a");
}
