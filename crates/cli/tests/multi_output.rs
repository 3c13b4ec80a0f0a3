//! `kerascam` on a two-output model (`tests/fixtures/multi_output/`, made by its
//! `generate.py`): `explain --output` by index and by name, the output named in the JSON
//! record and the human line, the one-line refusal of an unknown output, and `inspect` listing
//! both outputs. Missing fixtures fail the tests.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Output;

use serde_json::Value;

mod common;

use common::kerascam;

fn fixture(rel: &str) -> PathBuf {
    common::fixture("multi_output", rel)
}

/// `explain` of the Keras 3 model on the first fixture photo, with `extra` options.
fn explain(extra: &[&str]) -> Output {
    let out = tempfile::tempdir().unwrap();
    let (model, photo) = (
        fixture("models/two_heads_k3.keras"),
        fixture("inputs/image0.png"),
    );
    let mut args: Vec<&OsStr> = vec![
        OsStr::new("explain"),
        model.as_os_str(),
        photo.as_os_str(),
        OsStr::new("--out"),
        out.path().as_os_str(),
    ];
    args.extend(extra.iter().map(OsStr::new));
    kerascam(&args)
}

/// The one JSON record of a successful `explain --json`.
fn record(extra: &[&str]) -> Value {
    let mut args = vec!["--json"];
    args.extend_from_slice(extra);
    let out = explain(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    serde_json::from_str(lines[0]).unwrap()
}

/// The manifest's reference for output `index` of the first image.
fn reference(index: usize) -> Value {
    let text = std::fs::read_to_string(fixture("manifest.json")).unwrap();
    let manifest: Value = serde_json::from_str(&text).unwrap();
    manifest["images"][0]["outputs"][index].clone()
}

#[test]
fn output_by_index_and_by_name() {
    for (option, index) in [
        (None, 0),
        (Some("1"), 1),
        (Some("flag"), 1),
        (Some("species"), 0),
    ] {
        let extra: Vec<&str> = option.map(|o| vec!["--output", o]).unwrap_or_default();
        let got = record(&extra);
        let want = reference(index);
        assert_eq!(got["model_output"], want["output"], "{option:?}");
        assert_eq!(got["target_layer"], want["target_layer"], "{option:?}");
        assert_eq!(got["class"], want["class"], "{option:?}");
    }
}

#[test]
fn the_human_line_names_the_output() {
    let out = explain(&["--output", "1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("[output 'flag']"), "{stdout}");
}

#[test]
fn an_unknown_output_is_one_line_naming_the_outputs() {
    for bad in ["2", "nope"] {
        let out = explain(&["--output", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("0 'species'") && stderr.contains("1 'flag'"),
            "{stderr}"
        );
    }
}

#[test]
fn inspect_lists_every_output() {
    for file in ["models/two_heads_k3.keras", "models/two_heads_k2.h5"] {
        let model = fixture(file);
        let out = kerascam(&[
            OsStr::new("inspect"),
            model.as_os_str(),
            OsStr::new("--json"),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let outputs = report["outputs"].as_array().expect("outputs");
        let rows: Vec<(u64, &str, Vec<u64>, &str)> = outputs
            .iter()
            .map(|o| {
                let shape = o["shape"].as_array().unwrap();
                (
                    o["index"].as_u64().unwrap(),
                    o["path"].as_str().unwrap(),
                    shape.iter().map(|d| d.as_u64().unwrap()).collect(),
                    o["head"].as_str().unwrap(),
                )
            })
            .collect();
        let want = [
            (0, "species", vec![3], "softmax"),
            (1, "flag", vec![1], "sigmoid"),
        ];
        assert_eq!(rows, want, "{file}");
        let human = kerascam(&[OsStr::new("inspect"), model.as_os_str()]);
        let text = String::from_utf8(human.stdout).unwrap();
        assert!(
            text.lines()
                .any(|l| l.starts_with("outputs") && l.contains("species") && l.contains("flag")),
            "{text}"
        );
    }
}
