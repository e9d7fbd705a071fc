//! `custode breaches`: the breach register at the console — record a
//! breach, list them with their clocks, show one with its versions, record
//! the notice to the authority, compute what a breach touched, and print
//! the notification the DPO files. Run as the local operator (an
//! administrator: counts, never who was touched); the capability checks
//! and audits as for any caller.

use anyhow::Context;
use clap::Subcommand;
use custode_breaches::{Breach, Facts, Nature, NewBreach, Notification, Scope};
use custode_domain::{BreachId, TenantId};
use custode_policy::{Format, Lang};
use custode_store::{OpenMode, StoreError};

use crate::Outcome;
use crate::data_cmd::{StoreArgs, operator};
use crate::output::outln;

#[derive(Subcommand)]
pub(crate) enum BreachesCommand {
    /// Record a breach (notified or not, Art. 33(5)); prints its id and deadline.
    Record {
        /// The tenant it belongs to (the provider's for an instance-wide one).
        #[arg(long)]
        tenant: String,
        /// When it was detected (RFC 3339).
        #[arg(long)]
        detected_at: Option<String>,
        /// When the controller became aware that personal data were breached (RFC 3339).
        #[arg(long)]
        aware_at: Option<String>,
        /// confidentiality, integrity, availability (repeat or comma-separate).
        #[arg(long, value_delimiter = ',', required = true)]
        nature: Vec<String>,
        /// What happened.
        #[arg(long)]
        description: String,
        /// Categories of data the policy declares.
        #[arg(long, value_delimiter = ',')]
        category: Vec<String>,
        /// Categories of people (subject kinds of the policy).
        #[arg(long, value_delimiter = ',')]
        people: Vec<String>,
        /// Systems involved.
        #[arg(long, value_delimiter = ',')]
        system: Vec<String>,
        /// Likely consequences.
        #[arg(long, default_value = "")]
        consequences: String,
        /// Measures taken.
        #[arg(long, default_value = "")]
        measures_taken: String,
        /// Measures proposed.
        #[arg(long, default_value = "")]
        measures_proposed: String,
    },
    /// The breaches, the most urgent clock first: id, tenant, deadline, hours left, state.
    List,
    /// One breach's entry and every version of it.
    Show {
        /// The breach's id.
        id: String,
    },
    /// Record the notice given to the authority (or the follow-up of an incomplete one).
    Notified {
        /// The breach's id.
        id: String,
        /// When it was given (RFC 3339); now when left out.
        #[arg(long)]
        at: Option<String>,
        /// The first notice was incomplete (a telecom then owes a follow-up within 3 days).
        #[arg(long)]
        incomplete: bool,
        /// Why it came after the deadline (required when it did).
        #[arg(long)]
        late_reason: Option<String>,
        /// The authority's reference.
        #[arg(long)]
        reference: Option<String>,
    },
    /// Compute the people and records a breach touched, by tenant and category.
    Assess {
        /// The breach's id.
        id: String,
        /// Tenants under the breach's (its own when none).
        #[arg(long, value_delimiter = ',')]
        tenant: Vec<String>,
        /// Categories of data.
        #[arg(long, value_delimiter = ',')]
        category: Vec<String>,
        /// Records collected from this instant (RFC 3339).
        #[arg(long)]
        from: Option<String>,
        /// Records collected before this instant (RFC 3339).
        #[arg(long)]
        until: Option<String>,
    },
    /// Print the notification to the authority (Art. 33(3)).
    Notice {
        /// The breach's id.
        id: String,
        /// it, en, fr or nl (the policy's first when left out).
        #[arg(long)]
        lang: Option<String>,
        /// markdown or html.
        #[arg(long, default_value = "markdown", value_parser = ["markdown", "html"])]
        format: String,
    },
}

fn instant(name: &str, v: Option<&str>) -> anyhow::Result<Option<jiff::Timestamp>> {
    v.map(|t| {
        t.parse::<jiff::Timestamp>().with_context(|| {
            format!("--{name} `{t}` is not an RFC 3339 instant (e.g. 2026-03-02T08:00:00Z)")
        })
    })
    .transpose()
}

fn parse_id(id: &str) -> anyhow::Result<BreachId> {
    BreachId::parse(id).context("the breach id")
}

fn line(b: &Breach) -> String {
    let c = &b.clocks;
    let state = match (&b.notified, c.overdue, c.follow_up_overdue) {
        (None, true, _) => "OVERDUE".to_owned(),
        (None, false, _) => "to notify".to_owned(),
        (Some(_), _, true) => "follow-up OVERDUE".to_owned(),
        (Some(_), _, _) if c.follow_up_hours_left.is_some() => "follow-up owed".to_owned(),
        (Some(n), _, _) => format!("notified {}", n.at),
    };
    let left = c
        .hours_left
        .or(c.follow_up_hours_left)
        .map_or_else(|| "-".to_owned(), |h| format!("{h} h"));
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}",
        b.id, b.tenant, c.authority_due, left, state, b.facts.description
    )
}

pub(crate) async fn run(args: &StoreArgs, cmd: BreachesCommand) -> anyhow::Result<Outcome> {
    let app = args.open(OpenMode::Existing).await?;
    let by = operator();
    let b = &app.breaches;
    let result: Result<(), StoreError> = async {
        match cmd {
            BreachesCommand::Record {
                tenant,
                detected_at,
                aware_at,
                nature,
                description,
                category,
                people,
                system,
                consequences,
                measures_taken,
                measures_proposed,
            } => {
                let bad = |m: String| StoreError::Invalid(m);
                let nature = nature
                    .iter()
                    .map(|n| {
                        Nature::from_key(n.trim()).ok_or_else(|| {
                            bad(format!("`{n}` is not a nature: use confidentiality, integrity or availability"))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let when = |name: &str, v: Option<String>| {
                    instant(name, v.as_deref()).map_err(|e| bad(format!("{e:#}")))
                };
                let breach = b
                    .record(
                        &by,
                        NewBreach {
                            tenant: TenantId::parse(&tenant).map_err(|e| bad(e.to_string()))?,
                            detected_at: when("detected-at", detected_at)?,
                            aware_at: when("aware-at", aware_at)?,
                            facts: Facts {
                                nature,
                                description,
                                systems: system,
                                data_categories: category,
                                subject_kinds: people,
                                consequences,
                                measures_taken,
                                measures_proposed,
                                ..Facts::default()
                            },
                        },
                    )
                    .await?;
                let _ = outln!("{}\tnotify the authority by {}", breach.id, breach.clocks.authority_due);
            }
            BreachesCommand::List => {
                let all = b.list(&by).await?;
                if all.is_empty() {
                    let _ = outln!("no breach recorded");
                }
                for x in &all {
                    let _ = outln!("{}", line(x));
                }
            }
            BreachesCommand::Show { id } => {
                let id = parse_id(&id).map_err(|e| StoreError::Invalid(format!("{e:#}")))?;
                let breach = b.show(&by, &id).await?;
                let _ = outln!("{}", line(&breach));
                for v in b.versions(&by, &id).await? {
                    let _ = outln!("version {}\t{}\t{}\t{}", v.version, v.at, v.actor, v.changed.join(","));
                }
            }
            BreachesCommand::Notified { id, at, incomplete, late_reason, reference } => {
                let id = parse_id(&id).map_err(|e| StoreError::Invalid(format!("{e:#}")))?;
                let at = instant("at", at.as_deref())
                    .map_err(|e| StoreError::Invalid(format!("{e:#}")))?
                    .unwrap_or_else(jiff::Timestamp::now);
                let breach = b
                    .notify_authority(
                        &by,
                        &id,
                        Notification { at, complete: !incomplete, late_reason, reference },
                    )
                    .await?;
                let _ = outln!("{}", line(&breach));
            }
            BreachesCommand::Assess { id, tenant, category, from, until } => {
                let id = parse_id(&id).map_err(|e| StoreError::Invalid(format!("{e:#}")))?;
                let tenants = tenant
                    .iter()
                    .map(|t| TenantId::parse(t).map_err(|e| StoreError::Invalid(e.to_string())))
                    .collect::<Result<Vec<_>, _>>()?;
                let when = |name: &str, v: Option<String>| {
                    instant(name, v.as_deref()).map_err(|e| StoreError::Invalid(format!("{e:#}")))
                };
                let a = b
                    .assess(
                        &by,
                        &id,
                        Scope {
                            tenants,
                            categories: category,
                            collected_from: when("from", from)?,
                            collected_until: when("until", until)?,
                            identifiers: vec![],
                        },
                    )
                    .await?;
                let _ = outln!("{} people, {} records", a.subjects, a.records);
                for c in &a.counts {
                    let _ = outln!("{}\t{}\t{}\t{}", c.tenant, c.category, c.subjects, c.records);
                }
            }
            BreachesCommand::Notice { id, lang, format } => {
                let id = parse_id(&id).map_err(|e| StoreError::Invalid(format!("{e:#}")))?;
                let lang = match lang {
                    Some(code) => Some(Lang::parse(&code).ok_or_else(|| {
                        StoreError::Invalid(format!("`{code}` is not a language: use it, en, fr or nl"))
                    })?),
                    None => None,
                };
                let doc = b.authority_notice(&by, &id, lang).await?;
                let format = if format == "html" { Format::Html } else { Format::Markdown };
                let _ = outln!("{}", doc.render(format));
            }
        }
        Ok::<(), StoreError>(())
    }
    .await;
    app.close().await;
    match result {
        Ok(()) => Ok(Outcome::Ok),
        // Bad input, not a failure to run: exit 1, as documented.
        Err(StoreError::Invalid(m) | StoreError::Conflict(m)) => {
            eprintln!("custode: error: {m}");
            Ok(Outcome::Invalid)
        }
        Err(e) => Err(e.into()),
    }
}
