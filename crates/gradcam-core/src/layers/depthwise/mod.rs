//! DepthwiseConv2D, and the fusion that computes a 1×1 expansion inside the depthwise
//! convolution reading it ([`expansion`]).

pub(crate) mod expansion;

use candle_core::Tensor;
use keras_import::{Activation, Conv2dParams, WeightRole};

use super::conv::fold_bias;
use super::fast::{with_epilogue, zero_padded};
use super::weights::WeightReader;
use super::{first, Evaluated, Fusion, Kernel};
use crate::cpu::{self, DepthwiseWeights};
use crate::error::Result;
use crate::ops::conv::{self, Window2d};

/// A prepared DepthwiseConv2D layer.
#[derive(Debug, Clone)]
pub(crate) struct Depthwise {
    /// The window.
    pub win: Window2d,
    /// `[kh·kw, C·m]`: one row of channel weights per kernel position.
    pub kernel: Tensor,
    /// Output channels per input channel.
    pub multiplier: usize,
    /// Bias `[C·m]`.
    pub bias: Option<Tensor>,
    /// The layer's own activation.
    pub activation: Activation,
}

impl Depthwise {
    /// Reads the `[kh, kw, C, m]` kernel (and bias).
    pub fn prepare(p: &Conv2dParams, m: usize, r: &mut WeightReader<'_>) -> Result<Depthwise> {
        let (win, kernel) = read_depthwise_kernel(p, m, r)?;
        let channels = kernel.dim(1)?;
        Ok(Depthwise {
            win,
            kernel,
            multiplier: m,
            bias: r.bias(p.use_bias, channels)?,
            activation: p.activation,
        })
    }

    /// The kernel and bias as the CPU kernels read them.
    pub fn weights(&self) -> DepthwiseWeights<'_> {
        DepthwiseWeights {
            kernel: &self.kernel,
            bias: self.bias.as_ref(),
        }
    }

    /// This convolution followed by `y · scale + shift` per output channel, as one layer.
    pub fn fold_affine(&self, scale: &Tensor, shift: &Tensor) -> Result<Depthwise> {
        Ok(Depthwise {
            win: self.win,
            kernel: self.kernel.broadcast_mul(scale)?,
            multiplier: self.multiplier,
            bias: Some(fold_bias(self.bias.as_ref(), scale, shift)?),
            activation: self.activation,
        })
    }
}

/// Reads a depthwise kernel `[kh, kw, C, m]` as `[kh·kw, C·m]`, with its window.
pub(crate) fn read_depthwise_kernel(
    p: &Conv2dParams,
    m: usize,
    r: &mut WeightReader<'_>,
) -> Result<(Window2d, Tensor)> {
    let [kh, kw] = p.kernel;
    let k = r.take(
        WeightRole::DepthwiseKernel,
        &[Some(kh), Some(kw), None, Some(m)],
    )?;
    let kernel = r.tensor(k, &[kh * kw, k.shape[2] * m])?;
    let win = Window2d::new(p.kernel, p.strides, p.dilation, p.padding);
    Ok((win, kernel))
}

impl Kernel for Depthwise {
    fn evaluate(&self, inputs: &[Tensor], fusion: &Fusion) -> Result<Evaluated> {
        let xr = conv::repeat_channels(first(inputs)?, self.multiplier)?;
        let bias = self.bias.as_ref();
        with_epilogue(
            fusion,
            fusion.activation.unwrap_or(self.activation),
            |ep| cpu::depthwise_conv2d(&xr, self.weights(), &self.win, fusion.pad, ep),
            || {
                let padded = zero_padded(&xr, fusion.pad)?;
                conv::depthwise_conv2d(&padded, &self.kernel, bias, &self.win)
            },
        )
    }
}
