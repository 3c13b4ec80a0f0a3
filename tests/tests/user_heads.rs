//! User models with other than RGB inputs (`tests/fixtures/heads/`, made by its
//! `generate.py` with TensorFlow): a 1-channel model fed PIL's `convert("L")` of each photo and
//! a 4-channel model fed RGBA (alpha 255 where the photo has none), each in Keras 3 `.keras`
//! and tf_keras `.h5`; and a one-unit linear head, a binary logit (classes 0 and 1, class 0
//! scored by −logit, probability `sigmoid(logit)`) and three sigmoid units (independent labels,
//! each scored by its own logit). The grey pixels must equal Pillow's bit for bit, and logits,
//! probabilities and Grad-CAM heatmaps (top two classes, default layer) TensorFlow's. A
//! 5-channel model and a tampered archive are refused. Missing fixtures fail the test.

use std::path::Path;

use backbones::{choose_preprocessing, load_photo, pixels_to_tensor, to_color_mode, ColorMode};
use gradcam_core::{CamRequest, Network, Target};
use kerascam_tests::manifest::{fixture_set, floats};
use kerascam_tests::max_abs_diff;
use kerascam_tests::npy;
use serde_json::Value;

/// Worst differences over one case: (logit relative, probability, heatmap).
fn check_case(dir: &Path, case: &Value) -> [f32; 3] {
    let id = case["id"].as_str().expect("id");
    let model = keras_import::load_model(&dir.join(case["file"].as_str().expect("file")))
        .unwrap_or_else(|e| panic!("{id}: {e}"));
    assert_eq!(
        model.graph.param_counts().total,
        case["param_count"].as_u64().expect("param_count"),
        "{id}"
    );
    let mode = ColorMode::from_channels(case["channels"].as_u64().expect("channels") as usize)
        .expect("1, 3 or 4 channels");
    let pre = choose_preprocessing(&model.graph, None);
    assert_eq!(pre.as_str(), "none", "{id}: the model rescales inside");
    let net = Network::load(&model.graph, &kerascam_tests::device())
        .unwrap_or_else(|e| panic!("{id}: {e}"));
    let mut worst = [0.0f32; 3];
    for image in case["images"].as_array().expect("images") {
        let photo = image["photo"].as_str().expect("photo");
        let pixels = to_color_mode(load_photo(dir.join(photo)).expect(photo), mode);
        if let Some(pil) = image["pil_l"].as_str() {
            let want = npy::read_f32(&dir.join(pil)).data;
            let got: Vec<f32> = pixels.data.iter().map(|&v| f32::from(v)).collect();
            assert_eq!(
                got, want,
                "{id} {photo}: grey pixels differ from PIL's convert(\"L\")"
            );
        }
        let tensor = pixels_to_tensor(&pixels, Some(32), Some(32), pre).expect("tensor");
        assert_eq!(tensor.shape(), [1, 32, 32, mode.channels()]);
        let request = CamRequest::for_layer(None, Target::top_k(2));
        let results = net
            .grad_cam(&tensor.data, 1, &request)
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        let logits = floats(&image["logits"]);
        let scale = logits.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        worst[0] = worst[0].max(max_abs_diff(&results[0][0].logits, &logits) / scale);
        let probabilities = net.head().class_probabilities(&results[0][0].probabilities);
        let want = floats(&image["probabilities"]);
        worst[1] = worst[1].max(max_abs_diff(&probabilities, &want));
        for reference in image["heatmaps"].as_array().expect("heatmaps") {
            let class = reference["class"].as_u64().expect("class") as usize;
            let mine = results[0]
                .iter()
                .find(|r| r.class == class)
                .unwrap_or_else(|| {
                    panic!("{id} {photo}: class {class} is not among kerascam's top two")
                });
            assert_eq!(
                mine.target_layer,
                case["target_layer"].as_str().expect("layer")
            );
            let want = npy::read_f32(&dir.join(reference["heatmap"].as_str().expect("heatmap")));
            worst[2] = worst[2].max(max_abs_diff(&mine.heatmap, &want.data));
        }
    }
    worst
}

#[test]
fn grey_rgba_logit_and_multilabel_models_match_tensorflow() {
    let (dir, manifest) = fixture_set("heads");
    let cases = manifest["cases"].as_array().expect("cases");
    assert_eq!(
        cases.len(),
        8,
        "grey, rgba, logit and multilabel, each .keras and .h5"
    );
    let mut worst = [0.0f32; 3];
    for case in cases {
        let w = check_case(&dir, case);
        let id = &case["id"];
        assert!(w[0] <= 1e-3, "{id}: logits off by {} relative", w[0]);
        assert!(w[1] <= 1e-4, "{id}: probabilities off by {}", w[1]);
        assert!(w[2] <= 1e-3, "{id}: heatmaps off by {}", w[2]);
        for (all, one) in worst.iter_mut().zip(w) {
            *all = all.max(one);
        }
    }
    println!(
        "user models: {} cases; worst logit {:.1e} relative, probability {:.1e}, heatmap {:.1e}",
        cases.len(),
        worst[0],
        worst[1],
        worst[2]
    );
}

#[test]
fn caffe_and_torch_are_refused_for_grey_and_rgba() {
    let (dir, _) = fixture_set("heads");
    let photo = load_photo(dir.join("photos/rgb.png")).expect("photo");
    for mode in [ColorMode::Grey, ColorMode::Rgba] {
        let pixels = to_color_mode(photo.clone(), mode);
        for pre in [
            backbones::Preprocessing::Caffe,
            backbones::Preprocessing::Torch,
        ] {
            let err = pixels_to_tensor(&pixels, None, None, pre).unwrap_err();
            assert!(err.to_string().contains("3-channel"), "{err}");
        }
        assert!(pixels_to_tensor(&pixels, None, None, backbones::Preprocessing::Tf).is_ok());
    }
}

#[test]
fn a_tampered_archive_is_refused() {
    let (dir, _) = fixture_set("heads");
    let err = keras_import::load_model(&dir.join("models/tampered.keras")).unwrap_err();
    assert_eq!(err.kind().as_str(), "unsafe_zip_entry", "{err}");
    assert!(err.to_string().contains("../outside.txt"), "{err}");
}
