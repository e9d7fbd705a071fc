//! Reading a policy file into the model: TOML syntax, shapes and types.
//!
//! Every mistake becomes a [`Problem`]; where a value is missing a
//! placeholder stands in so that the cross-checks in [`crate::validate`] still
//! see the rest of the file. A policy with any problem is never returned.

use sha2::{Digest, Sha256};
use toml::de::DeTable;

use crate::diagnostic::{Located, PolicyError, Problem, ProblemKind, Span};
use crate::model::*;
use crate::read::{Sink, Texts};
use crate::reader::{Problems, Table, closest, span_of};
use crate::text::{Lang, Text};

/// Loads and validates a policy. `name` is the file name used in messages.
///
/// Returns every problem found, in file order, when the policy does not hold
/// together.
pub fn load(name: &str, source: &str) -> Result<Policy, PolicyError> {
    let mut sink = Sink {
        source,
        problems: Vec::new(),
        languages: Vec::new(),
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
                .help("see https://toml.io for the syntax; texts go in double quotes"),
            );
        }
        return Err(PolicyError::new(name, source, sink.problems));
    }
    let root_span = span_of(&doc);
    let mut root = Table::new(doc.get_ref(), Span { start: 0, end: 0 }, "the policy file");
    let _ = root_span;

    let meta = read_meta(&mut sink, &mut root);
    let controller = match root.section(&mut sink, "controller") {
        Some(mut t) => read_party(&mut sink, &mut t, &["name", "address", "email"]),
        None => {
            root.missing(
                &mut sink,
                "controller",
                "a [controller] section with name, address and email",
            );
            Party::default()
        }
    };
    let dpo = root
        .section(&mut sink, "dpo")
        .map(|mut t| read_party(&mut sink, &mut t, &["email"]));
    let representative = root
        .section(&mut sink, "representative")
        .map(|mut t| read_party(&mut sink, &mut t, &["name", "address"]));
    let joint_controllers = root
        .tables(&mut sink, "joint_controller")
        .into_iter()
        .map(|mut t| read_joint(&mut sink, &mut t))
        .collect();
    let authority = read_authority(&mut sink, &mut root);
    let rights = read_rights(&mut sink, &mut root);
    let subjects = root
        .tables(&mut sink, "subject")
        .into_iter()
        .map(|mut t| read_subject(&mut sink, &mut t))
        .collect();
    let categories = root
        .tables(&mut sink, "category")
        .into_iter()
        .map(|mut t| read_category(&mut sink, &mut t))
        .collect();
    let purposes = root
        .tables(&mut sink, "purpose")
        .into_iter()
        .map(|mut t| read_purpose(&mut sink, &mut t))
        .collect();
    let recipients = root
        .tables(&mut sink, "recipient")
        .into_iter()
        .map(|mut t| read_recipient(&mut sink, &mut t))
        .collect();
    let cookies = root
        .tables(&mut sink, "cookie")
        .into_iter()
        .map(|mut t| read_cookie(&mut sink, &mut t))
        .collect();
    let automated_decisions = read_automated(&mut sink, &mut root);
    let measures = root
        .tables(&mut sink, "measure")
        .into_iter()
        .filter_map(|mut t| read_measure(&mut sink, &mut t))
        .collect();
    let security = read_security(&mut sink, &mut root);
    root.finish(&mut sink);

    let mut policy = Policy {
        meta,
        controller,
        joint_controllers,
        representative,
        dpo,
        authority,
        rights,
        subjects,
        categories,
        purposes,
        recipients,
        cookies,
        automated_decisions,
        measures,
        security,
        digest: hex::encode(Sha256::digest(source.as_bytes())),
        source: std::sync::Arc::from(source),
        index: Index::default(),
    };
    crate::validate::check(&mut sink, &mut policy);
    crate::keep::check(&mut sink, &policy);
    if sink.problems.is_empty() {
        Ok(policy)
    } else {
        Err(PolicyError::new(name, source, sink.problems))
    }
}

fn read_meta(sink: &mut Sink, root: &mut Table) -> Meta {
    let mut meta = Meta {
        version: String::new(),
        effective: String::new(),
        languages: Vec::new(),
        authoritative_language: None,
        jurisdiction: String::new(),
        minimum_age: 16,
        birth_date: None,
        changes: None,
        provider: ProviderKind::Other,
    };
    let Some(mut t) = root.section(sink, "policy") else {
        root.missing(
            sink,
            "policy",
            "a [policy] section with version, effective, languages and jurisdiction",
        );
        // Without languages no text can be checked; assume the default one.
        sink.languages = vec![Lang::It];
        return meta;
    };
    let langs = t.str_array(sink, "languages");
    if langs.is_empty() && !t.has("languages") {
        t.missing(
            sink,
            "languages",
            "the notice languages, e.g. [\"it\", \"en\"]",
        );
    }
    for code in &langs {
        match Lang::parse(&code.value) {
            Some(l) if meta.languages.contains(&l) => sink.error(
                ProblemKind::InvalidValue,
                code.span,
                format!("language `{}` is listed twice", code.value),
            ),
            Some(l) => meta.languages.push(l),
            None => sink.push(
                Problem::new(
                    ProblemKind::InvalidValue,
                    code.span,
                    format!("`{}` is not a supported notice language", code.value),
                )
                .help("use it, en, fr or nl"),
            ),
        }
    }
    if meta.languages.is_empty() {
        meta.languages.push(Lang::It);
    }
    sink.languages = meta.languages.clone();

    if let Some(v) = t.required_str(
        sink,
        "version",
        "your label for this version, e.g. \"2026.1\"",
    ) {
        meta.version = v.value;
    }
    if let Some(d) = t.required_str(
        sink,
        "effective",
        "the date it applies from, \"YYYY-MM-DD\"",
    ) {
        if !is_iso_date(&d.value) {
            sink.push(
                Problem::new(
                    ProblemKind::InvalidValue,
                    d.span,
                    format!("`{}` is not a date", d.value),
                )
                .help("write the date as \"YYYY-MM-DD\", e.g. \"2026-01-31\""),
            );
        }
        meta.effective = d.value;
    }
    if let Some(j) = t.required_str(
        sink,
        "jurisdiction",
        "the controller's member state, e.g. \"IT\"",
    ) {
        if !crate::law::is_eea(&j.value) {
            sink.push(
                Problem::new(
                    ProblemKind::InvalidValue,
                    j.span,
                    format!("`{}` is not a member state of the EEA", j.value),
                )
                .help("use the ISO 3166-1 code of the controller's member state, e.g. IT, FR, NL; a controller outside the Union names its [representative]"),
            );
        }
        meta.jurisdiction = j.value;
    }
    meta.minimum_age = crate::law::digital_consent_age(&meta.jurisdiction);
    if let Some(age) = t.int(sink, "minimum_age") {
        match u8::try_from(age.value) {
            Ok(a) if a <= 21 => meta.minimum_age = a,
            _ => sink.error(
                ProblemKind::InvalidValue,
                age.span,
                format!("minimum_age {} is not an age between 0 and 21", age.value),
            ),
        }
    }
    if let Some(b) = t.str(sink, "birth_date") {
        match b.value.split_once('.') {
            Some((category, field)) if !category.is_empty() && !field.is_empty() => {
                meta.birth_date = Some(FieldRef {
                    category: category.to_owned(),
                    field: field.to_owned(),
                    span: b.span,
                });
            }
            _ => sink.push(
                Problem::new(
                    ProblemKind::InvalidValue,
                    b.span,
                    format!("birth_date `{}` does not name a field", b.value),
                )
                .help("write it as \"category.field\", e.g. \"master_data.birth_date\""),
            ),
        }
    }
    if let Some(code) = t.str(sink, "authoritative_language") {
        match Lang::parse(&code.value) {
            Some(l) if meta.languages.contains(&l) => meta.authoritative_language = Some(l),
            _ => sink.push(
                Problem::new(
                    ProblemKind::InvalidValue,
                    code.span,
                    format!(
                        "authoritative language `{}` is not one of the notice languages",
                        code.value
                    ),
                )
                .help("name one of the languages listed in `languages`"),
            ),
        }
    }
    meta.changes = t.text(sink, "changes");
    if let Some(p) = t.str(sink, "provider") {
        match ProviderKind::from_key(&p.value) {
            Some(kind) => meta.provider = kind,
            None => sink.push(
                Problem::new(
                    ProblemKind::InvalidValue,
                    p.span,
                    format!("`{}` is not a kind of provider", p.value),
                )
                .help(format!(
                    "use one of: {}",
                    ProviderKind::ALL
                        .iter()
                        .map(|k| k.key())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            ),
        }
    }
    t.finish(sink);
    meta
}

fn is_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<u32>().ok());
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

fn read_party(sink: &mut Sink, t: &mut Table, required: &[&'static str]) -> Party {
    let mut get = |sink: &mut Sink, key: &'static str| {
        let v = if required.contains(&key) {
            t.required_str(sink, key, "who the people concerned can reach")
        } else {
            t.str(sink, key)
        };
        v.map(|l| l.value)
    };
    let party = Party {
        name: get(sink, "name"),
        address: get(sink, "address"),
        email: get(sink, "email"),
        phone: get(sink, "phone"),
        tax_id: get(sink, "tax_id"),
        website: get(sink, "website"),
    };
    if let Some(email) = party.email.as_deref().filter(|e| !looks_like_email(e)) {
        sink.push(
            Problem::new(
                ProblemKind::InvalidValue,
                t.span,
                format!("`{email}` in {} is not an e-mail address", t.path),
            )
            .help("write it as name@domain"),
        );
    }
    party
}

fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => !local.is_empty() && domain.contains('.') && !s.contains(' '),
        None => false,
    }
}

fn read_joint(sink: &mut Sink, t: &mut Table) -> JointController {
    let party = read_party(sink, t, &["name", "address", "email"]);
    let responsibilities = t
        .required_text(
            sink,
            "responsibilities",
            "the essence of the arrangement (Art. 26(2))",
        )
        .unwrap_or_else(|| Text::single(Lang::It, ""));
    t.finish(sink);
    JointController {
        party,
        responsibilities,
    }
}

fn read_authority(sink: &mut Sink, root: &mut Table) -> Authority {
    let Some(mut t) = root.section(sink, "authority") else {
        root.missing(
            sink,
            "authority",
            "the supervisory authority people may complain to (Art. 77)",
        );
        return Authority {
            name: String::new(),
            website: None,
            address: None,
            email: None,
        };
    };
    let a = Authority {
        name: t
            .required_str(sink, "name", "the supervisory authority's name")
            .map(|l| l.value)
            .unwrap_or_default(),
        website: t.str(sink, "website").map(|l| l.value),
        address: t.str(sink, "address").map(|l| l.value),
        email: t.str(sink, "email").map(|l| l.value),
    };
    t.finish(sink);
    a
}

fn read_rights(sink: &mut Sink, root: &mut Table) -> RightsDesk {
    let Some(mut t) = root.section(sink, "rights") else {
        root.missing(
            sink,
            "rights",
            "a [rights] section saying where requests go",
        );
        return RightsDesk {
            email: None,
            address: None,
            portal: None,
            response_days: None,
            identity: None,
            delegation: None,
            attest_roles: Vec::new(),
        };
    };
    let mut r = RightsDesk {
        email: t.str(sink, "email").map(|l| l.value),
        address: t.str(sink, "address").map(|l| l.value),
        portal: t.str(sink, "portal").map(|l| l.value),
        response_days: None,
        identity: t.text(sink, "identity"),
        delegation: t.text(sink, "delegation"),
        attest_roles: Vec::new(),
    };
    for role in t.str_array(sink, "attest_roles") {
        if ATTESTING_ROLES.contains(&role.value.as_str()) {
            if !r.attest_roles.contains(&role.value) {
                r.attest_roles.push(role.value);
            }
            continue;
        }
        let why = if ROLE_NAMES.contains(&role.value.as_str()) {
            format!(
                "the role `{}` does not handle rights requests, so it cannot attest a requester's identity",
                role.value
            )
        } else {
            format!("`{}` is not a role", role.value)
        };
        let p = Problem::new(ProblemKind::InvalidValue, role.span, why);
        sink.push(
            match closest(&role.value, ATTESTING_ROLES.iter().copied()) {
                Some(c) if c != role.value => p.help(format!(
                    "did you mean `{c}`? Roles that may attest: {}",
                    ATTESTING_ROLES.join(", ")
                )),
                _ => p.help(format!(
                    "roles that may attest: {}",
                    ATTESTING_ROLES.join(", ")
                )),
            },
        );
    }
    if let Some(days) = t.int(sink, "response_days") {
        match u16::try_from(days.value) {
            Ok(d @ 1..=31) => r.response_days = Some(d),
            _ => sink.push(
                Problem::new(
                    ProblemKind::InvalidValue,
                    days.span,
                    format!("response_days {} is outside 1..=31", days.value),
                )
                .help("Art. 12(3) allows one month at most; leave it out to promise exactly that"),
            ),
        }
    }
    if r.email.is_none() && r.address.is_none() && r.portal.is_none() {
        sink.push(
            Problem::new(
                ProblemKind::Incomplete,
                t.span,
                "[rights] says nowhere to send a request",
            )
            .help("give at least one of `email`, `address` or `portal`"),
        );
    }
    t.finish(sink);
    r
}

fn read_id(sink: &mut Sink, t: &mut Table) -> Located<String> {
    let Some(id) = t.required_str(sink, "id", "a short name to refer to it, e.g. \"billing\"")
    else {
        return Located::new(String::new(), t.span);
    };
    if !id
        .value
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        sink.push(
            Problem::new(
                ProblemKind::InvalidValue,
                id.span,
                format!(
                    "id `{}` has characters other than a-z, 0-9, _ and -",
                    id.value
                ),
            )
            .help("ids are short lower-case names such as `contact_data`"),
        );
    }
    t.path = format!(
        "{} \"{}\"",
        t.path.split(" #").next().unwrap_or("entry"),
        id.value
    );
    id
}

fn placeholder_text() -> Text {
    Text::single(Lang::It, "")
}

fn read_subject(sink: &mut Sink, t: &mut Table) -> SubjectKind {
    let id = read_id(sink, t);
    let name = t
        .required_text(sink, "name", "the name shown in the notice")
        .unwrap_or_else(placeholder_text);
    let description = t.text(sink, "description");
    let tenants = t.str_array(sink, "tenants");
    for kind in &tenants {
        if !TENANT_KINDS.contains(&kind.value.as_str()) {
            let p = Problem::new(
                ProblemKind::InvalidValue,
                kind.span,
                format!(
                    "`{}` is not a kind of tenant (subject kind `{}`)",
                    kind.value, id.value
                ),
            );
            sink.push(match closest(&kind.value, TENANT_KINDS.iter().copied()) {
                Some(c) => p.help(format!(
                    "did you mean `{c}`? Kinds of tenant: {}",
                    TENANT_KINDS.join(", ")
                )),
                None => p.help(format!("kinds of tenant: {}", TENANT_KINDS.join(", "))),
            });
        }
    }
    let max_per_tenant = t
        .int(sink, "max_per_tenant")
        .and_then(|n| match u32::try_from(n.value) {
            Ok(m) if m >= 1 => Some(m),
            _ => {
                sink.push(
                    Problem::new(
                        ProblemKind::InvalidValue,
                        n.span,
                        format!("max_per_tenant {} is not a count of at least 1", n.value),
                    )
                    .help("write how many subjects of this kind one tenant may hold, e.g. 1; leave it out for no limit"),
                );
                None
            }
        });
    let close_after_inactivity = read_span(sink, t, "close_after_inactivity");
    let s = SubjectKind {
        id,
        name,
        description,
        tenants,
        max_per_tenant,
        close_after_inactivity,
    };
    t.finish(sink);
    s
}

/// An optional span of time such as `"24 months"`, which must be bounded.
fn read_span(sink: &mut Sink, t: &mut Table, key: &'static str) -> Option<Period> {
    let v = t.str(sink, key)?;
    match parse_period(&v.value) {
        Ok(p) if p.amount > 0 => Some(p),
        _ => {
            sink.push(
                Problem::new(
                    ProblemKind::InvalidValue,
                    v.span,
                    format!("`{key}` \"{}\" is not a span of time", v.value),
                )
                .help(
                    "write a number above zero and a unit: \"90 days\", \"24 months\", \"2 years\"",
                ),
            );
            None
        }
    }
}

/// A list of names from `choices` (a single name is accepted as a list of one).
fn read_choices<T: Copy + Into<&'static str>>(
    sink: &mut Sink,
    t: &mut Table,
    key: &'static str,
    choices: &[T],
) -> Option<Vec<T>> {
    if !t.has(key) {
        return None;
    }
    let single = t.raw(key).is_some_and(|v| v.get_ref().as_str().is_some());
    let names = if single {
        t.str(sink, key).into_iter().collect()
    } else {
        t.str_array(sink, key)
    };
    let mut out = Vec::new();
    for name in names {
        match choices.iter().find(|c| (**c).into() == name.value) {
            Some(v) => out.push(*v),
            None => {
                let all: Vec<&str> = choices.iter().map(|c| (*c).into()).collect();
                sink.push(
                    Problem::new(
                        ProblemKind::InvalidValue,
                        name.span,
                        format!("`{}` is not a valid `{key}` in {}", name.value, t.path),
                    )
                    .help(match closest(&name.value, all.iter().copied()) {
                        Some(c) => format!("did you mean `{c}`? Valid values: {}", all.join(", ")),
                        None => format!("valid values: {}", all.join(", ")),
                    }),
                );
            }
        }
    }
    Some(out)
}

fn read_dpv(sink: &mut Sink, t: &mut Table, prefix: &str) -> Option<String> {
    let term = t.str(sink, "dpv")?;
    let ok = term
        .value
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix(':'))
        .is_some_and(|local| {
            local.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && local.chars().all(|c| c.is_ascii_alphanumeric())
        });
    if !ok {
        sink.push(
            Problem::new(
                ProblemKind::InvalidValue,
                term.span,
                format!(
                    "`{}` is not a `{prefix}:` term of the Data Privacy Vocabulary",
                    term.value
                ),
            )
            .help(format!(
                "write it as {prefix}:TermName, e.g. {}",
                if prefix == "pd" {
                    "pd:EmailAddress"
                } else {
                    "dpv:ServiceProvision"
                }
            )),
        );
        return None;
    }
    Some(term.value)
}

fn read_category(sink: &mut Sink, t: &mut Table) -> Category {
    let id = read_id(sink, t);
    let name = t
        .required_text(sink, "name", "the name shown in the notice")
        .unwrap_or_else(placeholder_text);
    let description = t.text(sink, "description");
    let mut fields = Vec::new();
    if !t.has("fields") {
        t.raw("fields");
        t.missing(
            sink,
            "fields",
            "the fields of the category, e.g. [{ id = \"email\", dpv = \"pd:EmailAddress\" }]",
        );
    }
    for mut f in t.tables(sink, "fields") {
        f.path = format!("a field of {}", t.path);
        let fid = read_id(sink, &mut f);
        let label = f.text(sink, "label");
        let dpv = read_dpv(sink, &mut f, "pd");
        let identifier = f
            .choice(sink, "identifier", IdentifierKind::ALL)
            .map(|l| l.value);
        if label.is_none() && !f.has("label") {
            match &dpv {
                Some(term) if crate::i18n::knows_term(term) => {}
                _ => sink.push(
                    Problem::new(
                        ProblemKind::Missing,
                        fid.span,
                        format!("field `{}` has no label", fid.value),
                    )
                    .help("add `label = { ... }`, or a `dpv` term Custode knows the name of, such as pd:EmailAddress"),
                ),
            }
        }
        f.finish(sink);
        fields.push(Field {
            id: fid,
            label,
            dpv,
            identifier,
        });
    }
    let special = t.bool(sink, "special").is_some_and(|b| b.value);
    let source = t.text(sink, "source");
    // Without `origin`: given by the person, and by someone else too when a
    // `source` says so.
    let origin = match read_choices(sink, t, "origin", Origin::ALL) {
        Some(o) if !o.is_empty() => o,
        _ if source.is_some() => vec![Origin::Provided, Origin::ThirdParty],
        _ => vec![Origin::Provided],
    };
    if origin.contains(&Origin::ThirdParty) && source.is_none() && !t.has("source") {
        sink.push(
            Problem::new(
                ProblemKind::Incomplete,
                id.span,
                format!(
                    "category `{}` comes from third parties but does not say from whom",
                    id.value
                ),
            )
            .help("add `source = { ... }`: the notice must name the source (Art. 14(2)(f))"),
        );
    }
    let requirement = t
        .choice(sink, "requirement", Requirement::ALL)
        .map_or(Requirement::Voluntary, |l| l.value);
    let consequence = t.text(sink, "consequence");
    if requirement != Requirement::Voluntary && consequence.is_none() && !t.has("consequence") {
        sink.push(
            Problem::new(
                ProblemKind::Incomplete,
                id.span,
                format!(
                    "category `{}` is required ({}) but does not say what happens without it",
                    id.value,
                    requirement.key()
                ),
            )
            .help(
                "add `consequence = { ... }` (Art. 13(2)(e)): e.g. the service cannot be provided",
            ),
        );
    }
    let dpv = read_dpv(sink, t, "pd");
    t.finish(sink);
    Category {
        id,
        name,
        description,
        fields,
        special,
        source,
        origin,
        requirement,
        consequence,
        dpv,
    }
}

fn read_purpose(sink: &mut Sink, t: &mut Table) -> Purpose {
    let id = read_id(sink, t);
    let name = t
        .required_text(sink, "name", "the name shown in the notice")
        .unwrap_or_else(placeholder_text);
    let description = t.text(sink, "description");
    let basis = if t.has("basis") {
        t.choice(sink, "basis", Basis::ALL)
    } else {
        t.raw("basis");
        sink.push(
            Problem::new(
                ProblemKind::NoLegalBasis,
                id.span,
                format!("purpose `{}` has no legal basis", id.value),
            )
            .help("add `basis = ...`: one of consent, contract, legal_obligation, vital_interests, public_task, legitimate_interests (Art. 6(1))"),
        );
        None
    };
    let law = t.text(sink, "law");
    let interest = t.text(sink, "interest");
    let withdrawal = t.text(sink, "withdrawal");
    let categories = t.str_array(sink, "categories");
    let subjects = t.str_array(sink, "subjects");
    let recipients = t.str_array(sink, "recipients");
    for (key, list) in [("categories", &categories), ("subjects", &subjects)] {
        if list.is_empty() {
            sink.push(
                Problem::new(
                    ProblemKind::Missing,
                    id.span,
                    format!("purpose `{}` lists no {key}", id.value),
                )
                .help(format!("add `{key} = [\"...\"]` with the ids it concerns")),
            );
        }
    }
    let retention = read_retention(sink, t, &id);
    let vault = t.bool(sink, "vault").is_some_and(|b| b.value);
    let access_content = t.choice(sink, "access_content", AccessContent::ALL);
    let withheld_because = t.text(sink, "withheld_because");
    if !vault && (access_content.is_some() || withheld_because.is_some()) {
        sink.push(
            Problem::new(
                ProblemKind::InvalidValue,
                id.span,
                format!(
                    "purpose `{}` says what an access request gives of its vault data, but keeps nothing in the vault",
                    id.value
                ),
            )
            .help("`access_content` and `withheld_because` belong to purposes with `vault = true`: remove them, or add `vault = true`"),
        );
    }
    if access_content
        .as_ref()
        .is_some_and(|a| a.value == AccessContent::Given)
        && withheld_because.is_some()
    {
        sink.push(
            Problem::new(
                ProblemKind::InvalidValue,
                id.span,
                format!(
                    "purpose `{}` gives its vault data in an access request, yet says why it withholds them",
                    id.value
                ),
            )
            .help("remove `withheld_because`, or set `access_content = \"withheld\"`"),
        );
    }
    let keep_fields = t
        .has("keep_fields")
        .then(|| t.str_array(sink, "keep_fields"));
    let direct_marketing = t.bool(sink, "direct_marketing").is_some_and(|b| b.value);
    let special_condition = t
        .choice(sink, "special_condition", SpecialCondition::ALL)
        .map(|l| l.value);
    let dpv = read_dpv(sink, t, "dpv");
    if let Some(b) = &basis {
        check_basis_details(sink, &id, b.value, b.span, &law, &interest, &withdrawal);
    }
    t.finish(sink);
    Purpose {
        id,
        name,
        description,
        basis: basis.map_or(Basis::Contract, |l| l.value),
        law,
        interest,
        withdrawal,
        categories,
        subjects,
        retention: retention.unwrap_or(Retention {
            from: Event::Collection,
            keep: Period {
                amount: 0,
                unit: Unit::Day,
            },
        }),
        recipients,
        vault,
        access_content: access_content.map_or(AccessContent::Withheld, |a| a.value),
        withheld_because,
        keep_fields,
        direct_marketing,
        special_condition,
        dpv,
    }
}

fn check_basis_details(
    sink: &mut Sink,
    id: &Located<String>,
    basis: Basis,
    span: Span,
    law: &Option<Text>,
    interest: &Option<Text>,
    withdrawal: &Option<Text>,
) {
    let (missing, kind, help) = match basis {
        Basis::Consent if withdrawal.is_none() => (
            "says no way to withdraw consent",
            ProblemKind::NoWithdrawal,
            "add `withdrawal = { ... }`: how a person withdraws, as easily as they gave it (Art. 7(3)), e.g. the unsubscribe link or the portal",
        ),
        Basis::LegitimateInterests if interest.is_none() => (
            "rests on legitimate interests without stating the interest",
            ProblemKind::NoInterestStated,
            "add `interest = { ... }`: the interest pursued, which the notice must state (Art. 13(1)(d))",
        ),
        Basis::LegalObligation if law.is_none() => (
            "rests on a legal obligation without naming the law",
            ProblemKind::NoLawNamed,
            "add `law = { ... }`: the law that imposes the processing, e.g. D.Lgs. 196/2003 art. 132",
        ),
        _ => return,
    };
    sink.push(Problem::new(kind, span, format!("purpose `{}` {missing}", id.value)).help(help));
}

const UNBOUNDED_WORDS: [&str; 8] = [
    "forever",
    "indefinite",
    "indefinitely",
    "unlimited",
    "permanent",
    "permanently",
    "never",
    "always",
];

fn read_retention(sink: &mut Sink, t: &mut Table, id: &Located<String>) -> Option<Retention> {
    let Some(v) = t.raw("retention") else {
        sink.push(
            Problem::new(
                ProblemKind::UnboundedRetention,
                id.span,
                format!("purpose `{}` has no retention rule, so its data would be kept forever", id.value),
            )
            .help("add `retention = { keep = \"24 months\" }`, or `{ from = \"account_closed\", keep = \"30 days\" }`"),
        );
        return None;
    };
    let Some(table) = v.get_ref().as_table() else {
        sink.push(
            Problem::new(
                ProblemKind::InvalidValue,
                span_of(v),
                format!("`retention` of purpose `{}` must be a table", id.value),
            )
            .help("write `retention = { from = \"collection\", keep = \"24 months\" }`"),
        );
        return None;
    };
    let mut r = Table::new(
        table,
        span_of(v),
        format!("the retention of purpose `{}`", id.value),
    );
    let from = r
        .choice(sink, "from", Event::ALL)
        .map_or(Event::Collection, |l| l.value);
    let keep = match r.raw("keep") {
        None => {
            sink.push(
                Problem::new(
                    ProblemKind::UnboundedRetention,
                    r.span,
                    format!("the retention of purpose `{}` has no bound", id.value),
                )
                .help("add `keep = \"...\"`, e.g. \"30 days\" or \"24 months\": no datum may be kept indefinitely"),
            );
            None
        }
        Some(k) => match k.get_ref().as_str() {
            Some(s) => match parse_period(s) {
                Ok(p) => Some(p),
                Err(PeriodError::Unbounded) => {
                    sink.push(
                        Problem::new(
                            ProblemKind::UnboundedRetention,
                            span_of(k),
                            format!("the retention of purpose `{}` is \"{s}\": it has no bound", id.value),
                        )
                        .help("every datum needs an end: give a span such as \"10 years\", counted from an event if needed"),
                    );
                    None
                }
                Err(PeriodError::Malformed) => {
                    sink.push(
                        Problem::new(
                            ProblemKind::InvalidValue,
                            span_of(k),
                            format!("\"{s}\" is not a span of time"),
                        )
                        .help("write a number and a unit: \"30 days\", \"6 weeks\", \"24 months\", \"10 years\""),
                    );
                    None
                }
            },
            None => {
                sink.error(
                    ProblemKind::InvalidValue,
                    span_of(k),
                    format!("`keep` in the retention of purpose `{}` must be a string such as \"24 months\"", id.value),
                );
                None
            }
        },
    };
    r.finish(sink);
    keep.map(|keep| Retention { from, keep })
}

/// Why a span of time did not parse.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PeriodError {
    Unbounded,
    Malformed,
}

/// Parses `"24 months"`, `"1 year"`, `"30 days"`, `"2 weeks"`.
pub(crate) fn parse_period(s: &str) -> Result<Period, PeriodError> {
    let s = s.trim().to_ascii_lowercase();
    if UNBOUNDED_WORDS.contains(&s.as_str()) {
        return Err(PeriodError::Unbounded);
    }
    let mut parts = s.split_whitespace();
    let (Some(n), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(PeriodError::Malformed);
    };
    let amount: u32 = n.parse().map_err(|_| PeriodError::Malformed)?;
    let unit = match unit {
        "day" | "days" => Unit::Day,
        "week" | "weeks" => Unit::Week,
        "month" | "months" => Unit::Month,
        "year" | "years" => Unit::Year,
        _ => return Err(PeriodError::Malformed),
    };
    // A century is a bound in name only.
    let days = match unit {
        Unit::Day => amount,
        Unit::Week => amount.saturating_mul(7),
        Unit::Month => amount.saturating_mul(31),
        Unit::Year => amount.saturating_mul(366),
    };
    if days > 100 * 366 {
        return Err(PeriodError::Unbounded);
    }
    Ok(Period { amount, unit })
}

fn read_recipient(sink: &mut Sink, t: &mut Table) -> Recipient {
    let id = read_id(sink, t);
    let name = t
        .required_str(sink, "name", "the recipient's name")
        .map(|l| l.value)
        .unwrap_or_default();
    let role = t
        .choice(sink, "role", RecipientRole::ALL)
        .map_or(RecipientRole::Processor, |l| l.value);
    if !t.has("role") {
        t.missing(sink, "role", "processor, controller or public_authority");
    }
    let description = t.text(sink, "description");
    let country = t.required_str(sink, "country", "where it processes the data, e.g. \"IT\"");
    let safeguard = t.choice(sink, "safeguard", Safeguard::ALL);
    let safeguard_reference = t.str(sink, "safeguard_reference").map(|l| l.value);
    let notify_email = t.str(sink, "notify_email").and_then(|e| {
        if is_email(&e.value) {
            Some(e.value)
        } else {
            sink.push(
                Problem::new(
                    ProblemKind::InvalidValue,
                    e.span,
                    format!("`{}` is not an e-mail address", e.value),
                )
                .help("write the address where the recipient takes Art. 19 notices, e.g. \"privacy@example.org\", or leave the key out so staff tell it and confirm"),
            );
            None
        }
    });
    let on_order = t.bool(sink, "on_order").is_some_and(|b| b.value);
    let mut country_code = String::new();
    if let Some(c) = &country {
        if !crate::law::is_country_code(&c.value) {
            sink.push(
                Problem::new(
                    ProblemKind::InvalidValue,
                    c.span,
                    format!("`{}` is not an ISO 3166-1 country code", c.value),
                )
                .help("write two capital letters, e.g. \"IT\", \"CH\", \"US\""),
            );
        } else {
            country_code = c.value.clone();
            check_transfer(sink, &id, c, safeguard.as_ref());
        }
    }
    t.finish(sink);
    Recipient {
        id,
        name,
        role,
        description,
        country: country_code,
        safeguard: safeguard.map(|l| l.value),
        safeguard_reference,
        notify_email,
        on_order,
    }
}

/// An address as a mail relay takes it: one `@` between a local part and a
/// domain with a dot, no spaces or angle brackets.
fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !s.contains([' ', '<', '>', ',', ';'])
}

fn check_transfer(
    sink: &mut Sink,
    id: &Located<String>,
    country: &Located<String>,
    safeguard: Option<&Located<Safeguard>>,
) {
    if crate::law::is_eea(&country.value) {
        return;
    }
    match safeguard {
        None => sink.push(
            Problem::new(
                ProblemKind::UnsafeTransfer,
                country.span,
                format!(
                    "recipient `{}` is in {}, outside the EEA, with no safeguard for the transfer",
                    id.value, country.value
                ),
            )
            .help(if crate::law::has_adequacy_decision(&country.value) {
                "add `safeguard = \"adequacy\"` (the country has an adequacy decision), or another of scc, bcr, code_of_conduct, certification, derogation"
            } else {
                "add `safeguard = ...`: scc, bcr, code_of_conduct, certification or derogation (Art. 46–49)"
            }),
        ),
        Some(s)
            if s.value == Safeguard::Adequacy
                && !crate::law::has_adequacy_decision(&country.value) =>
        {
            sink.push(
                Problem::new(
                    ProblemKind::UnsafeTransfer,
                    s.span,
                    format!(
                        "{} has no adequacy decision, so `adequacy` cannot cover the transfer to `{}`",
                        country.value, id.value
                    ),
                )
                .help("use scc, bcr, code_of_conduct, certification or derogation (Art. 46–49)"),
            )
        }
        Some(_) => {}
    }
}

fn read_cookie(sink: &mut Sink, t: &mut Table) -> Cookie {
    let name = t
        .required_str(sink, "name", "the cookie's name")
        .map(|l| l.value)
        .unwrap_or_default();
    t.path = format!("cookie \"{name}\"");
    let kind = t
        .choice(sink, "kind", CookieKind::ALL)
        .map_or(CookieKind::Technical, |l| l.value);
    if !t.has("kind") {
        t.missing(
            sink,
            "kind",
            "technical, preferences, analytics or marketing",
        );
    }
    let provider = t
        .required_str(sink, "provider", "who sets it")
        .map(|l| l.value)
        .unwrap_or_default();
    let description = t.text(sink, "description");
    let duration = match t.required_str(
        sink,
        "duration",
        "\"session\" or a span such as \"13 months\"",
    ) {
        Some(d) if d.value == "session" => None,
        Some(d) => match parse_period(&d.value) {
            Ok(p) => Some(p),
            Err(_) => {
                sink.push(
                    Problem::new(
                        ProblemKind::InvalidValue,
                        d.span,
                        format!("\"{}\" is not a cookie duration", d.value),
                    )
                    .help("write \"session\" or a span such as \"13 months\""),
                );
                None
            }
        },
        None => None,
    };
    t.finish(sink);
    Cookie {
        name,
        kind,
        provider,
        description,
        duration,
    }
}

fn read_automated(sink: &mut Sink, root: &mut Table) -> AutomatedDecisions {
    let Some(mut t) = root.section(sink, "automated_decisions") else {
        return AutomatedDecisions::default();
    };
    let present = t.bool(sink, "present").is_some_and(|b| b.value);
    let logic = t.text(sink, "logic");
    let significance = t.text(sink, "significance");
    if present && (logic.is_none() || significance.is_none()) {
        sink.push(
            Problem::new(
                ProblemKind::Incomplete,
                t.span,
                "automated decisions are present but their logic or significance is not described",
            )
            .help("add `logic = { ... }` and `significance = { ... }` (Art. 13(2)(f))"),
        );
    }
    t.finish(sink);
    AutomatedDecisions {
        present,
        logic,
        significance,
    }
}

fn read_measure(sink: &mut Sink, t: &mut Table) -> Option<Measure> {
    let kind = t.choice(sink, "kind", MeasureKind::ALL);
    if !t.has("kind") {
        t.missing(sink, "kind", "technical or organisational");
    }
    let description = t.required_text(sink, "description", "what the measure is");
    t.finish(sink);
    Some(Measure {
        kind: kind?.value,
        description: description?,
    })
}

/// `[security]`: the backup key lifetime, in days or weeks, bounded.
fn read_security(sink: &mut Sink, root: &mut Table) -> Security {
    let Some(mut t) = root.section(sink, "security") else {
        return Security::default();
    };
    let mut security = Security::default();
    if let Some(v) = t.str(sink, "backup_key_lifetime") {
        let days = match parse_period(&v.value) {
            Ok(Period {
                amount,
                unit: Unit::Day,
            }) => Some(amount),
            Ok(Period {
                amount,
                unit: Unit::Week,
            }) => Some(amount.saturating_mul(7)),
            _ => None,
        };
        match days {
            Some(d @ BACKUP_KEY_LIFETIME_MIN_DAYS..=BACKUP_KEY_LIFETIME_MAX_DAYS) => {
                security.backup_key_lifetime_days = Some(d);
            }
            Some(d) => sink.push(
                Problem::new(
                    ProblemKind::InvalidValue,
                    v.span,
                    format!(
                        "backup_key_lifetime of {d} days is outside {BACKUP_KEY_LIFETIME_MIN_DAYS}..={BACKUP_KEY_LIFETIME_MAX_DAYS} days"
                    ),
                )
                .help("a new backup key is made each day and each lives this long: give e.g. \"35 days\""),
            ),
            None => sink.push(
                Problem::new(
                    ProblemKind::InvalidValue,
                    v.span,
                    format!("\"{}\" is not a backup key lifetime", v.value),
                )
                .help("write a number of days or weeks, e.g. \"35 days\" or \"5 weeks\": the notice states it to the day"),
            ),
        }
    }
    t.finish(sink);
    security
}

/// Suggests the nearest declared id for an unknown reference.
pub(crate) fn unknown_reference(
    what: &str,
    reference: &Located<String>,
    known: &[&str],
) -> Problem {
    let p = Problem::new(
        ProblemKind::UnknownReference,
        reference.span,
        format!("no {what} has the id `{}`", reference.value),
    );
    match closest(&reference.value, known.iter().copied()) {
        Some(c) => p.help(format!("did you mean `{c}`?")),
        None if known.is_empty() => p.help(format!("declare the {what} first")),
        None => p.help(format!("declared: {}", known.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods() {
        assert_eq!(
            parse_period("24 months"),
            Ok(Period {
                amount: 24,
                unit: Unit::Month
            })
        );
        assert_eq!(
            parse_period("1 year"),
            Ok(Period {
                amount: 1,
                unit: Unit::Year
            })
        );
        assert_eq!(parse_period("forever"), Err(PeriodError::Unbounded));
        assert_eq!(parse_period("999 years"), Err(PeriodError::Unbounded));
        assert_eq!(parse_period("24 moons"), Err(PeriodError::Malformed));
        assert_eq!(parse_period("months"), Err(PeriodError::Malformed));
    }

    #[test]
    fn dates() {
        assert!(is_iso_date("2024-02-29"));
        assert!(!is_iso_date("2025-02-29"));
        assert!(!is_iso_date("2025-13-01"));
        assert!(!is_iso_date("25-01-01"));
    }
}
