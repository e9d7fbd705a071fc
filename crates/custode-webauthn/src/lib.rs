//! The relying party's checks of WebAuthn (Level 2) responses, pure: the
//! client data (type, challenge, origin), the authenticator data (rpIdHash,
//! flags, sign counter, the attested credential and its COSE key), the
//! attestation object, and the ES256 signature of an assertion. Storage,
//! challenges and sessions are `passkeys.rs`'s.
//!
//! Only ES256 (ECDSA over P-256 with SHA-256, COSE algorithm -7) is
//! accepted: every platform and security key offers it.
//!
//! Attestation: the format `none` is what we ask for and what browsers send
//! by default; its statement must be empty. Any other format (`packed`,
//! `tpm`, `apple`, ...) is accepted as a credential, but its attestation
//! statement is **not verified**: Custode does not trust a make of
//! authenticator over another, so the statement would change nothing, and
//! verifying it would mean carrying the vendors' root certificates.
//!
//! User verification (a PIN or a biometric on the authenticator) is always
//! asked for and always required: a passkey then stands alone as two
//! factors (the device held, and what unlocks it).
//!
//! No I/O, no storage, no clock: bytes in, a verdict out (the CBOR reader
//! in `cbor.rs` is bounded so that hostile input costs little).

mod cbor;

use base64::Engine as _;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use cbor::{CborError, Value};

/// COSE algorithm ES256.
pub const ES256: i64 = -7;
/// Authenticator data flag: the user was present.
pub const FLAG_UP: u8 = 0x01;
/// Authenticator data flag: the user was verified.
pub const FLAG_UV: u8 = 0x04;
/// Authenticator data flag: attested credential data follows.
pub const FLAG_AT: u8 = 0x40;
/// Authenticator data flag: extensions follow.
pub const FLAG_ED: u8 = 0x80;

/// The longest client data JSON taken (browsers send a few hundred bytes).
const MAX_CLIENT_DATA: usize = 4096;
/// The longest credential id the specification allows.
const MAX_CREDENTIAL_ID: usize = 1023;

/// Who the passkeys are for: the server's origin and its domain (the RP
/// ID), from its public URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelyingParty {
    id: String,
    origin: String,
    name: String,
}

impl RelyingParty {
    /// The relying party of a public URL such as `https://privacy.example`:
    /// its origin (scheme, host, port other than the scheme's default) and
    /// its RP ID (the host). Browsers take `localhost` or a domain name as
    /// an RP ID, not an IP address.
    pub fn from_public_url(url: &str) -> Result<RelyingParty, String> {
        let bad = |why: &str| format!("the public URL `{url}` {why}");
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("has no scheme (write it as https://host)"))?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "https" => "443",
            "http" => "80",
            _ => return Err(bad("is neither http nor https")),
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.is_empty() || authority.contains('@') {
            return Err(bad("has no host, or carries credentials"));
        }
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => {
                let (h, after) = v6
                    .split_once(']')
                    .ok_or_else(|| bad("has an unclosed `[`"))?;
                if !after.is_empty() && !after.starts_with(':') {
                    return Err(bad("has something after its IPv6 address"));
                }
                (format!("[{h}]"), after.strip_prefix(':'))
            }
            None => match authority.split_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (authority.to_owned(), None),
            },
        };
        if port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
            return Err(bad("has a port that is not a number"));
        }
        let host = host.to_ascii_lowercase();
        let origin = match port.filter(|p| *p != default_port) {
            Some(p) => format!("{scheme}://{host}:{p}"),
            None => format!("{scheme}://{host}"),
        };
        Ok(RelyingParty {
            id: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            origin,
            name: "Custode".to_owned(),
        })
    }

    /// The RP ID (the host).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The origin every ceremony must come from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The name authenticators show.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// What is wrong with a passkey response; every message says which part.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PasskeyError {
    /// A field is not base64url.
    #[error("`{0}` is not base64url")]
    Base64(&'static str),
    /// The client data is not the JSON a browser sends.
    #[error("clientDataJSON is not the JSON a browser sends: {0}")]
    ClientData(String),
    /// The wrong ceremony.
    #[error("clientDataJSON has type `{found}` where `{expected}` was expected")]
    WrongType {
        /// What came.
        found: String,
        /// What this step takes.
        expected: &'static str,
    },
    /// Another site's response.
    #[error(
        "the origin `{found}` is not this server's (`{expected}`): a passkey works only on the site it was made for"
    )]
    WrongOrigin {
        /// What came.
        found: String,
        /// This server's.
        expected: String,
    },
    /// Made inside another site's frame.
    #[error("the ceremony ran in a cross-origin frame, which this server does not accept")]
    CrossOrigin,
    /// The challenge is not the one issued.
    #[error("the challenge signed is not the one issued for this ceremony")]
    ChallengeMismatch,
    /// The challenge is unknown or spent.
    #[error("the challenge is unknown or was used already: start the ceremony again")]
    ChallengeUsed,
    /// The challenge is too old.
    #[error("the challenge expired (a ceremony lasts 5 minutes): start it again")]
    ChallengeExpired,
    /// The challenge was issued for another step or person.
    #[error("the challenge was issued for another ceremony or another person")]
    ChallengeElsewhere,
    /// The attestation object is not CBOR.
    #[error("attestationObject is not valid CBOR: {0}")]
    Cbor(CborError),
    /// The attestation object lacks something.
    #[error("attestationObject: {0}")]
    Attestation(&'static str),
    /// The authenticator data is malformed.
    #[error("authenticatorData: {0}")]
    AuthData(String),
    /// The authenticator data is for another relying party.
    #[error("the authenticator data is for another relying party than `{0}` (rpIdHash differs)")]
    RpIdHash(String),
    /// The user was not present.
    #[error("the user was not present (flag UP unset)")]
    NotPresent,
    /// The user was not verified.
    #[error(
        "the user was not verified (flag UV unset): this server requires the authenticator's PIN or biometric"
    )]
    NotVerified,
    /// Not ES256.
    #[error("only ES256 passkeys (P-256, COSE algorithm -7) are accepted; this one is {0}")]
    Algorithm(String),
    /// The public key is malformed.
    #[error("the credential public key (COSE): {0}")]
    PublicKey(&'static str),
    /// The signature is malformed or wrong.
    #[error("the signature does not verify")]
    Signature,
    /// No such credential.
    #[error("this passkey is not registered here (unknown credential id)")]
    UnknownCredential,
    /// The counter did not grow.
    #[error(
        "the signature counter did not grow (stored {stored}, presented {presented}): the authenticator may have been cloned; refused"
    )]
    Cloned {
        /// The counter stored.
        stored: u32,
        /// The counter presented.
        presented: u32,
    },
    /// Registered already.
    #[error("this passkey is registered already")]
    Duplicate,
    /// The user handle names someone else.
    #[error("the passkey's user handle names another account than the credential's")]
    WrongOwner,
}

impl From<CborError> for PasskeyError {
    fn from(e: CborError) -> Self {
        PasskeyError::Cbor(e)
    }
}

/// Bytes from base64url (padded or not), naming the field when it is not.
pub fn b64url(field: &'static str, text: &str) -> Result<Vec<u8>, PasskeyError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| PasskeyError::Base64(field))
}

/// Base64url without padding, as WebAuthn's JSON writes bytes.
pub fn to_b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[derive(Deserialize)]
struct ClientData {
    #[serde(rename = "type")]
    kind: String,
    challenge: String,
    origin: String,
    #[serde(rename = "crossOrigin", default)]
    cross_origin: Option<bool>,
}

/// Checks the client data's type and origin; returns the challenge it
/// carries (compared with the one issued by the caller, who holds it).
pub fn check_client_data(
    json: &[u8],
    expected: &'static str,
    rp: &RelyingParty,
) -> Result<Vec<u8>, PasskeyError> {
    if json.len() > MAX_CLIENT_DATA {
        return Err(PasskeyError::ClientData(format!(
            "it is longer than {MAX_CLIENT_DATA} bytes"
        )));
    }
    let data: ClientData =
        serde_json::from_slice(json).map_err(|e| PasskeyError::ClientData(e.to_string()))?;
    if data.kind != expected {
        return Err(PasskeyError::WrongType {
            found: data.kind.chars().take(40).collect(),
            expected,
        });
    }
    if data.origin != rp.origin {
        return Err(PasskeyError::WrongOrigin {
            found: data.origin.chars().take(200).collect(),
            expected: rp.origin.clone(),
        });
    }
    if data.cross_origin == Some(true) {
        return Err(PasskeyError::CrossOrigin);
    }
    b64url("clientDataJSON.challenge", &data.challenge)
}

/// A credential's public key: a P-256 point, SEC1 uncompressed (65 bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey(pub Vec<u8>);

/// The credential attested at registration.
#[derive(Debug)]
pub struct AttestedCredential<'a> {
    /// The authenticator's model (AAGUID; zeros under attestation `none`).
    pub aaguid: &'a [u8],
    /// The credential id.
    pub id: &'a [u8],
    /// Its public key.
    pub public_key: PublicKey,
}

/// Authenticator data, parsed.
#[derive(Debug)]
pub struct AuthData<'a> {
    /// SHA-256 of the RP ID the authenticator signed for.
    pub rp_id_hash: &'a [u8],
    /// The flags byte.
    pub flags: u8,
    /// The signature counter (0: the authenticator keeps none).
    pub sign_count: u32,
    /// At registration: the new credential.
    pub credential: Option<AttestedCredential<'a>>,
}

/// Parses authenticator data: 32 bytes of rpIdHash, flags, a 4-byte
/// counter, then (flag AT) the attested credential with its COSE key and
/// (flag ED) an extensions map; nothing may follow.
pub fn parse_auth_data(data: &[u8]) -> Result<AuthData<'_>, PasskeyError> {
    let short = || PasskeyError::AuthData(format!("{} bytes are too few", data.len()));
    if data.len() < 37 {
        return Err(short());
    }
    let flags = data[32];
    let sign_count = u32::from_be_bytes([data[33], data[34], data[35], data[36]]);
    let mut rest = &data[37..];
    let credential = if flags & FLAG_AT != 0 {
        if rest.len() < 18 {
            return Err(short());
        }
        let aaguid = &rest[..16];
        let len = usize::from(u16::from_be_bytes([rest[16], rest[17]]));
        if len == 0 || len > MAX_CREDENTIAL_ID {
            return Err(PasskeyError::AuthData(format!(
                "a credential id has 1 to {MAX_CREDENTIAL_ID} bytes, not {len}"
            )));
        }
        let id = rest.get(18..18 + len).ok_or_else(short)?;
        rest = &rest[18 + len..];
        let (key, used) = cbor::decode_prefix(rest)?;
        let public_key = cose_es256(&key)?;
        rest = &rest[used..];
        Some(AttestedCredential {
            aaguid,
            id,
            public_key,
        })
    } else {
        None
    };
    if flags & FLAG_ED != 0 {
        let (ext, used) = cbor::decode_prefix(rest)?;
        if !matches!(ext, Value::Map(_)) {
            return Err(PasskeyError::AuthData(
                "extensions are not a map".to_owned(),
            ));
        }
        rest = &rest[used..];
    }
    if !rest.is_empty() {
        return Err(PasskeyError::AuthData(format!(
            "{} unexpected byte(s) at the end",
            rest.len()
        )));
    }
    Ok(AuthData {
        rp_id_hash: &data[..32],
        flags,
        sign_count,
        credential,
    })
}

/// The P-256 point of a COSE_Key (RFC 9053): kty 2 (EC2), alg -7, crv 1,
/// x and y of 32 bytes each, on the curve.
pub fn cose_es256(key: &Value<'_>) -> Result<PublicKey, PasskeyError> {
    if !matches!(key, Value::Map(_)) {
        return Err(PasskeyError::PublicKey("it is not a map"));
    }
    match key.by_int(3).and_then(Value::int) {
        Some(-7) => {}
        Some(other) => return Err(PasskeyError::Algorithm(format!("COSE algorithm {other}"))),
        None => return Err(PasskeyError::PublicKey("the algorithm (3) is missing")),
    }
    if key.by_int(1).and_then(Value::int) != Some(2) {
        return Err(PasskeyError::PublicKey("the key type (1) is not EC2 (2)"));
    }
    if key.by_int(-1).and_then(Value::int) != Some(1) {
        return Err(PasskeyError::PublicKey("the curve (-1) is not P-256 (1)"));
    }
    let coordinate = |label: i128| match key.by_int(label) {
        Some(Value::Bytes(b)) if b.len() == 32 => Ok(*b),
        _ => Err(PasskeyError::PublicKey(
            "the coordinates (-2, -3) are not 32 bytes each",
        )),
    };
    let mut point = Vec::with_capacity(65);
    point.push(0x04);
    point.extend_from_slice(coordinate(-2)?);
    point.extend_from_slice(coordinate(-3)?);
    VerifyingKey::from_sec1_bytes(&point)
        .map_err(|_| PasskeyError::PublicKey("the point is not on P-256"))?;
    Ok(PublicKey(point))
}

/// What a registration response carries once checked.
#[derive(Debug)]
pub struct Registration {
    /// The challenge it signed (compared by the caller).
    pub challenge: Vec<u8>,
    /// The credential id.
    pub credential_id: Vec<u8>,
    /// Its public key.
    pub public_key: PublicKey,
    /// Its counter at creation.
    pub sign_count: u32,
    /// The attestation format (`none`, or another, not verified).
    pub format: String,
}

fn check_flags(auth: &AuthData<'_>, rp: &RelyingParty) -> Result<(), PasskeyError> {
    if auth.rp_id_hash != Sha256::digest(rp.id.as_bytes()).as_slice() {
        return Err(PasskeyError::RpIdHash(rp.id.clone()));
    }
    if auth.flags & FLAG_UP == 0 {
        return Err(PasskeyError::NotPresent);
    }
    if auth.flags & FLAG_UV == 0 {
        return Err(PasskeyError::NotVerified);
    }
    Ok(())
}

/// Checks a registration (`navigator.credentials.create`) response: the
/// client data, the attestation object (format `none` with an empty
/// statement; other formats taken unverified), the authenticator data for
/// this RP with UP and UV, and an ES256 credential.
pub fn check_registration(
    rp: &RelyingParty,
    client_data_json: &[u8],
    attestation_object: &[u8],
) -> Result<Registration, PasskeyError> {
    let challenge = check_client_data(client_data_json, "webauthn.create", rp)?;
    let att = cbor::decode(attestation_object)?;
    let format = match att.by_text("fmt") {
        Some(Value::Text(f)) if !f.is_empty() && f.len() <= 32 => (*f).to_owned(),
        _ => return Err(PasskeyError::Attestation("`fmt` is missing or not a name")),
    };
    match att.by_text("attStmt") {
        Some(Value::Map(stmt)) if format != "none" || stmt.is_empty() => {}
        Some(Value::Map(_)) => {
            return Err(PasskeyError::Attestation(
                "format `none` carries an empty `attStmt`",
            ));
        }
        _ => {
            return Err(PasskeyError::Attestation(
                "`attStmt` is missing or not a map",
            ));
        }
    }
    let Some(Value::Bytes(auth_data)) = att.by_text("authData") else {
        return Err(PasskeyError::Attestation(
            "`authData` is missing or not bytes",
        ));
    };
    let auth = parse_auth_data(auth_data)?;
    check_flags(&auth, rp)?;
    let Some(credential) = auth.credential else {
        return Err(PasskeyError::AuthData(
            "no attested credential (flag AT unset)".to_owned(),
        ));
    };
    Ok(Registration {
        challenge,
        credential_id: credential.id.to_vec(),
        public_key: credential.public_key,
        sign_count: auth.sign_count,
        format,
    })
}

/// What an assertion carries once its signature is checked.
#[derive(Debug)]
pub struct Asserted {
    /// The challenge it signed (compared by the caller).
    pub challenge: Vec<u8>,
    /// The authenticator's counter now.
    pub sign_count: u32,
}

/// Checks an assertion (`navigator.credentials.get`) response against the
/// credential's stored key: client data, authenticator data for this RP
/// with UP and UV, and the ECDSA signature (DER) over authenticatorData ||
/// SHA-256(clientDataJSON). The counter and the challenge are the
/// caller's to compare with what it stored.
pub fn check_assertion(
    rp: &RelyingParty,
    public_key: &PublicKey,
    client_data_json: &[u8],
    authenticator_data: &[u8],
    signature: &[u8],
) -> Result<Asserted, PasskeyError> {
    let challenge = check_client_data(client_data_json, "webauthn.get", rp)?;
    let auth = parse_auth_data(authenticator_data)?;
    check_flags(&auth, rp)?;
    let key = VerifyingKey::from_sec1_bytes(&public_key.0)
        .map_err(|_| PasskeyError::PublicKey("the stored point is not on P-256"))?;
    let signature = Signature::from_der(signature).map_err(|_| PasskeyError::Signature)?;
    let mut signed = Vec::with_capacity(authenticator_data.len() + 32);
    signed.extend_from_slice(authenticator_data);
    signed.extend_from_slice(&Sha256::digest(client_data_json));
    key.verify(&signed, &signature)
        .map_err(|_| PasskeyError::Signature)?;
    Ok(Asserted {
        challenge,
        sign_count: auth.sign_count,
    })
}

/// Whether a counter may follow the stored one: it grows, or both are 0
/// (an authenticator that keeps no counter, as synced passkeys do).
pub fn counter_ok(stored: u32, presented: u32) -> Result<(), PasskeyError> {
    if (stored == 0 && presented == 0) || presented > stored {
        Ok(())
    } else {
        Err(PasskeyError::Cloned { stored, presented })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use custode_testkit::authenticator::{Authenticator, cbor as w};
    use serde_json::json;

    const ORIGIN: &str = "https://privacy.example";

    fn rp() -> RelyingParty {
        RelyingParty::from_public_url(ORIGIN).expect("valid")
    }

    fn options(challenge: &[u8]) -> serde_json::Value {
        json!({ "publicKey": { "challenge": to_b64url(challenge), "user": { "id": to_b64url(b"user:u_1") } } })
    }

    fn field(v: &serde_json::Value, name: &str) -> Vec<u8> {
        b64url("test", v["response"][name].as_str().expect(name)).expect("base64url")
    }

    #[test]
    fn the_relying_party_comes_from_the_public_url() {
        let local = RelyingParty::from_public_url("http://127.0.0.1:8080").expect("valid");
        assert_eq!(
            (local.id(), local.origin()),
            ("127.0.0.1", "http://127.0.0.1:8080")
        );
        let default_port =
            RelyingParty::from_public_url("https://Privacy.Example:443/base/").expect("valid");
        assert_eq!(
            (default_port.id(), default_port.origin()),
            ("privacy.example", "https://privacy.example")
        );
        let v6 = RelyingParty::from_public_url("http://[::1]:8080").expect("valid");
        assert_eq!(v6.origin(), "http://[::1]:8080");
        for bad in [
            "privacy.example",
            "ftp://x.example",
            "https://",
            "https://a@b.example",
            "https://x.example:port",
        ] {
            assert!(RelyingParty::from_public_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_none_attestation_registers_and_its_assertions_verify() {
        let mut a = Authenticator::new(ORIGIN);
        let reg = a.register(&options(b"challenge-1"));
        let r = check_registration(
            &rp(),
            &field(&reg, "clientDataJSON"),
            &field(&reg, "attestationObject"),
        )
        .expect("registers");
        assert_eq!(r.challenge, b"challenge-1");
        assert_eq!(r.credential_id, a.credential_id);
        assert_eq!(r.format, "none");
        assert_eq!(r.public_key.0.len(), 65);

        let s = a.assertion(&options(b"challenge-2"));
        let ok = check_assertion(
            &rp(),
            &r.public_key,
            &s.client_data_json,
            &s.authenticator_data,
            &s.signature,
        )
        .expect("verifies");
        assert_eq!(
            (ok.challenge.as_slice(), ok.sign_count),
            (&b"challenge-2"[..], 1)
        );

        // One bit of the signed data changed, or of the signature: refused.
        let mut data = s.authenticator_data.clone();
        data[36] ^= 1;
        assert_eq!(
            check_assertion(
                &rp(),
                &r.public_key,
                &s.client_data_json,
                &data,
                &s.signature
            )
            .err(),
            Some(PasskeyError::Signature)
        );
        let mut sig = s.signature.clone();
        let last = sig.len() - 1;
        sig[last] ^= 1;
        assert_eq!(
            check_assertion(
                &rp(),
                &r.public_key,
                &s.client_data_json,
                &s.authenticator_data,
                &sig
            )
            .err(),
            Some(PasskeyError::Signature)
        );
        // Another key's signature.
        let other = Authenticator::new(ORIGIN);
        let mut o = other.clone();
        o.credential_id = a.credential_id.clone();
        let forged = o.assertion(&options(b"challenge-2"));
        assert_eq!(
            check_assertion(
                &rp(),
                &r.public_key,
                &forged.client_data_json,
                &forged.authenticator_data,
                &forged.signature
            )
            .err(),
            Some(PasskeyError::Signature)
        );
        // A registration's client data is not an assertion's.
        assert!(matches!(
            check_assertion(
                &rp(),
                &r.public_key,
                &field(&reg, "clientDataJSON"),
                &s.authenticator_data,
                &s.signature
            ),
            Err(PasskeyError::WrongType { .. })
        ));
    }

    #[test]
    fn the_origin_the_rp_id_and_the_flags_are_checked() {
        let mut evil = Authenticator::new("https://privacy.example.evil");
        evil.rp_id = "privacy.example".to_owned();
        let reg = evil.register(&options(b"c"));
        assert!(matches!(
            check_registration(
                &rp(),
                &field(&reg, "clientDataJSON"),
                &field(&reg, "attestationObject")
            ),
            Err(PasskeyError::WrongOrigin { .. })
        ));

        let mut other_rp = Authenticator::new(ORIGIN);
        other_rp.rp_id = "evil.example".to_owned();
        let reg = other_rp.register(&options(b"c"));
        assert!(matches!(
            check_registration(
                &rp(),
                &field(&reg, "clientDataJSON"),
                &field(&reg, "attestationObject")
            ),
            Err(PasskeyError::RpIdHash(_))
        ));

        let mut no_uv = Authenticator::new(ORIGIN);
        no_uv.verifies_user = false;
        let reg = no_uv.register(&options(b"c"));
        assert_eq!(
            check_registration(
                &rp(),
                &field(&reg, "clientDataJSON"),
                &field(&reg, "attestationObject")
            )
            .err(),
            Some(PasskeyError::NotVerified)
        );

        let framed = br#"{"type":"webauthn.get","challenge":"Yw","origin":"https://privacy.example","crossOrigin":true}"#;
        assert_eq!(
            check_client_data(framed, "webauthn.get", &rp()).err(),
            Some(PasskeyError::CrossOrigin)
        );
        assert!(matches!(
            check_client_data(b"not json", "webauthn.get", &rp()),
            Err(PasskeyError::ClientData(_))
        ));
        assert!(matches!(
            check_client_data(&vec![b' '; 5000], "webauthn.get", &rp()),
            Err(PasskeyError::ClientData(_))
        ));
    }

    #[test]
    fn malformed_attestation_objects_and_authenticator_data_are_refused() {
        let a = Authenticator::new(ORIGIN);
        let client_data = a.client_data("webauthn.create", &to_b64url(b"c"));
        let check = |att: &[u8]| check_registration(&rp(), &client_data, att);

        assert!(matches!(
            check(b"\xff\x00garbage"),
            Err(PasskeyError::Cbor(_))
        ));
        assert!(matches!(
            check(&[0x5a, 0xff, 0xff, 0xff, 0xff]),
            Err(PasskeyError::Cbor(_))
        ));
        // A map without `fmt`.
        assert!(matches!(check(&[0xa0]), Err(PasskeyError::Attestation(_))));
        // `none` with a statement.
        let mut att = Vec::new();
        w::head(5, 3, &mut att);
        w::text("fmt", &mut att);
        w::text("none", &mut att);
        w::text("attStmt", &mut att);
        w::head(5, 1, &mut att);
        w::text("sig", &mut att);
        w::bytes(b"x", &mut att);
        w::text("authData", &mut att);
        w::bytes(&a.registration_auth_data(), &mut att);
        assert!(matches!(check(&att), Err(PasskeyError::Attestation(_))));

        // Authenticator data: too short, trailing bytes, credential id too long.
        let good = a.registration_auth_data();
        assert!(matches!(
            check(&Authenticator::attestation_object(&good[..20])),
            Err(PasskeyError::AuthData(_))
        ));
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(matches!(
            check(&Authenticator::attestation_object(&trailing)),
            Err(PasskeyError::AuthData(_))
        ));
        let mut long_id = good.clone();
        long_id[53] = 0x04;
        long_id[54] = 0x00;
        assert!(matches!(
            check(&Authenticator::attestation_object(&long_id)),
            Err(PasskeyError::AuthData(_))
        ));
        // No attested credential.
        let mut no_at = good[..37].to_vec();
        no_at[32] &= !FLAG_AT;
        assert!(matches!(
            check(&Authenticator::attestation_object(&no_at)),
            Err(PasskeyError::AuthData(_))
        ));
        // The COSE key of another algorithm (EdDSA, -8), or off the curve.
        let cose = a.cose_key();
        let at = good.len() - cose.len();
        let mut eddsa = good.clone();
        let alg = at + 1 + 2; // map head, then 1: 2, then 3: alg
        assert_eq!(eddsa[alg..alg + 2], [0x03, 0x26]);
        eddsa[alg + 1] = 0x27;
        assert!(matches!(
            check(&Authenticator::attestation_object(&eddsa)),
            Err(PasskeyError::Algorithm(_))
        ));
        let mut off_curve = good.clone();
        let last = off_curve.len() - 1;
        off_curve[last] ^= 1;
        assert_eq!(
            check(&Authenticator::attestation_object(&off_curve)).err(),
            Some(PasskeyError::PublicKey("the point is not on P-256"))
        );
    }

    #[test]
    fn a_counter_must_grow_unless_the_authenticator_keeps_none() {
        assert!(counter_ok(0, 0).is_ok());
        assert!(counter_ok(0, 1).is_ok());
        assert!(counter_ok(5, 6).is_ok());
        assert_eq!(
            counter_ok(5, 5),
            Err(PasskeyError::Cloned {
                stored: 5,
                presented: 5
            })
        );
        assert_eq!(
            counter_ok(5, 0),
            Err(PasskeyError::Cloned {
                stored: 5,
                presented: 0
            })
        );
        assert_eq!(
            counter_ok(5, 4),
            Err(PasskeyError::Cloned {
                stored: 5,
                presented: 4
            })
        );
    }
}
