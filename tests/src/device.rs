//! The device the conformance and method tests run on: `KERASCAM_DEVICE` = `cpu` (default),
//! `cuda` (GPU 0, build with `--features cuda`) or `metal` (`--features metal`).

use gradcam_core::candle_core::Device;
use std::sync::OnceLock;

/// Environment variable naming the test device.
pub const DEVICE_ENV: &str = "KERASCAM_DEVICE";

/// The device named by `KERASCAM_DEVICE`, opened once per test binary.
///
/// # Panics
/// On an unknown name, on `cuda`/`metal` when this build lacks that feature, and when the
/// device cannot be opened: a test asked to run on a GPU must not fall back to the CPU.
pub fn device() -> Device {
    static DEVICE: OnceLock<Device> = OnceLock::new();
    DEVICE.get_or_init(|| open(&device_name())).clone()
}

/// The device name for the CLI's `--device` (`cpu`, `cuda` or `metal`), from `KERASCAM_DEVICE`.
pub fn device_name() -> String {
    let name = std::env::var(DEVICE_ENV).unwrap_or_default();
    match name.trim().to_ascii_lowercase().as_str() {
        "" => "cpu".to_string(),
        other => other.to_string(),
    }
}

fn open(name: &str) -> Device {
    let (opened, built) = match name {
        "cpu" => return Device::Cpu,
        "cuda" => (Device::new_cuda(0), cfg!(feature = "cuda")),
        "metal" => (Device::new_metal(0), cfg!(feature = "metal")),
        other => panic!("{DEVICE_ENV}={other}: expected cpu, cuda or metal"),
    };
    if !built {
        panic!(
            "{DEVICE_ENV}={name}: this test build lacks the `{name}` feature \
             (cargo test -p kerascam-tests --features {name})"
        );
    }
    let device =
        opened.unwrap_or_else(|e| panic!("{DEVICE_ENV}={name}: cannot open device 0: {e}"));
    eprintln!("kerascam-tests: running on {name} ({DEVICE_ENV})");
    device
}
