//! `custode serve`: opens (or creates) the app, prints the one-time setup
//! token on first start, and serves HTTP until SIGINT or SIGTERM, letting
//! requests in flight finish.

use std::io::IsTerminal;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use custode_domain::SystemClock;
use custode_store::OpenMode;

use crate::Outcome;
use crate::data_cmd::StoreArgs;
use crate::log_output::BatchedStdout;
use crate::output::outln;

#[derive(Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "CUSTODE_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "CUSTODE_LOG_JSON")]
    log_json: bool,
    /// Minutes between signed audit checkpoints (0 disables).
    #[arg(long, env = "CUSTODE_CHECKPOINT_MINUTES", default_value_t = 10)]
    checkpoint_minutes: u64,
    /// Run no background job on this instance.
    #[arg(long, env = "CUSTODE_NO_JOBS")]
    no_jobs: bool,
    /// The public base URL people and mail receivers reach this instance
    /// at (`https://privacy.example`), for unsubscribe links and receipts.
    /// Default: `http://` and the listening address.
    #[arg(long, env = "CUSTODE_PUBLIC_URL")]
    public_url: Option<String>,
    /// The mail relay one-time codes and answers go through:
    /// `smtp://host[:port]` for the provider's MTA on this host,
    /// `smtp+starttls://host[:port]` or `smtps://host[:port]` for a relay
    /// elsewhere. Without it, identities are checked on documents and
    /// answers are sent by staff.
    #[arg(long, env = "CUSTODE_SMTP")]
    smtp: Option<String>,
    /// A CA certificate (PEM) to trust for the relay, besides the system's.
    #[arg(long, env = "CUSTODE_SMTP_CA")]
    smtp_ca: Option<std::path::PathBuf>,
    /// The account on a relay that asks for a login (over TLS only). The
    /// password comes from `--smtp-password-file` or the variable
    /// `CUSTODE_SMTP_PASSWORD`, never from the command line.
    #[arg(long, env = "CUSTODE_SMTP_USER")]
    smtp_user: Option<String>,
    /// A file holding the relay's password (its first line).
    #[arg(long, env = "CUSTODE_SMTP_PASSWORD_FILE")]
    smtp_password_file: Option<std::path::PathBuf>,
    /// The sender of that mail.
    #[arg(long, env = "CUSTODE_MAIL_FROM", default_value = "privacy@localhost")]
    mail_from: String,
    /// The address of a reverse proxy in front of this server (several
    /// separated by commas). Only from these peers is `X-Forwarded-For`
    /// believed, and only its right-most address that is not one of them:
    /// that is the client whose failed authentications are counted.
    #[arg(long, env = "CUSTODE_TRUSTED_PROXY", value_delimiter = ',')]
    trusted_proxy: Vec<std::net::IpAddr>,
    /// Seconds a client has to send a whole request header (after
    /// connecting, or after its previous answer) before it is
    /// disconnected.
    #[arg(long, env = "CUSTODE_HEADER_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_timeout: u64,
    /// Connections served at once; more wait in the listen queue.
    #[arg(long, env = "CUSTODE_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections: u64,
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

pub(crate) async fn serve(store_args: &StoreArgs, args: ServeArgs) -> anyhow::Result<Outcome> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CUSTODE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let (output, _flush_on_return) = BatchedStdout::start()?;
    // Colours only for a person at a terminal: a log file or collector
    // would store the escape codes.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal());
    if args.log_json {
        builder.json().with_writer(move || output).init();
    } else {
        builder.with_writer(move || output).init();
    }
    let mailer = match &args.smtp {
        Some(relay) => Some(custode_server::mail::Mailer::new(
            relay,
            &args.mail_from,
            relay_options(&args)?,
        )?),
        None => None,
    };
    let clock = Arc::new(SystemClock);
    let app = store_args
        .open_with_systems(OpenMode::CreateIfMissing, clock.clone())
        .await?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    if let Some(token) = app.accounts.setup_token().await? {
        // Shown once, on the terminal of whoever started the server.
        outln!(
            "First start. Create the administrator (the token works once):\n\n  curl -X POST http://{addr}/api/v1/setup -H 'content-type: application/json' \\\n    -d '{{\"setup_token\": \"{token}\", \"username\": \"admin\", \"password\": \"<at least 12 characters>\"}}'\n"
        )?;
    }
    outln!(
        "custode listening on http://{addr} (portal and console at http://{addr}/, notice at http://{addr}/notice, API at http://{addr}/openapi.json)"
    )?;
    tracing::info!(%addr, engine = ?app.store.engine(), "serving");
    if let Some(warning) = public_url_warning(args.public_url.as_deref(), addr) {
        tracing::warn!("{warning}");
    }
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    {
        // Decisions are answered from memory once warm; until then from
        // the ledger, so serving starts at once.
        let ledger = app.ledger.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            match ledger.warm_decisions().await {
                Ok(n) => tracing::info!(
                    subjects = n,
                    seconds = started.elapsed().as_secs_f64(),
                    "consent decisions warm"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "consent decisions stay cold; answered from the ledger")
                }
            }
        });
    }
    let mut state = custode_server::AppState::new(app.clone(), clock)
        .with_policy_path(store_args.policy.clone())
        .with_public_url(&public_url)
        .with_trusted_proxies(args.trusted_proxy.clone());
    if let Some(mailer) = mailer {
        state = state.with_mailer(mailer);
    }
    #[cfg(unix)]
    {
        // SIGHUP re-reads the policy; an invalid file is refused and logged.
        let state = state.clone();
        tokio::spawn(async move {
            let Ok(mut hup) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            else {
                return;
            };
            while hup.recv().await.is_some() {
                match state
                    .reload_policy(&custode_domain::Principal::system("sighup"))
                    .await
                {
                    Ok((digest, reconsent)) => {
                        tracing::info!(%digest, ?reconsent, "policy reloaded on SIGHUP")
                    }
                    Err(e) => {
                        tracing::error!(error = ?e, "policy reload refused; the policy in force stays")
                    }
                }
            }
        });
    }
    if !args.no_jobs {
        let minutes = args.checkpoint_minutes;
        custode_server::jobs::start(
            state.clone(),
            custode_server::jobs::Schedule {
                checkpoint_every: (minutes > 0)
                    .then(|| std::time::Duration::from_secs(minutes * 60)),
                ..Default::default()
            },
        );
    }
    let limits = custode_server::ConnectionLimits {
        header_timeout: std::time::Duration::from_secs(args.header_timeout),
        max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
    };
    // The pages and the API, one router (the pages first; `/api/` keeps
    // the API's JSON 404).
    custode_server::serve_app(
        listener,
        custode_web::app(state.clone()),
        limits,
        shutdown_signal(),
    )
    .await?;
    drop(state);
    app.close().await;
    Ok(Outcome::Ok)
}

/// What to tell the operator about the base URL of unsubscribe links and
/// receipts: RFC 8058 one-click unsubscribe needs https, and a default
/// built from the listening address reaches only this machine.
fn public_url_warning(public_url: Option<&str>, addr: std::net::SocketAddr) -> Option<String> {
    let Some(url) = public_url else {
        return Some(format!(
            "no --public-url: unsubscribe links and receipts point at http://{addr}, which works only \
             on this machine; set --public-url (CUSTODE_PUBLIC_URL) to the https address people reach"
        ));
    };
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") {
        return None;
    }
    let host = lower
        .strip_prefix("http://")
        .map(|rest| rest.split('/').next().unwrap_or(""))
        .map(|authority| {
            authority
                .rsplit_once('@')
                .map_or(authority, |(_, h)| h)
                .to_owned()
        });
    let loopback = host.as_deref().is_some_and(|h| {
        let name = if let Some(v6) = h.strip_prefix('[') {
            v6.split(']').next().unwrap_or("")
        } else {
            h.split(':').next().unwrap_or("")
        };
        name == "localhost"
            || name
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    });
    if loopback {
        return None;
    }
    Some(format!(
        "--public-url {url} is not https: RFC 8058 one-click unsubscribe needs https, and mail \
         receivers may ignore such links; use the https address people reach"
    ))
}

/// The relay's CA and login, read from their files and variables.
fn relay_options(args: &ServeArgs) -> anyhow::Result<custode_server::mail::RelayOptions> {
    let read = |f: &std::path::Path| {
        std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))
    };
    let ca_pem = args.smtp_ca.as_deref().map(read).transpose()?;
    let login = match &args.smtp_user {
        None => None,
        Some(user) => {
            let source = match &args.smtp_password_file {
                Some(f) => custode_connectors::PasswordSource::File(f.clone()),
                None => custode_connectors::PasswordSource::Env("CUSTODE_SMTP_PASSWORD".into()),
            };
            // A file or variable source always yields a password or says
            // why not.
            let hint =
                "--smtp-user needs a password: --smtp-password-file or CUSTODE_SMTP_PASSWORD";
            let password = source
                .read()
                .map_err(|e| anyhow::anyhow!("{hint} ({e})"))?
                .context(hint)?;
            Some(custode_server::mail::Login {
                user: user.clone(),
                password,
            })
        }
    };
    Ok(custode_server::mail::RelayOptions { ca_pem, login })
}

#[cfg(test)]
mod tests {
    use super::public_url_warning;

    #[test]
    fn warns_unless_the_public_url_is_https_or_this_machine() {
        let addr = "127.0.0.1:8080".parse().expect("address");
        for (url, warned) in [
            (Some("https://privacy.example"), false),
            (Some("HTTPS://privacy.example/"), false),
            (Some("http://127.0.0.1:8080"), false),
            (Some("http://localhost"), false),
            (Some("http://[::1]:8080"), false),
            (Some("http://privacy.example"), true),
            (Some("http://10.0.0.5:8080"), true),
            (Some("http://127.0.0.1.example"), true),
            (Some("privacy.example"), true),
            (None, true),
        ] {
            assert_eq!(public_url_warning(url, addr).is_some(), warned, "{url:?}");
        }
        let unset = public_url_warning(None, addr).expect("warned");
        assert!(unset.contains("only on this machine"), "{unset}");
    }
}
