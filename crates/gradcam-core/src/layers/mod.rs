//! One module per layer family: each owns its prepared weights (in executor layout) and its
//! evaluation on plain and tracked tensors, behind the [`Kernel`] trait. [`prepare`] is the
//! registry: one line per [`Op`] variant and no catch-all arm, so an op added to the IR does
//! not compile until a family runs it. Fusions that rewrite several layers into one kernel
//! live beside the layers they fuse (`conv/fold_*.rs`, `conv/residual.rs`,
//! `depthwise/expansion.rs`); [`crate::plan`] applies them per target set.

mod activations;
mod affine;
pub(crate) mod conv;
mod dense;
pub(crate) mod depthwise;
mod fast;
mod indexing;
mod input;
mod layer_norm;
mod merge;
mod preprocessing;
mod reshape;
mod separable;
mod spatial;
mod transpose;
mod weights;

use std::any::Any;

use candle_core::{Device, Tensor};
use keras_import::{Activation, Graph, Node, Op};

use crate::cpu::ZeroPad;
use crate::error::{CamError, ErrorKind, Result};

use weights::WeightReader;

/// A node's result: the value before its fused activation, and that activation.
pub(crate) struct Evaluated {
    /// Value before the fused activation (the logits of a classifier layer).
    pub pre: Tensor,
    /// The fused activation still to apply.
    pub activation: Activation,
}

impl Evaluated {
    /// A value with nothing left to apply.
    pub fn linear(pre: Tensor) -> Evaluated {
        Evaluated {
            pre,
            activation: Activation::Linear,
        }
    }
}

/// How a node runs within a plan.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fusion {
    /// The activation of a following layer folded into this node.
    pub activation: Option<Activation>,
    /// Whether the CPU kernels may apply the activation in place (not when the node's
    /// pre-activation value is needed, as for the logits layer).
    pub fast: bool,
    /// The zero padding of a ZeroPadding2D layer folded into this convolution.
    pub pad: ZeroPad,
}

/// A layer prepared on a device: it owns its weights and runs its node.
pub(crate) trait Kernel: Any + Send + Sync + std::fmt::Debug {
    /// Runs the layer on its inputs (plain or tracked tensors) with the fusion the plan chose.
    fn evaluate(&self, inputs: &[Tensor], fusion: &Fusion) -> Result<Evaluated>;
}

/// The first input of a node.
pub(crate) fn first(inputs: &[Tensor]) -> Result<&Tensor> {
    inputs
        .first()
        .ok_or_else(|| CamError::new(ErrorKind::InvalidGraph, "node has no input"))
}

/// The node's rank with the batch axis.
fn rank_of(node: &Node) -> usize {
    node.output_shape.len() + 1
}

/// Prepares `node`'s layer on `device`: reads and checks its weights and converts them to
/// the executor's layout, once. The registry of layer families: one arm per op.
pub(crate) fn prepare(graph: &Graph, node: &Node, device: &Device) -> Result<Box<dyn Kernel>> {
    let mut r = WeightReader::new(graph, node, device)?;
    let rank = rank_of(node);
    // Axes count on the input's rank (a mean without keepdims changes the rank).
    let input_rank = node
        .inputs
        .first()
        .and_then(|&i| graph.nodes.get(i))
        .map_or(rank, rank_of);
    let kernel: Box<dyn Kernel> = match &node.op {
        Op::Input => Box::new(input::SecondInput),
        Op::Conv2D(p) => Box::new(conv::Conv2d::prepare(p, &mut r)?),
        Op::DepthwiseConv2D {
            conv,
            depth_multiplier,
        } => Box::new(depthwise::Depthwise::prepare(
            conv,
            *depth_multiplier,
            &mut r,
        )?),
        Op::SeparableConv2D {
            conv,
            depth_multiplier,
        } => Box::new(separable::Separable::prepare(
            conv,
            *depth_multiplier,
            &mut r,
        )?),
        Op::Conv2DTranspose {
            conv,
            output_padding,
        } => Box::new(transpose::ConvTranspose::prepare(
            conv,
            *output_padding,
            &mut r,
        )?),
        Op::Dense {
            units,
            use_bias,
            activation,
        } => Box::new(dense::Dense::prepare(
            *units,
            *use_bias,
            *activation,
            &mut r,
        )?),
        Op::BatchNorm {
            axis,
            epsilon,
            center,
            scale,
        } => {
            let spec = NormSpec::new(std::slice::from_ref(axis), *epsilon, *center, *scale, rank);
            Box::new(affine::Affine::batch_norm(spec, &mut r)?)
        }
        Op::Rescaling { scale, offset } => {
            Box::new(affine::Affine::rescaling(scale, offset, device)?)
        }
        Op::Normalization {
            mean,
            variance,
            invert,
        } => Box::new(affine::Affine::normalization(
            mean.as_deref(),
            variance.as_deref(),
            *invert,
            &mut r,
        )?),
        Op::LayerScale => Box::new(affine::Affine::layer_scale(&mut r)?),
        Op::Scale { factor } => Box::new(affine::Affine::constant_scale(*factor, device)?),
        Op::LayerNorm {
            axes,
            epsilon,
            center,
            scale,
        } => {
            let spec = NormSpec::new(axes, *epsilon, *center, *scale, rank);
            Box::new(layer_norm::LayerNorm::prepare(spec, &mut r)?)
        }
        Op::Activation(a) => Box::new(activations::Fused(*a)),
        Op::Relu {
            max_value,
            negative_slope,
            threshold,
        } => Box::new(activations::Relu {
            max_value: *max_value,
            negative_slope: *negative_slope,
            threshold: *threshold,
        }),
        Op::LeakyRelu { alpha } => Box::new(activations::LeakyRelu(*alpha)),
        Op::PRelu { .. } => Box::new(activations::PRelu::prepare(
            node.output_shape.len(),
            &mut r,
        )?),
        Op::Softmax { axis } => Box::new(activations::Softmax::prepare(*axis, input_rank)?),
        Op::Binary { op, lhs, rhs } => Box::new(merge::Binary::new(*op, *lhs, *rhs)),
        Op::Merge { op, average } => Box::new(merge::Merge::new(*op, *average)),
        Op::ScaleAdd { factor } => Box::new(merge::ScaleAdd(*factor)),
        Op::Concatenate { axis } => Box::new(merge::Concatenate::prepare(*axis, input_rank)?),
        Op::ConstantBinary {
            op,
            constant,
            constant_first,
        } => Box::new(merge::ConstantBinary::prepare(
            *op,
            constant,
            *constant_first,
            device,
        )?),
        Op::Slice { axes } => Box::new(indexing::Slice(axes.clone())),
        Op::Stack { axis } => Box::new(indexing::Stack(norm_axis(*axis, rank)?)),
        Op::ZeroPadding2D { padding } => Box::new(spatial::ZeroPadding(*padding)),
        Op::Cropping2D { cropping } => Box::new(spatial::Cropping(*cropping)),
        Op::MaxPool2D(p) => Box::new(spatial::MaxPool(*p)),
        Op::AvgPool2D(p) => Box::new(spatial::AvgPool(*p)),
        Op::GlobalAvgPool2D { keepdims } => Box::new(spatial::GlobalAvgPool(*keepdims)),
        Op::GlobalMaxPool2D { keepdims } => Box::new(spatial::GlobalMaxPool(*keepdims)),
        Op::UpSampling2D {
            size,
            interpolation,
        } => Box::new(spatial::UpSampling {
            size: *size,
            interpolation: *interpolation,
        }),
        Op::Resize(params) => Box::new(preprocessing::Resize(*params)),
        Op::CenterCrop { size } => Box::new(preprocessing::CenterCrop(*size)),
        Op::AutoContrast { value_range } => Box::new(preprocessing::AutoContrast(*value_range)),
        Op::Clahe(params) => Box::new(preprocessing::Clahe(*params)),
        Op::Flatten => Box::new(reshape::Flatten),
        Op::Reshape { target_shape } => Box::new(reshape::Reshape(target_shape.clone())),
        Op::Permute { dims } => Box::new(reshape::Permute::prepare(dims, input_rank)?),
        Op::ReduceMean { axes, keepdims } => {
            Box::new(reshape::ReduceMean::prepare(axes, *keepdims, input_rank)?)
        }
        Op::Identity => Box::new(reshape::Identity),
    };
    r.finish()?;
    Ok(kernel)
}

/// The options of a normalisation layer (BatchNormalization, LayerNormalization).
pub(crate) struct NormSpec<'a> {
    /// Normalised axes (full rank with batch), in config order.
    pub axes: &'a [i64],
    /// Variance epsilon.
    pub epsilon: f32,
    /// Whether beta exists.
    pub center: bool,
    /// Whether gamma exists.
    pub scale: bool,
    /// The input's rank with batch.
    pub rank: usize,
}

impl<'a> NormSpec<'a> {
    /// The options as the config gives them, for an input of `rank` (with batch).
    fn new(axes: &'a [i64], epsilon: f32, center: bool, scale: bool, rank: usize) -> Self {
        NormSpec {
            axes,
            epsilon,
            center,
            scale,
            rank,
        }
    }
}

/// Normalises a Keras axis (negative counts from the end) for a tensor of `rank` (with batch).
pub(crate) fn norm_axis(axis: i64, rank: usize) -> Result<usize> {
    keras_import::normalize_axis(axis, rank).ok_or_else(|| {
        CamError::new(
            ErrorKind::InvalidGraph,
            format!("axis {axis} out of range for rank {rank}"),
        )
    })
}

/// Normalises, sorts and de-duplicates Keras axes for a tensor of `rank`.
pub(crate) fn norm_axes(axes: &[i64], rank: usize) -> Result<Vec<usize>> {
    let mut axes = axes
        .iter()
        .map(|&a| norm_axis(a, rank))
        .collect::<Result<Vec<_>>>()?;
    axes.sort_unstable();
    axes.dedup();
    Ok(axes)
}
