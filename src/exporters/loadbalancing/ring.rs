//! The consistent-hash ring, as otelcol-contrib's `consistent_hashing.go`:
//! each endpoint takes up to 100 positions on a circle of 36,000, at the
//! crc32 of its name followed by the position's number; a key goes to the
//! endpoint at the first position at or after the key's crc32. Adding or
//! removing one of N endpoints therefore moves only about 1/N of the keys.

/// Positions on the circle: 360 degrees with two decimals.
const MAX_POSITIONS: u32 = 36_000;
/// Positions per endpoint.
const DEFAULT_WEIGHT: usize = 100;

#[derive(Debug, Clone, Default)]
pub struct Ring {
    /// the endpoints, sorted; ring items refer to them by index
    endpoints: Vec<String>,
    /// (position, endpoint index), sorted by position
    items: Vec<(u32, usize)>,
}

fn position(bytes: &[&[u8]]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    for b in bytes {
        h.update(b);
    }
    h.finalize() % MAX_POSITIONS
}

impl Ring {
    /// A ring of `endpoints` (sorted and deduplicated first, so the ring
    /// depends only on the set). A position already taken stays with the
    /// endpoint that sorts first.
    pub fn new(mut endpoints: Vec<String>) -> Ring {
        endpoints.sort();
        endpoints.dedup();
        let mut taken = std::collections::HashSet::new();
        let mut items = Vec::with_capacity(endpoints.len() * DEFAULT_WEIGHT);
        for (idx, endpoint) in endpoints.iter().enumerate() {
            for i in 0..DEFAULT_WEIGHT {
                let pos = position(&[endpoint.as_bytes(), &[i as u8]]);
                if taken.insert(pos) {
                    items.push((pos, idx));
                }
            }
        }
        items.sort_unstable();
        Ring { endpoints, items }
    }

    pub fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }

    /// The index (into [`Ring::endpoints`]) of the endpoint owning `key`.
    /// Panics on an empty ring: callers check [`Ring::is_empty`].
    pub fn index_for(&self, key: &[u8]) -> usize {
        let pos = position(&[key]);
        let at = self.items.partition_point(|(p, _)| *p < pos);
        self.items.get(at).unwrap_or(&self.items[0]).1
    }

    pub fn endpoint_for(&self, key: &[u8]) -> Option<&str> {
        (!self.is_empty()).then(|| self.endpoints[self.index_for(key)].as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: u32) -> Vec<[u8; 16]> {
        let mut rng = fastrand::Rng::with_seed(7);
        (0..n).map(|_| rng.u128(..).to_be_bytes()).collect()
    }

    fn ring(names: &[&str]) -> Ring {
        Ring::new(names.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn positions_follow_upstream() {
        // crc32("a:4317" ++ [0]) % 36000, computed independently with zlib's crc32.
        let expected = crc32fast::hash(b"a:4317\x00") % 36_000;
        assert_eq!(position(&[b"a:4317", &[0]]), expected);
        let mut want: Vec<u32> =
            (0..100u8).map(|i| crc32fast::hash(&[b"a:4317".as_slice(), &[i]].concat()) % 36_000).collect();
        want.sort_unstable();
        want.dedup();
        let r = ring(&["a:4317"]);
        assert_eq!(r.items.iter().map(|(p, _)| *p).collect::<Vec<_>>(), want);
    }

    #[test]
    fn a_key_goes_to_the_next_position_clockwise() {
        let r = ring(&["a:4317", "b:4317"]);
        for key in keys(200) {
            let pos = position(&[&key]);
            let owner = r.items.iter().find(|(p, _)| *p >= pos).unwrap_or(&r.items[0]).1;
            assert_eq!(r.index_for(&key), owner);
        }
    }

    #[test]
    fn three_backends_share_keys_evenly() {
        let r = ring(&["127.0.0.2:4317", "127.0.0.3:4317", "127.0.0.4:4317"]);
        let mut counts = [0usize; 3];
        for key in keys(30_000) {
            counts[r.index_for(&key)] += 1;
        }
        for c in counts {
            assert!((8_500..=11_500).contains(&c), "uneven split {counts:?}");
        }
    }

    #[test]
    fn removing_one_backend_moves_only_its_keys() {
        let before = ring(&["gw-1:4317", "gw-2:4317", "gw-3:4317"]);
        let after = ring(&["gw-1:4317", "gw-3:4317"]);
        let mut moved = 0;
        for key in keys(30_000) {
            let (b, a) = (before.endpoint_for(&key).unwrap(), after.endpoint_for(&key).unwrap());
            if b != "gw-2:4317" {
                assert_eq!(a, b, "a key of a remaining backend moved");
            } else {
                moved += 1;
            }
        }
        assert!((7_000..=13_000).contains(&moved), "gw-2 owned {moved} of 30000 keys");
    }

    #[test]
    fn adding_a_backend_takes_about_a_quarter_and_from_nobody_else() {
        let before = ring(&["gw-1:4317", "gw-2:4317", "gw-3:4317"]);
        let after = ring(&["gw-1:4317", "gw-2:4317", "gw-3:4317", "gw-4:4317"]);
        let mut moved = 0;
        for key in keys(40_000) {
            let (b, a) = (before.endpoint_for(&key).unwrap(), after.endpoint_for(&key).unwrap());
            if a != b {
                assert_eq!(a, "gw-4:4317", "a key moved between old backends");
                moved += 1;
            }
        }
        assert!((6_000..=14_000).contains(&moved), "gw-4 took {moved} of 40000 keys");
    }

    #[test]
    fn the_ring_depends_only_on_the_set() {
        let a = ring(&["b:1", "a:1", "c:1"]);
        let b = ring(&["c:1", "a:1", "b:1", "a:1"]);
        assert_eq!(a.items, b.items);
        assert_eq!(a.endpoints, b.endpoints);
        assert!(Ring::new(vec![]).endpoint_for(b"x").is_none());
    }
}
