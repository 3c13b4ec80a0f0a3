//! Per-channel affine maps `x · scale + shift`: BatchNormalization in inference mode,
//! Rescaling, Normalization, ConvNeXt's LayerScale and constant scales. Each is reduced to
//! its scale and shift once, at load, in f64.

use candle_core::{Device, Tensor};

use keras_import::WeightRole;

use super::weights::WeightReader;
use super::{first, norm_axis, Evaluated, Fusion, Kernel, NormSpec};
use crate::error::Result;

/// `x · scale + shift`, both broadcastable against the input.
#[derive(Debug, Clone)]
pub(crate) struct Affine {
    /// Multiplier.
    pub scale: Option<Tensor>,
    /// Added after the multiplier.
    pub shift: Option<Tensor>,
}

fn host(t: &[f32]) -> Vec<f64> {
    t.iter().map(|&v| v as f64).collect()
}

impl Affine {
    /// BatchNormalization: `gamma / sqrt(var + eps)` and `beta − mean · that`.
    pub fn batch_norm(spec: NormSpec<'_>, r: &mut WeightReader<'_>) -> Result<Affine> {
        let axis = match spec.axes {
            [axis] => norm_axis(*axis, spec.rank)?,
            _ => return Err(r.err(format!("normalises axes {:?}, not one axis", spec.axes))),
        };
        let gamma = if spec.scale {
            Some(r.take(WeightRole::Gamma, &[None])?)
        } else {
            None
        };
        let c = gamma.map(|g| g.shape[0]);
        let beta = if spec.center {
            Some(r.take(WeightRole::Beta, &[c])?)
        } else {
            None
        };
        let c = c.or(beta.map(|b| b.shape[0]));
        let mean = r.take(WeightRole::MovingMean, &[c])?;
        let var = r.take(WeightRole::MovingVariance, &[Some(mean.shape[0])])?;
        let n = mean.shape[0];
        let (mut sc, mut sh) = (vec![0f32; n], vec![0f32; n]);
        for i in 0..n {
            let g = gamma.map_or(1.0, |g| g.data[i] as f64);
            let b = beta.map_or(0.0, |b| b.data[i] as f64);
            let inv = g / (var.data[i] as f64 + spec.epsilon as f64).sqrt();
            sc[i] = inv as f32;
            sh[i] = (b - mean.data[i] as f64 * inv) as f32;
        }
        let mut dims = vec![1usize; spec.rank];
        dims[axis] = n;
        Ok(Affine {
            scale: Some(Tensor::from_vec(sc, dims.clone(), r.device())?),
            shift: Some(Tensor::from_vec(sh, dims, r.device())?),
        })
    }

    /// Rescaling: `x · scale + offset`, scalars or per channel.
    pub fn rescaling(scale: &[f32], offset: &[f32], device: &Device) -> Result<Affine> {
        Ok(Affine {
            scale: Some(Tensor::from_slice(scale, scale.len(), device)?),
            shift: Some(Tensor::from_slice(offset, offset.len(), device)?),
        })
    }

    /// Normalization: `(x − mean) / sqrt(var)` (or its inverse), the statistics from the
    /// config or, when it has none, from the weights (mean, variance, count).
    pub fn normalization(
        mean: Option<&[f32]>,
        variance: Option<&[f32]>,
        invert: bool,
        r: &mut WeightReader<'_>,
    ) -> Result<Affine> {
        let (mean, var) = match (mean, variance) {
            (Some(m), Some(v)) => (host(m), host(v)),
            _ => {
                let m = r.take_any(WeightRole::Mean)?;
                let v = r.take_any(WeightRole::Variance)?;
                r.take_any(WeightRole::Count)?;
                (host(&m.data), host(&v.data))
            }
        };
        if mean.len() != var.len() {
            return Err(r.err(format!(
                "mean has {} values, variance {}",
                mean.len(),
                var.len()
            )));
        }
        let std: Vec<f64> = var.iter().map(|v| v.sqrt().max(1e-7)).collect();
        let (sc, sh): (Vec<f32>, Vec<f32>) = if invert {
            (
                std.iter().map(|&s| s as f32).collect(),
                mean.iter().map(|&m| m as f32).collect(),
            )
        } else {
            mean.iter()
                .zip(&std)
                .map(|(m, s)| ((1.0 / s) as f32, (-m / s) as f32))
                .unzip()
        };
        let n = sc.len();
        Ok(Affine {
            scale: Some(Tensor::from_vec(sc, n, r.device())?),
            shift: Some(Tensor::from_vec(sh, n, r.device())?),
        })
    }

    /// ConvNeXt's LayerScale: `x · gamma`.
    pub fn layer_scale(r: &mut WeightReader<'_>) -> Result<Affine> {
        let g = r.take(WeightRole::Gamma, &[None])?;
        Ok(Affine {
            scale: Some(r.tensor(g, &g.shape.clone())?),
            shift: None,
        })
    }

    /// Multiplication by a constant (InceptionResNetV2's CustomScaleLayer on one input).
    pub fn constant_scale(factor: f32, device: &Device) -> Result<Affine> {
        Ok(Affine {
            scale: Some(Tensor::from_slice(&[factor], 1, device)?),
            shift: None,
        })
    }
}

impl Kernel for Affine {
    fn evaluate(&self, inputs: &[Tensor], _: &Fusion) -> Result<Evaluated> {
        let mut y = first(inputs)?.clone();
        if let Some(s) = &self.scale {
            y = y.broadcast_mul(s)?;
        }
        if let Some(s) = &self.shift {
            y = y.broadcast_add(s)?;
        }
        Ok(Evaluated::linear(y))
    }
}
