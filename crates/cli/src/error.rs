//! The CLI's error: one clear line naming what failed.

/// Anything that stops a command (per-image failures are reported and counted instead).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The model could not be read.
    #[error(transparent)]
    Import(#[from] keras_import::ImportError),
    /// The model could not be executed or explained.
    #[error(transparent)]
    GradCam(#[from] gradcam_core::CamError),
    /// A photo could not be read or prepared.
    #[error(transparent)]
    Image(#[from] backbones::ImageInputError),
    /// Drawing the overlay failed.
    #[error(transparent)]
    Overlay(#[from] overlay::OverlayError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The compute device could not be opened.
    #[error("cannot open the {device} device: {source}")]
    Device {
        /// Which device.
        device: &'static str,
        /// candle's error.
        source: gradcam_core::candle_core::Error,
    },
    /// A command-line value is unusable.
    #[error("{0}")]
    Usage(String),
}

impl CliError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        CliError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// Result alias of the CLI.
pub type Result<T> = std::result::Result<T, CliError>;
