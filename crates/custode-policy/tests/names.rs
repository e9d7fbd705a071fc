//! The names policy files write for each enum of the model: pinned, so
//! that a renamed variant cannot silently change what a file means (or the
//! stored identifier hashes, for `IdentifierKind`).

use custode_policy::*;

mod origin_names {
    use super::*;

    /// The names as policy files write them:
    /// never renamed, whatever the enum becomes.
    const STORED: [(Origin, &str); 4] = [
        (Origin::Provided, "provided"),
        (Origin::Observed, "observed"),
        (Origin::Derived, "derived"),
        (Origin::ThirdParty, "third_party"),
    ];

    #[test]
    fn every_origin_round_trips_and_keeps_its_name() {
        for (value, name) in STORED {
            assert_eq!(value.key(), name);
            assert_eq!(Origin::from_key(name), Some(value));
        }
        for value in Origin::ALL {
            assert_eq!(Origin::from_key(value.key()), Some(*value));
        }
        assert_eq!(Origin::from_key(""), None);
        assert_eq!(
            Origin::from_key(&STORED[0].1.to_uppercase()),
            None,
            "names are exact"
        );
    }
}

mod identifier_kind_names {
    use super::*;

    /// The names as policy files write them and identifier hashes cover them:
    /// never renamed, whatever the enum becomes.
    const STORED: [(IdentifierKind, &str); 7] = [
        (IdentifierKind::Email, "email"),
        (IdentifierKind::Phone, "phone"),
        (IdentifierKind::CustomerCode, "customer_code"),
        (IdentifierKind::TaxCode, "tax_code"),
        (IdentifierKind::VatNumber, "vat_number"),
        (IdentifierKind::IpAddress, "ip_address"),
        (IdentifierKind::Username, "username"),
    ];

    #[test]
    fn every_identifier_kind_round_trips_and_keeps_its_name() {
        for (value, name) in STORED {
            assert_eq!(value.key(), name);
            assert_eq!(IdentifierKind::from_key(name), Some(value));
        }
        for value in IdentifierKind::ALL {
            assert_eq!(IdentifierKind::from_key(value.key()), Some(*value));
        }
        assert_eq!(IdentifierKind::from_key(""), None);
        assert_eq!(
            IdentifierKind::from_key(&STORED[0].1.to_uppercase()),
            None,
            "names are exact"
        );
    }
}

mod requirement_names {
    use super::*;

    /// The names as policy files write them:
    /// never renamed, whatever the enum becomes.
    const STORED: [(Requirement, &str); 4] = [
        (Requirement::Voluntary, "voluntary"),
        (Requirement::Contractual, "contractual"),
        (Requirement::ContractPrecondition, "contract_precondition"),
        (Requirement::Statutory, "statutory"),
    ];

    #[test]
    fn every_requirement_round_trips_and_keeps_its_name() {
        for (value, name) in STORED {
            assert_eq!(value.key(), name);
            assert_eq!(Requirement::from_key(name), Some(value));
        }
        for value in Requirement::ALL {
            assert_eq!(Requirement::from_key(value.key()), Some(*value));
        }
        assert_eq!(Requirement::from_key(""), None);
        assert_eq!(
            Requirement::from_key(&STORED[0].1.to_uppercase()),
            None,
            "names are exact"
        );
    }
}

mod access_content_names {
    use super::*;

    /// The names as policy files write them:
    /// never renamed, whatever the enum becomes.
    const STORED: [(AccessContent, &str); 2] = [
        (AccessContent::Withheld, "withheld"),
        (AccessContent::Given, "given"),
    ];

    #[test]
    fn every_access_content_round_trips_and_keeps_its_name() {
        for (value, name) in STORED {
            assert_eq!(value.key(), name);
            assert_eq!(AccessContent::from_key(name), Some(value));
        }
        for value in AccessContent::ALL {
            assert_eq!(AccessContent::from_key(value.key()), Some(*value));
        }
        assert_eq!(AccessContent::from_key(""), None);
        assert_eq!(
            AccessContent::from_key(&STORED[0].1.to_uppercase()),
            None,
            "names are exact"
        );
    }
}

mod basis_names {
    use super::*;

    /// The names as policy files write them:
    /// never renamed, whatever the enum becomes.
    const STORED: [(Basis, &str); 6] = [
        (Basis::Consent, "consent"),
        (Basis::Contract, "contract"),
        (Basis::LegalObligation, "legal_obligation"),
        (Basis::VitalInterests, "vital_interests"),
        (Basis::PublicTask, "public_task"),
        (Basis::LegitimateInterests, "legitimate_interests"),
    ];

    #[test]
    fn every_basis_round_trips_and_keeps_its_name() {
        for (value, name) in STORED {
            assert_eq!(value.key(), name);
            assert_eq!(Basis::from_key(name), Some(value));
        }
        for value in Basis::ALL {
            assert_eq!(Basis::from_key(value.key()), Some(*value));
        }
        assert_eq!(Basis::from_key(""), None);
        assert_eq!(
            Basis::from_key(&STORED[0].1.to_uppercase()),
            None,
            "names are exact"
        );
    }
}

mod special_condition_names {
    use super::*;

    /// The names as policy files write them:
    /// never renamed, whatever the enum becomes.
    const STORED: [(SpecialCondition, &str); 10] = [
        (SpecialCondition::ExplicitConsent, "explicit_consent"),
        (SpecialCondition::Employment, "employment"),
        (SpecialCondition::VitalInterests, "vital_interests"),
        (SpecialCondition::NotForProfit, "not_for_profit"),
        (SpecialCondition::MadePublic, "made_public"),
        (SpecialCondition::LegalClaims, "legal_claims"),
        (
            SpecialCondition::SubstantialPublicInterest,
            "substantial_public_interest",
        ),
        (SpecialCondition::HealthCare, "health_care"),
        (SpecialCondition::PublicHealth, "public_health"),
        (SpecialCondition::Archiving, "archiving"),
    ];

    #[test]
    fn every_special_condition_keeps_its_letter_of_art_9_2() {
        let letters: String = SpecialCondition::ALL.iter().map(|c| c.letter()).collect();
        assert_eq!(letters, "abcdefghij");
    }

    #[test]
    fn every_special_condition_round_trips_and_keeps_its_name() {
        for (value, name) in STORED {
            assert_eq!(value.key(), name);
            assert_eq!(SpecialCondition::from_key(name), Some(value));
        }
        for value in SpecialCondition::ALL {
            assert_eq!(SpecialCondition::from_key(value.key()), Some(*value));
        }
        assert_eq!(SpecialCondition::from_key(""), None);
        assert_eq!(
            SpecialCondition::from_key(&STORED[0].1.to_uppercase()),
            None,
            "names are exact"
        );
    }
}

mod event_names {
    use super::*;

    /// The names as policy files write them:
    /// never renamed, whatever the enum becomes.
    const STORED: [(Event, &str); 5] = [
        (Event::Collection, "collection"),
        (Event::AccountClosed, "account_closed"),
        (Event::ContractEnd, "contract_end"),
        (Event::LastActivity, "last_activity"),
        (Event::ConsentWithdrawn, "consent_withdrawn"),
    ];

    #[test]
    fn every_event_round_trips_and_keeps_its_name() {
        for (value, name) in STORED {
            assert_eq!(value.key(), name);
            assert_eq!(Event::from_key(name), Some(value));
        }
        for value in Event::ALL {
            assert_eq!(Event::from_key(value.key()), Some(*value));
        }
        assert_eq!(Event::from_key(""), None);
        assert_eq!(
            Event::from_key(&STORED[0].1.to_uppercase()),
            None,
            "names are exact"
        );
    }
}

mod recipient_role_names {
    use super::*;

    /// The names as policy files write them:
    /// never renamed, whatever the enum becomes.
    const STORED: [(RecipientRole, &str); 3] = [
        (RecipientRole::Processor, "processor"),
        (RecipientRole::Controller, "controller"),
        (RecipientRole::PublicAuthority, "public_authority"),
    ];

    #[test]
    fn every_recipient_role_round_trips_and_keeps_its_name() {
        for (value, name) in STORED {
            assert_eq!(value.key(), name);
            assert_eq!(RecipientRole::from_key(name), Some(value));
        }
        for value in RecipientRole::ALL {
            assert_eq!(RecipientRole::from_key(value.key()), Some(*value));
        }
        assert_eq!(RecipientRole::from_key(""), None);
        assert_eq!(
            RecipientRole::from_key(&STORED[0].1.to_uppercase()),
            None,
            "names are exact"
        );
    }
}

mod safeguard_names {
    use super::*;

    /// The names as policy files write them:
    /// never renamed, whatever the enum becomes.
    const STORED: [(Safeguard, &str); 6] = [
        (Safeguard::Adequacy, "adequacy"),
        (Safeguard::StandardContractualClauses, "scc"),
        (Safeguard::BindingCorporateRules, "bcr"),
        (Safeguard::CodeOfConduct, "code_of_conduct"),
        (Safeguard::Certification, "certification"),
        (Safeguard::Derogation, "derogation"),
    ];

    #[test]
    fn every_safeguard_round_trips_and_keeps_its_name() {
        for (value, name) in STORED {
            assert_eq!(value.key(), name);
            assert_eq!(Safeguard::from_key(name), Some(value));
        }
        for value in Safeguard::ALL {
            assert_eq!(Safeguard::from_key(value.key()), Some(*value));
        }
        assert_eq!(Safeguard::from_key(""), None);
        assert_eq!(
            Safeguard::from_key(&STORED[0].1.to_uppercase()),
            None,
            "names are exact"
        );
    }
}

mod cookie_kind_names {
    use super::*;

    /// The names as policy files write them:
    /// never renamed, whatever the enum becomes.
    const STORED: [(CookieKind, &str); 4] = [
        (CookieKind::Technical, "technical"),
        (CookieKind::Preferences, "preferences"),
        (CookieKind::Analytics, "analytics"),
        (CookieKind::Marketing, "marketing"),
    ];

    #[test]
    fn every_cookie_kind_round_trips_and_keeps_its_name() {
        for (value, name) in STORED {
            assert_eq!(value.key(), name);
            assert_eq!(CookieKind::from_key(name), Some(value));
        }
        for value in CookieKind::ALL {
            assert_eq!(CookieKind::from_key(value.key()), Some(*value));
        }
        assert_eq!(CookieKind::from_key(""), None);
        assert_eq!(
            CookieKind::from_key(&STORED[0].1.to_uppercase()),
            None,
            "names are exact"
        );
    }
}
