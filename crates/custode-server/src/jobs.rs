//! Background jobs of a running server, plain async loops: signing the
//! audit chain head at a fixed interval, the retention sweeper, purging
//! the sealed records of erased subjects in bounded batches, and the
//! worker that carries out rights requests step by step. Several
//! instances may run them at once: a checkpoint already signed is not
//! signed twice, sweep batches take turns on the writers' lock, and a
//! purge batch deletes rows only once.

use std::time::Duration;

use crate::AppState;

/// Records per sweep transaction: large enough that fixed costs vanish
/// (about 250,000 records/s on SQLite), small enough that other writers wait
/// at most a few tenths of a second.
pub const SWEEP_BATCH: u32 = 100_000;

/// How often the jobs run; `None` disables one.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    /// Sign the audit chain head.
    pub checkpoint_every: Option<Duration>,
    /// Purge the sealed records of erased subjects.
    pub purge_every: Option<Duration>,
    /// Erase records whose retention has ended.
    pub sweep_every: Option<Duration>,
    /// Look for fulfilment steps due (besides being woken when one is
    /// queued), e.g. retries after a failure.
    pub fulfil_every: Option<Duration>,
}

/// How long a worker holds a claimed step before another may take it: a
/// step takes milliseconds, so an instance that died holding one is
/// replaced quickly.
pub const STEP_LEASE: Duration = Duration::from_secs(10);

/// The variable of the crash-safety test hook (see [`crash_hook`]).
pub const CRASH_AT_ENV: &str = "CUSTODE_TEST_CRASH_AT";

/// The test hook for crash safety: with `CUSTODE_TEST_CRASH_AT=right:step`
/// (e.g. `erasure:2`), the process kills itself with SIGKILL right after
/// that step's effects, before its progress is recorded — the worst moment
/// for a crash. A no-op when the variable is unset, as in production.
pub fn crash_hook() -> impl Fn(&custode_store::Claim) + Sync {
    let at = std::env::var(CRASH_AT_ENV).ok();
    move |claim: &custode_store::Claim| {
        if at.as_deref() == Some(format!("{}:{}", claim.right.name(), claim.step).as_str()) {
            tracing::warn!(
                right = claim.right.name(),
                step = claim.step,
                "{CRASH_AT_ENV}: killing this process"
            );
            let _ = std::process::Command::new("kill")
                .args(["-9", &std::process::id().to_string()])
                .status();
            std::process::abort();
        }
    }
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            checkpoint_every: Some(Duration::from_secs(600)),
            purge_every: Some(Duration::from_secs(60)),
            sweep_every: Some(Duration::from_secs(60)),
            fulfil_every: Some(Duration::from_secs(2)),
        }
    }
}

/// Starts the jobs; they end with the process.
pub fn start(state: AppState, schedule: Schedule) {
    if let Some(every) = schedule.checkpoint_every {
        let state = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                match state.store.audit_checkpoint().await {
                    Ok(Some(cp)) => tracing::info!(seq = cp.seq, "audit checkpoint signed"),
                    Ok(None) => {}
                    Err(e) => tracing::error!(error = %e, "audit checkpoint failed"),
                }
            }
        });
    }
    if let Some(every) = schedule.sweep_every {
        let state = state.clone();
        tokio::spawn(async move {
            let sweeper = custode_domain::Principal::system("retention");
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                loop {
                    match state.store.sweep(&sweeper, SWEEP_BATCH).await {
                        Ok(r)
                            if r.erased == 0
                                && r.subjects_shredded == 0
                                && r.accounts_closed == 0 =>
                        {
                            break;
                        }
                        Ok(r) => tracing::info!(
                            records = r.erased,
                            subjects = r.subjects_shredded,
                            dormant_closed = r.accounts_closed,
                            "retention: erased what was due"
                        ),
                        Err(e) => {
                            tracing::error!(error = %e, "retention sweep failed; retrying at the next tick");
                            break;
                        }
                    }
                }
            }
        });
    }
    if let Some(every) = schedule.fulfil_every {
        let state = state.clone();
        tokio::spawn(async move {
            let hook = crash_hook();
            loop {
                match state.store.run_due_jobs(STEP_LEASE, &hook).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(steps = n, "rights requests: fulfilment steps run"),
                    Err(e) => {
                        tracing::error!(error = %e, "rights requests: the worker failed; retrying")
                    }
                }
                tokio::select! {
                    () = state.jobs_queued.notified() => {}
                    () = tokio::time::sleep(every) => {}
                }
            }
        });
    }
    if let Some(every) = schedule.purge_every {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                // Bounded steps, so a large purge never holds the writer long.
                loop {
                    match state.store.purge_erased(1_000).await {
                        Ok(0) => break,
                        Ok(n) => {
                            tracing::info!(records = n, "purged sealed records of erased subjects")
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "purge failed");
                            break;
                        }
                    }
                }
            }
        });
    }
}
