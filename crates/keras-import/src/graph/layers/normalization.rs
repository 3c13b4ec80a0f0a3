//! Normalisation and scaling layers: BatchNormalization, LayerNormalization, Normalization,
//! Rescaling, ConvNeXt's LayerScale and a constant scale — their options, shape checks and
//! variables.

use super::{Dim, LayerInput, LayerRules, WeightTemplate};
use crate::error::{ErrorKind, Result};
use crate::graph::shape::{fmt_shape, invalid, one_input, Broadcast, ShapeResult};
use crate::ir::{Op, Shape, WeightRole};

/// Options that change a layer's variables and are not implemented: they must be absent,
/// null or false.
pub(crate) fn reject_set(input: &LayerInput, keys: &[&str]) -> Result<()> {
    for key in keys {
        match input.fields.get(key) {
            None | Some(serde_json::Value::Bool(false)) => {}
            Some(serde_json::Value::Number(n)) if n.as_f64() == Some(0.0) => {}
            Some(v) => return Err(input.fields.unsupported(key, v)),
        }
    }
    Ok(())
}

/// `BatchNormalization` over one axis (inference mode).
pub(crate) fn batch_norm(input: &LayerInput) -> Result<Op> {
    reject_set(input, &["renorm"])?;
    let f = &input.fields;
    let axes = f.i64_list("axis")?.unwrap_or_else(|| vec![-1]);
    let axis = match input.positive_axes("axis", &axes)?.as_slice() {
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
    let mut axes = input.positive_axes("axis", &axes)?;
    axes.sort_unstable();
    axes.dedup();
    Ok(Op::LayerNorm {
        axes,
        epsilon: f.f32_or("epsilon", 1e-3)?,
        center: f.bool_or("center", true)?,
        scale: f.bool_or("scale", true)?,
    })
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
    let last = input.single_shape()?.len() as i64;
    if input.positive_axes("axis", &axes)? != [last] {
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

/// The normalised axes of BatchNormalization or LayerNormalization and which of the
/// optional parameters exist.
pub(crate) struct Axes<'a> {
    /// Normalised axes (positive, batch included).
    pub axes: &'a [i64],
    /// Whether beta exists.
    pub center: bool,
    /// Whether gamma exists.
    pub scale: bool,
}

impl Axes<'_> {
    /// Gamma then beta, each present per `scale` / `center`, shaped like the axes.
    fn affine(&self) -> Vec<WeightTemplate> {
        let dims: Vec<Dim> = self.axes.iter().map(|&a| Dim::axis(a)).collect();
        [
            self.scale
                .then(|| WeightTemplate::new(WeightRole::Gamma, dims.clone())),
            self.center
                .then(|| WeightTemplate::new(WeightRole::Beta, dims.clone())),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// The normalisation family's view of an op.
pub(crate) enum Normalizing<'a> {
    /// `BatchNormalization` (one axis).
    BatchNorm(Axes<'a>),
    /// `LayerNormalization`.
    LayerNorm(Axes<'a>),
    /// `Rescaling` with its scale and offset values.
    Rescaling {
        /// Multiplier(s).
        scale: &'a [f32],
        /// Offset(s).
        offset: &'a [f32],
    },
    /// `Normalization` with the statistics its config holds, if any.
    Normalization {
        /// Mean from the config.
        mean: Option<&'a [f32]>,
        /// Variance from the config.
        variance: Option<&'a [f32]>,
    },
    /// ConvNeXt `LayerScale`.
    LayerScale,
    /// Multiplication by a constant.
    Scale,
}

impl LayerRules for Normalizing<'_> {
    fn output_shape(&self, inputs: &[&Shape], _: Broadcast) -> ShapeResult<Shape> {
        let x = one_input(inputs)?;
        match self {
            Normalizing::BatchNorm(axes) | Normalizing::LayerNorm(axes) => {
                known_axes(x, axes.axes)?;
            }
            Normalizing::Rescaling { scale, offset } => {
                per_channel(x, scale.len(), "scale")?;
                per_channel(x, offset.len(), "offset")?;
            }
            Normalizing::Normalization { mean, variance } => {
                if x.last().copied().flatten().is_none() {
                    return Err(invalid(format!(
                        "Normalization needs a known last axis, input shape is {}",
                        fmt_shape(x)
                    )));
                }
                for (name, values) in [("mean", mean), ("variance", variance)] {
                    if let Some(values) = values {
                        per_channel(x, values.len(), name)?;
                    }
                }
            }
            Normalizing::LayerScale | Normalizing::Scale => {}
        }
        Ok(x.clone())
    }

    fn weights(&self) -> Vec<WeightTemplate> {
        let vector = WeightTemplate::vector;
        match self {
            Normalizing::BatchNorm(axes) => {
                let n = Dim::axis(axes.axes.first().copied().unwrap_or(-1));
                let mut weights = axes.affine();
                weights.push(vector(WeightRole::MovingMean, n));
                weights.push(vector(WeightRole::MovingVariance, n));
                weights
            }
            Normalizing::LayerNorm(axes) => axes.affine(),
            Normalizing::Normalization { mean: None, .. } => vec![
                vector(WeightRole::Mean, Dim::channels()),
                vector(WeightRole::Variance, Dim::channels()),
                WeightTemplate::new(WeightRole::Count, Vec::new()),
            ],
            Normalizing::LayerScale => vec![vector(WeightRole::Gamma, Dim::channels())],
            Normalizing::Normalization { mean: Some(_), .. }
            | Normalizing::Rescaling { .. }
            | Normalizing::Scale => Vec::new(),
        }
    }
}

fn known_axes(x: &Shape, axes: &[i64]) -> ShapeResult<()> {
    for &axis in axes {
        let dim = usize::try_from(axis - 1).ok().and_then(|i| x.get(i));
        if !matches!(dim, Some(Some(_))) {
            return Err(invalid(format!(
                "axis {axis} must be a known dimension of input {}",
                fmt_shape(x)
            )));
        }
    }
    Ok(())
}

fn per_channel(x: &Shape, len: usize, what: &str) -> ShapeResult<()> {
    match x.last().copied().flatten() {
        _ if len == 1 => Ok(()),
        Some(channels) if channels == len => Ok(()),
        _ => Err(invalid(format!(
            "{what} has {len} values, input shape is {}",
            fmt_shape(x)
        ))),
    }
}
