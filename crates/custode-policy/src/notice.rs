//! The privacy notice of Articles 13 and 14, rendered from the policy in one
//! of its languages.
//!
//! Everything a person reads comes from two places only: the policy's own
//! texts, and the message catalogue of the language. The order follows what a
//! reader looks for: who, what data, why, how long, who else, rights.

use crate::doc::Document;
use crate::i18n::{Arg, Catalog};
use crate::model::*;
use crate::text::Lang;

/// Why a notice could not be rendered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum NoticeError {
    /// The policy does not publish its notice in that language.
    #[error("the policy is not published in `{asked}`; its languages are {declared}")]
    LanguageNotDeclared {
        /// The language asked for.
        asked: Lang,
        /// The policy's languages, comma-separated.
        declared: String,
    },
}

/// Checks that the policy is published in `lang`.
pub(crate) fn ensure_language(policy: &Policy, lang: Lang) -> Result<(), NoticeError> {
    if policy.meta.languages.contains(&lang) {
        Ok(())
    } else {
        Err(NoticeError::LanguageNotDeclared {
            asked: lang,
            declared: policy.meta.language_codes(),
        })
    }
}

/// Renders the privacy notice in `lang`.
pub fn notice(policy: &Policy, lang: Lang) -> Result<Document, NoticeError> {
    ensure_language(policy, lang)?;
    let c = Catalog::get(lang);
    let controller = policy.controller.name.clone().unwrap_or_default();
    let mut d = Document {
        lang: lang.code().to_owned(),
        title: format!("{} — {}", c.msg("notice-title"), controller),
        blocks: Vec::new(),
    };
    d.p(c.msg_args(
        "notice-intro",
        &[("controller", controller.as_str().into())],
    ));
    d.p(c.msg_args(
        "notice-version",
        &[
            ("version", policy.meta.version.as_str().into()),
            ("date", c.date(&policy.meta.effective).into()),
        ],
    ));

    contacts(&mut d, c, policy);
    data(&mut d, c, policy, lang);
    purposes(&mut d, c, policy, lang);
    retention_summary(&mut d, c, policy, lang);
    recipients(&mut d, c, policy, lang);
    transfers(&mut d, c, policy);
    rights(&mut d, c, policy, lang);
    closing(&mut d, c, policy, lang);
    Ok(d)
}

fn party_lines(c: &Catalog, p: &Party) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(n) = &p.name {
        lines.push(n.clone());
    }
    for (label, value) in [
        ("label-address", &p.address),
        ("label-tax-id", &p.tax_id),
        ("label-email", &p.email),
        ("label-phone", &p.phone),
        ("label-website", &p.website),
    ] {
        if let Some(v) = value {
            lines.push(c.labelled(&c.msg(label), v));
        }
    }
    lines
}

fn contacts(d: &mut Document, c: &Catalog, policy: &Policy) {
    d.h2(c.msg("section-controller"));
    d.p(c.msg("controller-intro"));
    d.list(party_lines(c, &policy.controller));
    if !policy.joint_controllers.is_empty() {
        d.h2(c.msg("section-joint"));
        for j in &policy.joint_controllers {
            d.p(c.msg_args(
                "joint-intro",
                &[
                    ("name", j.party.name.clone().unwrap_or_default().into()),
                    ("responsibilities", j.responsibilities.get(c.lang()).into()),
                ],
            ));
            d.list(party_lines(c, &j.party));
        }
    }
    if let Some(rep) = &policy.representative {
        d.h2(c.msg("section-representative"));
        d.p(c.msg("representative-intro"));
        d.list(party_lines(c, rep));
    }
    d.h2(c.msg("section-dpo"));
    match &policy.dpo {
        Some(dpo) => {
            d.p(c.msg("dpo-intro"));
            d.list(party_lines(c, dpo));
        }
        None => d.p(c.msg("dpo-none")),
    }
}

/// A field's name: its label, else the name of its DPV term, else its id.
pub(crate) fn field_name(field: &Field, lang: Lang) -> String {
    field
        .label
        .as_ref()
        .map(|l| l.get(lang).to_owned())
        .or_else(|| {
            field
                .dpv
                .as_deref()
                .and_then(|t| crate::i18n::term_name(t, lang))
        })
        .unwrap_or_else(|| field.id.value.clone())
}

fn data(d: &mut Document, c: &Catalog, policy: &Policy, lang: Lang) {
    d.h2(c.msg("section-data"));
    for cat in &policy.categories {
        d.h3(cat.name.get(lang).to_owned());
        if let Some(desc) = &cat.description {
            d.p(desc.get(lang).to_owned());
        }
        let fields: Vec<String> = cat.fields.iter().map(|f| field_name(f, lang)).collect();
        let mut lines =
            vec![c.msg_args("category-fields", &[("fields", fields.join(", ").into())])];
        lines.push(match &cat.source {
            Some(source) => c.msg_args("category-source", &[("source", source.get(lang).into())]),
            None => c.msg("category-from-you"),
        });
        if cat.special {
            lines.push(c.msg("category-special"));
        }
        let consequence = cat
            .consequence
            .as_ref()
            .map_or(String::new(), |t| t.get(lang).to_owned());
        let key = match cat.requirement {
            Requirement::Voluntary => "requirement-voluntary",
            Requirement::Contractual => "requirement-contractual",
            Requirement::ContractPrecondition => "requirement-contract_precondition",
            Requirement::Statutory => "requirement-statutory",
        };
        lines.push(
            c.msg_args(key, &[("consequence", consequence.into())])
                .trim()
                .to_owned(),
        );
        d.list(lines);
    }
}

/// A retention rule in words: "24 mesi dalla raccolta".
pub fn retention_words(c: &Catalog, r: &Retention) -> String {
    if r.keep.amount == 0 {
        return c.msg(&format!("retention-{}-now", r.from.key()));
    }
    let span = period_words(c, &r.keep);
    c.msg_args(
        &format!("retention-{}", r.from.key()),
        &[("span", span.into())],
    )
}

/// A span in words: "24 mesi", "1 year".
pub fn period_words(c: &Catalog, p: &Period) -> String {
    c.msg_args(
        &format!("span-{}", p.unit.key()),
        &[("n", Arg::Num(i64::from(p.amount)))],
    )
}

fn names<'a>(ids: impl Iterator<Item = &'a str>, name: impl Fn(&str) -> Option<String>) -> String {
    ids.filter_map(name).collect::<Vec<_>>().join(", ")
}

fn purposes(d: &mut Document, c: &Catalog, policy: &Policy, lang: Lang) {
    d.h2(c.msg("section-purposes"));
    for p in &policy.purposes {
        d.h3(p.name.get(lang).to_owned());
        if let Some(desc) = &p.description {
            d.p(desc.get(lang).to_owned());
        }
        let mut lines = vec![c.msg_args(
            "purpose-basis",
            &[("basis", c.msg(&format!("basis-{}", p.basis.key())).into())],
        )];
        if let Some(law) = &p.law {
            lines.push(c.msg_args("purpose-law", &[("law", law.get(lang).into())]));
        }
        if let Some(interest) = &p.interest {
            lines.push(c.msg_args(
                "purpose-interest",
                &[("interest", interest.get(lang).into())],
            ));
        }
        if let Some(condition) = p.special_condition {
            let key = condition.key();
            lines.push(c.msg_args(
                "purpose-special",
                &[
                    ("letter", condition.letter().to_string().into()),
                    ("condition", c.msg(&format!("special-{key}")).into()),
                ],
            ));
        }
        lines.push(
            c.msg_args(
                "purpose-categories",
                &[(
                    "list",
                    names(p.categories.iter().map(|x| x.value.as_str()), |id| {
                        policy.category(id).map(|x| x.name.get(lang).to_owned())
                    })
                    .into(),
                )],
            ),
        );
        lines.push(
            c.msg_args(
                "purpose-subjects",
                &[(
                    "list",
                    names(p.subjects.iter().map(|x| x.value.as_str()), |id| {
                        policy.subject(id).map(|x| x.name.get(lang).to_owned())
                    })
                    .into(),
                )],
            ),
        );
        lines.push(c.msg_args(
            "purpose-retention",
            &[("retention", retention_words(c, &p.retention).into())],
        ));
        if p.recipients.is_empty() {
            lines.push(c.msg("purpose-no-recipients"));
        } else {
            lines.push(
                c.msg_args(
                    "purpose-recipients",
                    &[(
                        "list",
                        names(p.recipients.iter().map(|x| x.value.as_str()), |id| {
                            policy.recipient(id).map(|r| r.name.clone())
                        })
                        .into(),
                    )],
                ),
            );
        }
        d.list(lines);
        if p.vault {
            d.p(c.msg("purpose-vault"));
        }
        if let Some(how) = &p.withdrawal {
            d.p(c.msg_args("purpose-withdrawal", &[("how", how.get(lang).into())]));
        }
        if p.direct_marketing {
            d.p(c.msg("purpose-marketing"));
        }
    }
}

fn retention_summary(d: &mut Document, c: &Catalog, policy: &Policy, lang: Lang) {
    d.h2(c.msg("section-retention"));
    d.p(c.msg("retention-intro"));
    d.list(
        policy
            .purposes
            .iter()
            .map(|p| c.labelled(p.name.get(lang), &retention_words(c, &p.retention)))
            .collect(),
    );
    if let Some(days) = policy.security.backup_key_lifetime_days {
        d.p(c.msg_args("retention-backups", &[("days", Arg::Num(i64::from(days)))]));
    }
    // The inactivity rules: a dormant account is closed, so rules counted
    // from closure reach their end too.
    let mut spans: Vec<(&Period, Vec<&str>)> = Vec::new();
    for k in &policy.subjects {
        if let Some(span) = &k.close_after_inactivity {
            match spans.iter_mut().find(|(s, _)| *s == span) {
                Some((_, names)) => names.push(k.name.get(lang)),
                None => spans.push((span, vec![k.name.get(lang)])),
            }
        }
    }
    for (span, names) in spans {
        d.p(c.msg_args(
            "retention-inactivity",
            &[
                ("subjects", names.join(", ").into()),
                ("span", period_words(c, span).into()),
            ],
        ));
    }
}

fn recipients(d: &mut Document, c: &Catalog, policy: &Policy, lang: Lang) {
    d.h2(c.msg("section-recipients"));
    if policy.recipients.is_empty() {
        d.p(c.msg("recipients-none"));
        return;
    }
    d.p(c.msg("recipients-intro"));
    d.list(
        policy
            .recipients
            .iter()
            .map(|r| {
                let line = c.msg_args(
                    "recipient-line",
                    &[
                        ("name", r.name.as_str().into()),
                        ("role", c.msg(&format!("role-{}", r.role.key())).into()),
                        ("country", c.country(&r.country).into()),
                    ],
                );
                match &r.description {
                    Some(desc) => c.labelled(&line, desc.get(lang)),
                    None => line,
                }
            })
            .collect(),
    );
}

fn transfers(d: &mut Document, c: &Catalog, policy: &Policy) {
    d.h2(c.msg("section-transfers"));
    let abroad: Vec<&Recipient> = policy.transfers().collect();
    if abroad.is_empty() {
        d.p(c.msg("transfers-none"));
        return;
    }
    d.p(c.msg("transfers-intro"));
    d.list(
        abroad
            .iter()
            .map(|r| {
                let safeguard = r
                    .safeguard
                    .map_or(String::new(), |s| c.msg(&format!("safeguard-{}", s.key())));
                let mut line = c.msg_args(
                    "transfer-line",
                    &[
                        ("name", r.name.as_str().into()),
                        ("country", c.country(&r.country).into()),
                        ("safeguard", safeguard.into()),
                    ],
                );
                if let Some(reference) = &r.safeguard_reference {
                    line.push(' ');
                    line.push_str(&c.msg_args(
                        "transfer-reference",
                        &[("reference", reference.as_str().into())],
                    ));
                }
                line
            })
            .collect(),
    );
}

fn rights(d: &mut Document, c: &Catalog, policy: &Policy, lang: Lang) {
    d.h2(c.msg("section-rights"));
    d.p(c.msg("rights-intro"));
    let mut list: Vec<String> = [
        "right-access",
        "right-rectification",
        "right-erasure",
        "right-restriction",
        "right-portability",
        "right-objection",
        "right-automated",
    ]
    .iter()
    .map(|k| c.msg(k))
    .collect();
    if policy.purposes.iter().any(|p| p.basis == Basis::Consent) {
        list.push(c.msg("right-withdraw"));
    }
    list.push(c.msg("right-notification"));
    d.list(list);

    d.p(c.msg("rights-how"));
    let r = &policy.rights;
    let mut how = Vec::new();
    if let Some(e) = &r.email {
        how.push(c.msg_args("rights-email", &[("email", e.as_str().into())]));
    }
    if let Some(a) = &r.address {
        how.push(c.msg_args("rights-address", &[("address", a.as_str().into())]));
    }
    if let Some(p) = &r.portal {
        how.push(c.msg_args("rights-portal", &[("portal", p.as_str().into())]));
    }
    d.list(how);
    d.p(match r.response_days {
        Some(days) => c.msg_args(
            "rights-deadline-days",
            &[("days", Arg::Num(i64::from(days)))],
        ),
        None => c.msg("rights-deadline-month"),
    });
    if let Some(identity) = &r.identity {
        d.p(identity.get(lang).to_owned());
    }
    if let Some(delegation) = &r.delegation {
        d.p(delegation.get(lang).to_owned());
    }
    d.p(c.msg("rights-free"));

    d.h2(c.msg("section-complaint"));
    d.p(c.msg_args(
        "complaint",
        &[("authority", policy.authority.name.as_str().into())],
    ));
    if let Some(w) = &policy.authority.website {
        d.p(c.msg_args("complaint-website", &[("website", w.as_str().into())]));
    }
}

fn closing(d: &mut Document, c: &Catalog, policy: &Policy, lang: Lang) {
    d.h2(c.msg("section-automated"));
    let a = &policy.automated_decisions;
    if a.present {
        d.p(c.msg("automated-present"));
        if let Some(logic) = &a.logic {
            d.p(c.msg_args("automated-logic", &[("logic", logic.get(lang).into())]));
        }
        if let Some(s) = &a.significance {
            d.p(c.msg_args(
                "automated-significance",
                &[("significance", s.get(lang).into())],
            ));
        }
    } else {
        d.p(c.msg("automated-none"));
    }

    if !policy.cookies.is_empty() {
        d.h2(c.msg("section-cookies"));
        d.p(c.msg("cookies-intro"));
        d.list(
            policy
                .cookies
                .iter()
                .map(|k| {
                    let duration = match &k.duration {
                        None => c.msg("cookie-session"),
                        Some(p) => {
                            c.msg_args("cookie-duration", &[("span", period_words(c, p).into())])
                        }
                    };
                    let line = c.msg_args(
                        "cookie-line",
                        &[
                            ("name", k.name.as_str().into()),
                            (
                                "kind",
                                c.msg(&format!("cookie-kind-{}", k.kind.key())).into(),
                            ),
                            ("provider", k.provider.as_str().into()),
                            ("duration", duration.into()),
                        ],
                    );
                    match &k.description {
                        Some(desc) => c.labelled(&line, desc.get(lang)),
                        None => line,
                    }
                })
                .collect(),
        );
    }

    d.h2(c.msg("section-minors"));
    d.p(c.msg_args(
        "minors",
        &[("age", Arg::Num(i64::from(policy.meta.minimum_age)))],
    ));

    if !policy.measures.is_empty() {
        d.h2(c.msg("section-security"));
        d.list(
            policy
                .measures
                .iter()
                .map(|m| m.description.get(lang).to_owned())
                .collect(),
        );
    }
    if let Some(changes) = &policy.meta.changes {
        d.h2(c.msg("section-changes"));
        d.p(changes.get(lang).to_owned());
    }
    if let Some(auth) = policy.meta.authoritative_language {
        d.h2(c.msg("section-language"));
        d.p(c.msg_args(
            "authoritative",
            &[(
                "language",
                c.msg(&format!("language-{}", auth.code())).into(),
            )],
        ));
    }
}
