//! `kerascam inspect --json` on every conformance case reports what TensorFlow recorded:
//! format, counts, input shape, target layer and shape, head, backbone and preprocessing.

use std::process::Command;

use kerascam_tests::corpus;
use serde_json::{json, Value};

#[test]
fn inspect_json_matches_the_manifest() {
    let Some((dir, manifest)) = corpus::manifest() else {
        return;
    };
    let cases = &manifest.cases;
    for case in cases {
        let id = case.id.as_str();
        let output = Command::new(assert_cmd::cargo::cargo_bin("kerascam"))
            .arg("inspect")
            .arg(dir.join(&case.file))
            .arg("--json")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{id}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(report["format"], *case.format, "{id}");
        assert_eq!(report["keras_version"], *case.keras_version, "{id}");
        assert_eq!(report["param_count"], case.param_count, "{id}");
        let split = report["trainable_param_count"].as_u64().unwrap()
            + report["non_trainable_param_count"].as_u64().unwrap();
        assert_eq!(split, case.param_count, "{id}");
        assert_eq!(report["input_shape"], json!(case.input_shape), "{id}");
        assert_eq!(report["target_layer"], *case.target_layer, "{id}");
        assert_eq!(report["target_shape"], json!(case.target_shape), "{id}");
        assert_eq!(report["head"], *case.head, "{id}");
        assert_eq!(report["preprocessing"], *case.preprocessing, "{id}");
        match &case.backbone {
            None => assert!(report["backbone"].is_null(), "{id}: {}", report["backbone"]),
            Some(b) => {
                assert_eq!(report["backbone"]["family"], *b.family, "{id}");
                let scope = b.nested_layer_name.as_deref().unwrap_or("");
                assert_eq!(report["backbone"]["scope"], scope, "{id}");
            }
        }
        let layers = report["layers"].as_array().unwrap();
        assert!(
            layers.iter().any(|l| l["path"] == *case.target_layer),
            "{id}"
        );
        let params: u64 = layers.iter().map(|l| l["params"].as_u64().unwrap()).sum();
        assert_eq!(params, case.param_count, "{id}: layer table sums");
    }
    println!("{} models inspected", cases.len());
}

#[test]
fn bad_files_fail_with_one_line() {
    let Some((dir, manifest)) = corpus::manifest() else {
        return;
    };
    for bad in &manifest.bad {
        if bad.kind == "no_feature_map" {
            continue;
        }
        let output = Command::new(assert_cmd::cargo::cargo_bin("kerascam"))
            .arg("inspect")
            .arg(dir.join(&bad.file))
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{}", bad.id);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(bad.file.rsplit('/').next().unwrap()));
    }
}

#[test]
fn explain_refuses_a_model_without_feature_map() {
    let Some(dir) = corpus::conformance_dir() else {
        return;
    };
    let photo = dir.join("images/chelsea.png");
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(assert_cmd::cargo::cargo_bin("kerascam"))
        .arg("explain")
        .arg(dir.join("bad/dense_only.keras"))
        .arg(photo)
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no convolutional feature map"), "{stderr}");
}
