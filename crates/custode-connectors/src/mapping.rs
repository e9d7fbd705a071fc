//! Systems as code: the model of a systems file, loading it from TOML with
//! spans, and the checks that refuse it while it cannot be carried out.
//!
//! A systems file declares one external database: its engine, where it is
//! (the URL without a password, the password from an environment variable or
//! a file), and its tables — which column finds a subject by which
//! identifier, which tables hang off which through which foreign key, which
//! column holds which policy category, and what erasure does per category.
//! [`load`] is pure: it takes the text and the policy and returns a
//! [`SystemMapping`] or every problem at once, each with its line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use custode_policy::{IdentifierKind, Located, Policy};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diagnostic::{MappingError, Problem, ProblemKind, Span};
use crate::read::{Sink, named};
use custode_policy::reader::{Problems, Table, closest, span_of};

/// The database engine of a system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    MySql,
}

impl Engine {
    /// The name written in a systems file.
    pub fn key(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::MySql => "mysql",
        }
    }

    /// The engine of a URL, from its scheme.
    pub fn of_url(url: &str) -> Option<Engine> {
        let scheme = url.split_once("://")?.0.to_ascii_lowercase();
        match scheme.as_str() {
            "postgres" | "postgresql" => Some(Engine::Postgres),
            "mysql" | "mariadb" => Some(Engine::MySql),
            _ => None,
        }
    }
}

/// Where the password of a system comes from; never the file itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PasswordSource {
    /// No password (trust or socket authentication).
    None,
    /// The named environment variable.
    Env(String),
    /// The first line of the named file.
    File(PathBuf),
}

impl PasswordSource {
    /// The password: the variable's value, or the file's first line
    /// without its line ending; an unset variable, an empty password or an
    /// unreadable file is an error that names where it looked (never the
    /// value). The file's other lines are wiped from memory.
    pub fn read(&self) -> Result<Option<String>, String> {
        match self {
            PasswordSource::None => Ok(None),
            PasswordSource::Env(var) => match std::env::var(var) {
                Ok(v) if !v.is_empty() => Ok(Some(v)),
                _ => Err(format!("the environment variable {var} is not set")),
            },
            PasswordSource::File(path) => match std::fs::read_to_string(path) {
                Ok(text) => {
                    let line = text.lines().next().unwrap_or("").trim_end().to_owned();
                    drop(crate::Secret::new(text));
                    if line.is_empty() {
                        return Err(format!("the password file {} is empty", path.display()));
                    }
                    Ok(Some(line))
                }
                Err(e) => Err(format!(
                    "cannot read the password file {}: {e}",
                    path.display()
                )),
            },
        }
    }
}

/// One external system, as its systems file declares it.
#[derive(Clone, Debug)]
pub struct SystemMapping {
    /// The system's name, unique among the systems files.
    pub id: String,
    /// Its engine.
    pub engine: Engine,
    /// The connection URL, without a password.
    pub url: String,
    /// Where the password comes from.
    pub password: PasswordSource,
    /// The PostgreSQL schema or MySQL database holding the tables; the
    /// connection's default when absent.
    pub schema: Option<String>,
    /// The mapped tables, in file order.
    pub tables: Vec<TableMapping>,
}

impl SystemMapping {
    /// A table by name.
    pub fn table(&self, name: &str) -> Option<&TableMapping> {
        self.tables.iter().find(|t| t.name == name)
    }
}

/// One mapped table.
#[derive(Clone, Debug)]
pub struct TableMapping {
    /// The table's name in the database.
    pub name: String,
    /// The column that tells its rows apart (a single-column primary key).
    pub key: Option<String>,
    /// The columns that find a subject directly.
    pub identifiers: Vec<IdentityColumn>,
    /// The foreign keys to follow up to a parent table.
    pub parents: Vec<ParentLink>,
    /// The columns that hold personal data, with their category and what
    /// erasure does to them.
    pub columns: Vec<ColumnMapping>,
}

impl TableMapping {
    /// Whether erasure deletes this table's rows (any column says so).
    pub fn deletes_rows(&self) -> bool {
        self.columns.iter().any(|c| c.erase == Action::DeleteRow)
    }
}

/// A column that holds an identifier of the subject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityColumn {
    /// The kind of identifier (email, phone, ...).
    pub kind: IdentifierKind,
    /// The column holding it.
    pub column: String,
}

/// A foreign key from a table up to the table its rows belong to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParentLink {
    /// The parent table.
    pub table: String,
    /// The column of this table holding the reference.
    pub column: String,
    /// The parent's column it refers to (the parent's key by default).
    pub references: String,
}

/// A column holding personal data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnMapping {
    /// The column's name.
    pub column: String,
    /// The policy category.
    pub category: String,
    /// The category's field, when the file names one (`master_data.email`).
    pub field: Option<String>,
    /// What erasure does to it.
    pub erase: Action,
}

/// What erasure does to a category's columns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// The whole row goes (its children first).
    DeleteRow,
    /// The column becomes NULL.
    SetNull,
    /// The column is overwritten with this text; `{key}` stands for the
    /// row's key, for columns that must stay unique.
    Mask(String),
    /// The column is kept, under this legal ground.
    Keep {
        /// The legal ground, as a person reads it.
        ground: String,
    },
}

/// Loads and checks one systems file against the policy. `name` is the file
/// name used in messages.
pub fn load(name: &str, source: &str, policy: &Policy) -> Result<SystemMapping, MappingError> {
    let mut sink = Sink {
        problems: Vec::new(),
    };
    let (doc, syntax_errors) = DeTable::parse_recoverable(source);
    if !syntax_errors.is_empty() {
        for e in syntax_errors {
            let span = e.span().map(Span::new).unwrap_or_default();
            sink.push(
                Problem::new(
                    ProblemKind::Syntax,
                    span,
                    format!("not valid TOML: {}", e.message().trim()),
                )
                .help("see https://toml.io for the syntax; names go in double quotes"),
            );
        }
        return Err(MappingError::new(name, source, sink.problems));
    }
    let mut root = Table::new(doc.get_ref(), Span::default(), "the systems file");
    let reader = Reader { policy };
    let mapping = reader.read(&mut sink, &mut root);
    root.finish(&mut sink);
    match mapping {
        Some(mut m) if sink.problems.is_empty() => {
            resolve_references(&mut m);
            Ok(m)
        }
        _ => Err(MappingError::new(name, source, sink.problems)),
    }
}

struct Reader<'p> {
    policy: &'p Policy,
}

/// A table as read, with the spans the cross-checks point at.
struct RawTable {
    name: String,
    span: Span,
    key: Option<String>,
    identifiers: Vec<(IdentityColumn, Span)>,
    parents: Vec<(ParentLink, Span, bool)>,
    columns: Vec<(ColumnMapping, Span)>,
}

impl Reader<'_> {
    fn read(&self, sink: &mut Sink, root: &mut Table) -> Option<SystemMapping> {
        if let Some(Located { value: true, span }) = root.bool(sink, "draft") {
            sink.push(
                Problem::new(
                    ProblemKind::Draft,
                    span,
                    "this file is a draft from `custode systems scan`: nobody has reviewed it yet",
                )
                .help("check every table, category and erase action, then delete the line `draft = true`"),
            );
        }
        let Some(mut system) = root.table(sink, "system") else {
            root.missing(
                sink,
                "system",
                "a [system] section with id, kind, url and password_env or password_file",
            );
            return None;
        };
        system.path = "[system]".into();
        let id = system.required_str(sink, "id", "the system's name, e.g. \"billing\"");
        if let Some(Located { value: id, span }) = &id {
            check_name(sink, id, *span, "system id");
        }
        let kind = system.required_str(sink, "kind", "postgres, mysql or mariadb");
        let engine = kind
            .as_ref()
            .and_then(|Located { value: k, span }| match k.as_str() {
                "postgres" | "postgresql" => Some(Engine::Postgres),
                "mysql" | "mariadb" => Some(Engine::MySql),
                other => {
                    sink.push(
                        Problem::new(
                            ProblemKind::InvalidValue,
                            *span,
                            format!("`{other}` is not a kind of system Custode connects to"),
                        )
                        .help("valid kinds: postgres, mysql, mariadb"),
                    );
                    None
                }
            });
        let url = system.required_str(
            sink,
            "url",
            "the connection URL without the password, e.g. \"postgres://custode@db.internal/billing\"",
        );
        if let Some(Located { value: url, span }) = &url {
            check_url(sink, url, *span, engine);
        }
        let env = system.str(sink, "password_env");
        let file = system.str(sink, "password_file");
        let password = match (env, file) {
            (Some(_), Some(Located { span, .. })) => {
                sink.push(
                    Problem::new(
                        ProblemKind::InvalidValue,
                        span,
                        "[system] has both `password_env` and `password_file`",
                    )
                    .help("keep one: the password comes from one place"),
                );
                PasswordSource::None
            }
            (Some(Located { value: var, .. }), None) => PasswordSource::Env(var),
            (None, Some(Located { value: path, .. })) => PasswordSource::File(PathBuf::from(path)),
            (None, None) => PasswordSource::None,
        };
        let schema = system.str(sink, "schema");
        if let Some(Located {
            value: schema,
            span,
        }) = &schema
        {
            check_name(sink, schema, *span, "schema");
        }
        system.finish(sink);

        // Erase actions for every table, per category; a table may override.
        let defaults = match root.table(sink, "erase") {
            Some(mut t) => {
                t.path = "[erase]".into();
                self.read_actions(sink, &t)
            }
            None => BTreeMap::new(),
        };

        let mut tables = Vec::new();
        for mut t in root.tables_named(sink, "table", |t, n| named(t, "table", n)) {
            if let Some(raw) = self.read_table(sink, &mut t, &defaults) {
                tables.push(raw);
            }
            t.finish(sink);
        }
        if tables.is_empty() && !root_has_problem(sink) {
            sink.push(
                Problem::new(
                    ProblemKind::Missing,
                    Span::default(),
                    "the file maps no table",
                )
                .help("add a [[table]] for each table that holds personal data"),
            );
        }
        check_tables(sink, &tables);

        let id = id?.value;
        let url = url?.value;
        Some(SystemMapping {
            id,
            engine: engine?,
            url,
            password,
            schema: schema.map(|s| s.value),
            tables: tables
                .into_iter()
                .map(|t| TableMapping {
                    name: t.name,
                    key: t.key,
                    identifiers: t.identifiers.into_iter().map(|(i, _)| i).collect(),
                    parents: t.parents.into_iter().map(|(p, _, _)| p).collect(),
                    columns: t.columns.into_iter().map(|(c, _)| c).collect(),
                })
                .collect(),
        })
    }

    /// `{ category = action }` pairs.
    fn read_actions(&self, sink: &mut Sink, t: &Table) -> BTreeMap<String, (Action, Span)> {
        let mut out = BTreeMap::new();
        for (category, span, v) in t.entries() {
            self.check_category(sink, &category, None, span);
            if let Some(action) = read_action(sink, &t.path, &category, v) {
                out.insert(category, (action, span_of(v)));
            }
        }
        out
    }

    fn read_table(
        &self,
        sink: &mut Sink,
        t: &mut Table,
        defaults: &BTreeMap<String, (Action, Span)>,
    ) -> Option<RawTable> {
        let name = t.required_str(sink, "name", "the table's name in the database");
        if let Some(Located { value: n, span }) = &name {
            check_name(sink, n, *span, "table name");
        }
        let key = t.str(sink, "key");
        if let Some(Located { value: k, span }) = &key {
            check_name(sink, k, *span, "column name");
        }
        let mut identifiers = Vec::new();
        if let Some(ids) = t.table(sink, "identifiers") {
            for (kind, span, v) in ids.entries() {
                let Some(column) = v.get_ref().as_str() else {
                    ids.wrong_type(sink, &kind, v, "a column name");
                    continue;
                };
                check_name(sink, column, span_of(v), "column name");
                match IdentifierKind::from_key(&kind) {
                    Some(k) => identifiers.push((
                        IdentityColumn {
                            kind: k,
                            column: column.to_owned(),
                        },
                        span_of(v),
                    )),
                    None => {
                        let names: Vec<&str> =
                            IdentifierKind::ALL.iter().map(|k| k.key()).collect();
                        let mut p = Problem::new(
                            ProblemKind::UnknownReference,
                            span,
                            format!("`{kind}` is not a kind of identifier"),
                        );
                        p = match closest(&kind, names.iter().copied()) {
                            Some(c) => {
                                p.help(format!("did you mean `{c}`? Kinds: {}", names.join(", ")))
                            }
                            None => p.help(format!("kinds: {}", names.join(", "))),
                        };
                        sink.push(p);
                    }
                }
            }
        }
        let mut parents = Vec::new();
        for mut p in t.tables_named(sink, "parents", |_, n| format!("parent #{}", n + 1)) {
            let table = p.required_str(sink, "table", "the parent table's name");
            let column =
                p.required_str(sink, "column", "this table's column holding the reference");
            let references = p.str(sink, "references");
            p.finish(sink);
            if let (
                Some(Located { value: table, .. }),
                Some(Located {
                    value: column,
                    span: cspan,
                }),
            ) = (table, column)
            {
                check_name(sink, &column, cspan, "column name");
                let explicit = references.is_some();
                parents.push((
                    ParentLink {
                        table,
                        column,
                        references: references.map(|r| r.value).unwrap_or_default(),
                    },
                    p.span,
                    explicit,
                ));
            }
        }
        let overrides = match t.table(sink, "erase") {
            Some(e) => self.read_actions(sink, &e),
            None => BTreeMap::new(),
        };
        let mut columns = Vec::new();
        if let Some(cols) = t.table(sink, "columns") {
            for (column, span, v) in cols.entries() {
                check_name(sink, &column, span, "column name");
                let (spec, own_action) = match v.get_ref() {
                    DeValue::String(s) => ((s.to_string(), span_of(v)), None),
                    DeValue::Table(inner) => {
                        let mut it = Table::new(inner, span_of(v), format!("column `{column}`"));
                        let cat = it.required_str(
                            sink,
                            "category",
                            "the policy category, e.g. \"master_data.email\"",
                        );
                        let action = it
                            .raw("erase")
                            .and_then(|a| read_action(sink, &it.path, &column, a));
                        it.finish(sink);
                        let Some(cat) = cat else { continue };
                        ((cat.value, cat.span), action)
                    }
                    _ => {
                        cols.wrong_type(
                            sink,
                            &column,
                            v,
                            "a category name or { category = .., erase = .. }",
                        );
                        continue;
                    }
                };
                let (category, field) = match spec.0.split_once('.') {
                    Some((c, f)) => (c.to_owned(), Some(f.to_owned())),
                    None => (spec.0.clone(), None),
                };
                if !self.check_category(sink, &category, field.as_deref(), spec.1) {
                    continue;
                }
                let erase = match own_action
                    .or_else(|| overrides.get(&category).map(|(a, _)| a.clone()))
                    .or_else(|| defaults.get(&category).map(|(a, _)| a.clone()))
                {
                    Some(a) => a,
                    None => {
                        sink.push(
                            Problem::new(
                                ProblemKind::Missing,
                                spec.1,
                                format!(
                                    "no erase action for category `{category}` (column `{column}` of {})",
                                    t.path
                                ),
                            )
                            .help(format!(
                                "add `{category} = \"delete_row\"` (or set_null, {{ mask = \"...\" }}, {{ keep = \"legal ground\" }}) under [erase] or the table's erase"
                            )),
                        );
                        continue;
                    }
                };
                columns.push((
                    ColumnMapping {
                        column,
                        category,
                        field,
                        erase,
                    },
                    span,
                ));
            }
        }
        for (category, (_, span)) in &overrides {
            if !columns.iter().any(|(c, _)| &c.category == category) {
                sink.push(
                    Problem::new(
                        ProblemKind::UnknownReference,
                        *span,
                        format!("{} has an erase action for `{category}` but no column of that category", t.path),
                    )
                    .help("map the column under `columns`, or remove the action"),
                );
            }
        }
        let Located { value: name, span } = name?;
        Some(RawTable {
            name,
            span,
            key: key.map(|k| k.value),
            identifiers,
            parents,
            columns,
        })
    }

    /// Whether a category (and field) exists in the policy; reports if not.
    fn check_category(
        &self,
        sink: &mut Sink,
        category: &str,
        field: Option<&str>,
        span: Span,
    ) -> bool {
        let Some(cat) = self.policy.category(category) else {
            let mut p = Problem::new(
                ProblemKind::UnknownCategory,
                span,
                format!("`{category}` is not a category of the policy"),
            );
            let names: Vec<&str> = self
                .policy
                .categories
                .iter()
                .map(|c| c.id.value.as_str())
                .collect();
            p = match closest(category, names.iter().copied()) {
                Some(c) => p.help(format!("did you mean `{c}`?")),
                None => p.help(format!("the policy's categories: {}", names.join(", "))),
            };
            sink.push(p);
            return false;
        };
        if let Some(field) = field
            && !cat.fields.iter().any(|f| f.id.value == field)
        {
            let names: Vec<&str> = cat.fields.iter().map(|f| f.id.value.as_str()).collect();
            sink.push(
                Problem::new(
                    ProblemKind::UnknownCategory,
                    span,
                    format!("category `{category}` has no field `{field}`"),
                )
                .help(format!("its fields: {}", names.join(", "))),
            );
            return false;
        }
        true
    }
}

fn root_has_problem(sink: &Sink) -> bool {
    !sink.problems.is_empty()
}

/// `"delete_row"`, `"set_null"`, `{ mask = "..." }` or `{ keep = "ground" }`.
fn read_action(
    sink: &mut Sink,
    path: &str,
    what: &str,
    v: &Spanned<DeValue<'_>>,
) -> Option<Action> {
    let span = span_of(v);
    let help =
        "write \"delete_row\", \"set_null\", { mask = \"...\" } or { keep = \"the legal ground\" }";
    match v.get_ref() {
        DeValue::String(s) => match s.as_ref() {
            "delete_row" => Some(Action::DeleteRow),
            "set_null" => Some(Action::SetNull),
            "keep" => {
                sink.push(
                    Problem::new(
                        ProblemKind::KeepWithoutGround,
                        span,
                        format!("`{what}` in {path} is kept without a legal ground"),
                    )
                    .help("name the ground: { keep = \"Art. 2220 c.c.: accounting records, 10 years\" }"),
                );
                None
            }
            "mask" => {
                sink.push(
                    Problem::new(
                        ProblemKind::InvalidValue,
                        span,
                        format!("`{what}` in {path}: a mask needs its text"),
                    )
                    .help("write { mask = \"erased\" }; `{key}` in it stands for the row's key"),
                );
                None
            }
            other => {
                let names = ["delete_row", "set_null", "mask", "keep"];
                let mut p = Problem::new(
                    ProblemKind::InvalidValue,
                    span,
                    format!("`{other}` is not an erase action ({what} in {path})"),
                );
                p = match closest(other, names.into_iter()) {
                    Some(c) => p.help(format!("did you mean `{c}`? {help}")),
                    None => p.help(help),
                };
                sink.push(p);
                None
            }
        },
        DeValue::Table(t) => {
            let mut t = Table::new(t, span, format!("the erase action of `{what}` in {path}"));
            let mask = t.raw("mask");
            let keep = t.raw("keep");
            t.finish(sink);
            match (mask, keep) {
                (Some(m), None) => match m.get_ref().as_str() {
                    Some(s) => Some(Action::Mask(s.to_owned())),
                    None => {
                        t.wrong_type(sink, "mask", m, "a string");
                        None
                    }
                },
                (None, Some(k)) => match k.get_ref().as_str() {
                    Some(s) if !s.trim().is_empty() => Some(Action::Keep {
                        ground: s.trim().to_owned(),
                    }),
                    _ => {
                        sink.push(
                            Problem::new(
                                ProblemKind::KeepWithoutGround,
                                span_of(k),
                                format!("`{what}` in {path} is kept without a legal ground"),
                            )
                            .help("name the ground: { keep = \"Art. 2220 c.c.: accounting records, 10 years\" }"),
                        );
                        None
                    }
                },
                _ => {
                    sink.push(
                        Problem::new(
                            ProblemKind::InvalidValue,
                            span,
                            format!("the erase action of `{what}` in {path} is not understood"),
                        )
                        .help(help),
                    );
                    None
                }
            }
        }
        _ => {
            sink.push(
                Problem::new(
                    ProblemKind::InvalidValue,
                    span,
                    format!("the erase action of `{what}` in {path} must be a string or a table"),
                )
                .help(help),
            );
            None
        }
    }
}

/// Names of tables, columns and schemas: plain identifiers only, so that
/// quoting them is always safe and a file cannot smuggle SQL.
pub(crate) fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

fn check_name(sink: &mut Sink, name: &str, span: Span, what: &str) {
    if !is_plain_name(name) {
        sink.push(
            Problem::new(
                ProblemKind::InvalidValue,
                span,
                format!("`{name}` is not a usable {what}"),
            )
            .help("names are letters, digits and `_` (at most 63), not starting with a digit"),
        );
    }
}

/// The password a URL carries, in its user information or as a
/// `password=` query parameter, if any.
pub(crate) fn url_password(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    if let Some((_, query)) = rest.split_once('?') {
        for pair in query.split('&') {
            if let Some(("password" | "pass" | "pwd", value)) = pair.split_once('=')
                && !value.is_empty()
            {
                return Some(value);
            }
        }
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    let userinfo = authority.rsplit_once('@')?.0;
    let (_, password) = userinfo.split_once(':')?;
    (!password.is_empty()).then_some(password)
}

fn check_url(sink: &mut Sink, url: &str, span: Span, engine: Option<Engine>) {
    if url_password(url).is_some() {
        // The span is the URL's, but the message never repeats it.
        sink.push(
            Problem::new(ProblemKind::SecretInClear, span, "the URL holds a password in clear")
                .help("remove it from the URL and set `password_env = \"VAR\"` or `password_file = \"path\"`"),
        );
        return;
    }
    match (Engine::of_url(url), engine) {
        (None, _) => sink.push(
            Problem::new(
                ProblemKind::InvalidValue,
                span,
                "the URL does not start with postgres://, mysql:// or mariadb://",
            )
            .help("write e.g. \"postgres://custode@db.internal:5432/billing\""),
        ),
        (Some(found), Some(declared)) if found != declared => sink.push(Problem::new(
            ProblemKind::InvalidValue,
            span,
            format!(
                "the URL is for {}, but `kind` says {}",
                found.key(),
                declared.key()
            ),
        )),
        _ => {}
    }
}

/// The cross-checks between tables: references, reachability, cycles, and
/// erasures that contradict one another.
fn check_tables(sink: &mut Sink, tables: &[RawTable]) {
    let mut seen = BTreeSet::new();
    for t in tables {
        if !seen.insert(t.name.as_str()) {
            sink.error(
                ProblemKind::Duplicate,
                t.span,
                format!("table `{}` is mapped twice", t.name),
            );
        }
    }
    let by_name: BTreeMap<&str, &RawTable> = tables.iter().map(|t| (t.name.as_str(), t)).collect();
    for t in tables {
        for (id, span) in &t.identifiers {
            if !t.columns.iter().any(|(c, _)| c.column == id.column) {
                sink.push(
                    Problem::new(
                        ProblemKind::Missing,
                        *span,
                        format!("identifier column `{}` of table `{}` is not mapped to a category", id.column, t.name),
                    )
                    .help(format!("its value is personal data too: add it under `columns`, e.g. {} = \"master_data\"", id.column)),
                );
            }
        }
        for (link, span, explicit) in &t.parents {
            let Some(parent) = by_name.get(link.table.as_str()) else {
                let names: Vec<&str> = by_name.keys().copied().collect();
                let mut p = Problem::new(
                    ProblemKind::UnknownReference,
                    *span,
                    format!(
                        "table `{}` hangs off `{}`, which is not mapped",
                        t.name, link.table
                    ),
                );
                if let Some(c) = closest(&link.table, names.iter().copied()) {
                    p = p.help(format!("did you mean `{c}`?"));
                } else {
                    p = p.help("map the parent table too, even if it holds no personal column");
                }
                sink.push(p);
                continue;
            };
            if !explicit && parent.key.is_none() {
                sink.push(
                    Problem::new(
                        ProblemKind::Missing,
                        *span,
                        format!("the link from `{}` to `{}` names no column of the parent, which has no `key`", t.name, link.table),
                    )
                    .help("add `references = \"column\"` to the link, or `key = \"id\"` to the parent"),
                );
            }
            if parent.deletes_rows() && !t.deletes_rows() {
                sink.push(
                    Problem::new(
                        ProblemKind::Contradiction,
                        *span,
                        format!(
                            "erasure deletes the rows of `{}` but keeps the rows of `{}` that hang off them",
                            link.table, t.name
                        ),
                    )
                    .help(format!(
                        "either delete the rows of `{}` too, or erase `{}` by set_null or mask so its rows stay",
                        t.name, link.table
                    )),
                );
            }
        }
        for (c, span) in &t.columns {
            if let Action::Keep { ground } = &c.erase
                && t.deletes_rows()
            {
                sink.push(
                    Problem::new(
                        ProblemKind::Contradiction,
                        *span,
                        format!(
                            "`{}` of table `{}` is kept ({ground}), but erasure deletes the table's rows",
                            c.column, t.name
                        ),
                    )
                    .help("keep the row (erase the other categories by set_null or mask), or do not keep this column"),
                );
            }
            if let Action::Mask(m) = &c.erase
                && m.contains("{key}")
                && t.key.is_none()
            {
                sink.push(
                    Problem::new(
                        ProblemKind::Missing,
                        *span,
                        format!(
                            "the mask of `{}` uses {{key}}, but table `{}` has no `key`",
                            c.column, t.name
                        ),
                    )
                    .help("add `key = \"id\"` to the table"),
                );
            }
        }
    }

    // Reachability: from the tables with identifiers, down the links.
    let mut reached: BTreeSet<&str> = tables
        .iter()
        .filter(|t| !t.identifiers.is_empty())
        .map(|t| t.name.as_str())
        .collect();
    loop {
        let before = reached.len();
        for t in tables {
            if t.parents
                .iter()
                .any(|(l, _, _)| reached.contains(l.table.as_str()))
            {
                reached.insert(t.name.as_str());
            }
        }
        if reached.len() == before {
            break;
        }
    }
    for t in tables {
        if !reached.contains(t.name.as_str()) {
            sink.push(
                Problem::new(
                    ProblemKind::Unreachable,
                    t.span,
                    format!("no identity reaches table `{}`: its rows could never be found for a subject", t.name),
                )
                .help("add `identifiers = { email = \"column\" }`, or `parents` linking it to a table that has them"),
            );
        }
    }

    // Cycles: a table that reaches itself through its parents. Rows in a
    // cycle are followed until nothing new turns up, which needs a key.
    for t in tables {
        let mut stack: Vec<&str> = t.parents.iter().map(|(l, _, _)| l.table.as_str()).collect();
        let mut visited = BTreeSet::new();
        let mut cyclic = false;
        while let Some(n) = stack.pop() {
            if n == t.name {
                cyclic = true;
                break;
            }
            if visited.insert(n)
                && let Some(p) = by_name.get(n)
            {
                stack.extend(p.parents.iter().map(|(l, _, _)| l.table.as_str()));
            }
        }
        if cyclic && t.key.is_none() {
            sink.push(
                Problem::new(
                    ProblemKind::CycleWithoutKey,
                    t.span,
                    format!("table `{}` is in a cycle of links but has no `key`", t.name),
                )
                .help("add `key = \"id\"` (its primary key) so rows already followed are told from new ones"),
            );
        }
    }
}

/// Fills in defaults that need the whole file: a link's `references` is the
/// parent's key when not written.
pub(crate) fn resolve_references(mapping: &mut SystemMapping) {
    let keys: BTreeMap<String, Option<String>> = mapping
        .tables
        .iter()
        .map(|t| (t.name.clone(), t.key.clone()))
        .collect();
    for t in &mut mapping.tables {
        for l in &mut t.parents {
            if l.references.is_empty()
                && let Some(Some(k)) = keys.get(&l.table)
            {
                l.references = k.clone();
            }
        }
    }
}

impl RawTable {
    fn deletes_rows(&self) -> bool {
        self.columns
            .iter()
            .any(|(c, _)| c.erase == Action::DeleteRow)
    }
}
