//! Mail to requesters leaves this host only encrypted: through a real SMTP
//! peer with STARTTLS required or with TLS from the first byte, its
//! certificate checked; clear text only to a relay on this host.

mod common;

use common::{Security, SmtpPeer};
use custode_server::mail::{Login, MailError, Mailer, RelayOptions};

const FROM: &str = "privacy@posta.example";
const TO: &str = "mario.rossi@example.org";

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("custode-mail-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

async fn send(mailer: &Mailer) -> Result<(), MailError> {
    mailer
        .send(TO, "Il suo codice", "Codice: 731 902".to_owned())
        .await
}

#[tokio::test]
async fn starttls_and_smtps_deliver_under_the_providers_ca() {
    let dir = scratch("tls");
    for (scheme, security) in [
        ("smtp+starttls", Security::StartTls),
        ("smtps", Security::Wrapper),
    ] {
        let peer = SmtpPeer::start_with(&dir, security);
        let relay = format!("{scheme}://localhost:{}", peer.port);
        let mailer = Mailer::new(&relay, FROM, trusting(&peer)).expect("mailer");
        send(&mailer).await.expect("delivered over TLS");
        let got = peer.messages();
        assert_eq!(got.len(), 1, "{scheme}: {got:?}");
        assert_eq!(got[0].0, TO);
        assert!(got[0].2.contains("731 902"), "{got:?}");

        // Without the provider's CA the certificate is not trusted, and
        // nothing is sent.
        let untrusting = Mailer::new(&relay, FROM, RelayOptions::default()).expect("mailer");
        let refused = send(&untrusting).await.expect_err("an untrusted relay");
        assert!(
            matches!(refused, MailError::Relay(_)) && refused.to_string().contains("certificate"),
            "{scheme}: {refused}"
        );
        assert_eq!(peer.messages().len(), 1, "{scheme}: nothing more arrived");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_relay_that_requires_starttls_gets_no_mail_in_clear() {
    let dir = scratch("clear");
    let peer = SmtpPeer::start_with(&dir, Security::StartTls);
    let clear = Mailer::new(
        &format!("smtp://127.0.0.1:{}", peer.port),
        FROM,
        RelayOptions::default(),
    )
    .expect("a relay on this host may be spoken to in clear");
    assert!(send(&clear).await.is_err());
    assert!(peer.messages().is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn relay_urls_are_checked_before_any_mail() {
    // Clear text is for this host only; TLS reaches any host.
    for relay in [
        "smtp://localhost",
        "smtp://127.0.0.1:2525",
        "smtp://[::1]:25",
        "smtp+starttls://mail.provider.example",
        "smtps://mail.provider.example:465",
        "smtp+starttls://[2001:db8::25]:587",
    ] {
        assert!(
            Mailer::new(relay, FROM, RelayOptions::default()).is_ok(),
            "{relay}"
        );
    }
    let err = Mailer::new(
        "smtp://mail.provider.example:25",
        FROM,
        RelayOptions::default(),
    )
    .err()
    .expect("clear text to another host");
    assert!(matches!(err, MailError::ClearTextRelay(_)), "{err}");
    assert!(err.to_string().contains("smtp+starttls://"), "{err}");
    for relay in [
        "mail.provider.example",
        "http://mail.provider.example",
        "smtps://",
        "smtps://user:secret@mail.provider.example",
        "smtps://mail.provider.example:port",
        "smtps://mail.provider.example/path",
        "smtps://[2001:db8::25",
        "smtps://[mail.provider.example]:465",
        "smtps://relay..provider.example",
        "smtps://mail provider.example",
        "smtps://-relay.provider.example",
        "smtps://relay!.provider.example",
        "smtps://999.1.1.1",
        "smtps://:465",
    ] {
        let err = Mailer::new(relay, FROM, RelayOptions::default())
            .err()
            .expect(relay);
        assert!(matches!(err, MailError::BadRelay(_)), "{relay}: {err}");
        assert!(!err.to_string().contains("secret"), "{err}");
    }
    let err = Mailer::new(
        "smtps://mail.provider.example",
        FROM,
        RelayOptions {
            ca_pem: Some(b"not a certificate".to_vec()),
            login: None,
        },
    )
    .err()
    .expect("a CA that is not PEM");
    assert!(matches!(err, MailError::BadCa(_)), "{err}");
    // A password never crosses the wire in clear, nor shows in a log.
    let login = || Login {
        user: "custode".to_owned(),
        password: "s3cret-relay-pass".to_owned(),
    };
    assert!(!format!("{:?}", login()).contains("s3cret"));
    let err = Mailer::new(
        "smtp://localhost",
        FROM,
        RelayOptions {
            ca_pem: None,
            login: Some(login()),
        },
    )
    .err()
    .expect("a login in clear");
    assert!(matches!(err, MailError::LoginInClear), "{err}");
}

fn trusting(peer: &SmtpPeer) -> RelayOptions {
    RelayOptions {
        ca_pem: peer.ca.clone(),
        login: None,
    }
}

#[tokio::test]
async fn a_submission_relay_takes_mail_after_the_login_only() {
    let dir = scratch("login");
    let peer = SmtpPeer::start_with_login(&dir, "custode", "s3cret-relay-pass");
    let relay = format!("smtp+starttls://localhost:{}", peer.port);
    let with = |password: Option<&str>| {
        Mailer::new(
            &relay,
            FROM,
            RelayOptions {
                login: password.map(|p| Login {
                    user: "custode".to_owned(),
                    password: p.to_owned(),
                }),
                ..trusting(&peer)
            },
        )
        .expect("mailer")
    };
    assert!(send(&with(None)).await.is_err(), "no login, no mail");
    let wrong = send(&with(Some("guess")))
        .await
        .expect_err("a wrong password");
    assert!(!wrong.to_string().contains("guess"), "{wrong}");
    assert!(peer.messages().is_empty());
    send(&with(Some("s3cret-relay-pass")))
        .await
        .expect("delivered after the login");
    assert_eq!(peer.messages().len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}
