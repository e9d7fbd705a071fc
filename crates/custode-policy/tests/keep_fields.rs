//! `keep_fields`: a ground that survives an erasure keeps only the fields
//! the law needs (issue "Every promise kept"). A listing that names a field
//! its categories lack, or keeps nothing of one of them, does not load and
//! is reported at its line; the answer letter names the fields kept.

use custode_policy::{AnswerFacts, KeptFact, Lang, ProblemKind, answer_letter, load};

const TELECOM: &str = include_str!("../../../policies/telecom.toml");
const TAX_KEEP: &str =
    r#"keep_fields = ["name", "tax_code", "vat_number", "address", "invoices", "payment_terms"]"#;

fn telecom_with(from: &str, to: &str) -> String {
    assert!(
        TELECOM.contains(from),
        "test bug: `{from}` not in telecom.toml"
    );
    TELECOM.replacen(from, to, 1)
}

fn line_of(source: &str, needle: &str) -> usize {
    let at = source.find(needle).expect("needle");
    source[..at].matches('\n').count() + 1
}

/// The problems of a policy that must not load: (kind, line, message, help).
fn problems(source: &str) -> Vec<(ProblemKind, usize, String, String)> {
    let err = load("telecom.toml", source).expect_err("must not load");
    err.problems()
        .iter()
        .map(|p| {
            (
                p.kind,
                err.location(p).line,
                p.message.clone(),
                p.help.clone().unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn an_unknown_kept_field_is_refused_at_its_line_with_the_fix() {
    let bad = r#"keep_fields = ["name", "tax_code", "vat_number", "adress", "invoices", "payment_terms"]"#;
    let src = telecom_with(TAX_KEEP, bad);
    let got = problems(&src);
    assert_eq!(got.len(), 1, "{got:?}");
    let (kind, line, message, help) = &got[0];
    assert_eq!(*kind, ProblemKind::UnknownReference);
    assert_eq!(*line, line_of(&src, bad));
    assert!(
        message.contains("`tax_records`")
            && message.contains("`adress`")
            && message.contains("master_data, billing"),
        "{message}"
    );
    assert_eq!(help, "did you mean `address`?");

    // A field of a category the purpose does not cover is unknown too.
    let other = r#"keep_fields = ["name", "tax_code", "vat_number", "address", "invoices", "payment_terms", "assigned_ip"]"#;
    let src = telecom_with(TAX_KEEP, other);
    let got = problems(&src);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].1, line_of(&src, other));
    assert!(
        got[0].3.contains("bank_account"),
        "lists the fields: {}",
        got[0].3
    );
}

#[test]
fn a_covered_category_must_keep_a_field_and_the_list_must_not_be_empty() {
    let src = telecom_with(TAX_KEEP, r#"keep_fields = ["name", "tax_code"]"#);
    let got = problems(&src);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, ProblemKind::Incomplete);
    // Reported at the purpose's `categories` line, where `billing` is.
    let at = src
        .find(r#"keep_fields = ["name", "tax_code"]"#)
        .expect("edit");
    let categories = src[..at].rfind("categories = ").expect("categories");
    assert_eq!(got[0].1, src[..categories].matches('\n').count() + 1);
    assert!(got[0].2.contains("`billing`"), "{}", got[0].2);
    assert!(got[0].3.contains("invoices"), "{}", got[0].3);

    let src = telecom_with(TAX_KEEP, "keep_fields = []");
    let got = problems(&src);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, ProblemKind::InvalidValue);
    assert!(got[0].2.contains("keeps no field"), "{}", got[0].2);
}

#[test]
fn the_grounds_keep_the_union_of_their_fields_or_the_whole_category() {
    let policy = load("telecom.toml", TELECOM).expect("telecom");
    assert_eq!(
        policy.kept_fields("master_data", &["tax_records"]),
        Some(
            ["name", "tax_code", "vat_number", "address"]
                .map(String::from)
                .to_vec()
        )
    );
    assert_eq!(
        policy.kept_fields("master_data", &["tax_records", "authority_orders"]),
        Some(
            ["name", "tax_code", "vat_number", "address", "customer_code"]
                .map(String::from)
                .to_vec()
        ),
        "the union, in the category's order"
    );
    assert_eq!(
        policy.kept_fields("phone_traffic", &["keep_phone_traffic"]),
        None,
        "a ground without keep_fields keeps the whole category"
    );
    assert_eq!(
        policy.kept_fields("master_data", &["tax_records", "legal_defence"]),
        None
    );
}

#[test]
fn the_answer_letter_names_the_fields_kept() {
    let policy = load("telecom.toml", TELECOM).expect("telecom");
    let facts = AnswerFacts {
        request: "R-1".into(),
        date: "2026-12-07".into(),
        outcome: "accepted".into(),
        done: vec!["erasure".into()],
        erased: Some(3),
        kept: vec![KeptFact {
            category: "master_data".into(),
            records: 1,
            grounds: vec!["tax_records".into()],
            until: Some("2036-12-07".into()),
            vault: true,
            fields: vec!["name".into(), "tax_code".into()],
        }],
        ..Default::default()
    };
    let en = answer_letter(&policy, Lang::En, &facts).to_markdown();
    assert!(
        en.contains(
            "Only these fields are kept: Name and surname or company name, Italian tax code (codice fiscale); the others are erased."
        ),
        "{en}"
    );
    let it = answer_letter(&policy, Lang::It, &facts).to_markdown();
    assert!(
        it.contains(
            "Sono conservati solo questi campi: Nome e cognome o ragione sociale, Codice fiscale"
        ),
        "{it}"
    );
}
