//! What a consent was given to. A purpose's digest covers what the subject
//! agreed to — the categories, the recipients (with their country and
//! safeguard) and the retention — so a new policy version that changes any
//! of them invalidates consents given against the old one, while a change
//! elsewhere in the policy (a typo in another purpose) does not.

use std::collections::BTreeMap;

use custode_policy::{Policy, Purpose};
use serde_json::json;
use sha2::{Digest, Sha256};

/// The digest of one purpose of a policy, in hexadecimal.
pub fn purpose_digest(policy: &Policy, purpose: &Purpose) -> String {
    let mut categories: Vec<&str> = purpose
        .categories
        .iter()
        .map(|c| c.value.as_str())
        .collect();
    categories.sort_unstable();
    let mut recipients: Vec<serde_json::Value> = purpose
        .recipients
        .iter()
        .map(|r| match policy.recipient(&r.value) {
            Some(rec) => json!([
                rec.id.value,
                rec.role.key(),
                rec.country,
                rec.safeguard.map(|s| s.key())
            ]),
            None => json!([r.value]),
        })
        .collect();
    recipients.sort_by_key(|v| v.to_string());
    let canonical = json!({
        "purpose": purpose.id.value,
        "basis": purpose.basis.key(),
        "categories": categories,
        "recipients": recipients,
        "retention": [
            purpose.retention.from.key(),
            purpose.retention.keep.amount,
            purpose.retention.keep.unit.key()
        ],
    });
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// The digest of every purpose of a policy, by purpose id.
pub fn purpose_digests(policy: &Policy) -> BTreeMap<String, String> {
    policy
        .purposes
        .iter()
        .map(|p| (p.id.value.clone(), purpose_digest(policy, p)))
        .collect()
}

/// The consent purposes of `new` whose digest differs from `old`'s: consents
/// given to them before must be asked again. A purpose new in `new` has no
/// consents yet, so it is not listed.
pub fn changed_consent_purposes(old: &Policy, new: &Policy) -> Vec<String> {
    let before = purpose_digests(old);
    new.purposes
        .iter()
        .filter(|p| p.basis == custode_policy::Basis::Consent)
        .filter(|p| {
            before
                .get(&p.id.value)
                .is_some_and(|d| *d != purpose_digest(new, p))
        })
        .map(|p| p.id.value.clone())
        .collect()
}
