//! Folds a BatchNormalization into the convolution that feeds it (`conv → BN` becomes one
//! convolution with scaled kernel and shifted bias). Exact up to rounding, for plain and
//! tracked execution alike (weights are constants); skipped when the convolution itself is
//! the Grad-CAM target, because its own output is then needed.

use candle_core::Tensor;
use keras_import::{Activation, Graph, NodeId, Op};

use crate::error::Result;
use crate::prepare::Layer;

/// Folding decisions for a whole graph.
pub(crate) struct Folding {
    /// For a convolution node: the layer with the following BatchNormalization folded in.
    pub folded: Vec<Option<Layer>>,
    /// For a BatchNormalization node: the convolution it was folded into.
    pub into: Vec<Option<NodeId>>,
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
            bias,
        } => {
            let kernel = if *grouped {
                let (g, _, og) = kernel.dims3()?;
                kernel.broadcast_mul(&scale.reshape((g, 1, og))?)?
            } else {
                kernel.broadcast_mul(&scale)?
            };
            Some(Layer::Conv {
                win: *win,
                kernel,
                grouped: *grouped,
                bias: new_bias(bias)?,
            })
        }
        Layer::Depthwise {
            win,
            taps,
            multiplier,
            bias,
        } => Some(Layer::Depthwise {
            win: *win,
            taps: taps
                .iter()
                .map(|t| t.mul(&scale))
                .collect::<candle_core::Result<_>>()?,
            multiplier: *multiplier,
            bias: new_bias(bias)?,
        }),
        Layer::Separable {
            win,
            taps,
            multiplier,
            pointwise,
            bias,
        } => Some(Layer::Separable {
            win: *win,
            taps: taps.clone(),
            multiplier: *multiplier,
            pointwise: pointwise.broadcast_mul(&scale)?,
            bias: new_bias(bias)?,
        }),
        _ => None,
    })
}

/// Finds every `conv → BatchNormalization(channels last)` pair where the conv has a linear
/// activation, feeds nothing else and is not a model output, and prepares the folded conv.
pub(crate) fn plan(graph: &Graph, layers: &[Layer]) -> Folding {
    let n = graph.nodes.len();
    let mut consumers = vec![0usize; n];
    for node in &graph.nodes {
        for &i in &node.inputs {
            if i < n {
                consumers[i] += 1;
            }
        }
    }
    let mut folding = Folding {
        folded: vec![None; n],
        into: vec![None; n],
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
            || consumers[conv_id] != 1
            || graph.outputs.contains(&conv_id)
            || folding.folded[conv_id].is_some()
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
        // A channel-count mismatch is left to the unfolded path, which reports it.
        if let Ok(Some(f)) = fold_layer(layer, scale, shift) {
            folding.folded[conv_id] = Some(f);
            folding.into[bn_id] = Some(conv_id);
        }
    }
    folding
}
