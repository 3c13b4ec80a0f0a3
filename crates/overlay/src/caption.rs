//! Text in pictures: captions under panel tiles and the colour bar's labels, drawn with
//! DejaVu Sans (`fonts/DejaVuSans.ttf`, Bitstream Vera licence in `fonts/LICENSE-DejaVu.txt`),
//! which is compiled into the binary, so no system font is needed. Glyphs are rasterised by
//! `ab_glyph` and blended by their coverage; text wider than its space is cut and ends with
//! "…"; everything outside the image is clipped.

use ab_glyph::{point, Font, FontRef, GlyphId, PxScale, ScaleFont};
use image::{Rgb, RgbImage};

use crate::error::{OverlayError, Result};
use crate::panel::BACKGROUND;

/// The caption font, DejaVu Sans 2.37.
const FONT: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// Height of caption text in pixels (the font's em size).
pub const CAPTION_FONT_SIZE: f32 = 13.0;
/// Blank rows above and below a caption's lines, and columns before its text.
pub const CAPTION_PADDING: u32 = 3;
/// Colour of caption text (black).
pub const TEXT_COLOR: Rgb<u8> = Rgb([0, 0, 0]);
/// What ends a cut caption.
const ELLIPSIS: char = '…';

/// The shipped font at [`CAPTION_FONT_SIZE`].
fn font() -> Result<FontRef<'static>> {
    FontRef::try_from_slice(FONT).map_err(|e| OverlayError::Font {
        reason: e.to_string(),
    })
}

fn scale() -> PxScale {
    PxScale::from(CAPTION_FONT_SIZE)
}

/// Rows one line of caption text takes: the font's ascent to descent at
/// [`CAPTION_FONT_SIZE`], rounded up.
pub fn line_height() -> Result<u32> {
    let f = font()?;
    let s = f.as_scaled(scale());
    Ok((s.ascent() - s.descent()).ceil() as u32)
}

/// Rows a caption of `lines` lines takes under a tile: the lines and [`CAPTION_PADDING`]
/// above and below (0 for no lines).
pub fn caption_height(lines: usize) -> Result<u32> {
    if lines == 0 {
        return Ok(0);
    }
    let line = line_height()?;
    let text = u32::try_from(lines)
        .ok()
        .and_then(|n| n.checked_mul(line))
        .and_then(|rows| rows.checked_add(2 * CAPTION_PADDING));
    text.ok_or(OverlayError::TooLarge {
        what: "caption",
        width: 0,
        height: lines as u64,
    })
}

/// Width in pixels of `text` on one line (advances and kerning).
pub fn text_width(text: &str) -> Result<f32> {
    let f = font()?;
    let s = f.as_scaled(scale());
    Ok(layout(&s, text)
        .last()
        .map_or(0.0, |&(id, x)| x + s.h_advance(id)))
}

/// Each glyph of `text` with its pen position from 0.
fn layout<F: Font>(s: &ab_glyph::PxScaleFont<&F>, text: &str) -> Vec<(GlyphId, f32)> {
    let mut x = 0.0;
    let mut previous: Option<GlyphId> = None;
    text.chars()
        .filter(|c| !c.is_control())
        .map(|c| {
            let id = s.glyph_id(c);
            if let Some(p) = previous {
                x += s.kern(p, id);
            }
            let at = (id, x);
            x += s.h_advance(id);
            previous = Some(id);
            at
        })
        .collect()
}

/// `text`, cut to at most `max_width` pixels: whole if it fits, else its longest prefix
/// followed by "…" that fits, else empty.
pub fn fit_to_width(text: &str, max_width: f32) -> Result<String> {
    if text_width(text)? <= max_width {
        return Ok(text.to_string());
    }
    let chars: Vec<char> = text.chars().collect();
    let (mut lo, mut hi) = (0, chars.len());
    // The widest cut that fits: widths grow with the prefix, so bisect.
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        let candidate: String = chars[..mid].iter().chain([&ELLIPSIS]).collect();
        if text_width(&candidate)? <= max_width {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let cut: String = chars[..lo].iter().chain([&ELLIPSIS]).collect();
    Ok(if text_width(&cut)? <= max_width {
        cut
    } else {
        String::new()
    })
}

/// Draws `text` in `color` with its top-left corner at (`left`, `top`) (the top of the line
/// box, ascent above the baseline), clipping what falls outside `image`.
pub fn draw_text(
    image: &mut RgbImage,
    text: &str,
    left: i64,
    top: i64,
    color: Rgb<u8>,
) -> Result<()> {
    let f = font()?;
    let s = f.as_scaled(scale());
    let baseline = top as f32 + s.ascent();
    for (id, x) in layout(&s, text) {
        let glyph = id.with_scale_and_position(scale(), point(left as f32 + x, baseline));
        let Some(outline) = f.outline_glyph(glyph) else {
            continue;
        };
        let bounds = outline.px_bounds();
        outline.draw(|gx, gy, coverage| {
            let px = bounds.min.x as i64 + i64::from(gx);
            let py = bounds.min.y as i64 + i64::from(gy);
            put_blended(image, px, py, color, coverage);
        });
    }
    Ok(())
}

/// Mixes `color` into the pixel at (`x`, `y`) by `coverage` in [0, 1]; nothing outside.
fn put_blended(image: &mut RgbImage, x: i64, y: i64, color: Rgb<u8>, coverage: f32) {
    let (Ok(x), Ok(y)) = (u32::try_from(x), u32::try_from(y)) else {
        return;
    };
    if x >= image.width() || y >= image.height() {
        return;
    }
    let c = coverage.clamp(0.0, 1.0);
    let pixel = image.get_pixel_mut(x, y);
    for (dst, src) in pixel.0.iter_mut().zip(color.0) {
        *dst = (f32::from(*dst) * (1.0 - c) + f32::from(src) * c).round() as u8;
    }
}

/// `tile` with a caption strip of `rows` background rows below it (at least the rows
/// `lines` need, see [`caption_height`]), each line cut to the tile's width.
pub fn with_caption(tile: &RgbImage, lines: &[String], rows: u32) -> Result<RgbImage> {
    let rows = rows.max(caption_height(lines.len())?);
    let (width, height) = tile.dimensions();
    let total = height.checked_add(rows).ok_or(OverlayError::TooLarge {
        what: "captioned tile",
        width: u64::from(width),
        height: u64::from(height) + u64::from(rows),
    })?;
    let mut out = RgbImage::from_pixel(width, total, BACKGROUND);
    image::imageops::replace(&mut out, tile, 0, 0);
    let line = line_height()?;
    let room = width.saturating_sub(CAPTION_PADDING) as f32;
    for (i, text) in lines.iter().enumerate() {
        let fitted = fit_to_width(text, room)?;
        let top = u64::from(height) + u64::from(CAPTION_PADDING) + i as u64 * u64::from(line);
        draw_text(
            &mut out,
            &fitted,
            i64::from(CAPTION_PADDING),
            top as i64,
            TEXT_COLOR,
        )?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_font_reads_and_measures() {
        let line = line_height().unwrap();
        assert!((13..=18).contains(&line), "{line}");
        assert!(text_width("grad-cam").unwrap() > 30.0);
        assert_eq!(text_width("").unwrap(), 0.0);
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        let long = "a very long class name that cannot fit";
        let cut = fit_to_width(long, 60.0).unwrap();
        assert!(
            cut.ends_with(ELLIPSIS) && text_width(&cut).unwrap() <= 60.0,
            "{cut}"
        );
        assert_eq!(fit_to_width("ok", 100.0).unwrap(), "ok");
        assert_eq!(fit_to_width(long, 2.0).unwrap(), "");
    }

    #[test]
    fn text_darkens_pixels_and_clips_at_the_edges() {
        let mut image = RgbImage::from_pixel(40, 20, BACKGROUND);
        draw_text(&mut image, "Hi", 2, 2, TEXT_COLOR).unwrap();
        assert!(image.pixels().any(|p| p.0[0] < 128));
        draw_text(&mut image, "clipped", -50, -30, TEXT_COLOR).unwrap();
        draw_text(&mut image, "clipped", 39, 19, TEXT_COLOR).unwrap();
    }
}
