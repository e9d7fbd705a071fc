//! A small CBOR reader (RFC 8949), enough for what WebAuthn sends: the
//! attestation object and the COSE public key inside the authenticator
//! data. It reads definite-length integers, byte and text strings, arrays,
//! maps and the simple values; tags, floats and indefinite lengths are
//! refused, as CTAP2's canonical encoding never uses them here.
//!
//! The input comes from anyone on the network, so every length is checked
//! against the bytes left before anything is allocated, nesting is bounded
//! and so is the number of items: a hostile document costs at most a few
//! kilobytes and a bounded number of steps. Strings are borrowed, not
//! copied.

/// How deep arrays and maps may nest.
const MAX_DEPTH: usize = 8;
/// How many items one document may hold in all.
const MAX_ITEMS: usize = 1024;

/// A decoded item, borrowing its strings from the input.
#[derive(Clone, Debug, PartialEq)]
pub enum Value<'a> {
    /// An unsigned integer (major type 0).
    Unsigned(u64),
    /// A negative integer, -1 - n (major type 1).
    Negative(i128),
    /// A byte string.
    Bytes(&'a [u8]),
    /// A text string, valid UTF-8.
    Text(&'a str),
    /// An array.
    Array(Vec<Value<'a>>),
    /// A map, its keys distinct, in the order written.
    Map(Vec<(Value<'a>, Value<'a>)>),
    /// `true` or `false`.
    Bool(bool),
    /// `null` or `undefined`.
    Null,
}

impl<'a> Value<'a> {
    /// The integer, if this is one.
    pub fn int(&self) -> Option<i128> {
        match self {
            Value::Unsigned(n) => Some(i128::from(*n)),
            Value::Negative(n) => Some(*n),
            _ => None,
        }
    }

    /// The entry of a map under an integer key (COSE keys).
    pub fn by_int(&self, key: i128) -> Option<&Value<'a>> {
        match self {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.int() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The entry of a map under a text key (the attestation object).
    pub fn by_text(&self, key: &str) -> Option<&Value<'a>> {
        match self {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(k, Value::Text(t) if *t == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

/// What is wrong with a CBOR document, and at which byte.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CborError {
    /// The input ends inside an item.
    #[error("it ends too early (byte {0})")]
    Truncated(usize),
    /// Bytes are left after the item.
    #[error("{0} byte(s) follow the item")]
    Trailing(usize),
    /// Something this reader does not take.
    #[error("{what} at byte {at} is not accepted here")]
    Unsupported {
        /// What was found.
        what: &'static str,
        /// Where.
        at: usize,
    },
    /// Nested deeper than [`MAX_DEPTH`].
    #[error("it nests deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// More than [`MAX_ITEMS`] items.
    #[error("it holds more than {MAX_ITEMS} items")]
    TooMany,
    /// A text string that is not UTF-8.
    #[error("the text at byte {0} is not UTF-8")]
    Utf8(usize),
    /// A map with the same key twice.
    #[error("a map repeats a key (byte {0})")]
    DuplicateKey(usize),
}

struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
    items: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CborError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.input.len())
            .ok_or(CborError::Truncated(self.pos))?;
        let out = &self.input[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn byte(&mut self) -> Result<u8, CborError> {
        Ok(self.take(1)?[0])
    }

    /// The argument of an item head: the value, or the length that follows.
    fn argument(&mut self, info: u8, at: usize) -> Result<u64, CborError> {
        let be = |b: &[u8]| b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x));
        match info {
            0..=23 => Ok(u64::from(info)),
            24 => Ok(u64::from(self.byte()?)),
            25 => Ok(be(self.take(2)?)),
            26 => Ok(be(self.take(4)?)),
            27 => Ok(be(self.take(8)?)),
            31 => Err(CborError::Unsupported {
                what: "an indefinite length",
                at,
            }),
            _ => Err(CborError::Unsupported {
                what: "a reserved head",
                at,
            }),
        }
    }

    /// A length, bounded by the bytes left (each element takes at least
    /// one), so no allocation exceeds the input's size.
    fn length(&mut self, info: u8, at: usize) -> Result<usize, CborError> {
        let n = self.argument(info, at)?;
        let left = self.input.len() - self.pos;
        usize::try_from(n)
            .ok()
            .filter(|n| *n <= left)
            .ok_or(CborError::Truncated(self.pos))
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, CborError> {
        if depth > MAX_DEPTH {
            return Err(CborError::TooDeep);
        }
        self.items += 1;
        if self.items > MAX_ITEMS {
            return Err(CborError::TooMany);
        }
        let at = self.pos;
        let head = self.byte()?;
        let (major, info) = (head >> 5, head & 0x1f);
        match major {
            0 => Ok(Value::Unsigned(self.argument(info, at)?)),
            1 => Ok(Value::Negative(-1 - i128::from(self.argument(info, at)?))),
            2 => {
                let n = self.length(info, at)?;
                Ok(Value::Bytes(self.take(n)?))
            }
            3 => {
                let n = self.length(info, at)?;
                let raw = self.take(n)?;
                std::str::from_utf8(raw)
                    .map(Value::Text)
                    .map_err(|_| CborError::Utf8(at))
            }
            4 => {
                let n = self.length(info, at)?;
                let mut items = Vec::with_capacity(n.min(64));
                for _ in 0..n {
                    items.push(self.value(depth + 1)?);
                }
                Ok(Value::Array(items))
            }
            5 => {
                let n = self.length(info, at)?;
                let mut entries: Vec<(Value<'a>, Value<'a>)> = Vec::with_capacity(n.min(64));
                for _ in 0..n {
                    let key_at = self.pos;
                    let key = self.value(depth + 1)?;
                    if entries.iter().any(|(k, _)| *k == key) {
                        return Err(CborError::DuplicateKey(key_at));
                    }
                    let value = self.value(depth + 1)?;
                    entries.push((key, value));
                }
                Ok(Value::Map(entries))
            }
            6 => Err(CborError::Unsupported { what: "a tag", at }),
            _ => match info {
                20 => Ok(Value::Bool(false)),
                21 => Ok(Value::Bool(true)),
                22 | 23 => Ok(Value::Null),
                25..=27 => Err(CborError::Unsupported {
                    what: "a floating-point number",
                    at,
                }),
                _ => Err(CborError::Unsupported {
                    what: "a simple value",
                    at,
                }),
            },
        }
    }
}

/// Decodes one item that fills the whole input.
pub fn decode(input: &[u8]) -> Result<Value<'_>, CborError> {
    let (value, used) = decode_prefix(input)?;
    if used != input.len() {
        return Err(CborError::Trailing(input.len() - used));
    }
    Ok(value)
}

/// Decodes the item at the start of the input; returns it and how many
/// bytes it took (the COSE key is followed by extensions in authData).
pub fn decode_prefix(input: &[u8]) -> Result<(Value<'_>, usize), CborError> {
    let mut r = Reader {
        input,
        pos: 0,
        items: 0,
    };
    let value = r.value(0)?;
    Ok((value, r.pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_webauthn_sends() {
        // {"fmt": "none", "attStmt": {}, "n": -7, "a": [1, h'0102']}
        let doc = [
            0xa4, 0x63, b'f', b'm', b't', 0x64, b'n', b'o', b'n', b'e', 0x67, b'a', b't', b't',
            b'S', b't', b'm', b't', 0xa0, 0x61, b'n', 0x26, 0x61, b'a', 0x82, 0x01, 0x42, 0x01,
            0x02,
        ];
        let v = decode(&doc).expect("valid");
        assert_eq!(v.by_text("fmt"), Some(&Value::Text("none")));
        assert_eq!(v.by_text("attStmt"), Some(&Value::Map(vec![])));
        assert_eq!(v.by_text("n").and_then(Value::int), Some(-7));
        assert_eq!(
            v.by_text("a"),
            Some(&Value::Array(vec![
                Value::Unsigned(1),
                Value::Bytes(&[1, 2])
            ]))
        );
        // 16-, 32- and 64-bit arguments.
        assert_eq!(decode(&[0x19, 0x01, 0x00]), Ok(Value::Unsigned(256)));
        assert_eq!(
            decode(&[0x1a, 0, 1, 0, 0]).map(|v| v.int()),
            Ok(Some(65536))
        );
        assert_eq!(
            decode(&[0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            Ok(Value::Negative(-1 - i128::from(u64::MAX)))
        );
    }

    #[test]
    fn hostile_input_is_refused_cheaply() {
        // A byte string claiming 4 GiB, with three bytes behind it.
        assert_eq!(
            decode(&[0x5a, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]),
            Err(CborError::Truncated(5))
        );
        // An array claiming 2^64 - 1 elements.
        assert!(matches!(
            decode(&[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0]),
            Err(CborError::Truncated(_))
        ));
        // Arrays nested 100 deep.
        let deep = [vec![0x81; 100], vec![0x00]].concat();
        assert_eq!(decode(&deep), Err(CborError::TooDeep));
        // Many small items.
        let mut many = vec![0x99, 0x08, 0x00];
        many.extend(std::iter::repeat_n(0x00, 2048));
        assert_eq!(decode(&many), Err(CborError::TooMany));
        // Indefinite lengths, tags, floats, reserved heads.
        assert!(matches!(
            decode(&[0x5f, 0xff]),
            Err(CborError::Unsupported { .. })
        ));
        assert!(matches!(
            decode(&[0xc0, 0x00]),
            Err(CborError::Unsupported { .. })
        ));
        assert!(matches!(
            decode(&[0xf9, 0x3c, 0x00]),
            Err(CborError::Unsupported { .. })
        ));
        assert!(matches!(
            decode(&[0x1c]),
            Err(CborError::Unsupported { .. })
        ));
        // Bad UTF-8, a repeated key, trailing bytes, nothing at all.
        assert_eq!(decode(&[0x61, 0xff]), Err(CborError::Utf8(0)));
        assert_eq!(
            decode(&[0xa2, 0x01, 0x00, 0x01, 0x00]),
            Err(CborError::DuplicateKey(3))
        );
        assert_eq!(decode(&[0x00, 0x00]), Err(CborError::Trailing(1)));
        assert_eq!(decode(&[]), Err(CborError::Truncated(0)));
        assert_eq!(decode_prefix(&[0x01, 0xff]), Ok((Value::Unsigned(1), 1)));
    }
}
