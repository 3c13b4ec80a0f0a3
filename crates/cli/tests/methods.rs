//! `kerascam explain --method` on the `plain` model of `tests/fixtures/methods/`: several
//! methods write one picture each (the method in the file name) with `method` and `layers`
//! in the JSON records; `--layer` repeated fuses layers and `--save-heatmap` writes the map at
//! the finest layer's resolution; an unknown method is refused in one line.

use std::ffi::OsStr;
use std::process::Output;

use serde_json::Value;

mod common;

use common::kerascam;

/// `explain` of the plain model on a demo photo into `out`, with `extra` options.
fn explain(out: &std::path::Path, extra: &[&str]) -> Output {
    let model = common::fixture("methods", "models/plain.keras");
    let photo = common::fixture("methods", "../../../demo/photos/red_disk_left.png");
    let mut args: Vec<&OsStr> = vec![
        OsStr::new("explain"),
        model.as_os_str(),
        photo.as_os_str(),
        OsStr::new("--preprocess"),
        OsStr::new("tf"),
        OsStr::new("--out"),
        out.as_os_str(),
        OsStr::new("--json"),
    ];
    args.extend(extra.iter().map(OsStr::new));
    kerascam(&args)
}

fn records(out: &Output) -> Vec<Value> {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn several_methods_write_one_picture_each() {
    let dir = tempfile::tempdir().unwrap();
    let out = explain(dir.path(), &["--method", "gradcam,scorecam,ablationcam"]);
    let records = records(&out);
    let methods: Vec<&str> = records
        .iter()
        .map(|r| r["method"].as_str().unwrap())
        .collect();
    assert_eq!(methods, ["gradcam", "scorecam", "ablationcam"]);
    for method in methods {
        assert!(dir
            .path()
            .join(format!("red_disk_left.{method}.png"))
            .is_file());
    }
    assert_eq!(records[0]["layers"], serde_json::json!(["conv"]));
}

#[test]
fn fused_layers_save_the_finest_resolution() {
    let dir = tempfile::tempdir().unwrap();
    let options = [
        "--layer",
        "feat",
        "--layer",
        "conv",
        "--save-heatmap",
        "--eigen-smooth",
    ];
    let records = records(&explain(dir.path(), &options));
    assert_eq!(records[0]["layers"], serde_json::json!(["feat", "conv"]));
    let npy = std::fs::read(dir.path().join("red_disk_left.npy")).unwrap();
    let header = String::from_utf8_lossy(&npy[..npy.len().min(128)]).to_string();
    // npyz writes the shape tuple with a trailing comma: `(16, 16, )`.
    assert!(header.contains("'shape': (16, 16,"), "{header}");
}

#[test]
fn unknown_method_is_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = explain(dir.path(), &["--method", "gradcam,nocam"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("nocam") && stderr.contains("scorecam"),
        "{stderr}"
    );
}

#[test]
fn several_methods_with_panel_write_one_panel() {
    let dir = tempfile::tempdir().unwrap();
    let records = records(&explain(
        dir.path(),
        &["--method", "gradcam,hirescam,eigencam", "--panel"],
    ));
    assert_eq!(records.len(), 3);
    let outputs: Vec<&str> = records
        .iter()
        .map(|r| r["output"].as_str().unwrap())
        .collect();
    assert!(outputs.iter().all(|o| *o == outputs[0]), "{outputs:?}");
    assert!(outputs[0].ends_with("red_disk_left.png"), "{outputs:?}");
    let pngs = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().ends_with(".png")
        })
        .count();
    assert_eq!(pngs, 1, "one panel, no picture per method");
    let photo = common::fixture("methods", "../../../demo/photos/red_disk_left.png");
    let (photo_w, _) = image::image_dimensions(&photo).unwrap();
    let (panel_w, _) = image::image_dimensions(outputs[0]).unwrap();
    // photo | three overlays
    assert!(panel_w >= 4 * photo_w, "{panel_w} vs {photo_w}");
}
