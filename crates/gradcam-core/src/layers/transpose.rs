//! Conv2DTranspose: a convolution of the dilated input by the flipped kernel.

use candle_core::Tensor;
use keras_import::{Activation, Conv2dParams, Padding, WeightRole};

use super::weights::WeightReader;
use super::{first, Evaluated, Fusion, Kernel};
use crate::error::{CamError, ErrorKind, Result};
use crate::ops::conv::{self, Window2d};

/// A prepared Conv2DTranspose layer.
#[derive(Debug, Clone)]
pub(crate) struct ConvTranspose {
    /// The window.
    win: Window2d,
    /// Flipped kernel `[kh·kw·in, out]`.
    kernel: Tensor,
    /// Bias `[out]`.
    bias: Option<Tensor>,
    /// Explicit output padding, when given.
    output_padding: Option<[usize; 2]>,
    /// The layer's own activation.
    activation: Activation,
}

impl ConvTranspose {
    /// Reads the `[kh, kw, out, in]` kernel (flipped and transposed once) and the bias.
    pub fn prepare(
        p: &Conv2dParams,
        output_padding: Option<[usize; 2]>,
        r: &mut WeightReader<'_>,
    ) -> Result<ConvTranspose> {
        let [kh, kw] = p.kernel;
        let k = r.take(
            WeightRole::Kernel,
            &[Some(kh), Some(kw), Some(p.filters), None],
        )?;
        let cin = k.shape[3];
        let kernel = r
            .tensor(k, &[kh, kw, p.filters, cin])?
            .flip(&[0, 1])?
            .permute((0, 1, 3, 2))?
            .contiguous()?
            .reshape((kh * kw * cin, p.filters))?;
        Ok(ConvTranspose {
            win: Window2d::new(p.kernel, p.strides, p.dilation, p.padding),
            kernel,
            bias: r.bias(p.use_bias, p.filters)?,
            output_padding,
            activation: p.activation,
        })
    }

    /// The output size along `axis` (0: height, 1: width) for an input of `input`, as Keras.
    fn out_size(&self, input: usize, axis: usize) -> usize {
        let aw = if axis == 0 { self.win.h } else { self.win.w };
        let extent = aw.extent();
        match self.output_padding {
            None => match self.win.padding {
                Padding::Valid => input * aw.stride + extent.saturating_sub(aw.stride),
                Padding::Same => input * aw.stride,
            },
            Some(op) => {
                let pad = if self.win.padding == Padding::Same {
                    extent / 2
                } else {
                    0
                };
                ((input.max(1) - 1) * aw.stride + extent + op[axis]).saturating_sub(2 * pad)
            }
        }
    }
}

impl Kernel for ConvTranspose {
    fn evaluate(&self, inputs: &[Tensor], _: &Fusion) -> Result<Evaluated> {
        let x = first(inputs)?;
        let (_, h, w, _) = x.dims4()?;
        if h == 0 || w == 0 {
            return Err(CamError::new(ErrorKind::InvalidInput, "empty input"));
        }
        let size = [self.out_size(h, 0), self.out_size(w, 1)];
        let y = conv::conv_transpose2d(x, &self.kernel, self.bias.as_ref(), &self.win, size)?;
        Ok(Evaluated {
            pre: y,
            activation: self.activation,
        })
    }
}
