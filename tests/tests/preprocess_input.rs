//! keras.applications `preprocess_input` applied inside a model (`tests/fixtures/preprocess_input/`,
//! made by its `generate.py` with TensorFlow): for every module of Keras 3 and tf_keras and
//! imagenet_utils' three modes, a small classifier `preprocess_input -> Conv2D -> GAP ->
//! Dense`, and TensorFlow's "Transfer learning and fine-tuning" model (augmentation,
//! `mobilenet_v2.preprocess_input`, MobileNetV2 alpha 0.35 at 96 px, `Dense(1)`), each in every
//! format its Keras writes. Each file imports with TensorFlow's parameter count; `auto`
//! preprocessing is `none` (the model takes raw pixels); the recognised `preprocess_input`
//! mode is the module's; logits, probabilities and the heatmaps of the top two classes at the
//! default layer equal TensorFlow's within the corpus tolerances. Missing fixtures fail.

use std::path::Path;

use backbones::{choose_preprocessing, detect, InputPipeline, StageRole};
use gradcam_core::{CamRequest, Network, Target};
use kerascam_tests::manifest::{fixture_set, floats};
use kerascam_tests::{max_abs_diff, npy};
use serde_json::Value;

/// Worst differences: logit (relative to max(1, |logit|)), probability, heatmap.
type Worst = [f32; 3];

fn check_import(id: &str, file: &str, case: &Value, graph: &keras_import::Graph) {
    assert_eq!(
        graph.param_counts().total,
        case["param_count"].as_u64().expect("param_count"),
        "{file}: parameter count"
    );
    let detection = detect(graph);
    // An identity `preprocess_input` leaves nothing in the graph: without a backbone or a
    // rescaling layer the fallback `unit` applies.
    let identity = case["mode"] == "none";
    let pre = choose_preprocessing(graph, detection.as_ref());
    let want = if identity { "unit" } else { "none" };
    assert_eq!(pre.as_str(), want, "{file}: auto preprocessing");
    let pipeline = InputPipeline::of(graph);
    let normalises = pipeline
        .stages
        .iter()
        .any(|s| s.role == StageRole::Normalising);
    match case["mode"].as_str().expect("mode") {
        _ if identity => assert!(!normalises, "{file}: {pipeline:?}"),
        mode => assert_eq!(
            pipeline.mode.map(|m| m.as_str()),
            Some(mode),
            "{file}: {pipeline:?}"
        ),
    }
    if let Some(family) = case["backbone"].as_str() {
        let d = detection.unwrap_or_else(|| panic!("{file}: no backbone recognised"));
        assert_eq!(d.family.replace('_', ""), family, "{id}");
    }
}

fn check_image(net: &Network, dir: &Path, file: &str, case: &Value, image: &Value) -> Worst {
    let input = npy::read_f32(&dir.join(image["input"].as_str().expect("input")));
    let request = CamRequest::for_layer(None, Target::top_k(2));
    let results = net
        .grad_cam(&input.data, 1, &request)
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    let logits = floats(&image["logits"]);
    let scale = logits.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let mut worst = [0.0f32; 3];
    worst[0] = max_abs_diff(&results[0][0].logits, &logits) / scale;
    let probabilities = net.head().class_probabilities(&results[0][0].probabilities);
    worst[1] = max_abs_diff(&probabilities, &floats(&image["probabilities"]));
    for reference in image["heatmaps"].as_array().expect("heatmaps") {
        let class = reference["class"].as_u64().expect("class") as usize;
        let mine = results[0]
            .iter()
            .find(|r| r.class == class)
            .unwrap_or_else(|| panic!("{file}: class {class} is not among kerascam's top two"));
        assert_eq!(
            mine.target_layer,
            case["target_layer"].as_str().expect("target_layer"),
            "{file}"
        );
        let want = npy::read_f32(&dir.join(reference["heatmap"].as_str().expect("heatmap")));
        worst[2] = worst[2].max(max_abs_diff(&mine.heatmap, &want.data));
        let raw = reference["heatmap_max_raw"].as_f64().expect("raw") as f32;
        assert!(
            (mine.heatmap_max_raw - raw).abs() <= 2e-3 * raw.abs().max(1e-6),
            "{file} class {class}: max raw {} vs {raw}",
            mine.heatmap_max_raw
        );
    }
    worst
}

fn check_file(dir: &Path, case: &Value, file: &str) -> Worst {
    let id = case["id"].as_str().expect("id");
    let model = keras_import::load_model(&dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    check_import(id, file, case, &model.graph);
    let net = Network::load(&model.graph, &kerascam_tests::device())
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    let mut worst = [0.0f32; 3];
    for image in case["images"].as_array().expect("images") {
        let w = check_image(&net, dir, file, case, image);
        assert!(w[0] <= 1e-3, "{file}: logits off by {} relative", w[0]);
        assert!(w[1] <= 1e-4, "{file}: probabilities off by {}", w[1]);
        assert!(w[2] <= 1e-3, "{file}: heatmaps off by {}", w[2]);
        for (all, one) in worst.iter_mut().zip(w) {
            *all = all.max(one);
        }
    }
    worst
}

#[test]
fn preprocess_input_inside_the_model_matches_tensorflow() {
    let (dir, manifest) = fixture_set("preprocess_input");
    let cases = manifest["cases"].as_array().expect("cases");
    // 15 Keras 3 modules and 17 tf_keras ones, 3 imagenet_utils modes each, 2 tutorials.
    assert_eq!(cases.len(), 15 + 17 + 2 * 3 + 2, "cases");
    let mut worst = [0.0f32; 3];
    let mut files = 0;
    for case in cases {
        for file in case["files"].as_array().expect("files") {
            let w = check_file(&dir, case, file.as_str().expect("file"));
            for (all, one) in worst.iter_mut().zip(w) {
                *all = all.max(one);
            }
            files += 1;
        }
    }
    println!(
        "preprocess_input: {files} files; worst logit {:.1e} relative, probability {:.1e}, heatmap {:.1e}",
        worst[0], worst[1], worst[2]
    );
}

#[test]
fn every_dialect_spells_the_ops_it_was_built_from() {
    let (dir, manifest) = fixture_set("preprocess_input");
    let spelled = |id: &str| -> Vec<String> {
        let case = manifest["cases"]
            .as_array()
            .expect("cases")
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("case {id}"));
        let file = case["files"][0].as_str().expect("file");
        let model = keras_import::load_model(&dir.join(file)).expect(file);
        let pipeline = InputPipeline::of(&model.graph);
        pipeline
            .stages
            .iter()
            .flat_map(|s| s.layers.clone())
            .collect()
    };
    assert_eq!(spelled("resnet_k3"), ["GetItem", "Stack", "Add"]);
    assert_eq!(
        spelled("resnet_k2"),
        ["__operators__.getitem", "nn.bias_add"]
    );
    assert_eq!(spelled("densenet_k3"), ["TrueDivide", "Add"]);
    assert_eq!(spelled("densenet_k2"), ["math.truediv", "nn.bias_add"]);
    assert_eq!(spelled("xception_k2"), ["math.truediv", "math.subtract"]);
    assert!(spelled("efficientnet_k3").is_empty());
}
