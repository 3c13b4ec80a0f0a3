//! `--resume`: which photos an earlier run finished, and where its file stops being whole.
//!
//! A photo is done when the line that closes it (`target_index + 1 == targets`) is complete.
//! The file is kept up to the end of the last such line; anything after it (a cut-off line,
//! or the first lines of a photo whose last line is missing) is cut off, and that photo is
//! done again. Every kept line must carry this model's SHA-256 and these options: results of
//! another model or other options are refused, since one report cannot mix them.

use std::collections::HashSet;
use std::path::Path;

use serde::Deserialize;

use super::lines;
use crate::digest::key64;
use crate::error::{CliError, Result};

/// What an earlier run left.
#[derive(Debug, Default)]
pub struct Previous {
    /// Keys (`digest::key64` of the image path) of the photos done.
    pub done: HashSet<u64>,
    /// Bytes of the file to keep.
    pub keep: u64,
}

impl Previous {
    /// Whether the photo at `image` (as written in the `image` field) is done.
    pub fn is_done(&self, image: &str) -> bool {
        self.done.contains(&key64(image.as_bytes()))
    }
}

/// The fields of a line that resuming reads.
#[derive(Debug, Deserialize)]
struct Stamp {
    image: String,
    model_sha256: String,
    options: serde_json::Value,
    target_index: usize,
    targets: usize,
}

/// Reads `path` (absent: nothing done) for a run of the model `sha256` with `options`.
pub fn scan(path: &Path, sha256: &str, options: &serde_json::Value) -> Result<Previous> {
    let mut previous = Previous::default();
    if !path.exists() {
        return Ok(previous);
    }
    let mut number = 0;
    lines::for_each_complete_line(path, |line, end| {
        number += 1;
        let stamp: Stamp = lines::parse(path, number, line)?;
        if stamp.model_sha256 != sha256 {
            return Err(CliError::Usage(format!(
                "{}:{number}: results of another model (sha256 {}), not of this one ({sha256}); choose another --out or remove the file",
                path.display(),
                stamp.model_sha256
            )));
        }
        if &stamp.options != options {
            return Err(CliError::Usage(format!(
                "{}:{number}: results made with other options ({}), not these ({options}); choose another --out or remove the file",
                path.display(),
                stamp.options
            )));
        }
        if stamp.target_index + 1 == stamp.targets {
            previous.done.insert(key64(stamp.image.as_bytes()));
            previous.keep = end;
        }
        Ok(())
    })?;
    Ok(previous)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(image: &str, sha: &str, index: usize, targets: usize) -> String {
        serde_json::json!({
            "image": image, "model_sha256": sha, "options": {"top_k": 2},
            "target_index": index, "targets": targets,
        })
        .to_string()
    }

    #[test]
    fn keeps_whole_photos_and_cuts_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("results.jsonl");
        let whole = format!(
            "{}\n{}\n",
            line("a.png", "m", 0, 2),
            line("a.png", "m", 1, 2)
        );
        // b.png's first line is whole, its second was cut off by a kill.
        let cut = format!(
            "{}\n{}",
            line("b.png", "m", 0, 2),
            &line("b.png", "m", 1, 2)[..9]
        );
        std::fs::write(&file, format!("{whole}{cut}")).unwrap();
        let options = serde_json::json!({"top_k": 2});
        let previous = scan(&file, "m", &options).unwrap();
        assert!(previous.is_done("a.png"));
        assert!(!previous.is_done("b.png"));
        assert_eq!(previous.keep, whole.len() as u64);

        let other_model = scan(&file, "n", &options).unwrap_err().to_string();
        assert!(other_model.contains("results.jsonl:1: results of another model (sha256 m)"));
        let other_options = scan(&file, "m", &serde_json::json!({"top_k": 1})).unwrap_err();
        assert!(other_options.to_string().contains("other options"));
        let missing = scan(&dir.path().join("none.jsonl"), "m", &options).unwrap();
        assert!(missing.done.is_empty() && missing.keep == 0);
    }
}
