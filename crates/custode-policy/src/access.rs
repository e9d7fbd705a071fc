//! The human-readable summary of an access request (Art. 15(1)): for each
//! category of data held about the person, why (purposes with their legal
//! basis), who receives it, how long it is kept and where it came from;
//! then the whole notice, for the rights, the complaint and automated
//! decisions. Like the notice, every phrase comes from the catalogues.

use std::collections::BTreeSet;

use crate::doc::Document;
use crate::i18n::Catalog;
use crate::model::Policy;
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

/// The summary, in `lang`, of what is held (`date` is YYYY-MM-DD).
pub fn access_summary(
    policy: &Policy,
    lang: Lang,
    date: &str,
    held: &[Held],
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
    d.h2(c.msg("access-notice"));
    d.blocks.extend(full.blocks);
    Ok(d)
}
