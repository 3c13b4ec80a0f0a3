//! Property tests of the overlay crate: sizes, blending extremes, resampling exactness and
//! layout dimensions, over arbitrary photo and heatmap sizes.

use image::RgbImage;
use overlay::{
    blend, render, resize_bilinear, Colormap, Heatmap, OverlayError, OverlayOptions,
    COLORBAR_WIDTH, PANEL_GAP, TICK_LENGTH,
};
use proptest::prelude::*;

/// A photo of `1..=max_side` pixels per side with arbitrary RGB bytes.
fn photo(max_side: u32) -> impl Strategy<Value = RgbImage> {
    (1..=max_side, 1..=max_side).prop_flat_map(|(width, height)| {
        let bytes = prop::collection::vec(any::<u8>(), (3 * width * height) as usize);
        bytes.prop_map(move |raw| RgbImage::from_raw(width, height, raw).expect("3 bytes a pixel"))
    })
}

/// A heatmap of `1..=max_side` cells per side, values in [-0.25, 1.25] (so clamping is hit).
fn heatmap(max_side: u32) -> impl Strategy<Value = Heatmap> {
    (1..=max_side, 1..=max_side).prop_flat_map(|(width, height)| {
        prop::collection::vec(-0.25f32..=1.25, (width * height) as usize)
            .prop_map(move |data| Heatmap::new(width, height, data).unwrap())
    })
}

fn colormap() -> impl Strategy<Value = Colormap> {
    prop::sample::select(Colormap::ALL.to_vec())
}

/// Half-pixel-centre source coordinate of output index `index` (the documented formula).
fn source_coordinate(index: u32, input_len: u32, output_len: u32) -> f64 {
    let scale = f64::from(input_len) / f64::from(output_len);
    ((f64::from(index) + 0.5) * scale - 0.5).clamp(0.0, f64::from(input_len - 1))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn plain_render_has_the_photo_size(
        photo in photo(48), heat in heatmap(16), colormap in colormap(), alpha in 0.0f32..=1.0
    ) {
        let opts = OverlayOptions { colormap, alpha, ..OverlayOptions::default() };
        let out = render(&photo, &heat, &opts).unwrap();
        prop_assert_eq!(out.dimensions(), photo.dimensions());
    }

    #[test]
    fn alpha_zero_returns_the_photo_exactly(
        photo in photo(40), heat in heatmap(12), colormap in colormap()
    ) {
        let opts = OverlayOptions { colormap, alpha: 0.0, ..OverlayOptions::default() };
        let out = render(&photo, &heat, &opts).unwrap();
        prop_assert!(out == photo);
    }

    #[test]
    fn alpha_one_returns_the_colormap_of_the_upsampled_heatmap(
        photo in photo(40), heat in heatmap(12), colormap in colormap()
    ) {
        let opts = OverlayOptions { colormap, alpha: 1.0, ..OverlayOptions::default() };
        let out = render(&photo, &heat, &opts).unwrap();
        let upsampled = resize_bilinear(&heat, photo.width(), photo.height()).unwrap();
        for (x, y, pixel) in out.enumerate_pixels() {
            let value = upsampled.get(x, y).unwrap();
            prop_assert_eq!(*pixel, colormap.map(value), "pixel ({}, {})", x, y);
        }
    }

    #[test]
    fn blending_is_convex_per_channel(
        photo in photo(24), heat in heatmap(8), colormap in colormap(), alpha in 0.0f32..=1.0
    ) {
        let colors = colormap.colorize(&resize_bilinear(&heat, photo.width(), photo.height()).unwrap());
        let out = blend(&photo, &colors, alpha).unwrap();
        for ((&mixed, &from_photo), &from_colors) in out.iter().zip(photo.iter()).zip(colors.iter()) {
            prop_assert!(from_photo.min(from_colors) <= mixed && mixed <= from_photo.max(from_colors));
            let exact = (1.0 - f64::from(alpha)) * f64::from(from_photo) + f64::from(alpha) * f64::from(from_colors);
            prop_assert!((f64::from(mixed) - exact).abs() <= 0.5 + 1e-4, "{} vs {}", mixed, exact);
        }
    }

    #[test]
    fn alpha_outside_the_unit_interval_is_an_error(
        photo in photo(8), heat in heatmap(4),
        alpha in prop_oneof![-10.0f32..-1e-6, 1.000_001f32..10.0, Just(f32::NAN)]
    ) {
        let opts = OverlayOptions { alpha, ..OverlayOptions::default() };
        let is_invalid_alpha = matches!(render(&photo, &heat, &opts), Err(OverlayError::InvalidAlpha { .. }));
        prop_assert!(is_invalid_alpha);
    }

    #[test]
    fn resizing_a_constant_heatmap_is_constant(
        width in 1u32..=8, height in 1u32..=8, value in -2.0f32..2.0,
        out_width in 1u32..=600, out_height in 1u32..=40
    ) {
        let heat = Heatmap::new(width, height, vec![value; (width * height) as usize]).unwrap();
        let out = resize_bilinear(&heat, out_width, out_height).unwrap();
        prop_assert_eq!((out.width(), out.height()), (out_width, out_height));
        prop_assert!(out.data().iter().all(|&v| v == value));
    }

    #[test]
    fn resizing_a_bilinear_ramp_matches_the_half_pixel_formula(
        width in 1u32..=12, height in 1u32..=12,
        out_width in 1u32..=300, out_height in 1u32..=60,
        (a, b, c, d) in (-1.0f64..1.0, -0.2f64..0.2, -0.2f64..0.2, -0.05f64..0.05)
    ) {
        let ramp = |x: f64, y: f64| a + b * x + c * y + d * x * y;
        let data = (0..height)
            .flat_map(|y| (0..width).map(move |x| (x, y)))
            .map(|(x, y)| ramp(f64::from(x), f64::from(y)) as f32)
            .collect();
        let heat = Heatmap::new(width, height, data).unwrap();
        let out = resize_bilinear(&heat, out_width, out_height).unwrap();
        for dy in 0..out_height {
            let sy = source_coordinate(dy, height, out_height);
            for dx in 0..out_width {
                let sx = source_coordinate(dx, width, out_width);
                let expected = ramp(sx, sy);
                let got = f64::from(out.get(dx, dy).unwrap());
                prop_assert!((got - expected).abs() <= 2e-6, "({}, {}): {} vs {}", dx, dy, got, expected);
            }
        }
    }

    #[test]
    fn halving_averages_two_by_two_blocks(
        (half_width, half_height, data) in (1u32..=10, 1u32..=10).prop_flat_map(|(w, h)| {
            (Just(w), Just(h), prop::collection::vec(0.0f32..=1.0, (4 * w * h) as usize))
        })
    ) {
        let (width, height) = (2 * half_width, 2 * half_height);
        let heat = Heatmap::new(width, height, data).unwrap();
        let half = resize_bilinear(&heat, half_width, half_height).unwrap();
        for y in 0..half_height {
            for x in 0..half_width {
                let block = [(0, 0), (1, 0), (0, 1), (1, 1)]
                    .map(|(ox, oy)| f64::from(heat.get(2 * x + ox, 2 * y + oy).unwrap()));
                let mean = block.iter().sum::<f64>() / 4.0;
                let got = f64::from(half.get(x, y).unwrap());
                prop_assert!((got - mean).abs() <= 1e-6, "({}, {}): {} vs {}", x, y, got, mean);
            }
        }
    }

    #[test]
    fn panel_and_colorbar_have_the_documented_size(
        photo in photo(32), heat in heatmap(8), panel in any::<bool>(), colorbar in any::<bool>()
    ) {
        let opts = OverlayOptions { panel, colorbar, ..OverlayOptions::default() };
        let out = render(&photo, &heat, &opts).unwrap();
        let (width, height) = photo.dimensions();
        let tiles = if panel { 3 * width + 2 * PANEL_GAP } else { width };
        let bar = if colorbar { PANEL_GAP + COLORBAR_WIDTH + TICK_LENGTH } else { 0 };
        prop_assert_eq!(out.dimensions(), (tiles + bar, height));
        prop_assert_eq!(opts.output_size(width, height), Ok((tiles + bar, height)));
    }

    #[test]
    fn colorbar_column_is_the_gradient_from_one_to_zero(
        photo in photo(32), heat in heatmap(4), colormap in colormap()
    ) {
        let opts = OverlayOptions { colormap, colorbar: true, ..OverlayOptions::default() };
        let out = render(&photo, &heat, &opts).unwrap();
        let (width, height) = photo.dimensions();
        let bar_x = width + PANEL_GAP + COLORBAR_WIDTH / 2;
        prop_assert_eq!(*out.get_pixel(bar_x, 0), colormap.map(1.0));
        if height > 1 {
            prop_assert_eq!(*out.get_pixel(bar_x, height - 1), colormap.map(0.0));
        }
        for y in 0..height {
            let value = if height == 1 { 1.0 } else { 1.0 - y as f32 / (height - 1) as f32 };
            let expected = colormap.map(value);
            let got = *out.get_pixel(bar_x, y);
            prop_assert_eq!(got, expected, "row {}", y);
        }
    }

    #[test]
    fn heatmap_constructor_rejects_wrong_lengths_without_panicking(
        width in 0u32..6, height in 0u32..6, len in 0usize..40
    ) {
        let result = Heatmap::new(width, height, vec![0.5; len]);
        let valid = width > 0 && height > 0 && len == (width * height) as usize;
        prop_assert_eq!(result.is_ok(), valid);
    }
}
