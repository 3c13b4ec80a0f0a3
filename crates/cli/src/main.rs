//! The `kerascam` command-line tool: Grad-CAM heatmaps for Keras image classifiers.
//!
//! A thin layer over the library crates: `keras-import` loads the model, `backbones` picks the
//! preprocessing and prepares photos, `gradcam-core` computes the heatmaps, `overlay` draws them.

mod args;
mod atomic;
mod bench;
mod dataset;
mod digest;
mod error;
mod evaluate;
mod explain;
mod inputs;
mod inspect;
mod labels;
mod npy;
mod report;
mod results;
mod session;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};

fn main() -> ExitCode {
    keep_freed_memory();
    quiet_on_closed_stdout();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Inspect(opts) => inspect::run(&opts),
        Command::Explain(opts) => explain::run(&opts),
        Command::Bench(opts) => bench::run(&opts),
        Command::Report(opts) => report::run(&opts),
        Command::Evaluate(opts) => evaluate::run(&opts),
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("kerascam: error: {err}");
            ExitCode::from(2)
        }
    }
}

/// Makes glibc's allocator keep freed memory for reuse instead of handing it back to the
/// system. Large activations (a batch of 16 at 224×224 makes 50–80 MB ones) are otherwise
/// mapped fresh for every layer, and each page faults and is zeroed again on first touch;
/// reused, they cost nothing to get. Peak memory is unchanged: it is what the largest layer
/// needs either way.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_memory() {
    // SAFETY: mallopt only sets allocator parameters, and runs here before any other thread
    // exists. A refused setting (a return of 0) leaves glibc's default, which is correct too.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX);
    }
}

/// A closed stdout (`kerascam inspect model.keras | head`) ends the process quietly, as it
/// does other command-line tools, instead of `println!` panicking on the broken pipe: Rust
/// ignores SIGPIPE by default; this restores the system's default action.
#[cfg(unix)]
fn quiet_on_closed_stdout() {
    // SAFETY: resetting one signal's disposition before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Elsewhere a broken pipe is an ordinary write error.
#[cfg(not(unix))]
fn quiet_on_closed_stdout() {}

/// Other allocators manage their memory well enough on their own.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_memory() {}
