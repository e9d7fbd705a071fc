//! The tenancy tree and who may see what in it.
//!
//! The provider sits at the root; resellers under it; domains (e-mail
//! hosting) or subscribers (messaging) under a reseller or directly under the
//! provider; every data subject hangs from one node. A node's *path* lists
//! the ids from the root (`/p/r/d/`), so "inside my scope" is a prefix test,
//! and in SQL a range scan on an index.

use crate::ids::SubjectId;
use strum::{EnumString, IntoStaticStr, VariantArray};

/// Kinds of node in the tenancy tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, IntoStaticStr, EnumString, VariantArray)]
#[strum(serialize_all = "snake_case")]
pub enum TenantKind {
    /// The provider itself: the root.
    Provider,
    /// A reseller of the provider's services.
    Reseller,
    /// A customer's e-mail domain.
    Domain,
    /// A subscriber of the messaging platform (a merchant).
    Subscriber,
}

impl TenantKind {
    /// Every kind, in declaration order.
    pub const ALL: &'static [TenantKind] = <TenantKind as strum::VariantArray>::VARIANTS;

    /// The stored name.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The kind with a stored name.
    pub fn from_name(name: &str) -> Option<TenantKind> {
        name.parse().ok()
    }

    /// Whether a node of kind `child` may hang directly under `self`.
    pub fn may_contain(self, child: TenantKind) -> bool {
        matches!(
            (self, child),
            (TenantKind::Provider, TenantKind::Reseller)
                | (
                    TenantKind::Provider | TenantKind::Reseller,
                    TenantKind::Domain | TenantKind::Subscriber
                )
        )
    }
}

/// Roles a principal can hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, IntoStaticStr, EnumString, VariantArray)]
#[non_exhaustive]
#[strum(serialize_all = "snake_case")]
pub enum Role {
    /// Runs the instance.
    Administrator,
    /// The data protection officer.
    Dpo,
    /// Provider support staff.
    SupportAgent,
    /// Answers judicial orders; the only role that may query the vault.
    LegalOfficer,
    /// Administers a reseller and its domains.
    ResellerAdmin,
    /// Administers one domain, or is one subscriber.
    DomainAdmin,
    /// A data subject, seeing only itself.
    Subject,
    /// An internal job (retention sweeper, request worker).
    System,
}

/// What part of the tree a principal may see: the nodes under a path, and,
/// for a data subject, only itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    path: String,
    only: Option<SubjectId>,
}

impl Scope {
    /// The whole tree.
    pub fn everything() -> Scope {
        Scope {
            path: "/".to_owned(),
            only: None,
        }
    }

    /// Everything under the node with this path.
    pub fn under(path: &str) -> Scope {
        let mut path = path.to_owned();
        if !path.ends_with('/') {
            path.push('/');
        }
        Scope { path, only: None }
    }

    /// A single subject, within the node it hangs from.
    pub fn subject(path: &str, id: SubjectId) -> Scope {
        Scope {
            only: Some(id),
            ..Scope::under(path)
        }
    }

    /// The path prefix.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The one subject this scope is limited to, if any.
    pub fn only_subject(&self) -> Option<&SubjectId> {
        self.only.as_ref()
    }

    /// Whether a subject hanging at `tenant_path` is visible.
    pub fn covers(&self, tenant_path: &str, subject: &SubjectId) -> bool {
        tenant_path.starts_with(&self.path) && self.only.as_ref().is_none_or(|s| s == subject)
    }

    /// The half-open range `[low, high)` of paths under this scope, for an
    /// index range scan: every path starting with the prefix sorts inside it.
    pub fn path_range(&self) -> (String, String) {
        let mut high = self.path.clone();
        // Paths hold hex digits and '/', so the byte after '/' ('0') bounds them.
        high.pop();
        high.push('0');
        (self.path.clone(), high)
    }
}

/// Someone or something acting on data: who, in which role, over what scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// Stable id for the audit log (`user:...`, `token:...`, `job:...`).
    pub id: String,
    /// The role held.
    pub role: Role,
    /// What it may see.
    pub scope: Scope,
}

impl Principal {
    /// An internal job over the whole tree.
    pub fn system(job: &str) -> Principal {
        Principal {
            id: format!("job:{job}"),
            role: Role::System,
            scope: Scope::everything(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_has_its_shape() {
        assert!(TenantKind::Provider.may_contain(TenantKind::Reseller));
        assert!(TenantKind::Reseller.may_contain(TenantKind::Domain));
        assert!(TenantKind::Provider.may_contain(TenantKind::Subscriber));
        assert!(!TenantKind::Reseller.may_contain(TenantKind::Reseller));
        assert!(!TenantKind::Domain.may_contain(TenantKind::Domain));
    }

    #[test]
    fn policy_files_name_the_same_tenant_kinds() {
        assert_eq!(
            TenantKind::ALL.iter().map(|k| k.name()).collect::<Vec<_>>(),
            custode_policy::TENANT_KINDS
        );
    }

    #[test]
    fn scopes_are_prefixes_and_ranges_agree() {
        let s = SubjectId::generate();
        let reseller = Scope::under("/aa/bb");
        assert!(reseller.covers("/aa/bb/cc/", &s));
        assert!(!reseller.covers("/aa/bbc/", &s));
        assert!(!reseller.covers("/aa/", &s));
        let (low, high) = reseller.path_range();
        for p in ["/aa/bb/", "/aa/bb/cc/", "/aa/bb/ff/ee/"] {
            assert!(p >= low.as_str() && p < high.as_str(), "{p}");
        }
        assert!("/aa/bc/" >= high.as_str());
        let me = Scope::subject("/aa/bb/", s.clone());
        assert!(me.covers("/aa/bb/", &s));
        assert!(!me.covers("/aa/bb/", &SubjectId::generate()));
    }
}

#[cfg(test)]
mod tenant_kind_names {
    use super::*;

    /// The names as the tenants table stores them and policy files name them:
    /// never renamed, whatever the enum becomes.
    const STORED: [(TenantKind, &str); 4] = [
        (TenantKind::Provider, "provider"),
        (TenantKind::Reseller, "reseller"),
        (TenantKind::Domain, "domain"),
        (TenantKind::Subscriber, "subscriber"),
    ];

    #[test]
    fn every_tenant_kind_round_trips_and_keeps_its_name() {
        for (value, name) in STORED {
            assert_eq!(value.name(), name);
            assert_eq!(TenantKind::from_name(name), Some(value));
        }
        for value in TenantKind::ALL {
            assert_eq!(TenantKind::from_name(value.name()), Some(*value));
        }
        assert_eq!(TenantKind::from_name(""), None);
        assert_eq!(
            TenantKind::from_name(&STORED[0].1.to_uppercase()),
            None,
            "names are exact"
        );
    }
}
