//! `custode`: the one binary. Each subcommand is a thin face over the domain
//! crates: it parses arguments, reads files, calls one function, and prints.

mod policy_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Custode keeps a provider's personal data the way its privacy policy promises.
#[derive(Parser)]
#[command(name = "custode", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a policy file and render its notice and record of processing.
    #[command(subcommand)]
    Policy(policy_cmd::PolicyCommand),
}

/// How the process ends, for scripts: 0 success, 1 the input is invalid,
/// 2 the command could not run (bad arguments, unreadable file).
pub(crate) enum Outcome {
    Ok,
    Invalid,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Policy(cmd) => policy_cmd::run(cmd),
    };
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Invalid) => ExitCode::from(1),
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
