//! End-to-end: `kerascam explain --save-heatmap --json` on the photos of every conformance case
//! reproduces TensorFlow's heatmaps (normalised, max |Δ| ≤ 1e-3) for the top class and the
//! runner-up, and its JSON records hold the documented fields.

use std::path::Path;
use std::process::Command;

use kerascam_tests::manifest::Case;
use kerascam_tests::{corpus, npy};
use serde_json::Value;

const HEATMAP_TOL: f32 = 1e-3;

fn kerascam() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("kerascam"))
}

#[test]
fn explain_matches_tensorflow_on_every_case() {
    let Some((dir, manifest)) = corpus::manifest() else {
        return;
    };
    let cases = &manifest.cases;
    let mut checked = 0;
    for case in cases {
        checked += check_case(&dir, case);
    }
    println!(
        "{checked} heatmaps over {} cases within {HEATMAP_TOL}",
        cases.len()
    );
    assert_eq!(checked, cases.len() * 10, "every image has two heatmaps");
}

fn check_case(dir: &Path, case: &Case) -> usize {
    let id = case.id.as_str();
    let out = tempfile::tempdir().unwrap();
    let images = &case.images;
    let mut cmd = kerascam();
    cmd.arg("explain").arg(dir.join(&case.file));
    for image in images {
        cmd.arg(dir.join(&image.image));
    }
    cmd.args(["--top-k", "2", "--save-heatmap", "--json", "--out"])
        .arg(out.path())
        .args(["--device", &kerascam_tests::device::device_name()]);
    let output = cmd.output().unwrap();
    assert!(
        output.status.success(),
        "{id}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let records: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{id}: {e}: {l}")))
        .collect();
    assert_eq!(
        records.len(),
        images.len() * 2,
        "{id}: one record per image and class"
    );
    let mut checked = 0;
    for image in images {
        let png = dir.join(&image.image);
        let mine: Vec<&Value> = records
            .iter()
            .filter(|r| Path::new(r["image"].as_str().unwrap()) == png)
            .collect();
        for reference in &image.heatmaps {
            let class = reference.class;
            let record = mine
                .iter()
                .find(|r| r["class"].as_u64() == Some(class as u64))
                .unwrap_or_else(|| panic!("{id}: no record for class {class} of {png:?}"));
            check_record_fields(id, record, case);
            let got = npy::read_f32(Path::new(record["heatmap"].as_str().unwrap()));
            let want = npy::read_f32(&dir.join(&reference.heatmap));
            assert_eq!(got.shape, want.shape, "{id}: heatmap shape");
            let worst = got
                .data
                .iter()
                .zip(&want.data)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(
                worst <= HEATMAP_TOL,
                "{id} {png:?} class {class}: max |Δ| {worst}"
            );
            if want.data.iter().all(|&v| v == 0.0) {
                assert!(
                    got.data.iter().all(|&v| v == 0.0),
                    "{id}: all-zero reference"
                );
            }
            assert!(Path::new(record["output"].as_str().unwrap()).is_file());
            checked += 1;
        }
    }
    checked
}

fn check_record_fields(id: &str, record: &Value, case: &Case) {
    for field in [
        "image",
        "output",
        "heatmap",
        "class",
        "label",
        "score",
        "probability",
        "top_k",
        "logits",
        "target_layer",
        "preprocessing",
        "backbone",
    ] {
        assert!(record.get(field).is_some(), "{id}: field {field} missing");
    }
    assert_eq!(
        record["target_layer"], *case.target_layer,
        "{id}: target layer"
    );
    assert_eq!(
        record["preprocessing"], *case.preprocessing,
        "{id}: preprocessing"
    );
    assert_eq!(
        record["logits"].as_array().unwrap().len(),
        case.num_outputs,
        "{id}: logits"
    );
    let p = record["probability"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&p), "{id}: probability {p}");
    assert!(!record["top_k"].as_array().unwrap().is_empty());
}
