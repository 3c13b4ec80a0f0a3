//! The report's thumbnails: the photo and its overlay side by side, small, as JPEG.

use std::path::Path;

use image::codecs::jpeg::JpegEncoder;
use image::{Rgb, RgbImage};
use overlay::{Heatmap, OverlayOptions};

use crate::atomic;
use crate::error::{CliError, Result};

/// The longest side of each half of a thumbnail, in pixels.
const TILE: u32 = 128;
/// The gap between photo and overlay.
const GAP: u32 = 4;
/// JPEG quality: small files that still show where the heatmap lies.
const QUALITY: u8 = 80;

/// Writes the thumbnail of `photo` with `heat` over it to `target`, whole or not at all.
pub fn write(photo: &RgbImage, heat: &Heatmap, look: &OverlayOptions, target: &Path) -> Result<()> {
    let (w, h) = tile_size(photo.width(), photo.height());
    let small = image::imageops::thumbnail(photo, w, h);
    let plain = OverlayOptions {
        panel: false,
        colorbar: false,
        ..*look
    };
    let blended = overlay::render(&small, heat, &plain)?;
    let mut sheet = RgbImage::from_pixel(2 * w + GAP, h, Rgb([255, 255, 255]));
    image::imageops::replace(&mut sheet, &small, 0, 0);
    image::imageops::replace(&mut sheet, &blended, i64::from(w + GAP), 0);
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, QUALITY)
        .encode_image(&sheet)
        .map_err(|e| CliError::io(target, std::io::Error::other(e)))?;
    atomic::write_bytes(target, &bytes)
}

/// The tile size: the photo scaled so its longest side is at most `TILE`, at least 1 pixel.
fn tile_size(width: u32, height: u32) -> (u32, u32) {
    let longest = width.max(height).max(1);
    if longest <= TILE {
        return (width.max(1), height.max(1));
    }
    let scale =
        |side: u32| ((u64::from(side) * u64::from(TILE)) / u64::from(longest)).max(1) as u32;
    (scale(width), scale(height))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thumbnail_is_two_small_tiles() {
        assert_eq!(tile_size(320, 240), (128, 96));
        assert_eq!(tile_size(5000, 10), (128, 1));
        assert_eq!(tile_size(60, 40), (60, 40));
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t/a.jpg");
        let photo = RgbImage::from_pixel(320, 240, Rgb([10, 200, 30]));
        let heat = Heatmap::new(2, 2, vec![0.0, 1.0, 0.5, 0.2]).unwrap();
        write(&photo, &heat, &OverlayOptions::default(), &target).unwrap();
        let thumb = image::open(&target).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (2 * 128 + GAP, 96));
    }
}
