//! FreeRADIUS `detail` accounting files: one block per accounting packet,
//! a date line at the left margin, then `Attribute = value` lines indented
//! by a tab (shown as spaces below), then a blank line.
//!
//! ```text
//! Mon Dec  7 10:00:00 2026
//!     Acct-Status-Type = Start
//!     User-Name = "anna.verdi"
//!     NAS-IP-Address = 192.0.2.1
//!     Framed-IP-Address = 100.64.12.7
//!     Acct-Session-Id = "4D2A0001"
//!     Event-Timestamp = "Dec  7 2026 10:00:00 CET"
//!     Timestamp = 1796634000
//! ```
//!
//! Start, Stop and Interim-Update blocks become records (time from
//! `Event-Timestamp`, numeric or FreeRADIUS's text, else `Timestamp`); other
//! status types (Accounting-On/Off) are skipped. A block's errors are
//! reported at its date line. A block holds at most [`MAX_ATTRIBUTES`].

use std::collections::BTreeMap;

use custode_policy::IdentifierKind;
use jiff::Timestamp;
use serde_json::Value;

use super::{Event, Format, Parsed, Rejection, ip, month_number, not_future, shorten};

/// Attributes one block may carry; real ones carry a few dozen.
pub const MAX_ATTRIBUTES: usize = 256;

/// Parses `detail` blocks.
#[derive(Default)]
pub struct RadiusParser {
    /// The open block: its first line and its attributes.
    open: Option<(u64, BTreeMap<String, String>)>,
    /// The open block is already refused (its later lines are swallowed).
    refused: bool,
}

impl RadiusParser {
    /// A parser at the start of a file.
    pub fn new() -> RadiusParser {
        RadiusParser::default()
    }

    fn close(&mut self, now: Timestamp) -> Parsed {
        let refused = std::mem::take(&mut self.refused);
        let Some((line, attrs)) = self.open.take() else {
            return Parsed::Nothing;
        };
        if refused {
            return Parsed::Nothing;
        }
        match block(&attrs, now) {
            Ok(Some(event)) => Parsed::Event {
                line,
                event: Box::new(event),
            },
            Ok(None) => Parsed::Skipped,
            Err(why) => Parsed::Rejected(Rejection { line, why }),
        }
    }
}

impl Format for RadiusParser {
    fn line(&mut self, no: u64, text: &str, now: Timestamp) -> Parsed {
        if text.trim().is_empty() {
            return self.close(now);
        }
        if !text.starts_with([' ', '\t']) {
            // A date line opens a block (and closes one a blank line did not).
            let closed = self.close(now);
            if !is_date_line(text) {
                self.open = Some((no, BTreeMap::new()));
                self.refused = true;
                let why = format!(
                    "`{}` is neither a detail file's date line nor an indented attribute: not a FreeRADIUS detail file",
                    shorten(text)
                );
                return match closed {
                    Parsed::Nothing | Parsed::Skipped => {
                        Parsed::Rejected(Rejection { line: no, why })
                    }
                    // Report the finished block; this line's block is refused
                    // when it closes (an unlikely pair: a bad line right
                    // after a block with no blank line).
                    other => {
                        self.refused = false;
                        self.open = Some((no, BTreeMap::from([("?".to_owned(), why)])));
                        other
                    }
                };
            }
            self.open = Some((no, BTreeMap::new()));
            return closed;
        }
        let Some((_, attrs)) = self.open.as_mut() else {
            return Parsed::Rejected(Rejection {
                line: no,
                why: "an attribute outside any block (no date line before it): not a FreeRADIUS detail file".to_owned(),
            });
        };
        if self.refused {
            return Parsed::Nothing;
        }
        let Some((name, value)) = text.trim().split_once(" = ") else {
            self.refused = true;
            return Parsed::Rejected(Rejection {
                line: no,
                why: format!("`{}` is not `Attribute = value`", shorten(text.trim())),
            });
        };
        if attrs.len() >= MAX_ATTRIBUTES {
            self.refused = true;
            return Parsed::Rejected(Rejection {
                line: no,
                why: format!("a block with more than {MAX_ATTRIBUTES} attributes"),
            });
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        attrs.insert(name.trim().to_owned(), value.to_owned());
        Parsed::Nothing
    }

    fn finish(&mut self, now: Timestamp) -> Parsed {
        self.close(now)
    }

    fn at_boundary(&self) -> bool {
        self.open.is_none()
    }
}

/// `Mon Dec  7 10:00:00 2026`: weekday, month, day, time, year.
fn is_date_line(text: &str) -> bool {
    let parts: Vec<&str> = text.split_whitespace().collect();
    parts.len() == 5
        && parts[0].len() == 3
        && month_number(parts[1]).is_some()
        && parts[2].parse::<u8>().is_ok()
        && super::clock_time(parts[3]).is_some()
        && parts[4].parse::<u16>().is_ok()
}

/// The record a closed block makes, `None` for a status that records no
/// session.
fn block(attrs: &BTreeMap<String, String>, now: Timestamp) -> Result<Option<Event>, String> {
    if let Some(why) = attrs.get("?") {
        return Err(why.clone());
    }
    let get = |name: &str| attrs.get(name).map(String::as_str);
    let Some(status) = get("Acct-Status-Type") else {
        return Err("a block without Acct-Status-Type".to_owned());
    };
    let status = match status {
        "Start" | "Stop" | "Interim-Update" => status,
        "Accounting-On" | "Accounting-Off" => return Ok(None),
        other => return Err(format!("unknown Acct-Status-Type `{}`", shorten(other))),
    };
    let user = get("User-Name")
        .filter(|u| !u.trim().is_empty())
        .ok_or("a block without User-Name")?;
    let session = get("Acct-Session-Id").ok_or("a block without Acct-Session-Id")?;
    let at = match (get("Event-Timestamp"), get("Timestamp")) {
        (Some(t), _) => event_timestamp(t)?,
        (None, Some(t)) => epoch(t, "Timestamp")?,
        (None, None) => return Err("a block without Event-Timestamp or Timestamp".to_owned()),
    };
    let at = not_future(at, now)?;
    let framed = get("Framed-IP-Address")
        .map(|v| ip(v, "Framed-IP-Address"))
        .transpose()?;
    let nas = get("NAS-IP-Address")
        .map(|v| ip(v, "NAS-IP-Address"))
        .transpose()?;
    let octets = |name: &str, giga: &str| -> Result<Option<u64>, String> {
        let Some(v) = get(name) else { return Ok(None) };
        let low: u64 = v
            .parse()
            .map_err(|_| format!("{name} `{}` is not a count", shorten(v)))?;
        let high: u64 = match get(giga) {
            Some(g) => g
                .parse()
                .map_err(|_| format!("{giga} `{}` is not a count", shorten(g)))?,
            None => 0,
        };
        Ok(Some((high << 32) + low))
    };
    let input = octets("Acct-Input-Octets", "Acct-Input-Gigawords")?;
    let output = octets("Acct-Output-Octets", "Acct-Output-Gigawords")?;
    let user = custode_domain::normalise_identifier(IdentifierKind::Username, user);
    let mut fields = BTreeMap::new();
    fields.insert("status".to_owned(), Value::from(status));
    fields.insert("user_name".to_owned(), Value::from(user.clone()));
    fields.insert("session_id".to_owned(), Value::from(session));
    fields.insert("event_time".to_owned(), Value::from(at.to_string()));
    if let Some(f) = &framed {
        fields.insert("framed_ip".to_owned(), Value::from(f.clone()));
    }
    if let Some(n) = nas {
        fields.insert("nas_ip".to_owned(), Value::from(n));
    }
    if let Some(v) = input {
        fields.insert("input_octets".to_owned(), Value::from(v));
    }
    if let Some(v) = output {
        fields.insert("output_octets".to_owned(), Value::from(v));
    }
    for (attr, key) in [
        ("Acct-Session-Time", "session_time"),
        ("Calling-Station-Id", "calling_station"),
        ("NAS-Port-Id", "nas_port"),
    ] {
        if let Some(v) = get(attr) {
            fields.insert(key.to_owned(), Value::from(v));
        }
    }
    Ok(Some(Event {
        at,
        link: (IdentifierKind::Username, user),
        peer: framed.map(|f| (IdentifierKind::IpAddress, f)),
        answered: true,
        fields,
    }))
}

fn epoch(text: &str, what: &str) -> Result<Timestamp, String> {
    text.parse::<i64>()
        .ok()
        .and_then(|s| Timestamp::from_second(s).ok())
        .ok_or_else(|| format!("{what} `{}` is not seconds since 1970", shorten(text)))
}

/// `Event-Timestamp`: seconds since 1970, or `Dec  7 2026 10:00:00 CET`.
fn event_timestamp(text: &str) -> Result<Timestamp, String> {
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return epoch(text, "Event-Timestamp");
    }
    let bad = || format!("Event-Timestamp `{}` is not a date", shorten(text));
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [month, day, year, time, zone] = parts[..] else {
        return Err(bad());
    };
    let month = month_number(month).ok_or_else(bad)?;
    let day: i8 = day.parse().map_err(|_| bad())?;
    let year: i16 = year.parse().map_err(|_| bad())?;
    let (h, m, s) = super::clock_time(time).ok_or_else(bad)?;
    // The abbreviations FreeRADIUS writes in the zones this serves; an
    // unknown one is refused rather than guessed.
    let offset = match zone {
        "UTC" | "GMT" | "WET" => 0,
        "CET" | "WEST" | "BST" => 1,
        "CEST" | "EET" => 2,
        "EEST" => 3,
        _ => {
            return Err(format!(
                "Event-Timestamp zone `{}` is not one Custode knows (UTC, GMT, WET, WEST, BST, CET, CEST, EET, EEST)",
                shorten(zone)
            ));
        }
    };
    let dt = jiff::civil::DateTime::new(year, month, day, h, m, s, 0).map_err(|_| bad())?;
    let offset = jiff::tz::Offset::from_hours(offset).map_err(|_| bad())?;
    offset.to_timestamp(dt).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-12-07T12:00:00Z".parse().expect("time")
    }

    fn run(text: &str) -> Vec<Parsed> {
        let mut p = RadiusParser::new();
        let mut out: Vec<Parsed> = text
            .lines()
            .enumerate()
            .map(|(i, l)| p.line(i as u64 + 1, l, now()))
            .filter(|p| *p != Parsed::Nothing)
            .collect();
        let last = p.finish(now());
        if last != Parsed::Nothing {
            out.push(last);
        }
        out
    }

    #[test]
    fn start_stop_and_interim_blocks_become_sessions() {
        let text = "Mon Dec  7 10:00:00 2026\n\tAcct-Status-Type = Start\n\tUser-Name = \"Anna.Verdi\"\n\tNAS-IP-Address = 192.0.2.1\n\tFramed-IP-Address = 100.64.12.7\n\tAcct-Session-Id = \"4D2A0001\"\n\tEvent-Timestamp = \"Dec  7 2026 10:00:00 CET\"\n\tTimestamp = 1796634000\n\n\
Mon Dec  7 11:00:00 2026\n\tAcct-Status-Type = Accounting-On\n\tNAS-IP-Address = 192.0.2.1\n\n\
Mon Dec  7 11:30:00 2026\n\tAcct-Status-Type = Stop\n\tUser-Name = \"anna.verdi\"\n\tFramed-IP-Address = 100.64.12.7\n\tAcct-Session-Id = \"4D2A0001\"\n\tAcct-Input-Octets = 5\n\tAcct-Input-Gigawords = 1\n\tEvent-Timestamp = 1796639400\n";
        let out = run(text);
        assert_eq!(out.len(), 3, "{out:?}");
        let Parsed::Event { line, event } = &out[0] else {
            panic!("{:?}", out[0]);
        };
        assert_eq!(*line, 1);
        assert_eq!(event.at.to_string(), "2026-12-07T09:00:00Z");
        assert_eq!(
            event.link,
            (IdentifierKind::Username, "anna.verdi".to_owned())
        );
        assert_eq!(
            event.peer,
            Some((IdentifierKind::IpAddress, "100.64.12.7".to_owned()))
        );
        assert_eq!(out[1], Parsed::Skipped);
        let Parsed::Event { line, event } = &out[2] else {
            panic!("{:?}", out[2]);
        };
        assert_eq!(*line, 14);
        assert_eq!(event.fields["input_octets"], (1u64 << 32) + 5);
    }

    #[test]
    fn bad_blocks_are_refused_at_their_date_line() {
        let text = "Mon Dec  7 10:00:00 2026\n\tAcct-Status-Type = Start\n\tAcct-Session-Id = x\n\tTimestamp = 1\n\n\
Mon Dec  7 10:00:00 2026\n\tAcct-Status-Type = Start\n\tUser-Name = u\n\tAcct-Session-Id = x\n\tTimestamp = 1999999999\n\n\
Mon Dec  7 10:00:00 2026\n\tAcct-Status-Type = Start\n\tUser-Name = u\n\tAcct-Session-Id = x\n\tTimestamp = 1\n\tFramed-IP-Address = 300.1.1.1\n";
        let out = run(text);
        let whys: Vec<String> = out
            .iter()
            .map(|p| match p {
                Parsed::Rejected(r) => format!("{}", r),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(whys[0], "line 1: a block without User-Name");
        assert!(
            whys[1].starts_with("line 6: the date") && whys[1].contains("future"),
            "{}",
            whys[1]
        );
        assert!(
            whys[2].starts_with("line 12: Framed-IP-Address `300.1.1.1`"),
            "{}",
            whys[2]
        );
    }

    #[test]
    fn a_csv_is_not_taken_for_a_detail_file() {
        let out = run("caller,callee,start,duration,answered,cell\n1,2,3,4,5,6\n");
        let Parsed::Rejected(r) = &out[0] else {
            panic!("{out:?}");
        };
        assert_eq!(r.line, 1);
        assert!(r.why.contains("not a FreeRADIUS detail file"));
    }
}
