//! Helpers shared by the benchmarks: the corpus architectures with random weights, timing.
// Each benchmark compiles this module and uses only part of it.
#![allow(dead_code)]

use std::io::Read;
use std::path::PathBuf;
use std::time::Instant;

use keras_import::Graph;

/// The conformance corpus folder (KERASCAM_CONFORMANCE overrides it).
pub fn corpus_dir() -> PathBuf {
    std::env::var_os("KERASCAM_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance")
        })
}

/// The Keras config of corpus architecture `id` (plain or gzipped) and its file name.
pub fn read_config(id: &str) -> Option<(String, String)> {
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
pub fn randomise(graph: &mut Graph) {
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

/// The best of `reps` timings of `f` in milliseconds, after one warm-up call.
pub fn time_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut best = f64::INFINITY;
    for _ in 0..reps {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64() * 1e3);
    }
    best
}

/// The corpus architecture `id` taking `channels`-channel images, with random weights, or
/// `None` (with a message) when the corpus is absent.
pub fn random_graph(id: &str, channels: usize) -> Option<Graph> {
    let Some((text, file)) = read_config(id) else {
        println!(
            "skipped {id}: corpus config not found under {}",
            corpus_dir().display()
        );
        return None;
    };
    let text = with_input_channels(&text, channels);
    let mut graph = keras_import::graph_from_config_json(&text, &file).expect("config parses");
    randomise(&mut graph);
    Some(graph)
}

/// Threads available to rayon.
pub fn rayon_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
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

/// Has glibc keep freed memory for reuse, as the `kerascam` binary does at start (see its
/// `main.rs`), so that the benchmarks time what the command line runs: without it every
/// large activation is mapped afresh and page-faults again.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: allocator parameters only, set before the benchmark starts other threads.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX);
    }
}
