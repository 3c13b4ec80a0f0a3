//! A photo in the colour layout a model takes: 1 channel (grey, as PIL's `convert("L")`),
//! 3 (RGB, as `convert("RGB")`) or 4 (RGBA, alpha 255 where the photo has none).

use image::DynamicImage;

use crate::image_input::{to_rgb8, with_8bit_samples, ImageInputError};

/// The colour layout of a model's input, from its channel count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorMode {
    /// One channel: grey as PIL's `convert("L")`.
    Grey,
    /// Three channels: RGB as PIL's `convert("RGB")`.
    Rgb,
    /// Four channels: RGBA, alpha 255 where the photo has none.
    Rgba,
}

impl ColorMode {
    /// The mode of a model input with `channels` channels; 1, 3 and 4 are accepted.
    pub fn from_channels(channels: usize) -> Result<ColorMode, ImageInputError> {
        match channels {
            1 => Ok(ColorMode::Grey),
            3 => Ok(ColorMode::Rgb),
            4 => Ok(ColorMode::Rgba),
            _ => Err(ImageInputError::Channels { channels }),
        }
    }

    /// Samples per pixel.
    pub fn channels(self) -> usize {
        match self {
            ColorMode::Grey => 1,
            ColorMode::Rgb => 3,
            ColorMode::Rgba => 4,
        }
    }
}

/// 8-bit pixels, row-major, `mode.channels()` samples each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pixels {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The colour layout.
    pub mode: ColorMode,
    /// `width * height * channels` samples.
    pub data: Vec<u8>,
}

/// Converts a decoded photo to `mode`. RGB is [`to_rgb8`]; grey is PIL's `convert("L")` of
/// that RGB, `L = (19595·R + 38470·G + 7471·B + 32768) >> 16` (Pillow's fixed-point ITU-R 601-2
/// luma, so a grey photo keeps its values); RGBA keeps the photo's alpha, or 255, with 16-bit
/// samples reduced to their high byte as for RGB.
pub fn to_color_mode(image: DynamicImage, mode: ColorMode) -> Pixels {
    let (width, height) = (image.width(), image.height());
    let data = match mode {
        ColorMode::Rgb => to_rgb8(image).into_raw(),
        ColorMode::Grey => to_rgb8(image).pixels().map(|p| pil_luma(p.0)).collect(),
        ColorMode::Rgba => with_8bit_samples(image).into_rgba8().into_raw(),
    };
    Pixels {
        width,
        height,
        mode,
        data,
    }
}

/// Pillow's `L24` luma of one RGB pixel.
pub fn pil_luma([r, g, b]: [u8; 3]) -> u8 {
    let l = 19595 * u32::from(r) + 38470 * u32::from(g) + 7471 * u32::from(b) + 0x8000;
    (l >> 16) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, LumaA, Rgb, RgbImage};

    #[test]
    fn grey_photos_keep_their_values_and_rgb_follows_pillow() {
        for v in 0..=255u8 {
            assert_eq!(pil_luma([v, v, v]), v);
        }
        // Values printed by Pillow 13: Image.new("RGB", (1, 1), c).convert("L").
        assert_eq!(pil_luma([255, 0, 0]), 76);
        assert_eq!(pil_luma([0, 255, 0]), 150);
        assert_eq!(pil_luma([0, 0, 255]), 29);
        assert_eq!(pil_luma([12, 200, 99]), 132);
    }

    #[test]
    fn rgba_gets_alpha_255_when_the_photo_has_none() {
        let rgb = RgbImage::from_pixel(1, 1, Rgb([1, 2, 3]));
        let px = to_color_mode(DynamicImage::ImageRgb8(rgb), ColorMode::Rgba);
        assert_eq!(px.data, [1, 2, 3, 255]);
        let la = ImageBuffer::from_pixel(1, 1, LumaA([9u8, 40]));
        let px = to_color_mode(DynamicImage::ImageLumaA8(la), ColorMode::Rgba);
        assert_eq!(px.data, [9, 9, 9, 40]);
    }

    #[test]
    fn other_channel_counts_are_refused() {
        assert!(ColorMode::from_channels(5).is_err());
        assert_eq!(ColorMode::from_channels(4).unwrap().channels(), 4);
    }
}
