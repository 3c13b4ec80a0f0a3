//! Forward and Grad-CAM timings (ms/image) for ResNet50 and MobileNetV2 at 224×224 with random
//! weights, batch 1 and 16, and MobileNetV2 taking 1-channel (grey) and 4-channel (RGBA)
//! images. The architectures come from the conformance corpus configs; when the corpus is
//! absent the benchmark says so and exits. For ResNet50 it then prints each pixel-level
//! method's batch-1 time as a ratio to Grad-CAM's (SmoothGrad with its default 20 noisy copies).
//!
//! Run: `cargo bench -p gradcam-core --bench gradcam` (KERASCAM_CONFORMANCE overrides the
//! corpus location); `-- channels` runs only the cases whose name holds `channels`, `-- pixel`
//! only the pixel-level ratios.

mod common;

use gradcam_core::candle_core::Device;
use gradcam_core::{CamRequest, Network, SmoothGradOptions};

/// Benchmark cases: name, corpus config, input channels.
const CASES: [(&str, &str, usize); 4] = [
    ("resnet50", "k3_resnet50_top", 3),
    ("mobilenetv2", "k3_mobilenetv2_top", 3),
    ("mobilenetv2 1 channels", "k3_mobilenetv2_top", 1),
    ("mobilenetv2 4 channels", "k3_mobilenetv2_top", 4),
];

fn main() {
    common::keep_freed_memory();
    let device = Device::Cpu;
    // Arguments other than cargo's flags (`--bench`) select cases by name.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let pixel_only = filters.iter().any(|f| f == "pixel");
    for (name, id, channels) in CASES {
        let timed = filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()));
        let pixel = (filters.is_empty() || pixel_only) && name == "resnet50";
        if !timed && !pixel {
            continue;
        }
        let Some(graph) = common::random_graph(id, channels) else {
            continue;
        };
        let net = Network::load(&graph, &device).expect("network loads");
        let batches: &[usize] = if timed { &[1, 16] } else { &[] };
        for &n in batches {
            let x: Vec<f32> = (0..n * 224 * 224 * channels)
                .map(|i| ((i % 251) as f32 / 125.0) - 1.0)
                .collect();
            let reps = if n == 1 { 5 } else { 2 };
            let fwd = common::time_ms(reps, || {
                net.predict(&x, n).expect("predict");
            });
            let cam = common::time_ms(reps, || {
                net.grad_cam(&x, n, &CamRequest::default())
                    .expect("grad-cam");
            });
            println!(
                "{name:22} batch {n:2}: forward {:7.1} ms/image, grad-cam {:7.1} ms/image ({} threads)",
                fwd / n as f64,
                cam / n as f64,
                common::rayon_threads()
            );
        }
        if pixel {
            pixel_ratios(&net);
        }
    }
}

/// Batch-1 times of the pixel-level methods against Grad-CAM's, best of 2 after a warm-up.
fn pixel_ratios(net: &Network) {
    let x: Vec<f32> = (0..224 * 224 * 3)
        .map(|i| ((i % 251) as f32 / 125.0) - 1.0)
        .collect();
    let request = CamRequest::default();
    let cam = common::time_ms(2, || {
        net.grad_cam(&x, 1, &request).expect("grad-cam");
    });
    let methods: [(&str, &dyn Fn()); 3] = [
        ("guided-backprop", &|| {
            net.guided_backprop(&x, 1, &[]).expect("guided backprop");
        }),
        ("guided-gradcam", &|| {
            net.guided_grad_cam(&x, 1, &request)
                .expect("guided grad-cam");
        }),
        ("smoothgrad (20)", &|| {
            let options = SmoothGradOptions::default();
            net.smooth_grad(&x, 1, &[], &options).expect("smoothgrad");
        }),
    ];
    println!("grad-cam {cam:7.1} ms");
    for (name, run) in methods {
        let ms = common::time_ms(2, run);
        println!("{name:16} {ms:8.1} ms = {:5.2} × grad-cam", ms / cam);
    }
}
