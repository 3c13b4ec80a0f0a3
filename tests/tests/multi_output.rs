//! Multi-output models (`tests/fixtures/multi_output/`, made by its `generate.py` with
//! TensorFlow): one input, a shared trunk and two heads, a softmax over three classes
//! (`species`) and a one-unit sigmoid (`flag`), each with its own last feature map. For each
//! output, chosen by index and by name, in Keras 3 `.keras` and tf_keras `.h5`, kerascam's
//! logits, probabilities, default target layer and top-class Grad-CAM heatmap must equal
//! TensorFlow's. An unknown output is refused naming the outputs. Missing fixtures fail.

use std::path::Path;

use gradcam_core::{CamRequest, ErrorKind, Network, OutputChoice, Target};
use kerascam_tests::manifest::{fixture_set, floats};
use kerascam_tests::{max_abs_diff, npy};
use serde_json::Value;

fn text(v: &Value) -> &str {
    v.as_str().expect("a string")
}

/// Worst differences of one model file and one output: (logit relative, probability,
/// heatmap).
fn check_output(dir: &Path, manifest: &Value, file: &str, choice: &OutputChoice) -> [f32; 3] {
    let model = keras_import::load_model(&dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    let net = Network::load_with(&model.graph, &kerascam_tests::device(), choice)
        .unwrap_or_else(|e| panic!("{file} {choice:?}: {e}"));
    let index = manifest["outputs"]
        .as_array()
        .expect("outputs")
        .iter()
        .position(|o| match choice {
            OutputChoice::Index(i) => o["index"].as_u64() == Some(*i as u64),
            OutputChoice::Name(n) => o["name"].as_str() == Some(n.as_str()),
        })
        .expect("the choice names a manifest output");
    assert_eq!(
        net.graph().nodes[net.output_node()].path,
        text(&manifest["outputs"][index]["name"]),
        "{file}"
    );
    let mut worst = [0.0f32; 3];
    for image in manifest["images"].as_array().expect("images") {
        let want = &image["outputs"][index];
        let input = npy::read_f32(&dir.join(text(&image["input"])));
        let request = CamRequest::for_layer(None, vec![Target::Rank(0)]);
        let results = net
            .grad_cam(&input.data, 1, &request)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let got = &results[0][0];
        let ctx = format!("{file} {} output {index}", text(&image["input"]));
        assert_eq!(got.target_layer, text(&want["target_layer"]), "{ctx}");
        assert_eq!(got.class as u64, want["class"].as_u64().unwrap(), "{ctx}");
        let logits = floats(&want["logits"]);
        for (g, w) in got.logits.iter().zip(&logits) {
            worst[0] = worst[0].max((g - w).abs() / w.abs().max(1.0));
        }
        assert_eq!(got.logits.len(), logits.len(), "{ctx}");
        let probs = net.head().class_probabilities(&got.probabilities);
        worst[1] = worst[1].max(max_abs_diff(&probs, &floats(&want["probabilities"])));
        let heat = npy::read_f32(&dir.join(text(&want["heatmap"])));
        assert_eq!(heat.shape, [got.height, got.width], "{ctx}");
        worst[2] = worst[2].max(max_abs_diff(&got.heatmap, &heat.data));
    }
    worst
}

#[test]
fn every_output_matches_tensorflow() {
    let (dir, manifest) = fixture_set("multi_output");
    let mut worst = [0.0f32; 3];
    for model in manifest["models"].as_array().expect("models") {
        let file = text(&model["file"]);
        for output in manifest["outputs"].as_array().expect("outputs") {
            let index = output["index"].as_u64().expect("index") as usize;
            let name = text(&output["name"]).to_string();
            for choice in [OutputChoice::Index(index), OutputChoice::Name(name)] {
                let w = check_output(&dir, &manifest, file, &choice);
                for (acc, v) in worst.iter_mut().zip(w) {
                    *acc = acc.max(v);
                }
            }
        }
    }
    println!(
        "worst: logit (relative) {:.2e}, probability {:.2e}, heatmap {:.2e}",
        worst[0], worst[1], worst[2]
    );
    assert!(worst[0] <= 1e-3, "logits differ by {}", worst[0]);
    assert!(worst[1] <= 1e-4, "probabilities differ by {}", worst[1]);
    assert!(worst[2] <= 1e-3, "heatmaps differ by {}", worst[2]);
}

#[test]
fn the_first_output_is_the_default() {
    let (dir, manifest) = fixture_set("multi_output");
    let file = text(&manifest["models"][0]["file"]);
    let model = keras_import::load_model(&dir.join(file)).expect(file);
    let net = Network::load(&model.graph, &kerascam_tests::device()).expect(file);
    assert_eq!(net.output_node(), model.graph.outputs[0]);
    assert_eq!(
        gradcam_core::default_target_layer(&model.graph).unwrap(),
        gradcam_core::default_target_layer_for(&model.graph, model.graph.outputs[0]).unwrap()
    );
}

#[test]
fn an_unknown_output_is_refused_naming_the_outputs() {
    let (dir, manifest) = fixture_set("multi_output");
    let file = text(&manifest["models"][0]["file"]);
    let model = keras_import::load_model(&dir.join(file)).expect(file);
    for choice in [OutputChoice::Index(2), OutputChoice::Name("nope".into())] {
        let err = Network::load_with(&model.graph, &kerascam_tests::device(), &choice)
            .expect_err("no such output");
        assert_eq!(err.kind(), ErrorKind::UnknownOutput, "{err}");
        let message = err.to_string();
        assert!(
            message.contains("0 'species'") && message.contains("1 'flag'"),
            "{message}"
        );
    }
}
