//! The check of `keep_fields`: the fields a ground keeps after an erasure
//! (or in the vault) must be fields of the categories it covers, and it
//! must keep something of each of them, so that no listing silently erases
//! what the law needs or names a field that does not exist.

use crate::diagnostic::{Problem, ProblemKind};
use crate::model::Policy;
use crate::read::Sink;
use crate::reader::{Problems, closest};

pub(crate) fn check(sink: &mut Sink, policy: &Policy) {
    for purpose in &policy.purposes {
        let Some(listed) = &purpose.keep_fields else {
            continue;
        };
        if listed.is_empty() {
            sink.push(
                Problem::new(
                    ProblemKind::InvalidValue,
                    purpose.id.span,
                    format!("purpose `{}` keeps no field: `keep_fields` is empty", purpose.id.value),
                )
                .help("list the fields the law needs, e.g. `keep_fields = [\"name\", \"tax_code\"]`, or remove `keep_fields` to keep whole categories"),
            );
            continue;
        }
        // Unknown categories are reported by the main validation.
        let categories: Vec<_> = purpose
            .categories
            .iter()
            .filter_map(|c| policy.category(&c.value).map(|cat| (c, cat)))
            .collect();
        let known: Vec<&str> = categories
            .iter()
            .flat_map(|(_, cat)| cat.fields.iter().map(|f| f.id.value.as_str()))
            .collect();
        for field in listed {
            if known.contains(&field.value.as_str()) {
                continue;
            }
            let names: Vec<&str> = categories.iter().map(|(c, _)| c.value.as_str()).collect();
            let p = Problem::new(
                ProblemKind::UnknownReference,
                field.span,
                format!(
                    "purpose `{}` keeps field `{}`, which none of its categories ({}) has",
                    purpose.id.value,
                    field.value,
                    names.join(", ")
                ),
            );
            sink.push(match closest(&field.value, known.iter().copied()) {
                Some(c) => p.help(format!("did you mean `{c}`?")),
                None => p.help(format!(
                    "list only fields of its categories: {}",
                    known.join(", ")
                )),
            });
        }
        for (reference, category) in &categories {
            if !category
                .fields
                .iter()
                .any(|f| listed.iter().any(|l| l.value == f.id.value))
            {
                sink.push(
                    Problem::new(
                        ProblemKind::Incomplete,
                        reference.span,
                        format!(
                            "purpose `{}` covers category `{}` but its `keep_fields` keeps none of its fields",
                            purpose.id.value, category.id.value
                        ),
                    )
                    .help(format!(
                        "add to `keep_fields` the fields of `{}` the law needs ({}), or remove `{}` from the purpose's `categories`",
                        category.id.value,
                        category
                            .fields
                            .iter()
                            .map(|f| f.id.value.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        category.id.value
                    )),
                );
            }
        }
    }
}
