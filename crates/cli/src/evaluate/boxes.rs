//! The boxes file of `kerascam evaluate --boxes`: a JSON object
//!
//! ```json
//! { "boxes": { "cat.jpg": [[x0, y0, x1, y1]], "sub/dog.png": [[10, 4, 60, 50], [70, 8, 90, 30]] } }
//! ```
//!
//! mapping a photo to one or more boxes in pixel coordinates of the original photo (column
//! `x`, row `y`, both corners inclusive, origin at the top left). A photo is looked up by
//! the path as given on the command line, then by its path relative to the folder it was
//! found in, then by its file name.

use std::collections::HashMap;
use std::path::Path;

use gradcam_core::metrics::PixelBox;
use serde::Deserialize;

use crate::error::{CliError, Result};
use crate::inputs::InputImage;

/// The file's layout.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BoxesFile {
    boxes: HashMap<String, Vec<[u64; 4]>>,
}

/// Ground-truth boxes by photo.
#[derive(Debug, Default)]
pub struct Boxes {
    by_key: HashMap<String, Vec<PixelBox>>,
}

impl Boxes {
    /// Reads and checks `path` (corners ordered; sizes are checked against each photo later).
    pub fn read(path: &Path) -> Result<Boxes> {
        let text = std::fs::read_to_string(path).map_err(|e| CliError::io(path, e))?;
        let file: BoxesFile = serde_json::from_str(&text)
            .map_err(|e| CliError::Usage(format!("{}: not a boxes file: {e}", path.display())))?;
        let mut by_key = HashMap::with_capacity(file.boxes.len());
        for (key, corners) in file.boxes {
            let boxes = corners
                .iter()
                .map(|&[x0, y0, x1, y1]| to_box(x0, y0, x1, y1))
                .collect::<Option<Vec<_>>>()
                .filter(|b| !b.is_empty())
                .ok_or_else(|| {
                    CliError::Usage(format!(
                        "{}: the boxes of {key:?} must be non-empty [x0, y0, x1, y1] lists with x0 <= x1 and y0 <= y1",
                        path.display()
                    ))
                })?;
            by_key.insert(key, boxes);
        }
        Ok(Boxes { by_key })
    }

    /// The boxes of `image`, if the file names it.
    pub fn find(&self, image: &InputImage) -> Option<&[PixelBox]> {
        let relative = match image.path.extension() {
            Some(ext) => image.out_stem.with_extension(ext),
            None => image.out_stem.clone(),
        };
        let name = image.path.file_name().map(Path::new);
        let found = [Some(image.path.as_path()), Some(relative.as_path()), name]
            .into_iter()
            .flatten()
            .find_map(|key| self.by_key.get(key.to_str()?));
        found.map(Vec::as_slice)
    }
}

fn to_box(x0: u64, y0: u64, x1: u64, y1: u64) -> Option<PixelBox> {
    let c = |v: u64| usize::try_from(v).ok();
    let b = PixelBox {
        x0: c(x0)?,
        y0: c(y0)?,
        x1: c(x1)?,
        y1: c(y1)?,
    };
    (b.x0 <= b.x1 && b.y0 <= b.y1).then_some(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn image(path: &str, stem: &str) -> InputImage {
        InputImage {
            path: PathBuf::from(path),
            out_stem: PathBuf::from(stem),
        }
    }

    #[test]
    fn photos_are_found_by_path_relative_path_or_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("boxes.json");
        std::fs::write(
            &file,
            r#"{"boxes": {"a.png": [[1, 2, 3, 4]], "sub/b.jpg": [[0, 0, 5, 5], [6, 6, 7, 7]]}}"#,
        )
        .unwrap();
        let boxes = Boxes::read(&file).unwrap();
        let a = boxes.find(&image("photos/a.png", "a")).unwrap();
        assert_eq!(
            a,
            [PixelBox {
                x0: 1,
                y0: 2,
                x1: 3,
                y1: 4
            }]
        );
        assert_eq!(
            boxes.find(&image("top/sub/b.jpg", "sub/b")).unwrap().len(),
            2
        );
        assert!(boxes.find(&image("photos/c.png", "c")).is_none());
    }

    #[test]
    fn reversed_corners_and_other_layouts_are_one_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("boxes.json");
        for bad in [
            r#"{"boxes": {"a.png": [[5, 2, 3, 4]]}}"#,
            r#"{"boxes": {"a.png": []}}"#,
            r#"{"a.png": [[1, 2, 3, 4]]}"#,
            r#"{"boxes": {"a.png": [[1, 2, 3]]}}"#,
        ] {
            std::fs::write(&file, bad).unwrap();
            let err = Boxes::read(&file).unwrap_err().to_string();
            assert!(err.contains("boxes.json"), "{err}");
            assert_eq!(err.lines().count(), 1, "{err}");
        }
    }
}
