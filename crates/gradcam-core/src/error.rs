//! The typed error of gradcam-core: a stable kind, the layer involved and a message.

use std::fmt;

/// Stable identifier of a failure, independent of the message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// No node qualifies as Grad-CAM target layer (no 4-D feature map with H·W > 1 on the
    /// path to the output).
    NoFeatureMap,
    /// A requested target layer path does not exist in the graph.
    UnknownLayer,
    /// A requested model output (index or name) does not exist.
    UnknownOutput,
    /// A layer whose configuration this executor cannot run.
    Unsupported,
    /// The graph is inconsistent (wrong weight count or shape, bad input edge).
    InvalidGraph,
    /// The caller's input does not match the model (length, shape, class index).
    InvalidInput,
    /// NaN or infinity in a weight or an activation.
    NonFinite,
    /// Backpropagation did not reach the target layer.
    MissingGradient,
    /// The tensor backend failed.
    Backend,
}

impl ErrorKind {
    /// The stable snake_case name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NoFeatureMap => "no_feature_map",
            ErrorKind::UnknownLayer => "unknown_layer",
            ErrorKind::UnknownOutput => "unknown_output",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::InvalidGraph => "invalid_graph",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::NonFinite => "non_finite",
            ErrorKind::MissingGradient => "missing_gradient",
            ErrorKind::Backend => "backend",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A gradcam-core failure: its kind, the layer path (empty when no layer is involved) and
/// a message naming the shapes involved.
#[derive(Debug, thiserror::Error)]
#[error("{}{message}", if layer.is_empty() { String::new() } else { format!("layer '{layer}': ") })]
pub struct CamError {
    /// What went wrong, as a stable kind.
    pub kind: ErrorKind,
    /// Path of the layer involved, or empty.
    pub layer: String,
    /// Human-readable detail.
    pub message: String,
}

impl CamError {
    /// Creates an error of `kind` about no particular layer.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        CamError {
            kind,
            layer: String::new(),
            message: message.into(),
        }
    }

    /// Creates an error of `kind` about the layer at `layer` (its path).
    pub fn at(kind: ErrorKind, layer: impl Into<String>, message: impl Into<String>) -> Self {
        CamError {
            kind,
            layer: layer.into(),
            message: message.into(),
        }
    }

    /// The stable kind of this error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Attaches a layer path when the error does not name one yet.
    pub fn in_layer(mut self, layer: &str) -> Self {
        if self.layer.is_empty() {
            self.layer = layer.to_string();
        }
        self
    }
}

impl From<candle_core::Error> for CamError {
    fn from(e: candle_core::Error) -> Self {
        CamError::new(ErrorKind::Backend, format!("tensor backend: {e}"))
    }
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, CamError>;
