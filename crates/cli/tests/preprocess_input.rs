//! `kerascam inspect` and `explain` on models with keras.applications `preprocess_input`
//! inside (`tests/fixtures/preprocess_input/`, made by its `generate.py`): `auto` chooses
//! `none`, and `inspect` says why in words and in `--json` (`input_pipeline`), naming the
//! `preprocess_input` mode it recognised from the ops and their constants. Missing fixtures
//! fail the tests.

use std::ffi::OsStr;
use std::path::PathBuf;

mod common;

use common::kerascam;

fn fixture(rel: &str) -> PathBuf {
    common::fixture("preprocess_input", rel)
}

fn inspect_json(model: &str) -> serde_json::Value {
    let path = fixture(model);
    let output = kerascam(&[
        OsStr::new("inspect"),
        path.as_os_str(),
        OsStr::new("--json"),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{model}: {stderr}");
    serde_json::from_slice(&output.stdout).expect("one JSON object")
}

#[test]
fn inspect_explains_the_tutorial_models_input_pipeline() {
    for (model, ops) in [
        ("models/transfer_learning_k3.keras", "TrueDivide, Subtract"),
        ("models/transfer_learning_k3.h5", "TrueDivide, Subtract"),
        (
            "models/transfer_learning_k2.h5",
            "math.truediv, math.subtract",
        ),
    ] {
        let report = inspect_json(model);
        assert_eq!(report["preprocessing"], "none", "{model}");
        let pipeline = &report["input_pipeline"];
        assert_eq!(pipeline["preprocess_input_mode"], "tf", "{model}");
        let summary = pipeline["summary"].as_str().expect("summary");
        let want = format!(
            "RandomFlip, RandomRotation (identity at inference) → {ops} (tf preprocessing) → mobilenetv2_0.35_96 ("
        );
        assert!(summary.starts_with(&want), "{model}: {summary}");
        let roles: Vec<&str> = pipeline["stages"]
            .as_array()
            .expect("stages")
            .iter()
            .map(|s| s["role"].as_str().expect("role"))
            .collect();
        assert_eq!(roles, ["identity", "normalising"], "{model}");
    }
}

#[test]
fn inspect_names_caffe_and_torch_in_both_dialects() {
    for (model, mode) in [
        ("models/resnet_k3.keras", "caffe"),
        ("models/resnet_k2.h5", "caffe"),
        ("models/densenet_k3.h5", "torch"),
        ("models/densenet_k2.keras", "torch"),
        ("models/efficientnet_k3.keras", ""),
    ] {
        let report = inspect_json(model);
        assert_eq!(
            report["preprocessing"],
            if mode.is_empty() { "unit" } else { "none" },
            "{model}"
        );
        let pipeline = &report["input_pipeline"];
        match mode {
            "" => assert!(pipeline["preprocess_input_mode"].is_null(), "{model}"),
            mode => assert_eq!(pipeline["preprocess_input_mode"], mode, "{model}"),
        }
    }
    let path = fixture("models/resnet_k2.h5");
    let output = kerascam(&[OsStr::new("inspect"), path.as_os_str()]);
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("input "))
        .unwrap_or_else(|| panic!("no input line:\n{text}"));
    assert!(
        line.contains("__operators__.getitem, nn.bias_add (caffe preprocessing) → conv (Conv2D)"),
        "{line}"
    );
}

#[test]
fn explain_feeds_raw_pixels_to_the_tutorial_model() {
    let out = tempfile::tempdir().unwrap();
    let (model, photo) = (
        fixture("models/transfer_learning_k3.keras"),
        common::fixture("heads", "photos/rgb.png"),
    );
    let output = kerascam(&[
        OsStr::new("explain"),
        model.as_os_str(),
        photo.as_os_str(),
        OsStr::new("--json"),
        OsStr::new("--out"),
        out.path().as_os_str(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let json: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&output.stdout).trim()).expect("JSON");
    assert_eq!(json["preprocessing"], "none");
    assert_eq!(json["target_layer"], "mobilenetv2_0.35_96/out_relu");
    let backbone = json["backbone"].as_str().expect("a backbone");
    assert!(backbone.starts_with("mobilenet_v2"), "{backbone}");
}
