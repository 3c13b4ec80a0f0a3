//! `conv → BatchNormalization` becomes one convolution with a scaled kernel and a shifted
//! bias, at load time (exact up to rounding: the weights are constants). Only the folded
//! weights are kept; a plan whose target is the convolution itself undoes the fold with
//! the inverse map, once per plan.

use std::any::Any;

use candle_core::Tensor;
use keras_import::{Activation, Graph, NodeId, Op};

use super::Conv2d;
use crate::error::Result;
use crate::layers::affine::Affine;
use crate::layers::depthwise::Depthwise;
use crate::layers::separable::Separable;
use crate::layers::Kernel;

/// The BatchNormalization layers folded into the convolutions before them.
pub(crate) struct BatchNormFolds {
    /// For a convolution: the `(1/s, −t/s)` that undo its fold.
    undo: Vec<Option<(Tensor, Tensor)>>,
    /// For a BatchNormalization: the convolution it was folded into.
    into: Vec<Option<NodeId>>,
}

impl BatchNormFolds {
    /// The convolution BatchNormalization `bn` was folded into.
    pub fn folded_into(&self, bn: NodeId) -> Option<NodeId> {
        self.into[bn]
    }

    /// How many BatchNormalization layers were folded.
    pub fn count(&self) -> usize {
        self.into.iter().flatten().count()
    }

    /// Convolution `conv`'s kernel with its BatchNormalization taken out again, when it has
    /// one folded in.
    pub fn unfolded(&self, conv: NodeId, kernel: &dyn Kernel) -> Result<Option<Box<dyn Kernel>>> {
        match &self.undo[conv] {
            Some((scale, shift)) => fold_affine(kernel, scale, shift),
            None => Ok(None),
        }
    }
}

/// Whether `op` is a convolution with a linear activation (whose output an affine map can
/// be folded into).
pub(crate) fn linear_conv(op: &Op) -> bool {
    match op {
        Op::Conv2D(p) => p.activation == Activation::Linear,
        Op::DepthwiseConv2D { conv, .. } | Op::SeparableConv2D { conv, .. } => {
            conv.activation == Activation::Linear
        }
        _ => false,
    }
}

/// A convolution kernel followed by `y · scale + shift` per output channel, as one kernel;
/// `None` for kernels that are not convolutions.
fn fold_affine(
    kernel: &dyn Kernel,
    scale: &Tensor,
    shift: &Tensor,
) -> Result<Option<Box<dyn Kernel>>> {
    let (scale, shift) = (scale.flatten_all()?, shift.flatten_all()?);
    let any: &dyn Any = kernel;
    Ok(if let Some(c) = any.downcast_ref::<Conv2d>() {
        Some(Box::new(c.fold_affine(&scale, &shift)?))
    } else if let Some(d) = any.downcast_ref::<Depthwise>() {
        Some(Box::new(d.fold_affine(&scale, &shift)?))
    } else if let Some(s) = any.downcast_ref::<Separable>() {
        Some(Box::new(s.fold_affine(&scale, &shift)?))
    } else {
        None
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

/// Folds every channels-last BatchNormalization whose input is a linear convolution read by
/// nothing else (and not a model output) into that convolution's kernel in `kernels`.
pub(crate) fn fold(
    graph: &Graph,
    consumers: &[Vec<NodeId>],
    kernels: &mut [Box<dyn Kernel>],
) -> BatchNormFolds {
    let n = graph.nodes.len();
    let mut folds = BatchNormFolds {
        undo: vec![None; n],
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
            || consumers[conv_id].len() != 1
            || graph.outputs.contains(&conv_id)
            || folds.undo[conv_id].is_some()
        {
            continue;
        }
        let any: &dyn Any = kernels[bn_id].as_ref();
        let Some(Affine {
            scale: Some(scale),
            shift: Some(shift),
        }) = any.downcast_ref::<Affine>()
        else {
            continue;
        };
        // A channel-count mismatch, or a zero scale (which could not be undone), is left to
        // the unfolded path.
        let (Ok(Some(folded)), Ok(Some(undo))) = (
            fold_affine(kernels[conv_id].as_ref(), scale, shift),
            inverse(scale, shift),
        ) else {
            continue;
        };
        kernels[conv_id] = folded;
        folds.undo[conv_id] = Some(undo);
        folds.into[bn_id] = Some(conv_id);
    }
    folds
}
