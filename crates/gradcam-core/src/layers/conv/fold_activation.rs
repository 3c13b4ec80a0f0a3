//! An activation layer that is the only reader of a convolution (or of the BatchNormalization
//! folded into it), or of a residual sum, is applied by that kernel while each tile is in
//! cache.

use keras_import::{Activation, Graph, NodeId, Op};

use super::fold_batch_norm::{linear_conv, BatchNormFolds};
use crate::cpu::Epilogue;
use crate::layers::merge::is_sum;

/// An activation layer folded into the convolution (or sum) before it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FoldedActivation {
    /// The node it reads: the convolution, or the BatchNormalization folded into it.
    pub after: NodeId,
    /// The activation.
    pub activation: Activation,
}

/// The activation layers folded into the kernels before them.
pub(crate) struct ActivationFolds {
    /// For a convolution or sum: the activation folded into it.
    of: Vec<Option<FoldedActivation>>,
    /// For a folded activation node: the kernel it was folded into.
    into: Vec<Option<NodeId>>,
}

impl ActivationFolds {
    /// The activation folded into `kernel`.
    pub fn of(&self, kernel: NodeId) -> Option<FoldedActivation> {
        self.of[kernel]
    }

    /// The kernel activation node `act` was folded into.
    pub fn folded_into(&self, act: NodeId) -> Option<NodeId> {
        self.into[act]
    }

    /// The activation folded into `kernel` that applies when `targets` are read: not when a
    /// target is the kernel or its BatchNormalization, whose pre-activation value is then
    /// needed.
    pub fn applies(&self, kernel: NodeId, targets: &[NodeId]) -> Option<Activation> {
        let folded = self.of[kernel]?;
        let inside = targets.iter().any(|&t| t == kernel || t == folded.after);
        (!inside).then_some(folded.activation)
    }
}

/// The activation of a layer that only applies an activation a CPU kernel can fuse.
fn fusable_activation(op: &Op) -> Option<Activation> {
    let act = match op {
        Op::Activation(a) => *a,
        Op::Relu {
            max_value,
            negative_slope,
            threshold,
        } if *negative_slope == 0.0 && *threshold == 0.0 => match max_value {
            None => Activation::Relu,
            Some(m) if *m == 6.0 => Activation::Relu6,
            Some(_) => return None,
        },
        _ => return None,
    };
    (act != Activation::Linear && Epilogue::of(act).is_some()).then_some(act)
}

/// Finds every activation layer that is the only reader of a linear convolution (through its
/// folded BatchNormalization) or of a sum; nodes for which `pinned` holds are never folded.
pub(crate) fn find(
    graph: &Graph,
    consumers: &[Vec<NodeId>],
    batch_norms: &BatchNormFolds,
    pinned: impl Fn(NodeId) -> bool,
) -> ActivationFolds {
    let n = graph.nodes.len();
    let mut folds = ActivationFolds {
        of: vec![None; n],
        into: vec![None; n],
    };
    for (id, node) in graph.nodes.iter().enumerate() {
        if !(linear_conv(&node.op) || is_sum(&node.op)) || pinned(id) {
            continue;
        }
        let after = match consumers[id][..] {
            [bn] if batch_norms.folded_into(bn) == Some(id) => bn,
            _ => id,
        };
        let [act] = consumers[after][..] else {
            continue;
        };
        let Some(activation) = fusable_activation(&graph.nodes[act].op) else {
            continue;
        };
        if pinned(after) || pinned(act) || graph.nodes[act].inputs.len() != 1 {
            continue;
        }
        folds.of[id] = Some(FoldedActivation { after, activation });
        folds.into[act] = Some(id);
    }
    folds
}
