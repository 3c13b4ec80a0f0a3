//! Dense on the last axis: one product by the `[in, units]` kernel.

use candle_core::Tensor;
use keras_import::{Activation, WeightRole};

use super::weights::WeightReader;
use super::{first, Evaluated, Fusion, Kernel};
use crate::error::Result;
use crate::ops::conv;

/// A prepared Dense layer.
#[derive(Debug, Clone)]
pub(crate) struct Dense {
    /// Kernel `[in, units]`.
    kernel: Tensor,
    /// Bias `[units]`.
    bias: Option<Tensor>,
    /// The layer's own activation (a classifier's softmax, stripped by the head).
    activation: Activation,
}

impl Dense {
    /// Reads the kernel and bias.
    pub fn prepare(
        units: usize,
        use_bias: bool,
        activation: Activation,
        r: &mut WeightReader<'_>,
    ) -> Result<Dense> {
        let k = r.take(WeightRole::Kernel, &[None, Some(units)])?;
        let kernel = r.tensor(k, &k.shape.clone())?;
        Ok(Dense {
            kernel,
            bias: r.bias(use_bias, units)?,
            activation,
        })
    }
}

impl Kernel for Dense {
    fn evaluate(&self, inputs: &[Tensor], _: &Fusion) -> Result<Evaluated> {
        let y = conv::pointwise_conv(first(inputs)?, &self.kernel, self.bias.as_ref())?;
        Ok(Evaluated {
            pre: y,
            activation: self.activation,
        })
    }
}
