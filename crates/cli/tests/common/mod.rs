//! Helpers shared by the CLI tests that read `tests/fixtures/<set>/`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `tests/fixtures/<set>/<rel>`, which must exist (a missing fixture fails the test).
pub fn fixture(set: &str, rel: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(set)
        .join(rel);
    assert!(path.exists(), "{} is missing", path.display());
    path
}

/// Runs the `kerascam` binary with `args`.
pub fn kerascam(args: &[&OsStr]) -> Output {
    Command::new(assert_cmd::cargo::cargo_bin("kerascam"))
        .args(args)
        .output()
        .unwrap()
}
