//! `kerascam evaluate` on the trained pointing fixture (`tests/fixtures/pointing/`): the
//! table, `--json`, a photo without a box reported and never scored, an unknown method as
//! one error line, `--max-channels` reaching Score-CAM, a free-size model run at each photo's
//! size (class and score as TensorFlow's), fused stage layers named, and the pointing rate of
//! Grad-CAM at the default layer equal to TensorFlow's (recorded by generate.py) within one
//! photo.

mod common;

use std::ffi::OsStr;
use std::path::PathBuf;

use common::{fixture, kerascam};
use serde_json::Value;

fn photo(name: &str) -> PathBuf {
    fixture("pointing", &format!("photos/{name}"))
}

fn manifest() -> Value {
    let text = std::fs::read_to_string(fixture("pointing", "manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn evaluate(extra: &[&OsStr]) -> std::process::Output {
    let model = fixture("pointing", "model.keras");
    let boxes = fixture("pointing", "boxes.json");
    let device = kerascam_tests::device::device_name();
    let mut args: Vec<&OsStr> = vec![
        OsStr::new("evaluate"),
        model.as_os_str(),
        OsStr::new("--boxes"),
        boxes.as_os_str(),
        OsStr::new("--device"),
        OsStr::new(&device),
    ];
    args.extend_from_slice(extra);
    kerascam(&args)
}

/// [`evaluate`] with `--json` among `extra`: the document, after asserting success.
fn evaluate_json(extra: &[&OsStr]) -> Value {
    let out = evaluate(extra);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON document")
}

#[test]
fn the_table_has_every_metric_and_names_the_photo_without_a_box() {
    let (a, b, unboxed) = (photo("001.png"), photo("002.png"), photo("100.png"));
    let out = evaluate(&[a.as_os_str(), b.as_os_str(), unboxed.as_os_str()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("method gradcam · layer "), "{stdout}");
    assert!(stdout.contains("3 photo(s)"), "{stdout}");
    for label in [
        "pointing game",
        "deletion AUC",
        "insertion AUC",
        "ROAD MoRF",
        "ROAD LeRF",
        "ROAD combined",
        "drop in confidence",
        "increase in confidence",
    ] {
        assert!(stdout.contains(label), "{label} missing: {stdout}");
    }
    // The pointing game counts the two boxed photos, the other metrics all three.
    let pointing = stdout
        .lines()
        .find(|l| l.starts_with("pointing game"))
        .unwrap();
    assert!(pointing.trim_end().ends_with(" 2"), "{pointing}");
    let deletion = stdout
        .lines()
        .find(|l| l.starts_with("deletion AUC"))
        .unwrap();
    assert!(deletion.trim_end().ends_with(" 3"), "{deletion}");
    let no_box = stdout.lines().find(|l| l.starts_with("no box")).unwrap();
    assert!(
        no_box.contains("100.png") && !no_box.contains("001.png"),
        "{no_box}"
    );
}

#[test]
fn json_reports_summaries_per_photo_scores_and_unboxed_photos() {
    let (a, unboxed) = (photo("003.png"), photo("100.png"));
    let doc = evaluate_json(&[
        a.as_os_str(),
        unboxed.as_os_str(),
        OsStr::new("--json"),
        OsStr::new("--metrics"),
        OsStr::new("pointing,confidence"),
    ]);
    let method = &doc["methods"][0];
    assert_eq!(method["method"], "gradcam");
    assert_eq!(method["photos"], 2);
    let keys: Vec<&str> = method["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["metric"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        ["pointing", "drop_in_confidence", "increase_in_confidence"]
    );
    assert_eq!(method["metrics"][0]["photos"], 1);
    let unboxed_list = method["photos_without_box"].as_array().unwrap();
    assert_eq!(unboxed_list.len(), 1);
    assert!(unboxed_list[0].as_str().unwrap().ends_with("100.png"));
    let last = &method["per_photo"][1];
    assert!(last["pointing_hit"].is_null() && last["deletion"].is_null());
    assert!(last["drop_in_confidence"].is_number());
}

#[test]
fn an_unknown_method_is_one_error_line() {
    let a = photo("001.png");
    let out = evaluate(&[
        a.as_os_str(),
        OsStr::new("--method"),
        OsStr::new("gradcam,nosuchcam"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("unknown method \"nosuchcam\""), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn grad_cams_pointing_rate_equals_tensorflows_within_one_photo() {
    let photos = fixture("pointing", "photos");
    let doc = evaluate_json(&[
        photos.as_os_str(),
        OsStr::new("--metrics"),
        OsStr::new("pointing"),
        OsStr::new("--json"),
    ]);
    let method = &doc["methods"][0];
    let manifest = manifest();
    assert_eq!(method["layer"], manifest["default_layer"]);
    let tf = &manifest["grad_cam_pointing"]["out_relu"];
    let per_photo = method["per_photo"].as_array().unwrap();
    let hits = per_photo
        .iter()
        .filter(|p| p["pointing_hit"] == true)
        .count() as i64;
    let counted = method["metrics"][0]["photos"].as_i64().unwrap();
    assert_eq!(counted, tf["photos"].as_i64().unwrap());
    let tf_hits = tf["hits"].as_i64().unwrap();
    assert!(
        (hits - tf_hits).abs() <= 1,
        "kerascam {hits}/{counted} hits, TensorFlow {tf_hits}/{counted}"
    );
}

/// Evaluates `--method scorecam` on one photo with `extra` options; the drop in confidence.
fn scorecam_drop(extra: &[&str]) -> f64 {
    let a = photo("002.png");
    let mut args = vec![
        a.as_os_str(),
        OsStr::new("--method"),
        OsStr::new("scorecam"),
        OsStr::new("--metrics"),
        OsStr::new("confidence"),
        OsStr::new("--json"),
    ];
    args.extend(extra.iter().map(OsStr::new));
    let doc = evaluate_json(&args);
    doc["methods"][0]["per_photo"][0]["drop_in_confidence"]
        .as_f64()
        .expect("a drop in confidence")
}

#[test]
fn max_channels_makes_score_cam_the_faster_variant() {
    // out_relu has 1280 channels: 1280 or more is every channel, 1 only the widest-spread one.
    let every = scorecam_drop(&[]);
    assert_eq!(scorecam_drop(&["--max-channels", "1280"]), every);
    assert_ne!(scorecam_drop(&["--max-channels", "1"]), every);
    let a = photo("002.png");
    let out = evaluate(&[
        a.as_os_str(),
        OsStr::new("--method"),
        OsStr::new("scorecam"),
        OsStr::new("--max-channels"),
        OsStr::new("0"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--max-channels"), "{stderr}");
}

#[test]
fn a_free_size_model_scores_each_photo_at_its_own_size() {
    // The TF "Data augmentation" tutorial model: input (None, None, 3), Resizing inside.
    let model = fixture("tutorials", "models/augment_inside_k3.keras");
    let text = std::fs::read_to_string(fixture("tutorials", "manifest.json")).unwrap();
    let manifest: Value = serde_json::from_str(&text).unwrap();
    let case = manifest["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "augment_inside.keras3-zip")
        .expect("the augmentation case");
    let photos = ["p48x48.png", "p45x70.png", "p75x41.png"];
    let paths: Vec<PathBuf> = photos
        .iter()
        .map(|p| fixture("tutorials", &format!("photos/{p}")))
        .collect();
    let device = kerascam_tests::device::device_name();
    let mut args: Vec<&OsStr> = vec![OsStr::new("evaluate"), model.as_os_str()];
    args.extend(paths.iter().map(|p| p.as_os_str()));
    args.extend(
        [
            "--metrics",
            "deletion,confidence",
            "--json",
            "--device",
            &device,
        ]
        .map(OsStr::new),
    );
    let out = kerascam(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    let per_photo = doc["methods"][0]["per_photo"].as_array().unwrap();
    assert_eq!(per_photo.len(), photos.len());
    for (scores, photo) in per_photo.iter().zip(photos) {
        let reference = case["images"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["photo"] == format!("photos/{photo}"))
            .expect("a TensorFlow reference for the photo");
        let probabilities: Vec<f64> = reference["probabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_f64().unwrap())
            .collect();
        let top = (0..probabilities.len())
            .max_by(|&a, &b| probabilities[a].total_cmp(&probabilities[b]))
            .unwrap();
        assert_eq!(scores["class"], top, "{photo}");
        let score = scores["score"].as_f64().unwrap();
        assert!(
            (score - probabilities[top]).abs() < 1e-4,
            "{photo}: {score}"
        );
        assert!(scores["deletion"].is_number(), "{photo}");
    }
}

#[test]
fn fused_stage_layers_and_pixel_methods_are_named_as_such() {
    let a = photo("001.png");
    let doc = evaluate_json(&[
        a.as_os_str(),
        OsStr::new("--layer"),
        OsStr::new("stages"),
        OsStr::new("--method"),
        OsStr::new("gradcam,guided-backprop"),
        OsStr::new("--metrics"),
        OsStr::new("pointing"),
        OsStr::new("--json"),
    ]);
    assert_eq!(
        doc["methods"][0]["layer"],
        "block_3_pad … out_relu (4 fused)"
    );
    assert!(doc["methods"][1]["layer"].is_null());
}
