//! One-click unsubscribe (RFC 8058, RFC 2369): opaque per-subject,
//! per-purpose tokens, and the two headers that carry them on a message.
//!
//! A token is the subject id and the purpose sealed with an AEAD key of the
//! instance: minting needs no database write (a mail system may mint one per
//! message), nobody can forge one, and it tells its holder nothing about the
//! subject — the random nonce makes two tokens of the same subject unlike.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use custode_crypto::{CryptoError, Key};
use custode_domain::SubjectId;

const CONTEXT: &[u8] = b"custode unsubscribe v1";
/// Purpose ids are short; anything longer is not ours.
const MAX_TOKEN_LEN: usize = 400;

/// Mints a token for a subject and a purpose.
pub fn mint(key: &Key, subject: &SubjectId, purpose: &str) -> Result<String, CryptoError> {
    let mut plain = hex::decode(subject.as_str())
        .map_err(|_| CryptoError::InvalidKey("a subject id is hexadecimal"))?;
    plain.extend_from_slice(purpose.as_bytes());
    Ok(URL_SAFE_NO_PAD.encode(key.seal(&plain, CONTEXT)?))
}

/// The subject and purpose a token was minted for; `None` for anything
/// that is not a token of this instance.
pub fn open(key: &Key, token: &str) -> Option<(SubjectId, String)> {
    if token.len() > MAX_TOKEN_LEN {
        return None;
    }
    let sealed = URL_SAFE_NO_PAD.decode(token).ok()?;
    let plain = key.open(&sealed, CONTEXT).ok()?;
    if plain.len() <= 16 {
        return None;
    }
    let (subject, purpose) = plain.split_at(16);
    let subject = SubjectId::parse(&hex::encode(subject)).ok()?;
    let purpose = String::from_utf8(purpose.to_vec()).ok()?;
    Some((subject, purpose))
}

/// The `List-Unsubscribe` and `List-Unsubscribe-Post` headers for a token,
/// given the public base URL of the instance (`https://privacy.example`).
/// The sender must cover both with its DKIM signature (RFC 8058 §3.1).
pub fn headers(base_url: &str, token: &str) -> [(&'static str, String); 2] {
    [
        ("List-Unsubscribe", format!("<{}>", url(base_url, token))),
        (
            "List-Unsubscribe-Post",
            "List-Unsubscribe=One-Click".to_owned(),
        ),
    ]
}

/// The unsubscribe URL of a token.
pub fn url(base_url: &str, token: &str) -> String {
    format!("{}/u/{token}", base_url.trim_end_matches('/'))
}

/// Whether a POST body is the one-click request RFC 8058 prescribes:
/// `List-Unsubscribe=One-Click`, form-urlencoded or as a multipart/form-data
/// field (`content_type` says which).
pub fn is_one_click(content_type: &str, body: &[u8]) -> bool {
    let ct = content_type.to_ascii_lowercase();
    if ct.starts_with("multipart/form-data") {
        let Some(boundary) = content_type.split(';').map(str::trim).find_map(|p| {
            p.strip_prefix("boundary=")
                .or_else(|| p.strip_prefix("BOUNDARY="))
        }) else {
            return false;
        };
        let boundary = format!("--{}", boundary.trim_matches('"'));
        let Ok(text) = std::str::from_utf8(body) else {
            return false;
        };
        text.split(boundary.as_str()).any(|part| {
            let Some((head, value)) = part.split_once("\r\n\r\n") else {
                return false;
            };
            let named = head.lines().any(|l| {
                let l = l.to_ascii_lowercase();
                l.starts_with("content-disposition:") && l.contains("name=\"list-unsubscribe\"")
            });
            named && value.trim_end_matches("\r\n").trim() == "One-Click"
        })
    } else if ct.starts_with("application/x-www-form-urlencoded") || ct.is_empty() {
        body.split(|b| *b == b'&')
            .any(|pair| pair == b"List-Unsubscribe=One-Click")
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reveal_nothing() {
        let key = Key::generate().expect("key");
        let s = SubjectId::generate();
        let a = mint(&key, &s, "newsletter").expect("mint");
        let b = mint(&key, &s, "newsletter").expect("mint");
        assert_ne!(a, b, "two tokens of one subject must not be linkable");
        assert!(!a.contains(s.as_str()));
        assert_eq!(open(&key, &a), Some((s.clone(), "newsletter".to_owned())));
        let other = Key::generate().expect("key");
        assert_eq!(open(&other, &a), None, "another instance's key");
        let mut forged = a.clone().into_bytes();
        let last = forged.len() - 3;
        forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(open(&key, &String::from_utf8(forged).expect("utf8")), None);
        assert_eq!(open(&key, "not a token"), None);
    }

    #[test]
    fn headers_follow_rfc_8058() {
        let h = headers("https://privacy.example/", "TOKEN");
        assert_eq!(
            h[0],
            (
                "List-Unsubscribe",
                "<https://privacy.example/u/TOKEN>".to_owned()
            )
        );
        assert_eq!(h[1].1, "List-Unsubscribe=One-Click");
    }

    #[test]
    fn only_the_one_click_body_unsubscribes() {
        let form = "application/x-www-form-urlencoded";
        assert!(is_one_click(form, b"List-Unsubscribe=One-Click"));
        assert!(!is_one_click(form, b"List-Unsubscribe=Maybe"));
        assert!(!is_one_click(form, b""));
        let multi = "multipart/form-data; boundary=XyZ";
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--XyZ--\r\n";
        assert!(is_one_click(multi, body));
        assert!(!is_one_click("multipart/form-data; boundary=Other", body));
        assert!(!is_one_click(
            "application/json",
            b"List-Unsubscribe=One-Click"
        ));
    }
}
