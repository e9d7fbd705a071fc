//! A software WebAuthn authenticator for the tests: a P-256 key that
//! answers `navigator.credentials.create` with a `none` attestation and
//! `navigator.credentials.get` with a signed assertion, as a browser would
//! send them (base64url fields in the JSON of `PublicKeyCredential`).
//! Every part is public, so a test can tamper with one before sending.

use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A minimal CBOR writer, for what an authenticator emits.
pub mod cbor {
    pub fn head(major: u8, n: u64, out: &mut Vec<u8>) {
        let m = major << 5;
        if n < 24 {
            out.push(m | n as u8);
        } else if n < 0x100 {
            out.extend([m | 24, n as u8]);
        } else if n < 0x10000 {
            out.push(m | 25);
            out.extend((n as u16).to_be_bytes());
        } else {
            out.push(m | 26);
            out.extend((n as u32).to_be_bytes());
        }
    }
    pub fn int(v: i64, out: &mut Vec<u8>) {
        if v >= 0 {
            head(0, v as u64, out);
        } else {
            head(1, (-1 - v) as u64, out);
        }
    }
    pub fn bytes(b: &[u8], out: &mut Vec<u8>) {
        head(2, b.len() as u64, out);
        out.extend_from_slice(b);
    }
    pub fn text(t: &str, out: &mut Vec<u8>) {
        head(3, t.len() as u64, out);
        out.extend_from_slice(t.as_bytes());
    }
}

#[derive(Clone)]
pub struct Authenticator {
    key: SigningKey,
    pub credential_id: Vec<u8>,
    /// The signature counter; `None` for one that keeps none (always 0).
    pub counter: Option<u32>,
    /// The origin the browser reports.
    pub origin: String,
    /// The RP ID it signs for.
    pub rp_id: String,
    /// Whether it verifies the user (PIN, biometric).
    pub verifies_user: bool,
    /// The user handle it was registered with.
    pub user_handle: Option<Vec<u8>>,
}

/// An assertion's parts, before they become JSON.
pub struct Assertion {
    pub credential_id: Vec<u8>,
    pub client_data_json: Vec<u8>,
    pub authenticator_data: Vec<u8>,
    pub signature: Vec<u8>,
    pub user_handle: Option<Vec<u8>>,
}

impl Assertion {
    /// The `PublicKeyCredential` JSON a page sends.
    pub fn to_json(&self) -> Value {
        let mut response = json!({
            "clientDataJSON": b64(&self.client_data_json),
            "authenticatorData": b64(&self.authenticator_data),
            "signature": b64(&self.signature),
        });
        if let Some(h) = &self.user_handle {
            response["userHandle"] = json!(b64(h));
        }
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": response,
        })
    }
}

impl Authenticator {
    /// A new authenticator for a server at `origin` (RP ID: its host).
    pub fn new(origin: &str) -> Authenticator {
        let host = origin
            .split_once("://")
            .map_or(origin, |(_, h)| h)
            .split([':', '/'])
            .next()
            .unwrap_or_default()
            .to_owned();
        let key = loop {
            let bytes = custode_crypto::random_bytes::<32>().unwrap();
            if let Ok(k) = SigningKey::from_slice(&bytes) {
                break k;
            }
        };
        Authenticator {
            key,
            credential_id: custode_crypto::random_bytes::<16>().unwrap().to_vec(),
            counter: Some(0),
            origin: origin.to_owned(),
            rp_id: host,
            verifies_user: true,
            user_handle: None,
        }
    }

    pub fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "type": kind,
            "challenge": challenge,
            "origin": self.origin,
            "crossOrigin": false,
        }))
        .unwrap()
    }

    fn flags(&self, attested: bool) -> u8 {
        0x01 | if self.verifies_user { 0x04 } else { 0 } | if attested { 0x40 } else { 0 }
    }

    fn count(&self) -> u32 {
        self.counter.unwrap_or(0)
    }

    /// The COSE_Key of its public key.
    pub fn cose_key(&self) -> Vec<u8> {
        let point = self.key.verifying_key().to_encoded_point(false);
        let mut out = Vec::new();
        cbor::head(5, 5, &mut out);
        cbor::int(1, &mut out);
        cbor::int(2, &mut out);
        cbor::int(3, &mut out);
        cbor::int(-7, &mut out);
        cbor::int(-1, &mut out);
        cbor::int(1, &mut out);
        cbor::int(-2, &mut out);
        cbor::bytes(point.x().unwrap(), &mut out);
        cbor::int(-3, &mut out);
        cbor::bytes(point.y().unwrap(), &mut out);
        out
    }

    /// The authenticator data of a registration (with the credential).
    pub fn registration_auth_data(&self) -> Vec<u8> {
        let mut data = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        data.push(self.flags(true));
        data.extend(self.count().to_be_bytes());
        data.extend([0u8; 16]);
        data.extend((self.credential_id.len() as u16).to_be_bytes());
        data.extend_from_slice(&self.credential_id);
        data.extend(self.cose_key());
        data
    }

    /// A `none` attestation object around authenticator data.
    pub fn attestation_object(auth_data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        cbor::head(5, 3, &mut out);
        cbor::text("fmt", &mut out);
        cbor::text("none", &mut out);
        cbor::text("attStmt", &mut out);
        cbor::head(5, 0, &mut out);
        cbor::text("authData", &mut out);
        cbor::bytes(auth_data, &mut out);
        out
    }

    /// Answers `navigator.credentials.create` for the `options` a start
    /// endpoint returned (`publicKey.challenge`, `publicKey.user.id`).
    pub fn register(&mut self, options: &Value) -> Value {
        let pk = &options["publicKey"];
        let challenge = pk["challenge"].as_str().unwrap();
        self.user_handle = pk["user"]["id"].as_str().map(|h| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(h)
                .unwrap()
        });
        let client_data = self.client_data("webauthn.create", challenge);
        let att = Self::attestation_object(&self.registration_auth_data());
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(&client_data),
                "attestationObject": b64(&att),
            },
        })
    }

    /// Signs an assertion for `options` (`publicKey.challenge`); the
    /// counter moves on first.
    pub fn assertion(&mut self, options: &Value) -> Assertion {
        let challenge = options["publicKey"]["challenge"].as_str().unwrap();
        if let Some(c) = self.counter.as_mut() {
            *c += 1;
        }
        let client_data_json = self.client_data("webauthn.get", challenge);
        let mut authenticator_data = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        authenticator_data.push(self.flags(false));
        authenticator_data.extend(self.count().to_be_bytes());
        let mut signed = authenticator_data.clone();
        signed.extend(Sha256::digest(&client_data_json));
        let signature: Signature = self.key.sign(&signed);
        Assertion {
            credential_id: self.credential_id.clone(),
            client_data_json,
            authenticator_data,
            signature: signature.to_der().as_bytes().to_vec(),
            user_handle: self.user_handle.clone(),
        }
    }

    /// The assertion as the JSON a page sends.
    pub fn assert(&mut self, options: &Value) -> Value {
        self.assertion(options).to_json()
    }
}
