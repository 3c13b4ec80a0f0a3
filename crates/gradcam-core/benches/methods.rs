//! CAM method timings for ResNet50 at 224×224 (random weights, batch 1, target the default
//! layer `conv5_block3_out`, 7×7×2048): every gradient method against Grad-CAM (goal: within
//! 1.2×), Score-CAM over all 2048 channels and Ablation-CAM. Prints milliseconds and ratios;
//! `bench/pytorch_grad_cam.py` times pytorch-grad-cam on torchvision's ResNet50 for
//! comparison.
//!
//! Run: `cargo bench -p gradcam-core --bench methods` (KERASCAM_CONFORMANCE overrides the
//! corpus location; KERASCAM_BENCH_SLOW=0 skips Score-CAM and Ablation-CAM).

mod common;

use gradcam_core::candle_core::Device;
use gradcam_core::{method_by_name, CamRequest, MethodOptions, Network};

fn main() {
    let Some(graph) = common::random_graph("k3_resnet50_top", 3) else {
        return;
    };
    let net = Network::load(&graph, &Device::Cpu).expect("network loads");
    let x: Vec<f32> = (0..224 * 224 * 3)
        .map(|i| ((i % 251) as f32 / 125.0) - 1.0)
        .collect();
    let request = CamRequest::default();
    let options = MethodOptions::default();
    let time = |name: &str, reps: usize| {
        let method = method_by_name(name, &options).expect("registered");
        common::time_ms(reps, || {
            net.cam_with(method.as_ref(), &x, 1, &request).expect("cam");
        })
    };
    let threads = common::rayon_threads();
    let gradcam = time("gradcam", 5);
    println!("resnet50 224 batch 1, {threads} threads");
    println!("{:22} {gradcam:9.1} ms  1.00x", "gradcam");
    for name in [
        "hirescam",
        "gradcam-elementwise",
        "gradcam++",
        "xgradcam",
        "layercam",
        "eigencam",
        "eigengradcam",
    ] {
        let ms = time(name, 5);
        println!("{name:22} {ms:9.1} ms  {:.2}x", ms / gradcam);
    }
    if std::env::var("KERASCAM_BENCH_SLOW").as_deref() == Ok("0") {
        return;
    }
    // One timed run each (no warm-up: each run is thousands of forward passes).
    for name in ["ablationcam", "scorecam"] {
        let method = method_by_name(name, &options).expect("registered");
        let start = std::time::Instant::now();
        net.cam_with(method.as_ref(), &x, 1, &request).expect("cam");
        let ms = start.elapsed().as_secs_f64() * 1e3;
        println!("{name:22} {ms:9.1} ms  {:.2}x", ms / gradcam);
    }
}
