//! Every CAM method against TensorFlow (`tests/fixtures/methods/`, made by its
//! `generate.py`): activations, gradients and forward passes from TensorFlow, each method's
//! raw map written in NumPy from pytorch-grad-cam 1.5.5's code, Score-CAM's masked inputs and
//! Ablation-CAM's ablated activations run through the TensorFlow model. Also several layers
//! fused, `eigen_smooth` and `aug_smooth`; a model with dead and constant channels at the
//! target (Score-CAM scores their shared zero mask once). Corpus tolerances: normalised
//! heatmaps within 1e-3, raw maps within 2e-3 of the reference's maximum, logits within 1e-3.
//! A missing fixture fails the test.

use std::path::Path;

use gradcam_core::{
    method_by_name, CamRequest, CamResult, MethodOptions, Network, Normalize, Target,
};
use kerascam_tests::manifest::{fixture_set, floats};
use kerascam_tests::{max_abs_diff, npy};
use serde_json::Value;

const HEATMAP_TOL: f32 = 1e-3;
const RAW_TOL: f32 = 2e-3;

/// One fixture image with its network.
struct Case<'a> {
    dir: &'a Path,
    name: String,
    net: &'a Network,
    input: Vec<f32>,
    class: usize,
    image: &'a Value,
}

impl Case<'_> {
    fn reference(&self, key: &str) -> Vec<f32> {
        let file = self.image["maps"][key]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no reference {key}", self.name));
        npy::read_f32(&self.dir.join(file)).data
    }

    fn run(&self, method: &str, options: &MethodOptions, request: &CamRequest) -> CamResult {
        let method = method_by_name(method, options).expect("registered method");
        let mut results = self
            .net
            .cam_with(method.as_ref(), &self.input, 1, request)
            .unwrap_or_else(|e| panic!("{} {}: {e}", self.name, method.name()));
        results.remove(0).remove(0)
    }

    /// Compares the raw map (relative to the reference's maximum) and the heatmap (the
    /// reference divided by its maximum); returns the worst heatmap error.
    fn check(&self, key: &str, got: &CamResult, compare_raw: bool) -> f32 {
        let reference = self.reference(key);
        let top = reference.iter().copied().fold(0f32, f32::max);
        let expected: Vec<f32> = if top > 0.0 {
            reference.iter().map(|v| v / top).collect()
        } else {
            vec![0.0; reference.len()]
        };
        let error = max_abs_diff(&got.heatmap, &expected);
        assert!(
            error <= HEATMAP_TOL,
            "{} {key}: heatmap off by {error}\n got {:?}\nwant {expected:?}",
            self.name,
            got.heatmap
        );
        if top == 0.0 {
            assert!(got.heatmap.iter().all(|&v| v == 0.0), "{} {key}", self.name);
        }
        if compare_raw {
            let raw_error = max_abs_diff(&got.raw_cam, &reference) / top.max(f32::MIN_POSITIVE);
            assert!(
                raw_error <= RAW_TOL,
                "{} {key}: raw map off by {raw_error} of its maximum {top}",
                self.name
            );
        }
        error
    }
}

const PLAIN_METHODS: [&str; 10] = [
    "gradcam",
    "hirescam",
    "gradcam-elementwise",
    "gradcam++",
    "xgradcam",
    "layercam",
    "eigencam",
    "eigengradcam",
    "scorecam",
    "ablationcam",
];

fn check_image(case: &Case<'_>, target: &str, fused: Option<&[String]>) -> f32 {
    let single = CamRequest {
        layers: vec![target.to_string()],
        targets: vec![Target::Class(case.class)],
        ..CamRequest::default()
    };
    let defaults = MethodOptions::default();
    let mut worst = 0f32;
    for method in PLAIN_METHODS {
        let got = case.run(method, &defaults, &single);
        assert_eq!(got.method, method);
        assert_eq!(got.class, case.class);
        let logits = floats(&case.image["logits"]);
        let scale = logits.iter().fold(1f32, |m, v| m.max(v.abs()));
        assert!(
            max_abs_diff(&got.logits, &logits) <= 1e-3 * scale,
            "{}",
            case.name
        );
        worst = worst.max(case.check(method, &got, true));
    }
    let faster = MethodOptions {
        max_channels: Some(4),
        ..defaults
    };
    let got = case.run("scorecam", &faster, &single);
    worst = worst.max(case.check("scorecam-max4", &got, true));
    let eigen = CamRequest {
        eigen_smooth: true,
        ..single.clone()
    };
    let got = case.run("gradcam", &defaults, &eigen);
    worst = worst.max(case.check("gradcam-eigen-smooth", &got, true));
    let aug = CamRequest {
        aug_smooth: true,
        ..single.clone()
    };
    let got = case.run("gradcam", &defaults, &aug);
    let reference = case.reference("gradcam-aug-smooth");
    let error = max_abs_diff(&got.heatmap, &reference);
    assert!(
        error <= HEATMAP_TOL,
        "{} aug_smooth: off by {error}",
        case.name
    );
    worst = worst.max(error);
    if let Some(layers) = fused {
        let request = CamRequest {
            layers: layers.to_vec(),
            ..single.clone()
        };
        for method in ["gradcam", "layercam"] {
            let got = case.run(method, &defaults, &request);
            assert_eq!(&got.layers, layers);
            worst = worst.max(case.check(&format!("{method}-fused"), &got, true));
        }
        let minmax = CamRequest {
            normalize: Normalize::MinMax,
            ..request
        };
        let got = case.run("gradcam", &defaults, &minmax);
        let reference = case.reference("gradcam-fused");
        let min = reference.iter().copied().fold(f32::INFINITY, f32::min);
        let max = reference.iter().copied().fold(0f32, f32::max);
        let scaled: Vec<f32> = reference
            .iter()
            .map(|v| (v - min) / (max - min + 1e-7))
            .collect();
        let error = max_abs_diff(&got.heatmap, &scaled);
        assert!(error <= HEATMAP_TOL, "{} minmax: off by {error}", case.name);
    }
    worst
}

#[test]
fn methods_match_tensorflow_and_pytorch_grad_cam_formulas() {
    let (dir, manifest) = fixture_set("methods");
    let cases = manifest["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 3);
    let mut checked = 0;
    let mut worst = 0f32;
    for case in cases {
        let file = case["file"].as_str().expect("file");
        let model = keras_import::load_model(&dir.join(file)).unwrap_or_else(|e| panic!("{e}"));
        let net = Network::load(&model.graph, &kerascam_tests::device()).expect("load");
        let target = case["target"].as_str().expect("target");
        let fused: Option<Vec<String>> = case["fused_layers"].as_array().map(|l| {
            l.iter()
                .map(|v| v.as_str().expect("layer").to_string())
                .collect()
        });
        for (i, image) in case["images"]
            .as_array()
            .expect("images")
            .iter()
            .enumerate()
        {
            let input = npy::read_f32(&dir.join(image["input"].as_str().expect("input")));
            let c = Case {
                dir: &dir,
                name: format!("{file} img{i}"),
                net: &net,
                input: input.data,
                class: image["class"].as_u64().expect("class") as usize,
                image,
            };
            worst = worst.max(check_image(&c, target, fused.as_deref()));
            checked += 1;
        }
    }
    assert_eq!(checked, 6);
    eprintln!("cam_methods: {checked} images x 13-16 maps, worst heatmap error {worst:.2e}");
}

/// The `(done, total)` reports of `method` (4 copies per pass) on the first image of the
/// `sparse` fixture model, whose target has 16 channels: 4 dead and 2 constant.
fn progress_reports(method: &str) -> Vec<(usize, usize)> {
    let (dir, manifest) = fixture_set("methods");
    let case = manifest["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["model"] == "sparse")
        .expect("the sparse model");
    let file = case["file"].as_str().expect("file");
    let model = keras_import::load_model(&dir.join(file)).unwrap_or_else(|e| panic!("{e}"));
    let net = Network::load(&model.graph, &kerascam_tests::device()).expect("load");
    let image = &case["images"][0];
    let input = npy::read_f32(&dir.join(image["input"].as_str().expect("input")));
    let request = CamRequest {
        layers: vec![case["target"].as_str().expect("target").to_string()],
        ..CamRequest::default()
    };
    let options = MethodOptions {
        batch: 4,
        ..MethodOptions::default()
    };
    let method = method_by_name(method, &options).expect("registered");
    let reports = std::sync::Mutex::new(Vec::new());
    let record = |done, total| reports.lock().unwrap().push((done, total));
    net.cam_with_progress(method.as_ref(), &input.data, 1, &request, &record)
        .expect("cam");
    reports.into_inner().unwrap()
}

#[test]
fn slow_methods_report_their_passes() {
    // Score-CAM: the six dead or constant channels share the zero mask, so 11 distinct masks,
    // 4 per pass.
    assert_eq!(progress_reports("scorecam"), [(4, 11), (8, 11), (11, 11)]);
    assert_eq!(
        progress_reports("ablationcam"),
        [(4, 16), (8, 16), (12, 16), (16, 16)]
    );
    assert!(progress_reports("gradcam").is_empty());
}
