//! `custode subjects find`, `custode tenants list` and `custode audit
//! trail`: finding a person by an identifier, the tenancy tree with its
//! counts, and a subject's audit trail for the DPO. Run as the local
//! operator; the store checks and audits as for any caller.

use anyhow::{Context, bail};
use clap::Args;
use custode_server::Custode;

use custode_trail::TrailFilter;

use crate::Outcome;
use crate::data_cmd::operator;
use crate::output::outln;

/// What part of a subject's trail, and how to print it.
#[derive(Args)]
pub(crate) struct TrailArgs {
    /// The subject's id.
    subject: String,
    /// Only entries by this actor (`user:…`, `token:…`, `job:…`, `cli:…`).
    #[arg(long)]
    actor: Option<String>,
    /// Only entries of this action (`records.read`, `records.written`, ...).
    #[arg(long)]
    action: Option<String>,
    /// From this instant (RFC 3339) or day (`2026-01-31`, UTC).
    #[arg(long)]
    since: Option<String>,
    /// Up to this instant or day, inclusive.
    #[arg(long)]
    until: Option<String>,
    /// table, json or csv.
    #[arg(long, default_value = "table", value_parser = ["table", "json", "csv"])]
    format: String,
    /// Show what the subject itself sees (roles and purposes, no names).
    #[arg(long)]
    as_subject: bool,
    /// Why you read it (audited).
    #[arg(long, default_value = "audit trail consulted at the command line")]
    reason: String,
}

pub(crate) async fn find(
    app: &Custode,
    email: Option<String>,
    phone: Option<String>,
    identifier: Option<String>,
    reason: &str,
    json: bool,
) -> anyhow::Result<Outcome> {
    let (kind, value) = match (email, phone, identifier) {
        (Some(e), None, None) => ("email".to_owned(), e),
        (None, Some(p), None) => ("phone".to_owned(), p),
        (None, None, Some(i)) => {
            let Some((kind, value)) = i.split_once('=') else {
                bail!("--identifier is KIND=VALUE, e.g. vat_number=IT01234567890");
            };
            (kind.trim().to_owned(), value.to_owned())
        }
        _ => bail!("give one of --email, --phone or --identifier KIND=VALUE"),
    };
    let found = match app
        .finder
        .find_by_identifier(&operator(), &kind, &value, reason)
        .await
    {
        Ok(found) => found,
        // Bad input, not a failure to run: exit 1, as documented.
        Err(custode_store::StoreError::Invalid(m)) => {
            eprintln!("custode: error: {m}");
            return Ok(Outcome::Invalid);
        }
        Err(e) => return Err(e.into()),
    };
    if json {
        let rows: Vec<serde_json::Value> = found
            .iter()
            .map(|s| {
                serde_json::json!({
                    "id": s.id.as_str(),
                    "kind": s.kind,
                    "tenant": s.tenant.as_str(),
                    "created_at": s.created_at.to_string(),
                    "erasure": s.erasure.name(),
                })
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&rows)?)?;
    } else if found.is_empty() {
        eprintln!("no subject found by that {kind}");
    } else {
        for s in &found {
            outln!("{}\t{}\t{}\t{}", s.id, s.kind, s.tenant, s.erasure.name())?;
        }
    }
    Ok(Outcome::Ok)
}

pub(crate) async fn list_tenants(app: &Custode, json: bool) -> anyhow::Result<()> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = app
            .finder
            .list_tenants(&operator(), after.as_ref(), 10_000)
            .await?;
        let full = page.len() == 10_000;
        after = page.last().map(|t| t.tenant.id.clone());
        all.extend(page);
        if !full {
            break;
        }
    }
    let counts = |m: &std::collections::BTreeMap<String, u64>| {
        if m.is_empty() {
            "-".to_owned()
        } else {
            m.iter()
                .map(|(k, n)| format!("{k}={n}"))
                .collect::<Vec<_>>()
                .join(",")
        }
    };
    if json {
        let rows: Vec<serde_json::Value> = all
            .iter()
            .map(|t| {
                serde_json::json!({
                    "id": t.tenant.id.as_str(),
                    "kind": t.tenant.kind.name(),
                    "name": t.tenant.name,
                    "parent": t.tenant.parent.as_ref().map(|p| p.as_str()),
                    "path": t.tenant.path,
                    "closed_at": t.closed_at.map(|c| c.to_string()),
                    "subjects": t.subjects,
                    "children": t.children,
                })
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&rows)?)?;
        return Ok(());
    }
    outln!(
        "{:<32}  {:<10}  {:<24}  {:<24}  NAME",
        "ID",
        "KIND",
        "SUBJECTS",
        "CHILDREN"
    )?;
    for t in &all {
        // Indented by depth: a path holds one id per level.
        let depth = t.tenant.path.matches('/').count().saturating_sub(2);
        let closed = if t.closed_at.is_some() {
            " (closed)"
        } else {
            ""
        };
        outln!(
            "{:<32}  {:<10}  {:<24}  {:<24}  {}{}{closed}",
            t.tenant.id,
            t.tenant.kind.name(),
            counts(&t.subjects),
            counts(&t.children),
            "  ".repeat(depth),
            t.tenant.name,
        )?;
    }
    Ok(())
}

pub(crate) async fn trail(app: &Custode, args: TrailArgs) -> anyhow::Result<Outcome> {
    let subject = custode_domain::SubjectId::parse(&args.subject)?;
    let mut filter = TrailFilter {
        actor: args.actor,
        action: args.action,
        from: args
            .since
            .as_deref()
            .map(custode_trail::parse_from)
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(custode_trail::parse_until)
            .transpose()?,
        after: None,
        limit: custode_trail::TRAIL_PAGE_MAX,
        as_subject: args.as_subject,
    };
    // Every page, each read audited.
    let mut trail = app
        .trail
        .subject_trail(&operator(), &subject, &filter, &args.reason)
        .await?;
    while let Some(next) = trail.next {
        filter.after = Some(next);
        let page = app
            .trail
            .subject_trail(&operator(), &subject, &filter, &args.reason)
            .await?;
        trail.entries.extend(page.entries);
        trail.next = page.next;
    }
    match args.format.as_str() {
        "json" => outln!("{}", serde_json::to_string_pretty(&trail.to_json())?)?,
        "csv" => {
            let csv = trail.to_csv()?;
            outln!(
                "{}",
                String::from_utf8(csv)
                    .context("the trail as CSV")?
                    .trim_end_matches("\r\n")
            )?;
        }
        _ => {
            outln!(
                "{:<27}  {:<8}  {:<20}  {:<16}  {:<24}  REASON",
                "AT",
                "KIND",
                "ACTION",
                "ROLE",
                "WHO"
            )?;
            for e in &trail.entries {
                let who = match (&e.actor_name, &e.actor) {
                    (Some(name), _) => name.clone(),
                    (None, Some(actor)) => actor.clone(),
                    (None, None) => "-".to_owned(),
                };
                let what = if e.categories.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", e.categories.join(" "))
                };
                outln!(
                    "{:<27}  {:<8}  {:<20}  {:<16}  {:<24}  {}{what}",
                    e.at.to_string(),
                    e.kind,
                    e.action,
                    e.role,
                    who,
                    e.reason.as_deref().unwrap_or("-"),
                )?;
            }
            if let Some(note) = trail.note {
                outln!("\n{note}")?;
            }
        }
    }
    Ok(Outcome::Ok)
}
