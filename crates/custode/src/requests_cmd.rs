//! `custode requests`: the deadline of any date, checked by hand; the list
//! by urgency; one request with its identity check and fulfilment jobs; its
//! package written to a file; the Art. 19 notices to recipients, listed and
//! confirmed once staff told one. The rules live in the domain and the store.

use std::io::Write;

use anyhow::Context;
use clap::{ArgGroup, Subcommand};
use custode_domain::requests::Right;
use custode_domain::{Principal, Role, SystemClock};
use custode_server::Custode;
use custode_store::OpenMode;

use crate::Outcome;
use crate::data_cmd::StoreArgs;
use crate::output::outln;

#[derive(Subcommand)]
pub(crate) enum RequestCommand {
    /// Print the legal deadline (YYYY-MM-DD) of a request received on a date:
    /// GDPR Art. 12(3) counted by Regulation 1182/71 with the country's holidays.
    Deadline {
        /// The day the request was received, YYYY-MM-DD.
        #[arg(long)]
        received: String,
        /// The controller's member state (IT and FR holidays are known).
        #[arg(long, default_value = "IT")]
        country: String,
        /// With the two-month extension of Art. 12(3).
        #[arg(long)]
        extended: bool,
        /// The controller's own promise in days, when stricter ("within 30 days").
        #[arg(long)]
        promised_days: Option<u16>,
    },
    /// File a rights request, for a subject id or for the person an e-mail
    /// address, phone number or other identifier belongs to: the subject
    /// known by it is used; none known, one is made for the request and
    /// the provider's systems are searched when it is fulfilled. Prints the
    /// request id, the subject, the deadline and `found` (custode/created).
    #[command(group(ArgGroup::new("who").required(true).args(["subject", "email", "phone", "identifier"])))]
    File {
        /// The subject id.
        #[arg(long)]
        subject: Option<String>,
        /// The requester's e-mail address.
        #[arg(long)]
        email: Option<String>,
        /// The requester's phone number.
        #[arg(long)]
        phone: Option<String>,
        /// Another identifier the policy declares, as KIND=VALUE
        /// (e.g. customer_code=C-1234).
        #[arg(long)]
        identifier: Option<String>,
        /// A right asked (repeat for several): access, rectification,
        /// erasure, restriction, portability, objection,
        /// consent_withdrawal, human_review.
        #[arg(long = "right", required = true)]
        rights: Vec<String>,
        /// How to reach the requester (default: the e-mail address given).
        #[arg(long)]
        contact: Option<String>,
        /// The delegate's name, when someone asks for the person.
        #[arg(long)]
        delegate: Option<String>,
        /// By identifier: the tenant to look in and to put a person not
        /// found under (default: the only top-level tenant).
        #[arg(long)]
        tenant: Option<String>,
        /// By identifier: the subject kind of a person not found.
        #[arg(long)]
        kind: Option<String>,
        /// The requester's language (one of the policy's).
        #[arg(long)]
        language: Option<String>,
        /// The request in the requester's words.
        #[arg(long, default_value = "")]
        text: String,
    },
    /// Record that a requester's identity was verified elsewhere (how, by
    /// whom, with which reference), instead of a code or documents: only
    /// when the policy's `[rights] attest_roles` lets the DPO attest.
    Attest {
        /// The request id.
        id: String,
        /// How the identity was verified.
        #[arg(long)]
        method: String,
        /// Who verified it.
        #[arg(long)]
        verified_by: String,
        /// The reference of that check.
        #[arg(long)]
        reference: String,
    },
    /// List rights requests, nearest deadline first: id, due date, days
    /// left, rights, status.
    List {
        /// Include answered requests.
        #[arg(long)]
        all: bool,
    },
    /// Show one request: deadline, identity check, each right's job with
    /// its step, attempts and last error, and the outcome.
    Show {
        /// The request id.
        id: String,
    },
    /// Run the fulfilment steps due now (what `serve` does in the
    /// background), e.g. on an instance started with `--no-jobs`.
    Run {
        /// Seconds a claimed step is held before another worker may take it.
        #[arg(long, default_value_t = 10)]
        lease: u64,
        /// Keep going until no step is pending (waiting out retries and
        /// leases), instead of stopping when none is due now.
        #[arg(long)]
        until_done: bool,
    },
    /// Write a request's package (a ZIP) to a file, once its job is done.
    Export {
        /// The request id.
        id: String,
        /// `access` or `portability`.
        #[arg(long, default_value = "access")]
        right: String,
        /// Where to write it (`-` for standard output).
        #[arg(long, short)]
        out: String,
    },
    /// List the Art. 19 notices to recipients still pending (tasks for
    /// staff, mails not yet sent): request, right, recipient, channel,
    /// categories; with `--all`, also those told, with when and by whom.
    Notices {
        /// Include the recipients already told.
        #[arg(long)]
        all: bool,
    },
    /// Confirm that a recipient was told of a request's change (Art. 19):
    /// the day and who confirmed are recorded and audited.
    ConfirmNotice {
        /// The request id.
        id: String,
        /// `erasure`, `rectification` or `restriction`.
        right: String,
        /// The recipient's id in the policy.
        recipient: String,
    },
}

fn print_notice(n: &custode_requests::RecipientNotice) {
    println!(
        "{}	{}	{}	{}	{}	{}	{}",
        n.request,
        n.right,
        n.recipient,
        n.name,
        n.channel,
        n.categories.join(","),
        match (&n.told_at, &n.told_by) {
            (Some(at), Some(by)) => format!("told {at} by {by}"),
            _ => format!(
                "pending{}",
                n.last_error
                    .as_deref()
                    .map(|e| format!(" (last error: {e})"))
                    .unwrap_or_default()
            ),
        }
    );
}

/// The deadline, with no store.
pub(crate) fn deadline(
    received: &str,
    country: &str,
    extended: bool,
    promised_days: Option<u16>,
) -> anyhow::Result<Outcome> {
    let Some(day) = custode_domain::deadline::parse_date(received) else {
        anyhow::bail!("`{received}` is not a date: write YYYY-MM-DD");
    };
    let country = country.to_uppercase();
    if !custode_domain::deadline::knows_holidays_of(&country) {
        eprintln!(
            "custode: note: the public holidays of {country} are not known; only weekends are skipped"
        );
    }
    outln!(
        "{}",
        custode_domain::deadline::answer_due(day, &country, extended, promised_days)
    )?;
    Ok(Outcome::Ok)
}

/// The DPO at the console: reads are audited under this name.
fn dpo() -> Principal {
    Principal {
        role: Role::Dpo,
        ..crate::data_cmd::operator()
    }
}

/// The commands that need the store.
pub(crate) async fn run(args: &StoreArgs, cmd: RequestCommand) -> anyhow::Result<Outcome> {
    match cmd {
        RequestCommand::Deadline {
            received,
            country,
            extended,
            promised_days,
        } => deadline(&received, &country, extended, promised_days),
        RequestCommand::List { all } => {
            let app = args.open(OpenMode::Existing).await?;
            let requests = app.requests.requests(&dpo(), !all).await?;
            if requests.is_empty() {
                outln!("no requests")?;
            }
            for r in requests {
                let rights: Vec<&str> = r.rights.iter().map(|x| x.name()).collect();
                outln!(
                    "{}\tdue {}\t{} days left\t{}\t{}\t{}{}",
                    r.id,
                    r.due,
                    r.days_left,
                    rights.join(","),
                    r.status,
                    r.identity,
                    r.extension
                        .map(|e| format!("\textended: {e}"))
                        .unwrap_or_default()
                )?;
            }
            app.close().await;
            Ok(Outcome::Ok)
        }
        RequestCommand::Show { id } => {
            let app = args.open(OpenMode::Existing).await?;
            let r = app.requests.request(&dpo(), &id).await?;
            let rights: Vec<&str> = r.rights.iter().map(|x| x.name()).collect();
            outln!("request   {}", r.id)?;
            outln!("subject   {}", r.subject)?;
            outln!("rights    {}", rights.join(", "))?;
            outln!("requester {} ({})", r.requester, r.language)?;
            outln!("received  {}", r.received_at)?;
            outln!("due       {} ({} days left)", r.due, r.days_left)?;
            if let Some(e) = &r.extension {
                outln!("extended  {e}")?;
            }
            outln!(
                "identity  {}{}",
                r.identity,
                r.identity_method
                    .as_deref()
                    .map(|m| format!(" ({m})"))
                    .unwrap_or_default()
            )?;
            if let Some(d) = &r.duplicate_of {
                outln!("repeats   {d}")?;
            }
            for j in &r.jobs {
                outln!(
                    "job       {}: {} (step {}/{}{}){}",
                    j.right,
                    j.state,
                    j.step,
                    j.steps,
                    if j.attempts > 0 {
                        format!(", {} attempts", j.attempts)
                    } else {
                        String::new()
                    },
                    j.last_error
                        .as_deref()
                        .map(|e| format!("; last error: {e}"))
                        .unwrap_or_default()
                )?;
                if let Some(result) = &j.result {
                    outln!("          {result}")?;
                }
            }
            outln!(
                "status    {}{}",
                r.status,
                r.outcome
                    .as_deref()
                    .map(|o| format!(" ({o})"))
                    .unwrap_or_default()
            )?;
            app.close().await;
            Ok(Outcome::Ok)
        }
        RequestCommand::Run { lease, until_done } => {
            let app = args
                .open_with_systems(OpenMode::Existing, std::sync::Arc::new(SystemClock))
                .await?;
            let hook = custode_server::jobs::crash_hook();
            let lease = std::time::Duration::from_secs(lease.max(1));
            let mut total = 0;
            loop {
                total += app.requests.run_due_jobs(lease, &hook).await?;
                let Some(next) = app.requests.next_step_due().await? else {
                    break;
                };
                if !until_done {
                    break;
                }
                let wait =
                    std::time::Duration::try_from(next.duration_since(jiff::Timestamp::now()))
                        .unwrap_or_default()
                        .clamp(
                            std::time::Duration::from_millis(50),
                            std::time::Duration::from_secs(5),
                        );
                tokio::time::sleep(wait).await;
            }
            outln!("{total} fulfilment steps run")?;
            app.close().await;
            Ok(Outcome::Ok)
        }
        RequestCommand::Notices { all } => {
            let app = args.open(OpenMode::Existing).await?;
            let notices = app.requests.recipient_notices(&dpo(), !all).await?;
            if notices.is_empty() {
                println!("no notices");
            }
            for n in &notices {
                print_notice(n);
            }
            app.close().await;
            Ok(Outcome::Ok)
        }
        RequestCommand::ConfirmNotice {
            id,
            right,
            recipient,
        } => {
            let app = args.open(OpenMode::Existing).await?;
            let n = app
                .requests
                .confirm_recipient_notice(&dpo(), &id, &right, &recipient)
                .await?;
            print_notice(&n);
            app.close().await;
            Ok(Outcome::Ok)
        }
        RequestCommand::File {
            subject,
            email,
            phone,
            identifier,
            rights,
            contact,
            delegate,
            tenant,
            kind,
            language,
            text,
        } => {
            let app = args.open(OpenMode::Existing).await?;
            let outcome = file(
                &app,
                FileArgs {
                    subject,
                    email,
                    phone,
                    identifier,
                    rights,
                    contact,
                    delegate,
                    tenant,
                    kind,
                    language,
                    text,
                },
            )
            .await;
            app.close().await;
            invalid_is_exit_1(outcome)
        }
        RequestCommand::Attest {
            id,
            method,
            verified_by,
            reference,
        } => {
            let app = args.open(OpenMode::Existing).await?;
            let outcome = app
                .requests
                .attest_identity(
                    &dpo(),
                    &id,
                    custode_requests::Attestation {
                        method,
                        verified_by,
                        reference,
                    },
                )
                .await;
            app.close().await;
            let r = match outcome {
                Ok(r) => r,
                Err(e) => return invalid_is_exit_1(Err(e.into())),
            };
            outln!("{}	identity {}", r.id, r.identity)?;
            Ok(Outcome::Ok)
        }
        RequestCommand::Export { id, right, out } => {
            let right = match right.as_str() {
                "access" => Right::Access,
                "portability" => Right::Portability,
                other => anyhow::bail!("`{other}` has no package: use access or portability"),
            };
            let app = args.open(OpenMode::Existing).await?;
            let bytes = app.requests.request_export(&dpo(), &id, right).await?;
            app.close().await;
            if out == "-" {
                std::io::stdout().write_all(&bytes)?;
            } else {
                write_private(&out, &bytes).with_context(|| format!("cannot write {out}"))?;
                eprintln!("wrote {out} ({} bytes)", bytes.len());
            }
            Ok(Outcome::Ok)
        }
    }
}

struct FileArgs {
    subject: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    identifier: Option<String>,
    rights: Vec<String>,
    contact: Option<String>,
    delegate: Option<String>,
    tenant: Option<String>,
    kind: Option<String>,
    language: Option<String>,
    text: String,
}

/// Input the store refuses is the user's to fix: exit 1, not 2.
fn invalid_is_exit_1(outcome: anyhow::Result<Outcome>) -> anyhow::Result<Outcome> {
    match outcome {
        Err(e) => match e.downcast_ref::<custode_store::StoreError>() {
            Some(
                custode_store::StoreError::Invalid(_)
                | custode_store::StoreError::Forbidden(_)
                | custode_store::StoreError::Conflict(_)
                | custode_store::StoreError::NotFound { .. },
            ) => {
                eprintln!("custode: error: {e}");
                Ok(Outcome::Invalid)
            }
            _ => Err(e),
        },
        ok => ok,
    }
}

async fn file(app: &Custode, a: FileArgs) -> anyhow::Result<Outcome> {
    let invalid = |m: String| anyhow::Error::new(custode_store::StoreError::Invalid(m));
    let rights = a
        .rights
        .iter()
        .map(|r| Right::from_name(r).ok_or_else(|| invalid(format!("unknown right `{r}`"))))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let policy = app.store.policy();
    let language = a
        .language
        .as_deref()
        .map(|code| {
            custode_policy::Lang::parse(code)
                .ok_or_else(|| invalid(format!("`{code}` is not a language code")))
        })
        .transpose()?;
    let requester = match a.delegate {
        Some(name) => custode_requests::Requester::Delegate { name },
        None => custode_requests::Requester::Subject,
    };
    let identity = match (a.email, a.phone, a.identifier) {
        (Some(e), _, _) => Some(custode_requests::Identity::parse(&policy, "email", &e)?),
        (_, Some(p), _) => Some(custode_requests::Identity::parse(&policy, "phone", &p)?),
        (_, _, Some(i)) => {
            let Some((kind, value)) = i.split_once('=') else {
                return Err(invalid(format!(
                    "`--identifier {i}`: write KIND=VALUE, e.g. customer_code=C-1234"
                )));
            };
            Some(custode_requests::Identity::parse(
                &policy,
                kind.trim(),
                value,
            )?)
        }
        _ => None,
    };
    let by = dpo();
    let (r, found) = match identity {
        None => {
            let subject = a.subject.unwrap_or_default();
            let subject = custode_domain::SubjectId::parse(&subject)
                .map_err(|e| invalid(format!("`{subject}`: {e}")))?;
            let r = app
                .requests
                .file_request(
                    &by,
                    custode_requests::NewRequest {
                        subject,
                        rights,
                        requester,
                        contact: a.contact.unwrap_or_default(),
                        text: a.text,
                        language,
                    },
                )
                .await?;
            (r, None)
        }
        Some(identity) => {
            let tenant = a
                .tenant
                .as_deref()
                .map(|t| {
                    custode_domain::TenantId::parse(t).map_err(|e| invalid(format!("`{t}`: {e}")))
                })
                .transpose()?;
            let f = app
                .requests
                .file_request_by_identity(
                    &by,
                    custode_requests::RequestByIdentity {
                        identity,
                        tenant,
                        subject_kind: a.kind,
                        rights,
                        requester,
                        contact: a.contact,
                        text: a.text,
                        language,
                    },
                )
                .await?;
            (f.request, Some(f.found))
        }
    };
    outln!(
        "{}	subject {}	due {}{}",
        r.id,
        r.subject,
        r.due,
        found.map(|f| format!("	found {f}")).unwrap_or_default()
    )?;
    Ok(Outcome::Ok)
}

/// Writes a file only its owner can read: it holds personal data.
fn write_private(path: &str, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)
}
