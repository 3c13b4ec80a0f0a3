//! Shared helpers for the cross-crate test suite (see `tests/tests/`): locating the
//! TensorFlow-made conformance corpus, reading its manifest and `.npy` arrays.
pub mod corpus;
pub mod manifest;
pub mod npy;
