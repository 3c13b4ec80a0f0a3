//! Collecting the photos to explain from files and folders.
//!
//! Folders are walked with `walkdir`, which follows symbolic links (to files and to folders)
//! and detects a link back to one of its own parent folders: such a loop stops the run with
//! one error line naming the link, never a hang.

use std::io;
use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use crate::error::{CliError, Result};

/// File extensions taken from folders (case-insensitive).
pub const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff", "gif"];

/// One photo to explain and where its outputs go, relative to `--out`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputImage {
    /// The photo.
    pub path: PathBuf,
    /// Output path stem relative to the output folder (`sub/dir/stem`).
    pub out_stem: PathBuf,
}

/// Expands files and folders (recursively, sorted, by extension) into the list of photos.
/// A file given explicitly is taken whatever its extension.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<InputImage>> {
    let mut images = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| CliError::io(path, e))?;
        if meta.is_dir() {
            images.extend(walk(path)?);
        } else {
            let stem = path.file_stem().map(PathBuf::from).unwrap_or_default();
            images.push(InputImage {
                path: path.clone(),
                out_stem: stem,
            });
        }
    }
    Ok(images)
}

/// The photos under `folder`, in path order (siblings sorted by name, depth first), with
/// their stems relative to `folder`.
fn walk(folder: &Path) -> Result<Vec<InputImage>> {
    let mut found = Vec::new();
    let entries = WalkDir::new(folder)
        .min_depth(1)
        .follow_links(true)
        .sort_by_file_name();
    for entry in entries {
        let entry = entry.map_err(|e| walk_error(folder, e))?;
        if entry.file_type().is_file() && has_image_extension(entry.path()) {
            let rel = entry.path().strip_prefix(folder).unwrap_or(entry.path());
            found.push(InputImage {
                out_stem: rel.with_extension(""),
                path: entry.into_path(),
            });
        }
    }
    Ok(found)
}

/// A walk error as the CLI's: the entry it concerns (else the folder) and its cause, or for
/// a loop the ancestor the link leads back to.
pub(crate) fn walk_error(folder: &Path, e: walkdir::Error) -> CliError {
    let path = e.path().unwrap_or(folder).to_path_buf();
    let ancestor = e.loop_ancestor().map(Path::to_path_buf);
    let source = match (e.into_io_error(), ancestor) {
        (Some(source), _) => source,
        (None, Some(ancestor)) => io::Error::other(format!(
            "symbolic link loop: leads back to {}",
            ancestor.display()
        )),
        (None, None) => io::Error::other("folder walk failed"),
    };
    CliError::io(&path, source)
}

fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Creates empty files at `names` (relative to `dir`, parent folders included).
    pub(crate) fn touch(dir: &Path, names: &[&str]) {
        for name in names {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, b"").unwrap();
        }
    }

    fn stems(images: &[InputImage]) -> Vec<PathBuf> {
        images.iter().map(|i| i.out_stem.clone()).collect()
    }

    #[test]
    fn nested_folders_take_mixed_case_extensions_sorted_with_relative_stems() {
        let dir = tempfile::tempdir().unwrap();
        touch(
            dir.path(),
            &[
                "x.PNG",
                "a/y.jpg",
                "a/b/z.WebP",
                "a/b/c/deep.TiFf",
                "a/B.JPEG",
                "a/notes.txt",
                "a/b/no_extension",
                "a/b/c/archive.png.zip",
            ],
        );
        let got = collect(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(
            stems(&got),
            ["a/B", "a/b/c/deep", "a/b/z", "a/y", "x"].map(PathBuf::from)
        );
        assert_eq!(got[1].path, dir.path().join("a/b/c/deep.TiFf"));
    }

    #[test]
    fn an_explicit_file_is_taken_whatever_its_extension() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), &["sub/photo.raw"]);
        let file = dir.path().join("sub/photo.raw");
        let got = collect(std::slice::from_ref(&file)).unwrap();
        assert_eq!(
            got,
            [InputImage {
                path: file,
                out_stem: PathBuf::from("photo")
            }]
        );
        let missing = dir.path().join("missing.png");
        let err = collect(&[missing]).unwrap_err();
        assert!(err.to_string().contains("missing.png"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn linked_folders_are_followed_and_a_loop_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        touch(dir.path(), &["a/p.png"]);
        touch(elsewhere.path(), &["q.jpg"]);
        std::os::unix::fs::symlink(elsewhere.path(), dir.path().join("linked")).unwrap();
        let got = collect(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(stems(&got), ["a/p", "linked/q"].map(PathBuf::from));

        std::os::unix::fs::symlink(dir.path(), dir.path().join("a/back")).unwrap();
        let err = collect(&[dir.path().to_path_buf()]).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("symbolic link loop"), "{message}");
        let link = dir.path().join("a/back");
        assert!(message.contains(&link.display().to_string()), "{message}");
        assert_eq!(message.lines().count(), 1, "{message}");
    }
}
