//! Depthwise 2-D convolution on NHWC host data, computed directly: each output pixel sums
//! its kernel positions' input pixels scaled by per-channel weights (a loop over the
//! contiguous channel axis that vectorises), with bias and activation fused; output rows are
//! spread over all cores.

use candle_core::Tensor;
use rayon::prelude::*;

use super::epilogue::{fill_bias, Epilogue};
use super::geometry::{Geometry, ZeroPad};
use super::host::{tensor, with_host, zeroed};
use crate::error::Result;
use crate::ops::conv::Window2d;

/// `acc[c] += x[c] · w[c]` over the channel axis.
fn multiply_add(acc: &mut [f32], x: &[f32], w: &[f32]) {
    for ((a, x), w) in acc.iter_mut().zip(x).zip(w) {
        *a += x * w;
    }
}

/// One output image row (`Wo × C`) of batch item `b`, output row `oh`.
fn output_row(x: &[f32], g: &Geometry, weights: &[f32], b: usize, oh: usize, dst: &mut [f32]) {
    let (c, kh, kw) = (g.c, g.win.h.kernel, g.win.w.kernel);
    for (ow, acc) in dst.chunks_exact_mut(c).enumerate() {
        for i in 0..kh {
            let Some(ih) = g.in_row(oh, i) else { continue };
            for j in 0..kw {
                let Some(iw) = g.in_col(ow, j) else { continue };
                let at = ((b * g.h + ih) * g.w + iw) * c;
                let p = i * kw + j;
                multiply_add(acc, &x[at..at + c], &weights[p * c..(p + 1) * c]);
            }
        }
    }
}

/// Depthwise convolution of NHWC `x`, zero-padded by `pad`, with `kernel [kh·kw, C]` (one
/// channel per output channel) on the CPU fast path, with the bias and `epilogue` fused; `None` when `x` is not
/// eligible.
pub(crate) fn depthwise_conv2d(
    x: &Tensor,
    kernel: &Tensor,
    bias: Option<&Tensor>,
    win: &Window2d,
    pad: ZeroPad,
    epilogue: Epilogue,
) -> Result<Option<Tensor>> {
    let Some(g) = Geometry::of_eligible(x, win, pad)? else {
        return Ok(None);
    };
    if kernel.dims() != [win.positions(), g.c] || bias.is_some_and(|b| b.dims() != [g.c]) {
        return Ok(None);
    }
    let (oh_n, ow_n) = (g.rows.out, g.cols.out);
    let mut inputs = vec![x, kernel];
    inputs.extend(bias);
    let out = with_host(&inputs, |h| {
        let (xs, ws, bs) = (h[0], h[1], h.get(2).copied());
        let mut out = zeroed(g.out_pixels() * g.c);
        out.par_chunks_mut(ow_n * g.c)
            .enumerate()
            .for_each(|(row, dst)| {
                fill_bias(dst, bs, g.c);
                output_row(xs, &g, ws, row / oh_n, row % oh_n, dst);
                epilogue.apply(dst);
            });
        out
    })?;
    let Some(out) = out else {
        return Ok(None);
    };
    Ok(Some(tensor(out, &[g.n, oh_n, ow_n, g.c])?))
}
