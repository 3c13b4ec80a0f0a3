//! Locating the conformance corpus (`../shared/conformance` by default, or
//! `$KERASCAM_CONFORMANCE`) and the repository's fixtures, and reading their manifests.

use std::path::{Path, PathBuf};

use crate::manifest::{read_json, FixturesManifest, Manifest};

/// Environment variable naming the corpus folder.
pub const CORPUS_ENV: &str = "KERASCAM_CONFORMANCE";
/// Environment variable that, when `1`, turns a missing corpus into a test failure (set by CI).
pub const REQUIRE_ENV: &str = "KERASCAM_REQUIRE_CONFORMANCE";

/// The workspace root (the folder holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The corpus folder, or `None` when it is absent and not required.
///
/// # Panics
/// When the corpus is absent and `KERASCAM_REQUIRE_CONFORMANCE=1`: in CI a missing corpus must
/// fail the run rather than pass it silently.
pub fn conformance_dir() -> Option<PathBuf> {
    let dir = std::env::var_os(CORPUS_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared/conformance"));
    if dir.join("manifest.json").is_file() {
        return Some(dir);
    }
    if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") {
        panic!(
            "conformance corpus not found at {} ({REQUIRE_ENV}=1)",
            dir.display()
        );
    }
    eprintln!(
        "skipped: conformance corpus not found at {} (set {CORPUS_ENV})",
        dir.display()
    );
    None
}

/// The parsed `manifest.json` of the corpus, with the corpus folder, or `None` when the corpus
/// is absent and not required.
///
/// # Panics
/// When the manifest does not match [`Manifest`] (the message names the file).
pub fn manifest() -> Option<(PathBuf, Manifest)> {
    let dir = conformance_dir()?;
    let manifest = read_json(&dir.join("manifest.json"));
    Some((dir, manifest))
}

/// The repository's fixtures folder (`tests/fixtures`) and its parsed `manifest.json`.
///
/// # Panics
/// When the manifest is missing or does not match [`FixturesManifest`].
pub fn fixtures() -> (PathBuf, FixturesManifest) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let manifest = read_json(&dir.join("manifest.json"));
    (dir, manifest)
}

/// `tests/fixtures/AREA` and its `manifest.json` as JSON; panics naming the file (and the
/// generate.py that makes it) when it is missing or does not parse.
pub fn fixture_manifest(area: &str) -> (PathBuf, serde_json::Value) {
    let dir = workspace_root().join("tests/fixtures").join(area);
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run generate.py there)", path.display()));
    let manifest =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (dir, manifest)
}

/// Reads a corpus config file (`.json` or gzip-compressed `.json.gz`) as text.
pub fn read_config_text(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if path.extension().is_some_and(|e| e == "gz") {
        use std::io::Read;
        let mut text = String::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_string(&mut text)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        text
    } else {
        String::from_utf8(bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
}
