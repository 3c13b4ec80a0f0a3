//! Building the flat typed [`Graph`] from a parsed [`ModelConfig`]: flattening nested models,
//! parsing every layer into an [`crate::ir::Op`], inferring shapes and creating weights.

mod flatten;
pub(crate) mod layers;
mod shape;
mod sized;
mod validate;
mod weights;

use crate::config::{parse_model_config, ModelConfig};
use crate::error::Result;
use crate::ir::Graph;
use crate::weights::WeightStore;

/// Flattens `cfg` into a [`Graph`].
///
/// Without a store the weights carry names, shapes and trainable flags but no data. With a
/// store, each layer's variables are taken from `store.by_layer[node path]` in Keras
/// variable order and checked against the shapes the layer needs
/// ([`crate::ErrorKind::ShapeMismatch`] names the layer, the weight and both shapes; a
/// missing variable is reported the same way). Lambda layers fail with
/// [`crate::ErrorKind::LambdaRefused`], unsupported classes with
/// [`crate::ErrorKind::UnknownLayer`] (all listed at once), incompatible shapes with
/// [`crate::ErrorKind::InvalidGraph`].
pub fn build_graph(cfg: &ModelConfig, weights: Option<&WeightStore>, file: &str) -> Result<Graph> {
    validate::check_supported(cfg, file)?;
    flatten::Builder::new(file, cfg.dialect, weights).build(cfg)
}

/// Parses a model config JSON text and builds its graph without weights.
pub fn graph_from_config_json(json: &str, file: &str) -> Result<Graph> {
    build_graph(&parse_model_config(json, file)?, None, file)
}
