//! The importer's typed error. Every message names the file, and where it applies the layer
//! and the shapes involved.

use std::fmt;

/// Stable identifier of a failure, independent of the message text.
/// The names equal the `kind` values of the conformance corpus where one exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The file has zero bytes.
    EmptyFile,
    /// The bytes are neither a zip archive nor an HDF5 file.
    NotAZip,
    /// A `.keras` archive without `config.json`.
    MissingConfig,
    /// The model description is not valid JSON, or not a Keras model config.
    BadJson,
    /// The weights file is cut short or its HDF5 structure is damaged.
    TruncatedWeights,
    /// A stored weight's shape disagrees with the shape its layer requires.
    ShapeMismatch,
    /// A weights-only file (`save_weights`): no model architecture inside.
    WeightsOnly,
    /// One or more Lambda layers: their Python code is never decoded or run.
    LambdaRefused,
    /// One or more layer classes this importer does not know.
    UnknownLayer,
    /// A known layer with an option this importer does not support.
    UnsupportedOption,
    /// The graph is inconsistent (missing inbound layer, cycle, incompatible shapes).
    InvalidGraph,
    /// A size or count beyond the importer's sanity limits.
    TooLarge,
    /// A `.keras` archive with an entry whose name is absolute or climbs out (`../`): a
    /// tampered file, refused although nothing is ever extracted.
    UnsafeZipEntry,
    /// Reading the file from disk failed.
    Io,
}

impl ErrorKind {
    /// The stable snake_case name (as used by the conformance corpus).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::EmptyFile => "empty_file",
            ErrorKind::NotAZip => "not_a_zip",
            ErrorKind::MissingConfig => "missing_config",
            ErrorKind::BadJson => "bad_json",
            ErrorKind::TruncatedWeights => "truncated_weights",
            ErrorKind::ShapeMismatch => "shape_mismatch",
            ErrorKind::WeightsOnly => "weights_only",
            ErrorKind::LambdaRefused => "lambda_refused",
            ErrorKind::UnknownLayer => "unknown_layer",
            ErrorKind::UnsupportedOption => "unsupported_option",
            ErrorKind::InvalidGraph => "invalid_graph",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::UnsafeZipEntry => "unsafe_zip_entry",
            ErrorKind::Io => "io",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An import failure: its kind, the file, and a message naming layer and shapes.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ImportError {
    /// What went wrong, as a stable kind.
    pub kind: ErrorKind,
    /// The file being read (as given by the caller; `<memory>` for bytes).
    pub file: String,
    /// Human-readable detail naming the layer(s) and shape(s) involved.
    pub message: String,
}

impl ImportError {
    /// Creates an error of `kind` about `file`.
    pub fn new(kind: ErrorKind, file: impl Into<String>, message: impl Into<String>) -> Self {
        ImportError {
            kind,
            file: file.into(),
            message: message.into(),
        }
    }

    /// The stable kind of this error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, ImportError>;
