//! `custode systems ...`: the provider's own databases as systems files —
//! scan one to draft its file, check files against the policy, and run an
//! access or erasure by hand.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use custode_connectors::{Connectors, Outcome, ScanOptions, Secret, SubjectIdentifiers};
use custode_policy::Policy;
use serde_json::json;

use crate::Outcome as Exit;
use crate::data_cmd::StoreArgs;
use crate::output::{out, outln};
use crate::policy_cmd::Report;

#[derive(Subcommand)]
pub(crate) enum SystemsCommand {
    /// Connect read-only to a database and draft its systems file, with
    /// categories guessed from column names and sampled values (of the
    /// policy given by --policy). The draft is for a person to review.
    Scan {
        /// postgres://USER@HOST/DB or mysql://USER@HOST/DB.
        url: String,
        /// Write the draft here instead of standard output.
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// The system's id in the draft.
        #[arg(long, default_value = "app")]
        id: String,
        /// The schema (PostgreSQL) or database (MySQL) to scan.
        #[arg(long)]
        schema: Option<String>,
        /// The environment variable holding the password; the draft names it.
        #[arg(long, default_value = "CUSTODE_SYSTEM_PASSWORD")]
        password_env: String,
        /// Rows sampled per table.
        #[arg(long, default_value_t = 200)]
        sample: usize,
    },
    /// Check systems files against the policy given by --policy; print every
    /// problem with its line.
    Check {
        /// The systems files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// `human` or `short` (`file:line:col: message`).
        #[arg(long, value_enum, default_value_t = Report::Human)]
        report: Report,
    },
    /// Print, as JSON, every mapped row of a subject in every system.
    Access {
        #[command(flatten)]
        who: Who,
    },
    /// Erase a subject in every system by the declared actions; print what
    /// was changed and what is kept, with its ground.
    Erase {
        #[command(flatten)]
        who: Who,
    },
}

#[derive(clap::Args)]
pub(crate) struct Who {
    /// The directory of systems files.
    #[arg(long, default_value = "systems")]
    dir: PathBuf,
    /// The subject's email address.
    #[arg(long)]
    email: Option<String>,
    /// The subject's phone number, as the systems store it.
    #[arg(long)]
    phone: Option<String>,
}

impl Who {
    fn ids(&self) -> anyhow::Result<SubjectIdentifiers> {
        let mut ids = SubjectIdentifiers::new();
        if let Some(e) = &self.email {
            ids = ids.email(e);
        }
        if let Some(p) = &self.phone {
            ids = ids.phone(p);
        }
        if ids.values.is_empty() {
            anyhow::bail!("name the subject with --email or --phone");
        }
        Ok(ids)
    }
}

fn read_policy(path: &Path) -> anyhow::Result<Policy> {
    let source = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the policy file {}", path.display()))?;
    custode_policy::load(&path.display().to_string(), &source)
        .map_err(|e| anyhow::anyhow!("the policy {} does not load: {e}", path.display()))
}

pub(crate) async fn run(args: &StoreArgs, cmd: SystemsCommand) -> anyhow::Result<Exit> {
    let policy = read_policy(&args.policy)?;
    match cmd {
        SystemsCommand::Scan {
            url,
            out,
            id,
            schema,
            password_env,
            sample,
        } => {
            let options = ScanOptions {
                system_id: id,
                schema,
                sample_rows: sample,
                password: std::env::var(&password_env).ok().map(Secret::new),
                password_env,
            };
            let report = custode_connectors::scan(&url, &options, Some(&policy)).await?;
            match &out {
                Some(path) => std::fs::write(path, &report.toml)
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None => out!("{}", report.toml)?,
            }
            eprintln!(
                "custode: drafted {} of {} tables, {} columns; review it, then delete `draft = true`",
                report.tables_mapped, report.tables_seen, report.columns_mapped
            );
            Ok(Exit::Ok)
        }
        SystemsCommand::Check { files, report } => {
            let mut exit = Exit::Ok;
            for file in files {
                let source = std::fs::read_to_string(&file)
                    .with_context(|| format!("cannot read {}", file.display()))?;
                match custode_connectors::load(&file.display().to_string(), &source, &policy) {
                    Ok(m) => outln!(
                        "{}: valid — system {} ({}), {} tables, {} columns mapped",
                        file.display(),
                        m.id,
                        m.engine.key(),
                        m.tables.len(),
                        m.tables.iter().map(|t| t.columns.len()).sum::<usize>()
                    )?,
                    Err(err) => {
                        match report {
                            Report::Short => eprint!("{}", err.to_short_lines()),
                            Report::Human => eprintln!("{:?}", miette::Report::new(err)),
                        }
                        exit = Exit::Invalid;
                    }
                }
            }
            Ok(exit)
        }
        SystemsCommand::Access { who } => {
            let connectors = Connectors::load(&who.dir, &policy)?;
            let result = connectors.access(&who.ids()?).await?;
            let systems: Vec<_> = result
                .systems
                .iter()
                .map(|s| match &s.outcome {
                    Outcome::Done(tables) => json!({
                        "system": s.system,
                        "status": "done",
                        "tables": tables.iter().map(|t| json!({
                            "table": t.table,
                            "columns": t.columns.iter().map(|c| json!({
                                "name": c.name, "category": c.category, "field": c.field,
                            })).collect::<Vec<_>>(),
                            "rows": t.rows,
                        })).collect::<Vec<_>>(),
                    }),
                    other => not_done(&s.system, other),
                })
                .collect();
            outln!(
                "{}",
                serde_json::to_string_pretty(&json!({ "systems": systems }))?
            )?;
            connectors.close().await;
            Ok(if result.is_complete() {
                Exit::Ok
            } else {
                Exit::Invalid
            })
        }
        SystemsCommand::Erase { who } => {
            let connectors = Connectors::load(&who.dir, &policy)?;
            let result = connectors.erase(&who.ids()?).await?;
            let systems: Vec<_> = result
                .systems
                .iter()
                .map(|s| match &s.outcome {
                    Outcome::Done(e) => json!({
                        "system": s.system,
                        "status": "done",
                        "found_rows": e.found_rows,
                        "tables": e.tables.iter().map(|t| json!({
                            "table": t.table,
                            "deleted": t.deleted,
                            "updated": t.updated,
                            "kept": t.kept.iter().map(|k| json!({
                                "category": k.category, "columns": k.columns,
                                "rows": k.rows, "ground": k.ground,
                            })).collect::<Vec<_>>(),
                        })).collect::<Vec<_>>(),
                    }),
                    other => not_done(&s.system, other),
                })
                .collect();
            outln!(
                "{}",
                serde_json::to_string_pretty(&json!({ "systems": systems }))?
            )?;
            connectors.close().await;
            Ok(if result.is_complete() {
                Exit::Ok
            } else {
                Exit::Invalid
            })
        }
    }
}

fn not_done<T>(system: &str, outcome: &Outcome<T>) -> serde_json::Value {
    match outcome {
        Outcome::Pending(p) => json!({
            "system": system, "status": "pending", "attempts": p.attempts, "error": p.last_error,
        }),
        Outcome::Failed(m) => json!({ "system": system, "status": "failed", "error": m }),
        Outcome::Done(_) => json!({ "system": system, "status": "done" }),
    }
}
