//! A ZeroPadding2D read only by a convolution is applied by that convolution: the CPU
//! kernels read the padding as zeros without building the padded copy.

use keras_import::{Graph, NodeId, Op};

use crate::cpu::{ZeroPad, NO_PAD};

/// The paddings folded into the convolutions that read them.
pub(crate) struct PaddingFolds {
    /// For a convolution: the padding node folded into it and its padding.
    of: Vec<Option<(NodeId, ZeroPad)>>,
    /// For a folded padding node: the convolution that applies it.
    into: Vec<Option<NodeId>>,
}

impl PaddingFolds {
    /// The convolution padding node `pad` was folded into.
    pub fn folded_into(&self, pad: NodeId) -> Option<NodeId> {
        self.into[pad]
    }

    /// Whether padding node `pad` is left to its convolution when `targets` are read: always,
    /// unless it is a target (whose padded output is then needed).
    pub fn passes_through(&self, pad: NodeId, targets: &[NodeId]) -> bool {
        self.into[pad].is_some() && !targets.contains(&pad)
    }

    /// The zero padding convolution `conv` applies itself when `targets` are read.
    pub fn applied_by(&self, conv: NodeId, targets: &[NodeId]) -> ZeroPad {
        match self.of[conv] {
            Some((node, pad)) if self.passes_through(node, targets) => pad,
            _ => NO_PAD,
        }
    }
}

/// Finds every ZeroPadding2D whose only reader is a one-input convolution; nodes for which
/// `pinned` holds are never folded.
pub(crate) fn find(
    graph: &Graph,
    consumers: &[Vec<NodeId>],
    pinned: impl Fn(NodeId) -> bool,
) -> PaddingFolds {
    let n = graph.nodes.len();
    let mut folds = PaddingFolds {
        of: vec![None; n],
        into: vec![None; n],
    };
    for (pad_id, node) in graph.nodes.iter().enumerate() {
        let Op::ZeroPadding2D { padding } = node.op else {
            continue;
        };
        let [conv_id] = consumers[pad_id][..] else {
            continue;
        };
        let conv = &graph.nodes[conv_id];
        let is_conv = matches!(
            conv.op,
            Op::Conv2D(_) | Op::DepthwiseConv2D { .. } | Op::SeparableConv2D { .. }
        );
        if is_conv && conv.inputs.len() == 1 && !pinned(pad_id) {
            folds.of[conv_id] = Some((pad_id, padding));
            folds.into[pad_id] = Some(conv_id);
        }
    }
    folds
}
