//! A 1×1 expansion convolution read (through its folded BatchNormalization, activation and
//! padding) only by a depthwise convolution is computed inside that convolution, band by
//! band, when the expanded tensor is large (MobileNetV2, EfficientNet): it then never goes
//! to memory.

use candle_core::Tensor;
use keras_import::{Graph, NodeId, Op};

use super::Depthwise;
use crate::cpu::{self, Epilogue, Expansion, KernelLayout};
use crate::error::Result;
use crate::layers::conv::fold_activation::ActivationFolds;
use crate::layers::conv::fold_batch_norm::BatchNormFolds;
use crate::layers::conv::fold_padding::PaddingFolds;
use crate::layers::conv::Conv2d;
use crate::layers::fast::on_fast_kernel;
use crate::layers::{Evaluated, Fusion};
use crate::ops::activation;

/// The expansions left to the depthwise convolutions that read them.
pub(crate) struct ExpansionFolds {
    /// For a depthwise convolution: the expansion convolution it can compute itself.
    of: Vec<Option<NodeId>>,
    /// For such an expansion: the layers from it to the depthwise convolution (itself, and
    /// its folded BatchNormalization, activation and padding).
    chain: Vec<Vec<NodeId>>,
}

impl ExpansionFolds {
    /// The expansion depthwise convolution `dw` can compute.
    pub fn of(&self, dw: NodeId) -> Option<NodeId> {
        self.of[dw]
    }

    /// Whether `conv` is an expansion some depthwise convolution can compute.
    pub fn is_expansion(&self, conv: NodeId) -> bool {
        !self.chain[conv].is_empty()
    }

    /// How many expansions are left to depthwise convolutions.
    pub fn count(&self) -> usize {
        self.of.iter().flatten().count()
    }

    /// Whether expansion `conv` may be left to its depthwise convolution when `targets` are
    /// read: not when a target is a layer of the chain, whose own output is then needed.
    pub fn may_defer(&self, conv: NodeId, targets: &[NodeId]) -> bool {
        let chain = &self.chain[conv];
        !chain.is_empty() && !targets.iter().any(|t| chain.contains(t))
    }
}

/// The folds an expansion chain is made of.
pub(crate) struct ChainFolds<'a> {
    /// Folded BatchNormalization layers.
    pub batch_norms: &'a BatchNormFolds,
    /// Folded activations.
    pub activations: &'a ActivationFolds,
    /// Folded paddings.
    pub paddings: &'a PaddingFolds,
}

/// Finds every depthwise convolution (multiplier 1) whose input chain starts at an eligible
/// 1×1 expansion; nodes for which `pinned` holds are never part.
pub(crate) fn find(
    graph: &Graph,
    consumers: &[Vec<NodeId>],
    folds: &ChainFolds<'_>,
    pinned: impl Fn(NodeId) -> bool,
) -> ExpansionFolds {
    let n = graph.nodes.len();
    let mut found = ExpansionFolds {
        of: vec![None; n],
        chain: vec![Vec::new(); n],
    };
    for (dw, node) in graph.nodes.iter().enumerate() {
        if !matches!(
            node.op,
            Op::DepthwiseConv2D {
                depth_multiplier: 1,
                ..
            }
        ) {
            continue;
        }
        let Some(chain) = chain_to(graph, consumers, folds, dw) else {
            continue;
        };
        if chain.iter().any(|&id| pinned(id)) {
            continue;
        }
        let conv = chain[0];
        found.of[dw] = Some(conv);
        found.chain[conv] = chain;
    }
    found
}

/// The chain `[conv, (BN), (activation), (padding)]` from a 1×1 stride-1 convolution to
/// depthwise convolution `dw`, when every layer of it is folded, has one reader (the next)
/// and one input, and the convolution's own activation has a kernel epilogue.
fn chain_to(
    graph: &Graph,
    consumers: &[Vec<NodeId>],
    folds: &ChainFolds<'_>,
    dw: NodeId,
) -> Option<Vec<NodeId>> {
    let single_input = |id: NodeId| match graph.nodes[id].inputs[..] {
        [i] => Some(i),
        _ => None,
    };
    let mut chain = Vec::new();
    let mut at = single_input(dw)?;
    if folds.paddings.folded_into(at) == Some(dw) {
        chain.push(at);
        at = single_input(at)?;
    }
    if folds.activations.folded_into(at).is_some() {
        chain.push(at);
        at = single_input(at)?;
    }
    if folds.batch_norms.folded_into(at).is_some() {
        chain.push(at);
        at = single_input(at)?;
    }
    chain.push(at);
    chain.reverse();
    let Op::Conv2D(p) = &graph.nodes[at].op else {
        return None;
    };
    let pointwise = p.kernel == [1, 1] && p.strides == [1, 1] && p.dilation == [1, 1];
    let fused_into_conv = chain[1..].iter().all(|&id| {
        folds.batch_norms.folded_into(id) == Some(at)
            || folds.activations.folded_into(id) == Some(at)
            || folds.paddings.folded_into(id) == Some(dw)
    });
    let one_reader = chain.iter().all(|&id| consumers[id].len() == 1);
    (pointwise
        && p.groups <= 1
        && Epilogue::of(p.activation).is_some()
        && fused_into_conv
        && one_reader
        && single_input(at).is_some())
    .then_some(chain)
}

/// Whether leaving an expansion to its depthwise convolution pays for input `x`.
pub(crate) fn pays(expansion: &Conv2d, x: &Tensor) -> Result<bool> {
    if expansion.layout != KernelLayout::Rows {
        return Ok(false);
    }
    Ok(cpu::expansion_pays(x, expansion.kernel.dims2()?.1))
}

/// An expansion convolution with the fusion it would run with on its own.
pub(crate) struct ExpansionStep<'a> {
    /// The prepared convolution.
    pub conv: &'a Conv2d,
    /// How it would run on its own.
    pub fusion: Fusion,
}

/// Depthwise convolution `dw` (with `fusion`) of what `expansion` makes of `x`: as one CPU
/// kernel when it can, else the two layers one after the other.
pub(crate) fn evaluate_after(
    expansion: &ExpansionStep<'_>,
    dw: &Depthwise,
    x: &Tensor,
    fusion: &Fusion,
) -> Result<Evaluated> {
    if let Some(e) = fused(expansion, dw, x, fusion)? {
        return Ok(e);
    }
    use crate::layers::Kernel;
    let e = expansion
        .conv
        .evaluate(std::slice::from_ref(x), &expansion.fusion)?;
    let expanded = activation::apply(&e.pre, e.activation)?;
    dw.evaluate(&[expanded], fusion)
}

/// [`evaluate_after`] as one CPU kernel; `None` when it cannot run so.
fn fused(
    expansion: &ExpansionStep<'_>,
    dw: &Depthwise,
    x: &Tensor,
    fusion: &Fusion,
) -> Result<Option<Evaluated>> {
    let conv = expansion.conv;
    let activation = expansion.fusion.activation.unwrap_or(conv.activation);
    let Some(epilogue) = Epilogue::of(activation) else {
        return Ok(None);
    };
    if conv.layout != KernelLayout::Rows || dw.multiplier != 1 || !expansion.fusion.fast {
        return Ok(None);
    }
    let steps = Expansion {
        kernel: &conv.kernel,
        bias: conv.bias.as_ref(),
        epilogue,
    };
    on_fast_kernel(fusion, fusion.activation.unwrap_or(dw.activation), |ep| {
        cpu::expanded_depthwise_conv2d(x, &steps, dw.weights(), &dw.win, fusion.pad, ep)
    })
}
