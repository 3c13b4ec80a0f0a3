//! Decoding an image file into 8-bit RGB, as Keras' `load_img` would see it: EXIF orientation
//! applied, grey replicated, alpha dropped, 16-bit samples reduced to their high byte.

use std::io::{BufRead, Cursor, Seek};
use std::path::Path;

use image::{
    DynamicImage, ImageBuffer, ImageDecoder, ImageReader, Limits, Pixel, RgbImage, Rgba, RgbaImage,
};

/// Largest accepted width or height of a decoded image, in pixels.
pub const MAX_IMAGE_SIDE: u32 = 20_000;
/// Largest memory the decoder may allocate for one image, in bytes (1 GiB).
pub const MAX_DECODE_BYTES: u64 = 1 << 30;

/// Why an image could not be turned into pixels or into a tensor.
#[derive(Debug, thiserror::Error)]
pub enum ImageInputError {
    /// The file could not be opened or read.
    #[error("{file}: cannot read the image: {source}")]
    Io {
        /// The file.
        file: String,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// The bytes are not in a supported format (JPEG, PNG, WebP, BMP, TIFF, GIF).
    #[error("{file}: not a supported image (JPEG, PNG, WebP, BMP, TIFF, GIF): {source}")]
    Unsupported {
        /// The file.
        file: String,
        /// The decoder's error.
        source: image::ImageError,
    },
    /// The image is larger than [`MAX_IMAGE_SIDE`] or needs more than [`MAX_DECODE_BYTES`].
    #[error(
        "{file}: image too large (limits: {MAX_IMAGE_SIDE}x{MAX_IMAGE_SIDE} pixels, \
         {MAX_DECODE_BYTES} bytes decoded): {source}"
    )]
    TooLarge {
        /// The file.
        file: String,
        /// The decoder's error.
        source: image::ImageError,
    },
    /// The data ends early or is damaged.
    #[error("{file}: truncated or corrupt image data: {source}")]
    Corrupt {
        /// The file.
        file: String,
        /// The decoder's error.
        source: image::ImageError,
    },
    /// An image or a requested size with a zero side.
    #[error("empty size {width}x{height}: an image and a target size need at least one pixel")]
    EmptySize {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// The resampler refused the sizes (not expected for RGB images of at least one pixel).
    #[error("cannot resize to {width}x{height}: {reason}")]
    Resize {
        /// Target width in pixels.
        width: u32,
        /// Target height in pixels.
        height: u32,
        /// The resampler's message.
        reason: String,
    },
    /// A model input with a channel count other than 1, 3 or 4.
    #[error("the model takes {channels}-channel images: only 1 (grey), 3 (RGB) and 4 (RGBA) are supported")]
    Channels {
        /// The model's channel count.
        channels: usize,
    },
    /// A preprocessing mode defined for RGB only (`caffe`, `torch`) on a grey or RGBA input.
    #[error("preprocessing `{mode}` is defined for 3-channel (RGB) images, the model takes {channels}: use tf, unit or none")]
    PreprocessingChannels {
        /// The mode's name.
        mode: &'static str,
        /// The model's channel count.
        channels: usize,
    },
    /// A batch whose tensors came out with different sizes.
    #[error(
        "batch image {index} is {height}x{width}, the first is {first_height}x{first_width}: \
         give a fixed height and width"
    )]
    BatchSizeMismatch {
        /// Position of the offending image.
        index: usize,
        /// Its tensor height.
        height: u32,
        /// Its tensor width.
        width: u32,
        /// The first image's tensor height.
        first_height: u32,
        /// The first image's tensor width.
        first_width: u32,
    },
}

/// The decoder limits against decompression bombs.
fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    limits
}

/// Reads and decodes an image file into 8-bit RGB (see [`to_rgb8`] for the conversions).
pub fn load_image(path: impl AsRef<Path>) -> Result<RgbImage, ImageInputError> {
    load_photo(path).map(to_rgb8)
}

/// Reads and decodes an image file as stored (EXIF orientation applied, no colour
/// conversion), for [`to_rgb8`] or [`crate::to_color_mode`].
pub fn load_photo(path: impl AsRef<Path>) -> Result<DynamicImage, ImageInputError> {
    let path = path.as_ref();
    let file = path.display().to_string();
    let reader = ImageReader::open(path).map_err(|source| ImageInputError::Io {
        file: file.clone(),
        source,
    })?;
    decode(reader, &file)
}

/// Decodes an image held in memory; `name` is used in error messages.
pub fn load_image_from_bytes(bytes: &[u8], name: &str) -> Result<RgbImage, ImageInputError> {
    decode(ImageReader::new(Cursor::new(bytes)), name).map(to_rgb8)
}

fn decode<R: BufRead + Seek>(
    reader: ImageReader<R>,
    file: &str,
) -> Result<DynamicImage, ImageInputError> {
    let mut reader = reader
        .with_guessed_format()
        .map_err(|source| ImageInputError::Io {
            file: file.to_string(),
            source,
        })?;
    reader.limits(limits());
    let classify = |e| classify_error(file, e);
    let mut decoder = reader.into_decoder().map_err(classify)?;
    let orientation = decoder.orientation().map_err(classify)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(classify)?;
    image.apply_orientation(orientation);
    Ok(image)
}

fn classify_error(file: &str, source: image::ImageError) -> ImageInputError {
    let file = file.to_string();
    match source {
        image::ImageError::Limits(_) => ImageInputError::TooLarge { file, source },
        image::ImageError::Unsupported(_) => ImageInputError::Unsupported { file, source },
        image::ImageError::IoError(e) if e.kind() != std::io::ErrorKind::UnexpectedEof => {
            ImageInputError::Io { file, source: e }
        }
        other => ImageInputError::Corrupt {
            file,
            source: other,
        },
    }
}

/// Converts any decoded image to 8-bit RGB the way PIL's `convert("RGB")` does for Keras'
/// `load_img`: grey is replicated into R, G, B; alpha is dropped (no compositing on a
/// background); 16-bit samples keep their high byte (`v >> 8`, PIL's `RGB;16B` unpacking);
/// float images are converted by the `image` crate (clamped to `[0, 1]`, scaled, rounded).
pub fn to_rgb8(image: DynamicImage) -> RgbImage {
    with_8bit_samples(image).into_rgb8()
}

/// The image with 8-bit samples: a 16-bit one keeps the high byte of each sample (as RGBA,
/// grey replicated, alpha kept or 255); any other is returned as it is, for the `image`
/// crate's own conversions.
pub(crate) fn with_8bit_samples(image: DynamicImage) -> DynamicImage {
    match image {
        DynamicImage::ImageLuma16(img) => high_bytes(&img),
        DynamicImage::ImageLumaA16(img) => high_bytes(&img),
        DynamicImage::ImageRgb16(img) => high_bytes(&img),
        DynamicImage::ImageRgba16(img) => high_bytes(&img),
        other => other,
    }
}

/// RGBA from the high byte of each 16-bit sample.
fn high_bytes<P: Pixel<Subpixel = u16>>(img: &ImageBuffer<P, Vec<u16>>) -> DynamicImage {
    DynamicImage::ImageRgba8(RgbaImage::from_fn(img.width(), img.height(), |x, y| {
        Rgba(img.get_pixel(x, y).to_rgba().0.map(|v| (v >> 8) as u8))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageFormat, Luma, LumaA, Rgb};

    fn png_bytes(img: DynamicImage) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn sixteen_bit_keeps_high_byte_and_grey_is_replicated() {
        let img = ImageBuffer::from_pixel(2, 1, Luma([0xABCDu16]));
        let rgb = to_rgb8(DynamicImage::ImageLuma16(img));
        assert_eq!(rgb.get_pixel(1, 0).0, [0xAB, 0xAB, 0xAB]);
        let img = ImageBuffer::from_pixel(1, 1, Rgba([0x0102u16, 0xFF00, 0x7F7F, 0]));
        let rgb = to_rgb8(DynamicImage::ImageRgba16(img));
        assert_eq!(rgb.get_pixel(0, 0).0, [0x01, 0xFF, 0x7F]);
    }

    #[test]
    fn alpha_is_dropped_not_composited() {
        let img = ImageBuffer::from_pixel(1, 1, LumaA([40u8, 0]));
        let rgb = load_image_from_bytes(&png_bytes(DynamicImage::ImageLumaA8(img)), "a.png");
        assert_eq!(rgb.unwrap().get_pixel(0, 0).0, [40, 40, 40]);
    }

    #[test]
    fn truncated_file_is_an_error_naming_it() {
        let img = RgbImage::from_fn(64, 64, |x, y| Rgb([x as u8, y as u8, 7]));
        let bytes = png_bytes(DynamicImage::ImageRgb8(img));
        let err = load_image_from_bytes(&bytes[..bytes.len() / 2], "cut.png").unwrap_err();
        assert!(matches!(err, ImageInputError::Corrupt { .. }), "{err}");
        assert!(err.to_string().starts_with("cut.png: "), "{err}");
    }

    #[test]
    fn garbage_is_unsupported_and_oversize_is_refused() {
        let err = load_image_from_bytes(b"not an image at all", "x.bin").unwrap_err();
        assert!(matches!(err, ImageInputError::Unsupported { .. }), "{err}");
        let wide = DynamicImage::ImageLuma8(ImageBuffer::new(MAX_IMAGE_SIDE + 1, 1));
        let err = load_image_from_bytes(&png_bytes(wide), "wide.png").unwrap_err();
        assert!(matches!(err, ImageInputError::TooLarge { .. }), "{err}");
    }

    #[test]
    fn exif_orientation_is_applied() {
        use image::codecs::png::PngEncoder;
        use image::{ExtendedColorType, ImageEncoder};
        // 3x2 image, (0, 0) red, everything else black; EXIF orientation 6 (rotate 90° CW).
        let img = RgbImage::from_fn(3, 2, |x, y| Rgb([if x + y == 0 { 255 } else { 0 }, 0, 0]));
        let exif = [
            b"MM\0\x2a\0\0\0\x08".as_slice(),
            &[0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0],
        ]
        .concat();
        let mut bytes = Vec::new();
        let mut encoder = PngEncoder::new(&mut bytes);
        encoder.set_exif_metadata(exif).unwrap();
        encoder
            .write_image(img.as_raw(), 3, 2, ExtendedColorType::Rgb8)
            .unwrap();
        let loaded = load_image_from_bytes(&bytes, "rotated.png").unwrap();
        assert_eq!(loaded.dimensions(), (2, 3));
        assert_eq!(loaded.get_pixel(1, 0).0, [255, 0, 0]);
    }

    #[test]
    fn missing_file_is_io_error() {
        let err = load_image("/nonexistent/kerascam.png").unwrap_err();
        assert!(matches!(err, ImageInputError::Io { .. }), "{err}");
    }
}
