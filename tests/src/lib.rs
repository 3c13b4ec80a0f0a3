//! Shared helpers for the cross-crate test suite (see `tests/tests/`): locating the
//! TensorFlow-made conformance corpus, reading its manifest and `.npy` arrays, and the device
//! the tests run on (`KERASCAM_DEVICE`).
pub mod corpus;
pub mod device;
pub mod npy;

pub use device::device;
