//! The master key on disk: one file of 64 hex digits, readable by its owner
//! only, created on first start; or the `CUSTODE_MASTER_KEY` environment
//! variable, which wins when set.
//!
//! Rotation writes the new key beside the old as `master.key.next` before the
//! key store is re-wrapped, and renames it over the old one after; at start,
//! whichever of the two opens the key store is the current one. A crash at
//! any moment thus leaves a key that works.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use custode_crypto::Key;

use crate::StoreError;

/// The environment variable that can hold the master key.
pub const MASTER_KEY_ENV: &str = "CUSTODE_MASTER_KEY";
/// The environment variable that can hold the vault's key.
pub const VAULT_KEY_ENV: &str = "CUSTODE_VAULT_KEY";

/// Where the master key comes from.
#[derive(Clone, Debug)]
pub enum MasterKeySource {
    /// A file (created on first start when missing).
    File(PathBuf),
    /// Given directly (from the environment or a test).
    Given(Key),
}

impl MasterKeySource {
    /// The environment variable when set, else `master.key` in `data_dir`.
    pub fn from_env_or(data_dir: &Path) -> Result<MasterKeySource, StoreError> {
        match std::env::var(MASTER_KEY_ENV) {
            Ok(hex) => Key::from_hex(&hex)
                .map(MasterKeySource::Given)
                .map_err(|_| {
                    StoreError::KeyFile(format!("{MASTER_KEY_ENV} must hold 64 hexadecimal digits"))
                }),
            Err(_) => Ok(MasterKeySource::File(data_dir.join("master.key"))),
        }
    }

    /// The vault's key: the environment variable when set, else `vault.key`
    /// in `data_dir`. Never the master key: the vault stands apart.
    pub fn vault_from_env_or(data_dir: &Path) -> Result<MasterKeySource, StoreError> {
        match std::env::var(VAULT_KEY_ENV) {
            Ok(hex) => Key::from_hex(&hex)
                .map(MasterKeySource::Given)
                .map_err(|_| {
                    StoreError::KeyFile(format!("{VAULT_KEY_ENV} must hold 64 hexadecimal digits"))
                }),
            Err(_) => Ok(MasterKeySource::File(data_dir.join("vault.key"))),
        }
    }

    fn next_path(path: &Path) -> PathBuf {
        let mut p = path.as_os_str().to_owned();
        p.push(".next");
        PathBuf::from(p)
    }

    /// The current key and, during a rotation, the next one.
    pub fn load(&self, create: bool) -> Result<(Key, Option<Key>), StoreError> {
        match self {
            MasterKeySource::Given(k) => Ok((k.clone(), None)),
            MasterKeySource::File(path) => {
                let current = if path.exists() {
                    read_key(path)?
                } else if create {
                    create_or_read(path)?
                } else {
                    return Err(StoreError::KeyFile(format!(
                        "no key at {}: the data directory was not initialised, or the key was moved",
                        path.display()
                    )));
                };
                let next_path = Self::next_path(path);
                let next = if next_path.exists() {
                    Some(read_key(&next_path)?)
                } else {
                    None
                };
                Ok((current, next))
            }
        }
    }

    /// Stages the next key before the key store is re-wrapped under it.
    pub fn stage(&self, key: &Key) -> Result<(), StoreError> {
        match self {
            MasterKeySource::Given(_) => Err(StoreError::KeyFile(format!(
                "the master key comes from {MASTER_KEY_ENV}: rotate it where it is kept, then restart with the new one"
            ))),
            MasterKeySource::File(path) => {
                let next = Self::next_path(path);
                let _ = fs::remove_file(&next);
                write_new(&next, key)
            }
        }
    }

    /// Makes the staged key the current one.
    pub fn promote(&self) -> Result<(), StoreError> {
        if let MasterKeySource::File(path) = self {
            let next = Self::next_path(path);
            if next.exists() {
                fs::rename(&next, path).map_err(|e| io(path, e))?;
                sync_dir(path)?;
            }
        }
        Ok(())
    }

    /// Drops a staged key that never became current.
    pub fn discard_next(&self) -> Result<(), StoreError> {
        if let MasterKeySource::File(path) = self {
            let next = Self::next_path(path);
            if next.exists() {
                fs::remove_file(&next).map_err(|e| io(&next, e))?;
            }
        }
        Ok(())
    }
}

impl MasterKeySource {
    /// Puts `key` where this source keeps it (a restore's vault key): a new
    /// key file when there is none; an existing file, or a key given
    /// directly, must already be this key.
    pub fn install(&self, key: &Key) -> Result<(), StoreError> {
        let found = match self {
            MasterKeySource::Given(k) => k.clone(),
            MasterKeySource::File(path) if !path.exists() => return write_new(path, key),
            MasterKeySource::File(path) => read_key(path)?,
        };
        if found == *key {
            Ok(())
        } else {
            Err(StoreError::KeyFile(format!(
                "the target's vault key (fingerprint {}) is not the backup's ({}): leave it out so the restore writes it",
                found.fingerprint(),
                key.fingerprint()
            )))
        }
    }
}

fn io(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::KeyFile(format!("{}: {e}", path.display()))
}

fn read_key(path: &Path) -> Result<Key, StoreError> {
    let meta = fs::metadata(path).map_err(|e| io(path, e))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(StoreError::KeyFile(format!(
            "{} is readable by others (mode {:o}): run `chmod 600 {}`",
            path.display(),
            meta.permissions().mode() & 0o777,
            path.display()
        )));
    }
    let text = fs::read_to_string(path).map_err(|e| io(path, e))?;
    Key::from_hex(&text).map_err(|_| {
        StoreError::KeyFile(format!(
            "{} does not hold a key of 64 hexadecimal digits",
            path.display()
        ))
    })
}

/// Creates the key file on first start. Instances sharing the data
/// directory may start at the same moment: the key is written whole to a
/// file of this start's own, then linked into place, which fails if another
/// start got there first. So the file is never seen half-written, and every
/// start ends with the one key that won.
fn create_or_read(path: &Path) -> Result<Key, StoreError> {
    let key = Key::generate()?;
    let mut staged = path.as_os_str().to_owned();
    // The fingerprint names the key without revealing it, and no two new
    // keys share one.
    staged.push(format!(".{}.new", key.fingerprint()));
    let staged = PathBuf::from(staged);
    write_new(&staged, &key)?;
    let linked = fs::hard_link(&staged, path);
    let _ = fs::remove_file(&staged);
    match linked {
        Ok(()) => {
            sync_dir(path)?;
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_key(path),
        Err(e) => Err(io(path, e)),
    }
}

/// Writes a key to a new file with mode 0600, durably.
fn write_new(path: &Path, key: &Key) -> Result<(), StoreError> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    }
    let mut f: File = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| io(path, e))?;
    f.write_all(format!("{}\n", key.to_hex()).as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| io(path, e))?;
    sync_dir(path)
}

fn sync_dir(path: &Path) -> Result<(), StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io(dir, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_starting_together_on_one_directory_end_with_one_key() {
        let root = std::env::temp_dir().join(format!("custode-keyfile-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        // The window between "no file yet" and "file written" is narrow:
        // many rounds make a start that reads a half-written file, or fails
        // on the other's file, show up.
        for round in 0..40 {
            let path = root.join(round.to_string()).join("vault.key");
            let starts = 6;
            let barrier = std::sync::Barrier::new(starts);
            let fingerprints: Vec<String> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..starts)
                    .map(|_| {
                        s.spawn(|| {
                            barrier.wait();
                            MasterKeySource::File(path.clone())
                                .load(true)
                                .map(|(key, next)| {
                                    assert!(next.is_none());
                                    key.fingerprint()
                                })
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join()
                            .expect("no panic")
                            .unwrap_or_else(|e| panic!("round {round}: a start failed: {e}"))
                    })
                    .collect()
            });
            let on_disk = read_key(&path).expect("the key file").fingerprint();
            assert!(
                fingerprints.iter().all(|f| *f == on_disk),
                "round {round}: every start uses the key on disk ({on_disk}): {fingerprints:?}"
            );
            let left: Vec<_> = fs::read_dir(path.parent().expect("dir"))
                .expect("list")
                .map(|e| e.expect("entry").file_name())
                .collect();
            assert_eq!(left, ["vault.key"], "round {round}: nothing staged is left");
        }
        fs::remove_dir_all(&root).expect("clean up");
    }
}
