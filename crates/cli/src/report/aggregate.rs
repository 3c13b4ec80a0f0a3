//! What the report keeps while results stream past: counts and class names, never the rows.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{CliError, Result};

/// The fields of a results.jsonl line that the report reads.
#[derive(Debug, Deserialize)]
pub struct ReportLine {
    /// The photo.
    pub image: String,
    /// The most probable classes, best first.
    pub top_k: Vec<TopClass>,
    /// The folder's class.
    #[serde(default)]
    pub true_class: Option<usize>,
    /// Its name.
    #[serde(default)]
    pub true_label: Option<String>,
    /// Border mass share.
    #[serde(default)]
    pub border_mass: Option<f32>,
    /// Box mass share.
    #[serde(default)]
    pub box_mass: Option<f32>,
    /// Thumbnail, relative to the results' folder.
    #[serde(default)]
    pub thumbnail: Option<String>,
    /// Which explained class of the photo the line is.
    pub target_index: usize,
    /// The model's SHA-256.
    pub model_sha256: String,
    /// The options that change results.
    pub options: serde_json::Value,
}

/// One of the most probable classes.
#[derive(Debug, Deserialize)]
pub struct TopClass {
    /// Class index.
    pub class: usize,
    /// Class name.
    pub label: Option<String>,
    /// Probability.
    pub probability: f32,
}

/// The totals of a report.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    /// Photos.
    pub photos: u64,
    /// Photos with a true class.
    pub labelled: u64,
    /// Labelled photos whose most probable class is the true one.
    pub correct: u64,
    /// Class names by index, as far as the lines name them.
    pub classes: BTreeMap<usize, String>,
    /// `[true, predicted, count]` for every pair that occurs.
    pub confusion: Vec<[u64; 3]>,
    /// The model's SHA-256.
    pub model_sha256: String,
    /// The options of the run.
    pub options: serde_json::Value,
    #[serde(skip)]
    pairs: BTreeMap<(usize, usize), u64>,
}

impl Summary {
    /// Counts one photo (a line with `target_index` 0); `at` names the line for errors.
    pub fn add(&mut self, line: &ReportLine, at: &str) -> Result<()> {
        self.check_same_run(line, at)?;
        self.photos += 1;
        for top in &line.top_k {
            if let Some(name) = &top.label {
                self.classes
                    .entry(top.class)
                    .or_insert_with(|| name.clone());
            }
        }
        if let (Some(truth), Some(name)) = (line.true_class, &line.true_label) {
            self.classes.entry(truth).or_insert_with(|| name.clone());
        }
        if let (Some(truth), Some(best)) = (line.true_class, line.top_k.first()) {
            self.labelled += 1;
            self.correct += u64::from(best.class == truth);
            *self.pairs.entry((truth, best.class)).or_default() += 1;
        }
        Ok(())
    }

    /// Refuses to mix results of different models or options in one report.
    fn check_same_run(&mut self, line: &ReportLine, at: &str) -> Result<()> {
        if self.photos == 0 {
            self.model_sha256 = line.model_sha256.clone();
            self.options = line.options.clone();
            return Ok(());
        }
        if line.model_sha256 != self.model_sha256 || line.options != self.options {
            return Err(CliError::Usage(format!(
                "{at}: results of another model or other options (sha256 {}, options {}) than the first results read (sha256 {}, options {}); one report takes one run",
                line.model_sha256, line.options, self.model_sha256, self.options
            )));
        }
        Ok(())
    }

    /// Fixes the confusion list from the counted pairs.
    pub fn finish(&mut self) {
        self.confusion = self
            .pairs
            .iter()
            .map(|(&(t, p), &n)| [t as u64, p as u64, n])
            .collect();
    }
}

/// `path:line` for error messages.
pub fn location(path: &Path, number: u64) -> String {
    format!("{}:{number}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(image: &str, truth: Option<usize>, best: usize, sha: &str) -> ReportLine {
        serde_json::from_value(serde_json::json!({
            "image": image,
            "top_k": [{"class": best, "label": format!("c{best}"), "probability": 0.9}],
            "true_class": truth, "true_label": truth.map(|t| format!("c{t}")),
            "target_index": 0, "model_sha256": sha, "options": {"top_k": null},
        }))
        .unwrap()
    }

    #[test]
    fn counts_accuracy_and_confusion_and_refuses_another_model() {
        let mut summary = Summary::default();
        summary.add(&line("a", Some(0), 0, "m"), "r:1").unwrap();
        summary.add(&line("b", Some(0), 2, "m"), "r:2").unwrap();
        summary.add(&line("c", Some(1), 1, "m"), "r:3").unwrap();
        summary.add(&line("d", None, 1, "m"), "r:4").unwrap();
        summary.finish();
        assert_eq!(
            (summary.photos, summary.labelled, summary.correct),
            (4, 3, 2)
        );
        assert_eq!(summary.confusion, [[0, 0, 1], [0, 2, 1], [1, 1, 1]]);
        assert_eq!(summary.classes[&2], "c2");
        let err = summary.add(&line("e", None, 1, "n"), "s:1").unwrap_err();
        assert!(
            err.to_string().starts_with("s:1: results of another model"),
            "{err}"
        );
    }
}
