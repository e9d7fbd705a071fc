//! Consent receipts: what the subject (or an auditor) keeps as proof of a
//! ledger event, in two standard shapes — the Kantara Consent Receipt v1.1
//! and a record with the fields of ISO/IEC TS 27560 — each signed as a
//! compact JWS (EdDSA, RFC 8037) with the instance's Ed25519 key, so anyone
//! holding the public key can check it offline.
//!
//! A receipt is built from the policy version the event was given against,
//! never from the current one: it shows what the subject was told.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use custode_crypto::{Signature, Signer, SigningKey, VerifyingKey};
use custode_policy::{Basis, Catalog, Lang, Policy, Purpose, RecipientRole};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::ledger::{Channel, EventId, EventKind};

/// The Kantara specification version the receipts follow.
pub const KANTARA_VERSION: &str = "KI-CR-v1.1.0";
/// The schema named in ISO/IEC TS 27560 records.
pub const ISO_27560_SCHEMA: &str = "ISO/IEC TS 27560:2023";

/// The two receipt shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Format {
    /// Kantara Consent Receipt v1.1.
    #[serde(rename = "kantara-1.1")]
    Kantara,
    /// ISO/IEC TS 27560 consent record.
    #[serde(rename = "iso-27560")]
    Iso27560,
}

/// A ledger event as a receipt cites it.
#[derive(Clone, Debug)]
pub struct ReceiptEvent<'a> {
    /// The event id, which is the receipt id.
    pub id: EventId,
    /// What happened.
    pub kind: EventKind,
    /// The purpose (none for a restriction or a general objection).
    pub purpose: Option<&'a str>,
    /// When.
    pub at: Timestamp,
    /// Through which channel.
    pub channel: Channel,
    /// The notice's language.
    pub language: Lang,
    /// The subject's pseudonymous id (never an e-mail address).
    pub subject: &'a str,
    /// Who recorded it.
    pub actor: &'a str,
    /// SHA-256 of the notice text the subject was shown.
    pub notice_digest: &'a str,
}

/// Where the controller publishes its notice.
#[derive(Clone, Debug)]
pub struct Publication<'a> {
    /// The public notice page.
    pub notice_url: &'a str,
}

/// Why a receipt cannot be built or does not verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReceiptError {
    /// A Kantara receipt records consent given; other events have no such shape.
    #[error(
        "a Kantara receipt records consent given; this event is `{0}`: ask for the ISO/IEC TS 27560 record instead"
    )]
    NotAConsent(&'static str),
    /// The event's purpose is not in the policy version it cites.
    #[error("purpose `{0}` is not in the policy version the event cites")]
    UnknownPurpose(String),
    /// The text is not a compact JWS or a signed receipt document.
    #[error("not a signed receipt: {0}")]
    Malformed(String),
    /// The signature does not match the content or the key.
    #[error(
        "the signature does not verify: the receipt was altered, or was not signed by this key (key id {0})"
    )]
    BadSignature(String),
    /// The readable copy differs from the signed one.
    #[error("the readable receipt differs from its signed copy at `{0}`: it was altered")]
    Altered(String),
}

/// A receipt with its signature: the readable JSON and the JWS that signs it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignedReceipt {
    /// Which shape.
    pub format: Format,
    /// The receipt, readable.
    pub receipt: Value,
    /// The compact JWS whose payload is `receipt`.
    pub jws: String,
}

/// A short public id of a verifying key: the start of its SHA-256.
pub fn key_id(key: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}

fn controllers(policy: &Policy) -> Vec<Value> {
    let party = |p: &custode_policy::Party, on_behalf: bool| {
        json!({
            "piiController": p.name,
            "onBehalf": on_behalf,
            "contact": policy.dpo.as_ref().and_then(|d| d.email.clone()).or_else(|| p.email.clone()),
            "address": p.address,
            "email": p.email,
            "phone": p.phone,
            "piiControllerUrl": p.website,
        })
    };
    std::iter::once(party(&policy.controller, false))
        .chain(
            policy
                .joint_controllers
                .iter()
                .map(|j| party(&j.party, false)),
        )
        .collect()
}

fn purpose_of<'p>(
    policy: &'p Policy,
    event: &ReceiptEvent<'_>,
) -> Result<Vec<&'p Purpose>, ReceiptError> {
    match event.purpose {
        Some(id) => policy
            .purpose(id)
            .map(|p| vec![p])
            .ok_or_else(|| ReceiptError::UnknownPurpose(id.to_owned())),
        // A general objection covers every direct-marketing purpose.
        None if event.kind == EventKind::Objected || event.kind == EventKind::ObjectionLifted => {
            Ok(policy
                .purposes
                .iter()
                .filter(|p| p.direct_marketing)
                .collect())
        }
        None => Ok(Vec::new()),
    }
}

fn channel_words(c: Channel) -> &'static str {
    match c {
        Channel::WebForm => "web form",
        Channel::App => "mobile app",
        Channel::Phone => "phone call, recorded by an operator",
        Channel::Paper => "signed paper form",
        Channel::Email => "e-mail",
        Channel::OneClick => "one-click unsubscribe link (RFC 8058)",
        Channel::Api => "controller system (API)",
    }
}

fn termination(p: &Purpose, lang: Lang) -> String {
    let retention = custode_policy::retention_words(Catalog::get(lang), &p.retention);
    match &p.withdrawal {
        Some(w) => format!("{} {retention}", w.get(lang)),
        None => retention,
    }
}

/// The Kantara Consent Receipt v1.1 of a consent given.
pub fn kantara(
    policy: &Policy,
    event: &ReceiptEvent<'_>,
    publication: &Publication<'_>,
    key: &VerifyingKey,
) -> Result<Value, ReceiptError> {
    if event.kind != EventKind::Given {
        return Err(ReceiptError::NotAConsent(event.kind.name()));
    }
    let lang = event.language;
    let purposes = purpose_of(policy, event)?;
    let categories = |p: &Purpose| -> Vec<&custode_policy::Category> {
        p.categories
            .iter()
            .filter_map(|c| policy.category(&c.value))
            .collect()
    };
    let special: Vec<String> = purposes
        .iter()
        .flat_map(|p| categories(p))
        .filter(|c| c.special)
        .map(|c| c.name.get(lang).to_owned())
        .collect();
    Ok(json!({
        "version": KANTARA_VERSION,
        "jurisdiction": policy.meta.jurisdiction,
        "consentTimestamp": event.at.as_second(),
        "collectionMethod": channel_words(event.channel),
        "consentReceiptID": event.id.to_string(),
        "publicKey": hex::encode(key.as_bytes()),
        "language": lang.code(),
        "piiPrincipalId": event.subject,
        "piiControllers": controllers(policy),
        "policyUrl": publication.notice_url,
        "services": [{
            "service": policy.controller.name,
            "purposes": purposes.iter().map(|p| {
                let recipients: Vec<&str> = p
                    .recipients
                    .iter()
                    .filter_map(|r| policy.recipient(&r.value))
                    .filter(|r| r.role != RecipientRole::Processor)
                    .map(|r| r.name.as_str())
                    .collect();
                json!({
                    "purpose": p.name.get(lang),
                    "purposeCategory": [p.dpv.clone().unwrap_or_else(|| "dpv:Purpose".to_owned())],
                    "consentType": "EXPLICIT",
                    "piiCategory": categories(p).iter().map(|c| c.name.get(lang)).collect::<Vec<_>>(),
                    "primaryPurpose": false,
                    "termination": termination(p, lang),
                    "thirdPartyDisclosure": !recipients.is_empty(),
                    "thirdPartyName": recipients.join(", "),
                })
            }).collect::<Vec<_>>(),
        }],
        "sensitive": !special.is_empty(),
        "spiCat": special,
    }))
}

fn event_state(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Given => "given",
        EventKind::Withdrawn => "withdrawn",
        EventKind::Expired => "expired",
        EventKind::Reasked => "renewal_requested",
        EventKind::Objected => "refused",
        EventKind::ObjectionLifted => "objection_lifted",
        EventKind::Restricted => "restricted",
        EventKind::RestrictionLifted => "restriction_lifted",
    }
}

/// The ISO/IEC TS 27560 record of any ledger event.
pub fn iso27560(
    policy: &Policy,
    event: &ReceiptEvent<'_>,
    publication: &Publication<'_>,
) -> Result<Value, ReceiptError> {
    let lang = event.language;
    let c = Catalog::get(lang);
    let purposes = purpose_of(policy, event)?;
    let mut locations: Vec<String> = vec![policy.meta.jurisdiction.clone()];
    let purpose_values: Vec<Value> = purposes
        .iter()
        .map(|p| {
            let recipients: Vec<Value> = p
                .recipients
                .iter()
                .filter_map(|r| policy.recipient(&r.value))
                .map(|r| {
                    if r.role == RecipientRole::Processor && !locations.contains(&r.country) {
                        locations.push(r.country.clone());
                    }
                    json!({
                        "name": r.name,
                        "role": r.role.key(),
                        "country": r.country,
                        "safeguard": r.safeguard.map(|s| s.key()),
                    })
                })
                .collect();
            json!({
                "purpose_id": p.id.value,
                "purpose": p.name.get(lang),
                "legal_basis": format!("eu-gdpr:A6-1-{}", p.basis.letter()),
                "consent_type": if p.basis == Basis::Consent { "explicit" } else { "not_applicable" },
                "data": p.categories.iter().filter_map(|id| policy.category(&id.value)).map(|cat| json!({
                    "category": cat.id.value,
                    "name": cat.name.get(lang),
                    "dpv": cat.dpv,
                    "special": cat.special,
                })).collect::<Vec<_>>(),
                "retention": custode_policy::retention_words(c, &p.retention),
                "recipients": recipients,
                "withdrawal_method": p.withdrawal.as_ref().map(|w| w.get(lang)),
            })
        })
        .collect();
    Ok(json!({
        "schema_version": ISO_27560_SCHEMA,
        "record_id": event.id.to_string(),
        "pii_principal_id": event.subject,
        "notice": {
            "url": publication.notice_url,
            "language": lang.code(),
            "policy_version": policy.meta.version,
            "policy_digest": policy.digest,
            "notice_digest": event.notice_digest,
        },
        "purposes": purpose_values,
        "controllers": controllers(policy),
        "jurisdiction": policy.meta.jurisdiction,
        "storage_location": locations,
        "events": [{
            "event_time": event.at.to_string(),
            "event_type": event.kind.name(),
            "event_state": event_state(event.kind),
            "validity": if event.kind == EventKind::Given { "until withdrawn" } else { "not applicable" },
            "actor": event.actor,
            "channel": event.channel.name(),
        }],
    }))
}

/// Signs a receipt as a compact JWS.
pub fn sign(format: Format, receipt: Value, key: &SigningKey) -> SignedReceipt {
    let header = json!({
        "alg": "EdDSA",
        "typ": "JWT",
        "kid": key_id(&key.verifying_key()),
    });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(receipt.to_string())
    );
    let signature: Signature = key.sign(input.as_bytes());
    SignedReceipt {
        format,
        jws: format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes())),
        receipt,
    }
}

/// Verifies a receipt — a compact JWS, or the signed document
/// [`SignedReceipt`] as JSON — and returns the signed content.
pub fn verify(text: &str, key: &VerifyingKey) -> Result<Value, ReceiptError> {
    let text = text.trim();
    if text.starts_with('{') {
        let doc: SignedReceipt = serde_json::from_str(text).map_err(|e| {
            ReceiptError::Malformed(format!("the document is not a signed receipt: {e}"))
        })?;
        let signed = verify_jws(&doc.jws, key)?;
        if let Some(path) = first_difference(&doc.receipt, &signed, String::new()) {
            return Err(ReceiptError::Altered(path));
        }
        return Ok(signed);
    }
    verify_jws(text, key)
}

fn verify_jws(jws: &str, key: &VerifyingKey) -> Result<Value, ReceiptError> {
    let parts: Vec<&str> = jws.split('.').collect();
    let [header, payload, signature] = parts.as_slice() else {
        return Err(ReceiptError::Malformed(
            "a compact JWS has three parts separated by dots".to_owned(),
        ));
    };
    let decode = |part: &str, what: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| ReceiptError::Malformed(format!("the {what} is not base64url")))
    };
    let head: Value = serde_json::from_slice(&decode(header, "header")?)
        .map_err(|_| ReceiptError::Malformed("the header is not JSON".to_owned()))?;
    if head["alg"] != "EdDSA" {
        return Err(ReceiptError::Malformed(format!(
            "the algorithm is {}, not EdDSA",
            head["alg"]
        )));
    }
    let sig_bytes: [u8; 64] = decode(signature, "signature")?
        .try_into()
        .map_err(|_| ReceiptError::Malformed("an Ed25519 signature has 64 bytes".to_owned()))?;
    let input = format!("{header}.{payload}");
    key.verify_strict(input.as_bytes(), &Signature::from_bytes(&sig_bytes))
        .map_err(|_| ReceiptError::BadSignature(key_id(key)))?;
    serde_json::from_slice(&decode(payload, "payload")?)
        .map_err(|_| ReceiptError::Malformed("the payload is not JSON".to_owned()))
}

/// The JSON path of the first place two values differ.
fn first_difference(a: &Value, b: &Value, path: String) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                let here = format!("{path}/{k}");
                match y.get(k) {
                    Some(w) => {
                        if let Some(p) = first_difference(v, w, here) {
                            return Some(p);
                        }
                    }
                    None => return Some(here),
                }
            }
            y.keys()
                .find(|k| !x.contains_key(*k))
                .map(|k| format!("{path}/{k}"))
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (v, w))| first_difference(v, w, format!("{path}/{i}"))),
        _ if a == b => None,
        _ => Some(if path.is_empty() {
            "/".to_owned()
        } else {
            path
        }),
    }
}
