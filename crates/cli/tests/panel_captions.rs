//! `explain --panel --colorbar` writes the captioned panel: photo | heatmap | overlay, each
//! with its caption strip (class name and probability, method and layer) holding text
//! pixels, and the colour bar labelled 1, 0.5 and 0.

use std::path::Path;
use std::process::Command;

use image::RgbImage;

fn demo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../demo")
        .join(path)
}

/// Whether the rectangle `[x0, x1) × [y0, y1)` of `image` has a dark (text) pixel.
fn has_text(image: &RgbImage, (x0, x1): (u32, u32), (y0, y1): (u32, u32)) -> bool {
    (y0..y1).any(|y| (x0..x1).any(|x| image.get_pixel(x, y).0.iter().all(|&c| c < 128)))
}

#[test]
fn panel_has_captions_and_a_labelled_colour_bar() {
    let out = tempfile::tempdir().unwrap();
    let photo = demo("photos/red_disk_left.png");
    let status = Command::new(assert_cmd::cargo::cargo_bin("kerascam"))
        .arg("explain")
        .arg(demo("shapes_cnn.keras"))
        .arg(&photo)
        .arg("--labels")
        .arg(demo("labels.txt"))
        .args(["--panel", "--colorbar", "--quiet"])
        .arg("--out")
        .arg(out.path())
        .args(["--device", &kerascam_tests::device::device_name()])
        .status()
        .unwrap();
    assert!(status.success());
    let written = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "png"))
        .expect("a PNG was written");
    let panel = image::open(&written).unwrap().to_rgb8();
    let (w, h) = image::image_dimensions(&photo).unwrap();
    assert_eq!(
        Ok(panel.dimensions()),
        overlay::captioned_row_size(3, (w, h), 2, true)
    );
    let step = w + overlay::PANEL_GAP;
    for tile in 0..3 {
        let columns = (tile * step, tile * step + w);
        assert!(
            has_text(&panel, columns, (h, panel.height())),
            "tile {tile} has no caption text"
        );
    }
    // Labels right of the bar's ticks, near its top ("1") and its bottom ("0").
    let labels = 3 * w + 3 * overlay::PANEL_GAP + overlay::COLORBAR_WIDTH + overlay::TICK_LENGTH;
    let line = overlay::line_height().unwrap();
    assert!(has_text(&panel, (labels, panel.width()), (0, line)));
    assert!(has_text(&panel, (labels, panel.width()), (h - line, h)));
    // Nothing but the background under the colour bar.
    assert!(!has_text(
        &panel,
        (labels, panel.width()),
        (h, panel.height())
    ));
}
