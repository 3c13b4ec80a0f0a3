//! Shared helpers for the cross-crate test suite (see `tests/tests/`): locating the
//! TensorFlow-made conformance corpus, reading its manifest and `.npy` arrays.
pub mod corpus;
pub mod device;
pub mod manifest;
pub mod npy;

pub use device::device;

/// The largest absolute element-wise difference of two slices of equal length.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}
