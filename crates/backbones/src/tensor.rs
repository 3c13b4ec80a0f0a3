//! RGB image to a preprocessed NHWC float32 tensor: resizing and batching.

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::RgbImage;

use crate::channels::{ColorMode, Pixels};
use crate::image_input::ImageInputError;
use crate::preprocessing::Preprocessing;

/// Longest side an image keeps when the model accepts any size (`(None, None, 3)`): larger
/// images are scaled down, aspect ratio kept, so that their longest side is this many pixels.
pub const FREE_SIZE_MAX_SIDE: u32 = 1024;

/// A preprocessed batch in NHWC layout (3 channels, or 1 or 4 from [`pixels_to_tensor`]).
#[derive(Debug, Clone, PartialEq)]
pub struct InputTensor {
    /// `batch * height * width * channels` values, row-major NHWC.
    pub data: Vec<f32>,
    /// Number of images.
    pub batch: usize,
    /// Height in pixels.
    pub height: u32,
    /// Width in pixels.
    pub width: u32,
    /// Samples per pixel.
    pub channels: usize,
}

impl InputTensor {
    /// The shape `[batch, height, width, channels]`.
    pub fn shape(&self) -> [usize; 4] {
        [
            self.batch,
            self.height as usize,
            self.width as usize,
            self.channels,
        ]
    }
}

/// The size an image is resized to: the model's fixed `height`/`width`, or for a dynamic axis
/// (`None`) the image's own size, scaled down to at most [`FREE_SIZE_MAX_SIDE`] on its longest
/// side (aspect ratio kept, at least one pixel).
pub fn target_size(image: (u32, u32), height: Option<u32>, width: Option<u32>) -> (u32, u32) {
    let (w, h) = image;
    let longest = w.max(h).max(1);
    let scale = if longest > FREE_SIZE_MAX_SIDE {
        f64::from(FREE_SIZE_MAX_SIDE) / f64::from(longest)
    } else {
        1.0
    };
    let free = |side: u32| ((f64::from(side) * scale).round() as u32).max(1);
    (width.unwrap_or(free(w)), height.unwrap_or(free(h)))
}

/// Bilinear (triangle-filter) resize to `width` x `height`. Same size returns an exact copy.
///
/// The filter is Pillow's `BILINEAR` convolution as `fast_image_resize` implements it (SIMD,
/// fixed point): pixel-centre aligned, and when shrinking its support widens with the scale
/// factor (antialiasing), as PIL's `resize(BILINEAR)` (Pillow >= 7) does. Results may differ
/// from PIL's by a level (rounding). Keras' own `load_img(target_size=...)` defaults to
/// NEAREST, which this does not imitate.
pub fn resize_bilinear(
    image: &RgbImage,
    width: u32,
    height: u32,
) -> Result<RgbImage, ImageInputError> {
    let (iw, ih) = image.dimensions();
    let data = resize_raw(image.as_raw(), (iw, ih), PixelType::U8x3, (width, height))?;
    RgbImage::from_raw(width, height, data).ok_or_else(|| ImageInputError::Resize {
        width,
        height,
        reason: "the resized buffer has the wrong length".into(),
    })
}

/// [`resize_bilinear`] for any of the three colour layouts; each channel (alpha too) is
/// filtered on its own, without premultiplying by alpha.
fn resize_pixels(pixels: &Pixels, width: u32, height: u32) -> Result<Pixels, ImageInputError> {
    let pixel_type = match pixels.mode {
        ColorMode::Grey => PixelType::U8,
        ColorMode::Rgb => PixelType::U8x3,
        ColorMode::Rgba => PixelType::U8x4,
    };
    let size = (pixels.width, pixels.height);
    Ok(Pixels {
        width,
        height,
        mode: pixels.mode,
        data: resize_raw(&pixels.data, size, pixel_type, (width, height))?,
    })
}

/// The shared resize: `raw` holds `size.0 × size.1` pixels of `pixel_type`.
fn resize_raw(
    raw: &[u8],
    (iw, ih): (u32, u32),
    pixel_type: PixelType,
    (width, height): (u32, u32),
) -> Result<Vec<u8>, ImageInputError> {
    if iw == 0 || ih == 0 || width == 0 || height == 0 {
        return Err(ImageInputError::EmptySize { width, height });
    }
    if (iw, ih) == (width, height) {
        return Ok(raw.to_vec());
    }
    let refused = |reason: String| ImageInputError::Resize {
        width,
        height,
        reason,
    };
    let src = ImageRef::new(iw, ih, raw, pixel_type).map_err(|e| refused(e.to_string()))?;
    let mut dst = Image::new(width, height, pixel_type);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    Resizer::new()
        .resize(&src, &mut dst, &options)
        .map_err(|e| refused(e.to_string()))?;
    Ok(dst.into_vec())
}

/// One image to a `[1, H, W, 3]` tensor: resized (see [`target_size`], [`resize_bilinear`]),
/// cast to float32 in `[0, 255]`, then preprocessed.
pub fn to_tensor(
    image: &RgbImage,
    height: Option<u32>,
    width: Option<u32>,
    preprocessing: Preprocessing,
) -> Result<InputTensor, ImageInputError> {
    let pixels = Pixels {
        width: image.width(),
        height: image.height(),
        mode: ColorMode::Rgb,
        data: image.as_raw().clone(),
    };
    pixels_to_tensor(&pixels, height, width, preprocessing)
}

/// [`to_tensor`] for pixels in any colour layout: a `[1, H, W, C]` tensor. `caffe` and
/// `torch` are refused for other than 3 channels ([`Preprocessing::accepts_channels`]).
pub fn pixels_to_tensor(
    pixels: &Pixels,
    height: Option<u32>,
    width: Option<u32>,
    preprocessing: Preprocessing,
) -> Result<InputTensor, ImageInputError> {
    let channels = pixels.mode.channels();
    if !preprocessing.accepts_channels(channels) {
        return Err(ImageInputError::PreprocessingChannels {
            mode: preprocessing.as_str(),
            channels,
        });
    }
    let (iw, ih) = (pixels.width, pixels.height);
    if iw == 0 || ih == 0 {
        return Err(ImageInputError::EmptySize {
            width: iw,
            height: ih,
        });
    }
    let (w, h) = target_size((iw, ih), height, width);
    if w == 0 || h == 0 {
        return Err(ImageInputError::EmptySize {
            width: w,
            height: h,
        });
    }
    let resized = resize_pixels(pixels, w, h)?;
    let mut data: Vec<f32> = resized.data.iter().map(|&v| f32::from(v)).collect();
    preprocessing.apply(&mut data);
    Ok(InputTensor {
        data,
        batch: 1,
        height: h,
        width: w,
        channels,
    })
}

/// Several images to one `[N, H, W, 3]` tensor. With a dynamic height or width every image
/// must come out at the same size, otherwise [`ImageInputError::BatchSizeMismatch`].
pub fn to_batch(
    images: &[RgbImage],
    height: Option<u32>,
    width: Option<u32>,
    preprocessing: Preprocessing,
) -> Result<InputTensor, ImageInputError> {
    let mut batch: Option<InputTensor> = None;
    for (index, image) in images.iter().enumerate() {
        let one = to_tensor(image, height, width, preprocessing)?;
        match batch.as_mut() {
            None => batch = Some(one),
            Some(b) if (b.height, b.width) == (one.height, one.width) => {
                b.data.extend_from_slice(&one.data);
                b.batch += 1;
            }
            Some(b) => {
                return Err(ImageInputError::BatchSizeMismatch {
                    index,
                    height: one.height,
                    width: one.width,
                    first_height: b.height,
                    first_width: b.width,
                })
            }
        }
    }
    batch.ok_or(ImageInputError::EmptySize {
        width: width.unwrap_or(0),
        height: height.unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    fn gradient(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| Rgb([x as u8, y as u8, (x * y) as u8]))
    }

    #[test]
    fn same_size_is_identity() {
        let img = gradient(37, 23);
        assert_eq!(resize_bilinear(&img, 37, 23).unwrap(), img);
        let t = to_tensor(&img, Some(23), Some(37), Preprocessing::None).unwrap();
        assert_eq!(t.shape(), [1, 23, 37, 3]);
        assert_eq!(t.data[3 * 5], 5.0);
    }

    #[test]
    fn free_size_caps_longest_side() {
        assert_eq!(target_size((4000, 3000), None, None), (1024, 768));
        assert_eq!(target_size((300, 200), None, None), (300, 200));
        assert_eq!(target_size((300, 200), Some(64), Some(32)), (32, 64));
    }

    #[test]
    fn batch_of_different_free_sizes_is_refused() {
        let imgs = [gradient(10, 10), gradient(12, 10)];
        let err = to_batch(&imgs, None, None, Preprocessing::Unit).unwrap_err();
        assert!(matches!(
            err,
            ImageInputError::BatchSizeMismatch { index: 1, .. }
        ));
        let ok = to_batch(&imgs, Some(8), Some(8), Preprocessing::Unit).unwrap();
        assert_eq!(ok.shape(), [2, 8, 8, 3]);
        assert_eq!(ok.data.len(), 2 * 8 * 8 * 3);
    }

    #[test]
    fn empty_inputs_are_errors() {
        let err = to_tensor(&RgbImage::new(0, 5), None, None, Preprocessing::Tf).unwrap_err();
        assert!(matches!(err, ImageInputError::EmptySize { .. }));
        assert!(to_batch(&[], Some(4), Some(4), Preprocessing::Tf).is_err());
        assert!(to_tensor(&gradient(3, 3), Some(0), Some(3), Preprocessing::Tf).is_err());
    }
}
