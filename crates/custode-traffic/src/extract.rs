//! Judicial extraction: the legal officer answers an authority's order
//! from the traffic store — by number, IP address, mailbox or subscriber,
//! over a time range — through the vault's checks (role, a person, a fresh
//! second factor, the order's reference; [`custode_vault::Vault::check_order`]),
//! every attempt answered or refused in the vault access log and the audit
//! chain ([`custode_vault::Vault::log_order`]).
//!
//! The law's limits are checked here: a range reaching past the ordinary
//! period of Art. 132 is refused unless the order's crime is one the
//! extended period covers ([`crate::law`]); a record past its own ordinary
//! end is left out for any other crime.
//!
//! The answer is a set of files — `traffic.csv`, `traffic.json`, and
//! `manifest.json` (each file's SHA-256, the query, the order, the time,
//! the officer, the instance's public key) with `manifest.sig`, its
//! Ed25519 signature by the instance's key — that [`verify_dir`] (and
//! `custode traffic verify`) checks offline: a changed byte fails it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use custode_crypto::{Signature, Signer, VerifyingKey};
use custode_domain::clock::{from_micros, to_micros};
use custode_domain::{Principal, SubjectId};
use custode_policy::IdentifierKind;
use custode_store::StoreError;
use custode_vault::{OrderQuery, VaultOrder};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::partitions::PartitionId;
use crate::rules::{NET, PHONE, UNANSWERED};
use crate::{Traffic, TrafficError};

/// The manifest's format name.
pub const MANIFEST_FORMAT: &str = "custode-traffic-extraction/1";

/// Whose traffic an order asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A telephone number, calling or called.
    Number(String),
    /// An IP address: the sessions it was assigned to, the logins from it.
    Ip(String),
    /// A mailbox or account name: its logins and sessions.
    Mailbox(String),
    /// A subscriber, by id.
    Subject(SubjectId),
}

impl Target {
    /// How the vault access log names it (a kind or an id, never a value).
    fn logged(&self) -> String {
        match self {
            Target::Number(_) => "traffic by number (value not logged)".to_owned(),
            Target::Ip(_) => "traffic by IP address (value not logged)".to_owned(),
            Target::Mailbox(_) => "traffic by mailbox (value not logged)".to_owned(),
            Target::Subject(s) => format!("traffic of subject {s}"),
        }
    }

    /// The categories it reaches.
    fn categories(&self) -> &'static [&'static str] {
        match self {
            Target::Number(_) => &[PHONE, UNANSWERED],
            Target::Ip(_) | Target::Mailbox(_) => &[NET],
            Target::Subject(_) => &[PHONE, UNANSWERED, NET],
        }
    }

    /// The identifier searched, as the index spells it.
    fn identifier(&self) -> Option<(IdentifierKind, String)> {
        let (kind, value) = match self {
            Target::Number(n) => (IdentifierKind::Phone, n),
            Target::Ip(ip) => (IdentifierKind::IpAddress, ip),
            Target::Mailbox(m) if m.contains('@') => (IdentifierKind::Email, m),
            Target::Mailbox(m) => (IdentifierKind::Username, m),
            Target::Subject(_) => return None,
        };
        Some((kind, custode_domain::normalise_identifier(kind, value)))
    }

    /// How the manifest describes it (the value included: the manifest
    /// goes to the court with the data it answers).
    fn described(&self) -> (String, String) {
        match self {
            Target::Number(v) => ("number".to_owned(), v.clone()),
            Target::Ip(v) => ("ip".to_owned(), v.clone()),
            Target::Mailbox(v) => ("mailbox".to_owned(), v.clone()),
            Target::Subject(s) => ("subject".to_owned(), s.to_string()),
        }
    }
}

/// An order to answer from the traffic store.
#[derive(Clone, Debug)]
pub struct Extraction {
    /// The order's reference: authority, number, date, scope.
    pub order: VaultOrder,
    /// The crime the order concerns: a key of the law's list, or `other`.
    pub crime: String,
    /// Whose traffic.
    pub target: Target,
    /// From (included).
    pub from: Timestamp,
    /// To (excluded).
    pub to: Timestamp,
}

/// The files of an answer, the manifest and its signature among them.
#[derive(Clone, Debug)]
pub struct Extracted {
    /// File name and content, in the order they are written.
    pub files: Vec<(String, Vec<u8>)>,
    /// Records given.
    pub records: u64,
    /// Records in range left out: past their ordinary period, for a crime
    /// the extended period does not cover.
    pub withheld: u64,
}

impl Extracted {
    /// Writes the files into `dir` (made if missing; existing files of
    /// the same names are refused, so an answer is never overwritten).
    pub fn write_to(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        for (name, bytes) in &self.files {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(dir.join(name))?;
            std::io::Write::write_all(&mut f, bytes)?;
            f.sync_all()?;
        }
        Ok(())
    }
}

/// The signed description of an answer.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    /// [`MANIFEST_FORMAT`].
    pub format: String,
    /// The instance's Ed25519 public key, hex: what the signature is
    /// checked against (compare it with the key the provider published).
    pub instance_key: String,
    /// When the answer was made.
    pub created_at: String,
    /// The legal officer (`user:…`).
    pub officer: String,
    /// The order.
    pub order: ManifestOrder,
    /// The query.
    pub query: ManifestQuery,
    /// Records given, and left out past their ordinary period.
    pub records: u64,
    /// Records withheld.
    pub withheld: u64,
    /// The files and their SHA-256.
    pub files: Vec<ManifestFile>,
}

/// The order as the manifest records it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestOrder {
    /// Issuing authority.
    pub authority: String,
    /// Number or reference.
    pub number: String,
    /// Date, YYYY-MM-DD.
    pub date: String,
    /// Its scope, in its words.
    pub scope: String,
    /// The crime category.
    pub crime: String,
}

/// The query as the manifest records it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestQuery {
    /// `number`, `ip`, `mailbox` or `subject`.
    pub by: String,
    /// The value searched.
    pub value: String,
    /// From (included), RFC 3339.
    pub from: String,
    /// To (excluded), RFC 3339.
    pub to: String,
}

/// A file of the answer.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestFile {
    /// Its name in the directory.
    pub name: String,
    /// Its SHA-256, hex.
    pub sha256: String,
    /// Its size in bytes.
    pub bytes: u64,
}

/// A row as read: partition, time, subject key, link hash, legal end, payload.
type RawRow = (PartitionId, i64, Option<i64>, Vec<u8>, i64, Vec<u8>);

/// One record of an answer.
struct Found {
    category: &'static str,
    at: Timestamp,
    subscriber: String,
    fields: BTreeMap<String, serde_json::Value>,
}

impl Traffic {
    /// Answers an order (see the module's doc). `factor` is the officer's
    /// fresh TOTP code or passkey assertion.
    pub async fn extract(
        &self,
        by: &Principal,
        factor: Option<&custode_accounts::FreshFactor<'_>>,
        request: &Extraction,
    ) -> Result<Extracted, TrafficError> {
        let subject = match &request.target {
            Target::Subject(s) => Some(s.to_string()),
            _ => None,
        };
        // The subject's place, only for an officer who passed the role
        // check (read below, after the gate).
        let mut query = OrderQuery {
            by,
            order: &request.order,
            target: request.target.logged(),
            subject: subject.clone(),
            tenant_path: by.scope.path().to_owned(),
        };
        self.vault.check_order(&query, factor).await?;
        let subject_key = match &request.target {
            Target::Subject(s) => {
                let row = sqlx::query("SELECT key, tenant_path FROM subjects WHERE id = $1")
                    .bind(s.as_str())
                    .fetch_optional(self.store.reader())
                    .await
                    .map_err(StoreError::from)?;
                let found = match row {
                    Some(r) => {
                        let key: i64 = r.try_get(0).map_err(StoreError::from)?;
                        let path: String = r.try_get(1).map_err(StoreError::from)?;
                        by.scope.covers(&path, s).then_some((key, path))
                    }
                    None => None,
                };
                let Some((key, path)) = found else {
                    self.vault
                        .log_order(&query, Err("no such subject in the caller's scope"))
                        .await?;
                    return Err(custode_store::not_found("subject", s.as_str()).into());
                };
                query.tenant_path = path;
                Some(key)
            }
            _ => None,
        };
        let rules = self.rules()?;
        let now = self.store.now();
        let logged = &query;
        let refuse = |why: String| async move {
            self.vault.log_order(logged, Err(&why)).await?;
            Err::<Extracted, TrafficError>(TrafficError::Invalid(why))
        };
        let extended = match rules.extension {
            Some(ext) if ext.covers(&request.crime) => Some(ext),
            Some(ext) if request.crime != crate::law::OTHER => {
                return refuse(format!(
                    "crime category `{}` is not known: give one of {}",
                    request.crime,
                    ext.keys().join(", ")
                ))
                .await;
            }
            None if request.crime != crate::law::OTHER => {
                return refuse(format!(
                    "crime category `{}` is not known: this jurisdiction has no extended period, give `other`",
                    request.crime
                ))
                .await;
            }
            _ => None,
        };
        if request.from >= request.to {
            return refuse("the range's start must come before its end".to_owned()).await;
        }
        if request.to > now + crate::parse::FUTURE_SKEW {
            return refuse(
                "the range ends in the future: traffic not yet made cannot be given".to_owned(),
            )
            .await;
        }
        let categories: Vec<&'static str> = request
            .target
            .categories()
            .iter()
            .copied()
            .filter(|c| rules.periods(c).is_some())
            .collect();
        let ordinary = categories
            .iter()
            .filter_map(|c| rules.periods(c))
            .map(|p| p.ordinary)
            .max_by_key(|p| rules.end(Timestamp::UNIX_EPOCH, *p));
        let Some(ordinary) = ordinary else {
            return refuse("the policy keeps no traffic of this kind".to_owned()).await;
        };
        if rules.end(request.from, ordinary) <= now {
            match (extended, rules.extension) {
                (Some(ext), _) if rules.end(request.from, ext.period) <= now => {
                    return refuse(format!(
                        "the range starts before the {} months {} keeps traffic: nothing that old is kept",
                        ext.period.amount, ext.law
                    ))
                    .await;
                }
                (Some(_), _) => {}
                (None, Some(ext)) => {
                    return refuse(format!(
                        "the range starts before the ordinary period of Art. 132 ({} {}): only an order about a crime {} lists reaches further ({})",
                        ordinary.amount,
                        unit_word(ordinary),
                        ext.law,
                        ext.keys()[..ext.keys().len() - 1].join(", ")
                    ))
                    .await;
                }
                (None, None) => {
                    return refuse(format!(
                        "the range starts before the legal period ({} {}): nothing older is kept",
                        ordinary.amount,
                        unit_word(ordinary)
                    ))
                    .await;
                }
            }
        }
        let (found, withheld) = match self
            .search(
                by,
                &request.target,
                subject_key,
                &categories,
                request,
                extended.is_some(),
                now,
            )
            .await
        {
            Ok(f) => f,
            Err(e) => {
                self.vault
                    .log_order(&query, Err("the search failed"))
                    .await?;
                return Err(e);
            }
        };
        let made = self.package(by, request, &found, withheld, now)?;
        self.vault.log_order(&query, Ok(made.records)).await?;
        Ok(made)
    }

    /// The records of the target in range that the caller may be given.
    #[allow(clippy::too_many_arguments)]
    async fn search(
        &self,
        by: &Principal,
        target: &Target,
        subject_key: Option<i64>,
        categories: &[&'static str],
        request: &Extraction,
        extended: bool,
        now: Timestamp,
    ) -> Result<(Vec<Found>, u64), TrafficError> {
        let hash = target.identifier().map(|(kind, value)| {
            custode_store::identifier_hash(&self.store.keys().hasher(), kind.key(), &value)
        });
        let partitions = self
            .partitions
            .in_range(categories, request.from, request.to)
            .await?;
        let mut raw: Vec<RawRow> = Vec::new();
        for p in &partitions {
            let table = p.table();
            let columns = "at, subject_key, link_hash, legal_until, sealed";
            let q = match (&hash, subject_key) {
                (Some(h), _) => sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {columns} FROM {table} WHERE link_hash = $1 AND at >= $2 AND at < $3 \
                     UNION ALL SELECT {columns} FROM {table} WHERE peer_hash = $1 AND link_hash <> $1 AND at >= $2 AND at < $3"
                )))
                .bind(h.clone()),
                (None, Some(k)) => sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {columns} FROM {table} WHERE subject_key = $1 AND at >= $2 AND at < $3"
                )))
                .bind(k),
                (None, None) => continue,
            };
            let rows = q
                .bind(to_micros(request.from))
                .bind(to_micros(request.to))
                .fetch_all(self.store.reader())
                .await
                .map_err(StoreError::from)?;
            for r in rows {
                raw.push((
                    p.clone(),
                    r.try_get(0).map_err(StoreError::from)?,
                    r.try_get(1).map_err(StoreError::from)?,
                    r.try_get(2).map_err(StoreError::from)?,
                    r.try_get(3).map_err(StoreError::from)?,
                    r.try_get(4).map_err(StoreError::from)?,
                ));
            }
        }
        // Whose each record is, and whether the caller's scope covers them;
        // records under a pending link only for an officer of the whole tree.
        let keys: BTreeSet<i64> = raw.iter().filter_map(|r| r.2).collect();
        let mut owners: HashMap<i64, Option<String>> = HashMap::new();
        let keys: Vec<i64> = keys.into_iter().collect();
        for chunk in keys.chunks(500) {
            let sql = format!(
                "SELECT key, id, tenant_path FROM subjects WHERE key IN ({})",
                custode_store::placeholders(self.store.engine(), 1, chunk.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for k in chunk {
                q = q.bind(*k);
            }
            for r in q
                .fetch_all(self.store.reader())
                .await
                .map_err(StoreError::from)?
            {
                let key: i64 = r.try_get(0).map_err(StoreError::from)?;
                let id: String = r.try_get(1).map_err(StoreError::from)?;
                let path: String = r.try_get(2).map_err(StoreError::from)?;
                let visible = SubjectId::parse(&id)
                    .map(|sid| by.scope.covers(&path, &sid))
                    .unwrap_or(false);
                owners.insert(key, visible.then_some(id));
            }
        }
        let whole_tree = by.scope.path() == "/" && by.scope.only_subject().is_none();
        let mut found = Vec::new();
        let mut withheld = 0u64;
        let now_us = to_micros(now);
        for (p, at, owner, link_hash, legal_until, sealed) in raw {
            let subscriber = match owner {
                Some(k) => match owners.get(&k).cloned().flatten() {
                    Some(id) => id,
                    None => continue,
                },
                None if whole_tree => "pending".to_owned(),
                None => continue,
            };
            if legal_until <= now_us && !extended {
                withheld += 1;
                continue;
            }
            let Some(key) = self.partitions.key(&p).await? else {
                continue;
            };
            let plain = key
                .open(&sealed, &p.aad(at, &link_hash))
                .map_err(StoreError::from)?;
            let fields = serde_json::from_slice(&plain)
                .map_err(|e| TrafficError::Invalid(format!("a sealed traffic record: {e}")))?;
            found.push(Found {
                category: p.category,
                at: from_micros(at),
                subscriber,
                fields,
            });
        }
        found.sort_by(|a, b| a.at.cmp(&b.at).then(a.category.cmp(b.category)));
        Ok((found, withheld))
    }

    /// The answer's files: CSV, JSON, the manifest and its signature.
    fn package(
        &self,
        by: &Principal,
        request: &Extraction,
        found: &[Found],
        withheld: u64,
        now: Timestamp,
    ) -> Result<Extracted, TrafficError> {
        let columns: BTreeSet<&str> = found
            .iter()
            .flat_map(|f| f.fields.keys().map(String::as_str))
            .collect();
        let mut csv = csv::Writer::from_writer(Vec::new());
        let header: Vec<&str> = ["category", "time", "subscriber"]
            .into_iter()
            .chain(columns.iter().copied())
            .collect();
        let csv_error = |e: csv::Error| TrafficError::Invalid(format!("writing the CSV: {e}"));
        csv.write_record(&header).map_err(csv_error)?;
        for f in found {
            let mut record = vec![
                f.category.to_owned(),
                f.at.to_string(),
                f.subscriber.clone(),
            ];
            for c in &columns {
                record.push(match f.fields.get(*c) {
                    None | Some(serde_json::Value::Null) => String::new(),
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(v) => v.to_string(),
                });
            }
            csv.write_record(&record).map_err(csv_error)?;
        }
        let csv = csv
            .into_inner()
            .map_err(|e| TrafficError::Invalid(format!("writing the CSV: {e}")))?;
        let json: Vec<serde_json::Value> = found
            .iter()
            .map(|f| {
                serde_json::json!({
                    "category": f.category,
                    "time": f.at.to_string(),
                    "subscriber": f.subscriber,
                    "fields": f.fields,
                })
            })
            .collect();
        let json = serde_json::to_vec_pretty(&json)
            .map_err(|e| TrafficError::Invalid(format!("writing the JSON: {e}")))?;
        let files = vec![
            ("traffic.csv".to_owned(), csv),
            ("traffic.json".to_owned(), json),
        ];
        let (by_what, value) = request.target.described();
        let signing = self.store.keys().signing_key();
        let manifest = Manifest {
            format: MANIFEST_FORMAT.to_owned(),
            instance_key: hex::encode(signing.verifying_key().as_bytes()),
            created_at: now.to_string(),
            officer: by.id.clone(),
            order: ManifestOrder {
                authority: request.order.authority.trim().to_owned(),
                number: request.order.number.trim().to_owned(),
                date: request.order.date.trim().to_owned(),
                scope: request.order.scope.trim().to_owned(),
                crime: request.crime.clone(),
            },
            query: ManifestQuery {
                by: by_what,
                value,
                from: request.from.to_string(),
                to: request.to.to_string(),
            },
            records: found.len() as u64,
            withheld,
            files: files
                .iter()
                .map(|(name, bytes)| ManifestFile {
                    name: name.clone(),
                    sha256: hex::encode(Sha256::digest(bytes)),
                    bytes: bytes.len() as u64,
                })
                .collect(),
        };
        let mut manifest_bytes = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| TrafficError::Invalid(format!("writing the manifest: {e}")))?;
        manifest_bytes.push(b'\n');
        let signature = signing.sign(&manifest_bytes);
        let mut out = files;
        out.push(("manifest.json".to_owned(), manifest_bytes));
        out.push((
            "manifest.sig".to_owned(),
            format!("{}\n", hex::encode(signature.to_bytes())).into_bytes(),
        ));
        Ok(Extracted {
            files: out,
            records: found.len() as u64,
            withheld,
        })
    }
}

fn unit_word(p: custode_policy::Period) -> &'static str {
    use custode_policy::Unit;
    match (p.unit, p.amount == 1) {
        (Unit::Day, true) => "day",
        (Unit::Day, false) => "days",
        (Unit::Week, true) => "week",
        (Unit::Week, false) => "weeks",
        (Unit::Month, true) => "month",
        (Unit::Month, false) => "months",
        (Unit::Year, true) => "year",
        (Unit::Year, false) => "years",
    }
}

/// Why an answer's directory does not verify.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A file could not be read.
    #[error("{file}: {error}")]
    Read {
        /// Which.
        file: String,
        /// Why.
        error: std::io::Error,
    },
    /// The manifest is not one.
    #[error("manifest.json is not a traffic extraction's manifest: {0}")]
    Manifest(String),
    /// The signature does not match.
    #[error(
        "manifest.sig does not verify manifest.json under the key {key}: the manifest was changed, or not signed by that key"
    )]
    Signature {
        /// The key tried, hex.
        key: String,
    },
    /// A file differs from what the manifest recorded.
    #[error("{file} was changed: its SHA-256 is {found}, the manifest recorded {recorded}")]
    Changed {
        /// Which.
        file: String,
        /// Its hash now.
        found: String,
        /// The manifest's.
        recorded: String,
    },
    /// A file not in the manifest.
    #[error("{0} is not in the manifest: it was added after the answer was signed")]
    Added(String),
}

/// Checks an answer's directory: the manifest's signature (under `key`,
/// or the key the manifest names, which the court then compares with the
/// provider's published one), every file's SHA-256, no file added.
pub fn verify_dir(dir: &Path, key: Option<&VerifyingKey>) -> Result<Manifest, VerifyError> {
    let read = |name: &str| {
        std::fs::read(dir.join(name)).map_err(|error| VerifyError::Read {
            file: name.to_owned(),
            error,
        })
    };
    let manifest_bytes = read("manifest.json")?;
    let sig_text = read("manifest.sig")?;
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| VerifyError::Manifest(e.to_string()))?;
    if manifest.format != MANIFEST_FORMAT {
        return Err(VerifyError::Manifest(format!(
            "format `{}`, expected `{MANIFEST_FORMAT}`",
            manifest.format
        )));
    }
    let named = match key {
        Some(k) => *k,
        None => {
            let bytes: [u8; 32] = hex::decode(&manifest.instance_key)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| {
                    VerifyError::Manifest("instance_key is not an Ed25519 key".to_owned())
                })?;
            VerifyingKey::from_bytes(&bytes).map_err(|_| {
                VerifyError::Manifest("instance_key is not an Ed25519 key".to_owned())
            })?
        }
    };
    let bad_signature = || VerifyError::Signature {
        key: hex::encode(named.as_bytes()),
    };
    let sig: [u8; 64] = std::str::from_utf8(&sig_text)
        .ok()
        .and_then(|t| hex::decode(t.trim()).ok())
        .and_then(|b| b.try_into().ok())
        .ok_or_else(bad_signature)?;
    named
        .verify_strict(&manifest_bytes, &Signature::from_bytes(&sig))
        .map_err(|_| bad_signature())?;
    for f in &manifest.files {
        let bytes = read(&f.name)?;
        let found = hex::encode(Sha256::digest(&bytes));
        if found != f.sha256 {
            return Err(VerifyError::Changed {
                file: f.name.clone(),
                found,
                recorded: f.sha256.clone(),
            });
        }
    }
    let entries = std::fs::read_dir(dir).map_err(|error| VerifyError::Read {
        file: dir.display().to_string(),
        error,
    })?;
    for entry in entries {
        let entry = entry.map_err(|error| VerifyError::Read {
            file: dir.display().to_string(),
            error,
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name != "manifest.json"
            && name != "manifest.sig"
            && !manifest.files.iter().any(|f| f.name == name)
        {
            return Err(VerifyError::Added(name));
        }
    }
    Ok(manifest)
}
