//! Room in a bounded cache: the eviction rule the role cache and the verified-token cache
//! share.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;

/// Makes room in `entries` for `key` under `capacity`: when it is full and `key` is new,
/// the entries `live` rejects (expired ones) are dropped first, and if that frees
/// nothing, all of them, so a cache never grows past `capacity` and never keeps an entry
/// past its expiry to make room.
pub(crate) fn make_room<K, V, Q>(
    entries: &mut HashMap<K, V>,
    key: &Q,
    capacity: usize,
    mut live: impl FnMut(&V) -> bool,
) where
    K: Eq + Hash + Borrow<Q>,
    Q: Eq + Hash + ?Sized,
{
    if entries.len() >= capacity && !entries.contains_key(key) {
        entries.retain(|_, v| live(v));
        if entries.len() >= capacity {
            entries.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_entries_go_first_then_all() {
        // value: whether the entry is still live
        let mut m: HashMap<u8, bool> = HashMap::from([(1, true), (2, false), (3, true)]);
        make_room(&mut m, &1, 3, |v| *v);
        assert_eq!(m.len(), 3, "an existing key needs no room");
        make_room(&mut m, &4, 3, |v| *v);
        assert_eq!(m.len(), 2, "the expired entry went: {m:?}");
        assert!(!m.contains_key(&2));
        m.insert(4, true);
        make_room(&mut m, &5, 3, |v| *v);
        assert!(m.is_empty(), "none expired, all go");
        make_room(&mut m, &6, 3, |v| *v);
        assert!(m.is_empty(), "below capacity nothing goes");
    }
}
