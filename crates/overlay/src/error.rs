//! The overlay crate's typed error.

use thiserror::Error;

/// Everything that can go wrong while building an overlay. Messages name the offending
/// sizes or values.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum OverlayError {
    /// A heatmap or image with zero width or height.
    #[error("{what} is empty: {width}x{height} pixels")]
    Empty {
        /// Which input or output is empty ("heatmap", "photo", "resize target").
        what: &'static str,
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// Heatmap data whose length is not `width * height`.
    #[error("heatmap of {width}x{height} needs {expected} values, got {actual}")]
    HeatmapLength {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// `width * height` (saturated at `usize::MAX`).
        expected: usize,
        /// Number of values supplied.
        actual: usize,
    },
    /// A heatmap value that is NaN or infinite.
    #[error("heatmap value at (x={x}, y={y}) is not finite: {value}")]
    NonFiniteHeat {
        /// Column of the value.
        x: u32,
        /// Row of the value.
        y: u32,
        /// The value itself.
        value: f32,
    },
    /// A blending weight outside `[0, 1]` or NaN.
    #[error("alpha must lie in [0, 1], got {alpha}")]
    InvalidAlpha {
        /// The rejected alpha.
        alpha: f32,
    },
    /// Two images that must have the same size do not.
    #[error("{what}: sizes differ, {left_width}x{left_height} vs {right_width}x{right_height}")]
    SizeMismatch {
        /// Which operation compared the sizes.
        what: &'static str,
        /// Width of the first image.
        left_width: u32,
        /// Height of the first image.
        left_height: u32,
        /// Width of the second image.
        right_width: u32,
        /// Height of the second image.
        right_height: u32,
    },
    /// A resize target whose cell count cannot be allocated.
    #[error("{what} would be too large: {width}x{height} pixels")]
    TooLarge {
        /// Which output would be too large.
        what: &'static str,
        /// Requested width.
        width: u64,
        /// Requested height.
        height: u64,
    },
    /// A layout whose width does not fit in `u32` pixels.
    #[error("{what} would be {width} pixels wide, more than an image can hold")]
    WidthOverflow {
        /// Which layout would overflow.
        what: &'static str,
        /// The width it would need.
        width: u64,
    },
    /// The caption font shipped in the binary could not be read (a broken build).
    #[error("the caption font cannot be read: {reason}")]
    Font {
        /// What the font parser reported.
        reason: String,
    },
    /// A colormap name that [`crate::Colormap`] does not know.
    #[error("unknown colormap {name:?}; expected one of: {expected}")]
    UnknownColormap {
        /// The name that was given.
        name: String,
        /// The accepted names, comma-separated.
        expected: String,
    },
}

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, OverlayError>;
