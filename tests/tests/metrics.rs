//! kerascam's metrics against NumPy re-implementations of their reference code
//! (`tests/fixtures/metrics/`, made by its `generate.py`: RISE `evaluation.py`, TorchRay
//! `pointing_game.py`, road_evaluation's `NoisyLinearImputer` with the ROAD protocol,
//! pytorch-grad-cam `metrics/cam_mult_image.py`), every score a softmax probability of the
//! same tiny model run by TensorFlow there and by kerascam here.
//!
//! Tolerances: scores and AUCs within 2e-5 absolute (float32 forward passes of two engines;
//! ROAD's imputation solved by SciPy's spsolve there, conjugate gradients to a 1e-10 residual
//! here), the blur kernel within 1e-7, pointing outcomes and points exactly. A missing
//! fixture fails the test.

use std::path::PathBuf;

use gradcam_core::metrics::{self, CausalOptions, Classifier, ModelInput, PixelBox, RoadOptions};
use gradcam_core::Network;
use kerascam_tests::{corpus, npy};
use serde_json::Value;

const TOLERANCE: f32 = 2e-5;

fn fixtures() -> (PathBuf, Value) {
    corpus::fixture_manifest("metrics")
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .expect("a list of numbers")
        .iter()
        .map(|x| x.as_f64().expect("a number") as f32)
        .collect()
}

fn number(v: &Value) -> f32 {
    v.as_f64().expect("a number") as f32
}

fn assert_close(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= TOLERANCE,
            "{what}[{i}]: kerascam {g}, reference {w}"
        );
    }
}

fn network(dir: &std::path::Path) -> Network {
    let model = keras_import::load_model(&dir.join("model.keras")).expect("model.keras loads");
    Network::load(&model.graph, &kerascam_tests::device()).expect("the network prepares")
}

fn classifier(net: &Network) -> Classifier<'_> {
    Classifier::new(
        |batch: &[f32], n: usize| {
            Ok(net
                .predict(batch, n)?
                .into_iter()
                .map(|p| p.probabilities)
                .collect())
        },
        5,
    )
}

#[test]
fn deletion_insertion_road_and_confidence_equal_the_references() {
    let (dir, manifest) = fixtures();
    let net = network(&dir);
    let mut model = classifier(&net);
    let cases = manifest["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 3);
    for case in cases {
        let image = npy::read_f32(&dir.join(case["image"].as_str().unwrap()));
        let heat = npy::read_f32(&dir.join(case["heatmap"].as_str().unwrap())).data;
        let input =
            ModelInput::new(&image.data, image.shape[0], image.shape[1], image.shape[2]).unwrap();
        let class = case["class"].as_u64().unwrap() as usize;
        let name = case["image"].as_str().unwrap();

        let del =
            metrics::deletion(&mut model, &input, class, &heat, CausalOptions::default()).unwrap();
        assert_close(
            &format!("{name} deletion"),
            &del.scores,
            &floats(&case["deletion"]["scores"]),
        );
        assert_close(
            &format!("{name} deletion auc"),
            &[del.auc],
            &[number(&case["deletion"]["auc"])],
        );
        let ins =
            metrics::insertion(&mut model, &input, class, &heat, CausalOptions::default()).unwrap();
        assert_close(
            &format!("{name} insertion"),
            &ins.scores,
            &floats(&case["insertion"]["scores"]),
        );
        assert_close(
            &format!("{name} insertion auc"),
            &[ins.auc],
            &[number(&case["insertion"]["auc"])],
        );

        let options = RoadOptions {
            noise: 0.0,
            ..RoadOptions::default()
        };
        let road = metrics::road(&mut model, &input, class, &heat, &options).unwrap();
        let want = &case["road"];
        assert_close(
            &format!("{name} ROAD MoRF"),
            &road.morf,
            &floats(&want["morf"]),
        );
        assert_close(
            &format!("{name} ROAD LeRF"),
            &road.lerf,
            &floats(&want["lerf"]),
        );
        assert_close(
            &format!("{name} ROAD means"),
            &[road.morf_mean, road.lerf_mean, road.combined],
            &[
                number(&want["morf_mean"]),
                number(&want["lerf_mean"]),
                number(&want["combined"]),
            ],
        );

        let change = metrics::confidence_change(&mut model, &input, class, &heat).unwrap();
        let want = &case["confidence"];
        assert_close(
            &format!("{name} confidence"),
            &[change.delta, change.drop, change.increase],
            &[
                number(&want["delta"]),
                number(&want["drop"]),
                number(&want["increase"]),
            ],
        );
    }
}

#[test]
fn the_insertion_substrate_is_rises_blur() {
    let (dir, manifest) = fixtures();
    let kernel: Vec<f32> = manifest["blur_kernel_11_5"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(floats)
        .collect();
    // A unit impulse in the centre of a 21×21 one-channel image blurs into the kernel itself.
    let mut impulse = vec![0.0f32; 21 * 21];
    impulse[10 * 21 + 10] = 1.0;
    let input = ModelInput::new(&impulse, 21, 21, 1).unwrap();
    let blurred = metrics::blur_substrate(&input);
    for ky in 0..11 {
        for kx in 0..11 {
            let got = blurred[(5 + ky) * 21 + 5 + kx];
            let want = kernel[ky * 11 + kx];
            assert!(
                (got - want).abs() < 1e-7,
                "kernel[{ky}][{kx}]: {got} vs {want}"
            );
        }
    }
    assert!(dir.join("model.keras").exists());
}

#[test]
fn the_pointing_game_equals_torchrays_rule() {
    let (dir, manifest) = fixtures();
    let cases = manifest["pointing"].as_array().expect("pointing cases");
    assert_eq!(cases.len(), 12);
    let mut hits = 0;
    for case in cases {
        let heat = npy::read_f32(&dir.join(case["heatmap"].as_str().unwrap()));
        let (height, width) = (heat.shape[0], heat.shape[1]);
        let boxes: Vec<PixelBox> = case["boxes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                let c: Vec<usize> = b
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap() as usize)
                    .collect();
                PixelBox {
                    x0: c[0],
                    y0: c[1],
                    x1: c[2],
                    y1: c[3],
                }
            })
            .collect();
        let got = metrics::pointing_game(
            &heat.data,
            width,
            height,
            &boxes,
            metrics::POINTING_TOLERANCE,
        )
        .unwrap();
        let point = case["point"].as_array().unwrap();
        let want = (
            point[0].as_u64().unwrap() as usize,
            point[1].as_u64().unwrap() as usize,
        );
        assert_eq!(got.point, want, "{}", case["heatmap"]);
        assert_eq!(
            got.hit,
            case["hit"].as_bool().unwrap(),
            "{}",
            case["heatmap"]
        );
        hits += usize::from(got.hit);
    }
    // The fixture has both outcomes, so a rule that always hits or always misses fails.
    assert!(hits > 0 && hits < cases.len());
}
