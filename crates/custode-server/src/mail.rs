//! Mail to requesters: one-time codes and answers, through the provider's
//! own relay (`smtp://host:port`, usually its MTA on the same host, which
//! does TLS and DKIM onward). Nothing is queued here: a message the relay
//! does not accept is an error the caller reports, and the code or answer
//! can be sent again.

use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// Why a message was not handed over.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The relay URL is not `smtp://host[:port]`.
    #[error("the mail relay must be given as smtp://host[:port]; got `{0}`")]
    BadRelay(String),
    /// An address is malformed.
    #[error("`{0}` is not an e-mail address")]
    BadAddress(String),
    /// The relay refused or could not be reached.
    #[error("the mail relay did not accept the message: {0}")]
    Relay(String),
}

/// A relay and the sender's address.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// A mailer for `smtp://host[:port]` (port 25 by default) sending as
    /// `from`.
    pub fn new(relay: &str, from: &str) -> Result<Mailer, MailError> {
        let rest = relay
            .strip_prefix("smtp://")
            .filter(|r| !r.is_empty() && !r.contains('/') && !r.contains('@'))
            .ok_or_else(|| MailError::BadRelay(relay.to_owned()))?;
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>()
                    .map_err(|_| MailError::BadRelay(relay.to_owned()))?,
            ),
            None => (rest, 25),
        };
        let from = from
            .parse::<Mailbox>()
            .map_err(|_| MailError::BadAddress(from.to_owned()))?;
        // A local relay: the provider's MTA carries the message on, with TLS.
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .timeout(Some(std::time::Duration::from_secs(10)))
            .build();
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
