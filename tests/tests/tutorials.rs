//! Tutorial-shaped models (`tests/fixtures/tutorials/`, made by its `generate.py` with the
//! tutorials' own code and TensorFlow): TF "Image classification" (flowers), TF "Data
//! augmentation" (layers inside the model), keras.io "Image classification from scratch",
//! "Image classification via fine-tuning with EfficientNet", a free-size serving model
//! (Resizing(256) → CenterCrop(224)), a grey and a multi-label classifier, and Keras 3's
//! `Pipeline`, CLAHE and Equalization layers, in every format each Keras version writes. Each
//! file imports with TensorFlow's exact parameter counts, `auto` chooses the preprocessing the
//! tutorial feeds, and logits, probabilities and the top-two Grad-CAM heatmaps at the default
//! layer match TensorFlow within the corpus tolerances, on photos of several sizes and aspect
//! ratios for free-size models. The full-size configs of the tutorials whose weights are too
//! large to store here (Xception transfer learning, the Grad-CAM tutorial's Xception,
//! EfficientNetB0 fine-tuning, flowers at 180 px, "from scratch" at full width) import with
//! exact counts, the right backbone, preprocessing and default target layer. A missing
//! fixture fails the test.

use std::path::Path;

use backbones::{choose_preprocessing, detect, load_photo, pixels_to_tensor, to_color_mode};
use backbones::{ColorMode, Preprocessing};
use gradcam_core::{default_target_layer, CamRequest, Network, Target};
use keras_import::{Graph, ParamCounts};
use kerascam_tests::corpus::read_config_text;
use kerascam_tests::manifest::{fixture_set, floats};
use kerascam_tests::{max_abs_diff, npy};
use serde_json::Value;

/// Corpus tolerances: logits relative to max(1, |logit|), probabilities, heatmaps.
const TOLERANCE: [f32; 3] = [1e-3, 1e-4, 1e-3];

/// TensorFlow's parameter counts must be the importer's, exactly.
fn check_counts(id: &str, got: ParamCounts, want: &Value) {
    let field = |k: &str| want[k].as_u64().expect("count");
    assert_eq!(
        [got.total, got.trainable, got.non_trainable],
        [field("total"), field("trainable"), field("non_trainable")],
        "{id}: total, trainable, non-trainable parameters"
    );
}

/// The preprocessing `auto` chooses for `graph`.
fn auto_preprocessing(graph: &Graph) -> Preprocessing {
    choose_preprocessing(graph, detect(graph).as_ref())
}

/// The last segment of a node path (`xception/block14_sepconv2_act` → `block14_sepconv2_act`).
fn leaf(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Worst differences over one image: (logit relative, probability, heatmap).
fn check_image(id: &str, dir: &Path, graph: &Graph, case: &Value, image: &Value) -> [f32; 3] {
    let photo = image["photo"].as_str().expect("photo");
    let mode = ColorMode::from_channels(case["channels"].as_u64().expect("channels") as usize)
        .expect("1 or 3 channels");
    let pixels = to_color_mode(load_photo(dir.join(photo)).expect(photo), mode);
    let net =
        Network::load(graph, &kerascam_tests::device()).unwrap_or_else(|e| panic!("{id}: {e}"));
    let size = |axis: usize| net.input_shape()[axis].map(|v| v as u32);
    let tensor =
        pixels_to_tensor(&pixels, size(0), size(1), auto_preprocessing(graph)).expect("tensor");
    let shape = tensor.shape();
    // A free-size model takes the photo at its own size.
    let net = net
        .with_input_size(shape[1], shape[2])
        .unwrap_or_else(|e| panic!("{id} {photo}: {e}"));
    let request = CamRequest::for_layer(None, Target::top_k(2));
    let results = net
        .grad_cam(&tensor.data, 1, &request)
        .unwrap_or_else(|e| panic!("{id} {photo}: {e}"));
    let logits = floats(&image["logits"]);
    let scale = logits.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let mut worst = [
        max_abs_diff(&results[0][0].logits, &logits) / scale,
        0.0,
        0.0,
    ];
    let probabilities = net.head().class_probabilities(&results[0][0].probabilities);
    // A several-unit linear head (flowers' Dense(5) logits) reports softmax(logits), as
    // TensorFlow's tutorial shows them; the manifest holds TF's.
    let want = floats(&image["probabilities"]);
    worst[1] = max_abs_diff(&probabilities, &want);
    for reference in image["heatmaps"].as_array().expect("heatmaps") {
        let class = reference["class"].as_u64().expect("class") as usize;
        let mine = results[0]
            .iter()
            .find(|r| r.class == class)
            .unwrap_or_else(|| panic!("{id} {photo}: class {class} is not in kerascam's top two"));
        assert_eq!(
            leaf(&mine.target_layer),
            case["target_layer"].as_str().expect("target"),
            "{id}: default target layer"
        );
        let want = npy::read_f32(&dir.join(reference["heatmap"].as_str().expect("heatmap")));
        assert_eq!([mine.height, mine.width], [want.shape[0], want.shape[1]]);
        worst[2] = worst[2].max(max_abs_diff(&mine.heatmap, &want.data));
    }
    for (w, (t, what)) in
        worst.iter().zip(
            TOLERANCE
                .iter()
                .zip(["logits", "probabilities", "heatmaps"]),
        )
    {
        assert!(w <= t, "{id} {photo}: {what} off by {w}");
    }
    worst
}

#[test]
fn tutorial_models_match_tensorflow() {
    let (dir, manifest) = fixture_set("tutorials");
    let cases = manifest["cases"].as_array().expect("cases");
    assert!(cases.len() >= 30, "{} model files", cases.len());
    let mut worst = [0.0f32; 3];
    let mut images = 0;
    for case in cases {
        let id = case["id"].as_str().expect("id");
        let model = keras_import::load_model(&dir.join(case["file"].as_str().expect("file")))
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        check_counts(id, model.graph.param_counts(), &case["params"]);
        let pre = auto_preprocessing(&model.graph);
        assert_eq!(
            pre.as_str(),
            case["preprocessing"],
            "{id}: auto preprocessing"
        );
        for image in case["images"].as_array().expect("images") {
            let w = check_image(id, &dir, &model.graph, case, image);
            for (all, one) in worst.iter_mut().zip(w) {
                *all = all.max(one);
            }
            images += 1;
        }
    }
    println!(
        "tutorial models: {} files, {images} photos; worst logit {:.1e} relative, probability \
         {:.1e}, heatmap {:.1e}",
        cases.len(),
        worst[0],
        worst[1],
        worst[2]
    );
}

#[test]
fn full_size_tutorial_configs_import_exactly() {
    let (dir, manifest) = fixture_set("tutorials");
    let configs = manifest["configs"].as_array().expect("configs");
    assert_eq!(configs.len(), 10, "five tutorials, Keras 3 and tf_keras");
    for config in configs {
        let id = config["id"].as_str().expect("id");
        let text = read_config_text(&dir.join(config["config"].as_str().expect("config")));
        let graph =
            keras_import::graph_from_config_json(&text, id).unwrap_or_else(|e| panic!("{id}: {e}"));
        check_counts(id, graph.param_counts(), &config["params"]);
        let detection = detect(&graph);
        assert_eq!(
            detection.as_ref().map(|d| d.family),
            config["backbone"].as_str(),
            "{id}: backbone"
        );
        let pre = choose_preprocessing(&graph, detection.as_ref());
        assert_eq!(
            pre.as_str(),
            config["preprocessing"],
            "{id}: auto preprocessing"
        );
        if let Some(want) = config["target_layer"].as_str() {
            let node = default_target_layer(&graph).unwrap_or_else(|e| panic!("{id}: {e}"));
            assert_eq!(
                leaf(&graph.nodes[node].path),
                want,
                "{id}: default target layer"
            );
        }
    }
}

#[test]
fn bad_layer_options_are_refused_naming_the_layer() {
    let (dir, manifest) = fixture_set("tutorials");
    for (name, kind, words) in [
        ("resize_sinc", "unsupported_option", "interpolation = sinc"),
        ("resize_zero", "bad_json", "height"),
        ("center_crop_zero", "bad_json", "width"),
        ("rescaling_four", "invalid_graph", "4 values"),
    ] {
        let bad = &manifest["bad"][name];
        let err = keras_import::load_model(&dir.join(bad["file"].as_str().expect("file")))
            .expect_err(name);
        assert_eq!(err.kind().as_str(), kind, "{name}: {err}");
        let text = err.to_string();
        let layer = bad["layer"].as_str().expect("layer");
        assert!(
            text.contains(layer) && text.contains(words),
            "{name}: {text}"
        );
        assert_eq!(text.lines().count(), 1, "{name}: {text}");
    }
}

/// The error of explaining `photo` (a file of the fixture set) with `graph`.
fn photo_error(graph: &Graph, dir: &Path, photo: &str) -> gradcam_core::CamError {
    let pixels = to_color_mode(load_photo(dir.join(photo)).expect(photo), ColorMode::Rgb);
    let tensor = pixels_to_tensor(&pixels, None, None, Preprocessing::None).expect("tensor");
    let shape = tensor.shape();
    Network::load(graph, &kerascam_tests::device())
        .and_then(|net| net.with_input_size(shape[1], shape[2]))
        .and_then(|net| net.grad_cam(&tensor.data, 1, &CamRequest::default()))
        .expect_err(photo)
}

#[test]
fn photos_the_layers_cannot_take_are_refused_naming_the_layer() {
    let (dir, _) = fixture_set("tutorials");
    let clahe = keras_import::load_model(&dir.join("models/clahe_k3.keras")).expect("clahe");
    let err = photo_error(&clahe.graph, &dir, "bad/p3x3.png");
    assert_eq!(err.kind.as_str(), "invalid_input", "{err}");
    assert!(err.to_string().contains("clahe"), "{err}");
    let reshape =
        keras_import::load_model(&dir.join("bad/fixed_reshape.keras")).expect("fixed_reshape");
    let err = photo_error(&reshape.graph, &dir, "bad/p20x20.png");
    assert!(err.to_string().contains("fixed_reshape"), "{err}");
}
