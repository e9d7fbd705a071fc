//! A policy that contradicts itself does not load, and each problem is
//! reported at the line that causes it — all of them at once.

use custode_policy::{ProblemKind, load};

/// A small valid policy; each case below breaks it in one way.
const BASE: &str = r#"
[policy]
version = "1"
effective = "2026-01-01"
languages = ["it", "en"]
jurisdiction = "IT"

[controller]
name = "Posta Esempio S.r.l."
address = "Via Esempio 1, 59100 Prato"
email = "privacy@posta.example"

[dpo]
email = "dpo@posta.example"

[authority]
name = "Garante per la protezione dei dati personali"

[rights]
email = "privacy@posta.example"

[[subject]]
id = "customer"
name = { it = "Clienti", en = "Customers" }
close_after_inactivity = "24 months"

[[category]]
id = "contact"
name = { it = "Dati di contatto", en = "Contact data" }
fields = [{ id = "email", dpv = "pd:EmailAddress", identifier = "email" }]

[[purpose]]
id = "service"
name = { it = "Servizio", en = "Service" }
basis = "contract"
categories = ["contact"]
subjects = ["customer"]
retention = { from = "account_closed", keep = "30 days" }
recipients = ["hosting"]

[[purpose]]
id = "newsletter"
name = { it = "Newsletter", en = "Newsletter" }
basis = "consent"
withdrawal = { it = "Link di disiscrizione.", en = "Unsubscribe link." }
categories = ["contact"]
subjects = ["customer"]
retention = { from = "consent_withdrawn", keep = "0 days" }
direct_marketing = true

[[recipient]]
id = "hosting"
name = "Nuvola Hosting S.p.A."
role = "processor"
country = "IT"
"#;

/// Applies `(from, to)` replacements to the base policy.
fn mutate(edits: &[(&str, &str)]) -> String {
    let mut s = BASE.to_owned();
    for (from, to) in edits {
        assert!(
            s.contains(from),
            "test bug: `{from}` is not in the base policy"
        );
        s = s.replacen(from, to, 1);
    }
    s
}

/// The one-based line where `needle` first occurs.
fn line_of(source: &str, needle: &str) -> usize {
    let at = source
        .find(needle)
        .unwrap_or_else(|| panic!("test bug: `{needle}` is not in the source"));
    source[..at].matches('\n').count() + 1
}

/// Loads `source` and asserts exactly these problems, each at the line of its
/// needle.
fn check(source: &str, expected: &[(ProblemKind, &str)]) {
    let err = match load("policy.toml", source) {
        Ok(_) => panic!("the policy loaded, but {expected:?} were expected"),
        Err(e) => e,
    };
    let mut got: Vec<(ProblemKind, usize)> = err
        .problems()
        .iter()
        .map(|p| (p.kind, err.location(p).line))
        .collect();
    let mut want: Vec<(ProblemKind, usize)> = expected
        .iter()
        .map(|(k, needle)| (*k, line_of(source, needle)))
        .collect();
    got.sort_by_key(|(k, l)| (*l, format!("{k:?}")));
    want.sort_by_key(|(k, l)| (*l, format!("{k:?}")));
    assert_eq!(
        got,
        want,
        "problems differ; report was:\n{}",
        err.to_short_lines()
    );
    for p in err.problems() {
        assert!(p.help.is_some(), "problem without advice: {}", p.message);
    }
}

#[test]
fn the_base_policy_is_valid() {
    let policy = load("policy.toml", BASE).expect("base policy");
    assert_eq!(policy.purposes.len(), 2);
}

#[test]
fn a_category_no_purpose_covers() {
    let src = mutate(&[(
        "[[purpose]]\nid = \"service\"",
        "[[category]]\nid = \"billing\"\nname = { it = \"Fatturazione\", en = \"Billing\" }\nfields = [{ id = \"iban\", label = { it = \"IBAN\", en = \"IBAN\" } }]\n\n[[purpose]]\nid = \"service\"",
    )]);
    check(&src, &[(ProblemKind::UncoveredCategory, "\"billing\"")]);
}

#[test]
fn a_purpose_without_legal_basis() {
    let src = mutate(&[("basis = \"contract\"\n", "")]);
    check(&src, &[(ProblemKind::NoLegalBasis, "\"service\"")]);
}

#[test]
fn a_purpose_with_an_unknown_legal_basis() {
    let src = mutate(&[("basis = \"contract\"", "basis = \"contrat\"")]);
    check(&src, &[(ProblemKind::InvalidValue, "\"contrat\"")]);
}

#[test]
fn consent_without_withdrawal() {
    let src = mutate(&[(
        "withdrawal = { it = \"Link di disiscrizione.\", en = \"Unsubscribe link.\" }\n",
        "",
    )]);
    check(&src, &[(ProblemKind::NoWithdrawal, "basis = \"consent\"")]);
}

#[test]
fn legitimate_interest_without_the_interest() {
    let src = mutate(&[("basis = \"contract\"", "basis = \"legitimate_interests\"")]);
    check(
        &src,
        &[(ProblemKind::NoInterestStated, "\"legitimate_interests\"")],
    );
}

#[test]
fn legal_obligation_without_the_law() {
    let src = mutate(&[("basis = \"contract\"", "basis = \"legal_obligation\"")]);
    check(&src, &[(ProblemKind::NoLawNamed, "\"legal_obligation\"")]);
}

#[test]
fn retention_without_a_bound() {
    for (edit, needle, kind) in [
        (
            "retention = { from = \"account_closed\", keep = \"30 days\" }",
            "\"forever\"",
            ProblemKind::UnboundedRetention,
        ),
        (
            "retention = { from = \"account_closed\", keep = \"30 days\" }",
            "retention = { from",
            ProblemKind::UnboundedRetention,
        ),
        (
            "retention = { from = \"account_closed\", keep = \"30 days\" }\n",
            "\"service\"",
            ProblemKind::UnboundedRetention,
        ),
    ] {
        let replacement = match needle {
            "\"forever\"" => "retention = { from = \"account_closed\", keep = \"forever\" }",
            "retention = { from" => "retention = { from = \"account_closed\" }",
            _ => "",
        };
        let src = mutate(&[(edit, replacement)]);
        check(&src, &[(kind, needle)]);
    }
}

/// Issue "Every promise kept", item 1: where a kind of subject may live is
/// checked when the policy loads.
#[test]
fn a_subject_kind_in_an_unknown_kind_of_tenant() {
    let src = mutate(&[(
        "close_after_inactivity = \"24 months\"",
        "close_after_inactivity = \"24 months\"\ntenants = [\"subscriber\", \"subscriber_\"]\nmax_per_tenant = 0",
    )]);
    check(
        &src,
        &[
            (ProblemKind::InvalidValue, "\"subscriber_\""),
            (ProblemKind::InvalidValue, "max_per_tenant"),
        ],
    );
    let ok = mutate(&[(
        "close_after_inactivity = \"24 months\"",
        "close_after_inactivity = \"24 months\"\ntenants = [\"subscriber\"]\nmax_per_tenant = 1",
    )]);
    let policy = load("policy.toml", &ok).expect("valid");
    let customer = policy.subject("customer").expect("kind");
    assert!(customer.may_live_in("subscriber") && !customer.may_live_in("provider"));
    assert_eq!(customer.max_per_tenant, Some(1));
}

/// Issue "Every promise kept", item 3: no category may wait forever for an
/// event a dormant account never reaches.
#[test]
fn a_category_kept_until_an_event_that_may_never_come() {
    let src = mutate(&[("close_after_inactivity = \"24 months\"\n", "")]);
    check(
        &src,
        &[(ProblemKind::UnboundedRetention, "id = \"contact\"")],
    );
    let err = load("policy.toml", &src).expect_err("refused");
    let message = &err.problems()[0].message;
    assert!(
        message.contains("`customer`")
            && message.contains("`service` (account_closed)")
            && message.contains("`newsletter` (consent_withdrawn)"),
        "{message}"
    );
    // Counting from collection or the last activity always ends.
    let timed = mutate(&[
        ("close_after_inactivity = \"24 months\"\n", ""),
        (
            "{ from = \"account_closed\", keep = \"30 days\" }",
            "{ from = \"last_activity\", keep = \"12 months\" }",
        ),
        (
            "{ from = \"consent_withdrawn\", keep = \"0 days\" }",
            "{ keep = \"24 months\" }",
        ),
    ]);
    load("policy.toml", &timed).expect("every category ends");
    let bad_span = mutate(&[("\"24 months\"", "\"never\"")]);
    check(
        &bad_span,
        &[
            (ProblemKind::InvalidValue, "\"never\""),
            (ProblemKind::UnboundedRetention, "id = \"contact\""),
        ],
    );
}

/// Issue "Every promise kept", item 2: the birth-date field must exist.
#[test]
fn a_birth_date_field_that_does_not_exist() {
    let src = mutate(&[(
        "jurisdiction = \"IT\"",
        "jurisdiction = \"IT\"\nminimum_age = 18\nbirth_date = \"contact.born\"",
    )]);
    check(&src, &[(ProblemKind::UnknownReference, "\"contact.born\"")]);
    let src = mutate(&[(
        "jurisdiction = \"IT\"",
        "jurisdiction = \"IT\"\nbirth_date = \"contacts.email\"",
    )]);
    check(
        &src,
        &[(ProblemKind::UnknownReference, "\"contacts.email\"")],
    );
    let src = mutate(&[(
        "jurisdiction = \"IT\"",
        "jurisdiction = \"IT\"\nbirth_date = \"email\"",
    )]);
    check(&src, &[(ProblemKind::InvalidValue, "\"email\"")]);
}

/// Issue "Every promise kept", item 4: data from third parties name their
/// source (Art. 14(2)(f)); the origin decides what portability returns.
#[test]
fn origins_of_data() {
    let src = mutate(&[(
        "fields = [{ id = \"email\"",
        "origin = [\"third_party\", \"guessed\"]\nfields = [{ id = \"email\"",
    )]);
    check(
        &src,
        &[
            (ProblemKind::Incomplete, "id = \"contact\""),
            (ProblemKind::InvalidValue, "\"guessed\""),
        ],
    );
    let policy = load("policy.toml", BASE).expect("base");
    assert!(
        policy.category("contact").expect("c").portable(),
        "given by the person by default"
    );
    for (origin, portable) in [
        ("\"observed\"", true),
        ("\"derived\"", false),
        ("[\"derived\", \"provided\"]", true),
    ] {
        let src = mutate(&[(
            "fields = [{ id = \"email\"",
            &format!("origin = {origin}\nfields = [{{ id = \"email\""),
        )]);
        let policy = load("policy.toml", &src).expect("valid");
        assert_eq!(
            policy.category("contact").expect("c").portable(),
            portable,
            "{origin}"
        );
    }
}

#[test]
fn transfer_outside_the_eea_without_safeguard() {
    let src = mutate(&[("country = \"IT\"", "country = \"IN\"")]);
    check(&src, &[(ProblemKind::UnsafeTransfer, "\"IN\"")]);
}

#[test]
fn adequacy_claimed_for_a_country_without_a_decision() {
    let src = mutate(&[(
        "country = \"IT\"",
        "country = \"IN\"\nsafeguard = \"adequacy\"",
    )]);
    check(&src, &[(ProblemKind::UnsafeTransfer, "\"adequacy\"")]);
}

#[test]
fn transfers_with_a_safeguard_load() {
    let src = mutate(&[(
        "country = \"IT\"",
        "country = \"CH\"\nsafeguard = \"adequacy\"",
    )]);
    let policy = load("policy.toml", &src).expect("adequate transfer");
    assert_eq!(policy.transfers().count(), 1);
    let src = mutate(&[("country = \"IT\"", "country = \"US\"\nsafeguard = \"scc\"")]);
    load("policy.toml", &src).expect("transfer under SCCs");
}

#[test]
fn a_vault_purpose_that_is_not_a_legal_obligation() {
    let src = mutate(&[(
        "direct_marketing = true",
        "direct_marketing = true\nvault = true",
    )]);
    check(
        &src,
        &[(ProblemKind::VaultWithoutObligation, "\"newsletter\"")],
    );
}

#[test]
fn what_an_access_request_gives_of_the_vault_belongs_to_vault_purposes() {
    let src = mutate(&[(
        "direct_marketing = true",
        "direct_marketing = true\naccess_content = \"given\"",
    )]);
    check(&src, &[(ProblemKind::InvalidValue, "\"newsletter\"")]);
    let src = mutate(&[(
        "direct_marketing = true",
        "direct_marketing = true\naccess_content = \"shown\"",
    )]);
    check(&src, &[(ProblemKind::InvalidValue, "\"shown\"")]);
}

#[test]
fn unknown_references_name_the_nearest_id() {
    let src = mutate(&[
        (
            "categories = [\"contact\"]\nsubjects = [\"customer\"]\nretention = { from = \"account_closed\"",
            "categories = [\"contcat\"]\nsubjects = [\"custmer\"]\nretention = { from = \"account_closed\"",
        ),
        ("recipients = [\"hosting\"]", "recipients = [\"hostng\"]"),
    ]);
    check(
        &src,
        &[
            (ProblemKind::UnknownReference, "\"contcat\""),
            (ProblemKind::UnknownReference, "\"custmer\""),
            (ProblemKind::UnknownReference, "\"hostng\""),
        ],
    );
    let err = load("policy.toml", &src).expect_err("invalid");
    assert!(err.to_short_lines().contains("did you mean `contact`?"));
}

#[test]
fn special_categories_need_an_article_9_condition() {
    let src = mutate(&[(
        "fields = [{ id = \"email\", dpv = \"pd:EmailAddress\", identifier = \"email\" }]",
        "fields = [{ id = \"email\", dpv = \"pd:EmailAddress\", identifier = \"email\" }]\nspecial = true",
    )]);
    check(
        &src,
        &[
            (
                ProblemKind::SpecialWithoutCondition,
                "categories = [\"contact\"]\nsubjects = [\"customer\"]\nretention = { from = \"account_closed\"",
            ),
            (
                ProblemKind::SpecialWithoutCondition,
                "categories = [\"contact\"]\nsubjects = [\"customer\"]\nretention = { from = \"consent",
            ),
        ],
    );
}

#[test]
fn a_missing_translation_names_the_language() {
    let src = mutate(&[(
        "name = { it = \"Clienti\", en = \"Customers\" }",
        "name = { it = \"Clienti\" }",
    )]);
    check(
        &src,
        &[(ProblemKind::MissingTranslation, "{ it = \"Clienti\" }")],
    );
    let err = load("policy.toml", &src).expect_err("invalid");
    assert!(err.to_short_lines().contains("has no en text"));
}

#[test]
fn typos_in_keys_are_reported_with_a_suggestion() {
    let src = mutate(&[(
        "recipients = [\"hosting\"]",
        "recipients = [\"hosting\"]\nretension = 3",
    )]);
    check(&src, &[(ProblemKind::UnknownKey, "retension")]);
    let err = load("policy.toml", &src).expect_err("invalid");
    assert!(err.to_short_lines().contains("did you mean `retention`?"));
}

#[test]
fn duplicate_ids() {
    let src = mutate(&[("id = \"newsletter\"", "id = \"service\"")]);
    check(
        &src,
        &[(
            ProblemKind::DuplicateId,
            "id = \"service\"\nname = { it = \"Newsletter\"",
        )],
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let src = mutate(&[
        ("basis = \"contract\"\n", ""),
        ("country = \"IT\"", "country = \"IN\""),
        (
            "direct_marketing = true",
            "direct_marketing = true\nvault = true",
        ),
        ("keep = \"30 days\"", "keep = \"forever\""),
    ]);
    check(
        &src,
        &[
            (ProblemKind::NoLegalBasis, "\"service\""),
            (ProblemKind::UnboundedRetention, "\"forever\""),
            (ProblemKind::VaultWithoutObligation, "\"newsletter\""),
            (ProblemKind::UnsafeTransfer, "\"IN\""),
        ],
    );
}

#[test]
fn malformed_toml_is_located_too() {
    let src = mutate(&[(
        "name = \"Nuvola Hosting S.p.A.\"",
        "name = \"Nuvola Hosting S.p.A.",
    )]);
    let err = load("policy.toml", &src).expect_err("malformed");
    let first = &err.problems()[0];
    assert_eq!(first.kind, ProblemKind::Syntax);
    assert_eq!(err.location(first).line, line_of(&src, "name = \"Nuvola"));
    assert!(err.to_short_lines().starts_with(&format!(
        "policy.toml:{}:",
        line_of(&src, "name = \"Nuvola")
    )));
}

#[test]
fn wrong_types_are_named() {
    let src = mutate(&[(
        "categories = [\"contact\"]\nsubjects = [\"customer\"]\nretention = { from = \"account_closed\"",
        "categories = \"contact\"\nsubjects = [\"customer\"]\nretention = { from = \"account_closed\"",
    )]);
    let err = load("policy.toml", &src).expect_err("invalid");
    let lines = err.to_short_lines();
    assert!(lines.contains("must be an array of strings"), "{lines}");
}

#[test]
fn a_required_category_must_say_what_happens_without_it() {
    let src = mutate(&[(
        "identifier = \"email\" }]",
        "identifier = \"email\" }]\nrequirement = \"contractual\"",
    )]);
    check(&src, &[(ProblemKind::Incomplete, "id = \"contact\"")]);
}

#[test]
fn a_backup_key_lifetime_without_a_usable_bound() {
    // Issue "Every promise kept": the notice states the bound to the day, so
    // it is given in days or weeks, within 2..=366 days.
    for (value, kind) in [
        ("\"forever\"", ProblemKind::InvalidValue),
        ("\"3 months\"", ProblemKind::InvalidValue),
        ("\"1 day\"", ProblemKind::InvalidValue),
        ("\"400 days\"", ProblemKind::InvalidValue),
    ] {
        let src = format!("{BASE}\n[security]\nbackup_key_lifetime = {value}\n");
        check(&src, &[(kind, &format!("= {value}"))]);
    }
    for (value, days) in [("\"35 days\"", 35), ("\"5 weeks\"", 35), ("\"2 days\"", 2)] {
        let src = format!("{BASE}\n[security]\nbackup_key_lifetime = {value}\n");
        let policy = load("policy.toml", &src).expect("loads");
        assert_eq!(
            policy.security.backup_key_lifetime_days,
            Some(days),
            "{value}"
        );
    }
    let policy = load("policy.toml", BASE).expect("loads");
    assert_eq!(policy.security.backup_key_lifetime_days, None);
}

#[test]
fn a_recipient_contact_for_art_19_must_be_an_address() {
    let edit = "role = \"processor\"\ncountry = \"IT\"";
    let src = mutate(&[(
        edit,
        "role = \"processor\"\ncountry = \"IT\"\nnotify_email = \"privacy at nuvola\"",
    )]);
    check(
        &src,
        &[(ProblemKind::InvalidValue, "\"privacy at nuvola\"")],
    );
    let good = mutate(&[(
        edit,
        "role = \"processor\"\ncountry = \"IT\"\nnotify_email = \"privacy@nuvola.example\"\non_order = false",
    )]);
    let policy = load("policy.toml", &good).expect("valid");
    let hosting = policy.recipient("hosting").expect("hosting");
    assert_eq!(
        hosting.notify_email.as_deref(),
        Some("privacy@nuvola.example")
    );
    assert!(!hosting.on_order);
}

/// Issue #21: the policy says which roles may attest that a requester's
/// identity was checked elsewhere; a role that does not handle requests, or
/// no role at all, is refused where it is written; left out, none may.
#[test]
fn who_may_attest_an_identity() {
    let base = load("policy.toml", BASE).expect("base policy");
    assert!(base.rights.attest_roles.is_empty(), "none may by default");
    let src = mutate(&[(
        "[rights]\nemail = \"privacy@posta.example\"",
        "[rights]\nemail = \"privacy@posta.example\"\nattest_roles = [\"system\", \"administrator\", \"suport_agent\"]",
    )]);
    check(
        &src,
        &[
            (ProblemKind::InvalidValue, "\"administrator\""),
            (ProblemKind::InvalidValue, "\"suport_agent\""),
        ],
    );
    let err = load("policy.toml", &src).expect_err("refused");
    let report = err.to_short_lines();
    assert!(report.contains("did you mean `support_agent`"), "{report}");
    assert!(
        report.contains("does not handle rights requests"),
        "{report}"
    );
    let ok = mutate(&[(
        "[rights]\nemail = \"privacy@posta.example\"",
        "[rights]\nemail = \"privacy@posta.example\"\nattest_roles = [\"system\", \"dpo\"]",
    )]);
    let policy = load("policy.toml", &ok).expect("valid");
    assert_eq!(policy.rights.attest_roles, ["system", "dpo"]);
}
