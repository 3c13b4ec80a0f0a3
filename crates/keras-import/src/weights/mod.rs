//! Weights read from a model file, keyed by the full node path of the layer that owns them.
//!
//! Two layouts exist: the `.keras` archive's `model.weights.h5` (groups numbered per layer
//! class, see `keras_layout`) and the legacy full-model `.h5` (groups named after layers, see
//! `h5_layout`).

mod h5_layout;
mod keras_layout;
mod snake_case;

use std::collections::HashMap;

pub(crate) use h5_layout::read_h5_layout;
pub(crate) use keras_layout::read_keras_layout;

/// One stored variable, converted to f32.
#[derive(Debug, Clone, PartialEq)]
pub struct RawTensor {
    /// Where the variable was stored: the dataset path in `model.weights.h5`
    /// (`layers/functional/layers/conv2d/vars/0`) or the `.h5` weight name (`conv1/kernel:0`).
    pub name: String,
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f32>,
}

/// All weights of a model: for each layer path (nested model names and the layer name joined
/// by `/`, the same string as [`crate::ir::Node::path`]), its variables in Keras order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WeightStore {
    /// Variables per layer path.
    pub by_layer: HashMap<String, Vec<RawTensor>>,
}
