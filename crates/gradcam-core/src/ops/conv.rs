//! Convolutions on NHWC tensors: im2col from taps plus one matrix product (1×1 stride-1
//! convolutions are a matrix product with no copy at all), grouped convolutions as a batched
//! product, depthwise convolutions as a weighted sum of taps (never candle's groups=C conv,
//! whose backward is slow), transposed convolutions as a convolution of the dilated input.
//! Untracked CPU inputs take the [`crate::cpu`] kernels instead.

use candle_core::Tensor;
use keras_import::Padding;

use super::window::{taps, AxisWindow};
use crate::cpu::{self, ConvWeights, DepthwiseWeights, Epilogue, Finish, KernelLayout, NO_PAD};
use crate::error::Result;

/// A 2-D window over (height, width) with its padding mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window2d {
    /// Height axis.
    pub h: AxisWindow,
    /// Width axis.
    pub w: AxisWindow,
    /// Padding mode.
    pub padding: Padding,
}

impl Window2d {
    /// Builds a window from Keras kernel, strides and dilation pairs.
    pub fn new(
        kernel: [usize; 2],
        strides: [usize; 2],
        dilation: [usize; 2],
        padding: Padding,
    ) -> Self {
        Window2d {
            h: AxisWindow {
                kernel: kernel[0],
                stride: strides[0],
                dilation: dilation[0],
            },
            w: AxisWindow {
                kernel: kernel[1],
                stride: strides[1],
                dilation: dilation[1],
            },
            padding,
        }
    }

    /// Number of kernel positions.
    pub fn positions(&self) -> usize {
        self.h.kernel * self.w.kernel
    }

    fn is_pointwise(&self) -> bool {
        self.positions() == 1 && self.h.stride == 1 && self.w.stride == 1
    }
}

/// Adds a per-channel bias on the last axis.
pub(crate) fn add_bias(x: Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    match bias {
        Some(b) => Ok(x.broadcast_add(b)?),
        None => Ok(x),
    }
}

/// Multiplies `[M, K]` rows of the NHWC tensor `x` (K = last axis) by `kernel [K, O]`.
fn pointwise(x: &Tensor, kernel: &Tensor) -> Result<Tensor> {
    let dims = x.dims().to_vec();
    let k = dims.last().copied().unwrap_or(1);
    let rows = x.elem_count() / k.max(1);
    let y = cpu::matmul_by_constant(&x.reshape((rows, k))?, kernel)?;
    let mut out_dims = dims;
    if let Some(last) = out_dims.last_mut() {
        *last = kernel.dim(1)?;
    }
    Ok(y.reshape(out_dims)?)
}

/// Dense convolution (groups = 1): `kernel` is the Keras HWIO kernel reshaped to
/// `[kh·kw·in, out]`, which is exactly the im2col column order of the taps.
pub(crate) fn conv2d(
    x: &Tensor,
    kernel: &Tensor,
    bias: Option<&Tensor>,
    win: &Window2d,
) -> Result<Tensor> {
    let weights = ConvWeights {
        kernel,
        layout: KernelLayout::Rows,
        bias,
        kept: None,
    };
    if let Some(y) = cpu::conv2d(x, weights, win, NO_PAD, Finish::with(Epilogue::Linear))? {
        return Ok(y);
    }
    if win.is_pointwise() {
        return add_bias(pointwise(x, kernel)?, bias);
    }
    let t = taps(x, win.h, win.w, win.padding, 0.0)?;
    let cols = if t.taps.len() == 1 {
        t.taps[0].clone()
    } else {
        let parts = t
            .taps
            .iter()
            .map(|p| p.contiguous())
            .collect::<candle_core::Result<Vec<_>>>()?;
        Tensor::cat(&parts, 3)?
    };
    add_bias(pointwise(&cols, kernel)?, bias)
}

/// Grouped convolution: `kernel` is `[G, kh·kw·in_g, out_g]`; the taps are unfolded per group
/// and multiplied in one batched matrix product.
pub(crate) fn grouped_conv2d(
    x: &Tensor,
    kernel: &Tensor,
    bias: Option<&Tensor>,
    win: &Window2d,
) -> Result<Tensor> {
    let (groups, _, out_g) = kernel.dims3()?;
    let (n, _, _, c) = x.dims4()?;
    let in_g = c / groups.max(1);
    let t = taps(x, win.h, win.w, win.padding, 0.0)?;
    let positions = t.taps.len();
    let m = n * t.out_h * t.out_w;
    // [N, Ho, Wo, K², G, in_g] -> [G, M, K²·in_g]
    let stacked = Tensor::stack(&t.taps, 3)?.reshape((m, positions, groups, in_g))?;
    let cols =
        stacked
            .permute((2, 0, 1, 3))?
            .contiguous()?
            .reshape((groups, m, positions * in_g))?;
    let y = cols.matmul(kernel)?; // [G, M, out_g]
    let y = y
        .permute((1, 0, 2))?
        .contiguous()?
        .reshape((n, t.out_h, t.out_w, groups * out_g))?;
    add_bias(y, bias)
}

/// Depthwise convolution: `x` already has one channel per output channel (repeated for a
/// depth multiplier > 1); row `k` of `kernel [kh·kw, C]` weighs kernel position `k`.
pub(crate) fn depthwise_conv2d(
    x: &Tensor,
    kernel: &Tensor,
    bias: Option<&Tensor>,
    win: &Window2d,
) -> Result<Tensor> {
    let weights = DepthwiseWeights { kernel, bias };
    if let Some(y) = cpu::depthwise_conv2d(x, weights, win, NO_PAD, Epilogue::Linear)? {
        return Ok(y);
    }
    let t = taps(x, win.h, win.w, win.padding, 0.0)?;
    let mut acc: Option<Tensor> = None;
    for (k, tap) in t.taps.iter().enumerate() {
        let term = tap.broadcast_mul(&kernel.get(k)?)?;
        acc = Some(match acc {
            None => term,
            Some(a) => (a + term)?,
        });
    }
    let Some(acc) = acc else {
        return Err(crate::error::CamError::new(
            crate::error::ErrorKind::InvalidGraph,
            "depthwise kernel has no positions",
        ));
    };
    add_bias(acc, bias)
}

/// Repeats each channel `multiplier` times (channel c becomes c·m … c·m + m − 1), the input
/// layout a depthwise convolution with a depth multiplier expects.
pub(crate) fn repeat_channels(x: &Tensor, multiplier: usize) -> Result<Tensor> {
    if multiplier == 1 {
        return Ok(x.clone());
    }
    let (n, h, w, c) = x.dims4()?;
    Ok(x.unsqueeze(4)?
        .broadcast_as((n, h, w, c, multiplier))?
        .reshape((n, h, w, c * multiplier))?)
}

/// Pointwise (1×1, stride 1) product used by separable convolutions.
pub(crate) fn pointwise_conv(x: &Tensor, kernel: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    add_bias(pointwise(x, kernel)?, bias)
}

/// Inserts `stride − 1` zeros between the rows (axis 1) or columns (axis 2) of NHWC `x`.
fn dilate_axis(x: &Tensor, axis: usize, stride: usize) -> Result<Tensor> {
    if stride == 1 {
        return Ok(x.clone());
    }
    let len = x.dim(axis)?;
    let mut dims = x.dims().to_vec();
    let y = x
        .unsqueeze(axis + 1)?
        .pad_with_zeros(axis + 1, 0, stride - 1)?;
    dims[axis] = len * stride;
    Ok(y.reshape(dims)?.narrow(axis, 0, (len - 1) * stride + 1)?)
}

/// Transposed convolution with Keras output sizes: the input is dilated by the stride, padded
/// so that a stride-1 convolution with the flipped kernel (`kernel` already flipped and
/// reshaped to `[kh·kw·in, out]`) yields `out_size`.
pub(crate) fn conv_transpose2d(
    x: &Tensor,
    kernel: &Tensor,
    bias: Option<&Tensor>,
    win: &Window2d,
    out_size: [usize; 2],
) -> Result<Tensor> {
    let mut y = x.clone();
    for (axis, (aw, out)) in [(1usize, (win.h, out_size[0])), (2, (win.w, out_size[1]))] {
        let len = y.dim(axis)?;
        y = dilate_axis(&y, axis, aw.stride)?;
        let dilated = (len - 1) * aw.stride + 1;
        let extent = aw.extent();
        // Forward-conv padding TF derives from the output size; the transpose pads the rest.
        let total = ((len - 1) * aw.stride + extent).saturating_sub(out);
        let fwd_before = total / 2;
        // Row p of the padded input is dilated row p − (extent − 1 − fwd_before).
        let needed = out + extent - 1;
        if fwd_before < extent {
            y = y.pad_with_zeros(axis, extent - 1 - fwd_before, 0)?;
        } else {
            let cut = (fwd_before - (extent - 1)).min(dilated);
            y = y.narrow(axis, cut, dilated - cut)?;
        }
        let have = y.dim(axis)?;
        y = if have < needed {
            y.pad_with_zeros(axis, 0, needed - have)?
        } else {
            y.narrow(axis, 0, needed)?
        };
    }
    let stride1 = Window2d {
        h: AxisWindow { stride: 1, ..win.h },
        w: AxisWindow { stride: 1, ..win.w },
        padding: Padding::Valid,
    };
    conv2d(&y, kernel, bias, &stride1)
}
