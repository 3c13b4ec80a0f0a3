//! LayerNormalization over any set of axes.

use candle_core::Tensor;

use keras_import::WeightRole;

use super::weights::WeightReader;
use super::{first, norm_axis, Evaluated, Fusion, Kernel, NormSpec};
use crate::error::Result;

/// A prepared LayerNormalization layer.
#[derive(Debug, Clone)]
pub(crate) struct LayerNorm {
    /// The normalised axes, sorted.
    axes: Vec<usize>,
    /// Variance epsilon.
    epsilon: f64,
    /// Gamma, shaped for broadcasting.
    gamma: Option<Tensor>,
    /// Beta, shaped for broadcasting.
    beta: Option<Tensor>,
}

impl LayerNorm {
    /// Reads gamma and beta, each shaped `[1, …, C, …]` over the normalised axes.
    pub fn prepare(spec: NormSpec<'_>, r: &mut WeightReader<'_>) -> Result<LayerNorm> {
        let axes = spec
            .axes
            .iter()
            .map(|&a| norm_axis(a, spec.rank))
            .collect::<Result<Vec<_>>>()?;
        let mut read = |role: WeightRole, present: bool| -> Result<Option<Tensor>> {
            if !present {
                return Ok(None);
            }
            let w = r.take(role, &vec![None; axes.len()])?;
            let mut dims = vec![1usize; spec.rank];
            // Keras stores the weights in the order the axes are listed.
            for (a, d) in axes.iter().zip(&w.shape) {
                dims[*a] = *d;
            }
            Ok(Some(Tensor::from_slice(&w.data, dims, r.device())?))
        };
        let gamma = read(WeightRole::Gamma, spec.scale)?;
        let beta = read(WeightRole::Beta, spec.center)?;
        let mut sorted = axes.clone();
        sorted.sort_unstable();
        Ok(LayerNorm {
            axes: sorted,
            epsilon: f64::from(spec.epsilon),
            gamma,
            beta,
        })
    }
}

impl Kernel for LayerNorm {
    fn evaluate(&self, inputs: &[Tensor], _: &Fusion) -> Result<Evaluated> {
        let x = first(inputs)?;
        let axes = self.axes.as_slice();
        let mean = x.mean_keepdim(axes)?;
        let centred = x.broadcast_sub(&mean)?;
        let var = centred.sqr()?.mean_keepdim(axes)?;
        let mut y = centred.broadcast_div(&var.affine(1.0, self.epsilon)?.sqrt()?)?;
        if let Some(g) = &self.gamma {
            y = y.broadcast_mul(g)?;
        }
        if let Some(b) = &self.beta {
            y = y.broadcast_add(b)?;
        }
        Ok(Evaluated::linear(y))
    }
}
