//! The one-call pipeline: resize, colour, blend, and optionally lay out.

use image::RgbImage;

use crate::blend::{blend, validate_alpha};
use crate::colormap::Colormap;
use crate::error::{OverlayError, Result};
use crate::heatmap::Heatmap;
use crate::panel::{append_colorbar, panel_width, side_by_side, with_colorbar_width};
use crate::resize::resize_bilinear;

/// How [`render`] draws a heatmap over a photo.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OverlayOptions {
    /// Colormap for the heat values (default [`Colormap::Jet`]).
    pub colormap: Colormap,
    /// Weight of the colormapped heatmap in the blend, in `[0, 1]` (default 0.4).
    pub alpha: f32,
    /// Emit `photo | heatmap | overlay` side by side instead of the overlay alone
    /// (default `false`).
    pub panel: bool,
    /// Append a vertical colour bar on the right (default `false`).
    pub colorbar: bool,
}

impl OverlayOptions {
    /// The default blending weight of the heatmap.
    pub const DEFAULT_ALPHA: f32 = 0.4;

    /// Size of the image [`render`] returns for a `photo_width x photo_height` photo:
    /// the photo's size, widened by [`crate::panel_width`] when `panel` is set and then by
    /// [`crate::with_colorbar_width`] when `colorbar` is set. The height never changes.
    pub fn output_size(&self, photo_width: u32, photo_height: u32) -> Result<(u32, u32)> {
        let mut width = photo_width;
        if self.panel {
            width = panel_width(width)?;
        }
        if self.colorbar {
            width = with_colorbar_width(width)?;
        }
        Ok((width, photo_height))
    }
}

impl Default for OverlayOptions {
    fn default() -> Self {
        OverlayOptions {
            colormap: Colormap::Jet,
            alpha: Self::DEFAULT_ALPHA,
            panel: false,
            colorbar: false,
        }
    }
}

/// Draws `heat` over `photo`:
/// 1. upsamples the heatmap to the photo's size with [`resize_bilinear`];
/// 2. colours it with [`Colormap::colorize`];
/// 3. blends it over the photo with [`blend`] at `opts.alpha`;
/// 4. if `opts.panel`, lays out `photo | colourised heatmap | overlay` with
///    [`side_by_side`]; if `opts.colorbar`, appends [`append_colorbar`].
///
/// The result has [`OverlayOptions::output_size`] of the photo's size; without panel and
/// colour bar it is exactly the photo's size.
///
/// Errors: [`OverlayError::Empty`] for a photo with a zero side,
/// [`OverlayError::InvalidAlpha`] for an alpha outside `[0, 1]`,
/// [`OverlayError::WidthOverflow`] when the layout is wider than `u32::MAX`.
pub fn render(photo: &RgbImage, heat: &Heatmap, opts: &OverlayOptions) -> Result<RgbImage> {
    let (width, height) = photo.dimensions();
    if width == 0 || height == 0 {
        return Err(OverlayError::Empty {
            what: "photo",
            width,
            height,
        });
    }
    validate_alpha(opts.alpha)?;
    // Fail on an impossible layout before doing any pixel work.
    opts.output_size(width, height)?;

    let upsampled = resize_bilinear(heat, width, height)?;
    let colors = opts.colormap.colorize(&upsampled);
    let blended = blend(photo, &colors, opts.alpha)?;
    let laid_out = if opts.panel {
        side_by_side(photo, &colors, &blended)?
    } else {
        blended
    };
    if opts.colorbar {
        append_colorbar(&laid_out, opts.colormap)
    } else {
        Ok(laid_out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    fn sample() -> (RgbImage, Heatmap) {
        let photo = RgbImage::from_fn(9, 6, |x, y| Rgb([x as u8 * 20, y as u8 * 30, 77]));
        let heat = Heatmap::new(3, 2, vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]).unwrap();
        (photo, heat)
    }

    #[test]
    fn every_layout_has_its_documented_size() {
        let (photo, heat) = sample();
        for (panel, colorbar) in [(false, false), (true, false), (false, true), (true, true)] {
            let opts = OverlayOptions {
                panel,
                colorbar,
                ..OverlayOptions::default()
            };
            let out = render(&photo, &heat, &opts).unwrap();
            assert_eq!(Ok(out.dimensions()), opts.output_size(9, 6));
        }
    }

    #[test]
    fn panel_tiles_are_photo_heatmap_and_overlay() {
        let (photo, heat) = sample();
        let plain = render(&photo, &heat, &OverlayOptions::default()).unwrap();
        let opts = OverlayOptions {
            panel: true,
            ..OverlayOptions::default()
        };
        let panel = render(&photo, &heat, &opts).unwrap();
        let step = 9 + crate::PANEL_GAP;
        let colors = Colormap::Jet.colorize(&resize_bilinear(&heat, 9, 6).unwrap());
        for (x, y) in [(0, 0), (8, 5), (4, 3)] {
            assert_eq!(panel.get_pixel(x, y), photo.get_pixel(x, y));
            assert_eq!(panel.get_pixel(step + x, y), colors.get_pixel(x, y));
            assert_eq!(panel.get_pixel(2 * step + x, y), plain.get_pixel(x, y));
        }
    }

    #[test]
    fn empty_photo_and_bad_alpha_are_errors() {
        let (photo, heat) = sample();
        assert!(matches!(
            render(&RgbImage::new(0, 4), &heat, &OverlayOptions::default()),
            Err(OverlayError::Empty { what: "photo", .. })
        ));
        let opts = OverlayOptions {
            alpha: 1.5,
            ..OverlayOptions::default()
        };
        assert!(matches!(
            render(&photo, &heat, &opts),
            Err(OverlayError::InvalidAlpha { .. })
        ));
    }
}
