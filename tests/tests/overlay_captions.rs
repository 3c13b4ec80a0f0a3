//! Property tests of the captioned panels: for any photo of at least 1×1 pixel, any number of
//! methods and captions of any length, the panels have their documented sizes, never panic,
//! keep the photo's pixels, and cut every caption to its tile's width.

use image::RgbImage;
use overlay::{
    captioned_row_size, explained_panel, fit_to_width, method_panel, text_width, with_caption,
    ClassCaption, Colormap, Heatmap, MethodMap, OverlayOptions, BACKGROUND, CAPTION_PADDING,
};
use proptest::prelude::*;

/// A photo of `1..=max_side` pixels per side, one colour.
fn photo(max_side: u32) -> impl Strategy<Value = RgbImage> {
    (1..=max_side, 1..=max_side, any::<[u8; 3]>())
        .prop_map(|(w, h, rgb)| RgbImage::from_pixel(w, h, image::Rgb(rgb)))
}

/// Any text, from empty to far wider than a tile, with non-ASCII characters.
fn caption() -> impl Strategy<Value = String> {
    prop::string::string_regex("[a-zA-Zé_0-9 .…/-]{0,120}").expect("a valid pattern")
}

fn heatmap() -> Heatmap {
    Heatmap::new(3, 2, vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]).expect("3×2")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn method_panels_have_their_documented_size(
        photo in photo(90),
        methods in 0usize..4,
        colorbar in any::<bool>(),
        class in caption(),
        layer in caption(),
        probability in 0f32..=1.0,
    ) {
        let heat = heatmap();
        let maps: Vec<MethodMap> = (0..methods)
            .map(|i| MethodMap {
                method: if i % 2 == 0 { "grad-cam" } else { "guided-backprop" },
                layer: (i % 2 == 0).then_some(layer.as_str()),
                heatmap: &heat,
            })
            .collect();
        let class = ClassCaption { class, probability };
        let opts = OverlayOptions { colorbar, colormap: Colormap::Viridis, ..OverlayOptions::default() };
        let panel = method_panel(&photo, &class, &maps, &opts).unwrap();
        let size = captioned_row_size(1 + methods as u32, photo.dimensions(), 2, colorbar);
        prop_assert_eq!(Ok(panel.dimensions()), size);
        prop_assert_eq!(panel.get_pixel(0, 0), photo.get_pixel(0, 0));
        let map = MethodMap { method: "grad-cam", layer: Some(&layer), heatmap: &heat };
        let explained = explained_panel(&photo, &class, &map, &opts).unwrap();
        prop_assert_eq!(
            Ok(explained.dimensions()),
            captioned_row_size(3, photo.dimensions(), 2, colorbar)
        );
    }

    #[test]
    fn captions_never_leave_their_tile(text in caption(), width in 1u32..200) {
        let room = width.saturating_sub(CAPTION_PADDING) as f32;
        let fitted = fit_to_width(&text, room).unwrap();
        prop_assert!(text_width(&fitted).unwrap() <= room);
        prop_assert!(fitted == text || fitted.is_empty() || fitted.ends_with('…'));
        // The captioned tile keeps the tile's width and grows a caption strip.
        let tile = RgbImage::from_pixel(width, 4, BACKGROUND);
        let captioned = with_caption(&tile, &[text.clone(), text], 0).unwrap();
        prop_assert_eq!(captioned.width(), width);
        prop_assert!(captioned.height() > 4);
    }
}
