//! The default Grad-CAM target layer and target-path resolution.

use keras_import::{Graph, NodeId, Op};

use crate::error::{CamError, ErrorKind, Result};

/// Marks every node `roots` depend on, the roots included ([`Graph::ancestors`]).
pub(crate) fn ancestors(graph: &Graph, roots: &[NodeId]) -> Vec<bool> {
    graph.ancestors(roots)
}

/// True when a node's output shape (without batch) is a feature map `(H, W, C)` with
/// H·W > 1 (an unknown H or W counts as > 1).
fn is_feature_map(shape: &[Option<usize>]) -> bool {
    match shape {
        [h, w, _] => match (h, w) {
            (Some(h), Some(w)) => h * w > 1,
            _ => true,
        },
        _ => false,
    }
}

/// The default target layer of the model's first output (see [`default_target_layer_for`]).
pub fn default_target_layer(graph: &Graph) -> Result<NodeId> {
    let output = *graph
        .outputs
        .first()
        .ok_or_else(|| CamError::new(ErrorKind::InvalidGraph, "the model has no output"))?;
    default_target_layer_for(graph, output)
}

/// The default target layer for the output node `output`: the last node in topological order
/// whose output is a 4-D feature map with H·W > 1 and on which `output` depends (InputLayers
/// never count). Fails with [`ErrorKind::NoFeatureMap`] when there is none.
pub fn default_target_layer_for(graph: &Graph, output: NodeId) -> Result<NodeId> {
    let needed = ancestors(graph, &[output]);
    graph
        .nodes
        .iter()
        .enumerate()
        .rev()
        .find(|(id, n)| {
            needed[*id] && !matches!(n.op, Op::Input) && is_feature_map(&n.output_shape)
        })
        .map(|(id, _)| id)
        .ok_or_else(|| {
            CamError::new(
                ErrorKind::NoFeatureMap,
                "no convolutional feature map: no layer with a 4-D output (N, H, W, C), H·W > 1, \
                 feeds the model output, so Grad-CAM cannot be computed",
            )
        })
}

/// Resolves a target layer given by its full path (first call of the layer).
pub(crate) fn resolve_layer(graph: &Graph, path: &str) -> Result<NodeId> {
    graph.node_by_path(path).ok_or_else(|| {
        CamError::new(
            ErrorKind::UnknownLayer,
            format!("no layer with path '{path}' in the model"),
        )
    })
}
