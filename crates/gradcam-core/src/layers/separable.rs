//! SeparableConv2D: a depthwise convolution, then a 1×1 pointwise product.

use candle_core::Tensor;
use keras_import::{Activation, Conv2dParams, Padding, WeightRole};

use super::conv::fold_bias;
use super::depthwise::read_depthwise_kernel;
use super::fast::{with_epilogue, zero_padded};
use super::weights::WeightReader;
use super::{first, Evaluated, Fusion, Kernel};
use crate::cpu::{self, ConvWeights, Finish, KernelLayout, NO_PAD};
use crate::error::Result;
use crate::ops::conv::{self, Window2d};

/// A prepared SeparableConv2D layer.
#[derive(Debug, Clone)]
pub(crate) struct Separable {
    /// The depthwise window.
    pub win: Window2d,
    /// Depthwise kernel `[kh·kw, C·m]`.
    pub kernel: Tensor,
    /// Output channels per input channel of the depthwise step.
    pub multiplier: usize,
    /// Pointwise kernel `[C·m, O]`.
    pub pointwise: Tensor,
    /// Bias `[O]`.
    pub bias: Option<Tensor>,
    /// The layer's own activation.
    pub activation: Activation,
}

impl Separable {
    /// Reads the depthwise kernel, the pointwise kernel and the bias.
    pub fn prepare(p: &Conv2dParams, m: usize, r: &mut WeightReader<'_>) -> Result<Separable> {
        let (win, kernel) = read_depthwise_kernel(p, m, r)?;
        let channels = kernel.dim(1)?;
        let pw = r.take(
            WeightRole::PointwiseKernel,
            &[Some(1), Some(1), Some(channels), Some(p.filters)],
        )?;
        Ok(Separable {
            win,
            kernel,
            multiplier: m,
            pointwise: r.tensor(pw, &[channels, p.filters])?,
            bias: r.bias(p.use_bias, p.filters)?,
            activation: p.activation,
        })
    }

    /// This convolution followed by `y · scale + shift` per output channel, as one layer
    /// (the pointwise kernel takes the scale).
    pub fn fold_affine(&self, scale: &Tensor, shift: &Tensor) -> Result<Separable> {
        Ok(Separable {
            win: self.win,
            kernel: self.kernel.clone(),
            multiplier: self.multiplier,
            pointwise: self.pointwise.broadcast_mul(scale)?,
            bias: Some(fold_bias(self.bias.as_ref(), scale, shift)?),
            activation: self.activation,
        })
    }
}

impl Kernel for Separable {
    fn evaluate(&self, inputs: &[Tensor], fusion: &Fusion) -> Result<Evaluated> {
        let x = conv::repeat_channels(first(inputs)?, self.multiplier)?;
        let depthwise =
            conv::depthwise_conv2d(&zero_padded(&x, fusion.pad)?, &self.kernel, None, &self.win)?;
        let bias = self.bias.as_ref();
        let pointwise = ConvWeights {
            kernel: &self.pointwise,
            layout: KernelLayout::Rows,
            bias,
            kept: None,
        };
        let unit = Window2d::new([1, 1], [1, 1], [1, 1], Padding::Valid);
        with_epilogue(
            fusion,
            fusion.activation.unwrap_or(self.activation),
            |ep| cpu::conv2d(&depthwise, pointwise, &unit, NO_PAD, Finish::with(ep)),
            || conv::pointwise_conv(&depthwise, &self.pointwise, bias),
        )
    }
}
