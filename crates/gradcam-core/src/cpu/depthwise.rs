//! Depthwise 2-D convolution on NHWC host data, computed directly: each output pixel sums
//! its kernel positions' input pixels scaled by per-channel weights (a loop over the
//! contiguous channel axis that vectorises), with bias and activation fused; output rows are
//! spread over all cores.

use candle_core::Tensor;

use super::epilogue::Epilogue;
use super::geometry::{Geometry, ZeroPad};
use super::host::{par_chunks_filled, tensor, with_host};
use super::LANES;
use crate::error::Result;
use crate::ops::conv::Window2d;

/// `acc[k] = bias[k] + Σ x[k] · w[k]` over the `(x, w)` of `taps`, in tap order, `LANES`
/// channels at a time so that the sum stays in a register across the taps.
fn accumulate(acc: &mut [f32], bias: Option<&[f32]>, taps: &[(&[f32], &[f32])]) {
    let full = acc.len() / LANES * LANES;
    for start in (0..full).step_by(LANES) {
        let lanes = start..start + LANES;
        let mut sum = match bias {
            Some(b) => b[lanes.clone()].try_into().expect("LANES values"),
            None => [0f32; LANES],
        };
        for (x, w) in taps {
            for ((s, x), w) in sum.iter_mut().zip(&x[lanes.clone()]).zip(&w[lanes.clone()]) {
                *s += x * w;
            }
        }
        acc[lanes].copy_from_slice(&sum);
    }
    for (k, a) in acc.iter_mut().enumerate().skip(full) {
        *a = bias.map_or(0.0, |b| b[k]);
        for (x, w) in taps {
            *a += x[k] * w[k];
        }
    }
}

/// [`accumulate`] for a pixel whose kernel columns all fall inside the image: tap `(i, j)`
/// of input row `(i, src)` of `rows` reads `src` from `first + j·step`, with weight row
/// `i·kw + j`. Offsets instead of a tap list: no per-pixel bookkeeping. (Building the tap
/// list by offset and calling [`accumulate`] instead measured 10–15% slower on MobileNetV2's
/// depthwise layers at batch 16.)
fn accumulate_inside(
    acc: &mut [f32],
    bias: Option<&[f32]>,
    rows: &[(usize, &[f32])],
    (first, step, kw): (usize, usize, usize),
    weights: &[f32],
) {
    let c = acc.len();
    let full = c / LANES * LANES;
    for start in (0..full).step_by(LANES) {
        let mut sum: [f32; LANES] = match bias {
            Some(b) => b[start..start + LANES].try_into().expect("LANES values"),
            None => [0f32; LANES],
        };
        for &(i, src) in rows {
            for j in 0..kw {
                let at = first + j * step + start;
                let x: &[f32; LANES] = src[at..at + LANES].try_into().expect("LANES values");
                let p = (i * kw + j) * c + start;
                let w: &[f32; LANES] = weights[p..p + LANES].try_into().expect("LANES values");
                for ((s, x), w) in sum.iter_mut().zip(x).zip(w) {
                    *s += x * w;
                }
            }
        }
        acc[start..start + LANES].copy_from_slice(&sum);
    }
    for (k, a) in acc.iter_mut().enumerate().skip(full) {
        *a = bias.map_or(0.0, |b| b[k]);
        for &(i, src) in rows {
            for j in 0..kw {
                *a += src[first + j * step + k] * weights[(i * kw + j) * c + k];
            }
        }
    }
}

/// Output columns whose every kernel column falls inside the image.
fn inside_columns(g: &Geometry) -> std::ops::Range<usize> {
    let (s, d, k) = (g.win.w.stride, g.win.w.dilation, g.win.w.kernel);
    let first = g.cols.before.div_ceil(s);
    // The last column read, ow·s + (k−1)·d − before, must be at most w − 1.
    let end = (g.w + g.cols.before)
        .checked_sub((k - 1) * d + 1)
        .map_or(0, |reach| reach / s + 1);
    first..end.min(g.cols.out).max(first)
}

/// A depthwise kernel and bias as host data.
#[derive(Clone, Copy)]
pub(super) struct HostWeights<'a> {
    /// `[kh·kw, C]`.
    pub weights: &'a [f32],
    /// `[C]`.
    pub bias: Option<&'a [f32]>,
}

/// Output row `oh` (`Wo × C`) of one image, whose input row `ih` (`W × C`) is `row(ih)`, with
/// weights `w`, before the activation.
pub(super) fn output_row<'a>(
    row: impl Fn(usize) -> &'a [f32],
    g: &Geometry,
    w: HostWeights<'_>,
    oh: usize,
    dst: &mut [f32],
) {
    let HostWeights { weights, bias } = w;
    let (c, kh, kw) = (g.c, g.win.h.kernel, g.win.w.kernel);
    let rows: Vec<(usize, &[f32])> = (0..kh)
        .filter_map(|i| g.in_row(oh, i).map(|ih| (i, row(ih))))
        .collect();
    let inside = inside_columns(g);
    let step = g.win.w.dilation * c;
    let mut taps = Vec::with_capacity(kh * kw);
    for (ow, acc) in dst.chunks_exact_mut(c).enumerate() {
        if inside.contains(&ow) {
            let first = (ow * g.win.w.stride - g.cols.before) * c;
            accumulate_inside(acc, bias, &rows, (first, step, kw), weights);
            continue;
        }
        taps.clear();
        for &(i, src) in &rows {
            for j in 0..kw {
                let Some(iw) = g.in_col(ow, j) else { continue };
                let p = i * kw + j;
                taps.push((&src[iw * c..(iw + 1) * c], &weights[p * c..(p + 1) * c]));
            }
        }
        accumulate(acc, bias, &taps);
    }
}

/// A depthwise convolution's weights: `kernel [kh·kw, C]` (one channel per output channel)
/// and bias `[C]`.
#[derive(Clone, Copy)]
pub(crate) struct DepthwiseWeights<'a> {
    /// One row of channel weights per kernel position.
    pub kernel: &'a Tensor,
    /// Bias `[C]`.
    pub bias: Option<&'a Tensor>,
}

/// Depthwise convolution of NHWC `x`, zero-padded by `pad`, with `w` on the CPU fast path,
/// with the bias and `epilogue` fused; `None` when `x` is not eligible.
pub(crate) fn depthwise_conv2d(
    x: &Tensor,
    w: DepthwiseWeights<'_>,
    win: &Window2d,
    pad: ZeroPad,
    epilogue: Epilogue,
) -> Result<Option<Tensor>> {
    let Some(g) = Geometry::of_eligible(x, win, pad)? else {
        return Ok(None);
    };
    let (kernel, bias) = (w.kernel, w.bias);
    if kernel.dims() != [win.positions(), g.c] || bias.is_some_and(|b| b.dims() != [g.c]) {
        return Ok(None);
    }
    let (oh_n, ow_n) = (g.rows.out, g.cols.out);
    let mut inputs = vec![x, kernel];
    inputs.extend(bias);
    let out = with_host(&inputs, |h| {
        let (xs, ws, bs) = (h[0], h[1], h.get(2).copied());
        par_chunks_filled(g.out_pixels() * g.c, ow_n * g.c, |row, dst| {
            let image = row / oh_n * g.h * g.w * g.c;
            let input_row = |ih: usize| &xs[image + ih * g.w * g.c..][..g.w * g.c];
            output_row(
                input_row,
                &g,
                HostWeights {
                    weights: ws,
                    bias: bs,
                },
                row % oh_n,
                dst,
            );
            epilogue.apply(dst);
        })
    })?;
    let Some(out) = out else {
        return Ok(None);
    };
    Ok(Some(tensor(out, &[g.n, oh_n, ow_n, g.c])?))
}
