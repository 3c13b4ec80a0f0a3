//! Files written whole or not at all: the bytes go to a temporary name beside the target,
//! which is renamed over it once complete, so a killed run never leaves a half-written
//! picture under its real name. The temporary name is fixed per target (`.NAME.partial`), so
//! the run that redoes the photo overwrites a leftover one and renames it away.

use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageFormat};

use crate::error::{CliError, Result};

/// The temporary name `target` is written under before the rename.
pub fn partial_name(target: &Path) -> PathBuf {
    let mut name = std::ffi::OsString::from(".");
    name.push(target.file_name().unwrap_or_default());
    name.push(".partial");
    target.with_file_name(name)
}

/// Writes through `write` to the temporary name, then renames it to `target`.
pub fn write_with(target: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir).map_err(|e| CliError::io(dir, e))?;
    }
    let partial = partial_name(target);
    write(&partial)?;
    std::fs::rename(&partial, target).map_err(|e| CliError::io(target, e))
}

/// Saves `picture` to `target` in `format`, whole or not at all.
pub fn save_image(picture: &DynamicImage, target: &Path, format: ImageFormat) -> Result<()> {
    write_with(target, |partial| {
        picture
            .save_with_format(partial, format)
            .map_err(|e| CliError::io(target, std::io::Error::other(e)))
    })
}

/// Writes `bytes` to `target`, whole or not at all.
pub fn write_bytes(target: &Path, bytes: &[u8]) -> Result<()> {
    write_with(target, |partial| {
        std::fs::write(partial, bytes).map_err(|e| CliError::io(target, e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_through_the_partial_name_and_leaves_only_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sub/a.png");
        assert_eq!(partial_name(&target), dir.path().join("sub/.a.png.partial"));
        std::fs::create_dir_all(dir.path().join("sub")).unwrap();
        // A leftover from a killed run is replaced, not kept beside the target.
        std::fs::write(partial_name(&target), b"half").unwrap();
        let picture = DynamicImage::ImageRgb8(image::RgbImage::new(3, 2));
        save_image(&picture, &target, ImageFormat::Png).unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path().join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["a.png"]);
        assert_eq!(image::open(&target).unwrap().width(), 3);
    }
}
