//! Reads Keras `.keras` and `.h5` model files into a flat graph IR with weights.
pub mod config;
mod container;
pub mod error;
pub mod ir;
pub mod weights;
pub use error::{ErrorKind, ImportError, Result};
pub use ir::*;
