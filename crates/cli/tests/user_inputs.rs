//! `kerascam` on user models with grey (1-channel) and RGBA (4-channel) inputs, and the
//! one-line refusals of a 5-channel model, of `caffe` on a grey model and of a tampered
//! archive. The models are `tests/fixtures/heads/` (made by its `generate.py`); missing
//! fixtures fail the tests.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Output;

mod common;

use common::kerascam;

fn fixture(rel: &str) -> PathBuf {
    common::fixture("heads", rel)
}

fn explain(model: &str, extra: &[&str]) -> Output {
    let out = tempfile::tempdir().unwrap();
    let (model, photo) = (fixture(model), fixture("photos/rgba.png"));
    let mut args: Vec<&OsStr> = vec![
        OsStr::new("explain"),
        model.as_os_str(),
        photo.as_os_str(),
        OsStr::new("--json"),
        OsStr::new("--out"),
        out.path().as_os_str(),
    ];
    args.extend(extra.iter().map(OsStr::new));
    kerascam(&args)
}

/// Exit code 2 and exactly one stderr line, which contains `needle`.
fn assert_refused(output: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(needle), "{stderr}");
}

#[test]
fn grey_and_rgba_models_are_explained() {
    for model in ["models/grey_k3.keras", "models/rgba_k2.h5"] {
        let output = explain(model, &[]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{model}: {stderr}");
        let line = String::from_utf8_lossy(&output.stdout);
        let json: serde_json::Value = serde_json::from_str(line.trim()).expect("one JSON object");
        assert_eq!(json["preprocessing"], "none", "{model}");
        assert_eq!(json["target_layer"], "conv_last", "{model}");
    }
}

#[test]
fn five_channels_and_rgb_only_modes_are_refused_in_one_line() {
    assert_refused(&explain("models/five_k3.keras", &[]), "5-channel");
    let caffe = explain("models/grey_k3.keras", &["--preprocess", "caffe"]);
    assert_refused(&caffe, "3-channel");
}

#[test]
fn a_tampered_archive_is_refused_in_one_line() {
    let model = fixture("models/tampered.keras");
    let output = kerascam(&[OsStr::new("inspect"), model.as_os_str()]);
    assert_refused(&output, "../outside.txt");
}

#[test]
fn a_one_unit_linear_model_is_a_binary_logit() {
    let output = explain("models/logit_k3.keras", &["--class", "0", "--class", "1"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(lines.len(), 2);
    let number = |i: usize, key: &str| lines[i][key].as_f64().expect(key);
    let logit = lines[0]["logits"][0].as_f64().expect("logit");
    assert_eq!(number(0, "score"), -logit);
    assert_eq!(number(1, "score"), logit);
    let p = 1.0 / (1.0 + (-logit).exp());
    assert!((number(1, "probability") - p).abs() < 1e-6);
    assert!((number(0, "probability") - (1.0 - p)).abs() < 1e-6);
}
