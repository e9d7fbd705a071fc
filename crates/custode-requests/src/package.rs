//! The access package (Art. 15, and the data of Art. 20): a ZIP with every
//! record as JSON and as CSV, the consent ledger, what the vault keeps
//! (described, and its content where the policy gives it), and the summary
//! in the requester's language. Pure packaging, no I/O: the fulfilment job
//! reads the data (audited; the vault's through `vault.rs`) and stores the
//! bytes.

use std::collections::{BTreeMap, BTreeSet};

use custode_ledger::ConsentEvent;
use custode_policy::{Held, Lang, Policy};
use custode_store::Record;
use custode_vault::VaultHolding;
use serde_json::json;

/// The files of a package, in order.
pub fn package(
    policy: &Policy,
    lang: Lang,
    subject: &str,
    now: jiff::Timestamp,
    records: &[Record],
    consent: &[ConsentEvent],
    vault: &[VaultHolding],
) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut held: BTreeMap<&str, Held> = BTreeMap::new();
    for r in records {
        let h = held.entry(r.category.as_str()).or_insert_with(|| Held {
            category: r.category.clone(),
            records: 0,
            purposes: BTreeSet::new(),
        });
        h.records += 1;
        h.purposes.extend(r.purposes.iter().cloned());
    }
    let held: Vec<Held> = held.into_values().collect();
    let date = now.strftime("%Y-%m-%d").to_string();
    let vault_held: Vec<custode_policy::VaultHeld> = vault.iter().map(|v| v.held.clone()).collect();
    let summary = custode_policy::access_summary(policy, lang, &date, &held, &vault_held)
        .map_err(|e| e.to_string())?;
    let json = json!({
        "subject": subject,
        "exported_at": now.to_string(),
        "controller": policy.controller.name,
        "policy_version": policy.meta.version,
        "records": records.iter().map(|r| json!({
            "id": r.id,
            "category": r.category,
            "fields": r.fields,
            "source": r.source,
            "purposes": r.purposes,
            "collected_at": r.collected_at.to_string(),
            "retain_until": r.retain_until.map(|t| t.to_string()),
        })).collect::<Vec<_>>(),
        "consent": consent.iter().map(|e| json!({
            "id": e.id.to_string(),
            "kind": e.kind.name(),
            "purpose": e.purpose,
            "channel": e.channel.name(),
            "at": e.at.to_string(),
            "policy_digest": e.policy_digest,
            "notice_digest": e.notice_digest,
            "evidence": e.evidence,
        })).collect::<Vec<_>>(),
        "vault": vault.iter().map(|v| json!({
            "category": v.held.category,
            "records": v.held.records,
            "grounds": v.held.grounds,
            "until": v.held.until,
            "content": if custode_policy::vault_content_given(policy, &v.held.grounds) { "given" } else { "withheld" },
            "given": v.given.iter().map(|r| json!({
                "fields": r.fields,
                "collected_at": r.collected_at.to_string(),
                "until": r.until.map(|t| t.to_string()),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    let mut csv = String::from(
        "record_id,category,field,value,source,purposes,collected_at,retain_until\r\n",
    );
    for r in records {
        for (field, value) in &r.fields {
            let value = match value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let row = [
                r.id.to_string(),
                r.category.clone(),
                field.clone(),
                value,
                r.source.clone(),
                r.purposes.join(" "),
                r.collected_at.to_string(),
                r.retain_until.map(|t| t.to_string()).unwrap_or_default(),
            ];
            csv.push_str(&row.iter().map(|f| quote(f)).collect::<Vec<_>>().join(","));
            csv.push_str("\r\n");
        }
    }
    // Vault content given to the person: no record id (the vault's are
    // its own), its source named instead.
    for r in vault.iter().flat_map(|v| &v.given) {
        let grounds: Vec<&str> = r.grounds.iter().map(|(g, _)| g.as_str()).collect();
        for (field, value) in &r.fields {
            let value = match value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let row = [
                String::new(),
                r.category.clone(),
                field.clone(),
                value,
                "vault".to_owned(),
                grounds.join(" "),
                r.collected_at.to_string(),
                r.until.map(|t| t.to_string()).unwrap_or_default(),
            ];
            csv.push_str(&row.iter().map(|f| quote(f)).collect::<Vec<_>>().join(","));
            csv.push_str("\r\n");
        }
    }
    Ok(vec![
        (
            "records.json".to_owned(),
            serde_json::to_vec_pretty(&json).map_err(|e| e.to_string())?,
        ),
        ("records.csv".to_owned(), csv.into_bytes()),
        (
            format!("summary-{}.md", lang.code()),
            summary.to_markdown().into_bytes(),
        ),
        (
            format!("summary-{}.html", lang.code()),
            summary.to_html().into_bytes(),
        ),
    ])
}

/// A CSV field, always quoted (RFC 4180), so commas, quotes and line
/// breaks in values stay inside it.
fn quote(field: &str) -> String {
    format!("\"{}\"", field.replace('"', "\"\""))
}

/// CRC-32 (IEEE), as ZIP wants it.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A ZIP archive of `files`, stored without compression (every reader opens
/// it; the package is small). Names are UTF-8.
pub fn zip(files: &[(String, Vec<u8>)]) -> Result<Vec<u8>, String> {
    let too_big = || "the package is larger than a plain ZIP holds (4 GiB)".to_owned();
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in files {
        let offset = u32::try_from(out.len()).map_err(|_| too_big())?;
        let size = u32::try_from(data.len()).map_err(|_| too_big())?;
        let name_len = u16::try_from(name.len()).map_err(|_| too_big())?;
        let crc = crc32(data);
        // Version 2.0, UTF-8 names, stored, 1980-01-01 00:00.
        let common = |v: &mut Vec<u8>| {
            v.extend_from_slice(&20u16.to_le_bytes());
            v.extend_from_slice(&0x0800u16.to_le_bytes());
            v.extend_from_slice(&0u16.to_le_bytes());
            v.extend_from_slice(&0u16.to_le_bytes());
            v.extend_from_slice(&0x0021u16.to_le_bytes());
            v.extend_from_slice(&crc.to_le_bytes());
            v.extend_from_slice(&size.to_le_bytes());
            v.extend_from_slice(&size.to_le_bytes());
            v.extend_from_slice(&name_len.to_le_bytes());
            v.extend_from_slice(&0u16.to_le_bytes());
        };
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        common(&mut out);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes());
        common(&mut central);
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&0u32.to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let count = u16::try_from(files.len()).map_err(|_| too_big())?;
    let cd_offset = u32::try_from(out.len()).map_err(|_| too_big())?;
    let cd_size = u32::try_from(central.len()).map_err(|_| too_big())?;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn csv_fields_keep_their_commas_and_quotes() {
        assert_eq!(quote("a,\"b\""), "\"a,\"\"b\"\"\"");
    }
}
