//! The signed-in callers' roles, remembered for a bounded time (config
//! `database.role_cache_ttl`; off unless set).
//!
//! With a `roles_query`, a signed-in caller's role is read from the database on every call
//! (inside the operation's own statement for queries, see `signed_in.rs`). That lookup is
//! most of what a signed-in call costs beyond an anonymous one. With the cache on, a user
//! id whose role was read less than `ttl` ago runs its role's own statement directly, so a
//! role changed in the database (a user made staff, or removed) is seen within `ttl`,
//! never later. The cache holds at most `capacity` user ids: when full, expired entries
//! are dropped first, and if none expired, the whole cache, so memory stays bounded
//! (about 100 bytes per entry) and no entry outlives `ttl`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Roles by user id, each kept for `ttl` after it was read.
#[derive(Debug)]
pub(crate) struct RoleCache {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<Box<str>, Entry>>,
}

#[derive(Debug)]
struct Entry {
    role: Arc<str>,
    read_at: Instant,
}

impl RoleCache {
    /// A cache keeping each role for `ttl`, at most `capacity` of them; `None` (no cache)
    /// when either is zero.
    pub(crate) fn new(ttl: Option<Duration>, capacity: usize) -> Option<Self> {
        let ttl = ttl.filter(|t| !t.is_zero())?;
        (capacity > 0).then(|| RoleCache {
            ttl,
            capacity,
            entries: Mutex::new(HashMap::new()),
        })
    }

    /// The role read for `user` less than `ttl` ago.
    pub(crate) fn get(&self, user: &str) -> Option<Arc<str>> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = entries.get(user)?;
        (entry.read_at.elapsed() < self.ttl).then(|| entry.role.clone())
    }

    /// Remembers that `user`'s role is `role`, as read just now.
    pub(crate) fn put(&self, user: &str, role: &str) {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        crate::bounded::make_room(&mut entries, user, self.capacity, |e| {
            now.duration_since(e.read_at) < self.ttl
        });
        let role = match entries.get(user) {
            Some(e) if &*e.role == role => e.role.clone(),
            _ => Arc::from(role),
        };
        entries.insert(Box::from(user), Entry { role, read_at: now });
    }

    /// How many user ids it holds (expired ones included until they are dropped).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_without_a_ttl_or_room() {
        assert!(RoleCache::new(None, 10).is_none());
        assert!(RoleCache::new(Some(Duration::ZERO), 10).is_none());
        assert!(RoleCache::new(Some(Duration::from_secs(1)), 0).is_none());
    }

    #[test]
    fn a_role_expires_after_its_ttl() {
        let cache = RoleCache::new(Some(Duration::from_millis(50)), 10).expect("on");
        assert_eq!(cache.get("7"), None);
        cache.put("7", "staff");
        assert_eq!(cache.get("7").as_deref(), Some("staff"));
        cache.put("7", "user");
        assert_eq!(cache.get("7").as_deref(), Some("user"));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(cache.get("7"), None);
    }

    #[test]
    fn stays_within_its_capacity() {
        let cache = RoleCache::new(Some(Duration::from_secs(60)), 3).expect("on");
        for user in 0..10 {
            cache.put(&user.to_string(), "user");
            assert!(cache.len() <= 3);
        }
        // The newest is always kept.
        assert_eq!(cache.get("9").as_deref(), Some("user"));
    }
}
