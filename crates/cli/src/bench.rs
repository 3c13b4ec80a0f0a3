//! `kerascam bench`: times what `explain` does, the way `bench/tf_gradcam.py` times
//! TensorFlow, so that the two can be compared on one machine. Each model runs in a child
//! process of its own, so that its load time and peak memory are its own.
//!
//! Every timing includes reading the photo, decoding, resizing and preprocessing it, like the
//! TensorFlow script; the heatmap is computed at the default target layer for the top class.
//! On a GPU (`--device cuda`) every timed call ends with the heatmaps or logits copied back to
//! the host, so the times include the device's work.

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Instant;

use gradcam_core::candle_core::Device;
use gradcam_core::{CamRequest, Network};
use serde::{Deserialize, Serialize};

use crate::args::{BenchArgs, PreprocessArg};
use crate::error::{CliError, Result};
use crate::explain::make_device;
use crate::session::Session;

/// What one model measured.
#[derive(Debug, Serialize, Deserialize)]
struct Measurement {
    model: String,
    /// Where it ran: `cpu`, `cuda` or `metal`.
    #[serde(default)]
    device: String,
    /// Process start to network ready (import, weight conversion), seconds.
    load_s: f64,
    /// The first photo's heatmap, seconds.
    first_s: f64,
    /// Batch-1 photo-to-heatmap time: median and best of the steady repetitions, ms.
    steady_median_ms: f64,
    steady_min_ms: f64,
    /// Throughput at the batch size given, images per second.
    batch_img_s: f64,
    /// Forward-pass multiply-adds per image ×2, in GFLOP.
    forward_gflop: f64,
    /// Forward pass alone at batch 1 (median), ms.
    forward_ms: f64,
    /// Peak resident memory of the process, MB (Linux; 0 elsewhere).
    peak_rss_mb: f64,
    /// GPU memory in use at the end of the run (the driver's total − free, this process's
    /// context included), MB; `None` on the CPU.
    #[serde(default)]
    device_used_mb: Option<f64>,
}

/// Runs `kerascam bench`.
pub fn run(args: &BenchArgs) -> Result<ExitCode> {
    if args.steady == 0 || args.batch == 0 {
        return Err(CliError::Usage(
            "--steady and --batch must be at least 1".into(),
        ));
    }
    if args.in_process {
        let [model] = &args.models[..] else {
            return Err(CliError::Usage("--in-process takes one model".into()));
        };
        let m = measure(model, args)?;
        println!("{}", serde_json::to_string(&m).map_err(json_error)?);
        return Ok(ExitCode::SUCCESS);
    }
    let exe = std::env::current_exe().map_err(|e| CliError::io(Path::new("kerascam"), e))?;
    if !args.json {
        println!(
            "{:<22} {:>5} {:>7} {:>8} {:>10} {:>8} {:>10} {:>9} {:>8} {:>7} {:>7}",
            "model",
            "dev",
            "load s",
            "first s",
            "median ms",
            "min ms",
            "batch i/s",
            "fwd ms",
            "GFLOP/s",
            "RSS MB",
            "dev MB"
        );
    }
    for model in &args.models {
        let out = Command::new(&exe)
            .arg("bench")
            .arg(model)
            .arg("--photo")
            .arg(&args.photo)
            .args(["--steady", &args.steady.to_string()])
            .args(["--batch", &args.batch.to_string()])
            .args(["--device", args.device.name()])
            .arg("--in-process")
            .output()
            .map_err(|e| CliError::io(&exe, e))?;
        if !out.status.success() {
            return Err(CliError::Usage(format!(
                "benchmark of {} failed: {}",
                model.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout.lines().last().unwrap_or_default();
        if args.json {
            println!("{line}");
            continue;
        }
        let m: Measurement = serde_json::from_str(line).map_err(json_error)?;
        println!(
            "{:<22} {:>5} {:>7.2} {:>8.2} {:>10.1} {:>8.1} {:>10.1} {:>9.1} {:>8.1} {:>7.0} {:>7}",
            m.model,
            m.device,
            m.load_s,
            m.first_s,
            m.steady_median_ms,
            m.steady_min_ms,
            m.batch_img_s,
            m.forward_ms,
            m.forward_gflop / (m.forward_ms / 1e3),
            m.peak_rss_mb,
            m.device_used_mb.map_or("-".into(), |mb| format!("{mb:.0}"))
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn json_error(e: serde_json::Error) -> CliError {
    CliError::Usage(format!("benchmark report: {e}"))
}

/// Measures one model in this process.
fn measure(model: &Path, args: &BenchArgs) -> Result<Measurement> {
    let start = Instant::now();
    let mut session = Session::open(model, PreprocessArg::Auto)?;
    let device = make_device(args.device)?;
    // As `explain` does for a fixed-size model: the network takes over the weights.
    let network = Network::load_releasing(&mut session.model.graph, &device)?;
    let forward_gflop = 2.0 * session.model.graph.multiply_adds() as f64 / 1e9;
    let shape = network.input_shape().to_vec();
    let [Some(h), Some(w), Some(3)] = shape[..] else {
        return Err(CliError::Usage(format!(
            "the benchmark needs a fixed-size RGB input, not {shape:?}"
        )));
    };
    let load_s = start.elapsed().as_secs_f64();
    let request = CamRequest::default();
    let photo_batch = |n: usize| -> Result<Vec<f32>> {
        let photo = backbones::load_image(&args.photo)?;
        let t = backbones::to_tensor(
            &photo,
            Some(h as u32),
            Some(w as u32),
            session.preprocessing,
        )?;
        Ok(t.data.repeat(n))
    };
    let explain = |n: usize| -> Result<()> {
        network.grad_cam(&photo_batch(n)?, n, &request)?;
        Ok(())
    };
    let t = Instant::now();
    explain(1)?;
    let first_s = t.elapsed().as_secs_f64();
    let mut steady = Vec::with_capacity(args.steady);
    for _ in 0..args.steady {
        let t = Instant::now();
        explain(1)?;
        steady.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let one = photo_batch(1)?;
    let mut forward = Vec::with_capacity(args.steady);
    for _ in 0..args.steady {
        let t = Instant::now();
        network.predict(&one, 1)?;
        forward.push(t.elapsed().as_secs_f64() * 1e3);
    }
    explain(args.batch)?;
    let t = Instant::now();
    for _ in 0..2 {
        explain(args.batch)?;
    }
    let batch_img_s = (2 * args.batch) as f64 / t.elapsed().as_secs_f64();
    Ok(Measurement {
        model: model
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        device: args.device.name().to_string(),
        load_s,
        first_s,
        steady_median_ms: median(&mut steady),
        steady_min_ms: steady.iter().copied().fold(f64::INFINITY, f64::min),
        batch_img_s,
        forward_gflop,
        forward_ms: median(&mut forward),
        peak_rss_mb: peak_rss_mb(),
        device_used_mb: device_used_mb(&device),
    })
}

/// GPU memory in use (the driver's total − free), MB; `None` on the CPU and on Metal.
fn device_used_mb(device: &Device) -> Option<f64> {
    #[cfg(feature = "cuda")]
    if let Device::Cuda(cuda) = device {
        let (free, total) = cuda.cuda_stream().context().mem_get_info().ok()?;
        return Some(total.saturating_sub(free) as f64 / 1e6);
    }
    let _ = device;
    None
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Peak resident set size from `/proc/self/status` (`VmHWM`), MB; 0 where unavailable.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
