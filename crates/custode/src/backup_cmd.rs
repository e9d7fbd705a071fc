//! `custode backup` and `custode restore`: take a backup that holds no key
//! (the stores' copies, and the key store's export sealed under the day's
//! backup key generation), rotate and list the generations, and rebuild a
//! store from a backup to prove it is usable.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use custode_domain::Principal;
use custode_store::{OpenMode, StoreConfig};

use crate::Outcome;
use crate::data_cmd::{StoreArgs, operator};
use crate::output::outln;

#[derive(Subcommand)]
pub(crate) enum BackupCommand {
    /// Take a backup into a new directory: the SQLite stores copied (on
    /// PostgreSQL, dump the main store and the vault first: see the README),
    /// then the key store's export sealed under today's backup key.
    Create {
        /// The new (or empty) directory to write the backup to.
        #[arg(long)]
        out: PathBuf,
    },
    /// Make today's backup key and destroy those whose lifetime is over
    /// (the server does it every ten minutes): backups sealed under a
    /// destroyed key can no longer be restored, by anyone.
    Rotate,
    /// The backup keys that exist, and when each is destroyed.
    Keys,
}

/// Where to rebuild the store: a new data directory, or new PostgreSQL
/// databases already loaded from the backup's dumps.
#[derive(Args)]
pub(crate) struct RestoreArgs {
    /// The backup directory (`custode backup create --out`).
    #[arg(long)]
    from: PathBuf,
    /// The new data directory; its master key is made there (or taken from
    /// CUSTODE_MASTER_KEY), and the vault's key written beside it.
    #[arg(long)]
    to: PathBuf,
    /// The main store to restore into instead of the SQLite file (a
    /// PostgreSQL database loaded with the backup's dump).
    #[arg(long, hide_env_values = true)]
    to_database: Option<String>,
    /// The new, empty key store to write (with --to-database).
    #[arg(long, hide_env_values = true)]
    to_keystore: Option<String>,
    /// The vault to restore into (a PostgreSQL database loaded with the
    /// backup's vault dump).
    #[arg(long, hide_env_values = true)]
    to_vault: Option<String>,
}

pub(crate) async fn backup(args: &StoreArgs, cmd: BackupCommand) -> anyhow::Result<Outcome> {
    let app = args.open(OpenMode::Existing).await?;
    match cmd {
        BackupCommand::Create { out } => {
            let r = app.backup.backup(&operator(), &out).await?;
            for f in &r.files {
                outln!("wrote {}", out.join(f).display())?;
            }
            for what in &r.to_dump {
                outln!(
                    "not copied: {what} is on PostgreSQL; its pg_dump belongs with this backup"
                )?;
            }
            outln!(
                "backup of {} subjects' keys sealed under backup key {}; restorable until {} (then no one can)",
                r.subjects,
                r.generation,
                r.restorable_until
            )?;
        }
        BackupCommand::Rotate => {
            let r = app
                .backup
                .rotate_backup_keys(&Principal::system("backup-keys-cli"))
                .await?;
            match r.current {
                Some(g) if r.created => outln!("made backup key {g}")?,
                Some(g) => outln!("backup key {g} is current")?,
                None => outln!(
                    "the policy declares no [security] backup_key_lifetime: no backup key made"
                )?,
            }
            for g in &r.destroyed {
                outln!("destroyed backup key {g}: its backups can no longer be restored")?;
            }
        }
        BackupCommand::Keys => {
            let generations = app.backup.backup_generations().await?;
            if generations.is_empty() {
                outln!("no backup keys")?;
            }
            for g in generations {
                outln!(
                    "{}\tmade {}\tdestroyed at {}",
                    g.generation,
                    g.created_at,
                    g.destroy_at
                )?;
            }
        }
    }
    app.close().await;
    Ok(Outcome::Ok)
}

pub(crate) async fn restore(args: &StoreArgs, r: RestoreArgs) -> anyhow::Result<Outcome> {
    let live = args.open(OpenMode::Existing).await?;
    let mut target = StoreConfig::in_data_dir(&r.to, OpenMode::CreateIfMissing)?;
    match (&r.to_database, &r.to_keystore) {
        (Some(db), Some(keys)) => {
            target.database_url = db.clone();
            target.keystore_url = keys.clone();
        }
        (Some(_), None) => {
            anyhow::bail!(
                "--to-database needs --to-keystore too: keys live in a database of their own"
            )
        }
        (None, Some(keys)) => target.keystore_url = keys.clone(),
        (None, None) => {}
    }
    if let Some(vault) = &r.to_vault {
        target.vault_url = vault.clone();
    }
    let report = live
        .backup
        .restore_backup(&operator(), &r.from, &target)
        .await?;
    let policy = live.store.policy();
    live.close().await;
    outln!(
        "restored the backup of {} ({} subjects' keys, backup key {})",
        report.taken_at,
        report.subjects,
        report.generation
    )?;
    // Proof that it is usable: the restored store opens with its keys and
    // its audit chain verifies.
    target.mode = OpenMode::Existing;
    let restored = custode_server::Custode::open(
        &target,
        policy,
        std::sync::Arc::new(custode_domain::SystemClock),
    )
    .await?;
    let audit = restored.vault.audit_verify().await?;
    let subjects = restored.store.count_subjects(&operator()).await?;
    restored.close().await;
    outln!(
        "the restored store opens: {subjects} subjects, audit chain of {} entries {}",
        audit.checked,
        if audit.is_intact() {
            "intact"
        } else {
            "BROKEN"
        }
    )?;
    outln!(
        "note: subjects erased after the backup was taken are readable in this copy while its backup key \
         lives; a copy that replaces the live store must erase them again, and a copy made only as a check \
         should be deleted"
    )?;
    Ok(if audit.is_intact() {
        Outcome::Ok
    } else {
        Outcome::Invalid
    })
}
