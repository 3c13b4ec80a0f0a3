//! Properties of the CAM methods on the `plain` fixture classifier of
//! `tests/fixtures/methods/` (target "conv" → GlobalAveragePooling2D → Dense "logits"), for
//! random inputs and random head weights:
//!
//! - HiResCAM equals Grad-CAM: behind global average pooling the gradient is the same at
//!   every position (`W[k, c] / (h·w)`), so averaging it changes nothing (and both are the
//!   classic CAM `Σ_k W[k, c] A_k` divided by `h·w`);
//! - with a head column that is positive, every gradient is positive, and Layer-CAM and
//!   Grad-CAM element-wise equal HiResCAM (the activations are ReLU outputs);
//! - Eigen-CAM's projection is an eigenvector of the centred Gram matrix for its largest
//!   eigenvalue, with the documented sign (it correlates non-negatively with the channel
//!   mean);
//! - Faster Score-CAM with every channel is Score-CAM;
//! - `normalize: MinMax` spans [0, 1).

use gradcam_core::cam::projection::project;
use gradcam_core::Target;
use gradcam_core::{method_by_name, CamRequest, CamResult, MethodOptions, Network, Normalize};
use keras_import::Graph;
use kerascam_tests::manifest::fixture_set;
use kerascam_tests::max_abs_diff;
use proptest::prelude::*;

const SIZE: usize = 32;

fn plain_graph() -> Graph {
    let (dir, _) = fixture_set("methods");
    keras_import::load_model(&dir.join("models/plain.keras"))
        .expect("plain.keras")
        .graph
}

/// The network with Dense "logits" column `class` replaced by `column`.
fn with_column(mut graph: Graph, class: usize, column: &[f32]) -> Network {
    let id = graph.node_by_path("logits").expect("logits layer");
    let kernel = graph.nodes[id].weights[0];
    let classes = graph.weights[kernel].shape[1];
    for (k, v) in column.iter().enumerate() {
        graph.weights[kernel].data[k * classes + class] = *v;
    }
    Network::load(&graph, &kerascam_tests::device()).expect("load")
}

fn run(
    net: &Network,
    method: &str,
    options: &MethodOptions,
    x: &[f32],
    req: &CamRequest,
) -> CamResult {
    let method = method_by_name(method, options).expect("method");
    net.cam_with(method.as_ref(), x, 1, req)
        .expect("cam")
        .remove(0)
        .remove(0)
}

fn close(a: &[f32], b: &[f32]) -> bool {
    let scale = a.iter().chain(b).fold(1e-6f32, |m, v| m.max(v.abs()));
    max_abs_diff(a, b) <= 1e-4 * scale
}

fn request(class: usize) -> CamRequest {
    CamRequest {
        layers: vec!["conv".into()],
        targets: vec![Target::Class(class)],
        ..CamRequest::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, .. ProptestConfig::default() })]

    #[test]
    fn hirescam_equals_gradcam_behind_global_pooling(
        x in proptest::collection::vec(-1f32..1.0, SIZE * SIZE * 3),
        column in proptest::collection::vec(-1f32..1.0, 16),
        class in 0usize..5,
    ) {
        let net = with_column(plain_graph(), class, &column);
        let o = MethodOptions::default();
        let grad = run(&net, "gradcam", &o, &x, &request(class));
        let hires = run(&net, "hirescam", &o, &x, &request(class));
        prop_assert!(close(&grad.raw_cam, &hires.raw_cam));
    }

    #[test]
    fn layercam_and_elementwise_equal_hirescam_for_positive_gradients(
        x in proptest::collection::vec(-1f32..1.0, SIZE * SIZE * 3),
        column in proptest::collection::vec(0.01f32..1.0, 16),
        class in 0usize..5,
    ) {
        let net = with_column(plain_graph(), class, &column);
        let o = MethodOptions::default();
        let hires = run(&net, "hirescam", &o, &x, &request(class));
        prop_assert!(hires.heatmap_max_raw > 0.0);
        for method in ["layercam", "gradcam-elementwise"] {
            let got = run(&net, method, &o, &x, &request(class));
            prop_assert!(close(&got.raw_cam, &hires.raw_cam), "{}", method);
        }
    }

    #[test]
    fn projection_is_the_signed_first_component(
        values in proptest::collection::vec(-1f32..2.0, 12 * 5),
        pixels_first in any::<bool>(),
    ) {
        let (pixels, channels) = if pixels_first { (12, 5) } else { (5, 12) };
        let p = project(&values, pixels, channels);
        let x = |z: usize, c: usize| values[z * channels + c] as f64;
        let mean: Vec<f64> = (0..channels)
            .map(|c| (0..pixels).map(|z| x(z, c)).sum::<f64>() / pixels as f64)
            .collect();
        let xc = |z: usize, c: usize| x(z, c) - mean[c];
        // G p = λ p with G = X_c X_cᵀ, and λ is the largest Rayleigh quotient.
        let gp: Vec<f64> = (0..pixels)
            .map(|i| (0..pixels).map(|j| {
                (0..channels).map(|c| xc(i, c) * xc(j, c)).sum::<f64>() * p[j] as f64
            }).sum())
            .collect();
        let norm2: f64 = p.iter().map(|v| (*v as f64).powi(2)).sum();
        prop_assume!(norm2 > 1e-6);
        let lambda: f64 = gp.iter().zip(&p).map(|(g, v)| g * *v as f64).sum::<f64>() / norm2;
        let residual = gp.iter().zip(&p).map(|(g, v)| (g - lambda * *v as f64).abs()).fold(0.0, f64::max);
        prop_assert!(residual <= 1e-3 * lambda.abs().max(1.0), "residual {}", residual);
        prop_assert!((lambda - norm2).abs() <= 1e-3 * lambda.max(1.0), "|p|² = σ₁² = λ");
        for c in 0..channels {
            let col: Vec<f64> = (0..pixels).map(|z| xc(z, c)).collect();
            let n2: f64 = col.iter().map(|v| v * v).sum();
            if n2 > 1e-9 {
                let q: f64 = (0..pixels).map(|i| col[i] * (0..pixels).map(|j| {
                    (0..channels).map(|k| xc(i, k) * xc(j, k)).sum::<f64>() * col[j]
                }).sum::<f64>()).sum::<f64>() / n2;
                prop_assert!(q <= lambda * (1.0 + 1e-6) + 1e-9);
            }
        }
        let agreement: f64 = (0..pixels)
            .map(|z| p[z] as f64 * (0..channels).map(|c| x(z, c)).sum::<f64>())
            .sum();
        prop_assert!(agreement >= -1e-6);
    }

    #[test]
    fn faster_scorecam_with_every_channel_is_scorecam_and_minmax_spans_unit(
        x in proptest::collection::vec(-1f32..1.0, SIZE * SIZE * 3),
        class in 0usize..5,
    ) {
        let net = with_column(plain_graph(), class, &[]);
        let all = run(&net, "scorecam", &MethodOptions::default(), &x, &request(class));
        let every = MethodOptions { max_channels: Some(16), ..MethodOptions::default() };
        let same = run(&net, "scorecam", &every, &x, &request(class));
        prop_assert!(close(&all.raw_cam, &same.raw_cam));
        let minmax = CamRequest { normalize: Normalize::MinMax, ..request(class) };
        let got = run(&net, "gradcam", &MethodOptions::default(), &x, &minmax);
        let lo = got.heatmap.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = got.heatmap.iter().copied().fold(0f32, f32::max);
        prop_assert!(lo == 0.0 && hi < 1.0 && (hi == 0.0 || hi > 0.999));
    }
}
