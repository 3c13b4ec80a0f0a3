//! `OUT/results.jsonl`: one JSON line per photo and explained class, appended as results are
//! made, so that a run can be resumed, shards merged and a report rebuilt from it.
//!
//! Each line is the `--json` record plus the dataset fields below. The lines of one photo are
//! written together in one `write` call; see `lines` for what an interrupted run leaves and
//! `resume` for how a run continues one.

pub mod lines;
pub mod resume;

use std::cell::OnceCell;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{CliError, Result};
use crate::explain::ExplainRecord;

/// The file name of the results inside the output folder.
pub const FILE_NAME: &str = "results.jsonl";

/// What a dataset run adds to each line.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetFields {
    /// The class of the photo's folder (`--labels-from-folders`).
    pub true_class: Option<usize>,
    /// Its name.
    pub true_label: Option<String>,
    /// Whether the most probable class is the true class.
    pub correct: Option<bool>,
    /// Share of the heatmap's mass in the photo's outer 10% border.
    pub border_mass: Option<f32>,
    /// Share of the heatmap's mass inside the photo's box (`--boxes`).
    pub box_mass: Option<f32>,
    /// The report thumbnail, relative to the output folder (`--report`).
    pub thumbnail: Option<String>,
    /// Which of the photo's explained classes this line is (0 first).
    pub target_index: usize,
    /// How many classes are explained per photo.
    pub targets: usize,
    /// SHA-256 of the model file.
    pub model_sha256: String,
    /// The options that change results.
    pub options: serde_json::Value,
}

/// One line: the record and the dataset fields side by side in one object.
#[derive(Debug, Serialize)]
pub struct ResultLine<'a> {
    /// The `--json` record.
    #[serde(flatten)]
    pub record: &'a ExplainRecord,
    /// The dataset fields.
    #[serde(flatten)]
    pub dataset: &'a DatasetFields,
}

/// The results file of a run, open for appending. It is created with the first photo's
/// lines, so a run that explains nothing writes nothing; an existing file is cut at once.
#[derive(Debug)]
pub struct ResultsFile {
    file: OnceCell<File>,
    path: PathBuf,
}

impl ResultsFile {
    /// Opens `OUT/results.jsonl`, cut to its first `keep` bytes (0 starts afresh).
    pub fn open(out: &Path, keep: u64) -> Result<ResultsFile> {
        let path = out.join(FILE_NAME);
        let file = OnceCell::new();
        if path.exists() {
            let existing = open_for_append(&path)?;
            existing.set_len(keep).map_err(|e| CliError::io(&path, e))?;
            let _ = file.set(existing);
        }
        Ok(ResultsFile { file, path })
    }

    /// Appends the lines of one photo in one write, so they land together or not at all
    /// (short of the kernel cutting the write, which the reader's rule covers).
    pub fn append_photo(&self, lines: &[String]) -> Result<()> {
        let mut bytes = Vec::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
        for line in lines {
            bytes.extend_from_slice(line.as_bytes());
            bytes.push(b'\n');
        }
        let file = match self.file.get() {
            Some(file) => file,
            None => {
                let created = open_for_append(&self.path)?;
                self.file.get_or_init(|| created)
            }
        };
        (&*file)
            .write_all(&bytes)
            .map_err(|e| CliError::io(&self.path, e))
    }
}

/// `path` opened for appending, created when missing.
fn open_for_append(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| CliError::io(path, e))
}
