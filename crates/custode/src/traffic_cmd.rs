//! `custode traffic`: ingest the provider's native traffic files, drop the
//! months past their legal period, list the partitions, and verify a
//! judicial answer's signed manifest offline.

use std::path::PathBuf;

use clap::Subcommand;
use custode_domain::Principal;
use custode_store::OpenMode;
use custode_traffic::{IngestOptions, Kind};

use crate::Outcome;
use crate::data_cmd::{StoreArgs, operator};
use crate::output::outln;

#[derive(Subcommand)]
pub(crate) enum TrafficCommand {
    /// Store a file of traffic: call records (`cdr`, CSV in the layout
    /// `caller,callee,start,duration,answered,cell`), a FreeRADIUS detail
    /// file (`radius`) or a Postfix/Dovecot mail log (`maillog`). Each
    /// record is linked to its subscriber, sealed, and kept by its own
    /// date. Resumable: run it again on the same file after an
    /// interruption and every line is stored once.
    Ingest {
        /// The format.
        #[arg(long, value_parser = ["cdr", "radius", "maillog"])]
        kind: String,
        /// The file, or `-` for standard input.
        file: PathBuf,
        /// Records per transaction.
        #[arg(long, default_value_t = 5000)]
        batch: usize,
    },
    /// Drop every month whose records have all passed their legal end
    /// (table dropped, key destroyed).
    Sweep,
    /// The partitions: category, month, records, pending links, end.
    Partitions,
    /// Check a judicial answer's directory: the manifest's Ed25519
    /// signature and every file's SHA-256. Fails on any changed byte.
    Verify {
        /// The directory written by the extraction.
        dir: PathBuf,
        /// The instance's public key (hex) to check against; by default
        /// the key the manifest names, printed for comparison.
        #[arg(long)]
        key: Option<String>,
    },
}

pub(crate) async fn run(args: &StoreArgs, cmd: TrafficCommand) -> anyhow::Result<Outcome> {
    if let TrafficCommand::Verify { dir, key } = &cmd {
        return verify(dir, key.as_deref());
    }
    let app = args.open(OpenMode::Existing).await?;
    let outcome = match cmd {
        TrafficCommand::Ingest { kind, file, batch } => {
            let kind = Kind::from_key(&kind)
                .ok_or_else(|| anyhow::anyhow!("unknown kind {kind}: cdr, radius or maillog"))?;
            let options = IngestOptions {
                batch: batch.max(1),
                // Each batch is durable once told: a restart resumes after it.
                progress: Some(std::sync::Arc::new(|line, stored| {
                    let _ = outln!("committed through line {line} ({stored} records stored)");
                })),
                ..IngestOptions::default()
            };
            // The operator feeds the provider's own files, as a system
            // would: audited under `cli:$USER`.
            let by = Principal {
                role: custode_domain::Role::System,
                ..operator()
            };
            let name = file.display().to_string();
            let summary = if name == "-" {
                app.traffic
                    .ingest(&by, kind, "stdin", std::io::stdin().lock(), &options)
                    .await
            } else {
                let f = std::fs::File::open(&file)
                    .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", file.display()))?;
                app.traffic.ingest(&by, kind, &name, f, &options).await
            };
            let summary = match summary {
                Ok(s) => s,
                Err(e @ custode_traffic::TrafficError::WrongFormat { .. }) => {
                    eprintln!("custode: {}: {e}", file.display());
                    app.close().await;
                    return Ok(Outcome::Invalid);
                }
                Err(e) => return Err(e.into()),
            };
            if summary.already_done {
                outln!("{}: ingested before, nothing read again", file.display())?;
            } else if summary.resumed_after > 0 {
                outln!(
                    "{}: resumed after line {}",
                    file.display(),
                    summary.resumed_after
                )?;
            }
            outln!(
                "lines read {}, stored {}, pending links {}, skipped {}, rejected {}",
                summary.lines,
                summary.stored,
                summary.pending,
                summary.skipped,
                summary.rejected.len() + summary.rejected_before.len()
            )?;
            if !summary.rejected_before.is_empty() {
                let lines: Vec<String> =
                    summary.rejected_before.iter().map(u64::to_string).collect();
                outln!("rejected by an earlier run: lines {}", lines.join(", "))?;
            }
            for r in &summary.rejected {
                eprintln!("{}: {r}", file.display());
            }
            if summary.rejected.is_empty() && summary.rejected_before.is_empty() {
                Outcome::Ok
            } else {
                Outcome::Invalid
            }
        }
        TrafficCommand::Sweep => {
            let dropped = app
                .traffic
                .drop_expired(&Principal::system("traffic-cli"))
                .await?;
            if dropped.is_empty() {
                outln!("nothing due")?;
            }
            for p in dropped {
                outln!(
                    "dropped\t{}\t{}\t{} records\tended {}",
                    p.category,
                    p.month,
                    p.records,
                    p.kept_until
                )?;
            }
            Outcome::Ok
        }
        TrafficCommand::Partitions => {
            for p in app.traffic.partitions().await? {
                let state = p
                    .dropped_at
                    .map_or_else(|| "live".to_owned(), |d| format!("dropped {d}"));
                outln!(
                    "{}\t{}\t{} records\t{} pending\tuntil {}\t{state}",
                    p.category,
                    p.month,
                    p.records,
                    p.pending,
                    p.kept_until
                )?;
            }
            Outcome::Ok
        }
        TrafficCommand::Verify { .. } => unreachable!("handled above"),
    };
    app.close().await;
    Ok(outcome)
}

fn verify(dir: &std::path::Path, key: Option<&str>) -> anyhow::Result<Outcome> {
    let key = match key {
        Some(k) => {
            let bytes: [u8; 32] = hex::decode(k.trim())
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| anyhow::anyhow!("--key is not 64 hex digits"))?;
            Some(
                custode_crypto::VerifyingKey::from_bytes(&bytes)
                    .map_err(|_| anyhow::anyhow!("--key is not an Ed25519 public key"))?,
            )
        }
        None => None,
    };
    match custode_traffic::verify_dir(dir, key.as_ref()) {
        Ok(m) => {
            outln!(
                "verified: {} files, {} records, order {} of {} ({}), signed by {}",
                m.files.len(),
                m.records,
                m.order.number,
                m.order.authority,
                m.order.date,
                m.instance_key
            )?;
            Ok(Outcome::Ok)
        }
        Err(e) => {
            eprintln!("custode: {}: NOT VERIFIED: {e}", dir.display());
            Ok(Outcome::Invalid)
        }
    }
}
