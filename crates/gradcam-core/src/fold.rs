//! Folds a BatchNormalization into the convolution that feeds it (`conv → BN` becomes one
//! convolution with scaled kernel and shifted bias), and the activation layer that follows
//! into the convolution too (`conv → BN → ReLU` becomes one kernel on the CPU). Exact up to
//! rounding, for plain and tracked execution alike (weights are constants). At run time a
//! fold is skipped when the Grad-CAM target is a layer inside it, whose own output is then
//! needed. A ZeroPadding2D read only by a convolution is applied by that convolution (the CPU
//! kernels read the padding as zeros without building the padded copy). A 1×1 convolution
//! read (through its folded BatchNormalization, activation and padding) only by a depthwise
//! convolution is computed inside that convolution, band by band, when the input is large
//! (the expanded tensor then never goes to memory). A residual sum `Add(shortcut, conv →
//! BN)` (and its activation) is finished by that convolution's kernel while each tile is in
//! cache, when the shortcut is computed before the convolution.

use candle_core::Tensor;
use keras_import::{Activation, BinaryOp, Graph, NodeId, Op, Operand};

use crate::cpu::{Epilogue, KeptTransform, ZeroPad, NO_PAD};

use crate::error::{CamError, ErrorKind, Result};
use crate::prepare::Layer;

/// Folding decisions for a whole graph.
pub(crate) struct Folding {
    /// For a convolution node whose layer now has the following BatchNormalization folded
    /// in: the `(scale, shift)` that undo the fold (`1/s`, `−t/s`), for when the convolution's
    /// own output is needed. Only the folded weights are kept, not a second copy.
    pub unfold: Vec<Option<(Tensor, Tensor)>>,
    /// For a BatchNormalization node: the convolution it was folded into.
    pub into: Vec<Option<NodeId>>,
    /// For a convolution node: the activation layer folded into it.
    pub activation: Vec<Option<FusedActivation>>,
    /// For a folded activation node: the convolution it was folded into.
    pub activation_into: Vec<Option<NodeId>>,
    /// For a convolution node: the ZeroPadding2D node folded into it and its padding.
    pub pad: Vec<Option<(NodeId, ZeroPad)>>,
    /// For a folded ZeroPadding2D node: the convolution that applies its padding.
    pub pad_into: Vec<Option<NodeId>>,
    /// For a depthwise convolution: the 1×1 expansion convolution it can compute itself.
    pub expansion: Vec<Option<NodeId>>,
    /// For such an expansion convolution: the layers from it to the depthwise convolution
    /// (itself, and its folded BatchNormalization, activation and padding).
    pub expansion_chain: Vec<Vec<NodeId>>,
    /// For a convolution: the residual sum its kernel can finish.
    pub residual: Vec<Option<ResidualSum>>,
    /// For such a residual sum: the index of its input that comes from the convolution.
    pub summed_side: Vec<Option<usize>>,
}

/// A residual sum `Add(other, conv → BN)` that convolution `conv` can finish.
#[derive(Debug, Clone)]
pub(crate) struct ResidualSum {
    /// The Add node.
    pub sum: NodeId,
    /// Where the sum's other input is read: that input, or, when it is a folded
    /// BatchNormalization, the convolution it belongs to (whose value it passes on); computed
    /// before the convolution.
    pub other: NodeId,
    /// The layers from the convolution to the sum: itself, its BatchNormalization, the sum.
    pub chain: Vec<NodeId>,
    /// The other input and the node it is read from: as targets, their value must be the
    /// tracked one, so the sum then runs apart.
    pub shortcut: Vec<NodeId>,
}

/// An activation layer folded into the convolution before it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FusedActivation {
    /// The node it reads: the convolution, or the BatchNormalization folded into it.
    pub after: NodeId,
    /// The activation.
    pub activation: Activation,
}

impl Folding {
    /// The layers a fold into convolution `conv` covers, outermost first.
    fn covers(&self, conv: NodeId) -> [Option<NodeId>; 2] {
        [
            Some(conv),
            self.activation[conv]
                .map(|a| a.after)
                .filter(|&a| a != conv),
        ]
    }

    /// Whether the BatchNormalization folded into `conv` applies with `target`.
    pub fn batch_norm_applies(&self, conv: NodeId, target: Option<NodeId>) -> bool {
        target != Some(conv)
    }

    /// The layer `conv` runs with `target`: its prepared layer, or that layer with the
    /// folded BatchNormalization taken out again when the target is the convolution itself.
    pub fn layer_for<'a>(
        &self,
        conv: NodeId,
        layer: &'a Layer,
        target: Option<NodeId>,
    ) -> Result<std::borrow::Cow<'a, Layer>> {
        match &self.unfold[conv] {
            Some((scale, shift)) if !self.batch_norm_applies(conv, target) => {
                let unfolded = fold_layer(layer, scale, shift)?.ok_or_else(|| {
                    CamError::new(ErrorKind::InvalidGraph, "a folded layer cannot be unfolded")
                })?;
                Ok(std::borrow::Cow::Owned(unfolded))
            }
            _ => Ok(std::borrow::Cow::Borrowed(layer)),
        }
    }

    /// Whether ZeroPadding2D node `pad` is left to the convolution that reads it: always,
    /// unless it is the target (whose padded output is then needed).
    pub fn pad_passes_through(&self, pad: NodeId, target: Option<NodeId>) -> bool {
        self.pad_into[pad].is_some() && target != Some(pad)
    }

    /// The zero padding convolution `conv` applies itself with `target`.
    pub fn pad_for(&self, conv: NodeId, target: Option<NodeId>) -> ZeroPad {
        match self.pad[conv] {
            Some((node, pad)) if self.pad_passes_through(node, target) => pad,
            _ => NO_PAD,
        }
    }

    /// Whether expansion convolution `conv` may be left to the depthwise convolution that
    /// reads it with `target`: not when the target is a layer of the chain between them,
    /// whose own output is then needed.
    pub fn expansion_may_defer(&self, conv: NodeId, target: Option<NodeId>) -> bool {
        let chain = &self.expansion_chain[conv];
        !chain.is_empty() && !target.is_some_and(|t| chain.contains(&t))
    }

    /// The residual sum convolution `conv` may finish with `target`: not when the target is
    /// the convolution, its BatchNormalization or the sum, whose own values are then needed.
    pub fn residual_applies(&self, conv: NodeId, target: Option<NodeId>) -> Option<&ResidualSum> {
        self.residual[conv]
            .as_ref()
            .filter(|r| !target.is_some_and(|t| r.chain.contains(&t) || r.shortcut.contains(&t)))
    }

    /// The activation folded into `conv` that applies with `target`: not when the target is
    /// the convolution or its BatchNormalization, whose pre-activation value is then needed.
    pub fn activation_applies(&self, conv: NodeId, target: Option<NodeId>) -> Option<Activation> {
        let fused = self.activation[conv]?;
        let inside = target.is_some() && self.covers(conv).contains(&target);
        (!inside).then_some(fused.activation)
    }
}

/// A residual sum of layer outputs, which a CPU kernel can follow with an activation.
fn is_sum(op: &Op) -> bool {
    matches!(
        op,
        Op::Merge {
            op: BinaryOp::Add,
            average: false
        } | Op::Binary {
            op: BinaryOp::Add,
            lhs: Operand::Input(_),
            rhs: Operand::Input(_),
        }
    )
}

fn linear_conv(op: &Op) -> bool {
    match op {
        Op::Conv2D(p) => p.activation == Activation::Linear,
        Op::DepthwiseConv2D { conv, .. } | Op::SeparableConv2D { conv, .. } => {
            conv.activation == Activation::Linear
        }
        _ => false,
    }
}

/// Applies `y = conv(x) · scale + shift` (per output channel) to the conv's parameters.
fn fold_layer(layer: &Layer, scale: &Tensor, shift: &Tensor) -> Result<Option<Layer>> {
    let scale = scale.flatten_all()?;
    let shift = shift.flatten_all()?;
    let new_bias = |bias: &Option<Tensor>| -> Result<Option<Tensor>> {
        Ok(Some(match bias {
            Some(b) => b.mul(&scale)?.add(&shift)?,
            None => shift.clone(),
        }))
    };
    Ok(match layer {
        Layer::Conv {
            win,
            kernel,
            grouped,
            arranged,
            bias,
            ..
        } => {
            let kernel = if *grouped || *arranged {
                // Output channels along the first and last axes: [G, K, O/G] or panels.
                let (g, _, og) = kernel.dims3()?;
                kernel.broadcast_mul(&scale.reshape((g, 1, og))?)?
            } else {
                kernel.broadcast_mul(&scale)?
            };
            Some(Layer::Conv {
                win: *win,
                kernel,
                kept: KeptTransform::default(),
                grouped: *grouped,
                arranged: *arranged,
                bias: new_bias(bias)?,
            })
        }
        Layer::Depthwise {
            win,
            kernel,
            multiplier,
            bias,
        } => Some(Layer::Depthwise {
            win: *win,
            kernel: kernel.broadcast_mul(&scale)?,
            multiplier: *multiplier,
            bias: new_bias(bias)?,
        }),
        Layer::Separable {
            win,
            kernel,
            multiplier,
            pointwise,
            bias,
        } => Some(Layer::Separable {
            win: *win,
            kernel: kernel.clone(),
            multiplier: *multiplier,
            pointwise: pointwise.broadcast_mul(&scale)?,
            bias: new_bias(bias)?,
        }),
        _ => None,
    })
}

/// `(1/s, −t/s)`, the affine map undoing `x·s + t`; `None` when a scale is zero.
fn inverse(scale: &Tensor, shift: &Tensor) -> Result<Option<(Tensor, Tensor)>> {
    let s = scale.flatten_all()?;
    if s.to_vec1::<f32>()?.contains(&0.0) {
        return Ok(None);
    }
    let inv = s.recip()?;
    let t = shift.flatten_all()?.neg()?.mul(&inv)?;
    Ok(Some((inv, t)))
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

/// Finds every `conv → BatchNormalization(channels last)` pair where the conv has a linear
/// activation, feeds nothing else and is not a model output, and prepares the folded conv;
/// then every activation layer that is the only reader of such a conv (or of its folded
/// BatchNormalization). Nodes in `keep` (the classifier head) are never folded away.
pub(crate) fn plan(graph: &Graph, layers: &mut [Layer], keep: &[NodeId]) -> Folding {
    let n = graph.nodes.len();
    // The nodes reading each node, once per input edge.
    let mut readers: Vec<Vec<NodeId>> = vec![Vec::new(); n];
    for (id, node) in graph.nodes.iter().enumerate() {
        for &i in &node.inputs {
            if i < n {
                readers[i].push(id);
            }
        }
    }
    let mut folding = Folding {
        unfold: vec![None; n],
        into: vec![None; n],
        activation: vec![None; n],
        activation_into: vec![None; n],
        pad: vec![None; n],
        pad_into: vec![None; n],
        expansion: vec![None; n],
        expansion_chain: vec![Vec::new(); n],
        residual: vec![None; n],
        summed_side: vec![None; n],
    };
    for (bn_id, bn) in graph.nodes.iter().enumerate() {
        let Op::BatchNorm { axis, .. } = bn.op else {
            continue;
        };
        let channels_last = axis == -1 || axis == bn.output_shape.len() as i64;
        let [conv_id] = bn.inputs[..] else { continue };
        let Some(conv) = graph.nodes.get(conv_id) else {
            continue;
        };
        if !channels_last
            || !linear_conv(&conv.op)
            || readers[conv_id].len() != 1
            || graph.outputs.contains(&conv_id)
            || folding.unfold[conv_id].is_some()
        {
            continue;
        }
        let (
            Some(Layer::Affine {
                scale: Some(scale),
                shift: Some(shift),
            }),
            Some(layer),
        ) = (layers.get(bn_id), layers.get(conv_id))
        else {
            continue;
        };
        // A channel-count mismatch, or a zero scale (which could not be undone), is left to
        // the unfolded path.
        let (Ok(Some(f)), Ok(Some(undo))) =
            (fold_layer(layer, scale, shift), inverse(scale, shift))
        else {
            continue;
        };
        layers[conv_id] = f;
        folding.unfold[conv_id] = Some(undo);
        folding.into[bn_id] = Some(conv_id);
    }
    let pinned = |id: NodeId| graph.outputs.contains(&id) || keep.contains(&id);
    for (conv_id, conv) in graph.nodes.iter().enumerate() {
        if !(linear_conv(&conv.op) || is_sum(&conv.op)) || pinned(conv_id) {
            continue;
        }
        let after = match readers[conv_id][..] {
            [bn] if folding.into[bn] == Some(conv_id) => bn,
            _ => conv_id,
        };
        let [act_id] = readers[after][..] else {
            continue;
        };
        let Some(activation) = fusable_activation(&graph.nodes[act_id].op) else {
            continue;
        };
        if pinned(after) || pinned(act_id) || graph.nodes[act_id].inputs.len() != 1 {
            continue;
        }
        folding.activation[conv_id] = Some(FusedActivation { after, activation });
        folding.activation_into[act_id] = Some(conv_id);
    }
    for (pad_id, node) in graph.nodes.iter().enumerate() {
        let Op::ZeroPadding2D { padding } = node.op else {
            continue;
        };
        let [conv_id] = readers[pad_id][..] else {
            continue;
        };
        let conv = &graph.nodes[conv_id];
        let is_conv = matches!(
            conv.op,
            Op::Conv2D(_) | Op::DepthwiseConv2D { .. } | Op::SeparableConv2D { .. }
        );
        if is_conv && conv.inputs.len() == 1 && !pinned(pad_id) {
            folding.pad[conv_id] = Some((pad_id, padding));
            folding.pad_into[pad_id] = Some(conv_id);
        }
    }
    for (dw_id, node) in graph.nodes.iter().enumerate() {
        let one_channel_each = matches!(
            layers.get(dw_id),
            Some(Layer::Depthwise { multiplier: 1, .. })
        );
        if !matches!(node.op, Op::DepthwiseConv2D { .. }) || !one_channel_each {
            continue;
        }
        let Some(chain) = expansion_chain(graph, &folding, &readers, dw_id) else {
            continue;
        };
        if chain.iter().any(|&id| pinned(id)) {
            continue;
        }
        let conv = chain[0];
        folding.expansion[dw_id] = Some(conv);
        folding.expansion_chain[conv] = chain;
    }
    for (sum_id, node) in graph.nodes.iter().enumerate() {
        if !is_sum(&node.op) || node.inputs.len() != 2 || pinned(sum_id) {
            continue;
        }
        let candidate = (0..2)
            .filter_map(|side| {
                let (conv, chain) =
                    residual_chain(graph, &folding, layers, &readers, node.inputs[side])?;
                let other = node.inputs[1 - side];
                // A folded BatchNormalization after the convolution passes on the value of
                // its own convolution, which may come before (ResNet's conv blocks list
                // `_0_conv, _3_conv, _0_bn, _3_bn`).
                let source = folding.into[other].unwrap_or(other);
                let free = source < conv && chain.iter().all(|&id| !pinned(id));
                free.then_some((side, conv, chain, other, source))
            })
            .max_by_key(|c| c.1);
        let Some((side, conv, mut chain, other, source)) = candidate else {
            continue;
        };
        chain.push(sum_id);
        let mut shortcut = vec![source, other];
        shortcut.dedup();
        folding.residual[conv] = Some(ResidualSum {
            sum: sum_id,
            other: source,
            chain,
            shortcut,
        });
        folding.summed_side[sum_id] = Some(side);
    }
    folding
}

/// The convolution feeding `input` (the node itself, or the convolution its folded
/// BatchNormalization belongs to) and the chain `[conv, (BN)]`, when the convolution is a
/// plain one with a linear activation, no other fold, and every link has one reader.
fn residual_chain(
    graph: &Graph,
    folding: &Folding,
    layers: &[Layer],
    readers: &[Vec<NodeId>],
    input: NodeId,
) -> Option<(NodeId, Vec<NodeId>)> {
    let (conv, chain) = match folding.into[input] {
        Some(conv) => (conv, vec![conv, input]),
        None => (input, vec![input]),
    };
    let plain = matches!(&graph.nodes[conv].op, Op::Conv2D(p) if p.activation == Activation::Linear)
        && matches!(layers.get(conv), Some(Layer::Conv { grouped: false, .. }));
    let unfolded = folding.activation[conv].is_none()
        && folding.expansion_chain[conv].is_empty()
        && folding.residual[conv].is_none();
    let one_reader = chain.iter().all(|&id| readers[id].len() == 1);
    (plain && unfolded && one_reader).then_some((conv, chain))
}

/// The chain `[conv, (BN), (activation), (padding)]` from a 1×1 stride-1 convolution to
/// depthwise convolution `dw`, when every layer of it is folded, has one reader (the next) and
/// one input, and the convolution's own activation has a kernel epilogue.
fn expansion_chain(
    graph: &Graph,
    folding: &Folding,
    readers: &[Vec<NodeId>],
    dw: NodeId,
) -> Option<Vec<NodeId>> {
    let single_input = |id: NodeId| match graph.nodes[id].inputs[..] {
        [i] => Some(i),
        _ => None,
    };
    let mut chain = Vec::new();
    let mut at = single_input(dw)?;
    if folding.pad_into[at] == Some(dw) {
        chain.push(at);
        at = single_input(at)?;
    }
    if folding.activation_into[at].is_some() {
        chain.push(at);
        at = single_input(at)?;
    }
    if folding.into[at].is_some() {
        chain.push(at);
        at = single_input(at)?;
    }
    chain.push(at);
    chain.reverse();
    let Op::Conv2D(p) = &graph.nodes[at].op else {
        return None;
    };
    let pointwise = p.kernel == [1, 1] && p.strides == [1, 1] && p.dilation == [1, 1];
    let own_activation_fuses = Epilogue::of(p.activation).is_some();
    let fused_into_conv = chain[1..].iter().all(|&id| {
        folding.into[id] == Some(at)
            || folding.activation_into[id] == Some(at)
            || folding.pad_into[id] == Some(dw)
    });
    let one_reader = chain.iter().all(|&id| readers[id].len() == 1);
    (pointwise
        && p.groups <= 1
        && own_activation_fuses
        && fused_into_conv
        && one_reader
        && single_input(at).is_some())
    .then_some(chain)
}
