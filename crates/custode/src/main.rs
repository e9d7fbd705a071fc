//! `custode`: the one binary. Each subcommand is a thin face over the domain
//! crates: it parses arguments, reads files, calls one function, and prints.

mod backup_cmd;
mod breaches_cmd;
mod config;
mod consent_cmd;
mod data_cmd;
mod finding_cmd;
mod log_output;
mod output;
mod people_cmd;
mod policy_cmd;
mod requests_cmd;
mod retention_cmd;
mod serve_cmd;
mod systems_cmd;
mod traffic_cmd;

use std::process::ExitCode;

// The server allocates and frees small buffers on many threads (request
// parts, decrypted payloads, JSON): glibc's allocator spent a fifth of a
// records read consolidating and unlinking chunks; mimalloc's thread-local
// free lists do not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// Custode keeps a provider's personal data the way its privacy policy promises.
#[derive(Parser)]
#[command(name = "custode", version, about, propagate_version = true)]
struct Cli {
    /// A TOML file with settings (data, database, keystore, policy, listen,
    /// log_json); flags and environment variables win over it.
    #[arg(long, env = "CUSTODE_CONFIG", global = true)]
    config: Option<std::path::PathBuf>,
    #[command(flatten)]
    store: data_cmd::StoreArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a policy file and render its notice and record of processing.
    #[command(subcommand)]
    Policy(policy_cmd::PolicyCommand),
    /// Run the HTTP server (API, notice, health, metrics).
    Serve(serve_cmd::ServeArgs),
    /// Create the data directory, the databases and the master key.
    Init,
    /// The tenancy tree: provider, resellers, domains, subscribers.
    #[command(subcommand)]
    Tenants(data_cmd::TenantCommand),
    /// Data subjects.
    #[command(subcommand)]
    Subjects(data_cmd::SubjectCommand),
    /// Personal data records.
    #[command(subcommand)]
    Records(data_cmd::RecordCommand),
    /// Rights requests.
    #[command(subcommand)]
    Requests(requests_cmd::RequestCommand),
    /// API tokens for machines and people.
    #[command(subcommand)]
    Tokens(data_cmd::TokenCommand),
    /// People: invite, list, disable, enable, change role, reset a second factor.
    #[command(subcommand)]
    Users(people_cmd::UsersCommand),
    /// The hash-chained audit log.
    #[command(subcommand)]
    Audit(data_cmd::AuditCommand),
    /// The master key.
    #[command(subcommand)]
    Keys(data_cmd::KeyCommand),
    /// Consent receipts.
    #[command(subcommand)]
    Consent(consent_cmd::ConsentCommand),
    /// Retention: erase what is due, plan, report.
    #[command(subcommand)]
    Retention(retention_cmd::RetentionCommand),
    /// External systems (the provider's own databases): scan, check.
    #[command(subcommand)]
    Systems(systems_cmd::SystemsCommand),
    /// Backups that hold no key: take one, rotate and list backup keys.
    #[command(subcommand)]
    Backup(backup_cmd::BackupCommand),
    /// Rebuild a store from a backup while its backup key lives.
    Restore(backup_cmd::RestoreArgs),
    /// Traffic data: ingest call records, RADIUS and mail logs; drop
    /// expired months; verify a judicial answer.
    #[command(subcommand)]
    Traffic(traffic_cmd::TrafficCommand),
    /// The breach register (Art. 33–34): record, clocks, notices.
    #[command(subcommand)]
    Breaches(breaches_cmd::BreachesCommand),
}

/// How the process ends, for scripts: 0 success, 1 the input is invalid (or
/// the audit chain broken), 2 the command could not run.
pub(crate) enum Outcome {
    Ok,
    Invalid,
}

fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Policy(cmd) => return policy_cmd::run(cmd),
        Command::Requests(requests_cmd::RequestCommand::Deadline {
            received,
            country,
            extended,
            promised_days,
        }) => return requests_cmd::deadline(&received, &country, extended, promised_days),
        _ => {}
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store = &cli.store;
        match cli.command {
            Command::Policy(_) => unreachable!("handled above"),
            Command::Requests(cmd) => requests_cmd::run(store, cmd).await,
            Command::Serve(args) => serve_cmd::serve(store, args).await,
            Command::Init => data_cmd::init(store).await,
            Command::Tenants(cmd) => data_cmd::tenants(store, cmd).await,
            Command::Subjects(cmd) => data_cmd::subjects(store, cmd).await,
            Command::Records(cmd) => data_cmd::records(store, cmd).await,
            Command::Tokens(cmd) => data_cmd::tokens(store, cmd).await,
            Command::Users(cmd) => people_cmd::run(store, cmd).await,
            Command::Audit(cmd) => data_cmd::audit(store, cmd).await,
            Command::Keys(cmd) => data_cmd::keys(store, cmd).await,
            Command::Consent(cmd) => consent_cmd::run(store, cmd).await,
            Command::Retention(cmd) => retention_cmd::run(store, cmd).await,
            Command::Systems(cmd) => systems_cmd::run(store, cmd).await,
            Command::Backup(cmd) => backup_cmd::backup(store, cmd).await,
            Command::Restore(args) => backup_cmd::restore(store, args).await,
            Command::Traffic(cmd) => traffic_cmd::run(store, cmd).await,
            Command::Breaches(cmd) => breaches_cmd::run(store, cmd).await,
        }
    })
}

/// Parses the command line, with the configuration file's settings as
/// defaults below flags and environment variables.
fn parse() -> anyhow::Result<Cli> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let mut command = Cli::command();
    if let Some(path) = config::path(&args) {
        for (flag, value, serve) in config::load(&path)? {
            command = if serve {
                command.mut_subcommand("serve", |s| s.mut_arg(flag, |a| a.default_value(value)))
            } else {
                command.mut_arg(flag, |a| a.default_value(value))
            };
        }
    }
    let matches = command.get_matches_from(args);
    Ok(Cli::from_arg_matches(&matches)?)
}

fn main() -> ExitCode {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(err) => {
            eprintln!("custode: error: {err:#}");
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Invalid) => ExitCode::from(1),
        // The reader of standard output went away (`| head`): stop quietly.
        Err(err) if output::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprint!("custode: error: {err}");
            for cause in err.chain().skip(1) {
                eprint!(": {cause}");
            }
            eprintln!();
            ExitCode::from(2)
        }
    }
}
