//! Checks against references computed by OpenCV (`tools/colormaps/generate.py`):
//! the JET table, and two end-to-end overlays (resize + JET + addWeighted).

use std::collections::HashMap;
use std::path::PathBuf;

use image::RgbImage;
use overlay::{blend, resize_bilinear, Colormap, Heatmap};

fn data_file(name: &str) -> String {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "data", name]
        .iter()
        .collect();
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

#[test]
fn jet_equals_opencv_at_all_256_entries() {
    let text = data_file("opencv_jet.txt");
    let rows: Vec<Vec<u32>> = text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            line.split_whitespace()
                .map(|v| v.parse().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 256, "reference must list 256 entries");
    let mut mismatches = Vec::new();
    for row in &rows {
        let &[index, b, g, r] = row.as_slice() else {
            panic!("bad reference row {row:?}");
        };
        // OpenCV writes BGR; our colours are RGB.
        let expected = [r as u8, g as u8, b as u8];
        let got = Colormap::Jet.map(index as f32 / 255.0).0;
        if got != expected {
            mismatches.push((index, got, expected));
        }
    }
    assert!(
        mismatches.is_empty(),
        "(index, ours, opencv): {mismatches:?}"
    );
}

/// One parsed `opencv_overlay_*.txt` file: sections `name width height` then values.
struct Reference {
    alpha: f32,
    sections: HashMap<String, (u32, u32, Vec<f64>)>,
}

impl Reference {
    fn load(name: &str) -> Reference {
        let text = data_file(name);
        let mut lines = text.lines().filter(|line| !line.starts_with('#'));
        let alpha_line = lines.next().expect("alpha line");
        let alpha = alpha_line
            .strip_prefix("alpha ")
            .and_then(|v| v.parse().ok())
            .expect("alpha value");
        let mut sections = HashMap::new();
        while let Some(header) = lines.next() {
            let fields: Vec<&str> = header.split_whitespace().collect();
            let [name, width, height] = fields.as_slice() else {
                panic!("bad header {header:?}");
            };
            let values = lines
                .next()
                .expect("values line")
                .split_whitespace()
                .map(|v| v.parse().unwrap())
                .collect();
            sections.insert(
                name.to_string(),
                (width.parse().unwrap(), height.parse().unwrap(), values),
            );
        }
        Reference { alpha, sections }
    }

    fn heatmap(&self, name: &str) -> Heatmap {
        let (width, height, values) = &self.sections[name];
        Heatmap::new(*width, *height, values.iter().map(|&v| v as f32).collect()).unwrap()
    }

    fn image(&self, name: &str) -> RgbImage {
        let (width, height, values) = &self.sections[name];
        RgbImage::from_raw(*width, *height, values.iter().map(|&v| v as u8).collect()).unwrap()
    }
}

fn check_overlay_reference(name: &str) {
    let reference = Reference::load(name);
    let heat = reference.heatmap("heat");
    let photo = reference.image("photo");
    let expected_resized = reference.heatmap("resized");
    let expected_overlay = reference.image("overlay");

    let resized = resize_bilinear(&heat, photo.width(), photo.height()).unwrap();
    let worst_resize = resized
        .data()
        .iter()
        .zip(expected_resized.data())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    println!("{name}: worst |resize - cv2.resize| = {worst_resize:e}");
    assert!(
        worst_resize <= 1e-6,
        "{name}: resize differs by {worst_resize}"
    );

    let colors = Colormap::Jet.colorize(&resized);
    let blended = blend(&photo, &colors, reference.alpha).unwrap();
    let differing: Vec<_> = blended
        .enumerate_pixels()
        .filter(|(x, y, pixel)| *pixel != expected_overlay.get_pixel(*x, *y))
        .map(|(x, y, pixel)| (x, y, pixel.0, expected_overlay.get_pixel(x, y).0))
        .collect();
    println!(
        "{name}: {} of {} overlay pixels differ from OpenCV",
        differing.len(),
        photo.width() * photo.height()
    );
    assert!(
        differing.is_empty(),
        "{name}: (x, y, ours, opencv): {differing:?}"
    );
}

#[test]
fn upsampled_overlay_equals_opencv() {
    check_overlay_reference("opencv_overlay_up.txt");
}

#[test]
fn downsampled_overlay_equals_opencv() {
    check_overlay_reference("opencv_overlay_down.txt");
}
