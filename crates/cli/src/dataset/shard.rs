//! `--shard K/N`: a deterministic share of the photos, chosen by path.
//!
//! A photo belongs to shard `1 + h mod N`, where `h` is the first eight bytes (big-endian) of
//! the SHA-256 of its path relative to the input folder, with `/` separators. The choice depends
//! on nothing but that path and N, so every machine of a Slurm array or Kubernetes Indexed Job
//! agrees without talking to the others, shards never overlap, together they take every photo,
//! and adding photos never moves one that was already assigned.

use crate::error::{CliError, Result};

/// Shard K of N (K counted from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardSpec {
    /// This shard, 1..=count.
    pub index: u64,
    /// How many shards there are.
    pub count: u64,
}

impl std::str::FromStr for ShardSpec {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let bad = || format!("--shard {text:?}: expected K/N with 1 <= K <= N, e.g. 2/8");
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let index: u64 = k.trim().parse().map_err(|_| bad())?;
        let count: u64 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(ShardSpec { index, count })
    }
}

impl ShardSpec {
    /// Parses `K/N` into the CLI's usage error.
    pub fn parse(text: &str) -> Result<ShardSpec> {
        text.parse().map_err(CliError::Usage)
    }

    /// Whether the photo at `relative` (its path inside the input folder, `/` separators)
    /// is this shard's.
    pub fn takes(&self, relative: &str) -> bool {
        shard_of(relative, self.count) == self.index
    }
}

/// The shard (1..=count) that owns `relative`.
fn shard_of(relative: &str, count: u64) -> u64 {
    1 + crate::digest::key64(relative.as_bytes()) % count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_k_of_n_and_refuses_the_rest() {
        assert_eq!(
            "2/3".parse::<ShardSpec>().unwrap(),
            ShardSpec { index: 2, count: 3 }
        );
        for bad in ["3/2", "0/2", "1/0", "2", "a/b", "1/2/3", ""] {
            let err = bad.parse::<ShardSpec>().unwrap_err();
            assert!(err.contains("1 <= K <= N"), "{bad}: {err}");
        }
    }

    #[test]
    fn shards_split_every_path_exactly_once_and_evenly() {
        let shards: Vec<ShardSpec> = (1..=3).map(|k| ShardSpec { index: k, count: 3 }).collect();
        let mut sizes = [0usize; 3];
        for i in 0..3000 {
            let path = format!("class{}/photo{i}.jpg", i % 7);
            let owners: Vec<usize> = (0..3).filter(|&s| shards[s].takes(&path)).collect();
            assert_eq!(owners.len(), 1, "{path}");
            sizes[owners[0]] += 1;
        }
        // A fair hash gives each shard 1000 ± a few standard deviations (sd ≈ 26).
        assert!(
            sizes.iter().all(|&n| (880..=1120).contains(&n)),
            "{sizes:?}"
        );
    }

    #[test]
    fn the_owner_is_the_sha256_of_the_relative_path() {
        // Python's int.from_bytes(sha256(path).digest()[:8], "big") % 4 + 1: a change of the
        // rule would reshuffle the photos of running cluster jobs.
        let owners: Vec<u64> = [
            "cat/1.jpg",
            "cat/2.jpg",
            "dog/1.jpg",
            "dog/2.jpg",
            "a/b.png",
        ]
        .iter()
        .map(|p| shard_of(p, 4))
        .collect();
        assert_eq!(owners, [1, 4, 1, 3, 4]);
    }
}
