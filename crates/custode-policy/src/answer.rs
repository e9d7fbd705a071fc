//! The letters a rights request sends, in the requester's language: the
//! one-time code that checks who asks, and the answer (Art. 12(4)) — what
//! was done, what was kept and under which law, what the vault keeps and
//! whether its content was given (Art. 15), whom we told (Art. 19),
//! the reasons of a refusal, and always the right to complain to the
//! supervisory authority and to go to court — and the notice that comes
//! before a restriction is lifted (Art. 18(3)).

use crate::doc::Document;
use crate::i18n::{Arg, Catalog};
use crate::model::Policy;
use crate::text::Lang;

/// Data an erasure kept, as told to the requester.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptFact {
    /// The category id.
    pub category: String,
    /// How many records.
    pub records: u64,
    /// The purposes (legal obligations) that keep them.
    pub grounds: Vec<String>,
    /// When they go, YYYY-MM-DD, if known.
    pub until: Option<String>,
    /// Whether they sit in the segregated vault.
    pub vault: bool,
    /// The only fields kept (the ground's `keep_fields`); empty when the
    /// whole category is.
    pub fields: Vec<String>,
}

/// What the answer says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnswerFacts {
    /// The request id.
    pub request: String,
    /// The day of the answer, YYYY-MM-DD.
    pub date: String,
    /// `accepted`, `partially_accepted` or `refused`.
    pub outcome: String,
    /// The reasons (required unless accepted).
    pub reasons: String,
    /// The rights carried out, by API name.
    pub done: Vec<String>,
    /// Records erased.
    pub erased: Option<u64>,
    /// What was kept, and why.
    pub kept: Vec<KeptFact>,
    /// Whether a right that recipients must be told of (rectification,
    /// erasure, restriction) was carried out: then the letter says whom
    /// we told, or that there was no one to tell.
    pub art19: bool,
    /// Recipients told of it (Art. 19): name and day, YYYY-MM-DD.
    pub told: Vec<(String, String)>,
    /// Recipients still being told: names.
    pub pending: Vec<String>,
    /// What the vault keeps, as an access request found it (Art. 15).
    pub vault: Vec<crate::access::VaultHeld>,
    /// The request was filed by an identifier that matched no one: not in
    /// the store, not in any of the provider's systems. The letter says we
    /// hold nothing about the requester (Art. 15).
    pub nothing_held: bool,
}

/// The catalogue key of a right's line in the notice.
fn right_key(name: &str) -> &'static str {
    match name {
        "access" => "right-access",
        "rectification" => "right-rectification",
        "erasure" => "right-erasure",
        "restriction" => "right-restriction",
        "portability" => "right-portability",
        "objection" => "right-objection",
        "consent_withdrawal" => "right-withdraw",
        _ => "right-automated",
    }
}

/// The answer letter.
pub fn answer_letter(policy: &Policy, lang: Lang, facts: &AnswerFacts) -> Document {
    let c = Catalog::get(lang);
    let controller = policy.controller.name.clone().unwrap_or_default();
    let mut d = Document {
        lang: lang.code().to_owned(),
        title: c.msg_args(
            "answer-title",
            &[("request", facts.request.as_str().into())],
        ),
        blocks: Vec::new(),
    };
    d.p(c.msg_args(
        "answer-intro",
        &[
            ("controller", controller.as_str().into()),
            ("date", c.date(&facts.date).into()),
        ],
    ));
    d.p(c.msg(&format!("answer-{}", facts.outcome)));
    if facts.nothing_held {
        d.p(c.msg("answer-nothing-held"));
    }
    if !facts.reasons.trim().is_empty() {
        d.p(c.msg_args(
            "answer-reasons",
            &[("reasons", facts.reasons.trim().into())],
        ));
    }
    if !facts.done.is_empty() {
        d.h2(c.msg("answer-done"));
        d.list(facts.done.iter().map(|r| c.msg(right_key(r))).collect());
    }
    if let Some(n) = facts.erased {
        d.p(c.msg_args(
            "answer-erased",
            &[("count", Arg::Num(i64::try_from(n).unwrap_or(i64::MAX)))],
        ));
    }
    if !facts.kept.is_empty() {
        d.h2(c.msg("answer-kept-title"));
        let lines = facts
            .kept
            .iter()
            .map(|k| {
                let category = policy
                    .category(&k.category)
                    .map_or(k.category.clone(), |x| x.name.get(lang).to_owned());
                let grounds = k
                    .grounds
                    .iter()
                    .map(|g| {
                        policy.purpose(g).map_or(g.clone(), |p| {
                            p.law.as_ref().map_or_else(
                                || p.name.get(lang).to_owned(),
                                |law| format!("{} — {}", p.name.get(lang), law.get(lang)),
                            )
                        })
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                let until = k
                    .until
                    .as_deref()
                    .map_or_else(|| c.msg("answer-until-open"), |u| c.date(u));
                let line = c.msg_args(
                    if k.vault {
                        "answer-kept-vault"
                    } else {
                        "answer-kept"
                    },
                    &[
                        ("category", category.into()),
                        (
                            "count",
                            Arg::Num(i64::try_from(k.records).unwrap_or(i64::MAX)),
                        ),
                        ("grounds", grounds.into()),
                        ("until", until.into()),
                    ],
                );
                if k.fields.is_empty() {
                    return line;
                }
                let fields = k
                    .fields
                    .iter()
                    .map(|f| {
                        policy
                            .category(&k.category)
                            .and_then(|c| c.fields.iter().find(|x| x.id.value == *f))
                            .map_or(f.clone(), |x| crate::notice::field_name(x, lang))
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                format!(
                    "{line} {}",
                    c.msg_args("answer-kept-fields", &[("fields", fields.into())])
                )
            })
            .collect();
        d.list(lines);
    }
    if !facts.vault.is_empty() {
        d.h2(c.msg("answer-vault-title"));
        d.list(crate::access::vault_lines(policy, lang, &facts.vault));
    }
    if !facts.told.is_empty() {
        d.p(c.msg("answer-told"));
        d.list(
            facts
                .told
                .iter()
                .map(|(name, day)| {
                    c.msg_args(
                        "answer-told-line",
                        &[
                            ("recipient", name.as_str().into()),
                            ("date", c.date(day).into()),
                        ],
                    )
                })
                .collect(),
        );
    }
    if !facts.pending.is_empty() {
        d.p(c.msg("answer-told-pending"));
        d.list(facts.pending.clone());
    }
    if facts.art19 && facts.told.is_empty() && facts.pending.is_empty() {
        d.p(c.msg("answer-told-none"));
    }
    d.h2(c.msg("section-complaint"));
    let authority = &policy.authority;
    d.p(c.msg_args(
        "complaint",
        &[("authority", authority.name.as_str().into())],
    ));
    if let Some(site) = &authority.website {
        d.p(c.msg_args("complaint-website", &[("website", site.as_str().into())]));
    }
    d
}

/// The message carrying a one-time code: (subject line, body).
pub fn code_message(
    policy: &Policy,
    lang: Lang,
    request: &str,
    code: &str,
    expires: &str,
) -> (String, String) {
    let c = Catalog::get(lang);
    let controller = policy.controller.name.clone().unwrap_or_default();
    (
        c.msg_args(
            "code-subject",
            &[("controller", controller.as_str().into())],
        ),
        c.msg_args(
            "code-body",
            &[
                ("controller", controller.as_str().into()),
                ("request", request.into()),
                ("code", code.into()),
                ("expires", expires.into()),
            ],
        ),
    )
}

/// The mail carrying a one-time code to open the subject's privacy portal:
/// (subject line, body).
pub fn portal_code_message(
    policy: &Policy,
    lang: Lang,
    code: &str,
    expires: &str,
) -> (String, String) {
    let c = Catalog::get(lang);
    let controller = policy.controller.name.clone().unwrap_or_default();
    let args = [
        ("controller", controller.as_str().into()),
        ("code", code.into()),
        ("expires", expires.into()),
    ];
    (
        c.msg_args("portal-code-subject", &args),
        c.msg_args("portal-code-body", &args),
    )
}

/// The notice sent before a restriction is lifted (Art. 18(3)): (subject
/// line, body).
pub fn restriction_lift_message(policy: &Policy, lang: Lang, reason: &str) -> (String, String) {
    let c = Catalog::get(lang);
    let controller = policy.controller.name.clone().unwrap_or_default();
    (
        c.msg_args(
            "restriction-lift-subject",
            &[("controller", controller.as_str().into())],
        ),
        c.msg_args("restriction-lift-body", &[("reason", reason.trim().into())]),
    )
}

/// The notice of an extension (Art. 12(3)), with its reason and the new
/// deadline (`due`, YYYY-MM-DD): (subject line, body).
pub fn extension_message(
    policy: &Policy,
    lang: Lang,
    request: &str,
    reason: &str,
    due: &str,
) -> (String, String) {
    let c = Catalog::get(lang);
    let controller = policy.controller.name.clone().unwrap_or_default();
    (
        c.msg_args(
            "extension-subject",
            &[
                ("controller", controller.as_str().into()),
                ("request", request.into()),
            ],
        ),
        c.msg_args(
            "extension-body",
            &[
                ("request", request.into()),
                ("reason", reason.trim().into()),
                ("due", c.date(due).into()),
            ],
        ),
    )
}

/// The Art. 19 notice to a recipient that received the subject's data:
/// (subject line, body). `action` is `erasure`, `rectification` or
/// `restriction`; `subject` the controller's reference for the person,
/// the only identifier the notice carries.
pub fn recipient_notice_message(
    policy: &Policy,
    lang: Lang,
    request: &str,
    action: &str,
    subject: &str,
    categories: &[String],
) -> (String, String) {
    let c = Catalog::get(lang);
    let controller = policy.controller.name.clone().unwrap_or_default();
    let names = categories
        .iter()
        .map(|id| {
            policy
                .category(id)
                .map_or(id.clone(), |x| x.name.get(lang).to_owned())
        })
        .collect::<Vec<_>>()
        .join(", ");
    (
        c.msg_args(
            "recipient-notice-subject",
            &[
                ("controller", controller.as_str().into()),
                ("action", action.into()),
                ("request", request.into()),
            ],
        ),
        c.msg_args(
            "recipient-notice-body",
            &[
                ("subject", subject.into()),
                ("request", request.into()),
                ("action", action.into()),
                ("categories", names.into()),
            ],
        ),
    )
}
