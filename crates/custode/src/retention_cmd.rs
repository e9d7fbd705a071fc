//! `custode retention`: do what is due (or show what would be), forecast
//! what every store will do up to a day, and report what was done.

use clap::Subcommand;
use custode_domain::Principal;
use custode_retention::{PlanLine, RetentionLine, RetentionPlan, SweepReport};
use custode_store::OpenMode;

use crate::Outcome;
use crate::data_cmd::StoreArgs;
use crate::output::{self, outln};

#[derive(Subcommand)]
pub(crate) enum RetentionCommand {
    /// Do what is due: move to the vault what only a legal obligation
    /// still needs, erase vault records past their legal end, erase
    /// records past their end. In batches, each one transaction: an
    /// interrupted run loses nothing; run again.
    Run {
        /// Show what is due now, by day, action, category and rule,
        /// without doing anything.
        #[arg(long)]
        dry_run: bool,
        /// Records per transaction.
        #[arg(long, default_value_t = custode_server::jobs::SWEEP_BATCH)]
        batch: u32,
    },
    /// Forecast, if no new event happens: every move to the vault, erasure
    /// from the vault and erasure from the main store up to a day (day,
    /// action, category, rule, records), then what each store will hold.
    /// Changes nothing.
    Plan {
        /// How many days ahead (to the end of that day).
        #[arg(long, default_value_t = 30, conflicts_with = "at")]
        days: u32,
        /// The state as of a day (YYYY-MM-DD, the controller's time zone):
        /// what will have been moved and erased by its end, what will remain.
        #[arg(long)]
        at: Option<String>,
    },
    /// What was done in the last N days: when, action, category, rule, count.
    Report {
        /// How many days back.
        #[arg(long, default_value_t = 30)]
        days: u32,
    },
}

fn print_report(lines: &[RetentionLine]) -> anyhow::Result<()> {
    if lines.is_empty() {
        outln!("nothing")?;
    }
    for l in lines {
        outln!(
            "{}\t{}\t{}\t{}\t{}",
            l.at,
            l.action,
            l.category,
            l.rule,
            l.records
        )?;
    }
    Ok(())
}

fn print_actions(lines: &[PlanLine]) -> anyhow::Result<()> {
    if lines.is_empty() {
        outln!("nothing")?;
    }
    for l in lines {
        outln!(
            "{}\t{}\t{}\t{}\t{}",
            l.day,
            l.action,
            l.category,
            l.rule,
            l.records
        )?;
    }
    Ok(())
}

fn print_plan(plan: &RetentionPlan, day: jiff::civil::Date) -> anyhow::Result<()> {
    if !plan.closures.is_empty() {
        outln!("accounts closed by their kind's inactivity rule, if unused until then:")?;
        for c in &plan.closures {
            outln!("{}\tclosed\t{}\t{} accounts", c.day, c.kind, c.accounts)?;
        }
        outln!()?;
    }
    print_actions(&plan.lines)?;
    outln!()?;
    outln!("held now and at the end of {day}, if nothing new comes in:")?;
    if plan.held.is_empty() {
        outln!("nothing")?;
    }
    for h in &plan.held {
        outln!("{}\t{}\t{} -> {}", h.store, h.category, h.now, h.then)?;
    }
    Ok(())
}

fn add(total: &mut SweepReport, step: &SweepReport) {
    total.erased += step.erased;
    total.vaulted += step.vaulted;
    total.vault_erased += step.vault_erased;
    total.subjects_shredded += step.subjects_shredded;
    total.accounts_closed += step.accounts_closed;
}

fn summary(r: &SweepReport) -> String {
    format!(
        "{} records erased, {} moved to the vault, {} erased from the vault, {} closed subjects shredded, {} dormant accounts closed",
        r.erased, r.vaulted, r.vault_erased, r.subjects_shredded, r.accounts_closed
    )
}

pub(crate) async fn run(args: &StoreArgs, cmd: RetentionCommand) -> anyhow::Result<Outcome> {
    let app = args.open(OpenMode::Existing).await?;
    let days = |n: u32| jiff::SignedDuration::from_hours(24 * i64::from(n));
    match cmd {
        RetentionCommand::Run { dry_run: true, .. } => {
            let now = jiff::Timestamp::now();
            print_actions(&app.retention.retention_plan(now).await?.lines)?;
        }
        RetentionCommand::Run { batch, .. } => {
            let sweeper = Principal::system("retention-cli");
            let mut total = SweepReport::default();
            let progress = output::spinner("retention: nothing done yet");
            // Until a step does nothing at all: a step that only moved
            // records to the vault still leaves work for the next.
            loop {
                let step = app.retention.sweep(&sweeper, batch).await?;
                if step.is_empty() {
                    break;
                }
                add(&mut total, &step);
                progress.set_message(format!("retention: {}", summary(&total)));
                progress.suspend(|| outln!("committed: {}", summary(&step)))?;
            }
            progress.finish_and_clear();
            outln!("done: {}", summary(&total))?;
        }
        RetentionCommand::Plan { days, at } => {
            // `--days` has a default; `--at`, when given, decides.
            let days = if at.is_some() { None } else { Some(days) };
            let day = app.retention.plan_day(days, at.as_deref())?;
            print_plan(
                &app.retention
                    .retention_plan(app.retention.end_of_day(day)?)
                    .await?,
                day,
            )?;
        }
        RetentionCommand::Report { days: n } => {
            let now = jiff::Timestamp::now();
            print_report(&app.retention.retention_report(now - days(n)).await?)?;
        }
    }
    app.close().await;
    Ok(Outcome::Ok)
}
