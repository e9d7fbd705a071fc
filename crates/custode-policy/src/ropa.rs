//! The record of processing activities of Article 30(1), rendered from the
//! policy: as JSON and CSV for tools, Markdown for people, and JSON-LD in the
//! W3C Data Privacy Vocabulary for linked-data registers.
//!
//! One structure, [`record`], holds fields (a) to (g); every format is a view
//! of it, so the formats cannot disagree.

use serde_json::{Value, json};

use crate::doc::{Block, Document};
use crate::i18n::Catalog;
use crate::model::*;
pub use crate::notice::NoticeError;
use crate::notice::{ensure_language, field_name, retention_words};
use crate::text::Lang;

/// Output formats of the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RopaFormat {
    /// The structure of fields (a)–(g).
    Json,
    /// One row per processing activity, each column a field.
    Csv,
    /// A document for people.
    Markdown,
    /// Linked data in DPV terms.
    JsonLd,
}

/// Renders the record in a format, with labels and texts in `lang`.
pub fn ropa(policy: &Policy, lang: Lang, format: RopaFormat) -> Result<String, NoticeError> {
    ensure_language(policy, lang)?;
    Ok(match format {
        RopaFormat::Json => {
            serde_json::to_string_pretty(&record(policy, lang)).unwrap_or_default() + "\n"
        }
        RopaFormat::Csv => csv(policy, lang),
        RopaFormat::Markdown => document(policy, lang).to_markdown(),
        RopaFormat::JsonLd => {
            serde_json::to_string_pretty(&jsonld(policy, lang)).unwrap_or_default() + "\n"
        }
    })
}

fn party(p: &Party) -> Value {
    json!({
        "name": p.name, "address": p.address, "email": p.email,
        "phone": p.phone, "tax_id": p.tax_id, "website": p.website,
    })
}

fn basis_article(b: Basis) -> String {
    format!("Art. 6(1)({}) GDPR", b.letter())
}

/// Fields (a)–(g) of Art. 30(1), plus the activities that tie them together.
pub fn record(policy: &Policy, lang: Lang) -> Value {
    let c = Catalog::get(lang);
    let purposes: Vec<Value> = policy
        .purposes
        .iter()
        .map(|p| {
            json!({
                "id": p.id.value,
                "name": p.name.get(lang),
                "description": p.description.as_ref().map(|t| t.get(lang)),
                "legal_basis": p.basis.key(),
                "legal_basis_article": basis_article(p.basis),
                "law": p.law.as_ref().map(|t| t.get(lang)),
                "legitimate_interest": p.interest.as_ref().map(|t| t.get(lang)),
                "special_category_condition": p.special_condition.map(|s| format!("Art. 9(2)({}) GDPR", s.letter())),
                "direct_marketing": p.direct_marketing,
                "data_subjects": p.subjects.iter().map(|s| s.value.as_str()).collect::<Vec<_>>(),
                "categories": p.categories.iter().map(|s| s.value.as_str()).collect::<Vec<_>>(),
                "recipients": p.recipients.iter().map(|s| s.value.as_str()).collect::<Vec<_>>(),
                "retention": retention_words(c, &p.retention),
                "vault": p.vault,
            })
        })
        .collect();
    let erasure: Vec<Value> = policy
        .categories
        .iter()
        .map(|cat| {
            json!({
                "category": cat.id.value,
                "name": cat.name.get(lang),
                "limits": policy.purposes_of_category(&cat.id.value).map(|p| json!({
                    "purpose": p.id.value,
                    "from": p.retention.from.key(),
                    "keep": format!("{} {}", p.retention.keep.amount, p.retention.keep.unit.key()),
                    "rule": retention_words(c, &p.retention),
                    "vault": p.vault,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let measures = |kind: MeasureKind| -> Vec<&str> {
        policy
            .measures
            .iter()
            .filter(|m| m.kind == kind)
            .map(|m| m.description.get(lang))
            .collect()
    };
    json!({
        "record": "Art. 30(1) GDPR",
        "language": lang.code(),
        "policy_version": policy.meta.version,
        "effective": policy.meta.effective,
        "policy_digest": policy.digest,
        "a_controller": {
            "controller": party(&policy.controller),
            "joint_controllers": policy.joint_controllers.iter().map(|j| party(&j.party)).collect::<Vec<_>>(),
            "representative": policy.representative.as_ref().map(party),
            "dpo": policy.dpo.as_ref().map(party),
        },
        "b_purposes": purposes,
        "c_categories": {
            "data_subjects": policy.subjects.iter().map(|s| json!({
                "id": s.id.value, "name": s.name.get(lang),
            })).collect::<Vec<_>>(),
            "personal_data": policy.categories.iter().map(|cat| json!({
                "id": cat.id.value,
                "name": cat.name.get(lang),
                "special": cat.special,
                "fields": cat.fields.iter().map(|f| field_name(f, lang)).collect::<Vec<_>>(),
                "dpv": cat.dpv,
            })).collect::<Vec<_>>(),
        },
        "d_recipients": policy.recipients.iter().map(|r| json!({
            "id": r.id.value,
            "name": r.name,
            "role": r.role.key(),
            "country": r.country,
            "third_country": !crate::law::is_eea(&r.country),
            "description": r.description.as_ref().map(|t| t.get(lang)),
        })).collect::<Vec<_>>(),
        "e_transfers": policy.transfers().map(|r| json!({
            "recipient": r.id.value,
            "name": r.name,
            "country": r.country,
            "safeguard": r.safeguard.map(|s| s.key()),
            "reference": r.safeguard_reference,
        })).collect::<Vec<_>>(),
        "f_erasure": erasure,
        "g_security_measures": {
            "technical": measures(MeasureKind::Technical),
            "organisational": measures(MeasureKind::Organisational),
        },
    })
}

struct Row {
    activity: String,
    cells: [String; 7],
}

fn rows(policy: &Policy, lang: Lang) -> Vec<Row> {
    let c = Catalog::get(lang);
    let controller = {
        let mut parts = vec![policy.controller.name.clone().unwrap_or_default()];
        if let Some(a) = &policy.controller.address {
            parts.push(a.clone());
        }
        if let Some(e) = &policy.controller.email {
            parts.push(e.clone());
        }
        for j in &policy.joint_controllers {
            parts.push(format!(
                "{}: {}",
                c.msg("ropa-joint"),
                j.party.name.clone().unwrap_or_default()
            ));
        }
        if let Some(r) = &policy.representative {
            parts.push(format!(
                "{}: {}",
                c.msg("ropa-representative"),
                r.name.clone().unwrap_or_default()
            ));
        }
        if let Some(d) = &policy.dpo {
            let who = [d.name.clone(), d.email.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ");
            parts.push(c.labelled(&c.msg("ropa-dpo"), &who));
        }
        parts.join("; ")
    };
    let measures = policy
        .measures
        .iter()
        .map(|m| m.description.get(lang))
        .collect::<Vec<_>>()
        .join("; ");
    let none = c.msg("ropa-none");
    policy
        .purposes
        .iter()
        .map(|p| {
            let mut purpose = p.name.get(lang).to_owned();
            purpose.push_str(&format!(
                " — {}",
                c.msg(&format!("basis-{}", p.basis.key()))
            ));
            if let Some(law) = &p.law {
                purpose.push_str(&format!(" ({})", law.get(lang)));
            }
            let subjects = p
                .subjects
                .iter()
                .filter_map(|s| policy.subject(&s.value))
                .map(|s| s.name.get(lang).to_owned())
                .collect::<Vec<_>>()
                .join(", ");
            let data = p
                .categories
                .iter()
                .filter_map(|id| policy.category(&id.value))
                .map(|cat| {
                    let fields: Vec<String> =
                        cat.fields.iter().map(|f| field_name(f, lang)).collect();
                    format!("{} ({})", cat.name.get(lang), fields.join(", "))
                })
                .collect::<Vec<_>>()
                .join("; ");
            let recipients: Vec<&Recipient> = p
                .recipients
                .iter()
                .filter_map(|r| policy.recipient(&r.value))
                .collect();
            let recipient_text = if recipients.is_empty() {
                none.clone()
            } else {
                recipients
                    .iter()
                    .map(|r| {
                        format!(
                            "{} ({}, {})",
                            r.name,
                            c.msg(&format!("role-{}", r.role.key())),
                            r.country
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            let transfers: Vec<String> = recipients
                .iter()
                .filter(|r| !crate::law::is_eea(&r.country))
                .map(|r| {
                    format!(
                        "{} ({}): {}",
                        r.name,
                        c.country(&r.country),
                        r.safeguard
                            .map_or(String::new(), |s| c.msg(&format!("safeguard-{}", s.key())))
                    )
                })
                .collect();
            let mut erasure = retention_words(c, &p.retention);
            if p.vault {
                erasure.push_str(&format!(" ({})", c.msg("ropa-vault")));
            }
            Row {
                activity: p.id.value.clone(),
                cells: [
                    controller.clone(),
                    purpose,
                    format!("{subjects} — {data}"),
                    recipient_text,
                    if transfers.is_empty() {
                        none.clone()
                    } else {
                        transfers.join("; ")
                    },
                    erasure,
                    measures.clone(),
                ],
            }
        })
        .collect()
}

const CSV_HEADER: [&str; 8] = [
    "activity",
    "a_controller_dpo",
    "b_purpose_legal_basis",
    "c_subjects_and_data",
    "d_recipients",
    "e_transfers",
    "f_erasure",
    "g_security_measures",
];

fn csv(policy: &Policy, lang: Lang) -> String {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(CSV_HEADER);
    for row in rows(policy, lang) {
        let mut record = vec![row.activity];
        record.extend(row.cells);
        let _ = w.write_record(&record);
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

/// The record as a document for people, sections (a) to (g).
pub fn document(policy: &Policy, lang: Lang) -> Document {
    let c = Catalog::get(lang);
    let controller = policy.controller.name.clone().unwrap_or_default();
    let mut d = Document {
        lang: lang.code().to_owned(),
        title: format!("{} — {}", c.msg("ropa-title"), controller),
        blocks: Vec::new(),
    };
    d.p(c.msg_args(
        "ropa-intro",
        &[
            ("controller", controller.as_str().into()),
            ("version", policy.meta.version.as_str().into()),
            ("date", c.date(&policy.meta.effective).into()),
        ],
    ));
    let rows = rows(policy, lang);
    let titles = [
        "ropa-a", "ropa-b", "ropa-c", "ropa-d", "ropa-e", "ropa-f", "ropa-g",
    ];
    // (a) and (g) are the same for every activity: state them once.
    d.h2(c.msg(titles[0]));
    d.list(
        rows.first()
            .map(|r| r.cells[0].split("; ").map(str::to_owned).collect())
            .unwrap_or_default(),
    );
    for (i, title) in titles.iter().enumerate().take(6).skip(1) {
        d.h2(c.msg(title));
        d.blocks.push(Block::Table(
            vec![
                c.msg("ropa-activity"),
                c.msg(title).chars().skip(4).collect(),
            ],
            rows.iter()
                .map(|r| {
                    let name = policy
                        .purpose(&r.activity)
                        .map_or(r.activity.clone(), |p| p.name.get(lang).to_owned());
                    vec![name, r.cells[i].clone()]
                })
                .collect(),
        ));
    }
    d.h2(c.msg(titles[6]));
    for (kind, label) in [
        (MeasureKind::Technical, "ropa-technical"),
        (MeasureKind::Organisational, "ropa-organisational"),
    ] {
        let items: Vec<String> = policy
            .measures
            .iter()
            .filter(|m| m.kind == kind)
            .map(|m| m.description.get(lang).to_owned())
            .collect();
        if !items.is_empty() {
            d.h3(c.msg(label));
            d.list(items);
        }
    }
    if policy.measures.is_empty() {
        d.p(c.msg("ropa-none"));
    }
    d
}

fn dpv_basis(b: Basis) -> &'static str {
    match b {
        Basis::Consent => "dpv:Consent",
        Basis::Contract => "dpv:Contract",
        Basis::LegalObligation => "dpv:LegalObligation",
        Basis::VitalInterests => "dpv:VitalInterest",
        Basis::PublicTask => "dpv:PublicInterest",
        Basis::LegitimateInterests => "dpv:LegitimateInterest",
    }
}

fn gdpr_safeguard(s: Safeguard) -> &'static str {
    match s {
        Safeguard::Adequacy => "eu-gdpr:A45-3",
        Safeguard::StandardContractualClauses => "eu-gdpr:A46-2-c",
        Safeguard::BindingCorporateRules => "eu-gdpr:A47-1",
        Safeguard::CodeOfConduct => "eu-gdpr:A46-2-e",
        Safeguard::Certification => "eu-gdpr:A46-2-f",
        Safeguard::Derogation => "eu-gdpr:A49-1",
    }
}

fn dpv_role(r: RecipientRole) -> &'static str {
    match r {
        RecipientRole::Processor => "dpv:DataProcessor",
        RecipientRole::Controller => "dpv:DataController",
        RecipientRole::PublicAuthority => "dpv:Authority",
    }
}

/// The record as JSON-LD with DPV terms: one `dpv:PersonalDataHandling` per
/// purpose, linked to the controller, legal basis (with its GDPR article),
/// personal data, subjects, recipients, storage duration and measures.
pub fn jsonld(policy: &Policy, lang: Lang) -> Value {
    let c = Catalog::get(lang);
    let base = format!(
        "urn:custode:policy:{}",
        &policy.digest[..16.min(policy.digest.len())]
    );
    let controller_id = format!("{base}#controller");
    let mut graph = vec![json!({
        "@id": controller_id,
        "@type": "dpv:DataController",
        "dct:title": policy.controller.name,
        "dpv:hasAddress": policy.controller.address,
        "dpv:hasContact": policy.controller.email,
        "dpv:hasJurisdiction": policy.meta.jurisdiction,
    })];
    if let Some(dpo) = &policy.dpo {
        graph.push(json!({
            "@id": format!("{base}#dpo"),
            "@type": "dpv:DataProtectionOfficer",
            "dct:title": dpo.name,
            "dpv:hasContact": dpo.email,
        }));
    }
    for r in &policy.recipients {
        graph.push(json!({
            "@id": format!("{base}#recipient-{}", r.id.value),
            "@type": [dpv_role(r.role), "dpv:Recipient"],
            "dct:title": r.name,
            "dpv:hasCountry": { "@id": format!("https://w3id.org/dpv/loc#{}", r.country) },
            "dpv:hasApplicableLaw": r.safeguard.map(|s| json!({ "@id": gdpr_safeguard(s) })),
        }));
    }
    let measures: Vec<Value> = policy
        .measures
        .iter()
        .map(|m| {
            json!({
                "@type": match m.kind { MeasureKind::Technical => "dpv:TechnicalMeasure", MeasureKind::Organisational => "dpv:OrganisationalMeasure" },
                "dct:description": m.description.get(lang),
            })
        })
        .collect();
    for p in &policy.purposes {
        let personal_data: Vec<Value> = p
            .categories
            .iter()
            .filter_map(|id| policy.category(&id.value))
            .flat_map(|cat| {
                cat.fields.iter().map(move |f| {
                    json!({
                        "@type": f.dpv.clone().or_else(|| cat.dpv.clone()).unwrap_or_else(|| "dpv:PersonalData".to_owned()),
                        "dct:title": field_name(f, lang),
                        "dct:isPartOf": cat.name.get(lang),
                        "dpv:isSpecialCategory": cat.special,
                    })
                })
            })
            .collect();
        let mut legal_basis = vec![
            json!({ "@id": format!("eu-gdpr:A6-1-{}", p.basis.letter()) }),
            json!({ "@id": dpv_basis(p.basis) }),
        ];
        if let Some(sc) = p.special_condition {
            legal_basis.push(json!({ "@id": format!("eu-gdpr:A9-2-{}", sc.letter()) }));
        }
        graph.push(json!({
            "@id": format!("{base}#purpose-{}", p.id.value),
            "@type": "dpv:PersonalDataHandling",
            "dct:title": p.name.get(lang),
            "dpv:hasDataController": { "@id": controller_id },
            "dpv:hasPurpose": {
                "@type": p.dpv.clone().unwrap_or_else(|| if p.direct_marketing { "dpv:DirectMarketing".to_owned() } else { "dpv:Purpose".to_owned() }),
                "dct:description": p.description.as_ref().map_or(p.name.get(lang), |t| t.get(lang)),
            },
            "dpv:hasLegalBasis": legal_basis,
            "dpv:hasPersonalData": personal_data,
            "dpv:hasDataSubject": p.subjects.iter().filter_map(|s| policy.subject(&s.value)).map(|s| json!({
                "@type": "dpv:DataSubject", "dct:title": s.name.get(lang),
            })).collect::<Vec<_>>(),
            "dpv:hasRecipient": p.recipients.iter().map(|r| json!({ "@id": format!("{base}#recipient-{}", r.value) })).collect::<Vec<_>>(),
            "dpv:hasStorageCondition": {
                "@type": "dpv:StorageDuration",
                "dct:description": retention_words(c, &p.retention),
                "dpv:hasDuration": iso_duration(&p.retention.keep),
                "custode:countsFrom": p.retention.from.key(),
                "custode:segregatedVault": p.vault,
            },
            "dpv:hasTechnicalOrganisationalMeasure": measures,
        }));
    }
    json!({
        "@context": {
            "dpv": "https://w3id.org/dpv#",
            "pd": "https://w3id.org/dpv/pd#",
            "eu-gdpr": "https://w3id.org/dpv/legal/eu/gdpr#",
            "dct": "http://purl.org/dc/terms/",
            "custode": "urn:custode:vocab#",
            "@language": lang.code(),
        },
        "@id": format!("{base}#ropa"),
        "@type": "dpv:RecordsOfActivities",
        "dct:title": c.msg("ropa-title"),
        "dct:hasVersion": policy.meta.version,
        "dct:valid": policy.meta.effective,
        "@graph": graph,
    })
}

/// An ISO 8601 duration: `P24M`, `P30D`.
fn iso_duration(p: &Period) -> String {
    let unit = match p.unit {
        Unit::Day => 'D',
        Unit::Week => 'W',
        Unit::Month => 'M',
        Unit::Year => 'Y',
    };
    format!("P{}{unit}", p.amount)
}
