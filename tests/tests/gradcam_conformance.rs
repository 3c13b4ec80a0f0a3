//! gradcam-core against TensorFlow's references in the conformance corpus: every case model
//! fed the stored inputs (logits, probabilities, top class, heatmaps of the top class and the
//! runner-up), the Dense-only model's NoFeatureMap error, and the default target layer of
//! every config. The cases run one image at a time and again all in one batch.

use std::path::Path;

use gradcam_core::{
    default_target_layer, CamRequest, CamResult, ErrorKind, Network, Prediction, Target,
};
use kerascam_tests::manifest::{Case, CaseImage};
use kerascam_tests::{corpus, npy};

fn max_abs(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Worst errors of one case, relative to the tolerances.
#[derive(Default, Debug)]
struct Worst {
    logits_rel: f32,
    probs: f32,
    heatmap: f32,
    max_raw_rel: f32,
}

#[test]
fn cases_match_tensorflow() {
    check_cases(false);
}

/// The same, each case's images in one batch (the batch paths: Winograd over more tiles, the
/// expansion fused into the depthwise convolution), top-1 and runner-up by rank.
#[test]
fn cases_match_tensorflow_in_one_batch() {
    check_cases(true);
}

/// Runs every case on its stored inputs, one image at a time or all in one batch, and
/// compares logits, probabilities, top class and heatmaps with TensorFlow's.
fn check_cases(batched: bool) {
    let Some((dir, manifest)) = corpus::manifest() else {
        return;
    };
    let cases = &manifest.cases;
    assert!(!cases.is_empty());
    let (mut failures, mut heatmaps) = (Vec::new(), 0);
    for case in cases {
        let id = case.id.as_str();
        let model = keras_import::load_model(&dir.join(&case.file))
            .unwrap_or_else(|e| panic!("{id}: load: {e}"));
        let shape = &case.input_shape;
        let net = Network::load(&model.graph, &kerascam_tests::device())
            .and_then(|n| n.with_input_size(shape[0], shape[1]))
            .unwrap_or_else(|e| panic!("{id}: executor: {e}"));
        let images = &case.images;
        let inputs: Vec<_> = images
            .iter()
            .map(|image| npy::read_f32(&dir.join(&image.input)))
            .collect();
        let outcomes = if batched {
            run_batched(&net, images, &inputs)
        } else {
            run_one_by_one(&net, images, &inputs)
        };
        let mut worst = Worst::default();
        for (image, outcome) in images.iter().zip(&outcomes) {
            failures.extend(compare_image(&dir, case, image, outcome, &mut worst));
            heatmaps += image.heatmaps.len();
        }
        let mode = if batched { "batch" } else { "1 by 1" };
        println!(
            "{id:40} {mode:6} logits_rel {:.2e}  probs {:.2e}  heatmap {:.2e}  max_raw_rel {:.2e}",
            worst.logits_rel, worst.probs, worst.heatmap, worst.max_raw_rel
        );
        if worst.logits_rel > 1e-3
            || worst.probs > 1e-4
            || worst.heatmap > 1e-3
            || worst.max_raw_rel > 2e-3
        {
            failures.push(format!("{id} ({mode}): {worst:?}"));
        }
    }
    println!("{} cases, {heatmaps} heatmaps compared", cases.len());
    assert!(
        failures.is_empty(),
        "conformance failures:\n{}",
        failures.join("\n")
    );
}

/// Compares one image's prediction and heatmaps with TensorFlow's, raising `worst`; returns
/// the mismatches that fail whatever the tolerances (top class, class, layer, zero maps).
fn compare_image(
    dir: &Path,
    case: &Case,
    image: &CaseImage,
    (pred, results): &(Prediction, Vec<CamResult>),
    worst: &mut Worst,
) -> Vec<String> {
    let (id, name) = (&case.id, &image.name);
    let mut failures = Vec::new();
    if pred.top_class != image.top_class {
        failures.push(format!(
            "{id}/{name}: top class {} != {}",
            pred.top_class, image.top_class
        ));
    }
    let scale = image.logits.iter().fold(1f32, |m, v| m.max(v.abs()));
    worst.logits_rel = worst
        .logits_rel
        .max(max_abs(&pred.logits, &image.logits) / scale);
    worst.probs = worst
        .probs
        .max(max_abs(&pred.probabilities, &image.probabilities));
    for (r, h) in results.iter().zip(&image.heatmaps) {
        if r.target_layer != case.target_layer {
            failures.push(format!(
                "{id}: target layer {} != {}",
                r.target_layer, case.target_layer
            ));
        }
        if r.class != h.class {
            failures.push(format!("{id}/{name}: class {} != {}", r.class, h.class));
            continue;
        }
        let reference = npy::read_f32(&dir.join(&h.heatmap));
        assert_eq!(
            reference.shape,
            vec![r.height, r.width],
            "{id}: heatmap shape"
        );
        worst.heatmap = worst.heatmap.max(max_abs(&r.heatmap, &reference.data));
        if reference.data.iter().all(|&v| v == 0.0) && r.heatmap.iter().any(|&v| v != 0.0) {
            failures.push(format!(
                "{id}/{name}: class {} should be all zeros",
                r.class
            ));
        }
        let raw = h.heatmap_max_raw;
        if raw > 0.0 {
            worst.max_raw_rel = worst.max_raw_rel.max((r.heatmap_max_raw - raw).abs() / raw);
        }
    }
    failures
}

/// Prediction and heatmaps (of the reference's classes) for each image, one at a time.
fn run_one_by_one(
    net: &Network,
    images: &[CaseImage],
    inputs: &[npy::NpyF32],
) -> Vec<(Prediction, Vec<CamResult>)> {
    images
        .iter()
        .zip(inputs)
        .map(|(image, input)| {
            let targets: Vec<Target> = image
                .heatmaps
                .iter()
                .map(|h| Target::Class(h.class))
                .collect();
            let request = CamRequest::for_layer(None, targets);
            let mut results = net.grad_cam(&input.data, 1, &request).expect("grad-cam");
            let pred = net.predict(&input.data, 1).expect("predict").remove(0);
            (pred, results.remove(0))
        })
        .collect()
}

/// Prediction and heatmaps (top-1, runner-up, … by rank) for each image, all in one batch.
fn run_batched(
    net: &Network,
    images: &[CaseImage],
    inputs: &[npy::NpyF32],
) -> Vec<(Prediction, Vec<CamResult>)> {
    let ranks = images
        .iter()
        .map(|image| image.heatmaps.len())
        .max()
        .unwrap_or(0);
    let batch: Vec<f32> = inputs.iter().flat_map(|i| i.data.iter().copied()).collect();
    let request = CamRequest::for_layer(None, Target::top_k(ranks));
    let results = net
        .grad_cam(&batch, inputs.len(), &request)
        .expect("grad-cam");
    let preds = net.predict(&batch, inputs.len()).expect("predict");
    preds.into_iter().zip(results).collect()
}

#[test]
fn dense_only_model_has_no_feature_map() {
    let Some((dir, manifest)) = corpus::manifest() else {
        return;
    };
    let entry = manifest
        .bad
        .iter()
        .find(|b| b.kind == "no_feature_map")
        .expect("no_feature_map entry");
    let model = keras_import::load_model(&dir.join(&entry.file)).expect("loads");
    let err = default_target_layer(&model.graph).expect_err("must fail");
    assert_eq!(err.kind(), ErrorKind::NoFeatureMap);
    assert!(
        err.to_string().contains("no convolutional feature map"),
        "{err}"
    );
    let net = Network::load(&model.graph, &kerascam_tests::device()).expect("executor");
    let n: usize = net
        .input_shape()
        .iter()
        .map(|d| d.expect("fixed"))
        .product();
    let err = net
        .grad_cam(&vec![0.5; n], 1, &CamRequest::default())
        .expect_err("grad-cam must fail");
    assert_eq!(err.kind(), ErrorKind::NoFeatureMap);
    assert!(
        err.to_string().contains("no convolutional feature map"),
        "{err}"
    );
}

#[test]
fn default_target_layer_matches_every_config() {
    let Some((dir, manifest)) = corpus::manifest() else {
        return;
    };
    let configs = &manifest.configs;
    let mut wrong = Vec::new();
    for c in configs {
        let id = &c.id;
        let path = dir.join(&c.config);
        let text = corpus::read_config_text(&path);
        let graph = keras_import::graph_from_config_json(&text, &path.display().to_string())
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        let got = default_target_layer(&graph).unwrap_or_else(|e| panic!("{id}: {e}"));
        if graph.nodes[got].path != c.target_layer {
            wrong.push(format!(
                "{id}: {} != {}",
                graph.nodes[got].path, c.target_layer
            ));
        }
    }
    println!("{} configs checked", configs.len());
    assert!(
        wrong.is_empty(),
        "wrong default target layers:\n{}",
        wrong.join("\n")
    );
}
