//! Identifiers as distinct types, so a subject id cannot be passed where a
//! tenant id is expected. New ids are 128 random bits in hexadecimal: they
//! reveal nothing about the person or the order of creation.

use std::fmt;

/// Why a string is not a valid id.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a valid id: ids are 32 lower-case hexadecimal digits")]
pub struct InvalidId(pub String);

fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    // The OS generator failing is not recoverable: no id can be made safely.
    getrandom::fill(&mut bytes).unwrap_or_else(|e| panic!("no system randomness: {e}"));
    hex::encode(bytes)
}

fn valid(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// A fresh random id.
            pub fn generate() -> Self {
                $name(random_hex())
            }

            /// Parses an id, refusing anything but 32 hexadecimal digits.
            pub fn parse(s: &str) -> Result<Self, InvalidId> {
                if valid(s) {
                    Ok($name(s.to_owned()))
                } else {
                    Err(InvalidId(s.to_owned()))
                }
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                $name::parse(s)
            }
        }
    };
}

id_type!(
    /// A data subject.
    SubjectId
);
id_type!(
    /// A node of the tenancy tree: provider, reseller, domain or subscriber.
    TenantId
);
id_type!(
    /// A personal data breach in the register.
    BreachId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_hex_and_parse_strictly() {
        let a = SubjectId::generate();
        assert_ne!(a, SubjectId::generate());
        assert_eq!(SubjectId::parse(a.as_str()), Ok(a.clone()));
        assert!(SubjectId::parse("../etc/passwd").is_err());
        assert!(TenantId::parse(&a.as_str().to_uppercase()).is_err());
    }
}
