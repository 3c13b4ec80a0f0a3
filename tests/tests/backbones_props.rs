//! Property tests of preprocessing and image-to-tensor conversion.

use std::io::Cursor;

use backbones::{load_image_from_bytes, to_tensor, Preprocessing};
use image::{DynamicImage, ImageBuffer, ImageFormat, Luma, LumaA, Rgb, Rgba};
use proptest::prelude::*;

/// The documented output range of each mode per output channel (conformance README), for
/// inputs in `[0, 255]`.
fn documented_range(mode: Preprocessing, channel: usize) -> (f32, f32) {
    const CAFFE_BGR: [f32; 3] = [103.939, 116.779, 123.68];
    const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
    const STD: [f32; 3] = [0.229, 0.224, 0.225];
    match mode {
        Preprocessing::Caffe => (-CAFFE_BGR[channel], 255.0 - CAFFE_BGR[channel]),
        Preprocessing::Tf => (-1.0, 1.0),
        Preprocessing::Torch => (
            (0.0 - MEAN[channel]) / STD[channel],
            (1.0 - MEAN[channel]) / STD[channel],
        ),
        Preprocessing::None => (0.0, 255.0),
        Preprocessing::Unit => (0.0, 1.0),
    }
}

fn mode() -> impl Strategy<Value = Preprocessing> {
    prop::sample::select(Preprocessing::ALL.to_vec())
}

/// An image of `1..40` pixels per side with four drawn 16-bit samples per pixel.
#[derive(Debug, Clone)]
struct Pixels {
    width: u32,
    height: u32,
    /// Row-major, four samples a pixel (a colour type uses as many as it has channels).
    samples: Vec<u16>,
}

fn pixels() -> impl Strategy<Value = Pixels> {
    (1u32..40, 1u32..40).prop_flat_map(|(width, height)| {
        prop::collection::vec(any::<u16>(), (4 * width * height) as usize).prop_map(
            move |samples| Pixels {
                width,
                height,
                samples,
            },
        )
    })
}

/// Encodes `pixels` as a PNG of one of the seven colour types (8-bit types keep the high
/// byte of each sample).
fn png(kind: usize, pixels: &Pixels) -> Vec<u8> {
    let (w, h) = (pixels.width, pixels.height);
    let v = |x: u32, y: u32, c: u32| pixels.samples[((y * w + x) * 4 + c) as usize];
    let b = |x, y, c| (v(x, y, c) >> 8) as u8;
    let img = match kind {
        0 => DynamicImage::ImageLuma8(ImageBuffer::from_fn(w, h, |x, y| Luma([b(x, y, 0)]))),
        1 => DynamicImage::ImageLumaA8(ImageBuffer::from_fn(w, h, |x, y| {
            LumaA([b(x, y, 0), b(x, y, 1)])
        })),
        2 => DynamicImage::ImageRgb8(ImageBuffer::from_fn(w, h, |x, y| {
            Rgb([b(x, y, 0), b(x, y, 1), b(x, y, 2)])
        })),
        3 => DynamicImage::ImageRgba8(ImageBuffer::from_fn(w, h, |x, y| {
            Rgba([b(x, y, 0), b(x, y, 1), b(x, y, 2), b(x, y, 3)])
        })),
        4 => DynamicImage::ImageLuma16(ImageBuffer::from_fn(w, h, |x, y| Luma([v(x, y, 0)]))),
        5 => DynamicImage::ImageRgb16(ImageBuffer::from_fn(w, h, |x, y| {
            Rgb([v(x, y, 0), v(x, y, 1), v(x, y, 2)])
        })),
        _ => DynamicImage::ImageRgba16(ImageBuffer::from_fn(w, h, |x, y| {
            Rgba([v(x, y, 0), v(x, y, 1), v(x, y, 2), v(x, y, 3)])
        })),
    };
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png)
        .expect("PNG encodes");
    out.into_inner()
}

proptest! {
    #[test]
    fn each_mode_maps_0_255_into_its_documented_range(
        mode in mode(),
        pixels in prop::collection::vec(0.0f32..=255.0, 3..96),
    ) {
        let mut data = pixels.clone();
        data.truncate(data.len() / 3 * 3);
        mode.apply(&mut data);
        for (i, v) in data.iter().enumerate() {
            let (lo, hi) = documented_range(mode, i % 3);
            let slack = 1e-5 * lo.abs().max(hi.abs()).max(1.0);
            prop_assert!(*v >= lo - slack && *v <= hi + slack, "{mode} ch {}: {v}", i % 3);
        }
    }

    #[test]
    fn caffe_swaps_channels_exactly_once(r in 0u8..=255, g in 0u8..=255, b in 0u8..=255) {
        let rgb = [f32::from(r), f32::from(g), f32::from(b)];
        let mut two = [rgb, rgb].concat();
        Preprocessing::Caffe.apply(&mut two);
        let expected = [rgb[2] - 103.939, rgb[1] - 116.779, rgb[0] - 123.68];
        prop_assert_eq!(&two[..3], &expected[..]);
        prop_assert_eq!(&two[3..], &expected[..]);
    }

    #[test]
    fn any_image_becomes_a_tensor_of_the_model_shape(
        kind in 0usize..7,
        pixels in pixels(),
        tw in 1u32..48,
        th in 1u32..48,
        mode in mode(),
    ) {
        let (w, h) = (pixels.width, pixels.height);
        let img = load_image_from_bytes(&png(kind, &pixels), "prop.png").expect("decodes");
        prop_assert_eq!(img.dimensions(), (w, h));
        let t = to_tensor(&img, Some(th), Some(tw), mode).expect("tensor");
        prop_assert_eq!(t.shape(), [1, th as usize, tw as usize, 3]);
        prop_assert_eq!(t.data.len(), (th * tw * 3) as usize);
        prop_assert!(t.data.iter().all(|v| v.is_finite()));
        let free = to_tensor(&img, None, None, mode).expect("tensor");
        prop_assert_eq!(free.shape(), [1, h as usize, w as usize, 3]);
    }
}
