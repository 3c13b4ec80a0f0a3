//! Choosing the preprocessing for a model automatically.

use keras_import::{BinaryOp, Graph, NodeId, Op, Operand};

use crate::detect::Detection;
use crate::preprocessing::Preprocessing;

/// The preprocessing a model expects, by these rules in order:
///
/// 1. `none` when the layers that first compute on the input (after InputLayers and
///    identities, nested-model boundaries included) all rescale or normalise it: `Rescaling`,
///    `Normalization`, or arithmetic with a constant (`x / 127.5`, `x - 1`, as Keras 3 writes
///    `preprocess_input` inside a model). The model then normalises raw `[0, 255]` pixels
///    itself (`rescaling_cnn`, EfficientNet, MobileNetV3, ConvNeXt, RegNet).
/// 2. the detected backbone family's mode (`transfer_mobilenetv2_035`: `tf`).
/// 3. `unit` (`x / 255`) for a model without a recognised backbone (`tiny_*`).
pub fn choose_preprocessing(graph: &Graph, detection: Option<&Detection>) -> Preprocessing {
    if normalises_input(graph) {
        Preprocessing::None
    } else {
        detection.map_or(Preprocessing::Unit, |d| d.preprocessing)
    }
}

/// Whether every first computing layer after the model inputs rescales or normalises.
pub fn normalises_input(graph: &Graph) -> bool {
    let first = first_consumers(graph);
    !first.is_empty()
        && first.iter().all(|&n| {
            graph
                .nodes
                .get(n)
                .is_some_and(|node| is_normalising(&node.op))
        })
}

/// The nodes that first compute on the inputs, looking through pass-through nodes.
fn first_consumers(graph: &Graph) -> Vec<NodeId> {
    let mut consumers: Vec<Vec<NodeId>> = vec![Vec::new(); graph.nodes.len()];
    for (id, node) in graph.nodes.iter().enumerate() {
        for &i in &node.inputs {
            if let Some(list) = consumers.get_mut(i) {
                list.push(id);
            }
        }
    }
    let mut seen = vec![false; graph.nodes.len()];
    let mut stack: Vec<NodeId> = graph
        .inputs
        .iter()
        .copied()
        .filter(|&i| i < graph.nodes.len())
        .collect();
    let mut first = Vec::new();
    while let Some(n) = stack.pop() {
        if std::mem::replace(&mut seen[n], true) {
            continue;
        }
        let pass_through = matches!(graph.nodes[n].op, Op::Input | Op::Identity);
        if pass_through {
            stack.extend(consumers[n].iter().copied());
        } else {
            first.push(n);
        }
    }
    first
}

fn is_normalising(op: &Op) -> bool {
    match op {
        Op::Rescaling { .. } | Op::Normalization { .. } => true,
        Op::Binary { op, lhs, rhs } => {
            matches!(
                op,
                BinaryOp::Add | BinaryOp::Subtract | BinaryOp::Multiply | BinaryOp::Divide
            ) && (matches!(lhs, Operand::Scalar(_)) || matches!(rhs, Operand::Scalar(_)))
        }
        _ => false,
    }
}
