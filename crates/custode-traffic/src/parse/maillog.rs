//! Mail-server logins from syslog: Postfix SMTP AUTH (`sasl_username=`),
//! Dovecot IMAP, POP3, submission and sieve logins (`user=<…>, rip=…,
//! lip=…`), and Roundcube webmail logins, in the classic syslog layout
//! (`Dec  7 10:15:02 host prog[pid]: …`, the year taken as the latest that
//! does not put the line in the future) or with an RFC 3339 stamp
//! (`2026-12-07T10:15:02.123+01:00 host prog[pid]: …`).
//!
//! ```text
//! Dec  7 10:15:02 mx1 postfix/smtpd[2211]: 4F1A22C0B3: client=unknown[203.0.113.9], sasl_method=PLAIN, sasl_username=bruno@posta.example
//! Dec  7 10:16:40 mx1 dovecot: imap-login: Login: user=<anna@posta.example>, method=PLAIN, rip=198.51.100.23, lip=192.0.2.10, mpid=31337, TLS, session=<Xyz>
//! Dec  7 10:17:05 web1 roundcube: <a1b2c3> Successful login for anna@posta.example (ID: 5) from 198.51.100.23 in session a1b2c3
//! ```
//!
//! Other syslog lines are skipped (a mail log is mostly deliveries); a
//! line that is not syslog at all, or a login line missing what a login
//! must carry, is refused.

use std::collections::BTreeMap;

use custode_policy::IdentifierKind;
use jiff::Timestamp;
use serde_json::Value;

use super::{Event, Format, Parsed, Rejection, civil, ip, month_number, not_future, shorten};

/// Parses syslog lines.
pub struct MaillogParser {
    zone: jiff::tz::TimeZone,
}

impl MaillogParser {
    /// A parser whose classic-syslog times are in `zone`.
    pub fn new(zone: jiff::tz::TimeZone) -> MaillogParser {
        MaillogParser { zone }
    }

    fn parse(&self, text: &str, now: Timestamp) -> Result<Option<Event>, String> {
        let (at, rest) = self.stamp(text, now)?;
        // `host program[pid]: message`
        let mut parts = rest.splitn(3, ' ');
        let _host = parts.next().filter(|h| !h.is_empty());
        let program = parts.next().unwrap_or_default();
        let message = parts.next().unwrap_or_default();
        let Some(program) = program.strip_suffix(':') else {
            return Err(format!(
                "`{}` is not a syslog line (host, then `program[pid]:`)",
                shorten(text)
            ));
        };
        let program = program.split('[').next().unwrap_or_default();
        let found = if program.starts_with("postfix") && program.ends_with("/smtpd") {
            smtp_auth(message)?
        } else if program.starts_with("dovecot") {
            dovecot(message)?
        } else if program.starts_with("roundcube") {
            webmail(message)?
        } else {
            None
        };
        let Some((service, user, client, mut fields)) = found else {
            return Ok(None);
        };
        let at = not_future(at, now)?;
        let kind = if user.contains('@') {
            IdentifierKind::Email
        } else {
            IdentifierKind::Username
        };
        let user = custode_domain::normalise_identifier(kind, &user);
        fields.insert("service".to_owned(), Value::from(service));
        fields.insert("user".to_owned(), Value::from(user.clone()));
        fields.insert("time".to_owned(), Value::from(at.to_string()));
        if let Some(c) = &client {
            fields.insert("client_ip".to_owned(), Value::from(c.clone()));
        }
        Ok(Some(Event {
            at,
            link: (kind, user),
            peer: client.map(|c| (IdentifierKind::IpAddress, c)),
            answered: true,
            fields,
        }))
    }

    /// The line's time and what follows it.
    fn stamp<'a>(&self, text: &'a str, now: Timestamp) -> Result<(Timestamp, &'a str), String> {
        let not_syslog = || {
            format!(
                "`{}` does not start with a syslog time: not a mail log",
                shorten(text)
            )
        };
        if text.as_bytes().first().is_some_and(u8::is_ascii_digit) {
            let (stamp, rest) = text.split_once(' ').ok_or_else(not_syslog)?;
            let at = stamp.parse::<Timestamp>().map_err(|_| not_syslog())?;
            return Ok((at, rest));
        }
        // `Mmm dd hh:mm:ss`, the day padded with a space to two characters.
        let month = text
            .get(..3)
            .and_then(month_number)
            .ok_or_else(not_syslog)?;
        let day: i8 = text
            .get(4..6)
            .map(str::trim)
            .and_then(|d| d.parse().ok())
            .ok_or_else(not_syslog)?;
        let time = text
            .get(7..15)
            .and_then(super::clock_time)
            .ok_or_else(not_syslog)?;
        let rest = text.get(16..).ok_or_else(not_syslog)?;
        if text.as_bytes().get(15) != Some(&b' ') {
            return Err(not_syslog());
        }
        // No year in the line: this year's date, or last year's when this
        // year's would lie ahead (a December log read in January).
        let year = now.to_zoned(self.zone.clone()).year();
        let this = civil(&self.zone, (year, month, day), time)?;
        if this > now + super::FUTURE_SKEW {
            Ok((civil(&self.zone, (year - 1, month, day), time)?, rest))
        } else {
            Ok((this, rest))
        }
    }
}

/// What a login line says: service, user, client address, other fields.
type Login = (
    &'static str,
    String,
    Option<String>,
    BTreeMap<String, Value>,
);

/// `key=value` pairs of a comma-separated message; `<…>` unwrapped.
fn pairs(message: &str) -> BTreeMap<&str, &str> {
    message
        .split(", ")
        .filter_map(|p| p.trim().split_once('='))
        .map(|(k, v)| {
            let v = v
                .strip_prefix('<')
                .and_then(|v| v.strip_suffix('>'))
                .unwrap_or(v);
            (k.trim(), v)
        })
        .collect()
}

fn smtp_auth(message: &str) -> Result<Option<Login>, String> {
    if !message.contains("sasl_username=") {
        return Ok(None);
    }
    let p = pairs(message);
    let user = p
        .get("sasl_username")
        .filter(|u| !u.is_empty())
        .ok_or("an SMTP AUTH line with an empty sasl_username")?;
    // `client=name[1.2.3.4]` (the queue id may precede it: `ID: client=…`).
    let client = message
        .split(", ")
        .find_map(|p| p.split_once("client=").map(|(_, c)| c))
        .ok_or("an SMTP AUTH line without client=")?;
    let address = client
        .rsplit_once('[')
        .and_then(|(_, a)| a.strip_suffix(']'))
        .ok_or_else(|| format!("client `{}` is not `name[address]`", shorten(client)))?;
    let mut fields = BTreeMap::new();
    if let Some(m) = p.get("sasl_method") {
        fields.insert("method".to_owned(), Value::from(*m));
    }
    Ok(Some((
        "smtp",
        (*user).to_owned(),
        Some(ip(address, "client address")?),
        fields,
    )))
}

fn dovecot(message: &str) -> Result<Option<Login>, String> {
    let Some((service, rest)) = message.split_once("-login: Login: ") else {
        return Ok(None);
    };
    let service: &'static str = match service {
        "imap" => "imap",
        "pop3" => "pop3",
        "submission" => "submission",
        "managesieve" => "managesieve",
        "lmtp" => "lmtp",
        _ => return Ok(None),
    };
    let p = pairs(rest);
    let user = p
        .get("user")
        .filter(|u| !u.is_empty())
        .ok_or("a Dovecot login without user=<…>")?;
    let rip = p.get("rip").ok_or("a Dovecot login without rip=")?;
    let mut fields = BTreeMap::new();
    if let Some(lip) = p.get("lip") {
        fields.insert("local_ip".to_owned(), Value::from(ip(lip, "lip")?));
    }
    if let Some(m) = p.get("method") {
        fields.insert("method".to_owned(), Value::from(*m));
    }
    if let Some(s) = p.get("session") {
        fields.insert("session".to_owned(), Value::from(*s));
    }
    Ok(Some((
        service,
        (*user).to_owned(),
        Some(ip(rip, "rip")?),
        fields,
    )))
}

fn webmail(message: &str) -> Result<Option<Login>, String> {
    let Some((_, rest)) = message.split_once("Successful login for ") else {
        return Ok(None);
    };
    let (user, rest) = rest
        .split_once(' ')
        .ok_or("a webmail login without its user")?;
    let from = rest
        .split_once(" from ")
        .map(|(_, f)| f.split(' ').next().unwrap_or_default())
        .ok_or("a webmail login without `from ADDRESS`")?;
    Ok(Some((
        "webmail",
        user.to_owned(),
        Some(ip(from, "webmail client address")?),
        BTreeMap::new(),
    )))
}

impl Format for MaillogParser {
    fn line(&mut self, no: u64, text: &str, now: Timestamp) -> Parsed {
        if text.trim().is_empty() {
            return Parsed::Skipped;
        }
        match self.parse(text, now) {
            Ok(Some(event)) => Parsed::Event {
                line: no,
                event: Box::new(event),
            },
            Ok(None) => Parsed::Skipped,
            Err(why) => Parsed::Rejected(Rejection { line: no, why }),
        }
    }

    fn finish(&mut self, _now: Timestamp) -> Parsed {
        Parsed::Nothing
    }

    fn at_boundary(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(lines: &[&str], now: &str) -> Vec<Parsed> {
        let now: Timestamp = now.parse().expect("time");
        let mut p = MaillogParser::new(jiff::tz::TimeZone::get("Europe/Rome").expect("zone"));
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| p.line(i as u64 + 1, l, now))
            .collect()
    }

    fn event(p: &Parsed) -> &Event {
        match p {
            Parsed::Event { event, .. } => event,
            other => panic!("expected an event, got {other:?}"),
        }
    }

    #[test]
    fn logins_of_every_service_are_read() {
        let out = run(
            &[
                "Dec  7 10:15:02 mx1 postfix/smtpd[2211]: 4F1A22C0B3: client=unknown[203.0.113.9], sasl_method=PLAIN, sasl_username=Bruno@Posta.example",
                "Dec  7 10:16:40 mx1 dovecot: imap-login: Login: user=<anna@posta.example>, method=PLAIN, rip=198.51.100.23, lip=192.0.2.10, mpid=31337, TLS, session=<Xyz>",
                "2026-12-07T10:16:41.5+01:00 mx1 dovecot[77]: pop3-login: Login: user=<carla>, method=PLAIN, rip=2001:db8::7, lip=192.0.2.10",
                "Dec  7 10:17:05 web1 roundcube: <a1b2c3> Successful login for anna@posta.example (ID: 5) from 198.51.100.23 in session a1b2c3",
                "Dec  7 10:18:00 mx1 postfix/qmgr[99]: 4F1A22C0B3: from=<x@y.example>, size=100, nrcpt=1 (queue active)",
            ],
            "2026-12-07T12:00:00Z",
        );
        let smtp = event(&out[0]);
        assert_eq!(
            smtp.link,
            (IdentifierKind::Email, "bruno@posta.example".to_owned())
        );
        assert_eq!(
            smtp.peer,
            Some((IdentifierKind::IpAddress, "203.0.113.9".to_owned()))
        );
        assert_eq!(smtp.at.to_string(), "2026-12-07T09:15:02Z");
        let imap = event(&out[1]);
        assert_eq!(imap.fields["service"], "imap");
        assert_eq!(imap.fields["local_ip"], "192.0.2.10");
        let pop = event(&out[2]);
        assert_eq!(pop.link, (IdentifierKind::Username, "carla".to_owned()));
        assert_eq!(
            pop.peer,
            Some((IdentifierKind::IpAddress, "2001:db8::7".to_owned()))
        );
        assert_eq!(event(&out[3]).fields["service"], "webmail");
        assert_eq!(out[4], Parsed::Skipped);
    }

    #[test]
    fn a_december_line_read_in_january_is_last_year() {
        let out = run(
            &[
                "Dec 31 23:59:00 mx1 dovecot: imap-login: Login: user=<a@b.example>, rip=192.0.2.1, lip=192.0.2.2",
            ],
            "2027-01-01T08:00:00Z",
        );
        assert_eq!(event(&out[0]).at.to_string(), "2026-12-31T22:59:00Z");
    }

    #[test]
    fn bad_lines_are_refused_with_why() {
        let out = run(
            &[
                "caller,callee,start,duration,answered,cell",
                "Dec  7 10:16:40 mx1 dovecot: imap-login: Login: user=<anna@posta.example>, method=PLAIN, lip=192.0.2.10",
                "Dec  7 10:16:40 mx1 dovecot: imap-login: Login: user=<anna@posta.example>, rip=999.1.1.1",
                "2027-06-01T10:00:00Z mx1 dovecot: imap-login: Login: user=<a@b.example>, rip=192.0.2.1",
            ],
            "2026-12-07T12:00:00Z",
        );
        let whys: Vec<String> = out
            .iter()
            .map(|p| match p {
                Parsed::Rejected(r) => r.to_string(),
                other => format!("{other:?}"),
            })
            .collect();
        assert!(whys[0].starts_with("line 1: `caller,callee,start,duration,answered,ce…` does not start with a syslog time"), "{}", whys[0]);
        assert_eq!(whys[1], "line 2: a Dovecot login without rip=");
        assert_eq!(whys[2], "line 3: rip `999.1.1.1` is not an IP address");
        assert!(whys[3].contains("in the future"), "{}", whys[3]);
    }
}
