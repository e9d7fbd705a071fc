//! The configuration file: the same settings as the flags and environment
//! variables, in TOML, for deployments that prefer a file. A flag beats an
//! environment variable, which beats the file, which beats the built-in
//! default. Unknown keys are refused, so a typo never goes unnoticed.

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::{Context, bail};

/// Settings a file may hold: its key, and the flag it stands for
/// (`serve` for the server's own flags).
const KEYS: [(&str, &str, bool); 10] = [
    ("data", "data", false),
    ("database", "database", false),
    ("keystore", "keystore", false),
    ("policy", "policy", false),
    ("listen", "listen", true),
    ("log_json", "log_json", true),
    ("public_url", "public_url", true),
    ("trusted_proxy", "trusted_proxy", true),
    ("header_timeout", "header_timeout", true),
    ("max_connections", "max_connections", true),
];

/// The config file named by `--config` or `CUSTODE_CONFIG`, if any.
pub(crate) fn path(args: &[OsString]) -> Option<PathBuf> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let a = a.to_string_lossy();
        if a == "--config" {
            return it.next().map(PathBuf::from);
        }
        if let Some(v) = a.strip_prefix("--config=") {
            return Some(PathBuf::from(v));
        }
    }
    std::env::var_os("CUSTODE_CONFIG").map(PathBuf::from)
}

/// The file's settings as (flag, value, belongs to `serve`).
pub(crate) fn load(path: &PathBuf) -> anyhow::Result<Vec<(&'static str, String, bool)>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
    let table: toml::Table = toml::from_str(&text).with_context(|| {
        format!(
            "the configuration file {} is not valid TOML",
            path.display()
        )
    })?;
    let mut out = Vec::new();
    for (key, value) in table {
        let Some((_, flag, serve)) = KEYS.iter().find(|(k, _, _)| *k == key) else {
            bail!(
                "unknown setting `{key}` in {}: the settings are {}",
                path.display(),
                KEYS.iter()
                    .map(|(k, _, _)| *k)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        };
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Integer(i) => i.to_string(),
            other => bail!(
                "`{key}` in {} must be a string, a number or a boolean, not {}",
                path.display(),
                other.type_str()
            ),
        };
        out.push((*flag, value, *serve));
    }
    Ok(out)
}
