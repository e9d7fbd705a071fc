//! Time-based one-time passwords (RFC 6238: HMAC-SHA1, 6 digits, 30-second
//! steps, one step of clock skew), the second factor of privileged roles.
//! Replay is refused by the caller, who keeps the last accepted step.

use crate::CryptoError;

/// A TOTP secret: 160 random bits, as RFC 4226 recommends.
pub type TotpSecret = [u8; 20];

/// A fresh secret.
pub fn new_secret() -> Result<TotpSecret, CryptoError> {
    crate::random_bytes::<20>()
}

fn totp(secret: &TotpSecret) -> Option<totp_rs::Totp> {
    totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::new_stack(*secret))
        .build()
        .ok()
}

/// The step a code is valid for at `unix_secs`, if it is valid.
pub fn check(secret: &TotpSecret, code: &str, unix_secs: u64) -> Option<u64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    totp(secret)?.check(code, unix_secs)
}

/// The code at a moment (for tests and enrolment checks).
pub fn code_at(secret: &TotpSecret, unix_secs: u64) -> String {
    totp(secret).map_or_else(String::new, |t| t.generate(unix_secs).to_string())
}

/// The secret in base32 (RFC 4648, no padding), as authenticator apps take it.
pub fn base32(secret: &[u8]) -> String {
    totp_rs::Secret::from(secret.to_vec()).to_base32()
}

/// A secret from its base32 form (what an authenticator, or a script
/// enrolling one, reads back); `None` for anything not 160 bits of base32.
/// Case, surrounding blanks and trailing padding are forgiven, as people
/// copy the secret by hand.
pub fn secret_from_base32(text: &str) -> Option<TotpSecret> {
    let text = text.trim().trim_end_matches('=').to_ascii_uppercase();
    let secret = totp_rs::Secret::try_from_base32(text).ok()?;
    secret.as_bytes().try_into().ok()
}

/// What a URI component keeps as it is: RFC 3986's unreserved characters.
const COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The `otpauth://` URI an authenticator app scans.
pub fn otpauth_uri(secret: &TotpSecret, issuer: &str, account: &str) -> String {
    let enc = |s: &str| percent_encoding::utf8_percent_encode(s, COMPONENT).to_string();
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits=6&period=30",
        enc(issuer),
        enc(account),
        base32(secret),
        enc(issuer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_round_trips() {
        let secret: TotpSecret = *b"12345678901234567890";
        assert_eq!(secret_from_base32(&base32(&secret)), Some(secret));
        assert_eq!(secret_from_base32("GEZDGNBV"), None, "too short");
        assert_eq!(secret_from_base32("not base32!"), None);
        // Typed by hand: lower case, blanks around, padding.
        assert_eq!(
            secret_from_base32(" gezdgnbvgy3tqojqGEZDGNBVGY3TQOJQ==== "),
            Some(secret)
        );
        assert_eq!(
            secret_from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGE"),
            None,
            "too long"
        );
        assert_eq!(
            base32(&[0xff]),
            "74",
            "the last group padded with zero bits"
        );
    }

    #[test]
    fn the_otpauth_uri_escapes_what_a_uri_component_must() {
        let secret: TotpSecret = *b"12345678901234567890";
        assert_eq!(
            otpauth_uri(&secret, "Custode", "anna.b-c_d~e@isp.example/x y:é"),
            "otpauth://totp/Custode:anna.b-c_d~e%40isp.example%2Fx%20y%3A%C3%A9\
             ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Custode&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn rfc_6238_vector() {
        // RFC 6238 Appendix B, SHA-1 secret "12345678901234567890", T = 59 s:
        // 94287082 in 8 digits, so 287082 in 6.
        let secret: TotpSecret = *b"12345678901234567890";
        assert_eq!(code_at(&secret, 59), "287082");
        assert_eq!(check(&secret, "287082", 59), Some(1));
        assert_eq!(
            check(&secret, "287082", 59 + 30),
            Some(1),
            "one step of skew"
        );
        assert_eq!(check(&secret, "287082", 59 + 90), None);
        assert_eq!(check(&secret, "28708", 59), None);
        assert_eq!(
            base32(b"12345678901234567890"),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
    }
}
