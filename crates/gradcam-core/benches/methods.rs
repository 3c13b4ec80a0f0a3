//! CAM method timings for ResNet50 at 224×224 (random weights, batch 1, target the default
//! layer `conv5_block3_out`, 7×7×2048): every gradient method against Grad-CAM (goal: within
//! 1.2×) and Ablation-CAM, each the best of interleaved rounds, then one run of Score-CAM over
//! all 2048 channels. Prints milliseconds and ratios;
//! `bench/pytorch_grad_cam.py` times pytorch-grad-cam on torchvision's ResNet50 for
//! comparison.
//!
//! Run: `cargo bench -p gradcam-core --bench methods` (KERASCAM_CONFORMANCE overrides the
//! corpus location; KERASCAM_BENCH_SLOW=0 skips Score-CAM).

mod common;

use gradcam_core::cam::registry::METHODS;
use gradcam_core::candle_core::Device;
use gradcam_core::{method_by_name, CamRequest, MethodOptions, Network};

/// The methods timed round by round against Grad-CAM (the registry's first): every CAM
/// method up to the pixel-level ones, but Score-CAM, which runs once at the end.
fn interleaved_methods() -> Vec<&'static str> {
    METHODS
        .iter()
        .map(|entry| entry.name)
        .take_while(|&name| name != "guided-backprop")
        .filter(|&name| name != "scorecam")
        .collect()
}

/// Rounds of the gradient methods; each round runs every method once, so that the machine's
/// drift (this VM's speed changes by up to 1.5× within minutes) falls on all of them alike.
const ROUNDS: usize = 7;

fn main() {
    common::keep_freed_memory();
    let Some(graph) = common::random_graph("k3_resnet50_top", 3) else {
        return;
    };
    let net = Network::load(&graph, &Device::Cpu).expect("network loads");
    let x: Vec<f32> = (0..224 * 224 * 3)
        .map(|i| ((i % 251) as f32 / 125.0) - 1.0)
        .collect();
    let request = CamRequest::default();
    let options = MethodOptions::default();
    let run = |name: &str| {
        let method = method_by_name(name, &options).expect("registered");
        let start = std::time::Instant::now();
        net.cam_with(method.as_ref(), &x, 1, &request).expect("cam");
        start.elapsed().as_secs_f64() * 1e3
    };
    let methods = interleaved_methods();
    let mut best = vec![f64::INFINITY; methods.len()];
    for round in 0..=ROUNDS {
        for (name, best) in methods.iter().zip(&mut best) {
            let ms = run(name);
            // Round 0 warms up.
            if round > 0 {
                *best = best.min(ms);
            }
        }
    }
    println!(
        "resnet50 224 batch 1, {} threads, best of {ROUNDS} interleaved rounds",
        common::rayon_threads()
    );
    for (name, ms) in methods.iter().zip(&best) {
        println!("{name:22} {ms:9.1} ms  {:.2}x", ms / best[0]);
    }
    if std::env::var("KERASCAM_BENCH_SLOW").as_deref() == Ok("0") {
        return;
    }
    // One timed run (2048 masked forward passes).
    let ms = run("scorecam");
    println!("{:22} {ms:9.1} ms  {:.2}x", "scorecam", ms / best[0]);
}
