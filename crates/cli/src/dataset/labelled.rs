//! Labelled folders read as Keras' `image_dataset_from_directory(labels="inferred")` reads
//! them (keras/src/utils/dataset_utils.py, `index_directory`):
//!
//! - the classes are the sub-folders of the root whose names do not start with `.`, in sorted
//!   order (Python's `sorted` on `str`: code-point order, which is Rust's `String` order);
//!   class `i` is the i-th of them, a linked folder counts (`os.path.isdir` follows links);
//! - the photos are the files under each class folder, at any depth, whose lower-cased name
//!   ends in `.bmp .gif .jpeg .jpg .png` (Keras' `ALLOWLIST_FORMATS`); files directly in the
//!   root belong to no class and are left out; linked folders inside a class folder are not
//!   entered (`follow_links=False`, Keras' default).

use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use crate::error::{CliError, Result};
use crate::inputs::{self, InputImage};

/// The extensions Keras takes from labelled folders.
const KERAS_FORMATS: &[&str] = &[".bmp", ".gif", ".jpeg", ".jpg", ".png"];

/// A labelled folder: its class names in Keras' order and its photos.
#[derive(Debug)]
pub struct LabelledFolder {
    /// Class names; class `i` is `classes[i]`.
    pub classes: Vec<String>,
    /// The photos, class by class, each with its stem relative to the root.
    pub images: Vec<InputImage>,
}

/// Reads the classes and photos of `root`.
pub fn read(root: &Path) -> Result<LabelledFolder> {
    let mut classes = Vec::new();
    for entry in std::fs::read_dir(root).map_err(|e| CliError::io(root, e))? {
        let entry = entry.map_err(|e| CliError::io(root, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && entry.path().is_dir() {
            classes.push(name);
        }
    }
    classes.sort();
    if classes.is_empty() {
        return Err(CliError::Usage(format!(
            "{}: --labels-from-folders needs one sub-folder per class; there are none",
            root.display()
        )));
    }
    let mut images = Vec::new();
    for class in &classes {
        images.extend(class_photos(root, class)?);
    }
    Ok(LabelledFolder { classes, images })
}

/// The photos of one class folder, sorted by path.
fn class_photos(root: &Path, class: &str) -> Result<Vec<InputImage>> {
    let mut found = Vec::new();
    for entry in WalkDir::new(root.join(class)).sort_by_file_name() {
        let entry = entry.map_err(|e| inputs::walk_error(root, e))?;
        let name = entry.file_name().to_string_lossy().to_lowercase();
        let is_file = entry.file_type().is_file() || entry.path().is_file();
        if is_file && KERAS_FORMATS.iter().any(|ext| name.ends_with(ext)) {
            let rel = entry.path().strip_prefix(root).unwrap_or(entry.path());
            found.push(InputImage {
                out_stem: rel.with_extension(""),
                path: entry.into_path(),
            });
        }
    }
    Ok(found)
}

/// The class index of a photo, from the first component of its stem relative to the root.
pub fn class_of(classes: &[String], out_stem: &Path) -> Option<usize> {
    let first = out_stem.components().next()?.as_os_str().to_str()?;
    classes.binary_search_by(|c| c.as_str().cmp(first)).ok()
}

/// Checks folder classes against `--labels`: the same names in the same order, or one error
/// naming the first difference.
pub fn check_against_labels(classes: &[String], labels: &[String], file: &Path) -> Result<()> {
    if classes == labels {
        return Ok(());
    }
    let at = classes
        .iter()
        .zip(labels)
        .position(|(a, b)| a != b)
        .unwrap_or(classes.len().min(labels.len()));
    let show = |list: &[String]| list.get(at).map_or("nothing".into(), |n| format!("{n:?}"));
    Err(CliError::Usage(format!(
        "{}: the labels do not match the class folders: class {at} is {} in the labels but {} in the folders ({} labels, {} folders)",
        file.display(),
        show(labels),
        show(classes),
        labels.len(),
        classes.len()
    )))
}

/// The folder to read labels from: `--labels-from-folders` takes exactly one.
pub fn single_root(inputs: &[PathBuf]) -> Result<&Path> {
    match inputs {
        [root] if root.is_dir() => Ok(root),
        _ => Err(CliError::Usage(
            "--labels-from-folders takes exactly one folder (its sub-folders are the classes)"
                .into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inputs::tests::touch;

    #[test]
    fn classes_and_files_follow_keras_rules() {
        let dir = tempfile::tempdir().unwrap();
        touch(
            dir.path(),
            &[
                "dog/b.JPG",
                "dog/deep/a.png",
                "dog/c.webp",
                "Cat/x.jpeg",
                "cat/y.bmp",
                ".hidden/z.png",
                "loose.png",
                "empty_class/notes.txt",
            ],
        );
        let got = read(dir.path()).unwrap();
        // Upper case sorts before lower case, as Python's sorted() puts it.
        assert_eq!(got.classes, ["Cat", "cat", "dog", "empty_class"]);
        let stems: Vec<_> = got.images.iter().map(|i| i.out_stem.clone()).collect();
        assert_eq!(
            stems,
            ["Cat/x", "cat/y", "dog/b", "dog/deep/a"].map(PathBuf::from)
        );
        let classes: Vec<_> = stems.iter().map(|s| class_of(&got.classes, s)).collect();
        assert_eq!(classes, [Some(0), Some(1), Some(2), Some(2)]);
    }

    #[test]
    fn a_label_mismatch_names_the_first_difference() {
        let names = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let file = Path::new("labels.txt");
        check_against_labels(&names(&["a", "b"]), &names(&["a", "b"]), file).unwrap();
        let err = check_against_labels(&names(&["a", "c"]), &names(&["a", "b"]), file)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("class 1 is \"b\" in the labels but \"c\""),
            "{err}"
        );
        let err = check_against_labels(&names(&["a"]), &names(&["a", "b"]), file)
            .unwrap_err()
            .to_string();
        assert!(err.contains("but nothing in the folders"), "{err}");
    }
}
