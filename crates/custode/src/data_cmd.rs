//! The data commands: `init`, `tenants`, `subjects`, `records`, `audit`,
//! `keys`. Each opens the store as the local operator (the person holding
//! the data directory and the master key), does one thing, and prints.

use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use custode_domain::{
    NewRecord, Principal, Role, Scope, SubjectId, SystemClock, TenantId, TenantKind,
};
use custode_server::Custode;
use custode_store::{OpenMode, Store, StoreConfig};

use crate::Outcome;
use crate::output::{self, outln};

/// Where the data are.
#[derive(Args, Clone)]
pub(crate) struct StoreArgs {
    /// Data directory: the SQLite files and the master key live here.
    #[arg(
        long,
        env = "CUSTODE_DATA",
        default_value = "custode-data",
        global = true
    )]
    data: PathBuf,
    /// Main store URL, instead of the SQLite file in the data directory
    /// (`postgres://USER@HOST/DB`).
    #[arg(
        long,
        env = "CUSTODE_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    database: Option<String>,
    /// Key store URL, a different database from the main store.
    #[arg(
        long,
        env = "CUSTODE_KEYSTORE_URL",
        global = true,
        hide_env_values = true
    )]
    keystore: Option<String>,
    /// Vault URL: a database of its own (default `vault.db` in the data
    /// directory), under its own key (`vault.key` there, or
    /// `CUSTODE_VAULT_KEY`).
    #[arg(long, env = "CUSTODE_VAULT_URL", global = true, hide_env_values = true)]
    vault: Option<String>,
    /// The policy file in force.
    #[arg(
        long,
        env = "CUSTODE_POLICY",
        default_value = "policies/email-hosting.toml",
        global = true
    )]
    pub(crate) policy: PathBuf,
    /// The provider's own databases that rights requests reach: a
    /// directory of systems files (see docs/connectors.md). Without it,
    /// requests cover Custode's own store only. Read by the commands that
    /// reach them (`serve`, `requests run`), and only by those.
    #[arg(long, env = "CUSTODE_SYSTEMS", global = true)]
    systems: Option<PathBuf>,
}

impl StoreArgs {
    /// Opens the store without the provider's systems: commands that never
    /// reach them need neither their files nor their passwords.
    pub(crate) async fn open(&self, mode: OpenMode) -> anyhow::Result<Custode> {
        self.open_with(mode, Arc::new(SystemClock), false).await
    }

    /// Opens the store with the provider's systems attached (`--systems`),
    /// for the commands that fulfil rights requests.
    pub(crate) async fn open_with_systems(
        &self,
        mode: OpenMode,
        clock: Arc<dyn custode_domain::Clock>,
    ) -> anyhow::Result<Custode> {
        self.open_with(mode, clock, true).await
    }

    /// Opens the kernel alone, for the one command that needs it to
    /// itself (the master key's rotation).
    pub(crate) async fn open_kernel(&self, mode: OpenMode) -> anyhow::Result<Store> {
        let (config, policy) = self.config_and_policy(mode)?;
        Ok(Store::open(
            &config,
            custode_server::SCHEMA,
            Arc::new(policy),
            Arc::new(SystemClock),
        )
        .await?)
    }

    /// Where everything is, and the policy, read and validated.
    fn config_and_policy(
        &self,
        mode: OpenMode,
    ) -> anyhow::Result<(StoreConfig, custode_policy::Policy)> {
        let source = std::fs::read_to_string(&self.policy)
            .with_context(|| format!("cannot read the policy file {}", self.policy.display()))?;
        let policy = match custode_policy::load(&self.policy.display().to_string(), &source) {
            Ok(p) => p,
            Err(e) => {
                eprint!("{}", e.to_short_lines());
                bail!("the policy {} does not load", self.policy.display());
            }
        };
        let mut config = StoreConfig::in_data_dir(&self.data, mode)?;
        match (&self.database, &self.keystore) {
            (Some(db), Some(keys)) => {
                config.database_url = db.clone();
                config.keystore_url = keys.clone();
            }
            (Some(_), None) => {
                bail!("--database needs --keystore too: keys live in a database of their own")
            }
            (None, Some(keys)) => config.keystore_url = keys.clone(),
            (None, None) => {}
        }
        if let Some(vault) = &self.vault {
            config.vault_url = vault.clone();
        }
        Ok((config, policy))
    }

    async fn open_with(
        &self,
        mode: OpenMode,
        clock: Arc<dyn custode_domain::Clock>,
        systems: bool,
    ) -> anyhow::Result<Custode> {
        let (config, policy) = self.config_and_policy(mode)?;
        let connectors = self
            .systems
            .as_deref()
            .filter(|_| systems)
            .map(|dir| {
                custode_connectors::Connectors::load(dir, &policy)
                    .with_context(|| format!("the systems files in {} do not load", dir.display()))
            })
            .transpose()?;
        let app = Custode::open(&config, Arc::new(policy), clock).await?;
        if let Some(c) = connectors {
            app.requests.attach_systems(c)?;
        }
        Ok(app)
    }
}

/// The operator at the command line: every action is audited under this name.
pub(crate) fn operator() -> Principal {
    let user = std::env::var("USER").unwrap_or_else(|_| "operator".to_owned());
    Principal {
        id: format!("cli:{user}"),
        role: Role::Administrator,
        scope: Scope::everything(),
    }
}

#[derive(Subcommand)]
pub(crate) enum TenantCommand {
    /// Create a node of the tenancy tree; prints its id.
    Create {
        /// provider, reseller, domain or subscriber.
        #[arg(long)]
        kind: String,
        /// Its name.
        #[arg(long)]
        name: String,
        /// The parent's id (none for the provider).
        #[arg(long)]
        parent: Option<String>,
    },
    /// List the tenancy tree in tree order, each node with its subjects by
    /// kind and its children by kind.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Close a tenant and everything below it: every subject erased as the
    /// policy allows, every credential scoped to it revoked, its name
    /// replaced. Run it again to finish a close that was interrupted.
    Close {
        /// The tenant's id.
        id: String,
        /// Why (audited): the deactivation request, the contract's end.
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
pub(crate) enum SubjectCommand {
    /// Create a data subject under a tenant; prints its id.
    Create {
        /// The tenant's id.
        #[arg(long)]
        tenant: String,
        /// A subject kind of the policy.
        #[arg(long)]
        kind: String,
        /// Why (audited).
        #[arg(long, default_value = "created at the command line")]
        reason: String,
    },
    /// List subjects (id, kind, tenant, erasure: none, partial (kept until
    /// ...) or erased), by id.
    List {
        /// Start after this subject id.
        #[arg(long)]
        after: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 1000)]
        limit: u32,
    },
    /// Find the subjects an identifier belongs to (the look-up is audited):
    /// `--email`, `--phone`, or `--identifier KIND=VALUE` with any kind the
    /// policy declares.
    Find {
        /// An e-mail address.
        #[arg(long, conflicts_with_all = ["phone", "identifier"])]
        email: Option<String>,
        /// A phone number, in any usual spelling.
        #[arg(long, conflicts_with = "identifier")]
        phone: Option<String>,
        /// KIND=VALUE, e.g. `vat_number=IT01234567890`.
        #[arg(long)]
        identifier: Option<String>,
        /// Why you look them up (audited).
        #[arg(long)]
        reason: String,
        /// Print JSON instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Erase a subject: its key is destroyed, every copy of its data unreadable.
    Erase {
        /// The subject's id.
        subject: String,
        /// Why (audited), e.g. the request id.
        #[arg(long)]
        reason: String,
    },
    /// Record an event of a subject's life that retention counts from:
    /// account_closed, contract_ended or activity.
    Event {
        /// The subject's id.
        subject: String,
        /// The event.
        #[arg(long, value_parser = ["account_closed", "contract_ended", "activity"])]
        event: String,
        /// When it happened (RFC 3339); now when left out.
        #[arg(long)]
        at: Option<String>,
        /// Why (audited).
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
pub(crate) enum RecordCommand {
    /// Import records from JSON lines: {"subject", "category", "fields", "source"?, "purposes"?}.
    /// Each batch is one transaction; "committed N" is printed after each.
    Import {
        /// The file, or - for standard input.
        file: PathBuf,
        /// Records per transaction.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
    },
    /// Print a subject's records as JSON (the read is audited).
    Show {
        /// The subject's id.
        subject: String,
        /// Why you read them (audited).
        #[arg(long)]
        reason: String,
        /// Read only the records serving this purpose, for it: after a
        /// partial erasure, the ground that keeps them.
        #[arg(long)]
        purpose: Option<String>,
    },
}

#[derive(Subcommand)]
pub(crate) enum TokenCommand {
    /// Issue an API token bound to the person or system that holds it; it
    /// is printed once and never stored in clear. Tokens that read
    /// personal data (every role but administrator) are issued only here.
    Issue {
        /// What it is for.
        #[arg(long)]
        name: String,
        /// Who will hold it: a person's name or a system's (recorded,
        /// audited and shown to the DPO).
        #[arg(long)]
        holder: String,
        /// administrator, dpo, support_agent, legal_officer, reseller_admin,
        /// domain_admin, system, or subject (with --subject).
        #[arg(long)]
        role: String,
        /// The tenant it is bound to (default: the whole tree).
        #[arg(long)]
        tenant: Option<String>,
        /// For the subject role: the subject it is bound to.
        #[arg(long)]
        subject: Option<String>,
        /// Days until it expires.
        #[arg(long, default_value_t = 90)]
        days: u16,
    },
    /// List the tokens issued: holder, role, tenant, issuer, issued, last
    /// used, expiry, revocation (never a secret).
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by its id.
    Revoke {
        /// The token's id (the part between `cus_` and the dot).
        id: String,
    },
}

#[derive(Subcommand)]
pub(crate) enum AuditCommand {
    /// Verify the whole audit chain and its signed checkpoints.
    Verify,
    /// Sign the current head of the chain.
    Checkpoint,
    /// A subject's trail: who read or changed its data, when, in which role
    /// and why (the read is audited).
    Trail(crate::finding_cmd::TrailArgs),
}

#[derive(Subcommand)]
pub(crate) enum KeyCommand {
    /// Replace the master key; every stored key is re-wrapped, no payload touched.
    Rotate,
}

fn parse_subject(s: &str) -> anyhow::Result<SubjectId> {
    Ok(SubjectId::parse(s)?)
}

pub(crate) async fn init(args: &StoreArgs) -> anyhow::Result<Outcome> {
    let app = args.open(OpenMode::CreateIfMissing).await?;
    outln!(
        "store ready ({:?}); master key fingerprint {}",
        app.store.engine(),
        app.store.master_fingerprint()
    )?;
    app.close().await;
    Ok(Outcome::Ok)
}

pub(crate) async fn tenants(args: &StoreArgs, cmd: TenantCommand) -> anyhow::Result<Outcome> {
    let app = args.open(OpenMode::Existing).await?;
    match cmd {
        TenantCommand::Create { kind, name, parent } => {
            let kind = TenantKind::from_name(&kind).with_context(|| {
                format!(
                    "unknown tenant kind `{kind}`: use provider, reseller, domain or subscriber"
                )
            })?;
            let parent = parent.map(|p| TenantId::parse(&p)).transpose()?;
            let t = app
                .store
                .create_tenant(&operator(), parent.as_ref(), kind, &name)
                .await?;
            outln!("{}", t.id)?;
        }
        TenantCommand::List { json } => crate::finding_cmd::list_tenants(&app, json).await?,
        TenantCommand::Close { id, reason } => {
            let done = app
                .erasure
                .close_tenant(&operator(), &TenantId::parse(&id)?, &reason)
                .await?;
            if done.already_closed
                && done.erased + done.kept + done.tokens_revoked + done.sessions_ended == 0
            {
                outln!(
                    "tenant {} was already closed on {}: nothing left to do",
                    done.tenant,
                    done.closed_at
                )?;
            } else {
                outln!("tenant {} closed on {}", done.tenant, done.closed_at)?;
                outln!(
                    "  tenants closed: {}\n  subjects erased: {}\n  subjects erased but for what a legal obligation keeps (restricted to it): {}\n  tokens revoked: {}, sessions ended: {}, users disabled: {}",
                    done.tenants,
                    done.erased,
                    done.kept,
                    done.tokens_revoked,
                    done.sessions_ended,
                    done.users_disabled
                )?;
            }
        }
    }
    app.close().await;
    Ok(Outcome::Ok)
}

pub(crate) async fn subjects(args: &StoreArgs, cmd: SubjectCommand) -> anyhow::Result<Outcome> {
    let app = args.open(OpenMode::Existing).await?;
    match cmd {
        SubjectCommand::Create {
            tenant,
            kind,
            reason,
        } => {
            let id = app
                .store
                .create_subject(&operator(), &TenantId::parse(&tenant)?, &kind, &reason)
                .await?;
            outln!("{id}")?;
        }
        SubjectCommand::List { after, limit } => {
            let after = after.as_deref().map(parse_subject).transpose()?;
            for s in app
                .store
                .subjects(&operator(), after.as_ref(), limit)
                .await?
            {
                let erasure = match &s.erasure {
                    custode_store::ErasureState::Partial { kept_until, .. } => format!(
                        "partial (kept until {})",
                        kept_until.map_or("an event".to_owned(), |t| t.to_string())
                    ),
                    other => other.name().to_owned(),
                };
                outln!("{}\t{}\t{}\t{erasure}", s.id, s.kind, s.tenant)?;
            }
        }
        SubjectCommand::Find {
            email,
            phone,
            identifier,
            reason,
            json,
        } => {
            let outcome =
                crate::finding_cmd::find(&app, email, phone, identifier, &reason, json).await?;
            if let Outcome::Invalid = outcome {
                app.close().await;
                return Ok(outcome);
            }
        }
        SubjectCommand::Erase { subject, reason } => {
            app.store
                .erase_subject(&operator(), &parse_subject(&subject)?, &reason)
                .await?;
            outln!("erased {subject}: its key is destroyed")?;
        }
        SubjectCommand::Event {
            subject,
            event,
            at,
            reason,
        } => {
            let kind = custode_store::LifeEvent::from_name(&event)
                .with_context(|| format!("unknown event `{event}`"))?;
            let at = at
                .map(|t| {
                    t.parse::<jiff::Timestamp>()
                        .with_context(|| format!("`{t}` is not an RFC 3339 instant"))
                })
                .transpose()?;
            app.retention
                .record_life_event(&operator(), &parse_subject(&subject)?, kind, at, &reason)
                .await?;
            outln!("{event} recorded for {subject}; its records are rescheduled")?;
        }
    }
    app.close().await;
    Ok(Outcome::Ok)
}

fn parse_line(n: usize, line: &str) -> anyhow::Result<(SubjectId, NewRecord)> {
    let v: serde_json::Value =
        serde_json::from_str(line).with_context(|| format!("line {n}: not a JSON object"))?;
    let text = |key: &str| v.get(key).and_then(|x| x.as_str()).map(str::to_owned);
    let subject = text("subject").with_context(|| format!("line {n}: no \"subject\""))?;
    let category = text("category").with_context(|| format!("line {n}: no \"category\""))?;
    let fields = v
        .get("fields")
        .and_then(|f| f.as_object())
        .with_context(|| format!("line {n}: \"fields\" must be an object"))?
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let purposes = v
        .get("purposes")
        .and_then(|p| p.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|p| p.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Ok((
        SubjectId::parse(&subject).with_context(|| format!("line {n}"))?,
        NewRecord {
            category,
            fields,
            source: text("source").unwrap_or_else(|| "import".to_owned()),
            purposes,
            collected_at: None,
        },
    ))
}

pub(crate) async fn records(args: &StoreArgs, cmd: RecordCommand) -> anyhow::Result<Outcome> {
    let app = args.open(OpenMode::Existing).await?;
    let by = operator();
    match cmd {
        RecordCommand::Import { file, batch } => {
            // On a terminal, a bar over the file's bytes (a spinner for
            // standard input); "committed N" lines go to standard output
            // either way, for scripts.
            let (reader, progress): (Box<dyn BufRead>, _) = if file.as_os_str() == "-" {
                (
                    Box::new(std::io::stdin().lock()),
                    output::spinner("importing records"),
                )
            } else {
                let f = std::fs::File::open(&file)
                    .with_context(|| format!("cannot open {}", file.display()))?;
                let size = f.metadata().map(|m| m.len()).unwrap_or(0);
                let progress = output::bytes_bar(size, "importing records");
                (
                    Box::new(std::io::BufReader::new(progress.wrap_read(f))),
                    progress,
                )
            };
            let batch = batch.max(1);
            let mut pending = Vec::with_capacity(batch);
            let mut total = 0u64;
            for (i, line) in reader.lines().enumerate() {
                let line = line.context("cannot read the input")?;
                if line.trim().is_empty() {
                    continue;
                }
                pending.push(parse_line(i + 1, &line)?);
                if pending.len() == batch {
                    total += app
                        .store
                        .write_records(&by, "import", std::mem::take(&mut pending))
                        .await?;
                    progress.set_message(format!("importing records: {total} committed"));
                    progress.suspend(|| outln!("committed {total}"))?;
                }
            }
            if !pending.is_empty() {
                total += app.store.write_records(&by, "import", pending).await?;
                progress.suspend(|| outln!("committed {total}"))?;
            }
            // Finds by e-mail stay index probes after a large import.
            app.store.refresh_statistics().await?;
            progress.finish_and_clear();
        }
        RecordCommand::Show {
            subject,
            reason,
            purpose,
        } => {
            let subject = parse_subject(&subject)?;
            let records = match purpose {
                Some(p) => app.store.records_for(&by, &subject, &p, &reason).await?,
                None => app.store.records(&by, &subject, &reason).await?,
            };
            let json: Vec<serde_json::Value> = records
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "id": r.id,
                        "category": r.category,
                        "fields": r.fields,
                        "source": r.source,
                        "purposes": r.purposes,
                        "collected_at": r.collected_at.to_string(),
                        "retain_until": r.retain_until.map(|t| t.to_string()),
                    })
                })
                .collect();
            outln!("{}", serde_json::to_string_pretty(&json)?)?;
        }
    }
    app.close().await;
    Ok(Outcome::Ok)
}

pub(crate) async fn tokens(args: &StoreArgs, cmd: TokenCommand) -> anyhow::Result<Outcome> {
    let app = args.open(OpenMode::Existing).await?;
    match cmd {
        TokenCommand::Issue {
            name,
            holder,
            role,
            tenant,
            subject,
            days,
        } => {
            let role = Role::from_name(&role).with_context(|| format!("unknown role `{role}`"))?;
            let subject = subject.as_deref().map(parse_subject).transpose()?;
            if (role == Role::Subject) != subject.is_some() {
                bail!("--subject is given exactly for the subject role");
            }
            let scope_path = match tenant {
                Some(t) => {
                    app.store
                        .tenant(&operator(), &TenantId::parse(&t)?)
                        .await?
                        .path
                }
                None => "/".to_owned(),
            };
            let expires = jiff::Timestamp::now().checked_add(jiff::SignedDuration::from_hours(
                24 * i64::from(days.clamp(1, 365)),
            ))?;
            let issued = app
                .accounts
                .issue_held_token(
                    &operator(),
                    &name,
                    &holder,
                    &custode_accounts::Grant {
                        role,
                        scope_path,
                        subject,
                    },
                    Some(expires),
                )
                .await?;
            outln!("{}", issued.token)?;
        }
        TokenCommand::List { json } => {
            let tokens = app.accounts.list_tokens(&operator()).await?;
            let at = |t: Option<jiff::Timestamp>| t.map(|t| t.to_string());
            if json {
                let rows: Vec<serde_json::Value> = tokens
                    .iter()
                    .map(|t| {
                        serde_json::json!({
                            "id": t.id,
                            "name": t.name,
                            "holder": t.holder,
                            "role": t.role,
                            "scope": t.scope_path,
                            "subject": t.subject,
                            "issued_by": t.issued_by,
                            "issued_at": t.issued_at.to_string(),
                            "expires_at": at(t.expires_at),
                            "last_used_at": at(t.last_used_at),
                            "revoked_at": at(t.revoked_at),
                        })
                    })
                    .collect();
                outln!("{}", serde_json::to_string_pretty(&rows)?)?;
            } else {
                outln!(
                    "{:<24}  {:<14}  {:<24}  {:<20}  {:<10}  {:<10}  {:<7}  ISSUED BY",
                    "ID",
                    "ROLE",
                    "HOLDER",
                    "SCOPE",
                    "ISSUED",
                    "LAST USED",
                    "STATE"
                )?;
                let day = |t: jiff::Timestamp| t.to_string().chars().take(10).collect::<String>();
                let now = jiff::Timestamp::now();
                for t in &tokens {
                    let state = if t.revoked_at.is_some() {
                        "revoked"
                    } else if t.expires_at.is_some_and(|e| e <= now) {
                        "expired"
                    } else {
                        "active"
                    };
                    outln!(
                        // The issuer last: a user id is longer than any column.
                        "{:<24}  {:<14}  {:<24}  {:<20}  {:<10}  {:<10}  {state:<7}  {}",
                        t.id,
                        t.role,
                        t.holder.as_deref().unwrap_or("-"),
                        t.scope_path,
                        day(t.issued_at),
                        t.last_used_at.map_or_else(|| "never".to_owned(), day),
                        t.issued_by,
                    )?;
                }
            }
        }
        TokenCommand::Revoke { id } => {
            app.accounts.revoke_token(&operator(), &id).await?;
            outln!("revoked {id}")?;
        }
    }
    app.close().await;
    Ok(Outcome::Ok)
}

pub(crate) async fn audit(args: &StoreArgs, cmd: AuditCommand) -> anyhow::Result<Outcome> {
    let app = args.open(OpenMode::Existing).await?;
    let outcome = match cmd {
        AuditCommand::Verify => {
            let started = std::time::Instant::now();
            let progress = output::spinner("verifying the audit chain");
            let report = app.vault.audit_verify().await?;
            progress.finish_and_clear();
            let secs = started.elapsed().as_secs_f64();
            if report.is_intact() {
                outln!(
                    "audit chain intact: {} entries, head {} at entry {} ({:.0} entries/s)",
                    report.checked,
                    custode_crypto_hex(&report.head),
                    report.last_seq,
                    report.checked as f64 / secs.max(1e-9)
                )?;
                Outcome::Ok
            } else {
                outln!(
                    "audit chain BROKEN: {} entries read, {} breaks",
                    report.checked,
                    report.breaks.len()
                )?;
                for b in &report.breaks {
                    outln!("- {b}")?;
                }
                Outcome::Invalid
            }
        }
        AuditCommand::Trail(args) => crate::finding_cmd::trail(&app, args).await?,
        AuditCommand::Checkpoint => {
            match app.store.audit_checkpoint().await? {
                Some(cp) => outln!("signed checkpoint at entry {}", cp.seq)?,
                None => outln!("nothing to sign: the head is already signed, or the log is empty")?,
            }
            Outcome::Ok
        }
    };
    app.close().await;
    Ok(outcome)
}

/// The first 8 bytes of a hash, as the verify line shows it.
fn custode_crypto_hex(bytes: &[u8]) -> String {
    hex::encode(&bytes[..bytes.len().min(8)])
}

pub(crate) async fn keys(args: &StoreArgs, cmd: KeyCommand) -> anyhow::Result<Outcome> {
    let mut store = args.open_kernel(OpenMode::Existing).await?;
    match cmd {
        KeyCommand::Rotate => {
            let old = store.master_fingerprint();
            let progress = output::spinner("re-wrapping every subject key under a new master key");
            let n = store
                .rotate_master_key(&operator(), custode_crypto::Key::generate()?)
                .await?;
            progress.finish_and_clear();
            outln!(
                "master key rotated: {old} -> {}; {n} subject keys re-wrapped",
                store.master_fingerprint()
            )?;
        }
    }
    store.close().await;
    Ok(Outcome::Ok)
}
