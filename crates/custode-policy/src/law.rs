//! Facts of law the policy is checked against: the EEA, adequacy decisions,
//! the age of digital consent.
//!
//! Lists change by Commission decision; each is dated in its comment so a
//! reviewer knows when to look again.

/// EU member states plus Iceland, Liechtenstein and Norway (as of 2026).
const EEA: [&str; 30] = [
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
    "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO",
];

/// Countries with an adequacy decision under Art. 45 (Commission list as of
/// 2026; the United States only for organisations certified under the
/// EU-US Data Privacy Framework).
const ADEQUATE: [&str; 15] = [
    "AD", "AR", "CA", "CH", "FO", "GB", "GG", "IL", "IM", "JE", "JP", "KR", "NZ", "US", "UY",
];

/// Whether a country (ISO 3166-1 alpha-2) is in the European Economic Area.
pub fn is_eea(country: &str) -> bool {
    EEA.iter().any(|c| c.eq_ignore_ascii_case(country))
}

/// Whether the Commission has found a country adequate (Art. 45).
pub fn has_adequacy_decision(country: &str) -> bool {
    ADEQUATE.iter().any(|c| c.eq_ignore_ascii_case(country))
}

/// Whether the string looks like an ISO 3166-1 alpha-2 code.
pub fn is_country_code(code: &str) -> bool {
    code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase())
}

/// The age from which a child may consent to information-society services
/// (Art. 8(1), as set by each member state; 16 where the state did not lower it).
pub fn digital_consent_age(country: &str) -> u8 {
    match country {
        "IT" | "ES" | "AT" | "BG" | "CY" | "LT" => 14,
        "FR" | "CZ" | "GR" | "SI" => 15,
        "BE" | "DK" | "EE" | "FI" | "LV" | "MT" | "PT" | "SE" | "IS" | "NO" => 13,
        _ => 16,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eea_and_adequacy() {
        assert!(is_eea("IT") && is_eea("NO") && !is_eea("CH") && !is_eea("US"));
        assert!(has_adequacy_decision("CH") && !has_adequacy_decision("CN"));
        assert_eq!(digital_consent_age("IT"), 14);
        assert_eq!(digital_consent_age("FR"), 15);
        assert_eq!(digital_consent_age("NL"), 16);
    }
}
