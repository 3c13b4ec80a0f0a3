//! The boxes file of `--boxes`: one box per photo, in pixels of the original photo.
//!
//! CSV, one line per photo: `path,x_min,y_min,x_max,y_max`, the path relative to the input
//! folder with `/` separators (for a photo given as a file: its file name), coordinates
//! from the top-left corner, the max edges excluded. Empty lines, lines starting with `#`
//! and a first line starting with `path` (a header) are skipped.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{CliError, Result};

/// A box in photo pixels, `[x_min, x_max) x [y_min, y_max)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelBox {
    /// Left edge, included.
    pub x_min: u32,
    /// Top edge, included.
    pub y_min: u32,
    /// Right edge, excluded.
    pub x_max: u32,
    /// Bottom edge, excluded.
    pub y_max: u32,
}

/// Reads a boxes file into a map from relative photo path to box.
pub fn read(file: &Path) -> Result<HashMap<String, PixelBox>> {
    let text = std::fs::read_to_string(file).map_err(|e| CliError::io(file, e))?;
    let mut boxes = HashMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        let header = number == 0 && line.starts_with("path");
        if line.is_empty() || line.starts_with('#') || header {
            continue;
        }
        let (path, pixel_box) = parse_line(line)
            .map_err(|why| CliError::Usage(format!("{}:{}: {why}", file.display(), number + 1)))?;
        boxes.insert(path, pixel_box);
    }
    Ok(boxes)
}

/// One `path,x_min,y_min,x_max,y_max` line.
fn parse_line(line: &str) -> std::result::Result<(String, PixelBox), String> {
    let fields: Vec<&str> = line.rsplitn(5, ',').collect();
    let [y_max, x_max, y_min, x_min, path] = fields.as_slice() else {
        return Err(format!(
            "expected path,x_min,y_min,x_max,y_max, got {line:?}"
        ));
    };
    let number = |s: &str| {
        s.trim()
            .parse::<u32>()
            .map_err(|_| format!("{s:?} is not a pixel coordinate"))
    };
    let b = PixelBox {
        x_min: number(x_min)?,
        y_min: number(y_min)?,
        x_max: number(x_max)?,
        y_max: number(y_max)?,
    };
    if b.x_min >= b.x_max || b.y_min >= b.y_max {
        return Err(format!(
            "empty box {line:?}: needs x_min < x_max and y_min < y_max"
        ));
    }
    Ok((path.trim().to_string(), b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_boxes_and_names_the_bad_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("boxes.csv");
        std::fs::write(
            &file,
            "path,x_min,y_min,x_max,y_max\n# note\ncat/a,b.jpg,1,2,30,40\n",
        )
        .unwrap();
        let boxes = read(&file).unwrap();
        assert_eq!(
            boxes["cat/a,b.jpg"],
            PixelBox {
                x_min: 1,
                y_min: 2,
                x_max: 30,
                y_max: 40
            }
        );
        std::fs::write(&file, "a.jpg,1,2,3,4\nb.jpg,5,5,5,9\n").unwrap();
        let err = read(&file).unwrap_err().to_string();
        assert!(err.contains("boxes.csv:2: empty box"), "{err}");
        std::fs::write(&file, "a.jpg,1,2,x,4\n").unwrap();
        let err = read(&file).unwrap_err().to_string();
        assert!(
            err.contains("boxes.csv:1: \"x\" is not a pixel coordinate"),
            "{err}"
        );
    }
}
