//! The tenancy tree's closed nodes: nothing new is created under a closed
//! tenant, and no credential is issued for one. Closing itself (erasing
//! every subject below) is the requests capability's (`custode-requests`).

use custode_domain::TenantId;
use custode_domain::clock::from_micros;
use sqlx::Row;

use crate::StoreError;

/// Refuses to create anything under a closed tenant.
pub fn refuse_closed(id: &TenantId, closed_at: Option<i64>) -> Result<(), StoreError> {
    match closed_at {
        None => Ok(()),
        Some(at) => Err(StoreError::Conflict(format!(
            "tenant {id} was closed on {}: nothing new can be created under it; use an open tenant",
            from_micros(at).strftime("%Y-%m-%d")
        ))),
    }
}

/// Refuses a credential scoped to a closed tenant (its revocation would
/// otherwise be undone by a new one), in the caller's write transaction.
pub async fn refuse_closed_scope(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    scope_path: &str,
) -> Result<(), StoreError> {
    let row = sqlx::query("SELECT id, closed_at FROM tenants WHERE path = $1")
        .bind(scope_path)
        .fetch_optional(&mut **tx)
        .await?;
    if let Some(row) = row {
        let id = TenantId::parse(&row.try_get::<String, _>(0)?)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        refuse_closed(&id, row.try_get(1)?)?;
    }
    Ok(())
}
