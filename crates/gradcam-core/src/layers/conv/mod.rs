//! Conv2D: a dense (or grouped) convolution that owns its kernel in executor layout, and the
//! fusions that rewrite the layers around a convolution into its kernel: a following
//! BatchNormalization ([`fold_batch_norm`]), activation ([`fold_activation`]), a preceding
//! ZeroPadding2D ([`fold_padding`]) and a residual sum it feeds ([`residual`]).

pub(crate) mod fold_activation;
pub(crate) mod fold_batch_norm;
pub(crate) mod fold_padding;
pub(crate) mod residual;

use std::borrow::Cow;

use candle_core::Tensor;
use keras_import::{Activation, Conv2dParams, WeightRole};

use super::fast::{with_epilogue, zero_padded};
use super::weights::WeightReader;
use super::{first, Evaluated, Fusion, Kernel};
use crate::cpu::{self, ConvWeights, Finish, KeptTransform, KernelLayout, ZeroPad};
use crate::error::Result;
use crate::ops::conv::{self, Window2d};

/// A prepared Conv2D layer.
#[derive(Debug, Clone)]
pub(crate) struct Conv2d {
    /// The window (kernel size, strides, dilation, padding mode).
    pub win: Window2d,
    /// The kernel, laid out as `layout` says.
    pub kernel: Tensor,
    /// The kernel's layout.
    pub layout: KernelLayout,
    /// The kernel's Winograd transform, once a call has computed it.
    pub kept: KeptTransform,
    /// Bias `[O]`.
    pub bias: Option<Tensor>,
    /// The layer's own activation.
    pub activation: Activation,
}

impl Conv2d {
    /// Reads the HWIO kernel (and bias) of a Conv2D with parameters `p`.
    pub fn prepare(p: &Conv2dParams, r: &mut WeightReader<'_>) -> Result<Conv2d> {
        let [kh, kw] = p.kernel;
        let groups = p.groups.max(1);
        let k = r.take(
            WeightRole::Kernel,
            &[Some(kh), Some(kw), None, Some(p.filters)],
        )?;
        let in_g = k.shape[2];
        if !p.filters.is_multiple_of(groups) {
            return Err(r.err(format!(
                "{} filters do not split into {groups} groups",
                p.filters
            )));
        }
        let (kernel, layout) = if groups == 1 {
            (
                r.tensor(k, &[kh * kw * in_g, p.filters])?,
                KernelLayout::Rows,
            )
        } else {
            let out_g = p.filters / groups;
            let grouped = r
                .tensor(k, &[kh, kw, in_g, groups, out_g])?
                .permute((3, 0, 1, 2, 4))?
                .contiguous()?
                .reshape((groups, kh * kw * in_g, out_g))?;
            (grouped, KernelLayout::Grouped)
        };
        Ok(Conv2d {
            win: Window2d::new(p.kernel, p.strides, p.dilation, p.padding),
            kernel,
            layout,
            kept: KeptTransform::default(),
            bias: r.bias(p.use_bias, p.filters)?,
            activation: p.activation,
        })
    }

    /// The kernel as `[in, out]` rows: itself, or its panels put back in rows (a copy, for
    /// the paths other than the CPU kernels).
    pub fn rows(&self) -> Result<Cow<'_, Tensor>> {
        if self.layout != KernelLayout::Panels {
            return Ok(Cow::Borrowed(&self.kernel));
        }
        let (panels, k, width) = self.kernel.dims3()?;
        Ok(Cow::Owned(
            self.kernel
                .permute((1, 0, 2))?
                .contiguous()?
                .reshape((k, panels * width))?,
        ))
    }

    /// Rearranges a large 1×1 kernel of rows into panels ([`crate::cpu::panels`]) when the
    /// CPU kernels gain from it; otherwise leaves it.
    pub fn arrange_panels(&mut self) -> Result<()> {
        if self.layout != KernelLayout::Rows || self.win.positions() != 1 {
            return Ok(());
        }
        if let Some(panels) = cpu::panels_of(&self.kernel)? {
            self.kernel = panels;
            self.layout = KernelLayout::Panels;
        }
        Ok(())
    }

    /// The convolution of `x` through the CPU kernel, finished by `finish`; `None` when it
    /// cannot run there.
    pub fn on_cpu(&self, x: &Tensor, pad: ZeroPad, finish: Finish<'_>) -> Result<Option<Tensor>> {
        let weights = ConvWeights {
            kernel: &self.kernel,
            layout: self.layout,
            bias: self.bias.as_ref(),
            kept: Some(&self.kept),
        };
        cpu::conv2d(x, weights, &self.win, pad, finish)
    }

    /// This convolution followed by `y · scale + shift` per output channel, as one layer.
    pub fn fold_affine(&self, scale: &Tensor, shift: &Tensor) -> Result<Conv2d> {
        let kernel = match self.layout {
            // Output channels along the first and last axes: [G, K, O/G] or panels.
            KernelLayout::Grouped | KernelLayout::Panels => {
                let (g, _, og) = self.kernel.dims3()?;
                self.kernel.broadcast_mul(&scale.reshape((g, 1, og))?)?
            }
            KernelLayout::Rows => self.kernel.broadcast_mul(scale)?,
        };
        Ok(Conv2d {
            win: self.win,
            kernel,
            layout: self.layout,
            kept: KeptTransform::default(),
            bias: Some(fold_bias(self.bias.as_ref(), scale, shift)?),
            activation: self.activation,
        })
    }
}

/// The bias of a layer followed by `y · scale + shift`: `bias · scale + shift`.
pub(crate) fn fold_bias(bias: Option<&Tensor>, scale: &Tensor, shift: &Tensor) -> Result<Tensor> {
    Ok(match bias {
        Some(b) => b.mul(scale)?.add(shift)?,
        None => shift.clone(),
    })
}

impl Kernel for Conv2d {
    fn evaluate(&self, inputs: &[Tensor], fusion: &Fusion) -> Result<Evaluated> {
        let x = first(inputs)?;
        let activation = fusion.activation.unwrap_or(self.activation);
        let bias = self.bias.as_ref();
        if self.layout == KernelLayout::Grouped {
            let padded = zero_padded(x, fusion.pad)?;
            return Ok(Evaluated {
                pre: conv::grouped_conv2d(&padded, &self.kernel, bias, &self.win)?,
                activation,
            });
        }
        with_epilogue(
            fusion,
            activation,
            |epilogue| self.on_cpu(x, fusion.pad, Finish::with(epilogue)),
            || {
                conv::conv2d(
                    &zero_padded(x, fusion.pad)?,
                    &*self.rows()?,
                    bias,
                    &self.win,
                )
            },
        )
    }
}
