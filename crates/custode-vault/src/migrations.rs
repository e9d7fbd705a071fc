//! The vault's part of the main store (its own database has [`crate::VAULT`]):
//! the index that finds the audit entries anchoring the vault access log.
//! The version keeps the number it had when the kernel held it.

use custode_store::migrations::Migration;

/// This capability's migrations of the main store, listed in `custode_app::SCHEMA`.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 11,
    name: "vault access log anchors",
    // Each line of the vault access log is recorded (line and hash) by
    // an entry of this chain; verification reads those entries alone.
    sql: r#"
CREATE INDEX audit_vault_anchors ON audit_log (seq) WHERE action IN ('vault.queried', 'access.denied', 'vault.log_chained')
"#,
}];
