//! Telephone call detail records as CSV, through a column mapping.
//!
//! A switch writes one line per call; which column holds what differs per
//! switch, so a [`CdrMapping`] names, for each of the six values Custode
//! keeps, the header of its column (or its position when the file has no
//! header). The mapping shipped, [`CdrMapping::common`], is the common
//! layout
//!
//! ```text
//! caller,callee,start,duration,answered,cell
//! +390551234567,+390287654321,2026-11-30T10:15:00+01:00,125,1,222-01-5011-31
//! ```
//!
//! - `caller`, `callee`: numbers, any usual spelling (`+39 055…`, `0039…`);
//!   stored and searched normalised, so E.164 in the file matches E.164 in
//!   the subscriber's records;
//! - `start`: RFC 3339 with its offset, or `YYYY-MM-DD HH:MM:SS` in the
//!   controller's zone;
//! - `duration`: whole seconds;
//! - `answered`: `1`/`0`, `yes`/`no`, `true`/`false`, `Y`/`N`, or an
//!   Asterisk disposition (`ANSWERED`, `NO ANSWER`, `BUSY`, `FAILED`);
//! - `cell`: the cell id or trunk the call used (may be empty).
//!
//! Fields may be quoted (`"…"`, `""` for a quote); a record spans one line.

use std::collections::BTreeMap;

use custode_policy::IdentifierKind;
use jiff::Timestamp;
use serde_json::Value;

use super::{Event, Format, Parsed, Rejection, civil, not_future, shorten};

/// Which column holds each value Custode keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CdrMapping {
    /// Whether the first line names the columns.
    pub header: bool,
    /// The field separator.
    pub delimiter: u8,
    /// Column names (with a header) of caller, callee, start, duration,
    /// answered, cell, in that order.
    pub names: [String; 6],
}

/// The values, in the order of [`CdrMapping::names`].
const VALUES: [&str; 6] = ["caller", "callee", "start", "duration", "answered", "cell"];

impl CdrMapping {
    /// The common layout: a header `caller,callee,start,duration,answered,cell`.
    pub fn common() -> CdrMapping {
        CdrMapping {
            header: true,
            delimiter: b',',
            names: VALUES.map(str::to_owned),
        }
    }
}

/// Parses CDR lines by a mapping.
pub struct CdrParser {
    mapping: CdrMapping,
    zone: jiff::tz::TimeZone,
    /// Column index of each value, once the header is read.
    at: Option<[usize; 6]>,
    columns: usize,
    fields: Vec<String>,
}

impl CdrParser {
    /// A parser for files in `mapping`'s layout, naive times in `zone`.
    pub fn new(mapping: CdrMapping, zone: jiff::tz::TimeZone) -> CdrParser {
        let (at, columns) = if mapping.header {
            (None, 0)
        } else {
            (Some([0, 1, 2, 3, 4, 5]), 6)
        };
        CdrParser {
            mapping,
            zone,
            at,
            columns,
            fields: Vec::with_capacity(8),
        }
    }

    fn header(&mut self, no: u64, text: &str) -> Parsed {
        if let Err(why) = split(text, self.mapping.delimiter, &mut self.fields) {
            return reject(no, why);
        }
        let mut at = [0; 6];
        for (i, name) in self.mapping.names.iter().enumerate() {
            match self
                .fields
                .iter()
                .position(|f| f.trim().eq_ignore_ascii_case(name))
            {
                Some(p) => at[i] = p,
                None => {
                    return reject(
                        no,
                        format!(
                            "the header has no column `{name}` (it names: {}): not a CDR file of this layout",
                            shorten(text)
                        ),
                    );
                }
            }
        }
        self.columns = self.fields.len();
        self.at = Some(at);
        Parsed::Nothing
    }

    fn record(&mut self, no: u64, text: &str, now: Timestamp, at: [usize; 6]) -> Parsed {
        if let Err(why) = split(text, self.mapping.delimiter, &mut self.fields) {
            return reject(no, why);
        }
        if self.fields.len() != self.columns {
            return reject(
                no,
                format!(
                    "{} columns where the layout has {}",
                    self.fields.len(),
                    self.columns
                ),
            );
        }
        let get = |i: usize| self.fields[at[i]].trim();
        let number = |i: usize| -> Result<String, String> {
            let raw = get(i);
            let n = custode_domain::normalise_identifier(IdentifierKind::Phone, raw);
            let digits = n.trim_start_matches('+');
            let plausible = raw
                .chars()
                .all(|c| c.is_ascii_digit() || " +-./()".contains(c));
            if !plausible || digits.len() < 3 || digits.len() > 20 {
                Err(format!("{} `{}` is not a number", VALUES[i], shorten(raw)))
            } else {
                Ok(n)
            }
        };
        let parsed = (|| -> Result<Event, String> {
            let caller = number(0)?;
            let callee = number(1)?;
            let start = start_time(get(2), &self.zone)?;
            let start = not_future(start, now)?;
            let duration: u32 = get(3)
                .parse()
                .map_err(|_| format!("duration `{}` is not whole seconds", shorten(get(3))))?;
            let answered = answered(get(4))?;
            let cell = get(5);
            let mut fields = BTreeMap::new();
            fields.insert("caller".to_owned(), Value::from(caller.clone()));
            fields.insert("callee".to_owned(), Value::from(callee.clone()));
            fields.insert("start".to_owned(), Value::from(start.to_string()));
            fields.insert("duration".to_owned(), Value::from(duration));
            fields.insert("answered".to_owned(), Value::from(answered));
            if !cell.is_empty() {
                fields.insert("cell".to_owned(), Value::from(cell));
            }
            Ok(Event {
                at: start,
                link: (IdentifierKind::Phone, caller),
                peer: Some((IdentifierKind::Phone, callee)),
                answered,
                fields,
            })
        })();
        match parsed {
            Ok(event) => Parsed::Event {
                line: no,
                event: Box::new(event),
            },
            Err(why) => reject(no, why),
        }
    }
}

impl Format for CdrParser {
    fn line(&mut self, no: u64, text: &str, now: Timestamp) -> Parsed {
        if text.trim().is_empty() {
            return Parsed::Skipped;
        }
        match self.at {
            None => self.header(no, text),
            Some(at) => self.record(no, text, now, at),
        }
    }

    fn finish(&mut self, _now: Timestamp) -> Parsed {
        Parsed::Nothing
    }

    fn at_boundary(&self) -> bool {
        true
    }
}

fn reject(line: u64, why: impl Into<String>) -> Parsed {
    Parsed::Rejected(Rejection {
        line,
        why: why.into(),
    })
}

/// Splits one CSV line into `out`: quoted fields with `""` for a quote.
/// Hand-written rather than the `csv` crate's reader because lines arrive
/// bounded and one at a time, and a reader per line would cost more than
/// the split.
fn split(line: &str, delimiter: u8, out: &mut Vec<String>) -> Result<(), String> {
    out.clear();
    let bytes = line.as_bytes();
    let mut i = 0;
    loop {
        let mut field = String::new();
        if bytes.get(i) == Some(&b'"') {
            i += 1;
            let mut start = i;
            loop {
                match bytes.get(i) {
                    None => return Err("a quoted field is not closed on its line".to_owned()),
                    Some(b'"') if bytes.get(i + 1) == Some(&b'"') => {
                        field.push_str(&line[start..=i]);
                        i += 2;
                        start = i;
                    }
                    Some(b'"') => {
                        field.push_str(&line[start..i]);
                        i += 1;
                        break;
                    }
                    Some(_) => i += 1,
                }
            }
            match bytes.get(i) {
                None => {
                    out.push(field);
                    return Ok(());
                }
                Some(b) if *b == delimiter => {
                    out.push(field);
                    i += 1;
                }
                Some(_) => {
                    return Err(format!(
                        "text after a closing quote in column {}",
                        out.len() + 1
                    ));
                }
            }
        } else {
            let end = bytes[i..]
                .iter()
                .position(|b| *b == delimiter)
                .map_or(bytes.len(), |p| i + p);
            field.push_str(&line[i..end]);
            out.push(field);
            if end == bytes.len() {
                return Ok(());
            }
            i = end + 1;
        }
    }
}

fn start_time(text: &str, zone: &jiff::tz::TimeZone) -> Result<Timestamp, String> {
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t);
    }
    let bad = || {
        format!(
            "start `{}` is neither RFC 3339 nor YYYY-MM-DD HH:MM:SS",
            shorten(text)
        )
    };
    let (date, time) = text.split_once([' ', 'T']).ok_or_else(bad)?;
    let mut d = date.split('-');
    let y = d.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    let mo = d.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    let day = d.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    let hms = super::clock_time(time).ok_or_else(bad)?;
    civil(zone, (y, mo, day), hms)
}

fn answered(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "1" | "y" | "yes" | "true" | "answered" => Ok(true),
        "0" | "n" | "no" | "false" | "no answer" | "noanswer" | "busy" | "failed"
        | "congestion" | "cancel" => Ok(false),
        _ => Err(format!(
            "answered `{}` is not 1/0, yes/no or a disposition",
            shorten(text)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-12-07T12:00:00Z".parse().expect("time")
    }

    fn parse(lines: &[&str]) -> Vec<Parsed> {
        let mut p = CdrParser::new(
            CdrMapping::common(),
            jiff::tz::TimeZone::get("Europe/Rome").expect("zone"),
        );
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| p.line(i as u64 + 1, l, now()))
            .collect()
    }

    fn why(p: &Parsed) -> &str {
        match p {
            Parsed::Rejected(r) => &r.why,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn a_call_is_read_with_its_own_date() {
        let out = parse(&[
            "caller,callee,start,duration,answered,cell",
            "+39 055 1234567,0039 02 7654321,2026-11-30 10:15:00,125,ANSWERED,\"222-01, cell 5\"",
        ]);
        assert_eq!(out[0], Parsed::Nothing);
        let Parsed::Event { line, event } = &out[1] else {
            panic!("{:?}", out[1]);
        };
        assert_eq!(*line, 2);
        assert_eq!(
            event.at.to_string(),
            "2026-11-30T09:15:00Z",
            "Rome is UTC+1 in November"
        );
        assert_eq!(
            event.link,
            (IdentifierKind::Phone, "+390551234567".to_owned())
        );
        assert_eq!(
            event.peer,
            Some((IdentifierKind::Phone, "+39027654321".to_owned()))
        );
        assert!(event.answered);
        assert_eq!(event.fields["cell"], "222-01, cell 5");
    }

    #[test]
    fn bad_lines_say_what_and_where() {
        let out = parse(&[
            "caller,callee,start,duration,answered,cell",
            "+390551234567,+39027654321,2026-11-30T10:15:00+01:00,12,1",
            "+390551234567,+39027654321,2027-01-01T10:15:00+01:00,12,1,c",
            "+390551234567,hello,2026-11-30T10:15:00+01:00,12,1,c",
            "+390551234567,+39027654321,30/11/2026,12,1,c",
            "+390551234567,+39027654321,2026-11-30T10:15:00+01:00,-4,1,c",
            "+390551234567,+39027654321,2026-11-30T10:15:00+01:00,4,maybe,c",
            "+390551234567,+39027654321,2026-02-30 10:15:00,4,1,c",
            "\"+390551234567,+39027654321,2026-11-30T10:15:00+01:00,4,1,c",
        ]);
        assert_eq!(why(&out[1]), "5 columns where the layout has 6");
        assert!(why(&out[2]).contains("in the future"), "{}", why(&out[2]));
        assert!(why(&out[3]).starts_with("callee `hello` is not a number"));
        assert!(why(&out[4]).contains("neither RFC 3339"));
        assert!(why(&out[5]).contains("duration"));
        assert!(why(&out[6]).contains("answered `maybe`"));
        assert!(why(&out[7]).contains("not a real date"));
        assert!(why(&out[8]).contains("not closed"));
    }

    #[test]
    fn another_format_is_not_taken_for_a_cdr_file() {
        let out = parse(&["Mon Dec  7 10:00:00 2026", "\tUser-Name = \"x\""]);
        assert!(why(&out[0]).contains("the header has no column `caller`"));
    }

    #[test]
    fn a_headerless_layout_goes_by_position() {
        let mut mapping = CdrMapping::common();
        mapping.header = false;
        mapping.delimiter = b';';
        let mut p = CdrParser::new(mapping, jiff::tz::TimeZone::UTC);
        let out = p.line(
            1,
            "3331234567;3337654321;2026-11-30T10:15:00Z;0;NO ANSWER;",
            now(),
        );
        let Parsed::Event { event, .. } = out else {
            panic!("{out:?}");
        };
        assert!(!event.answered);
        assert!(!event.fields.contains_key("cell"));
    }
}
