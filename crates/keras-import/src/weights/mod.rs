//! Weights read from a model file, keyed by the full node path of the layer that owns them.

use std::collections::HashMap;

/// One stored variable, converted to f32.
#[derive(Debug, Clone, PartialEq)]
pub struct RawTensor {
    /// Variable name as stored (`conv1/kernel:0`, `vars/0`, ...).
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
