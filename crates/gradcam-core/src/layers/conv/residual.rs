//! A residual sum `Add(shortcut, conv → BN)` (and its folded activation) is finished by the
//! convolution's kernel while each tile is in cache, when the shortcut is computed before
//! the convolution (ResNet's `_3_conv`, MobileNetV2's projections).

use candle_core::Tensor;
use keras_import::{Activation, Graph, NodeId, Op};

use super::fold_activation::ActivationFolds;
use super::fold_batch_norm::BatchNormFolds;
use super::Conv2d;
use crate::cpu::{Epilogue, Finish, KernelLayout, ZeroPad};
use crate::error::Result;
use crate::layers::depthwise::expansion::ExpansionFolds;
use crate::layers::merge::is_sum;

/// A residual sum that a convolution can finish.
#[derive(Debug, Clone)]
pub(crate) struct ResidualSum {
    /// The Add node.
    pub sum: NodeId,
    /// Which of the sum's inputs comes from the convolution.
    pub side: usize,
    /// Where the sum's other input is read: that input, or, when it is a folded
    /// BatchNormalization, the convolution it belongs to (whose value it passes on); computed
    /// before the convolution.
    pub other: NodeId,
    /// The layers from the convolution to the sum: itself, its BatchNormalization, the sum.
    pub chain: Vec<NodeId>,
    /// The other input and the node it is read from: as targets their value must be the
    /// tracked one, so the sum then runs apart.
    pub shortcut: Vec<NodeId>,
}

impl ResidualSum {
    /// Whether the convolution may finish the sum when `targets` are read: not when a target
    /// is a layer of the chain or the shortcut, whose own value is then needed.
    pub fn applies(&self, targets: &[NodeId]) -> bool {
        !targets
            .iter()
            .any(|t| self.chain.contains(t) || self.shortcut.contains(t))
    }
}

/// `conv` of `x` plus `other`, then `activation`, in one CPU kernel; `None` when that kernel
/// cannot run (the layers then run apart).
pub(crate) fn finish(
    conv: &Conv2d,
    x: &Tensor,
    other: &Tensor,
    pad: ZeroPad,
    activation: Activation,
) -> Result<Option<Tensor>> {
    let Some(epilogue) = Epilogue::of(activation) else {
        return Ok(None);
    };
    if conv.layout == KernelLayout::Grouped {
        return Ok(None);
    }
    let finish = Finish {
        residual: Some(other),
        epilogue,
    };
    conv.on_cpu(x, pad, finish)
}

/// The folds a residual sum must not overlap.
pub(crate) struct EarlierFolds<'a> {
    /// Folded BatchNormalization layers.
    pub batch_norms: &'a BatchNormFolds,
    /// Folded activations.
    pub activations: &'a ActivationFolds,
    /// Expansions left to depthwise convolutions.
    pub expansions: &'a ExpansionFolds,
}

/// Finds, for every two-input sum, the convolution (the later one when both sides qualify)
/// that can finish it; indexed by convolution. Nodes for which `pinned` holds are never part.
pub(crate) fn find(
    graph: &Graph,
    consumers: &[Vec<NodeId>],
    folds: &EarlierFolds<'_>,
    pinned: impl Fn(NodeId) -> bool,
) -> Vec<Option<ResidualSum>> {
    let mut sums: Vec<Option<ResidualSum>> = vec![None; graph.nodes.len()];
    for (sum_id, node) in graph.nodes.iter().enumerate() {
        if !is_sum(&node.op) || node.inputs.len() != 2 || pinned(sum_id) {
            continue;
        }
        let candidate = (0..2)
            .filter_map(|side| {
                let (conv, mut chain) = chain_to(graph, consumers, folds, node.inputs[side])?;
                if sums[conv].is_some() {
                    return None;
                }
                let other = node.inputs[1 - side];
                // A folded BatchNormalization after the convolution passes on the value of
                // its own convolution, which may come before (ResNet's conv blocks list
                // `_0_conv, _3_conv, _0_bn, _3_bn`).
                let source = folds.batch_norms.folded_into(other).unwrap_or(other);
                let free = source < conv && chain.iter().all(|&id| !pinned(id));
                chain.push(sum_id);
                let mut shortcut = vec![source, other];
                shortcut.dedup();
                free.then_some(ResidualSum {
                    sum: sum_id,
                    side,
                    other: source,
                    chain,
                    shortcut,
                })
            })
            .max_by_key(|r| r.chain[0]);
        if let Some(r) = candidate {
            let conv = r.chain[0];
            sums[conv] = Some(r);
        }
    }
    sums
}

/// The convolution feeding `input` (the node itself, or the convolution its folded
/// BatchNormalization belongs to) and the chain `[conv, (BN)]`, when the convolution is a
/// plain one with a linear activation, no other fold, and every link has one reader.
fn chain_to(
    graph: &Graph,
    consumers: &[Vec<NodeId>],
    folds: &EarlierFolds<'_>,
    input: NodeId,
) -> Option<(NodeId, Vec<NodeId>)> {
    let (conv, chain) = match folds.batch_norms.folded_into(input) {
        Some(conv) => (conv, vec![conv, input]),
        None => (input, vec![input]),
    };
    let plain = matches!(
        &graph.nodes[conv].op,
        Op::Conv2D(p) if p.activation == Activation::Linear && p.groups <= 1
    );
    let unfolded = folds.activations.of(conv).is_none() && !folds.expansions.is_expansion(conv);
    let one_reader = chain.iter().all(|&id| consumers[id].len() == 1);
    (plain && unfolded && one_reader).then_some((conv, chain))
}
