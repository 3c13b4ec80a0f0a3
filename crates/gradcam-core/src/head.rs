//! Finds the classifier head: which node's value is the logits, and how scores are derived.

use keras_import::{Activation, Graph, NodeId, Op};

use crate::error::{CamError, ErrorKind, Result};

/// How the model turns logits into its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    /// Softmax over the logits: `score(c) = logits[c]`.
    Softmax,
    /// Sigmoid per unit; with one unit, score(1) = logit and score(0) = −logit.
    Sigmoid,
    /// No final squashing: the output is the logits.
    Linear,
}

/// Where the logits of the model are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadInfo {
    /// Kind of output squashing.
    pub kind: Head,
    /// Node whose value (pre-activation value when `fused`) is the logits.
    pub logits_node: NodeId,
    /// The model output node (its value is the model's real output, the probabilities).
    pub output_node: NodeId,
    /// True when the squashing is the output node's own fused activation (e.g.
    /// `Dense(activation="softmax")`), so the logits are that node's pre-activation value.
    pub fused: bool,
}

fn head_of(act: Activation) -> Option<Head> {
    match act {
        Activation::Softmax => Some(Head::Softmax),
        Activation::Sigmoid => Some(Head::Sigmoid),
        _ => None,
    }
}

/// Determines the head of `graph` from its first output: a final softmax/sigmoid (fused into
/// the output layer, an `Activation` layer or a `Softmax` layer) is stripped; anything else is
/// a linear head whose output is the logits.
pub fn find_head(graph: &Graph) -> Result<HeadInfo> {
    let output_node = *graph
        .outputs
        .first()
        .ok_or_else(|| CamError::new(ErrorKind::InvalidGraph, "the model has no output"))?;
    let node = graph.nodes.get(output_node).ok_or_else(|| {
        CamError::new(
            ErrorKind::InvalidGraph,
            format!("output node {output_node} does not exist"),
        )
    })?;
    let fused = match &node.op {
        Op::Dense { activation, .. }
        | Op::Conv2D(keras_import::Conv2dParams { activation, .. }) => head_of(*activation),
        _ => None,
    };
    if let Some(kind) = fused {
        return Ok(HeadInfo {
            kind,
            logits_node: output_node,
            output_node,
            fused: true,
        });
    }
    let separate = match &node.op {
        Op::Activation(a) => head_of(*a),
        Op::Softmax { axis } if *axis == -1 || *axis == node.output_shape.len() as i64 => {
            Some(Head::Softmax)
        }
        _ => None,
    };
    match (separate, node.inputs.first()) {
        (Some(kind), Some(&input)) => Ok(HeadInfo {
            kind,
            logits_node: input,
            output_node,
            fused: false,
        }),
        _ => Ok(HeadInfo {
            kind: Head::Linear,
            logits_node: output_node,
            output_node,
            fused: false,
        }),
    }
}
