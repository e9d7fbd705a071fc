//! `custode retention`: erase what is due (or show what would be), show
//! what will be erased in the coming days, and what was erased.

use clap::Subcommand;
use custode_domain::Principal;
use custode_store::{OpenMode, RetentionLine};

use crate::Outcome;
use crate::data_cmd::StoreArgs;

#[derive(Subcommand)]
pub(crate) enum RetentionCommand {
    /// Erase every record whose end of retention has passed, in batches
    /// (each one transaction: an interrupted run loses nothing; run again).
    Run {
        /// Show what is due without erasing anything.
        #[arg(long)]
        dry_run: bool,
        /// Records per transaction.
        #[arg(long, default_value_t = custode_server::jobs::SWEEP_BATCH)]
        batch: u32,
    },
    /// What will be erased in the next N days: day, category, rule, count.
    Plan {
        /// How many days ahead.
        #[arg(long, default_value_t = 30)]
        days: u32,
    },
    /// What was erased in the last N days: when, category, rule, count.
    Report {
        /// How many days back.
        #[arg(long, default_value_t = 30)]
        days: u32,
    },
}

fn print(lines: &[RetentionLine], day_only: bool) {
    if lines.is_empty() {
        println!("nothing");
    }
    for l in lines {
        let at = if day_only {
            l.at.strftime("%Y-%m-%d").to_string()
        } else {
            l.at.to_string()
        };
        println!(
            "{at}\t{}\t{}\t{}\t{}",
            l.action, l.category, l.rule, l.records
        );
    }
}

pub(crate) async fn run(args: &StoreArgs, cmd: RetentionCommand) -> anyhow::Result<Outcome> {
    let store = args.open(OpenMode::Existing).await?;
    let days = |n: u32| jiff::SignedDuration::from_hours(24 * i64::from(n));
    let now = jiff::Timestamp::now();
    match cmd {
        RetentionCommand::Run { dry_run: true, .. } => {
            print(&store.retention_plan(now).await?, false);
        }
        RetentionCommand::Run { batch, .. } => {
            let sweeper = Principal::system("retention-cli");
            let mut total = 0u64;
            loop {
                let r = store.sweep(&sweeper, batch).await?;
                total += r.erased;
                if r.erased > 0 || r.subjects_shredded > 0 || r.accounts_closed > 0 {
                    println!(
                        "committed: {} records erased, {} closed subjects shredded, {} dormant accounts closed",
                        r.erased, r.subjects_shredded, r.accounts_closed
                    );
                } else {
                    break;
                }
            }
            println!("done: {total} records erased");
        }
        RetentionCommand::Plan { days: n } => {
            print(&store.retention_plan(now + days(n)).await?, true);
        }
        RetentionCommand::Report { days: n } => {
            print(&store.retention_report(now - days(n)).await?, false);
        }
    }
    store.close().await;
    Ok(Outcome::Ok)
}
