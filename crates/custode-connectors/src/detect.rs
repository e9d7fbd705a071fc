//! Recognising personal data from values: emails, phone numbers, IP
//! addresses, IBANs, Italian tax codes (codice fiscale) and VAT numbers
//! (partita IVA). Where a number carries a check digit it is verified, so a
//! column of random codes of the right shape is not taken for tax codes.
//! Pure functions, tested by tables of cases.

use std::net::IpAddr;

/// What a value was recognised as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Detected {
    /// An email address.
    Email,
    /// A phone number in international form (`+39 055 ...` or `0039...`).
    Phone,
    /// An IPv4 or IPv6 address.
    Ip,
    /// An IBAN whose mod-97 check holds.
    Iban,
    /// An Italian codice fiscale whose check letter holds.
    TaxCode,
    /// An Italian partita IVA whose check digit holds.
    VatNumber,
}

impl Detected {
    /// A short name for messages and drafts.
    pub fn name(self) -> &'static str {
        match self {
            Detected::Email => "email",
            Detected::Phone => "phone",
            Detected::Ip => "IP address",
            Detected::Iban => "IBAN",
            Detected::TaxCode => "codice fiscale",
            Detected::VatNumber => "partita IVA",
        }
    }
}

/// What a value is, if it is one of the kinds recognised.
pub fn detect(value: &str) -> Option<Detected> {
    let v = value.trim();
    if is_email(v) {
        Some(Detected::Email)
    } else if is_ip(v) {
        Some(Detected::Ip)
    } else if is_iban(v) {
        Some(Detected::Iban)
    } else if is_codice_fiscale(v) {
        Some(Detected::TaxCode)
    } else if is_partita_iva(v) {
        Some(Detected::VatNumber)
    } else if is_phone(v) {
        Some(Detected::Phone)
    } else {
        None
    }
}

/// An email address: one `@`, a local part of printable characters, a
/// domain of at least two labels of letters, digits and hyphens.
pub fn is_email(v: &str) -> bool {
    if v.len() > 254 || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = v.rsplit_once('@') else {
        return false;
    };
    if local.is_empty()
        || local.len() > 64
        || local.contains('@')
        || local.starts_with('.')
        || local.ends_with('.')
        || local.contains("..")
        || local.contains(['<', '>', '(', ')', '[', ']', ',', ';', ':', '\\', '"'])
    {
        return false;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(char::is_alphabetic))
}

/// A phone number in international form: `+` or `00`, a country code not
/// starting with 0, 8 to 15 digits in all; spaces, dots, hyphens and
/// brackets may separate them.
pub fn is_phone(v: &str) -> bool {
    let rest = if let Some(r) = v.strip_prefix('+') {
        r
    } else if let Some(r) = v.strip_prefix("00") {
        r
    } else {
        return false;
    };
    if !rest
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '.' | '-' | '(' | ')' | '/'))
    {
        return false;
    }
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    (8..=15).contains(&digits.len()) && !digits.starts_with('0')
}

/// An IPv4 or IPv6 address.
pub fn is_ip(v: &str) -> bool {
    v.parse::<IpAddr>().is_ok()
}

/// Registered IBAN lengths of the countries most often met here; other
/// countries are checked against the general 15–34.
const IBAN_LENGTHS: [(&str, usize); 14] = [
    ("IT", 27),
    ("SM", 27),
    ("DE", 22),
    ("FR", 27),
    ("ES", 24),
    ("NL", 18),
    ("BE", 16),
    ("AT", 20),
    ("CH", 21),
    ("GB", 22),
    ("IE", 22),
    ("PT", 25),
    ("LU", 20),
    ("MT", 31),
];

/// An IBAN (spaces allowed) whose mod-97 check gives 1.
pub fn is_iban(v: &str) -> bool {
    let s: String = v
        .chars()
        .filter(|c| *c != ' ')
        .collect::<String>()
        .to_ascii_uppercase();
    if !(15..=34).contains(&s.len()) || !s.chars().all(|c| c.is_ascii_alphanumeric()) {
        return false;
    }
    let (country, check) = (&s[..2], &s[2..4]);
    if !country.chars().all(|c| c.is_ascii_uppercase())
        || !check.chars().all(|c| c.is_ascii_digit())
    {
        return false;
    }
    if let Some((_, len)) = IBAN_LENGTHS.iter().find(|(c, _)| *c == country)
        && s.len() != *len
    {
        return false;
    }
    let rearranged = format!("{}{}", &s[4..], &s[..4]);
    let mut rem: u32 = 0;
    for c in rearranged.chars() {
        let n = match c.to_digit(36) {
            Some(n) => n,
            None => return false,
        };
        rem = if n < 10 {
            (rem * 10 + n) % 97
        } else {
            (rem * 100 + n) % 97
        };
    }
    rem == 1
}

/// The value of a character in an odd position (1st, 3rd, ...) of a
/// codice fiscale, by the Ministry's table.
fn cf_odd(c: char) -> Option<u32> {
    const TABLE: [u32; 26] = [
        1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24,
        23,
    ];
    let i = match c {
        '0'..='9' => c as u32 - '0' as u32,
        'A'..='Z' => c as u32 - 'A' as u32,
        _ => return None,
    };
    TABLE.get(i as usize).copied()
}

fn cf_even(c: char) -> Option<u32> {
    match c {
        '0'..='9' => Some(c as u32 - '0' as u32),
        'A'..='Z' => Some(c as u32 - 'A' as u32),
        _ => None,
    }
}

/// The check letter of the first 15 characters of a codice fiscale.
pub fn codice_fiscale_check(first15: &str) -> Option<char> {
    if first15.len() != 15 {
        return None;
    }
    let mut sum = 0;
    for (i, c) in first15.chars().enumerate() {
        sum += if i % 2 == 0 { cf_odd(c)? } else { cf_even(c)? };
    }
    char::from_u32('A' as u32 + sum % 26)
}

/// A codice fiscale of a person: 16 characters in the pattern
/// `LLLLLLDDLDDLDDDL` (digits may be replaced by the homocode letters
/// L–V), whose last letter is the check letter of the others.
pub fn is_codice_fiscale(v: &str) -> bool {
    let s = v.trim().to_ascii_uppercase();
    if s.len() != 16 || !s.is_ascii() {
        return false;
    }
    let digit_like = |c: char| c.is_ascii_digit() || "LMNPQRSTUV".contains(c);
    let letter = |c: char| c.is_ascii_uppercase();
    let shape = "LLLLLLDDLDDLDDDL";
    if !s
        .chars()
        .zip(shape.chars())
        .all(|(c, k)| if k == 'L' { letter(c) } else { digit_like(c) })
    {
        return false;
    }
    codice_fiscale_check(&s[..15]) == s.chars().last()
}

/// An Italian partita IVA (optionally prefixed `IT`): 11 digits whose last
/// is the Luhn check digit of the first ten.
pub fn is_partita_iva(v: &str) -> bool {
    let s = v.trim();
    let s = s
        .strip_prefix("IT")
        .or_else(|| s.strip_prefix("it"))
        .unwrap_or(s);
    if s.len() != 11 || !s.chars().all(|c| c.is_ascii_digit()) || s.chars().all(|c| c == '0') {
        return false;
    }
    let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    let mut sum = 0;
    for (i, d) in digits[..10].iter().enumerate() {
        sum += if i % 2 == 0 {
            *d
        } else {
            let x = d * 2;
            if x > 9 { x - 9 } else { x }
        };
    }
    (10 - sum % 10) % 10 == digits[10]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(cases: &[(&str, Option<Detected>)]) {
        for (value, want) in cases {
            assert_eq!(detect(value), *want, "{value}");
        }
    }

    #[test]
    fn values_are_recognised_by_their_shape_and_check() {
        check(&[
            ("mario.rossi@example.com", Some(Detected::Email)),
            ("MARIO@EXAMPLE.COM", Some(Detected::Email)),
            ("not an email@example.com", None),
            ("user@localhost", None),
            ("+39 055 1234567", Some(Detected::Phone)),
            ("0039 055 1234567", Some(Detected::Phone)),
            ("+39-055-123.45.67", Some(Detected::Phone)),
            ("055 1234567", None),
            ("+12", None),
            ("10.1.2.3", Some(Detected::Ip)),
            ("2001:db8::1", Some(Detected::Ip)),
            ("10.1.2.300", None),
            // The IBAN of the ECBS examples, and one digit off.
            ("IT60 X054 2811 1010 0000 0123 456", Some(Detected::Iban)),
            ("IT60X0542811101000000123457", None),
            ("GB82WEST12345698765432", Some(Detected::Iban)),
            ("RSSMRA85T10A562S", Some(Detected::TaxCode)),
            ("RSSMRA85T10A562T", None),
            ("12345678903", Some(Detected::VatNumber)),
            ("IT12345678903", Some(Detected::VatNumber)),
            ("12345678901", None),
            ("hello", None),
        ]);
    }

    #[test]
    fn the_check_letter_is_computed_by_the_ministry_table() {
        assert_eq!(codice_fiscale_check("RSSMRA85T10A562"), Some('S'));
        assert_eq!(codice_fiscale_check("short"), None);
    }
}
