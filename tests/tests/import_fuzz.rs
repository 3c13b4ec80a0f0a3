//! Robustness of the importer against hostile bytes: arbitrary data, real model files cut and
//! bit-flipped, `.keras` archives re-packed around a damaged member, and zip headers whose sizes
//! lie. Every input must end in `Ok` or a typed error naming the file: never a panic, and never
//! a hang (each load is timed; the generous bound only detects a runaway loop, it is not a
//! performance requirement).
//!
//! Seeds: the small files in crates/keras-import/tests/fixtures (always present) plus the small
//! model and bad files of the conformance corpus when it is available.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use keras_import::load_model_from_bytes;
use kerascam_tests::corpus;
use proptest::prelude::*;

/// A load taking longer than this is reported as a hang.
const HANG_BOUND: Duration = Duration::from_secs(5);
/// Corpus files larger than this are not used as seeds (to keep the suite fast).
const MAX_SEED_BYTES: u64 = 200_000;
/// The name passed to the importer; every error message must start with it.
const FILE: &str = "fuzzed.bin";

/// The seed files: (name, bytes).
fn seeds() -> &'static [(String, Vec<u8>)] {
    static SEEDS: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let root = corpus::workspace_root();
        // The tutorial fixtures bring Pipeline, CLAHE and the preprocessing layers' fields.
        let mut folders = vec![
            root.join("crates/keras-import/tests/fixtures"),
            root.join("tests/fixtures/tutorials/models"),
        ];
        if let Some(dir) = corpus::conformance_dir() {
            folders.push(dir.join("models"));
            folders.push(dir.join("bad"));
        }
        let mut seeds: Vec<(String, Vec<u8>)> = folders
            .iter()
            .flat_map(|folder| std::fs::read_dir(folder).into_iter().flatten().flatten())
            .map(|entry| entry.path())
            .filter(|p| is_model_file(p))
            .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() <= MAX_SEED_BYTES))
            .filter_map(|p| Some((p.display().to_string(), std::fs::read(&p).ok()?)))
            .collect();
        seeds.sort();
        assert!(!seeds.is_empty(), "no seed files found");
        seeds
    })
}

fn is_model_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "keras" || e == "h5")
}

/// The `.keras` seeds (zip archives).
fn zip_seeds() -> Vec<&'static (String, Vec<u8>)> {
    seeds()
        .iter()
        .filter(|(_, b)| b.starts_with(b"PK\x03\x04"))
        .collect()
}

/// Loads `bytes`, failing on a panic, a hang, or an error message that does not name the file.
fn check(bytes: &[u8], origin: &str) -> Result<(), TestCaseError> {
    let start = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(|| load_model_from_bytes(bytes, FILE)));
    let elapsed = start.elapsed();
    prop_assert!(
        elapsed < HANG_BOUND,
        "{origin}: load took {elapsed:?} ({} bytes)",
        bytes.len()
    );
    match outcome {
        Err(_) => Err(TestCaseError::fail(format!(
            "{origin}: the importer panicked on {} bytes",
            bytes.len()
        ))),
        Ok(Err(e)) => {
            prop_assert!(e.to_string().starts_with(FILE), "{origin}: {e}");
            Ok(())
        }
        Ok(Ok(_)) => Ok(()),
    }
}

/// Applies byte overwrites (positions as fractions of the length) and an optional cut.
fn mutate(bytes: &[u8], flips: &[(f64, u8)], cut: Option<f64>) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let len = out.len();
    for &(at, value) in flips {
        if let Some(b) = out.get_mut(((len as f64) * at) as usize) {
            *b = value;
        }
    }
    if let Some(cut) = cut {
        out.truncate(((len as f64) * cut) as usize);
    }
    out
}

/// The stored members of a `.keras` archive, read from its local file headers.
fn stored_members(zip: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let u16_at = |i: usize| {
        zip.get(i..i + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
    };
    let u32_at = |i: usize| {
        zip.get(i..i + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let mut members = Vec::new();
    let mut at = 0;
    while zip.get(at..at + 4) == Some(b"PK\x03\x04") {
        let (Some(size), Some(name_len), Some(extra_len)) =
            (u32_at(at + 18), u16_at(at + 26), u16_at(at + 28))
        else {
            break;
        };
        let name_start = at + 30;
        let data_start = name_start + name_len + extra_len;
        let (Some(name), Some(data)) = (
            zip.get(name_start..name_start + name_len),
            zip.get(data_start..data_start + size),
        ) else {
            break;
        };
        members.push((name.to_vec(), data.to_vec()));
        at = data_start + size;
    }
    members
}

/// Writes a zip archive of stored members with correct CRCs and sizes.
fn stored_zip(members: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in members {
        let mut crc = flate2::Crc::new();
        crc.update(data);
        let offset = out.len() as u32;
        let fixed = |sig: &[u8], out: &mut Vec<u8>| {
            out.extend_from_slice(sig);
            out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]); // version, flags, stored, time, date
            out.extend_from_slice(&crc.sum().to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&[0, 0]); // extra length
        };
        fixed(b"PK\x03\x04", &mut out);
        out.extend_from_slice(name);
        out.extend_from_slice(data);
        central.extend_from_slice(b"PK\x01\x02\x14\x00");
        fixed(&[], &mut central);
        central.extend_from_slice(&[0; 8]); // comment length, disk, internal and external attrs
        central.extend_from_slice(&[0; 2]);
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name);
    }
    let central_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06\0\0\0\0");
    out.extend_from_slice(&(members.len() as u16).to_le_bytes());
    out.extend_from_slice(&(members.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&central_offset.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out
}

#[test]
fn repacking_an_archive_unchanged_still_loads() {
    for (name, bytes) in zip_seeds() {
        let members = stored_members(bytes);
        if members.iter().all(|(n, _)| n != b"config.json") {
            continue;
        }
        let original = load_model_from_bytes(bytes, name).map(|m| m.graph.weights);
        let repacked = load_model_from_bytes(&stored_zip(&members), name).map(|m| m.graph.weights);
        match (original, repacked) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{name}"),
            (Err(a), Err(b)) => assert_eq!(a.kind(), b.kind(), "{name}"),
            (a, b) => panic!("{name}: {a:?} vs {b:?}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(
        prefix in prop_oneof![Just(&b""[..]), Just(&b"PK\x03\x04"[..]), Just(&b"\x89HDF\r\n\x1a\n"[..])],
        body in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        let mut bytes = prefix.to_vec();
        bytes.extend_from_slice(&body);
        check(&bytes, "arbitrary bytes")?;
    }

    #[test]
    fn damaged_real_files_never_panic(
        seed in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((0.0f64..1.0, any::<u8>()), 0..8),
        cut in proptest::option::of(0.0f64..1.0),
    ) {
        let (name, bytes) = seed.get(seeds());
        check(&mutate(bytes, &flips, cut), name)?;
    }

    #[test]
    fn archives_with_a_damaged_member_never_panic(
        seed in any::<prop::sample::Index>(),
        member in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((0.0f64..1.0, any::<u8>()), 1..8),
        cut in proptest::option::of(0.0f64..1.0),
    ) {
        let zips = zip_seeds();
        let (name, bytes) = seed.get(&zips);
        let mut members = stored_members(bytes);
        if !members.is_empty() {
            let i = member.index(members.len());
            members[i].1 = mutate(&members[i].1, &flips, cut);
        }
        check(&stored_zip(&members), name)?;
    }

    #[test]
    fn zip_headers_with_lying_sizes_never_panic(
        seed in any::<prop::sample::Index>(),
        entry in any::<prop::sample::Index>(),
        size in prop_oneof![Just(u32::MAX), Just(0u32), any::<u32>()],
        local in any::<bool>(),
    ) {
        let zips = zip_seeds();
        let (name, bytes) = seed.get(&zips);
        let signature: &[u8] = if local { b"PK\x03\x04" } else { b"PK\x01\x02" };
        let size_field = if local { 22 } else { 24 };
        let headers: Vec<usize> = bytes
            .windows(4)
            .enumerate()
            .filter(|(_, w)| *w == signature)
            .map(|(i, _)| i)
            .collect();
        let mut lying = bytes.clone();
        if !headers.is_empty() {
            let at = headers[entry.index(headers.len())] + size_field;
            if let Some(field) = lying.get_mut(at..at + 4) {
                field.copy_from_slice(&size.to_le_bytes());
            }
        }
        check(&lying, name)?;
    }
}
