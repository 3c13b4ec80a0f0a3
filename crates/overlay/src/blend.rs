//! Convex alpha blending of a photo with a colour image.

use image::RgbImage;

use crate::error::{OverlayError, Result};

/// Checks that `alpha` is a blending weight in `[0, 1]` (NaN rejected).
pub fn validate_alpha(alpha: f32) -> Result<f32> {
    if (0.0..=1.0).contains(&alpha) {
        Ok(alpha)
    } else {
        Err(OverlayError::InvalidAlpha { alpha })
    }
}

/// Blends `colors` over `photo`, channel by channel in RGB order:
/// `out = round((1 - alpha) * photo + alpha * colors)`, computed in `f32` and rounded to the
/// nearest integer with ties to even (the same as
/// `cv2.addWeighted(photo, 1 - alpha, colors, alpha, 0)`). Being convex, every output
/// channel lies between the two inputs; `alpha = 0` returns `photo` and `alpha = 1` returns
/// `colors`, bit for bit.
///
/// Errors: [`OverlayError::InvalidAlpha`] unless `0 <= alpha <= 1`;
/// [`OverlayError::SizeMismatch`] when the two images differ in size.
///
/// ```
/// use image::{Rgb, RgbImage};
/// let photo = RgbImage::from_pixel(2, 2, Rgb([200, 100, 0]));
/// let colors = RgbImage::from_pixel(2, 2, Rgb([0, 100, 255]));
/// let out = overlay::blend(&photo, &colors, 0.25)?;
/// assert_eq!(out.get_pixel(1, 1).0, [150, 100, 64]);
/// # Ok::<(), overlay::OverlayError>(())
/// ```
pub fn blend(photo: &RgbImage, colors: &RgbImage, alpha: f32) -> Result<RgbImage> {
    let alpha = validate_alpha(alpha)?;
    if photo.dimensions() != colors.dimensions() {
        return Err(OverlayError::SizeMismatch {
            what: "blend photo with colours",
            left_width: photo.width(),
            left_height: photo.height(),
            right_width: colors.width(),
            right_height: colors.height(),
        });
    }
    let keep = 1.0 - alpha;
    let mut out = photo.clone();
    for (channel, &color) in out.iter_mut().zip(colors.iter()) {
        let mixed = keep * f32::from(*channel) + alpha * f32::from(color);
        // A convex mix of two values in [0, 255] stays in [0, 255].
        *channel = mixed.round_ties_even().clamp(0.0, 255.0) as u8;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn alpha_outside_unit_interval_is_rejected() {
        let image = RgbImage::new(1, 1);
        for alpha in [-0.01, 1.01, f32::NAN, f32::INFINITY] {
            assert!(matches!(
                blend(&image, &image, alpha),
                Err(OverlayError::InvalidAlpha { .. })
            ));
        }
    }

    #[test]
    fn different_sizes_are_rejected() {
        let err = blend(&RgbImage::new(2, 1), &RgbImage::new(1, 2), 0.5).unwrap_err();
        assert!(matches!(err, OverlayError::SizeMismatch { .. }), "{err}");
    }

    #[test]
    fn half_way_ties_round_to_even() {
        let photo = RgbImage::from_pixel(1, 1, Rgb([0, 1, 2]));
        let colors = RgbImage::from_pixel(1, 1, Rgb([1, 2, 3]));
        // 0.5, 1.5, 2.5 -> 0, 2, 2
        assert_eq!(
            blend(&photo, &colors, 0.5).unwrap().get_pixel(0, 0).0,
            [0, 2, 2]
        );
    }
}
