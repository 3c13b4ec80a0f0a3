//! Forward and Grad-CAM timings (ms/image) for ResNet50 and MobileNetV2 at 224×224 with random
//! weights, batch 1 and 16, and MobileNetV2 taking 1-channel (grey) and 4-channel (RGBA)
//! images. The architectures come from the conformance corpus configs; when the corpus is
//! absent the benchmark says so and exits.
//!
//! Run: `cargo bench -p gradcam-core` (KERASCAM_CONFORMANCE overrides the corpus location);
//! `cargo bench -p gradcam-core -- channels` runs only the cases whose name holds `channels`.

use std::io::Read;
use std::path::PathBuf;
use std::time::Instant;

use gradcam_core::candle_core::Device;
use gradcam_core::{CamRequest, Network};
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

/// `text` (a model config) with every InputLayer taking `channels`-channel images.
fn with_input_channels(text: &str, channels: usize) -> String {
    let mut config: serde_json::Value = serde_json::from_str(text).expect("config is JSON");
    let layers = config["config"]["layers"].as_array_mut().expect("layers");
    for layer in layers
        .iter_mut()
        .filter(|l| l["class_name"] == "InputLayer")
    {
        let shape = &mut layer["config"]["batch_shape"];
        let last = shape.as_array().map_or(0, Vec::len).saturating_sub(1);
        shape[last] = channels.into();
    }
    config.to_string()
}

/// Benchmark cases: name, corpus config, input channels.
const CASES: [(&str, &str, usize); 4] = [
    ("resnet50", "k3_resnet50_top", 3),
    ("mobilenetv2", "k3_mobilenetv2_top", 3),
    ("mobilenetv2 1 channels", "k3_mobilenetv2_top", 1),
    ("mobilenetv2 4 channels", "k3_mobilenetv2_top", 4),
];

fn main() {
    let device = Device::Cpu;
    // Arguments other than cargo's flags (`--bench`) select cases by name.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    for (name, id, channels) in CASES {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let Some((text, file)) = read_config(id) else {
            println!(
                "skipped {name}: corpus config {id} not found under {}",
                corpus_dir().display()
            );
            continue;
        };
        let text = with_input_channels(&text, channels);
        let mut graph = keras_import::graph_from_config_json(&text, &file).expect("config parses");
        randomise(&mut graph);
        let net = Network::load(&graph, &device).expect("network loads");
        for n in [1usize, 16] {
            let x: Vec<f32> = (0..n * 224 * 224 * channels)
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
                "{name:22} batch {n:2}: forward {:7.1} ms/image, grad-cam {:7.1} ms/image ({} threads)",
                fwd / n as f64,
                cam / n as f64,
                rayon_threads()
            );
        }
    }
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
