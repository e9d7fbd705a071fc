//! Discovery: connect read-only to a database, list its tables, columns,
//! keys, foreign keys and indexes, sample values, and draft a systems file
//! with categories guessed from column names and from the values
//! themselves (see [`crate::detect`]).
//!
//! The draft carries `draft = true`, which [`crate::load`] refuses: a person
//! reviews it and deletes that line before it is ever used.

use std::collections::{BTreeMap, BTreeSet};

use custode_policy::{IdentifierKind, Policy};

use crate::db::{self, Bind, Conn, Dialect};
use crate::detect::{Detected, detect};
use crate::error::{Error, Secret, redact};
use crate::mapping::{Engine, is_plain_name, url_password};

/// How to scan.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    /// The id the draft gives the system.
    pub system_id: String,
    /// The schema (PostgreSQL) or database (MySQL) to scan; the
    /// connection's default when absent.
    pub schema: Option<String>,
    /// How many rows to sample per table.
    pub sample_rows: usize,
    /// The password, when not in the URL.
    pub password: Option<Secret>,
    /// The environment variable the draft names for the password.
    pub password_env: String,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            system_id: "system".into(),
            schema: None,
            sample_rows: 200,
            password: None,
            password_env: "CUSTODE_SYSTEM_PASSWORD".into(),
        }
    }
}

/// The draft and what the scan saw.
#[derive(Clone, Debug)]
pub struct ScanReport {
    /// The draft systems file.
    pub toml: String,
    /// Tables in the schema.
    pub tables_seen: usize,
    /// Tables the draft maps.
    pub tables_mapped: usize,
    /// Columns the draft maps to a category.
    pub columns_mapped: usize,
}

/// What a column seems to hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Guess {
    Value(Detected),
    Name,
    Address,
    BirthDate,
    Password,
    Username,
    Billing,
    Message,
}

impl Guess {
    fn identifier(self) -> Option<IdentifierKind> {
        match self {
            Guess::Value(Detected::Email) => Some(IdentifierKind::Email),
            Guess::Value(Detected::Phone) => Some(IdentifierKind::Phone),
            Guess::Value(Detected::TaxCode) => Some(IdentifierKind::TaxCode),
            Guess::Value(Detected::VatNumber) => Some(IdentifierKind::VatNumber),
            _ => None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Guess::Value(d) => d.name(),
            Guess::Name => "name",
            Guess::Address => "address",
            Guess::BirthDate => "birth date",
            Guess::Password => "password",
            Guess::Username => "user name",
            Guess::Billing => "billing",
            Guess::Message => "message",
        }
    }
}

/// A guess from the column's name alone.
fn guess_from_name(column: &str) -> Option<Guess> {
    let lower = column.to_ascii_lowercase();
    let tokens: Vec<&str> = lower.split(['_', '-']).collect();
    let has = |words: &[&str]| tokens.iter().any(|t| words.contains(t));
    Some(if has(&["email", "mail", "e-mail"]) {
        Guess::Value(Detected::Email)
    } else if has(&[
        "phone",
        "tel",
        "telephone",
        "mobile",
        "cell",
        "msisdn",
        "fax",
    ]) {
        Guess::Value(Detected::Phone)
    } else if has(&["ip", "ipv4", "ipv6"]) {
        Guess::Value(Detected::Ip)
    } else if has(&["iban"]) {
        Guess::Value(Detected::Iban)
    } else if has(&["cf", "codice", "fiscale", "fiscal"]) || lower == "tax_code" {
        Guess::Value(Detected::TaxCode)
    } else if has(&["vat", "piva", "iva"]) {
        Guess::Value(Detected::VatNumber)
    } else if has(&[
        "name",
        "surname",
        "firstname",
        "lastname",
        "fullname",
        "nome",
        "cognome",
    ]) {
        Guess::Name
    } else if has(&["address", "street", "city", "zip", "postcode", "indirizzo"]) {
        Guess::Address
    } else if has(&["birth", "dob", "birthday", "birthdate"]) {
        Guess::BirthDate
    } else if has(&["password", "passwd", "pwd"]) {
        Guess::Password
    } else if has(&["username", "login", "user"]) && !has(&["id"]) {
        Guess::Username
    } else if has(&["amount", "price", "total", "invoice", "payment", "item"]) {
        Guess::Billing
    } else if has(&[
        "body", "message", "subject", "comment", "note", "notes", "text",
    ]) {
        Guess::Message
    } else {
        return None;
    })
}

/// A guess from sampled values: the kind at least 80% of the non-empty
/// values have (and at least one value).
fn guess_from_values(values: &[String]) -> Option<(Detected, usize, usize)> {
    let present: Vec<&String> = values.iter().filter(|v| !v.trim().is_empty()).collect();
    if present.is_empty() {
        return None;
    }
    let mut counts: BTreeMap<Detected, usize> = BTreeMap::new();
    for v in &present {
        if let Some(d) = detect(v) {
            *counts.entry(d).or_default() += 1;
        }
    }
    let (kind, n) = counts.into_iter().max_by_key(|(_, n)| *n)?;
    (n * 5 >= present.len() * 4).then_some((kind, n, present.len()))
}

/// The policy's category and field for a guess: a field declared as that
/// identifier first, then a field by its usual name.
fn policy_field(policy: Option<&Policy>, guess: Guess) -> (String, Option<String>) {
    let Some(policy) = policy else {
        let name = match guess {
            Guess::Value(Detected::Email) => "email",
            Guess::Value(Detected::Phone) => "phone",
            Guess::Value(Detected::Ip) => "ip_address",
            Guess::Value(Detected::Iban) => "bank_account",
            Guess::Value(Detected::TaxCode) => "tax_code",
            Guess::Value(Detected::VatNumber) => "vat_number",
            other => other.label(),
        };
        return (format!("TODO_{}", name.replace(' ', "_")), None);
    };
    let by_identifier = match guess {
        Guess::Value(Detected::Email) => Some(IdentifierKind::Email),
        Guess::Value(Detected::Phone) => Some(IdentifierKind::Phone),
        Guess::Value(Detected::Ip) => Some(IdentifierKind::IpAddress),
        Guess::Value(Detected::TaxCode) => Some(IdentifierKind::TaxCode),
        Guess::Value(Detected::VatNumber) => Some(IdentifierKind::VatNumber),
        Guess::Username => Some(IdentifierKind::Username),
        _ => None,
    };
    if let Some(kind) = by_identifier {
        for c in &policy.categories {
            if let Some(f) = c.fields.iter().find(|f| f.identifier == Some(kind)) {
                return (c.id.value.clone(), Some(f.id.value.clone()));
            }
        }
    }
    let names: &[&str] = match guess {
        Guess::Name => &["name", "contact_name", "full_name", "listed_name"],
        Guess::Address => &["address", "postal_address", "listed_address"],
        Guess::BirthDate => &["birth_date"],
        Guess::Password => &["password"],
        Guess::Username => &["username"],
        Guess::Billing => &["invoices", "payment_terms", "billing"],
        Guess::Message => &["message", "stored_content", "content"],
        Guess::Value(Detected::Iban) => &["bank_account", "iban"],
        Guess::Value(Detected::Email) => &["email"],
        Guess::Value(Detected::Phone) => &["phone"],
        Guess::Value(Detected::Ip) => &["ip_address", "session_ip"],
        Guess::Value(Detected::TaxCode) => &["tax_code"],
        Guess::Value(Detected::VatNumber) => &["vat_number"],
    };
    for name in names {
        for c in &policy.categories {
            if let Some(f) = c.fields.iter().find(|f| f.id.value == *name) {
                return (c.id.value.clone(), Some(f.id.value.clone()));
            }
        }
    }
    let first = policy
        .categories
        .first()
        .map_or_else(|| "TODO".to_owned(), |c| c.id.value.clone());
    (first, None)
}

/// What the scan learns of one table.
#[derive(Debug, Default)]
pub(crate) struct TableFacts {
    key: Option<String>,
    /// (column, parent table, parent column)
    foreign_keys: Vec<(String, String, String)>,
    pub(crate) indexed: BTreeSet<String>,
}

/// Scans a live database and drafts its systems file. Connects read-only;
/// reads the catalogue and a sample of each table's rows, nothing else.
pub async fn scan(
    url: &str,
    options: &ScanOptions,
    policy: Option<&Policy>,
) -> Result<ScanReport, Error> {
    let system = options.system_id.as_str();
    let Some(engine) = Engine::of_url(url) else {
        return Err(Error::Url {
            system: system.to_owned(),
            message: "the URL does not start with postgres://, mysql:// or mariadb://".into(),
        });
    };
    let secret = options
        .password
        .clone()
        .or_else(|| url_password(url).map(Secret::new));
    let secrets: Vec<&Secret> = secret.iter().collect();
    let pool = db::lazy_pool(system, engine, url, options.password.as_ref(), true)?;
    let db_err = |e: sqlx::Error| Error::Database {
        system: system.to_owned(),
        message: redact(&e.to_string(), &secrets),
    };
    let mut conn = pool.acquire().await.map_err(db_err)?;
    let result = scan_with(&mut conn, engine, url, options, policy, &db_err).await;
    drop(conn);
    pool.close().await;
    result
}

async fn scan_with(
    conn: &mut Conn,
    engine: Engine,
    url: &str,
    options: &ScanOptions,
    policy: Option<&Policy>,
    db_err: &dyn Fn(sqlx::Error) -> Error,
) -> Result<ScanReport, Error> {
    let dialect = Dialect(engine);
    let schema = options.schema.as_deref();
    let catalogue = db::catalogue(conn, schema).await.map_err(db_err)?;
    let facts = facts(conn, engine, schema).await.map_err(db_err)?;

    // Sample every table, and guess each column.
    let mut guesses: BTreeMap<String, Vec<(String, Guess, String)>> = BTreeMap::new();
    let mut skipped: Vec<String> = Vec::new();
    for (table, columns) in &catalogue {
        if !is_plain_name(table) || columns.keys().any(|c| !is_plain_name(c)) {
            skipped.push(table.clone());
            continue;
        }
        let names: Vec<&String> = columns.keys().collect();
        let select: Vec<String> = names.iter().map(|c| dialect.as_text(c)).collect();
        let sql = format!(
            "SELECT {} FROM {} LIMIT {}",
            select.join(", "),
            dialect.table(schema, table),
            options.sample_rows.max(1)
        );
        let rows = conn.fetch(&sql, &[]).await.map_err(db_err)?;
        let mut out = Vec::new();
        for (i, column) in names.iter().enumerate() {
            let key = facts.get(table).and_then(|f| f.key.as_ref()) == Some(*column);
            let is_fk = facts
                .get(table)
                .is_some_and(|f| f.foreign_keys.iter().any(|(c, _, _)| c == *column));
            if key || is_fk {
                continue;
            }
            let values: Vec<String> = rows.iter().filter_map(|r| r[i].clone()).collect();
            let by_value = guess_from_values(&values);
            let by_name = guess_from_name(column);
            let (guess, why) = match (by_value, by_name) {
                (Some((d, n, of)), _) => (
                    Guess::Value(d),
                    format!("{n} of {of} sampled values are {}", d.name()),
                ),
                (None, Some(g)) => (g, format!("the name suggests {}", g.label())),
                (None, None) => continue,
            };
            out.push(((*column).clone(), guess, why));
        }
        guesses.insert(table.clone(), out);
    }

    // Identity tables: a column that finds a person, and no foreign key up
    // to another table. Then everything below them through foreign keys.
    let parents_of = |t: &str| -> Vec<(String, String, String)> {
        facts
            .get(t)
            .map(|f| {
                f.foreign_keys
                    .iter()
                    .filter(|(_, p, _)| p != t && catalogue.contains_key(p))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut identity: BTreeSet<String> = BTreeSet::new();
    for (table, gs) in &guesses {
        if parents_of(table).is_empty() && gs.iter().any(|(_, g, _)| g.identifier().is_some()) {
            identity.insert(table.clone());
        }
    }
    let mut reached = identity.clone();
    loop {
        let before = reached.len();
        for table in guesses.keys() {
            if parents_of(table)
                .iter()
                .any(|(_, p, _)| reached.contains(p))
            {
                reached.insert(table.clone());
            }
        }
        if reached.len() == before {
            break;
        }
    }

    // The draft.
    let mut out = String::new();
    let shown_url = strip_password(url);
    out.push_str(&format!(
        "# Drafted by `custode systems scan` from {shown_url}.\n\
         # A DRAFT: categories are guesses from column names and sampled values.\n\
         # Review every table, category and erase action, then delete `draft = true`.\n\
         # Check it with: custode systems check FILE --policy POLICY\n\
         draft = true\n\n"
    ));
    out.push_str("[system]\n");
    out.push_str(&format!("id = {}\n", quote(&options.system_id)));
    out.push_str(&format!("kind = {}\n", quote(engine.key())));
    out.push_str(&format!("url = {}\n", quote(&strip_password(url))));
    out.push_str(&format!(
        "password_env = {}\n",
        quote(&options.password_env)
    ));
    if let Some(s) = schema {
        out.push_str(&format!("schema = {}\n", quote(s)));
    }
    let mut categories: BTreeSet<String> = BTreeSet::new();
    let mut body = String::new();
    let mut tables_mapped = 0;
    let mut columns_mapped = 0;
    let mut unreachable = Vec::new();
    for (table, gs) in &guesses {
        if !reached.contains(table) {
            if !gs.is_empty() {
                unreachable.push(table.clone());
            }
            continue;
        }
        let table_facts = facts.get(table);
        let parents: Vec<(String, String, String)> = parents_of(table)
            .into_iter()
            .filter(|(_, p, _)| reached.contains(p))
            .collect();
        tables_mapped += 1;
        body.push_str("\n[[table]]\n");
        body.push_str(&format!("name = {}\n", quote(table)));
        match table_facts.and_then(|f| f.key.as_ref()) {
            Some(k) => body.push_str(&format!("key = {}\n", quote(k))),
            None => body.push_str("# no single-column primary key found\n"),
        }
        if identity.contains(table) {
            let ids: Vec<(IdentifierKind, &String)> = gs
                .iter()
                .filter_map(|(c, g, _)| g.identifier().map(|k| (k, c)))
                .collect();
            let mut seen_kinds = BTreeSet::new();
            let mut parts = Vec::new();
            for (kind, column) in ids {
                let name = kind.key();
                if seen_kinds.insert(name) {
                    if !table_facts.is_some_and(|f| f.indexed.contains(column)) {
                        body.push_str(&format!(
                            "# no index on `{column}`: a look-up by {name} reads the whole table; consider CREATE INDEX\n"
                        ));
                    }
                    parts.push(format!("{name} = {}", quote(column)));
                }
            }
            body.push_str(&format!("identifiers = {{ {} }}\n", parts.join(", ")));
        }
        if !parents.is_empty() {
            let links: Vec<String> = parents
                .iter()
                .map(|(c, p, r)| {
                    format!(
                        "{{ table = {}, column = {}, references = {} }}",
                        quote(p),
                        quote(c),
                        quote(r)
                    )
                })
                .collect();
            for (c, _, _) in &parents {
                if !table_facts.is_some_and(|f| f.indexed.contains(c)) {
                    body.push_str(&format!(
                        "# no index on `{c}`: following this link reads the whole table; consider CREATE INDEX\n"
                    ));
                }
            }
            body.push_str(&format!("parents = [{}]\n", links.join(", ")));
        }
        body.push_str("[table.columns]\n");
        for (column, guess, why) in gs {
            let (category, field) = policy_field(policy, *guess);
            categories.insert(category.clone());
            columns_mapped += 1;
            let spec = match field {
                Some(f) => format!("{category}.{f}"),
                None => category,
            };
            body.push_str(&format!("{} = {}  # {why}\n", key(column), quote(&spec)));
        }
        let mapped: BTreeSet<&String> = gs.iter().map(|(c, _, _)| c).collect();
        if let Some(cols) = catalogue.get(table) {
            let rest: Vec<String> = cols
                .iter()
                .filter(|(c, _)| !mapped.contains(c))
                .map(|(c, info)| format!("{c} ({})", info.type_name))
                .collect();
            if !rest.is_empty() {
                body.push_str(&format!("# not mapped: {}\n", rest.join(", ")));
            }
        }
    }
    out.push_str(
        "\n# What erasure does per category, for every table: \"delete_row\", \"set_null\",\n\
         # { mask = \"...\" } or { keep = \"the legal ground\" }. A table may override it\n\
         # with its own `erase = { ... }`.\n[erase]\n",
    );
    for c in &categories {
        out.push_str(&format!("{} = \"delete_row\"\n", key(c)));
    }
    out.push_str(&body);
    if !unreachable.is_empty() {
        out.push_str(&format!(
            "\n# Tables with personal data that no identity reaches (add identifiers or links by hand):\n# {}\n",
            unreachable.join(", ")
        ));
    }
    if !skipped.is_empty() {
        out.push_str(&format!(
            "\n# Tables skipped because a name needs quoting: {}\n",
            skipped.join(", ")
        ));
    }
    Ok(ScanReport {
        toml: out,
        tables_seen: catalogue.len(),
        tables_mapped,
        columns_mapped,
    })
}

/// Primary keys, foreign keys and indexed columns (single-column only).
pub(crate) async fn facts(
    conn: &mut Conn,
    engine: Engine,
    schema: Option<&str>,
) -> Result<BTreeMap<String, TableFacts>, sqlx::Error> {
    let s = || vec![Bind::Text(schema.map(str::to_owned))];
    let (keys_sql, fks_sql, idx_sql) = match engine {
        Engine::Postgres => (
            "SELECT c.relname::text, a.attname::text FROM pg_catalog.pg_constraint k \
             JOIN pg_catalog.pg_class c ON c.oid = k.conrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.conkey[1] \
             WHERE k.contype = 'p' AND cardinality(k.conkey) = 1 AND n.nspname = COALESCE($1, current_schema())",
            "SELECT c.relname::text, a.attname::text, pc.relname::text, pa.attname::text \
             FROM pg_catalog.pg_constraint k \
             JOIN pg_catalog.pg_class c ON c.oid = k.conrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_catalog.pg_class pc ON pc.oid = k.confrelid \
             JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1] \
             JOIN pg_catalog.pg_attribute pa ON pa.attrelid = k.confrelid AND pa.attnum = k.confkey[1] \
             WHERE k.contype = 'f' AND cardinality(k.conkey) = 1 AND n.nspname = COALESCE($1, current_schema())",
            "SELECT c.relname::text, a.attname::text FROM pg_catalog.pg_index i \
             JOIN pg_catalog.pg_class c ON c.oid = i.indrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0] \
             WHERE n.nspname = COALESCE($1, current_schema())",
        ),
        Engine::MySql => (
            "SELECT CAST(TABLE_NAME AS CHAR CHARACTER SET utf8mb4), CAST(MIN(COLUMN_NAME) AS CHAR CHARACTER SET utf8mb4) \
             FROM information_schema.KEY_COLUMN_USAGE \
             WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND CONSTRAINT_NAME = 'PRIMARY' \
             GROUP BY TABLE_NAME HAVING COUNT(*) = 1",
            "SELECT CAST(MIN(TABLE_NAME) AS CHAR CHARACTER SET utf8mb4), CAST(MIN(COLUMN_NAME) AS CHAR CHARACTER SET utf8mb4), \
                    CAST(MIN(REFERENCED_TABLE_NAME) AS CHAR CHARACTER SET utf8mb4), CAST(MIN(REFERENCED_COLUMN_NAME) AS CHAR CHARACTER SET utf8mb4) \
             FROM information_schema.KEY_COLUMN_USAGE \
             WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND REFERENCED_TABLE_NAME IS NOT NULL \
               AND REFERENCED_TABLE_SCHEMA = TABLE_SCHEMA \
             GROUP BY TABLE_NAME, CONSTRAINT_NAME HAVING COUNT(*) = 1",
            "SELECT CAST(TABLE_NAME AS CHAR CHARACTER SET utf8mb4), CAST(COLUMN_NAME AS CHAR CHARACTER SET utf8mb4) \
             FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND SEQ_IN_INDEX = 1",
        ),
    };
    let mut out: BTreeMap<String, TableFacts> = BTreeMap::new();
    for r in conn.fetch(keys_sql, &s()).await? {
        if let [Some(t), Some(c)] = r.as_slice() {
            out.entry(t.clone()).or_default().key = Some(c.clone());
        }
    }
    for r in conn.fetch(fks_sql, &s()).await? {
        if let [Some(t), Some(c), Some(p), Some(pc)] = r.as_slice() {
            out.entry(t.clone())
                .or_default()
                .foreign_keys
                .push((c.clone(), p.clone(), pc.clone()));
        }
    }
    for r in conn.fetch(idx_sql, &s()).await? {
        if let [Some(t), Some(c)] = r.as_slice() {
            out.entry(t.clone()).or_default().indexed.insert(c.clone());
        }
    }
    Ok(out)
}

/// The URL without its password (`user:pass@` → `user@`, and no
/// `password=` parameter).
fn strip_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => {
            let kept: Vec<&str> = q
                .split('&')
                .filter(|p| {
                    !matches!(
                        p.split_once('=').map(|(k, _)| k),
                        Some("password" | "pass" | "pwd")
                    )
                })
                .collect();
            (
                r,
                if kept.is_empty() {
                    String::new()
                } else {
                    format!("?{}", kept.join("&"))
                },
            )
        }
        None => (rest, String::new()),
    };
    let end = rest.find(['/', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            format!("{user}@{host}")
        }
        None => authority.to_owned(),
    };
    format!("{scheme}://{authority}{tail}{query}")
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML key: bare when it can be.
fn key(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        s.to_owned()
    } else {
        quote(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_leave_the_url() {
        assert_eq!(
            strip_password("postgres://app:s3cret@db:5432/x?sslmode=require"),
            "postgres://app@db:5432/x?sslmode=require"
        );
        assert_eq!(
            strip_password("mysql://root@127.0.0.1/t"),
            "mysql://root@127.0.0.1/t"
        );
    }

    #[test]
    fn columns_are_guessed_by_values_before_names() {
        let emails: Vec<String> = (0..10).map(|i| format!("u{i}@example.com")).collect();
        assert_eq!(
            guess_from_values(&emails).map(|g| g.0),
            Some(Detected::Email)
        );
        let mixed = vec!["u@example.com".to_owned(), "x".into(), "y".into()];
        assert_eq!(guess_from_values(&mixed), None);
        assert_eq!(
            guess_from_name("contact_email"),
            Some(Guess::Value(Detected::Email))
        );
        assert_eq!(guess_from_name("created_at"), None);
    }
}
