//! The human-readable summary of an access request (Art. 15(1)): for each
//! category of data held about the person, why (purposes with their legal
//! basis), who receives it, how long it is kept and where it came from;
//! what the segregated vault keeps (category, count, law, end, and whether
//! its content is given or withheld, and why); then the whole notice, for
//! the rights, the complaint and automated decisions. Like the notice,
//! every phrase comes from the catalogues.

use std::collections::BTreeSet;

use crate::doc::Document;
use crate::i18n::Catalog;
use crate::model::{AccessContent, Policy};
use crate::notice::{NoticeError, notice, retention_words};
use crate::text::Lang;

/// What is held in one category about the person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Held {
    /// The category id.
    pub category: String,
    /// How many records.
    pub records: usize,
    /// The purposes the records serve.
    pub purposes: BTreeSet<String>,
}

/// What the vault keeps about the person in one category, under the same
/// vault purposes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultHeld {
    /// The category id.
    pub category: String,
    /// How many records.
    pub records: u64,
    /// The vault purposes that keep them.
    pub grounds: Vec<String>,
    /// When the last of them goes, YYYY-MM-DD; `None` while an event is awaited.
    pub until: Option<String>,
}

/// Whether an access request gives the content of records kept under
/// `grounds`: only when every one of those vault purposes says so (the
/// strictest wins; a purpose the policy no longer has withholds).
pub fn vault_content_given(policy: &Policy, grounds: &[String]) -> bool {
    !grounds.is_empty()
        && grounds.iter().all(|g| {
            policy
                .purpose(g)
                .is_some_and(|p| p.access_content == AccessContent::Given)
        })
}

/// One sentence per line of what the vault keeps: category, count, the law,
/// the end, and whether the content is given (in the package) or withheld,
/// with the reason. Shared by the summary and the answer letter.
pub fn vault_lines(policy: &Policy, lang: Lang, vault: &[VaultHeld]) -> Vec<String> {
    let c = Catalog::get(lang);
    vault
        .iter()
        .map(|v| {
            let category = policy
                .category(&v.category)
                .map_or(v.category.clone(), |x| x.name.get(lang).to_owned());
            let purposes: Vec<&crate::model::Purpose> =
                v.grounds.iter().filter_map(|g| policy.purpose(g)).collect();
            let law = purposes
                .iter()
                .map(|p| {
                    p.law.as_ref().map_or_else(
                        || p.name.get(lang).to_owned(),
                        |law| format!("{} — {}", p.name.get(lang), law.get(lang)),
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            let until = v
                .until
                .as_deref()
                .map_or_else(|| c.msg("answer-until-open"), |u| c.date(u));
            let kept = c.msg_args(
                "access-vault-line",
                &[
                    ("category", category.into()),
                    (
                        "count",
                        crate::i18n::Arg::Num(i64::try_from(v.records).unwrap_or(i64::MAX)),
                    ),
                    ("law", law.into()),
                    ("until", until.into()),
                ],
            );
            let content = if vault_content_given(policy, &v.grounds) {
                c.msg("access-vault-given")
            } else {
                let reasons: BTreeSet<String> = purposes
                    .iter()
                    .filter(|p| p.access_content == AccessContent::Withheld)
                    .map(|p| {
                        p.withheld_because.as_ref().map_or_else(
                            || c.msg("access-vault-withheld-default"),
                            |t| t.get(lang).to_owned(),
                        )
                    })
                    .collect();
                let reasons = if reasons.is_empty() {
                    c.msg("access-vault-withheld-default")
                } else {
                    reasons.into_iter().collect::<Vec<_>>().join(" ")
                };
                c.msg_args("access-vault-withheld", &[("reason", reasons.into())])
            };
            format!("{kept} {content}")
        })
        .collect()
}

/// The summary, in `lang`, of what is held (`date` is YYYY-MM-DD), in the
/// main store (`held`) and in the vault (`vault`).
pub fn access_summary(
    policy: &Policy,
    lang: Lang,
    date: &str,
    held: &[Held],
    vault: &[VaultHeld],
) -> Result<Document, NoticeError> {
    let full = notice(policy, lang)?;
    let c = Catalog::get(lang);
    let controller = policy.controller.name.clone().unwrap_or_default();
    let mut d = Document {
        lang: lang.code().to_owned(),
        title: format!("{} — {}", c.msg("access-title"), controller),
        blocks: Vec::new(),
    };
    d.p(c.msg_args(
        "access-intro",
        &[
            ("controller", controller.as_str().into()),
            ("date", c.date(date).into()),
        ],
    ));
    d.h2(c.msg("access-held"));
    for h in held {
        let Some(category) = policy.category(&h.category) else {
            continue;
        };
        d.h3(c.msg_args(
            "access-category",
            &[
                ("category", category.name.get(lang).into()),
                ("count", crate::i18n::Arg::Num(h.records as i64)),
            ],
        ));
        let purposes: Vec<&crate::model::Purpose> = h
            .purposes
            .iter()
            .filter_map(|p| policy.purpose(p))
            .collect();
        let mut lines = Vec::new();
        lines.push(
            c.msg_args(
                "access-purposes",
                &[(
                    "purposes",
                    purposes
                        .iter()
                        .map(|p| {
                            format!(
                                "{} ({})",
                                p.name.get(lang),
                                c.msg(&format!("basis-{}", p.basis.key()))
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("; ")
                        .into(),
                )],
            ),
        );
        lines.push(
            c.msg_args(
                "access-retention",
                &[(
                    "retention",
                    purposes
                        .iter()
                        .map(|p| {
                            format!("{}: {}", p.name.get(lang), retention_words(c, &p.retention))
                        })
                        .collect::<Vec<_>>()
                        .join("; ")
                        .into(),
                )],
            ),
        );
        let recipients: BTreeSet<String> = purposes
            .iter()
            .flat_map(|p| p.recipients.iter())
            .filter_map(|r| policy.recipient(&r.value))
            .map(|r| format!("{} ({})", r.name, c.country(&r.country)))
            .collect();
        lines.push(
            c.msg_args(
                "access-recipients",
                &[(
                    "recipients",
                    if recipients.is_empty() {
                        c.msg("access-none")
                    } else {
                        recipients.into_iter().collect::<Vec<_>>().join("; ")
                    }
                    .into(),
                )],
            ),
        );
        lines.push(
            c.msg_args(
                "access-source",
                &[(
                    "source",
                    category
                        .source
                        .as_ref()
                        .map_or_else(|| c.msg("access-source-you"), |s| s.get(lang).to_owned())
                        .into(),
                )],
            ),
        );
        d.list(lines);
    }
    if !vault.is_empty() {
        d.h2(c.msg("access-vault"));
        d.list(vault_lines(policy, lang, vault));
    }
    d.h2(c.msg("access-notice"));
    d.blocks.extend(full.blocks);
    Ok(d)
}
