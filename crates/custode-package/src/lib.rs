//! The access package (Art. 15, and the data of Art. 20): a ZIP with every
//! record as JSON and as CSV, the consent ledger, what the vault keeps
//! (described, and its content where the policy gives it), and the summary
//! in the requester's language. Pure packaging, no I/O: the fulfilment job
//! reads the data (audited; the vault's through `custode-vault`) and stores the
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
    let mut csv =
        csv_writer("record_id,category,field,value,source,purposes,collected_at,retain_until");
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
            csv.write_record(&row).map_err(|e| e.to_string())?;
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
            csv.write_record(&row).map_err(|e| e.to_string())?;
        }
    }
    Ok(vec![
        (
            "records.json".to_owned(),
            serde_json::to_vec_pretty(&json).map_err(|e| e.to_string())?,
        ),
        (
            "records.csv".to_owned(),
            csv.into_inner().map_err(|e| e.to_string())?,
        ),
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

/// A CSV writer after a header line: every field quoted (RFC 4180, so
/// commas, quotes and line breaks in values stay inside it), CRLF line ends.
/// The header is written as it is, unquoted, as packages always had it.
pub fn csv_writer(header: &str) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .terminator(csv::Terminator::CRLF)
        .from_writer(format!("{header}\r\n").into_bytes())
}

/// Whether a member is text that deflate shrinks (JSON, CSV, Markdown,
/// HTML); anything else is stored as it is.
fn compresses(name: &str) -> bool {
    let ext = name.rsplit_once('.').map_or("", |(_, e)| e);
    ["json", "csv", "md", "html", "txt"]
        .iter()
        .any(|t| ext.eq_ignore_ascii_case(t))
}

/// Members from this size on get ZIP64 sizes: 64 MiB short of 4 GiB, as
/// deflate may grow data it cannot shrink (5 bytes a 64 KiB block).
const ZIP64_FROM: u64 = (1 << 32) - (1 << 26);

/// Whether a member needs ZIP64 sizes (the archive's own ZIP64 end records
/// are added by the writer when offsets or counts need them).
fn needs_zip64(len: usize) -> bool {
    u64::try_from(len).map_or(true, |n| n >= ZIP64_FROM)
}

/// A ZIP archive of `files`: text deflated, anything else stored; ZIP64
/// where a member or the archive outgrows 4 GiB. Names are UTF-8; every
/// member dated 1980-01-01 00:00, so the same files give the same bytes.
pub fn zip(files: &[(String, Vec<u8>)]) -> Result<Vec<u8>, String> {
    zip_with(files, false)
}

/// [`zip`], with ZIP64 sizes on every member when `force_zip64` (so tests
/// exercise that path without writing 4 GiB).
fn zip_with(files: &[(String, Vec<u8>)], force_zip64: bool) -> Result<Vec<u8>, String> {
    use std::io::Write as _;
    use zip::write::SimpleFileOptions;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in files {
        let method = if compresses(name) {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        };
        let options = SimpleFileOptions::default()
            .compression_method(method)
            .last_modified_time(zip::DateTime::default())
            .large_file(force_zip64 || needs_zip64(data.len()));
        w.start_file(name.as_str(), options)
            .map_err(|e| format!("{name}: {e}"))?;
        w.write_all(data).map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(w.finish().map_err(|e| e.to_string())?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a Python script on `bytes` written to a temporary file; its
    /// stdout. Python's standard library is what a recipient likely has.
    fn python(script: &str, bytes: &[u8]) -> Vec<u8> {
        let path = std::env::temp_dir().join(format!(
            "custode-package-{}-{}.bin",
            std::process::id(),
            custode_domain::SubjectId::generate()
        ));
        std::fs::write(&path, bytes).expect("write");
        let out = std::process::Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(&path)
            .output()
            .expect("python3 runs");
        let _ = std::fs::remove_file(&path);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    fn python_text(script: &str, bytes: &[u8]) -> String {
        String::from_utf8(python(script, bytes)).expect("utf-8")
    }

    fn files() -> Vec<(String, Vec<u8>)> {
        vec![
            (
                "records.json".to_owned(),
                "{\"a\": \"é\"}\n".repeat(200).into_bytes(),
            ),
            ("records.csv".to_owned(), b"a,b\r\n\"1\",\"2\"\r\n".to_vec()),
            ("photo.bin".to_owned(), (0..=255u8).collect()),
            ("empty.md".to_owned(), Vec::new()),
            ("città.html".to_owned(), b"<p>x</p>".to_vec()),
        ]
    }

    /// Per member: name, method, size, bytes read, date, and whether its
    /// local header carries ZIP64 sizes (extra field 0x0001).
    const READ_BACK: &str = r#"
import struct, sys, zipfile
raw = open(sys.argv[1], "rb").read()
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None, "a member fails its CRC"
for i in z.infolist():
    o = i.header_offset
    n, m = struct.unpack("<HH", raw[o + 26:o + 30])
    extra, ids, k = raw[o + 30 + n:o + 30 + n + m], [], 0
    while k + 4 <= len(extra):
        hid, ln = struct.unpack("<HH", extra[k:k + 4])
        ids.append(hid)
        k += 4 + ln
    print(i.filename, i.compress_type, i.file_size, len(z.read(i)), i.date_time, 1 in ids, sep="|")
"#;

    #[test]
    fn python_reads_every_member_with_its_crc() {
        let files = files();
        let out = python_text(READ_BACK, &zip(&files).expect("zip"));
        let lines: Vec<&str> = out.lines().collect();
        // 8 is deflate, 0 stored: text shrinks, the rest is kept as it is.
        assert_eq!(
            lines,
            [
                "records.json|8|2400|2400|(1980, 1, 1, 0, 0, 0)|False",
                "records.csv|8|14|14|(1980, 1, 1, 0, 0, 0)|False",
                "photo.bin|0|256|256|(1980, 1, 1, 0, 0, 0)|False",
                "empty.md|8|0|0|(1980, 1, 1, 0, 0, 0)|False",
                "città.html|8|8|8|(1980, 1, 1, 0, 0, 0)|False",
            ]
        );
        let bytes = zip(&files).expect("zip");
        assert_eq!(
            bytes,
            zip(&files).expect("zip"),
            "the same files, the same bytes"
        );
        assert!(
            bytes.len() < 1000,
            "the JSON is deflated: {} bytes",
            bytes.len()
        );
        let read = r#"
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
sys.stdout.buffer.write(z.read("records.json") + z.read("photo.bin"))
"#;
        let mut want = files[0].1.clone();
        want.extend_from_slice(&files[2].1);
        assert_eq!(python(read, &bytes), want);
    }

    #[test]
    fn members_over_4_gib_get_zip64_sizes() {
        assert!(!needs_zip64(0));
        assert!(!needs_zip64(4000 << 20), "4000 MiB fit a plain ZIP");
        assert!(needs_zip64(u32::MAX as usize));
        assert!(needs_zip64(5 << 30));
        // The ZIP64 path itself, without writing 4 GiB: forced on small
        // members, Python still reads them and checks their CRCs.
        let out = python_text(READ_BACK, &zip_with(&files(), true).expect("zip"));
        assert_eq!(out.lines().count(), 5, "{out}");
        assert!(out.lines().all(|l| l.ends_with("|True")), "{out}");
        assert!(out.contains("photo.bin|0|256|256|"), "{out}");
    }

    #[test]
    fn csv_fields_keep_their_commas_quotes_and_line_breaks() {
        let mut w = csv_writer("a,b,c");
        w.write_record(["x,\"y\"", "", "line\nbreak\r\nend"])
            .expect("write");
        w.write_record(["plain", "é", " spaced "]).expect("write");
        let bytes = w.into_inner().expect("bytes");
        // Byte for byte what packages always held: the header as it is,
        // every field quoted, quotes doubled, CRLF.
        assert_eq!(
            String::from_utf8(bytes.clone()).expect("utf-8"),
            "a,b,c\r\n\"x,\"\"y\"\"\",\"\",\"line\nbreak\r\nend\"\r\n\"plain\",\"é\",\" spaced \"\r\n"
        );
        let out = python_text(
            r#"
import csv, json, sys
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    print(json.dumps(list(csv.reader(f))))
"#,
            &bytes,
        );
        let rows: Vec<Vec<String>> = serde_json::from_str(&out).expect("json");
        assert_eq!(
            rows,
            [
                vec!["a", "b", "c"],
                vec!["x,\"y\"", "", "line\nbreak\r\nend"],
                vec!["plain", "é", " spaced "],
            ]
        );
    }
}
