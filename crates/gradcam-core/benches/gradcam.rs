//! Forward and Grad-CAM timings (ms/image) for ResNet50 and MobileNetV2 at 224×224 with random
//! weights, batch 1 and 16. The architectures come from the conformance corpus configs; when
//! the corpus is absent the benchmark says so and exits.
//!
//! For ResNet50 it then prints each pixel-level method's batch-1 time as a ratio to
//! Grad-CAM's (SmoothGrad with its default 20 noisy copies).
//!
//! Run: `cargo bench -p gradcam-core` (KERASCAM_CONFORMANCE overrides the corpus location);
//! `cargo bench -p gradcam-core -- pixel` prints only the pixel-level ratios.

use std::io::Read;
use std::path::PathBuf;
use std::time::Instant;

use gradcam_core::candle_core::Device;
use gradcam_core::{CamRequest, Network, SmoothGradOptions};
use keras_import::Graph;

fn corpus_dir() -> PathBuf {
    std::env::var_os("KERASCAM_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance")
        })
}

fn read_config(id: &str) -> Option<(String, String)> {
    let dir = corpus_dir().join("configs");
    let plain = dir.join(format!("{id}.json"));
    if let Ok(text) = std::fs::read_to_string(&plain) {
        return Some((text, plain.display().to_string()));
    }
    let gz = dir.join(format!("{id}.json.gz"));
    let bytes = std::fs::read(&gz).ok()?;
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes.as_slice())
        .read_to_string(&mut text)
        .ok()?;
    Some((text, gz.display().to_string()))
}

/// Fills every weight with random values of a plausible scale (variances positive).
fn randomise(graph: &mut Graph) {
    let mut state = 0x1234_5678_9abc_def0u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    };
    for w in &mut graph.weights {
        let n: usize = w.shape.iter().product();
        let fan_in: usize = w.shape.iter().rev().skip(1).product::<usize>().max(1);
        let name = w.name.to_lowercase();
        w.data = (0..n)
            .map(|_| {
                let r = next();
                if name.contains("variance") {
                    1.0 + 0.1 * r.abs()
                } else if name.contains("gamma") {
                    1.0 + 0.1 * r
                } else if name.contains("mean") || name.contains("beta") || name.contains("bias") {
                    0.05 * r
                } else if name.contains("count") {
                    1.0
                } else {
                    r * (3.0 / fan_in as f32).sqrt()
                }
            })
            .collect();
    }
}

fn time_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut best = f64::INFINITY;
    for _ in 0..reps {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64() * 1e3);
    }
    best
}

fn main() {
    let device = Device::Cpu;
    let pixel_only = std::env::args().any(|a| a == "pixel");
    let models: &[&str] = if pixel_only {
        &["k3_resnet50_top"]
    } else {
        &["k3_resnet50_top", "k3_mobilenetv2_top"]
    };
    for &id in models {
        let Some((text, file)) = read_config(id) else {
            println!(
                "skipped {id}: corpus config not found under {}",
                corpus_dir().display()
            );
            continue;
        };
        let mut graph = keras_import::graph_from_config_json(&text, &file).expect("config parses");
        randomise(&mut graph);
        let net = Network::load(&graph, &device).expect("network loads");
        let batches: &[usize] = if pixel_only { &[] } else { &[1, 16] };
        for &n in batches {
            let x: Vec<f32> = (0..n * 224 * 224 * 3)
                .map(|i| ((i % 251) as f32 / 125.0) - 1.0)
                .collect();
            let reps = if n == 1 { 5 } else { 2 };
            let fwd = time_ms(reps, || {
                net.predict(&x, n).expect("predict");
            });
            let cam = time_ms(reps, || {
                net.grad_cam(&x, n, &CamRequest::default())
                    .expect("grad-cam");
            });
            println!(
                "{id:22} batch {n:2}: forward {:7.1} ms/image, grad-cam {:7.1} ms/image ({} threads)",
                fwd / n as f64,
                cam / n as f64,
                rayon_threads()
            );
        }
        if id == "k3_resnet50_top" {
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
    let cam = time_ms(2, || {
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
        let ms = time_ms(2, run);
        println!("{name:16} {ms:8.1} ms = {:5.2} × grad-cam", ms / cam);
    }
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
