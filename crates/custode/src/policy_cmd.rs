//! `custode policy ...`: check, notice, ropa.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use custode_policy::{Format, Lang, Policy, RopaFormat};

use crate::Outcome;
use crate::output::outln;

#[derive(Subcommand)]
pub(crate) enum PolicyCommand {
    /// Load and validate a policy; print every problem with its line.
    Check {
        /// The policy file.
        file: PathBuf,
        /// `human`: drawn under the lines they concern; `short`: one
        /// `file:line:col: message` line each, for editors and scripts.
        #[arg(long, value_enum, default_value_t = Report::Human)]
        report: Report,
    },
    /// Render the privacy notice (Art. 13/14 GDPR).
    Notice {
        /// The policy file.
        file: PathBuf,
        /// Language of the notice: it, en, fr or nl (default: the policy's first).
        #[arg(long)]
        lang: Option<Lang>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = NoticeFormat::Md)]
        format: NoticeFormat,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Render the record of processing activities (Art. 30(1) GDPR).
    Ropa {
        /// The policy file.
        file: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = RopaArg::Md)]
        format: RopaArg,
        /// Language of labels and texts (default: the policy's first).
        #[arg(long)]
        lang: Option<Lang>,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Report {
    Human,
    Short,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum NoticeFormat {
    Md,
    Html,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum RopaArg {
    Json,
    Csv,
    Md,
    Jsonld,
}

pub(crate) fn run(cmd: PolicyCommand) -> anyhow::Result<Outcome> {
    match cmd {
        PolicyCommand::Check { file, report } => {
            let Some(policy) = load(&file, report)? else {
                return Ok(Outcome::Invalid);
            };
            outln!(
                "{}: valid — {} purposes, {} categories, {} recipients; languages {}; digest {}",
                file.display(),
                policy.purposes.len(),
                policy.categories.len(),
                policy.recipients.len(),
                policy.meta.language_codes(),
                &policy.digest[..12]
            )?;
            Ok(Outcome::Ok)
        }
        PolicyCommand::Notice {
            file,
            lang,
            format,
            output,
        } => {
            let Some(policy) = load(&file, Report::Human)? else {
                return Ok(Outcome::Invalid);
            };
            let lang = lang.unwrap_or(policy.meta.languages[0]);
            let doc = custode_policy::notice(&policy, lang)?;
            let format = match format {
                NoticeFormat::Md => Format::Markdown,
                NoticeFormat::Html => Format::Html,
            };
            emit(output.as_deref(), &doc.render(format))?;
            Ok(Outcome::Ok)
        }
        PolicyCommand::Ropa {
            file,
            format,
            lang,
            output,
        } => {
            let Some(policy) = load(&file, Report::Human)? else {
                return Ok(Outcome::Invalid);
            };
            let lang = lang.unwrap_or(policy.meta.languages[0]);
            let format = match format {
                RopaArg::Json => RopaFormat::Json,
                RopaArg::Csv => RopaFormat::Csv,
                RopaArg::Md => RopaFormat::Markdown,
                RopaArg::Jsonld => RopaFormat::JsonLd,
            };
            emit(
                output.as_deref(),
                &custode_policy::ropa(&policy, lang, format)?,
            )?;
            Ok(Outcome::Ok)
        }
    }
}

/// Reads and loads a policy; prints its problems and returns `None` when it
/// does not load.
fn load(file: &Path, report: Report) -> anyhow::Result<Option<Policy>> {
    let source = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the policy file {}", file.display()))?;
    match custode_policy::load(&file.display().to_string(), &source) {
        Ok(policy) => Ok(Some(policy)),
        Err(err) => {
            match report {
                Report::Short => eprint!("{}", err.to_short_lines()),
                Report::Human => eprintln!("{:?}", miette::Report::new(err)),
            }
            Ok(None)
        }
    }
}

fn emit(output: Option<&Path>, text: &str) -> anyhow::Result<()> {
    match output {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .context("cannot write to standard output")
        }
    }
}
