//! The native formats, read as streams: a bounded line reader over any
//! `BufRead` (a line longer than [`MAX_LINE`] is refused, never buffered
//! whole), and one parser per format that turns lines into [`Event`]s or
//! says, with the line number, why a line was refused. Pure: no clock
//! reads (the caller passes "now"), no database.

pub mod cdr;
pub mod maillog;
pub mod radius;

use std::collections::BTreeMap;
use std::io::BufRead;

use custode_policy::IdentifierKind;
use jiff::Timestamp;

/// The longest line any format accepts, in bytes. Real CDR, syslog and
/// RADIUS lines are a few hundred bytes; a longer one is garbage or an
/// attack, and holding it would let one line take the memory.
pub const MAX_LINE: usize = 8 * 1024;

/// How far in the future a record's time may be (clocks of switches and
/// servers drift); beyond it the line is refused.
pub const FUTURE_SKEW: jiff::SignedDuration = jiff::SignedDuration::from_secs(300);

/// The source formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Telephone call detail records, CSV.
    Cdr,
    /// FreeRADIUS `detail` accounting files.
    Radius,
    /// Postfix and Dovecot syslog lines (and webmail logins).
    Maillog,
}

impl Kind {
    /// Every format.
    pub const ALL: [Kind; 3] = [Kind::Cdr, Kind::Radius, Kind::Maillog];

    /// The name on the command line and in the store.
    pub fn key(self) -> &'static str {
        match self {
            Kind::Cdr => "cdr",
            Kind::Radius => "radius",
            Kind::Maillog => "maillog",
        }
    }

    /// The format a name names.
    pub fn from_key(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.key() == name)
    }
}

/// One communication as a source line (or RADIUS block) describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// When it took place (a call's start, an accounting event, a login).
    pub at: Timestamp,
    /// The identifier the subscriber is linked by (the caller's number,
    /// the RADIUS user name, the mailbox), normalised.
    pub link: (IdentifierKind, String),
    /// The other identifier a judge may search by (the number called, the
    /// session's or client's IP address), normalised.
    pub peer: Option<(IdentifierKind, String)>,
    /// Whether a call was answered (always true for sessions and logins).
    pub answered: bool,
    /// Everything the line said, sealed as the record's payload.
    pub fields: BTreeMap<String, serde_json::Value>,
}

/// What a parser made of a line.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    /// Nothing yet (a header, a line inside a RADIUS block).
    Nothing,
    /// A line the format allows but that records no communication (a
    /// syslog line that is not a login, a RADIUS Accounting-On).
    Skipped,
    /// A communication, from the line (or block) starting at `line`.
    Event {
        /// The first line of the record.
        line: u64,
        /// The communication.
        event: Box<Event>,
    },
    /// A line refused, and why.
    Rejected(Rejection),
}

/// A line refused: where and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// Its number, from 1.
    pub line: u64,
    /// What is wrong, in words an operator can act on.
    pub why: String,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.why)
    }
}

/// A format's parser, fed one line at a time.
pub trait Format: Send {
    /// Parses line `no` (from 1), `now` being the time future dates are
    /// judged against.
    fn line(&mut self, no: u64, text: &str, now: Timestamp) -> Parsed;
    /// The input ended: a record still open is complete (or refused).
    fn finish(&mut self, now: Timestamp) -> Parsed;
    /// Whether no record is half-read, so the byte offset here is one a
    /// restart may resume from.
    fn at_boundary(&self) -> bool;
}

/// A parser for `kind`; CDRs with the mapping given.
pub fn parser(kind: Kind, cdr: &cdr::CdrMapping, zone: jiff::tz::TimeZone) -> Box<dyn Format> {
    match kind {
        Kind::Cdr => Box::new(cdr::CdrParser::new(cdr.clone(), zone)),
        Kind::Radius => Box::new(radius::RadiusParser::new()),
        Kind::Maillog => Box::new(maillog::MaillogParser::new(zone)),
    }
}

/// A line as read: its number, where it ends, and its text (or why it has
/// none).
#[derive(Debug)]
pub struct RawLine<'a> {
    /// Its number, from 1.
    pub no: u64,
    /// The byte offset just past it (its newline included).
    pub end: u64,
    /// Its text without the line ending, or why it was refused.
    pub text: Result<&'a str, &'static str>,
}

/// Lines of a stream, each held at most [`MAX_LINE`] bytes: a longer line
/// is consumed to its end and reported, never kept.
pub struct Lines<R> {
    inner: R,
    buf: Vec<u8>,
    no: u64,
    offset: u64,
    limit: usize,
}

impl<R: BufRead> Lines<R> {
    /// Lines of `inner`, numbered from `first_no` + 1, `offset` being the
    /// byte position `inner` starts at (a resumed read).
    pub fn new(inner: R, first_no: u64, offset: u64) -> Lines<R> {
        Lines::with_limit(inner, first_no, offset, MAX_LINE)
    }

    /// As [`Lines::new`] with another line limit.
    pub fn with_limit(inner: R, first_no: u64, offset: u64, limit: usize) -> Lines<R> {
        Lines {
            inner,
            buf: Vec::with_capacity(256),
            no: first_no,
            offset,
            limit,
        }
    }

    /// The next line, or `None` at the end.
    pub fn next_line(&mut self) -> std::io::Result<Option<RawLine<'_>>> {
        self.buf.clear();
        let mut too_long = false;
        let mut read_any = false;
        loop {
            let chunk = match self.inner.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                break;
            }
            read_any = true;
            let (take, done) = match chunk.iter().position(|b| *b == b'\n') {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            if !too_long {
                if self.buf.len() + take > self.limit + 2 {
                    too_long = true;
                    self.buf.clear();
                } else {
                    self.buf.extend_from_slice(&chunk[..take]);
                }
            }
            self.inner.consume(take);
            self.offset += take as u64;
            if done {
                break;
            }
        }
        if !read_any {
            return Ok(None);
        }
        self.no += 1;
        let text = if too_long {
            Err("the line is longer than 8 KiB: refused unread")
        } else {
            let mut line = self.buf.as_slice();
            if let Some(l) = line.strip_suffix(b"\n") {
                line = l;
            }
            if let Some(l) = line.strip_suffix(b"\r") {
                line = l;
            }
            if line.len() > self.limit {
                Err("the line is longer than 8 KiB: refused unread")
            } else {
                std::str::from_utf8(line).map_err(|_| "the line is not valid UTF-8")
            }
        };
        Ok(Some(RawLine {
            no: self.no,
            end: self.offset,
            text,
        }))
    }

    /// The number of the last line read.
    pub fn line_no(&self) -> u64 {
        self.no
    }

    /// The byte offset read so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

/// A time from a civil date and time in `zone`, or why not.
pub(crate) fn civil(
    zone: &jiff::tz::TimeZone,
    (y, mo, d): (i16, i8, i8),
    (h, mi, s): (i8, i8, i8),
) -> Result<Timestamp, String> {
    let dt = jiff::civil::DateTime::new(y, mo, d, h, mi, s, 0)
        .map_err(|_| format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} is not a real date"))?;
    zone.to_ambiguous_zoned(dt)
        .compatible()
        .map(|z| z.timestamp())
        .map_err(|e| format!("the time cannot be placed in the controller's zone: {e}"))
}

/// Refuses a time after `now` (beyond the skew clocks are allowed).
pub(crate) fn not_future(at: Timestamp, now: Timestamp) -> Result<Timestamp, String> {
    if at > now + FUTURE_SKEW {
        Err(format!(
            "the date {at} is in the future (now {now}): a clock is wrong, or the line is"
        ))
    } else {
        Ok(at)
    }
}

/// The month names of syslog and FreeRADIUS, in English as both write them.
pub(crate) fn month_number(name: &str) -> Option<i8> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    MONTHS
        .iter()
        .position(|m| *m == name)
        .and_then(|i| i8::try_from(i + 1).ok())
}

/// `HH:MM:SS` as numbers.
pub(crate) fn clock_time(text: &str) -> Option<(i8, i8, i8)> {
    let mut parts = text.split(':');
    let h = parts.next()?.parse().ok()?;
    let m = parts.next()?.parse().ok()?;
    let s = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((h, m, s))
}

/// An IP address as the identifier index spells it, or why not.
pub(crate) fn ip(text: &str, what: &str) -> Result<String, String> {
    text.parse::<std::net::IpAddr>()
        .map(|ip| ip.to_string())
        .map_err(|_| format!("{what} `{}` is not an IP address", shorten(text)))
}

/// A value quoted in an error, cut short: an error message never carries a
/// whole line.
pub(crate) fn shorten(text: &str) -> String {
    let mut out: String = text.chars().take(40).collect();
    if text.chars().count() > 40 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_numbered_and_bounded() {
        let long = "x".repeat(100);
        let input = format!("one\r\ntwo\n{long}\nthree");
        let mut lines = Lines::with_limit(input.as_bytes(), 0, 0, 10);
        let mut seen = Vec::new();
        while let Some(l) = lines.next_line().expect("read") {
            seen.push((l.no, l.text.map(str::to_owned), l.end));
        }
        assert_eq!(seen[0], (1, Ok("one".to_owned()), 5));
        assert_eq!(seen[1], (2, Ok("two".to_owned()), 9));
        assert_eq!(seen[2].0, 3);
        assert!(seen[2].1.is_err(), "a line over the limit is refused");
        assert_eq!(seen[3], (4, Ok("three".to_owned()), input.len() as u64));
        assert_eq!(seen.len(), 4);
    }

    #[test]
    fn a_long_line_is_never_held_whole() {
        // A 10 MB line through a small buffer: refused, and the next read.
        let mut input = vec![b'a'; 10_000_000];
        input.extend_from_slice(b"\nnext\n");
        let mut lines = Lines::new(std::io::BufReader::with_capacity(4096, &input[..]), 0, 0);
        let first = lines.next_line().expect("read").expect("a line");
        assert!(first.text.is_err());
        assert!(lines.buf.capacity() < 64 * 1024);
        let second = lines.next_line().expect("read").expect("a line");
        assert_eq!((second.no, second.text), (2, Ok("next")));
    }
}
