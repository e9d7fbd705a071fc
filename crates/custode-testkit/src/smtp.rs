//! A real SMTP peer for the tests: aiosmtpd (installed by
//! `scripts/services`), in clear, with STARTTLS required, or with TLS from
//! the first byte, under certificates of a CA made for the test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

/// How the peer speaks.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Security {
    Clear,
    /// STARTTLS, required before any mail.
    StartTls,
    /// TLS from the first byte (SMTPS).
    Wrapper,
}

/// An SMTP server delivering into a Maildir; killed on drop.
pub struct SmtpPeer {
    child: Child,
    pub port: u16,
    maildir: PathBuf,
    /// The CA that signed the peer's certificate (PEM), when it has one.
    pub ca: Option<Vec<u8>>,
}

impl SmtpPeer {
    /// A peer in clear.
    pub fn start(dir: &Path) -> SmtpPeer {
        SmtpPeer::start_with(dir, Security::Clear)
    }

    /// A peer that speaks `security`.
    pub fn start_with(dir: &Path, security: Security) -> SmtpPeer {
        SmtpPeer::spawn(dir, security, None)
    }

    /// A peer with STARTTLS required that takes mail only after a login
    /// as `user` with `password`.
    pub fn start_with_login(dir: &Path, user: &str, password: &str) -> SmtpPeer {
        SmtpPeer::spawn(dir, Security::StartTls, Some((user, password)))
    }

    fn spawn(dir: &Path, security: Security, login: Option<(&str, &str)>) -> SmtpPeer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("a free port")
            .local_addr()
            .expect("addr")
            .port();
        let maildir = dir.join(format!("maildir-{port}"));
        let mut command = Command::new("python3");
        let mut ca = None;
        if let Some((user, password)) = login {
            // aiosmtpd's command line has no login: its controller does.
            let (ca_file, cert, key) = certificates(dir, port);
            ca = Some(ca_file);
            command
                .args(["-c", WITH_LOGIN, &port.to_string()])
                .arg(&maildir)
                .args([&cert, &key])
                .args([user, password]);
        } else {
            command
                .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
                .args(["-c", "aiosmtpd.handlers.Mailbox"]);
            if security != Security::Clear {
                let (ca_file, cert, key) = certificates(dir, port);
                ca = Some(ca_file);
                let flags = if security == Security::StartTls {
                    ["--tlscert", "--tlskey"]
                } else {
                    ["--smtpscert", "--smtpskey"]
                };
                command.arg(flags[0]).arg(&cert).arg(flags[1]).arg(&key);
            }
            command.arg(&maildir);
        }
        let ca = ca.map(|f| std::fs::read(f).expect("the CA certificate"));
        // The peer's own log (a refused handshake is logged there) goes to
        // a file, shown if it does not start.
        let log = dir.join(format!("smtp-{port}.log"));
        let mut child = command
            .stderr(std::fs::File::create(&log).expect("peer log"))
            .spawn()
            .expect("python3 -m aiosmtpd runs (scripts/services installs it)");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return SmtpPeer {
                    child,
                    port,
                    maildir,
                    ca,
                };
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "the SMTP peer did not start on port {port}: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// The messages delivered so far, decoded: (recipient, subject, body).
    pub fn messages(&self) -> Vec<(String, String, String)> {
        if !self.maildir.exists() {
            return Vec::new();
        }
        let script = r#"
import email, email.policy, json, mailbox, sys
out = []
for m in mailbox.Maildir(sys.argv[1], factory=None):
    msg = email.message_from_bytes(m.as_bytes(), policy=email.policy.default)
    out.append([str(msg["To"]), str(msg["Subject"]), msg.get_content()])
print(json.dumps(out))
"#;
        let out = Command::new("python3")
            .args(["-c", script])
            .arg(&self.maildir)
            .output()
            .expect("python3");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("json")
    }
}

impl Drop for SmtpPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// aiosmtpd with STARTTLS required and a login required inside it:
/// `port maildir cert key user password`.
const WITH_LOGIN: &str = r#"
import ssl, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword
port, maildir, cert, key, user, password = sys.argv[1:7]
tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
tls.load_cert_chain(cert, key)
def check(server, session, envelope, mechanism, data):
    ok = isinstance(data, LoginPassword) and data.login.decode() == user and data.password.decode() == password
    return AuthResult(success=ok, handled=False)
Controller(Mailbox(maildir), hostname="127.0.0.1", port=int(port), tls_context=tls,
           require_starttls=True, authenticator=check, auth_required=True,
           auth_require_tls=True).start()
while True:
    time.sleep(3600)
"#;

/// A CA and a certificate for `localhost` signed by it, made with the
/// openssl command: (CA certificate, relay certificate, relay key).
fn certificates(dir: &Path, port: u16) -> (PathBuf, PathBuf, PathBuf) {
    let at = |name: &str| dir.join(format!("smtp-{port}-{name}"));
    let (ca_key, ca, key, csr, cert, ext) = (
        at("ca.key"),
        at("ca.pem"),
        at("relay.key"),
        at("relay.csr"),
        at("relay.pem"),
        at("relay.ext"),
    );
    std::fs::write(
        &ext,
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("extensions");
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl runs (scripts/services installs it)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let p = |path: &PathBuf| path.to_str().expect("utf-8 path").to_owned();
    openssl(
        &[
            &[
                "req",
                "-x509",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=Custode test relay CA",
            ][..],
            &ec,
            &["-keyout", &p(&ca_key), "-out", &p(&ca)],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req", "-nodes", "-subj", "/CN=localhost"][..],
            &ec,
            &["-keyout", &p(&key), "-out", &p(&csr)],
        ]
        .concat(),
    );
    openssl(&[
        "x509",
        "-req",
        "-days",
        "2",
        "-in",
        &p(&csr),
        "-CA",
        &p(&ca),
        "-CAkey",
        &p(&ca_key),
        "-CAcreateserial",
        "-extfile",
        &p(&ext),
        "-out",
        &p(&cert),
    ]);
    (ca, cert, key)
}
