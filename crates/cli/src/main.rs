//! The `kerascam` command-line tool: Grad-CAM heatmaps for Keras image classifiers.
//!
//! A thin layer over the library crates: `keras-import` loads the model, `backbones` picks the
//! preprocessing and prepares photos, `gradcam-core` computes the heatmaps, `overlay` draws them.

mod args;
mod bench;
mod error;
mod explain;
mod inputs;
mod inspect;
mod labels;
mod npy;
mod session;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Inspect(opts) => inspect::run(&opts),
        Command::Explain(opts) => explain::run(&opts),
        Command::Bench(opts) => bench::run(&opts),
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("kerascam: error: {err}");
            ExitCode::from(2)
        }
    }
}
