//! Background jobs of a running server, plain async loops: signing the
//! audit chain head at a fixed interval, the retention sweeper, purging
//! the sealed records of erased subjects in bounded batches, the backup
//! key rotation (destroying the generations whose lifetime is over), and the
//! worker that carries out rights requests step by step and mails their
//! Art. 19 notices to recipients. Several
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
    /// Rotate the backup keys: make the day's, destroy those whose
    /// lifetime is over.
    pub backup_keys_every: Option<Duration>,
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

/// Whether this build carries the crash-safety test hook: only builds with
/// the `crash-hook` feature do, which the binary's crash tests enable
/// through a dev-dependency. A release build never has it, so no variable
/// can make a production server kill itself.
pub const CRASH_HOOK_COMPILED: bool = cfg!(feature = "crash-hook");

/// The test hook for crash safety: with `CUSTODE_TEST_CRASH_AT=right:step`
/// (e.g. `erasure:2`), the process kills itself with SIGKILL right after
/// that step's effects, before its progress is recorded — the worst moment
/// for a crash. Without the `crash-hook` feature (every release build) the
/// variable is not even read.
pub fn crash_hook() -> impl Fn(&custode_requests::Claim) + Sync {
    #[cfg(feature = "crash-hook")]
    let at = std::env::var(CRASH_AT_ENV).ok();
    #[cfg(not(feature = "crash-hook"))]
    let at: Option<String> = None;
    move |claim: &custode_requests::Claim| crash_at(at.as_deref(), claim.right.name(), claim.step)
}

/// Kills the process when `at` names this step; compiled to nothing
/// without the `crash-hook` feature.
#[cfg_attr(not(feature = "crash-hook"), allow(unused_variables))]
fn crash_at(at: Option<&str>, right: &str, step: u32) {
    #[cfg(feature = "crash-hook")]
    if at == Some(format!("{right}:{step}").as_str()) {
        tracing::warn!(right, step, "{CRASH_AT_ENV}: killing this process");
        let _ = std::process::Command::new("kill")
            .args(["-9", &std::process::id().to_string()])
            .status();
        std::process::abort();
    }
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            checkpoint_every: Some(Duration::from_secs(600)),
            purge_every: Some(Duration::from_secs(60)),
            sweep_every: Some(Duration::from_secs(60)),
            fulfil_every: Some(Duration::from_secs(2)),
            // Generations end an hour before the notice's bound (see the
            // store's backup module): ten minutes keeps well inside it.
            backup_keys_every: Some(Duration::from_secs(600)),
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
                    match state.retention.sweep(&sweeper, SWEEP_BATCH).await {
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
                match state.requests.run_due_jobs(STEP_LEASE, &hook).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(steps = n, "rights requests: fulfilment steps run"),
                    Err(e) => {
                        tracing::error!(error = %e, "rights requests: the worker failed; retrying")
                    }
                }
                // Art. 19: recipients with an address are told by mail.
                if let Some(mailer) = &state.mailer {
                    match crate::requests::tell_recipients(&state.requests, mailer).await {
                        Ok(0) => {}
                        Ok(n) => {
                            tracing::info!(notices = n, "rights requests: recipients told by mail")
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "rights requests: Art. 19 mails failed; retrying")
                        }
                    }
                }
                tokio::select! {
                    () = state.jobs_queued.notified() => {}
                    () = tokio::time::sleep(every) => {}
                }
            }
        });
    }
    if let Some(every) = schedule.backup_keys_every {
        let state = state.clone();
        tokio::spawn(async move {
            let job = custode_domain::Principal::system("backup-keys");
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                match state.backup.rotate_backup_keys(&job).await {
                    Ok(r) if r.destroyed.is_empty() => {}
                    Ok(r) => tracing::info!(
                        destroyed = ?r.destroyed,
                        "backup keys destroyed: backups sealed under them can no longer be restored"
                    ),
                    Err(e) => {
                        tracing::error!(error = %e, "backup key rotation failed; retrying at the next tick")
                    }
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

#[cfg(test)]
mod tests {
    /// Built without the feature (as `cargo build --release` builds the
    /// binary), the hook does nothing even when asked for this very step:
    /// were it compiled in, this test's process would be killed.
    #[cfg(not(feature = "crash-hook"))]
    #[test]
    fn the_crash_hook_is_compiled_out_without_its_feature() {
        assert_eq!(super::CRASH_HOOK_COMPILED, false);
        super::crash_at(Some("erasure:1"), "erasure", 1);
    }

    /// Only the binary's dev-dependencies turn the hook on, never its
    /// normal dependencies, so a release build cannot carry it.
    #[test]
    fn only_the_crash_tests_enable_the_hook() {
        let manifest = include_str!("../../custode/Cargo.toml");
        let dev = manifest
            .find("[dev-dependencies]")
            .expect("the binary has dev-dependencies");
        let (normal, dev_section) = manifest.split_at(dev);
        let dev_section = dev_section[1..]
            .split_once("\n[")
            .map_or(dev_section, |(d, _)| d);
        assert!(
            !normal.contains("crash-hook"),
            "the binary's normal dependencies must not enable `crash-hook`"
        );
        assert!(
            dev_section.contains("crash-hook"),
            "the crash tests need `crash-hook` from the dev-dependencies"
        );
    }
}
