//! Collecting the photos to explain from files and folders.

use std::path::{Path, PathBuf};

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
            let mut found = Vec::new();
            walk(path, &mut found)?;
            found.sort();
            for file in found {
                let rel = file.strip_prefix(path).unwrap_or(&file).with_extension("");
                images.push(InputImage {
                    path: file,
                    out_stem: rel,
                });
            }
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

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| CliError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| CliError::io(dir, e))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| CliError::io(&path, e))?;
        if kind.is_dir() {
            walk(&path, found)?;
        } else if kind.is_file() && has_image_extension(&path) {
            found.push(path);
        }
    }
    Ok(())
}

fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_recurse_and_keep_relative_stems() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        for f in ["x.PNG", "a/y.jpg", "a/b/z.webp", "a/notes.txt"] {
            std::fs::write(dir.path().join(f), b"").unwrap();
        }
        let got = collect(&[dir.path().to_path_buf()]).unwrap();
        let stems: Vec<_> = got.iter().map(|i| i.out_stem.clone()).collect();
        assert_eq!(
            stems,
            [
                PathBuf::from("a/b/z"),
                PathBuf::from("a/y"),
                PathBuf::from("x")
            ]
        );
    }
}
