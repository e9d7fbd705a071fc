//! In-memory limits on failed authentications, and who the client is.
//!
//! Two tables, each bounded whatever the callers send: failed logins per
//! user name and failed credentials per client address. Keys are keyed
//! hashes of fixed size (a 4 MiB user name costs what a short one does),
//! each key keeps at most its limit of failure times, entries expire with
//! the window, and past a fixed number of keys the stalest goes. Each
//! instance counts its own.
//!
//! A valid credential is never refused here: the address limit answers 429
//! only to further failures, so one client guessing behind a proxy or NAT
//! cannot lock out the valid ones sharing its address.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// A fixed-size key: the first 16 bytes of a salted SHA-256.
type Key = [u8; 16];

/// Failure times per key, bounded in keys and in times per key.
struct Table {
    failures: Mutex<HashMap<Key, VecDeque<Instant>>>,
    limit: usize,
    capacity: usize,
}

impl Table {
    fn new(limit: usize, capacity: usize) -> Self {
        Table {
            failures: Mutex::new(HashMap::new()),
            limit,
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, VecDeque<Instant>>> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How long until the key may fail again, when it reached its limit.
    fn blocked_for(&self, key: &Key) -> Option<Duration> {
        let mut map = self.lock();
        let list = map.get_mut(key)?;
        recent(list);
        if list.is_empty() {
            map.remove(key);
            return None;
        }
        (list.len() >= self.limit).then(|| {
            list.front().map_or(Attempts::WINDOW, |t| {
                Attempts::WINDOW.saturating_sub(t.elapsed())
            })
        })
    }

    fn fail(&self, key: Key) {
        let mut map = self.lock();
        if !map.contains_key(&key) && map.len() >= self.capacity {
            // Full: first forget what has expired; if every entry is
            // recent, the one whose last failure is oldest goes.
            map.retain(|_, list| {
                recent(list);
                !list.is_empty()
            });
            if map.len() >= self.capacity {
                let stalest = map
                    .iter()
                    .min_by_key(|(_, list)| list.back().copied())
                    .map(|(k, _)| *k);
                if let Some(k) = stalest {
                    map.remove(&k);
                }
            }
        }
        let list = map.entry(key).or_default();
        recent(list);
        // Only the last `limit` failures matter for the answer.
        while list.len() >= self.limit {
            list.pop_front();
        }
        list.push_back(Instant::now());
    }

    fn clear(&self, key: &Key) {
        self.lock().remove(key);
    }

    fn len(&self) -> usize {
        self.lock().len()
    }
}

fn recent(list: &mut VecDeque<Instant>) {
    while list
        .front()
        .is_some_and(|t| t.elapsed() >= Attempts::WINDOW)
    {
        list.pop_front();
    }
}

/// Failed logins per user name and failed credentials per client address.
pub struct Attempts {
    salt: [u8; 16],
    users: Table,
    addresses: Table,
}

impl Default for Attempts {
    fn default() -> Self {
        Attempts::with_capacity(Attempts::CAPACITY)
    }
}

impl Attempts {
    /// Failed logins allowed per user name in a window.
    pub const LIMIT: usize = 5;
    /// Failed token or session authentications allowed per client address
    /// in a window; past it, further failures answer 429.
    pub const ADDRESS_LIMIT: usize = 30;
    /// The window.
    pub const WINDOW: Duration = Duration::from_secs(15 * 60);
    /// Keys each table holds at most (about 200 bytes each).
    pub const CAPACITY: usize = 10_000;

    /// Tables of at most `capacity` keys each.
    pub fn with_capacity(capacity: usize) -> Self {
        // A random salt per instance: nobody can aim names at one bucket.
        let salt = custode_crypto::random_bytes::<16>().unwrap_or_else(|_| {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            t.to_le_bytes()
        });
        Attempts {
            salt,
            users: Table::new(Self::LIMIT, capacity.max(1)),
            addresses: Table::new(Self::ADDRESS_LIMIT, capacity.max(1)),
        }
    }

    fn key(&self, kind: &[u8], value: &[u8]) -> Key {
        let digest = Sha256::new()
            .chain_update(self.salt)
            .chain_update(kind)
            .chain_update(value)
            .finalize();
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        key
    }

    fn user_key(&self, username: &str) -> Key {
        self.key(b"user\0", username.trim().to_lowercase().as_bytes())
    }

    fn address_key(&self, ip: IpAddr) -> Key {
        self.key(b"ip\0", ip.to_string().as_bytes())
    }

    /// Refuses a login for a user name that failed too often.
    pub fn check_user(&self, username: &str) -> Result<(), ApiError> {
        match self.users.blocked_for(&self.user_key(username)) {
            None => Ok(()),
            Some(wait) => Err(too_many(
                "Too many failed logins",
                format!(
                    "too many failed logins for this user name: try again in {} minutes",
                    minutes(wait)
                ),
            )),
        }
    }

    /// Counts a failed login for a user name.
    pub fn fail_user(&self, username: &str) {
        self.users.fail(self.user_key(username));
    }

    /// Forgets a user name's failures (after a successful login).
    pub fn clear_user(&self, username: &str) {
        self.users.clear(&self.user_key(username));
    }

    /// Counts a failed credential from an address, and says whether the
    /// address is past its limit: then the failure answers 429 instead of
    /// 401. Never asked before checking a credential, so a valid one from
    /// the same address still works.
    pub fn fail_address(&self, ip: IpAddr) -> Result<(), ApiError> {
        let key = self.address_key(ip);
        if let Some(wait) = self.addresses.blocked_for(&key) {
            return Err(too_many(
                "Too many failed authentications",
                format!(
                    "too many invalid tokens or sessions from your address: further failures are refused for {} minutes; valid credentials still work",
                    minutes(wait)
                ),
            ));
        }
        self.addresses.fail(key);
        Ok(())
    }

    /// User names with failures held now (at most the capacity).
    pub fn users_len(&self) -> usize {
        self.users.len()
    }

    /// Addresses with failures held now (at most the capacity).
    pub fn addresses_len(&self) -> usize {
        self.addresses.len()
    }
}

fn minutes(wait: Duration) -> u64 {
    wait.as_secs() / 60 + 1
}

fn too_many(title: &'static str, detail: String) -> ApiError {
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, title, detail)
}

/// The client's address: the peer's, or, when the peer is a trusted proxy,
/// the right-most address of `X-Forwarded-For` that is not a trusted proxy
/// (the left part of that header is whatever the client wrote, never
/// trusted). `None` when the connection's address is unknown.
pub fn client_ip(parts: &Parts, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let hops: Vec<&str> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => continue,
            Ok(ip) => return Some(ip),
            // A hop that is no address: the proxy's own view is all that
            // is known.
            Err(_) => return Some(peer),
        }
    }
    Some(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_long_user_names_stay_under_the_cap() {
        let attempts = Attempts::with_capacity(64);
        let long = "x".repeat(1 << 20);
        for i in 0..300 {
            attempts.fail_user(&format!("{i}{long}"));
            assert!(attempts.users_len() <= 64);
        }
        assert_eq!(attempts.users_len(), 64);
        // The latest names are still counted.
        for _ in 0..Attempts::LIMIT {
            attempts.fail_user(&format!("299{long}"));
        }
        assert!(attempts.check_user(&format!("299{long}")).is_err());
    }

    #[test]
    fn a_user_name_is_limited_after_its_failures() {
        let attempts = Attempts::default();
        for _ in 0..Attempts::LIMIT {
            assert!(attempts.check_user("Dora").is_ok());
            attempts.fail_user("dora ");
        }
        let e = attempts.check_user("dora").expect_err("limited");
        let answer = axum::response::IntoResponse::into_response(e);
        assert_eq!(answer.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(attempts.check_user("sam").is_ok());
        attempts.clear_user("DORA");
        assert!(attempts.check_user("dora").is_ok());
    }

    fn parts(peer: &str, forwarded: &[&str]) -> Parts {
        let mut req = axum::http::Request::builder();
        for f in forwarded {
            req = req.header("x-forwarded-for", *f);
        }
        let (mut parts, ()) = req.body(()).expect("request").into_parts();
        parts.extensions.insert(axum::extract::ConnectInfo(
            peer.parse::<SocketAddr>().expect("addr"),
        ));
        parts
    }

    #[test]
    fn the_forwarded_address_counts_only_from_a_trusted_proxy() {
        let proxy: IpAddr = "10.0.0.1".parse().expect("ip");
        let ip = |s: &str| Some(s.parse::<IpAddr>().expect("ip"));
        // Not from the proxy: the header is ignored.
        assert_eq!(
            client_ip(&parts("192.0.2.7:1", &["198.51.100.1"]), &[proxy]),
            ip("192.0.2.7")
        );
        // No proxy configured: ignored too.
        assert_eq!(
            client_ip(&parts("10.0.0.1:1", &["198.51.100.1"]), &[]),
            ip("10.0.0.1")
        );
        // From the proxy: the right-most hop it did not add itself; what
        // the client wrote on the left is not believed.
        assert_eq!(
            client_ip(
                &parts("10.0.0.1:1", &["203.0.113.9, 198.51.100.1"]),
                &[proxy]
            ),
            ip("198.51.100.1")
        );
        assert_eq!(
            client_ip(
                &parts("10.0.0.1:1", &["203.0.113.9", "198.51.100.1, 10.0.0.1"]),
                &[proxy]
            ),
            ip("198.51.100.1")
        );
        // No header, or garbage: the proxy's address.
        assert_eq!(
            client_ip(&parts("10.0.0.1:1", &[]), &[proxy]),
            ip("10.0.0.1")
        );
        assert_eq!(
            client_ip(&parts("10.0.0.1:1", &["nonsense"]), &[proxy]),
            ip("10.0.0.1")
        );
    }
}
