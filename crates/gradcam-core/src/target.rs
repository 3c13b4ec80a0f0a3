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

/// The stage layers of output `output`: for each spatial resolution from 1/4 to 1/32 of the
/// input (a height and width `2^s` times smaller, `s = 2…5`, up to rounding), the last node in
/// topological order with that resolution on which the output depends (InputLayers never
/// count), finest first. Needs a model with a fixed input size; fails with
/// [`ErrorKind::NoFeatureMap`] when no node qualifies.
pub fn stage_layers(graph: &Graph, output: NodeId) -> Result<Vec<NodeId>> {
    let input = graph
        .inputs
        .first()
        .map(|&i| graph.nodes[i].output_shape.clone())
        .unwrap_or_default();
    let (Some(Some(height)), Some(Some(width))) = (input.first(), input.get(1)) else {
        return Err(CamError::new(
            ErrorKind::Unsupported,
            "the `stages` layers need a model with a fixed input height and width",
        ));
    };
    let needed = ancestors(graph, &[output]);
    let mut last = [None; 4];
    for (id, node) in graph.nodes.iter().enumerate() {
        if !needed[id] || matches!(node.op, Op::Input) {
            continue;
        }
        let [Some(h), Some(w), _] = node.output_shape[..] else {
            continue;
        };
        if let Some(s) = stage_of(*height, h).filter(|&s| stage_of(*width, w) == Some(s)) {
            last[s - 2] = Some(id);
        }
    }
    let stages: Vec<NodeId> = last.into_iter().flatten().collect();
    if stages.is_empty() {
        return Err(CamError::new(
            ErrorKind::NoFeatureMap,
            "no feature map at 1/4 to 1/32 of the input size feeds the model output",
        ));
    }
    Ok(stages)
}

/// `s` in 2…5 when `size` is `full / 2^s` up to rounding (within a factor 2^0.3).
fn stage_of(full: usize, size: usize) -> Option<usize> {
    if size == 0 {
        return None;
    }
    let octaves = (full as f64 / size as f64).log2();
    let s = octaves.round();
    ((2.0..=5.0).contains(&s) && (octaves - s).abs() < 0.3).then_some(s as usize)
}
