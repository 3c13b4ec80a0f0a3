//! Layouts: the photo | heatmap | overlay panel and the vertical colour bar.

use image::{imageops, Rgb, RgbImage};

use crate::colormap::Colormap;
use crate::error::{OverlayError, Result};

/// Width in pixels of the background strip between panel tiles and before the colour bar.
pub const PANEL_GAP: u32 = 8;
/// Width in pixels of the colour gradient of the colour bar.
pub const COLORBAR_WIDTH: u32 = 16;
/// Length in pixels of the tick marks drawn right of the colour bar at values 1, 0.5 and 0.
pub const TICK_LENGTH: u32 = 4;
/// Colour of the gaps and of the space around the ticks (white).
pub const BACKGROUND: Rgb<u8> = Rgb([255, 255, 255]);
/// Colour of the tick marks (black).
pub const TICK_COLOR: Rgb<u8> = Rgb([0, 0, 0]);

/// Width of a three-tile panel of `tile_width`-wide tiles: `3 * tile_width + 2 * PANEL_GAP`.
pub fn panel_width(tile_width: u32) -> Result<u32> {
    tile_width
        .checked_mul(3)
        .and_then(|tiles| tiles.checked_add(2 * PANEL_GAP))
        .ok_or(OverlayError::WidthOverflow {
            what: "side-by-side panel",
            width: 3 * u64::from(tile_width) + 2 * u64::from(PANEL_GAP),
        })
}

/// Width of an image of `width` pixels once a colour bar is appended:
/// `width + PANEL_GAP + COLORBAR_WIDTH + TICK_LENGTH`.
pub fn with_colorbar_width(width: u32) -> Result<u32> {
    let extra = PANEL_GAP + COLORBAR_WIDTH + TICK_LENGTH;
    width.checked_add(extra).ok_or(OverlayError::WidthOverflow {
        what: "image with colour bar",
        width: u64::from(width) + u64::from(extra),
    })
}

/// Places three equally sized images left to right, `photo | heatmap | overlay`, separated
/// by [`PANEL_GAP`] columns of [`BACKGROUND`]. The result is
/// [`panel_width`]`(w)` x `h` for `w x h` tiles.
///
/// Errors: [`OverlayError::SizeMismatch`] unless all three tiles have the same size;
/// [`OverlayError::WidthOverflow`] if the panel width overflows `u32`.
pub fn side_by_side(photo: &RgbImage, heatmap: &RgbImage, overlay: &RgbImage) -> Result<RgbImage> {
    for (what, tile) in [
        ("panel heatmap tile", heatmap),
        ("panel overlay tile", overlay),
    ] {
        if tile.dimensions() != photo.dimensions() {
            return Err(OverlayError::SizeMismatch {
                what,
                left_width: photo.width(),
                left_height: photo.height(),
                right_width: tile.width(),
                right_height: tile.height(),
            });
        }
    }
    let (width, height) = photo.dimensions();
    let mut panel = RgbImage::from_pixel(panel_width(width)?, height, BACKGROUND);
    let step = i64::from(width) + i64::from(PANEL_GAP);
    for (slot, tile) in [photo, heatmap, overlay].into_iter().enumerate() {
        imageops::replace(&mut panel, tile, step * slot as i64, 0);
    }
    Ok(panel)
}

/// Appends a vertical colour bar on the right of `image`: [`PANEL_GAP`] background columns,
/// then [`COLORBAR_WIDTH`] columns of the colormap's gradient, then [`TICK_LENGTH`] columns
/// holding short [`TICK_COLOR`] tick lines at values 1, 0.5 and 0. The bar spans the image's
/// full height `h`: row `y` shows `colormap.map(1 - y / (h - 1))` (value 1 at the top, 0 at
/// the bottom; a 1-pixel-high bar shows value 1). The ticks sit on rows `0`,
/// `ceil((h - 1) / 2)` and `h - 1`. The result is [`with_colorbar_width`]`(w)` x `h`.
///
/// Errors: [`OverlayError::WidthOverflow`] if the width overflows `u32`.
pub fn append_colorbar(image: &RgbImage, colormap: Colormap) -> Result<RgbImage> {
    let (width, height) = image.dimensions();
    let mut out = RgbImage::from_pixel(with_colorbar_width(width)?, height, BACKGROUND);
    imageops::replace(&mut out, image, 0, 0);
    let bar_left = width + PANEL_GAP;
    let tick_left = bar_left + COLORBAR_WIDTH;
    let tick_rows = tick_rows(height);
    for y in 0..height {
        let color = colormap.map(colorbar_value(y, height));
        for x in bar_left..tick_left {
            out.put_pixel(x, y, color);
        }
        if tick_rows.contains(&y) {
            for x in tick_left..tick_left + TICK_LENGTH {
                out.put_pixel(x, y, TICK_COLOR);
            }
        }
    }
    Ok(out)
}

/// The heat value shown on row `y` of a colour bar `height` rows high:
/// `1 - y / (height - 1)` in `f32`, or 1 when `height <= 1`.
pub fn colorbar_value(y: u32, height: u32) -> f32 {
    if height <= 1 {
        return 1.0;
    }
    1.0 - y as f32 / (height - 1) as f32
}

/// Rows of the ticks for values 1, 0.5 and 0 on a bar `height` rows high.
fn tick_rows(height: u32) -> [u32; 3] {
    let last = height.saturating_sub(1);
    [0, last / 2 + last % 2, last]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panel_places_tiles_with_background_gaps() {
        let a = RgbImage::from_pixel(3, 2, Rgb([1, 1, 1]));
        let b = RgbImage::from_pixel(3, 2, Rgb([2, 2, 2]));
        let c = RgbImage::from_pixel(3, 2, Rgb([3, 3, 3]));
        let panel = side_by_side(&a, &b, &c).unwrap();
        assert_eq!(panel.dimensions(), (3 * 3 + 2 * PANEL_GAP, 2));
        assert_eq!(*panel.get_pixel(2, 1), Rgb([1, 1, 1]));
        assert_eq!(*panel.get_pixel(3, 0), BACKGROUND);
        assert_eq!(*panel.get_pixel(3 + PANEL_GAP, 0), Rgb([2, 2, 2]));
        assert_eq!(*panel.get_pixel(2 * (3 + PANEL_GAP) + 2, 1), Rgb([3, 3, 3]));
    }

    #[test]
    fn panel_rejects_mismatched_tiles() {
        let a = RgbImage::new(3, 2);
        let b = RgbImage::new(2, 3);
        assert!(matches!(
            side_by_side(&a, &a, &b),
            Err(OverlayError::SizeMismatch { .. })
        ));
    }

    #[test]
    fn colorbar_runs_from_one_at_top_to_zero_at_bottom_with_ticks() {
        let image = RgbImage::from_pixel(5, 11, Rgb([9, 9, 9]));
        let out = append_colorbar(&image, Colormap::Gray).unwrap();
        assert_eq!(
            out.dimensions(),
            (5 + PANEL_GAP + COLORBAR_WIDTH + TICK_LENGTH, 11)
        );
        let bar_x = 5 + PANEL_GAP;
        assert_eq!(*out.get_pixel(bar_x, 0), Rgb([255, 255, 255]));
        assert_eq!(
            *out.get_pixel(bar_x + COLORBAR_WIDTH - 1, 5),
            Rgb([128, 128, 128])
        );
        assert_eq!(*out.get_pixel(bar_x, 10), Rgb([0, 0, 0]));
        assert_eq!(*out.get_pixel(4, 10), Rgb([9, 9, 9]));
        assert_eq!(*out.get_pixel(5, 3), BACKGROUND);
        let tick_x = bar_x + COLORBAR_WIDTH;
        for (y, expected) in [
            (0, TICK_COLOR),
            (5, TICK_COLOR),
            (10, TICK_COLOR),
            (4, BACKGROUND),
        ] {
            assert_eq!(
                *out.get_pixel(tick_x + TICK_LENGTH - 1, y),
                expected,
                "row {y}"
            );
        }
    }

    #[test]
    fn widths_beyond_u32_are_errors() {
        assert!(matches!(
            panel_width(u32::MAX / 3),
            Err(OverlayError::WidthOverflow { .. })
        ));
        assert!(matches!(
            with_colorbar_width(u32::MAX - 1),
            Err(OverlayError::WidthOverflow { .. })
        ));
        assert_eq!(panel_width(10), Ok(30 + 2 * PANEL_GAP));
    }

    #[test]
    fn one_row_colorbar_shows_value_one() {
        assert_eq!(colorbar_value(0, 1), 1.0);
        assert_eq!(colorbar_value(3, 4), 0.0);
        assert_eq!(tick_rows(1), [0, 0, 0]);
        assert_eq!(tick_rows(4), [0, 2, 3]);
    }
}
