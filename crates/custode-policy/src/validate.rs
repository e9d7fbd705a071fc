//! Cross-checks of a loaded policy: ids, references, and the rules that make
//! a policy contradict itself (a category no purpose covers, a vault purpose
//! that is not a legal obligation, special data without an Art. 9 ground).

use std::collections::HashMap;

use crate::diagnostic::{Located, Problem, ProblemKind};
use crate::load::unknown_reference;
use crate::model::{Basis, Event, Policy};
use crate::read::Sink;
use crate::reader::Problems;

pub(crate) fn check(sink: &mut Sink, policy: &mut Policy) {
    policy.index.subjects = index(sink, "subject kind", policy.subjects.iter().map(|s| &s.id));
    policy.index.categories = index(sink, "category", policy.categories.iter().map(|c| &c.id));
    policy.index.purposes = index(sink, "purpose", policy.purposes.iter().map(|p| &p.id));
    policy.index.recipients = index(sink, "recipient", policy.recipients.iter().map(|r| &r.id));
    let mut covering: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, p) in policy.purposes.iter().enumerate() {
        for c in &p.categories {
            let list = covering.entry(c.value.clone()).or_default();
            if list.last() != Some(&i) {
                list.push(i);
            }
        }
    }
    policy.index.category_purposes = covering;

    for category in &policy.categories {
        let mut seen: HashMap<&str, ()> = HashMap::new();
        for field in &category.fields {
            if seen.insert(&field.id.value, ()).is_some() {
                sink.push(Problem::new(
                    ProblemKind::DuplicateId,
                    field.id.span,
                    format!(
                        "field `{}` appears twice in category `{}`",
                        field.id.value, category.id.value
                    ),
                ));
            }
        }
    }

    let subject_ids: Vec<&str> = policy
        .subjects
        .iter()
        .map(|s| s.id.value.as_str())
        .collect();
    let category_ids: Vec<&str> = policy
        .categories
        .iter()
        .map(|c| c.id.value.as_str())
        .collect();
    let recipient_ids: Vec<&str> = policy
        .recipients
        .iter()
        .map(|r| r.id.value.as_str())
        .collect();
    let mut covered = vec![false; policy.categories.len()];
    let mut concerned = vec![false; policy.subjects.len()];

    for purpose in &policy.purposes {
        let mut uses_special = None;
        for c in &purpose.categories {
            match policy.index.categories.get(&c.value) {
                Some(&i) => {
                    covered[i] = true;
                    if policy.categories[i].special {
                        uses_special = Some(c);
                    }
                }
                None => sink.push(unknown_reference("category", c, &category_ids)),
            }
        }
        for s in &purpose.subjects {
            match policy.index.subjects.get(&s.value) {
                Some(&i) => concerned[i] = true,
                None => sink.push(unknown_reference("subject kind", s, &subject_ids)),
            }
        }
        for r in &purpose.recipients {
            if !policy.index.recipients.contains_key(&r.value) {
                sink.push(unknown_reference("recipient", r, &recipient_ids));
            }
        }
        if purpose.vault && purpose.basis != Basis::LegalObligation {
            sink.push(
                Problem::new(
                    ProblemKind::VaultWithoutObligation,
                    purpose.id.span,
                    format!(
                        "purpose `{}` keeps its data in the vault, but its basis is {}, not a legal obligation",
                        purpose.id.value,
                        purpose.basis.key()
                    ),
                )
                .help("the vault holds only data the law obliges you to keep: set `basis = \"legal_obligation\"` and name the `law`, or remove `vault = true`"),
            );
        }
        if let (Some(special), None) = (uses_special, purpose.special_condition) {
            sink.push(
                Problem::new(
                    ProblemKind::SpecialWithoutCondition,
                    special.span,
                    format!(
                        "purpose `{}` uses `{}`, a special category (Art. 9), without an Art. 9(2) condition",
                        purpose.id.value, special.value
                    ),
                )
                .help("add `special_condition = ...` to the purpose, e.g. \"explicit_consent\", or do not process special data for it"),
            );
        }
    }

    for (category, covered) in policy.categories.iter().zip(&covered) {
        if !covered && !category.id.value.is_empty() {
            sink.push(
                Problem::new(
                    ProblemKind::UncoveredCategory,
                    category.id.span,
                    format!("no purpose covers category `{}`", category.id.value),
                )
                .help("list it in the `categories` of the purpose it serves, or remove it: data without a purpose may not be processed"),
            );
        }
    }
    for (subject, concerned) in policy.subjects.iter().zip(&concerned) {
        if !concerned && !subject.id.value.is_empty() {
            sink.push(
                Problem::new(
                    ProblemKind::Incomplete,
                    subject.id.span,
                    format!("no purpose concerns subject kind `{}`", subject.id.value),
                )
                .help(
                    "list it in the `subjects` of the purposes that process its data, or remove it",
                ),
            );
        }
    }
    if let Some(b) = &policy.meta.birth_date {
        match policy.category(&b.category) {
            None => sink.push(unknown_reference(
                "category",
                &Located::new(b.category.clone(), b.span),
                &category_ids,
            )),
            Some(c) if !c.fields.iter().any(|f| f.id.value == b.field) => sink.push(
                Problem::new(
                    ProblemKind::UnknownReference,
                    b.span,
                    format!("category `{}` has no field `{}`", b.category, b.field),
                )
                .help(format!(
                    "its fields: {}",
                    c.fields
                        .iter()
                        .map(|f| f.id.value.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            ),
            Some(_) => {}
        }
    }
    check_every_category_ends(sink, policy);
    if policy.purposes.is_empty() {
        sink.push(
            Problem::new(
                ProblemKind::Missing,
                Default::default(),
                "the policy declares no purpose",
            )
            .help("add at least one [[purpose]]"),
        );
    }
}

/// Every category a subject kind can hold must reach an end by time alone.
/// A record goes when the last of its purposes is done with it, so one
/// purpose counted from an event that may never happen (the account's
/// closure, the contract's end, a withdrawal: a dormant account has none)
/// keeps it forever, unless the kind's accounts close after inactivity.
fn check_every_category_ends(sink: &mut Sink, policy: &Policy) {
    for category in &policy.categories {
        for kind in &policy.subjects {
            if kind.close_after_inactivity.is_some() {
                continue;
            }
            let waiting: Vec<String> = policy
                .purposes_of_category(&category.id.value)
                .filter(|p| p.subjects.iter().any(|s| s.value == kind.id.value))
                .filter(|p| {
                    matches!(
                        p.retention.from,
                        Event::AccountClosed | Event::ContractEnd | Event::ConsentWithdrawn
                    )
                })
                .map(|p| format!("`{}` ({})", p.id.value, p.retention.from.key()))
                .collect();
            if waiting.is_empty() || category.id.value.is_empty() {
                continue;
            }
            sink.push(
                Problem::new(
                    ProblemKind::UnboundedRetention,
                    category.id.span,
                    format!(
                        "category `{}` of subject kind `{}` may be kept forever: its end waits for purpose {}, counted from an event a dormant account never reaches, and nothing closes an inactive `{}` account",
                        category.id.value,
                        kind.id.value,
                        waiting.join(", "),
                        kind.id.value
                    ),
                )
                .help(format!(
                    "add `close_after_inactivity = \"24 months\"` to subject kind `{}`, or count those purposes' retention from `collection` or `last_activity`",
                    kind.id.value
                )),
            );
        }
    }
}

fn index<'a>(
    sink: &mut Sink,
    what: &str,
    ids: impl Iterator<Item = &'a Located<String>>,
) -> HashMap<String, usize> {
    let mut map: HashMap<String, usize> = HashMap::new();
    let mut first_spans = Vec::new();
    for (i, id) in ids.enumerate() {
        first_spans.push(id.span);
        if id.value.is_empty() {
            continue;
        }
        if let Some(&prev) = map.get(&id.value) {
            let line = sink.line(first_spans[prev]);
            sink.push(
                Problem::new(
                    ProblemKind::DuplicateId,
                    id.span,
                    format!("two entries are {what} `{}`", id.value),
                )
                .help(format!(
                    "ids must be unique; the first is on line {line} — rename one of them"
                )),
            );
        } else {
            map.insert(id.value.clone(), i);
        }
    }
    map
}
