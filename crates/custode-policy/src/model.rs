//! The policy as plain data: what the controller declares, already checked.
//!
//! Every type here is produced by [`crate::load`] and is valid by
//! construction: references resolve, each text exists in every notice
//! language, each retention rule ends. Spans are kept on ids and references
//! so that later checks (and the data core) can point back into the file.

use std::collections::HashMap;

use crate::diagnostic::Located;
use crate::text::{Lang, Text};
use strum::{EnumString, IntoStaticStr, VariantArray};

/// A validated privacy policy.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Version, dates, languages, jurisdiction.
    pub meta: Meta,
    /// The controller (Art. 4(7)).
    pub controller: Party,
    /// Joint controllers (Art. 26), if any.
    pub joint_controllers: Vec<JointController>,
    /// The representative in the Union (Art. 27), if any.
    pub representative: Option<Party>,
    /// The data protection officer (Art. 37–39), if designated.
    pub dpo: Option<Party>,
    /// The supervisory authority a person may complain to (Art. 77).
    pub authority: Authority,
    /// How and how fast rights requests are answered.
    pub rights: RightsDesk,
    /// Kinds of people whose data are processed.
    pub subjects: Vec<SubjectKind>,
    /// Categories of personal data, with their fields.
    pub categories: Vec<Category>,
    /// Purposes, each with its legal basis and retention.
    pub purposes: Vec<Purpose>,
    /// Recipients and processors.
    pub recipients: Vec<Recipient>,
    /// Cookies and similar technologies.
    pub cookies: Vec<Cookie>,
    /// Automated decision-making (Art. 22).
    pub automated_decisions: AutomatedDecisions,
    /// Technical and organisational security measures (Art. 32).
    pub measures: Vec<Measure>,
    /// Promises about backups (`[security]`).
    pub security: Security,
    /// SHA-256 of the policy source, hex: the version consents refer to.
    pub digest: String,
    /// The file as loaded, kept so that any version the store registered
    /// can be rebuilt exactly (receipts of old consents cite it).
    pub source: std::sync::Arc<str>,
    pub(crate) index: Index,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Index {
    pub(crate) subjects: HashMap<String, usize>,
    pub(crate) categories: HashMap<String, usize>,
    pub(crate) purposes: HashMap<String, usize>,
    pub(crate) recipients: HashMap<String, usize>,
    /// Per category, the purposes that cover it, in the file's order: a
    /// records write asks this once per record.
    pub(crate) category_purposes: HashMap<String, Vec<usize>>,
}

impl Policy {
    /// The subject kind with this id.
    pub fn subject(&self, id: &str) -> Option<&SubjectKind> {
        self.index.subjects.get(id).map(|&i| &self.subjects[i])
    }

    /// The category with this id.
    pub fn category(&self, id: &str) -> Option<&Category> {
        self.index.categories.get(id).map(|&i| &self.categories[i])
    }

    /// The purpose with this id.
    pub fn purpose(&self, id: &str) -> Option<&Purpose> {
        self.index.purposes.get(id).map(|&i| &self.purposes[i])
    }

    /// The recipient with this id.
    pub fn recipient(&self, id: &str) -> Option<&Recipient> {
        self.index.recipients.get(id).map(|&i| &self.recipients[i])
    }

    /// The purposes that cover a category.
    pub fn purposes_of_category<'a>(
        &'a self,
        category: &'a str,
    ) -> impl Iterator<Item = &'a Purpose> + 'a {
        self.index
            .category_purposes
            .get(category)
            .into_iter()
            .flatten()
            .map(|&i| &self.purposes[i])
    }

    /// The fields of a category that these grounds keep: the union of
    /// their `keep_fields` within the category; `None` when one of them
    /// keeps the whole category (no `keep_fields`), or none is known.
    pub fn kept_fields<S: AsRef<str>>(&self, category: &str, grounds: &[S]) -> Option<Vec<String>> {
        let fields = &self.category(category)?.fields;
        let mut kept = std::collections::BTreeSet::new();
        let mut any = false;
        for ground in grounds {
            let Some(purpose) = self.purpose(ground.as_ref()) else {
                continue;
            };
            any = true;
            let listed = purpose.keep_fields.as_ref()?;
            kept.extend(
                fields
                    .iter()
                    .filter(|f| listed.iter().any(|l| l.value == f.id.value))
                    .map(|f| f.id.value.as_str()),
            );
        }
        // In the category's order, as the notice lists them.
        any.then(|| {
            fields
                .iter()
                .filter(|f| kept.contains(f.id.value.as_str()))
                .map(|f| f.id.value.clone())
                .collect()
        })
    }

    /// Recipients outside the European Economic Area: the transfers.
    pub fn transfers(&self) -> impl Iterator<Item = &Recipient> {
        self.recipients
            .iter()
            .filter(|r| !crate::law::is_eea(&r.country))
    }
}

/// Facts about the policy document itself.
#[derive(Clone, Debug)]
pub struct Meta {
    /// The controller's own label for this version, e.g. `2026.1`.
    pub version: String,
    /// The date from which it applies, `YYYY-MM-DD`.
    pub effective: String,
    /// The languages the notice is published in; the first is the default.
    pub languages: Vec<Lang>,
    /// The language that prevails when translations differ, if stated.
    pub authoritative_language: Option<Lang>,
    /// The controller's member state, ISO 3166-1 alpha-2 (`IT`, `FR`, ...).
    pub jurisdiction: String,
    /// The youngest age at which the service may be used.
    pub minimum_age: u8,
    /// The field that holds a person's birth date (`category.field`), when
    /// the policy names one: a record or a consent of someone younger than
    /// `minimum_age` is then refused.
    pub birth_date: Option<FieldRef>,
    /// How significant changes to the policy are announced.
    pub changes: Option<Text>,
    /// What kind of provider the controller is, which sets the breach
    /// notification deadlines (`provider` in `[policy]`).
    pub provider: ProviderKind,
}

/// The kind of provider, as far as the law of breach notification cares.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, IntoStaticStr, EnumString, VariantArray,
)]
#[strum(serialize_all = "snake_case")]
pub enum ProviderKind {
    /// A provider of publicly available electronic communications services
    /// (Directive 2002/58/EC Art. 4(3)): the authority is told within 24
    /// hours of detection, with a follow-up within 3 days when the first
    /// notice was incomplete (Regulation 611/2013 Art. 2).
    ElectronicCommunications,
    /// Any other controller: 72 hours from becoming aware (GDPR Art. 33(1)).
    #[default]
    Other,
}

impl ProviderKind {
    /// Every value, in declaration order.
    pub const ALL: &'static [ProviderKind] = <ProviderKind as strum::VariantArray>::VARIANTS;

    /// The name used in the policy file.
    pub fn key(self) -> &'static str {
        self.into()
    }

    /// The value a policy file names.
    pub fn from_key(name: &str) -> Option<ProviderKind> {
        name.parse().ok()
    }
}

impl Meta {
    /// The notice languages as codes, comma-separated: `it, en`.
    pub fn language_codes(&self) -> String {
        self.languages
            .iter()
            .map(|l| l.code())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A controller, representative or DPO: who and how to reach them.
#[derive(Clone, Debug, Default)]
pub struct Party {
    /// Legal name or person's name.
    pub name: Option<String>,
    /// Postal address.
    pub address: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Telephone.
    pub phone: Option<String>,
    /// VAT or tax identifier.
    pub tax_id: Option<String>,
    /// Web site.
    pub website: Option<String>,
}

/// A joint controller and what it is responsible for (Art. 26).
#[derive(Clone, Debug)]
pub struct JointController {
    /// Who.
    pub party: Party,
    /// The essence of the arrangement, told to the people concerned.
    pub responsibilities: Text,
}

/// The supervisory authority.
#[derive(Clone, Debug)]
pub struct Authority {
    /// Its name.
    pub name: String,
    /// Its web site, where complaints are lodged.
    pub website: Option<String>,
    /// Its postal address.
    pub address: Option<String>,
    /// Its e-mail address.
    pub email: Option<String>,
}

/// Where and how rights are exercised.
#[derive(Clone, Debug)]
pub struct RightsDesk {
    /// E-mail address for requests.
    pub email: Option<String>,
    /// Postal address for requests.
    pub address: Option<String>,
    /// Self-service portal.
    pub portal: Option<String>,
    /// The controller's promised answer time in days, when stricter than the
    /// one month of Art. 12(3).
    pub response_days: Option<u16>,
    /// What proof of identity is asked for.
    pub identity: Option<Text>,
    /// How a delegate acts for the person.
    pub delegation: Option<Text>,
    /// The roles that may attest that a requester's identity was verified
    /// elsewhere (by a trusted system or in person), instead of a code or
    /// documents; empty, none may.
    pub attest_roles: Vec<String>,
}

/// A field named by its category: `category.field`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldRef {
    /// The category's id.
    pub category: String,
    /// The field's id.
    pub field: String,
    /// Where it was named in the file.
    pub span: crate::diagnostic::Span,
}

/// The kinds of node in the tenancy tree, as policy files name them (the
/// domain's `TenantKind` has the same names).
pub const TENANT_KINDS: [&str; 4] = ["provider", "reseller", "domain", "subscriber"];

/// The roles of Custode's principals, as policy files name them (the
/// domain's `Role` has the same names).
pub const ROLE_NAMES: [&str; 8] = [
    "administrator",
    "dpo",
    "support_agent",
    "legal_officer",
    "reseller_admin",
    "domain_admin",
    "subject",
    "system",
];

/// The roles that handle rights requests, so the only ones that may
/// attest a requester's identity (`[rights] attest_roles`).
pub const ATTESTING_ROLES: [&str; 3] = ["dpo", "support_agent", "system"];

/// A kind of data subject.
#[derive(Clone, Debug)]
pub struct SubjectKind {
    /// Id used in references.
    pub id: Located<String>,
    /// Name shown in the notice.
    pub name: Text,
    /// Who they are.
    pub description: Option<Text>,
    /// The kinds of tenant (see [`TENANT_KINDS`]) a subject of this kind may
    /// hang from; empty means any.
    pub tenants: Vec<Located<String>>,
    /// How many subjects of this kind one tenant may hold (e.g. the one
    /// subscriber a subscriber tenant stands for); `None` means no limit.
    pub max_per_tenant: Option<u32>,
    /// After this long without recorded activity the account counts as
    /// closed, so every rule counted from closure runs (an inactivity
    /// rule: no dormant account keeps its data forever).
    pub close_after_inactivity: Option<Period>,
}

impl SubjectKind {
    /// Whether a subject of this kind may hang from a tenant of `kind`.
    pub fn may_live_in(&self, tenant_kind: &str) -> bool {
        self.tenants.is_empty() || self.tenants.iter().any(|t| t.value == tenant_kind)
    }
}

/// A category of personal data.
#[derive(Clone, Debug)]
pub struct Category {
    /// Id used in references.
    pub id: Located<String>,
    /// Name shown in the notice.
    pub name: Text,
    /// What it holds.
    pub description: Option<Text>,
    /// Its fields.
    pub fields: Vec<Field>,
    /// Special category of Art. 9 (health, biometrics, ...).
    pub special: bool,
    /// Where the data come from when not from the person (Art. 14(2)(f)).
    pub source: Option<Text>,
    /// How the data come to be held: provided by the person, observed from
    /// their use of the service, derived by the controller, or received
    /// from a third party. Never empty.
    pub origin: Vec<Origin>,
    /// Whether giving the data is required, and by what (Art. 13(2)(e)).
    pub requirement: Requirement,
    /// What happens if the person does not give them.
    pub consequence: Option<Text>,
    /// DPV personal-data term, e.g. `pd:Contact`.
    pub dpv: Option<String>,
}

impl Category {
    /// Whether the right to portability (Art. 20) reaches the category:
    /// data the person provided, including those observed from their use
    /// of the service; not data derived or inferred by the controller, nor
    /// data received only from third parties.
    pub fn portable(&self) -> bool {
        self.origin
            .iter()
            .any(|o| matches!(o, Origin::Provided | Origin::Observed))
    }
}

/// How data of a category come to be held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, IntoStaticStr, EnumString, VariantArray)]
#[strum(serialize_all = "snake_case")]
pub enum Origin {
    /// The person gives them (a form, a message they write, a request).
    Provided,
    /// Recorded from the person's use of the service (logs, traffic,
    /// delivery state).
    Observed,
    /// Inferred or computed by the controller (scores, profiles).
    Derived,
    /// Received from someone else (a reseller, another operator).
    ThirdParty,
}

impl Origin {
    /// Every value, in declaration order.
    pub const ALL: &'static [Origin] = <Origin as strum::VariantArray>::VARIANTS;

    /// The name used in the policy file and in catalogues.
    pub fn key(self) -> &'static str {
        self.into()
    }

    /// The value a policy file names.
    pub fn from_key(name: &str) -> Option<Origin> {
        name.parse().ok()
    }
}

/// One field of a category.
#[derive(Clone, Debug)]
pub struct Field {
    /// Id used in records.
    pub id: Located<String>,
    /// Name shown in the notice; falls back to the DPV term's name.
    pub label: Option<Text>,
    /// DPV personal-data term, e.g. `pd:EmailAddress`.
    pub dpv: Option<String>,
    /// Whether the field identifies a subject for look-up, and as what.
    pub identifier: Option<IdentifierKind>,
}

/// Kinds of identifier a subject can be found by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, IntoStaticStr, EnumString, VariantArray)]
#[allow(missing_docs)]
#[strum(serialize_all = "snake_case")]
pub enum IdentifierKind {
    Email,
    Phone,
    CustomerCode,
    TaxCode,
    VatNumber,
    IpAddress,
    Username,
}

impl IdentifierKind {
    /// Every value, in declaration order.
    pub const ALL: &'static [IdentifierKind] = <IdentifierKind as strum::VariantArray>::VARIANTS;

    /// The name used in the policy file and in catalogues.
    pub fn key(self) -> &'static str {
        self.into()
    }

    /// The value a policy file names.
    pub fn from_key(name: &str) -> Option<IdentifierKind> {
        name.parse().ok()
    }
}

/// Whether providing data is required (Art. 13(2)(e)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoStaticStr, EnumString, VariantArray)]
#[strum(serialize_all = "snake_case")]
pub enum Requirement {
    /// The person may choose not to give them.
    Voluntary,
    /// Required by the contract.
    Contractual,
    /// Required to enter into the contract.
    ContractPrecondition,
    /// Required by law.
    Statutory,
}

impl Requirement {
    /// Every value, in declaration order.
    pub const ALL: &'static [Requirement] = <Requirement as strum::VariantArray>::VARIANTS;

    /// The name used in the policy file and in catalogues.
    pub fn key(self) -> &'static str {
        self.into()
    }

    /// The value a policy file names.
    pub fn from_key(name: &str) -> Option<Requirement> {
        name.parse().ok()
    }
}

/// A purpose of processing.
#[derive(Clone, Debug)]
pub struct Purpose {
    /// Id used in references.
    pub id: Located<String>,
    /// Name shown in the notice.
    pub name: Text,
    /// What is done and why.
    pub description: Option<Text>,
    /// The legal basis (Art. 6(1)).
    pub basis: Basis,
    /// The law that imposes the obligation, for [`Basis::LegalObligation`].
    pub law: Option<Text>,
    /// The interest pursued, for [`Basis::LegitimateInterests`].
    pub interest: Option<Text>,
    /// How consent is withdrawn, for [`Basis::Consent`].
    pub withdrawal: Option<Text>,
    /// The categories of data used.
    pub categories: Vec<Located<String>>,
    /// The kinds of subject concerned.
    pub subjects: Vec<Located<String>>,
    /// How long the data are kept for this purpose.
    pub retention: Retention,
    /// Who receives the data for this purpose.
    pub recipients: Vec<Located<String>>,
    /// Kept in the segregated vault (legally retained data).
    pub vault: bool,
    /// For a vault purpose: whether an access request (Art. 15) gives the
    /// content of what it keeps, or describes it and withholds it.
    pub access_content: AccessContent,
    /// Why the content is withheld, in the policy's words; the catalogue's
    /// general reason when absent.
    pub withheld_because: Option<Text>,
    /// The fields this ground keeps once the person asks for erasure (or
    /// in the vault), when it needs fewer than its categories hold; `None`
    /// keeps every field. Checked against the categories at load.
    pub keep_fields: Option<Vec<Located<String>>>,
    /// Direct marketing: an objection to it is absolute (Art. 21(3)).
    pub direct_marketing: bool,
    /// The Art. 9(2) condition when special categories are used.
    pub special_condition: Option<SpecialCondition>,
    /// DPV purpose term, e.g. `dpv:ServiceProvision`.
    pub dpv: Option<String>,
}

/// What an access request gives of the data a vault purpose keeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, IntoStaticStr, EnumString, VariantArray)]
#[strum(serialize_all = "snake_case")]
pub enum AccessContent {
    /// Described (category, count, law, end) and the content withheld, the
    /// reason stated: the default, since the law keeping them may restrict
    /// their disclosure (Art. 23), e.g. traffic data under judicial secrecy.
    #[default]
    Withheld,
    /// Described and the content given.
    Given,
}

impl AccessContent {
    /// Every value, in declaration order.
    pub const ALL: &'static [AccessContent] = <AccessContent as strum::VariantArray>::VARIANTS;

    /// The name used in the policy file and in catalogues.
    pub fn key(self) -> &'static str {
        self.into()
    }

    /// The value a policy file names.
    pub fn from_key(name: &str) -> Option<AccessContent> {
        name.parse().ok()
    }
}

/// A legal basis of Art. 6(1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, IntoStaticStr, EnumString, VariantArray)]
#[strum(serialize_all = "snake_case")]
pub enum Basis {
    /// (a) consent.
    Consent,
    /// (b) performance of a contract.
    Contract,
    /// (c) legal obligation.
    LegalObligation,
    /// (d) vital interests.
    VitalInterests,
    /// (e) public task.
    PublicTask,
    /// (f) legitimate interests.
    LegitimateInterests,
}

impl Basis {
    /// Every value, in declaration order.
    pub const ALL: &'static [Basis] = <Basis as strum::VariantArray>::VARIANTS;

    /// The value a policy file names.
    pub fn from_key(name: &str) -> Option<Basis> {
        name.parse().ok()
    }

    /// The letter of Art. 6(1).
    pub fn letter(self) -> char {
        match self {
            Basis::Consent => 'a',
            Basis::Contract => 'b',
            Basis::LegalObligation => 'c',
            Basis::VitalInterests => 'd',
            Basis::PublicTask => 'e',
            Basis::LegitimateInterests => 'f',
        }
    }

    /// The name used in the policy file and in catalogues.
    pub fn key(self) -> &'static str {
        self.into()
    }
}

/// Conditions of Art. 9(2) that lift the ban on special categories.
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoStaticStr, EnumString, VariantArray)]
#[allow(missing_docs)]
#[strum(serialize_all = "snake_case")]
pub enum SpecialCondition {
    ExplicitConsent,
    Employment,
    VitalInterests,
    NotForProfit,
    MadePublic,
    LegalClaims,
    SubstantialPublicInterest,
    HealthCare,
    PublicHealth,
    Archiving,
}

impl SpecialCondition {
    /// Every value, in declaration order.
    pub const ALL: &'static [SpecialCondition] =
        <SpecialCondition as strum::VariantArray>::VARIANTS;

    /// The name used in the policy file and in catalogues.
    pub fn key(self) -> &'static str {
        self.into()
    }

    /// The value a policy file names.
    pub fn from_key(name: &str) -> Option<SpecialCondition> {
        name.parse().ok()
    }

    /// The letter of Art. 9(2).
    pub fn letter(self) -> char {
        match self {
            SpecialCondition::ExplicitConsent => 'a',
            SpecialCondition::Employment => 'b',
            SpecialCondition::VitalInterests => 'c',
            SpecialCondition::NotForProfit => 'd',
            SpecialCondition::MadePublic => 'e',
            SpecialCondition::LegalClaims => 'f',
            SpecialCondition::SubstantialPublicInterest => 'g',
            SpecialCondition::HealthCare => 'h',
            SpecialCondition::PublicHealth => 'i',
            SpecialCondition::Archiving => 'j',
        }
    }
}

/// A retention rule: an event, then a span of time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// The event the span counts from.
    pub from: Event,
    /// How long after the event the data are kept.
    pub keep: Period,
}

/// Events a retention rule counts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, IntoStaticStr, EnumString, VariantArray)]
#[strum(serialize_all = "snake_case")]
pub enum Event {
    /// When the datum was collected.
    Collection,
    /// When the account was closed.
    AccountClosed,
    /// When the contract ended.
    ContractEnd,
    /// The person's last recorded activity (inactivity rule).
    LastActivity,
    /// When consent for the purpose was withdrawn.
    ConsentWithdrawn,
}

impl Event {
    /// Every value, in declaration order.
    pub const ALL: &'static [Event] = <Event as strum::VariantArray>::VARIANTS;

    /// The value a policy file names.
    pub fn from_key(name: &str) -> Option<Event> {
        name.parse().ok()
    }

    /// The name used in the policy file and in catalogues.
    pub fn key(self) -> &'static str {
        self.into()
    }
}

/// A calendar span: so many days, weeks, months or years.
///
/// Months and years are calendar units: one month after 31 January is the
/// last day of February, as Regulation 1182/71 counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    /// How many units.
    pub amount: u32,
    /// Which unit.
    pub unit: Unit,
}

/// Units of a [`Period`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Unit {
    Day,
    Week,
    Month,
    Year,
}

impl Unit {
    /// The name used in catalogues.
    pub fn key(self) -> &'static str {
        match self {
            Unit::Day => "day",
            Unit::Week => "week",
            Unit::Month => "month",
            Unit::Year => "year",
        }
    }
}

/// A recipient of personal data.
#[derive(Clone, Debug)]
pub struct Recipient {
    /// Id used in references.
    pub id: Located<String>,
    /// Its name.
    pub name: String,
    /// Its role towards the data.
    pub role: RecipientRole,
    /// What it does with the data.
    pub description: Option<Text>,
    /// Where it processes the data, ISO 3166-1 alpha-2.
    pub country: String,
    /// The safeguard for a transfer outside the EEA.
    pub safeguard: Option<Safeguard>,
    /// Where the safeguard can be read or obtained.
    pub safeguard_reference: Option<String>,
    /// Where Art. 19 notices (a rectification, erasure or restriction) are
    /// mailed; without one, staff tell the recipient and confirm it.
    pub notify_email: Option<String>,
    /// A public authority that receives data only on an order in a
    /// particular inquiry: not a recipient in the sense of Art. 4(9), so it
    /// is neither told under Art. 19 nor named in the answer as told.
    pub on_order: bool,
}

/// A recipient's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, IntoStaticStr, EnumString, VariantArray)]
#[strum(serialize_all = "snake_case")]
pub enum RecipientRole {
    /// Processes on the controller's behalf (Art. 28).
    Processor,
    /// An independent controller.
    Controller,
    /// A public authority receiving data under a legal duty.
    PublicAuthority,
}

impl RecipientRole {
    /// Every value, in declaration order.
    pub const ALL: &'static [RecipientRole] = <RecipientRole as strum::VariantArray>::VARIANTS;

    /// The value a policy file names.
    pub fn from_key(name: &str) -> Option<RecipientRole> {
        name.parse().ok()
    }

    /// The name used in the policy file and in catalogues.
    pub fn key(self) -> &'static str {
        self.into()
    }
}

/// Safeguards for transfers outside the EEA (Art. 45–49).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, IntoStaticStr, EnumString, VariantArray)]
#[strum(serialize_all = "snake_case")]
pub enum Safeguard {
    /// An adequacy decision (Art. 45).
    Adequacy,
    /// Standard contractual clauses (Art. 46(2)(c)).
    #[strum(serialize = "scc")]
    StandardContractualClauses,
    /// Binding corporate rules (Art. 47).
    #[strum(serialize = "bcr")]
    BindingCorporateRules,
    /// An approved code of conduct (Art. 46(2)(e)).
    CodeOfConduct,
    /// An approved certification (Art. 46(2)(f)).
    Certification,
    /// A derogation for a specific situation (Art. 49).
    Derogation,
}

impl Safeguard {
    /// Every value, in declaration order.
    pub const ALL: &'static [Safeguard] = <Safeguard as strum::VariantArray>::VARIANTS;

    /// The value a policy file names.
    pub fn from_key(name: &str) -> Option<Safeguard> {
        name.parse().ok()
    }

    /// The name used in the policy file and in catalogues.
    pub fn key(self) -> &'static str {
        self.into()
    }
}

/// A cookie or similar technology.
#[derive(Clone, Debug)]
pub struct Cookie {
    /// The cookie's name.
    pub name: String,
    /// What it is for.
    pub kind: CookieKind,
    /// Who sets it.
    pub provider: String,
    /// What it does.
    pub description: Option<Text>,
    /// How long it lasts; `None` for the browser session.
    pub duration: Option<Period>,
}

/// Kinds of cookies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, IntoStaticStr, EnumString, VariantArray)]
#[allow(missing_docs)]
#[strum(serialize_all = "snake_case")]
pub enum CookieKind {
    Technical,
    Preferences,
    Analytics,
    Marketing,
}

impl CookieKind {
    /// Every value, in declaration order.
    pub const ALL: &'static [CookieKind] = <CookieKind as strum::VariantArray>::VARIANTS;

    /// The value a policy file names.
    pub fn from_key(name: &str) -> Option<CookieKind> {
        name.parse().ok()
    }

    /// The name used in the policy file and in catalogues.
    pub fn key(self) -> &'static str {
        self.into()
    }
}

/// Automated decision-making, including profiling (Art. 22).
#[derive(Clone, Debug, Default)]
pub struct AutomatedDecisions {
    /// Whether any decision with legal or similar effect is taken by machine.
    pub present: bool,
    /// The logic involved.
    pub logic: Option<Text>,
    /// Its significance and envisaged consequences.
    pub significance: Option<Text>,
}

/// The `[security]` section: promises the store itself keeps.
#[derive(Clone, Debug, Default)]
pub struct Security {
    /// How many days a backup key generation lives before it is destroyed
    /// (`backup_key_lifetime = "35 days"`): an erased person's data can
    /// survive in backups for at most this long. None: no backups promised,
    /// and `custode backup` refuses to make one.
    pub backup_key_lifetime_days: Option<u32>,
}

/// The shortest backup key lifetime: a generation is used for new backups
/// for one day, so a shorter life would leave a backup barely restorable.
pub const BACKUP_KEY_LIFETIME_MIN_DAYS: u32 = 2;
/// The longest: a bound of more than a year is no bound a person can hold us to.
pub const BACKUP_KEY_LIFETIME_MAX_DAYS: u32 = 366;

/// A security measure.
#[derive(Clone, Debug)]
pub struct Measure {
    /// Technical or organisational.
    pub kind: MeasureKind,
    /// What it is.
    pub description: Text,
}

/// Kinds of security measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoStaticStr, VariantArray)]
#[strum(serialize_all = "snake_case")]
#[allow(missing_docs)]
pub enum MeasureKind {
    Technical,
    Organisational,
}

impl MeasureKind {
    /// Every kind, in declaration order.
    pub const ALL: &'static [MeasureKind] = <MeasureKind as strum::VariantArray>::VARIANTS;
}
