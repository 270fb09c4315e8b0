//! Sharding a suite: `--partition k/n` picks a deterministic subset of the
//! scenarios, so that n CI jobs together run every scenario exactly once.
//!
//! The choice depends only on the scenario id (a stable FNV-1a hash written
//! out here, never std's randomly seeded hasher), so it is the same on every
//! machine, every run and every Rust version. It must not depend on the order
//! or number of scenarios: adding a scenario never moves the others.
//!
//! Pass the scenario id from the file (`ScenarioReport::scenario`), not the
//! matrix case id, so that every case of a matrix scenario lands in the same
//! shard.

use std::fmt;
use std::str::FromStr;

/// Shard `k` of `n` (1-based: `1/3`, `2/3`, `3/3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Partition {
    pub k: u32,
    pub n: u32,
}

/// A `--partition` value that is not `k/n` with `1 <= k <= n`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid partition `{input}`: {kind}")]
pub struct PartitionError {
    pub input: String,
    pub kind: PartitionErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartitionErrorKind {
    #[error("expected `k/n`, e.g. `1/3`")]
    Shape,
    #[error("`{0}` is not a positive whole number")]
    Number(String),
    #[error("n must be at least 1")]
    ZeroShards,
    #[error("k must be between 1 and n ({n}), got {k}")]
    OutOfRange { k: u32, n: u32 },
}

impl Partition {
    /// Whether the scenario with this id belongs to this shard.
    pub fn contains(&self, scenario_id: &str) -> bool {
        in_partition(scenario_id, self.k, self.n)
    }
}

impl FromStr for Partition {
    type Err = PartitionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |kind| PartitionError {
            input: s.to_owned(),
            kind,
        };
        let (k, n) = s
            .trim()
            .split_once('/')
            .ok_or(err(PartitionErrorKind::Shape))?;
        let num = |t: &str| {
            let t = t.trim();
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err(PartitionErrorKind::Number(t.to_owned())));
            }
            t.parse::<u32>()
                .map_err(|_| err(PartitionErrorKind::Number(t.to_owned())))
        };
        let (k, n) = (num(k)?, num(n)?);
        if n == 0 {
            return Err(err(PartitionErrorKind::ZeroShards));
        }
        if k == 0 || k > n {
            return Err(err(PartitionErrorKind::OutOfRange { k, n }));
        }
        Ok(Partition { k, n })
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

/// Whether `id` falls in shard `k` of `n` (1-based). Out-of-range `k` or
/// `n == 0` select nothing; parse with [`Partition::from_str`] to report them.
pub fn in_partition(id: &str, k: u32, n: u32) -> bool {
    if n == 0 || k == 0 || k > n {
        return false;
    }
    fnv1a64(id.as_bytes()) % u64::from(n) == u64::from(k - 1)
}

/// 64-bit FNV-1a: tiny, stable across platforms and releases, and good
/// enough to spread ids evenly; no crate needed for it.
fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_the_published_test_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn every_id_is_in_exactly_one_shard() {
        for n in 1..=7 {
            for i in 0..200 {
                let id = format!("area-{}/scenario-{i}", i % 5);
                let hits = (1..=n).filter(|&k| in_partition(&id, k, n)).count();
                assert_eq!(hits, 1, "{id} with n={n}");
            }
        }
    }

    #[test]
    fn shards_are_roughly_even() {
        let counts: Vec<usize> = (1..=4)
            .map(|k| {
                (0..400)
                    .filter(|i| in_partition(&format!("lifetimes/lt-{i}"), k, 4))
                    .count()
            })
            .collect();
        assert!(counts.iter().all(|&c| c > 60), "{counts:?}");
    }

    #[test]
    fn choice_is_stable() {
        // Pinned: changing the hash would reshuffle every CI's shards.
        let ids = [
            "lifetimes/lt5-expiry-boundary",
            "header-precedence/hp2",
            "x",
        ];
        let shards: Vec<u32> = ids
            .iter()
            .map(|id| (1..=3).find(|&k| in_partition(id, k, 3)).unwrap())
            .collect();
        assert_eq!(shards, [2, 1, 3]);
    }

    #[test]
    fn parses_and_rejects() {
        assert_eq!("2/3".parse(), Ok(Partition { k: 2, n: 3 }));
        assert_eq!(" 1 / 1 ".parse(), Ok(Partition { k: 1, n: 1 }));
        assert_eq!(Partition { k: 2, n: 3 }.to_string(), "2/3");
        let kind = |s: &str| s.parse::<Partition>().unwrap_err().kind;
        assert_eq!(kind("3"), PartitionErrorKind::Shape);
        assert_eq!(kind("a/3"), PartitionErrorKind::Number("a".into()));
        assert_eq!(kind("-1/3"), PartitionErrorKind::Number("-1".into()));
        assert_eq!(kind("1/0"), PartitionErrorKind::ZeroShards);
        assert_eq!(kind("0/3"), PartitionErrorKind::OutOfRange { k: 0, n: 3 });
        assert_eq!(kind("4/3"), PartitionErrorKind::OutOfRange { k: 4, n: 3 });
        let msg = "4/3".parse::<Partition>().unwrap_err().to_string();
        assert_eq!(
            msg,
            "invalid partition `4/3`: k must be between 1 and n (3), got 4"
        );
    }
}
