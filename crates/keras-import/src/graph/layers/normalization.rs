//! Dense, normalisation, reshaping, scaling and inference-time identity layers.

use super::activation::parse_activation_option;
use super::{Arg, LayerInput, ParsedOp};
use crate::error::{ErrorKind, Result};
use crate::ir::Op;

/// Options that change a layer's variables and are not implemented: they must be absent,
/// null or false.
fn reject_set(input: &LayerInput, keys: &[&str]) -> Result<()> {
    for key in keys {
        match input.fields.get(key) {
            None | Some(serde_json::Value::Bool(false)) => {}
            Some(serde_json::Value::Number(n)) if n.as_f64() == Some(0.0) => {}
            Some(v) => return Err(input.fields.unsupported(key, v)),
        }
    }
    Ok(())
}

/// `Dense` on the last axis.
pub(crate) fn dense(input: &LayerInput) -> Result<Op> {
    reject_set(input, &["lora_rank", "quantization_config"])?;
    let f = &input.fields;
    Ok(Op::Dense {
        units: f.size("units")?,
        use_bias: f.bool_or("use_bias", true)?,
        activation: parse_activation_option(f, input.dialect)?,
    })
}

/// Normalises Keras axes (full rank with batch, negative from the end) to positive indices
/// `1..rank`; the batch axis and out-of-range axes are rejected.
pub(crate) fn normalize_axes(input: &LayerInput, key: &str, axes: &[i64]) -> Result<Vec<i64>> {
    let rank = input.single_shape()?.len() as i64 + 1;
    axes.iter()
        .map(|&a| {
            let positive = if a < 0 { a + rank } else { a };
            if (1..rank).contains(&positive) {
                Ok(positive)
            } else {
                Err(input.fields.error(
                    ErrorKind::InvalidGraph,
                    format_args!(
                        "{key} = {a} is out of range for a rank-{rank} input (batch included)"
                    ),
                ))
            }
        })
        .collect()
}

/// `BatchNormalization` over one axis (inference mode).
pub(crate) fn batch_norm(input: &LayerInput) -> Result<Op> {
    reject_set(input, &["renorm"])?;
    let f = &input.fields;
    let axes = f.i64_list("axis")?.unwrap_or_else(|| vec![-1]);
    let axis = match normalize_axes(input, "axis", &axes)?.as_slice() {
        [axis] => *axis,
        _ => return Err(f.unsupported("axis", format_args!("{axes:?} (several axes)"))),
    };
    Ok(Op::BatchNorm {
        axis,
        epsilon: f.f32_or("epsilon", 1e-3)?,
        center: f.bool_or("center", true)?,
        scale: f.bool_or("scale", true)?,
    })
}

/// `LayerNormalization` over `axis` (one or several).
pub(crate) fn layer_norm(input: &LayerInput) -> Result<Op> {
    reject_set(input, &["rms_scaling"])?;
    let f = &input.fields;
    let axes = f.i64_list("axis")?.unwrap_or_else(|| vec![-1]);
    let mut axes = normalize_axes(input, "axis", &axes)?;
    axes.sort_unstable();
    axes.dedup();
    Ok(Op::LayerNorm {
        axes,
        epsilon: f.f32_or("epsilon", 1e-3)?,
        center: f.bool_or("center", true)?,
        scale: f.bool_or("scale", true)?,
    })
}

/// `Flatten` (channels_last only: channels_first would transpose first).
pub(crate) fn flatten(input: &LayerInput) -> Result<Op> {
    input.fields.require_channels_last()?;
    Ok(Op::Flatten)
}

/// `Reshape` to `target_shape` (without batch; at most one −1).
pub(crate) fn reshape(input: &LayerInput) -> Result<Op> {
    let f = &input.fields;
    let target_shape = f
        .i64_list("target_shape")?
        .ok_or_else(|| f.malformed("target_shape", "a list of integers"))?;
    if target_shape.iter().any(|&d| d < -1 || d == 0)
        || target_shape.iter().filter(|&&d| d == -1).count() > 1
    {
        return Err(f.malformed("target_shape", "positive sizes with at most one -1"));
    }
    Ok(Op::Reshape { target_shape })
}

/// `Permute` (1-based axes without batch).
pub(crate) fn permute(input: &LayerInput) -> Result<Op> {
    let f = &input.fields;
    let dims = f
        .i64_list("dims")?
        .ok_or_else(|| f.malformed("dims", "a list of integers"))?;
    let rank = input.single_shape()?.len();
    let mut seen = vec![false; rank];
    let mut out = Vec::with_capacity(dims.len());
    for &d in &dims {
        let index = usize::try_from(d).ok().filter(|&d| (1..=rank).contains(&d));
        match index {
            Some(i) if !seen[i - 1] => {
                seen[i - 1] = true;
                out.push(i);
            }
            _ => return Err(f.malformed("dims", "a permutation of 1..rank")),
        }
    }
    if out.len() != rank {
        return Err(f.malformed("dims", "a permutation of 1..rank"));
    }
    Ok(Op::Permute { dims: out })
}

/// `Rescaling`: `x · scale + offset` (scalars or per-channel lists).
pub(crate) fn rescaling(input: &LayerInput) -> Result<Op> {
    let f = &input.fields;
    Ok(Op::Rescaling {
        scale: f.f32_list("scale")?.unwrap_or_else(|| vec![1.0]),
        offset: f.f32_list("offset")?.unwrap_or_else(|| vec![0.0]),
    })
}

/// `Normalization` over the last axis, mean/variance from the config or from weights.
pub(crate) fn normalization(input: &LayerInput) -> Result<Op> {
    let f = &input.fields;
    let axes = f.i64_list("axis")?.unwrap_or_else(|| vec![-1]);
    let rank = input.single_shape()?.len() as i64 + 1;
    if normalize_axes(input, "axis", &axes)? != [rank - 1] {
        return Err(f.unsupported("axis", format_args!("{axes:?} (only the last axis)")));
    }
    let mean = f.f32_list("mean")?;
    let variance = f.f32_list("variance")?;
    if mean.is_some() != variance.is_some() {
        return Err(f.malformed("mean", "given together with variance"));
    }
    Ok(Op::Normalization {
        mean,
        variance,
        invert: f.bool_or("invert", false)?,
    })
}

/// ConvNeXt `LayerScale` (`projection_dim` must equal the channel count).
pub(crate) fn layer_scale(input: &LayerInput) -> Result<Op> {
    let f = &input.fields;
    let dim = f.size("projection_dim")?;
    let channels = input.single_shape()?.last().copied().flatten();
    if channels != Some(dim) {
        return Err(f.error(
            ErrorKind::InvalidGraph,
            format_args!("projection_dim {dim} does not match the input channels {channels:?}"),
        ));
    }
    Ok(Op::LayerScale)
}

/// InceptionResNetV2 `CustomScaleLayer`: `inputs[0] + inputs[1] · scale`.
pub(crate) fn custom_scale(input: &LayerInput) -> Result<ParsedOp> {
    let f = &input.fields;
    let factor = f
        .opt_f32("scale")?
        .ok_or_else(|| f.malformed("scale", "a number"))?;
    let inputs = input
        .args
        .iter()
        .map(|arg| match arg {
            Arg::Tensor { node, .. } => Some(*node),
            Arg::Scalar(_) => None,
        })
        .collect::<Option<Vec<_>>>()
        .filter(|inputs| inputs.len() == 2)
        .ok_or_else(|| {
            f.error(
                ErrorKind::InvalidGraph,
                format_args!(
                    "expects two input tensors, got {} arguments",
                    input.args.len()
                ),
            )
        })?;
    Ok(ParsedOp {
        op: Op::ScaleAdd { factor },
        inputs,
    })
}
