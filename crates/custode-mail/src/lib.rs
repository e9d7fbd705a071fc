//! Mail to people (requesters' codes and answers, portal codes, and the
//! capabilities' notices), through the provider's relay. `smtp://` is for a relay on this host (its MTA, which does TLS
//! and DKIM onward) and is refused for any other, since the messages carry
//! personal data; a relay elsewhere is reached with `smtp+starttls://`
//! (STARTTLS required, port 587) or `smtps://` (TLS from the first byte,
//! port 465), its certificate checked against the system's roots and an
//! optional CA of the provider's own, and with a login when the relay asks
//! for one (sent only inside TLS). Nothing is queued here: a message the
//! relay does not accept is an error the caller reports, and the code or
//! answer can be sent again.

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// Why a message was not handed over.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The relay URL is not one of the three forms.
    #[error(
        "the mail relay must be given as smtp://host[:port] (on this host), smtp+starttls://host[:port] or smtps://host[:port]; got `{0}`"
    )]
    BadRelay(String),
    /// Clear text to a relay on another host.
    #[error(
        "smtp:// sends mail in clear, so it is only for a relay on this host (localhost, 127.0.0.1, ::1); reach `{0}` with smtp+starttls:// or smtps://"
    )]
    ClearTextRelay(String),
    /// A login for a relay spoken to in clear.
    #[error("a login is sent to the mail relay only over TLS: use smtp+starttls:// or smtps://")]
    LoginInClear,
    /// The relay's CA is not a PEM certificate.
    #[error("the relay's CA must be a PEM certificate (-----BEGIN CERTIFICATE-----): {0}")]
    BadCa(String),
    /// TLS to the relay cannot be set up (the system's roots or the given
    /// CA do not load).
    #[error("cannot set up TLS to the mail relay `{host}`: {reason}")]
    Tls {
        /// The relay's host.
        host: String,
        /// What went wrong.
        reason: String,
    },
    /// An address is malformed.
    #[error("`{0}` is not an e-mail address")]
    BadAddress(String),
    /// The relay refused or could not be reached.
    #[error("the mail relay did not accept the message: {0}")]
    Relay(String),
}

/// How to reach a relay beyond its URL.
#[derive(Default)]
pub struct RelayOptions {
    /// A CA (PEM) trusted besides the system's roots, for a relay
    /// certified by the provider's own CA.
    pub ca_pem: Option<Vec<u8>>,
    /// The account on the relay, for a submission server that asks.
    pub login: Option<Login>,
}

/// An account on the relay. Its `Debug` leaves the password out.
pub struct Login {
    /// The user name.
    pub user: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// A relay and the sender's address.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// A mailer for `relay` sending as `from`.
    pub fn new(relay: &str, from: &str, options: RelayOptions) -> Result<Mailer, MailError> {
        // Credentials someone put in the URL stay out of the message.
        let bad = || MailError::BadRelay(custode_connectors::redact(relay, &[]));
        let (scheme, rest) = relay.split_once("://").ok_or_else(bad)?;
        let default_port = match scheme {
            "smtp" => 25,
            "smtp+starttls" => 587,
            "smtps" => 465,
            _ => return Err(bad()),
        };
        if rest.is_empty() || rest.contains('/') || rest.contains('@') {
            return Err(bad());
        }
        // `[::1]:25`, `host:25` or a bare host.
        let (host, port, host_ok) = match rest.strip_prefix('[') {
            Some(v6) => {
                let (host, after) = v6.split_once(']').ok_or_else(bad)?;
                let ok = host.parse::<std::net::Ipv6Addr>().is_ok();
                (host, after.strip_prefix(':'), ok)
            }
            None => {
                let (host, port) = match rest.split_once(':') {
                    Some((host, port)) => (host, Some(port)),
                    None => (rest, None),
                };
                let ok = host.parse::<std::net::Ipv4Addr>().is_ok() || is_dns_name(host);
                (host, port, ok)
            }
        };
        let port = match port {
            Some(p) => p.parse::<u16>().map_err(|_| bad())?,
            None => default_port,
        };
        if !host_ok {
            return Err(bad());
        }
        let from = from
            .parse::<Mailbox>()
            .map_err(|_| MailError::BadAddress(from.to_owned()))?;
        let tls = match scheme {
            "smtp" if !is_this_host(host) => {
                return Err(MailError::ClearTextRelay(host.to_owned()));
            }
            "smtp" => Tls::None,
            _ => {
                let mut params = TlsParameters::builder(host.to_owned());
                if let Some(pem) = &options.ca_pem {
                    if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
                        return Err(MailError::BadCa("no certificate in it".to_owned()));
                    }
                    let ca =
                        Certificate::from_pem(pem).map_err(|e| MailError::BadCa(e.to_string()))?;
                    params = params.add_root_certificate(ca);
                }
                let params = params.build().map_err(|e| MailError::Tls {
                    host: host.to_owned(),
                    reason: e.to_string(),
                })?;
                if scheme == "smtps" {
                    Tls::Wrapper(params)
                } else {
                    Tls::Required(params)
                }
            }
        };
        let in_clear = matches!(tls, Tls::None);
        let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .tls(tls)
            .timeout(Some(std::time::Duration::from_secs(10)));
        if let Some(login) = options.login {
            if in_clear {
                return Err(MailError::LoginInClear);
            }
            transport = transport.credentials(Credentials::new(login.user, login.password));
        }
        let transport = transport.build();
        Ok(Mailer { transport, from })
    }

    /// Sends a plain-text message.
    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), MailError> {
        let to = to
            .trim()
            .parse::<Mailbox>()
            .map_err(|_| MailError::BadAddress(to.to_owned()))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| MailError::Relay(e.to_string()))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| MailError::Relay(e.to_string()))
    }
}

/// A host name as DNS writes it: dot-separated labels of letters, digits
/// and inner hyphens, 63 bytes each, 253 in all; the last label not a
/// number, so that a mistyped IPv4 address is not taken for a name.
fn is_dns_name(host: &str) -> bool {
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    host.len() <= 253
        && host.split('.').all(label_ok)
        && host
            .rsplit('.')
            .next()
            .is_some_and(|last| !last.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether a relay's host is this machine, where clear text never leaves it.
fn is_this_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
