//! Who may do what: the one table of permissions by role. Every face asks
//! [`may`] before acting; the scope check (which subjects) comes after, in
//! the store.

use crate::scope::Role;

/// Operations a principal can attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Create a node of the tenancy tree.
    CreateTenant,
    /// Create a data subject.
    CreateSubject,
    /// List or count subjects (no personal data).
    ListSubjects,
    /// Read a subject's personal data.
    ReadRecords,
    /// Write records.
    WriteRecords,
    /// Erase a subject.
    EraseSubject,
    /// Verify or sign the audit log.
    AuditLog,
    /// Create people and machine tokens with a role.
    ManageAccess,
    /// Put a new version of the policy in force.
    ManagePolicy,
    /// Record consent, withdrawal, objection or restriction events.
    RecordConsent,
    /// Read a subject's consent ledger and receipts.
    ReadConsent,
    /// Ask for processing decisions and mint unsubscribe links (what a
    /// sending system does before each message).
    AskConsent,
    /// Query the vault under an authority's order (with a fresh second
    /// factor, checked by the store).
    QueryVault,
    /// Review the vault access log.
    ReviewVault,
    /// File a rights request (for oneself, or for a subject in scope).
    FileRequest,
    /// List and handle rights requests (deadlines, extensions).
    HandleRequests,
    /// List the credentials issued (holders, roles, use; never secrets).
    ReviewAccess,
    /// Close a tenant below one's own node: its subjects erased as the
    /// policy allows, its credentials revoked, its name replaced. Reads no
    /// personal data.
    CloseTenant,
    /// Find subjects by an identifier (e-mail, phone, ...): tells who a
    /// value belongs to, so it reads personal data.
    FindSubjects,
    /// List the tenancy tree with its counts (no personal data).
    ListTenants,
    /// Read a subject's audit trail: who read or changed its data, when,
    /// in which role and why (a subject reads its own).
    ReadTrail,
    /// Invite people and manage their accounts (role, tenant, disable,
    /// sessions, tokens) below one's own node, never above one's own role.
    /// Reads no personal data.
    ManagePeople,
    /// Keep the breach register (Art. 33(5)): record breaches, their
    /// clocks and notifications, in one's own part of the tree. The
    /// affected people and the notices to them also need `ReadRecords`.
    ManageBreaches,
}

impl Operation {
    /// Every operation, for tables and tests.
    pub const ALL: [Operation; 23] = [
        Operation::CreateTenant,
        Operation::CreateSubject,
        Operation::ListSubjects,
        Operation::ReadRecords,
        Operation::WriteRecords,
        Operation::EraseSubject,
        Operation::AuditLog,
        Operation::ManageAccess,
        Operation::ManagePolicy,
        Operation::RecordConsent,
        Operation::ReadConsent,
        Operation::AskConsent,
        Operation::QueryVault,
        Operation::ReviewVault,
        Operation::FileRequest,
        Operation::HandleRequests,
        Operation::ReviewAccess,
        Operation::CloseTenant,
        Operation::FindSubjects,
        Operation::ListTenants,
        Operation::ReadTrail,
        Operation::ManagePeople,
        Operation::ManageBreaches,
    ];

    /// The operations that show personal data (a subject's records,
    /// consents, decisions, requests, the vault and its log).
    pub const READ_PERSONAL_DATA: [Operation; 8] = [
        Operation::ReadRecords,
        Operation::FindSubjects,
        Operation::ReadTrail,
        Operation::ReadConsent,
        Operation::AskConsent,
        Operation::QueryVault,
        Operation::ReviewVault,
        Operation::HandleRequests,
    ];
}

/// Whether a role may attempt an operation at all. Least privilege: the
/// instance administrator runs the system but reads no personal data; the
/// legal officer reads only the vault; a data subject reads only itself.
pub fn may(role: Role, op: Operation) -> bool {
    use Operation::*;
    use Role::*;
    match op {
        CreateTenant => matches!(role, Administrator | ResellerAdmin | System),
        CreateSubject => matches!(role, SupportAgent | ResellerAdmin | DomainAdmin | System),
        ListSubjects => matches!(
            role,
            Administrator | Dpo | SupportAgent | ResellerAdmin | DomainAdmin | Subject | System
        ),
        ReadRecords => matches!(
            role,
            Dpo | SupportAgent | ResellerAdmin | DomainAdmin | Subject | System
        ),
        WriteRecords => matches!(role, SupportAgent | ResellerAdmin | DomainAdmin | System),
        EraseSubject => matches!(role, Dpo | System),
        AuditLog => matches!(role, Administrator | Dpo | System),
        ManageAccess => matches!(role, Administrator),
        ManagePolicy => matches!(role, Administrator | Dpo),
        RecordConsent | ReadConsent | AskConsent => matches!(
            role,
            Dpo | SupportAgent | ResellerAdmin | DomainAdmin | Subject | System
        ),
        QueryVault => matches!(role, LegalOfficer),
        ReviewVault => matches!(role, Dpo | LegalOfficer),
        FileRequest => matches!(
            role,
            Dpo | SupportAgent | ResellerAdmin | DomainAdmin | Subject | System
        ),
        HandleRequests => matches!(role, Dpo | SupportAgent | System),
        ReviewAccess => matches!(role, Administrator | Dpo),
        CloseTenant => matches!(role, Administrator | Dpo | ResellerAdmin),
        FindSubjects => matches!(
            role,
            Dpo | SupportAgent | ResellerAdmin | DomainAdmin | System
        ),
        ListTenants => matches!(
            role,
            Administrator | Dpo | SupportAgent | ResellerAdmin | DomainAdmin | System
        ),
        // The DPO oversees who touched whose data; a subject sees its own
        // (C-579/21). Others' reads are not staff's business.
        ReadTrail => matches!(role, Dpo | Subject),
        ManagePeople => matches!(role, Administrator | ResellerAdmin | DomainAdmin),
        // The DPO keeps the register; the administrator may record what it
        // sees of an incident. Support staff never see it.
        ManageBreaches => matches!(role, Administrator | Dpo),
    }
}

/// Whether a credential with this role can read personal data. Such a
/// credential is never minted by the administrator over the API (it could
/// give itself one): it is issued at the console, bound to its holder.
pub fn reads_personal_data(role: Role) -> bool {
    Operation::READ_PERSONAL_DATA
        .iter()
        .any(|op| may(role, *op))
}

impl Role {
    /// Every role, in declaration order.
    pub const ALL: &'static [Role] = <Role as strum::VariantArray>::VARIANTS;

    /// The stored name.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The role with a stored name.
    pub fn from_name(name: &str) -> Option<Role> {
        name.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_privilege_holds() {
        assert!(
            !may(Role::Administrator, Operation::ReadRecords),
            "admins run the system, not read data"
        );
        assert!(
            !may(Role::LegalOfficer, Operation::ReadRecords),
            "legal officers read the vault only"
        );
        assert!(!may(Role::Subject, Operation::WriteRecords));
        assert!(may(Role::Subject, Operation::ReadRecords));
        assert!(may(Role::Dpo, Operation::EraseSubject));
        assert!(may(Role::LegalOfficer, Operation::QueryVault));
        for &role in Role::ALL {
            assert_eq!(
                may(role, Operation::QueryVault),
                role == Role::LegalOfficer,
                "the vault is the legal officer's alone"
            );
        }
        for &role in Role::ALL {
            assert_eq!(Role::from_name(role.name()), Some(role));
        }
    }

    #[test]
    fn finding_people_and_reading_trails_are_reads_of_personal_data() {
        assert!(!may(Role::Administrator, Operation::FindSubjects));
        assert!(!may(Role::Subject, Operation::FindSubjects));
        assert!(may(Role::ResellerAdmin, Operation::ListTenants));
        assert!(!may(Role::Subject, Operation::ListTenants));
        for &role in Role::ALL {
            assert_eq!(
                may(role, Operation::ReadTrail),
                matches!(role, Role::Dpo | Role::Subject),
                "{}",
                role.name()
            );
        }
    }

    #[test]
    fn the_policy_names_the_same_roles() {
        let names: Vec<&str> = Role::ALL.iter().map(|r| r.name()).collect();
        assert_eq!(names, custode_policy::ROLE_NAMES);
        // Attesting an identity is handling a request.
        for &role in Role::ALL {
            let name = role.name();
            assert_eq!(
                custode_policy::ATTESTING_ROLES.contains(&name),
                may(role, Operation::HandleRequests),
                "{name}"
            );
        }
    }

    #[test]
    fn only_the_administrator_reads_no_personal_data() {
        for &role in Role::ALL {
            let name = role.name();
            assert_eq!(
                reads_personal_data(role),
                role != Role::Administrator,
                "{name}"
            );
        }
    }
}

#[cfg(test)]
mod role_names {
    use super::*;

    /// The names as credentials store them and the API shows them:
    /// never renamed, whatever the enum becomes.
    const STORED: [(Role, &str); 8] = [
        (Role::Administrator, "administrator"),
        (Role::Dpo, "dpo"),
        (Role::SupportAgent, "support_agent"),
        (Role::LegalOfficer, "legal_officer"),
        (Role::ResellerAdmin, "reseller_admin"),
        (Role::DomainAdmin, "domain_admin"),
        (Role::Subject, "subject"),
        (Role::System, "system"),
    ];

    #[test]
    fn every_role_round_trips_and_keeps_its_name() {
        for (value, name) in STORED {
            assert_eq!(value.name(), name);
            assert_eq!(Role::from_name(name), Some(value));
        }
        for value in Role::ALL {
            assert_eq!(Role::from_name(value.name()), Some(*value));
        }
        assert_eq!(Role::from_name(""), None);
        assert_eq!(
            Role::from_name(&STORED[0].1.to_uppercase()),
            None,
            "names are exact"
        );
    }
}
