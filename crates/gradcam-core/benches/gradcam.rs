//! Forward and Grad-CAM timings (ms/image) for ResNet50 and MobileNetV2 at 224×224 with random
//! weights, batch 1 and 16. The architectures come from the conformance corpus configs; when
//! the corpus is absent the benchmark says so and exits.
//!
//! Run: `cargo bench -p gradcam-core` (KERASCAM_CONFORMANCE overrides the corpus location).

mod common;

use gradcam_core::candle_core::Device;
use gradcam_core::{CamRequest, Network};

fn main() {
    let device = Device::Cpu;
    for id in ["k3_resnet50_top", "k3_mobilenetv2_top"] {
        let Some(graph) = common::random_graph(id) else {
            continue;
        };
        let net = Network::load(&graph, &device).expect("network loads");
        for n in [1usize, 16] {
            let x: Vec<f32> = (0..n * 224 * 224 * 3)
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
                "{id:22} batch {n:2}: forward {:7.1} ms/image, grad-cam {:7.1} ms/image ({} threads)",
                fwd / n as f64,
                cam / n as f64,
                common::rayon_threads()
            );
        }
    }
}
