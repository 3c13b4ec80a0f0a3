//! `kerascam` on the tutorial-shaped models (`tests/fixtures/tutorials/`, made by its
//! `generate.py`): the serving model explains photos of any size with `auto` preprocessing, and
//! bad input is refused in one line naming the layer, with nothing written: an unknown
//! interpolation, a Resizing or CenterCrop to 0 pixels, a Rescaling scale of the wrong
//! length, a photo too small for CLAHE's tile grid, a photo of another size than a Reshape
//! fixes, a pixel-level method through CLAHE (no gradient); `--layer stages` on a free-size
//! model. Missing fixtures fail the tests.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Output;

mod common;

use common::kerascam;

fn fixture(rel: &str) -> PathBuf {
    common::fixture("tutorials", rel)
}

/// `kerascam explain MODEL PHOTO --json --out OUT` with `extra` options, OUT a fresh folder.
fn explain(model: &str, photo: &str, out: &Path, extra: &[&str]) -> Output {
    let (model, photo) = (fixture(model), fixture(photo));
    let mut args = vec![
        OsStr::new("explain"),
        model.as_os_str(),
        photo.as_os_str(),
        OsStr::new("--json"),
        OsStr::new("--out"),
        out.as_os_str(),
    ];
    args.extend(extra.iter().map(OsStr::new));
    kerascam(&args)
}

/// `kerascam explain MODEL PHOTO --json --save-heatmap` with `extra` options: the JSON record
/// and the saved heatmap file's bytes.
fn explain_json(model: &str, photo: &str, extra: &[&str]) -> (serde_json::Value, Vec<u8>) {
    let out = tempfile::tempdir().unwrap();
    let mut options = vec!["--save-heatmap"];
    options.extend_from_slice(extra);
    let output = explain(model, photo, out.path(), &options);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let line = String::from_utf8_lossy(&output.stdout);
    let json: serde_json::Value = serde_json::from_str(line.trim()).expect("one JSON object");
    let npy = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "npy"))
        .expect("a saved heatmap");
    (json, std::fs::read(npy).unwrap())
}

/// Exit code `code`, exactly one stderr error line containing every needle (a failed photo
/// is followed by the CLI's count of failures), nothing in `out`.
fn assert_refused(output: &Output, code: i32, needles: &[&str], out: &Path) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    let stderr = errors[0];
    for needle in needles {
        assert!(stderr.contains(needle), "{needle}: {stderr}");
    }
    let written = std::fs::read_dir(out).map_or(0, |d| d.count());
    assert_eq!(written, 0, "files were written for a refused input");
}

#[test]
fn stages_of_a_free_size_model_are_those_of_the_size_it_resizes_to() {
    // Resizing(256) → CenterCrop(224) → convolutions to 112, 56, 28 and 14 pixels (TF's shapes):
    // relu1, relu2 and relu3 are 1/4, 1/8 and 1/16 of 224, whatever the photo's size.
    for photo in ["photos/p240x320.png", "photos/p300x260.png"] {
        let (stages, map) = explain_json("models/serving_k3.keras", photo, &["--layer", "stages"]);
        assert_eq!(
            stages["layers"],
            serde_json::json!(["relu1", "relu2", "relu3"])
        );
        let named = ["--layer", "relu1", "--layer", "relu2", "--layer", "relu3"];
        let (by_name, named_map) = explain_json("models/serving_k3.keras", photo, &named);
        assert_eq!(by_name["layers"], stages["layers"]);
        assert_eq!(named_map, map, "{photo}: the same fused heatmap");
    }
}

#[test]
fn the_serving_model_explains_photos_of_any_size() {
    for photo in ["photos/p240x320.png", "photos/p300x260.png"] {
        let out = tempfile::tempdir().unwrap();
        let output = explain("models/serving_k2.h5", photo, out.path(), &[]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{photo}: {stderr}");
        let line = String::from_utf8_lossy(&output.stdout);
        let json: serde_json::Value = serde_json::from_str(line.trim()).expect("one JSON object");
        assert_eq!(json["preprocessing"], "none");
        assert_eq!(json["target_layer"], "relu3");
    }
}

#[test]
fn bad_layer_options_are_refused_in_one_line_naming_the_layer() {
    for (model, needles) in [
        (
            "bad/resize_sinc.keras",
            ["resizing", "interpolation = sinc"],
        ),
        ("bad/resize_zero.keras", ["resizing", "height"]),
        ("bad/center_crop_zero.keras", ["center_crop", "width"]),
        ("bad/rescaling_four.keras", ["rescaling", "4 values"]),
    ] {
        let out = tempfile::tempdir().unwrap();
        let output = explain(model, "photos/p48x48.png", out.path(), &[]);
        assert_refused(&output, 2, &needles, out.path());
    }
}

#[test]
fn pixel_methods_through_clahe_name_the_layer_without_a_gradient() {
    // TensorFlow's GradientTape gives no input gradient through CLAHE either.
    for method in ["guided-backprop", "smoothgrad"] {
        let out = tempfile::tempdir().unwrap();
        let options = ["--method", method];
        let output = explain(
            "models/clahe_k3.keras",
            "photos/p64x64.png",
            out.path(),
            &options,
        );
        assert_refused(&output, 1, &["layer 'clahe'", "no gradient"], out.path());
    }
    let (json, _) = explain_json("models/clahe_k3.keras", "photos/p64x64.png", &[]);
    assert_eq!(json["method"], "gradcam");
}

#[test]
fn photos_the_layers_cannot_take_are_refused_in_one_line() {
    for (model, photo, needles) in [
        (
            "models/clahe_k3.keras",
            "bad/p3x3.png",
            ["clahe", "too small"],
        ),
        (
            "bad/fixed_reshape.keras",
            "bad/p20x20.png",
            ["fixed_reshape", "reshape"],
        ),
    ] {
        let out = tempfile::tempdir().unwrap();
        let output = explain(model, photo, out.path(), &[]);
        assert_refused(&output, 1, &needles, out.path());
    }
    let out = tempfile::tempdir().unwrap();
    let fits = explain("bad/fixed_reshape.keras", "bad/p16x16.png", out.path(), &[]);
    assert!(
        fits.status.success(),
        "{}",
        String::from_utf8_lossy(&fits.stderr)
    );
}
