//! A 1×1 "expansion" convolution and the depthwise convolution that alone reads it, as one
//! kernel (the inverted residual blocks of MobileNetV2 and EfficientNet). The output rows are
//! cut into bands; each task expands only the input rows its band reads, into a buffer that
//! stays in cache, and convolves them there, so the expanded tensor (the largest of these
//! networks, 77 MB for MobileNetV2's `block_1_expand` at batch 16) never goes to memory.
//! The input rows shared by two bands are expanded twice (under a quarter more work for the
//! expansion), in exchange for that traffic.

use std::ops::Range;

use candle_core::Tensor;
use rayon::prelude::*;

use super::depthwise::{output_row, DepthwiseWeights, HostWeights};
use super::epilogue::Epilogue;
use super::geometry::{Geometry, ZeroPad};
use super::host::{eligible, tensor, with_host, zeroed};
use super::matmul::matmul_into;
use super::threads;
use crate::error::Result;
use crate::ops::conv::Window2d;

/// A 1×1 stride-1 convolution `[C, E]` with its bias and activation.
pub(crate) struct Expansion<'a> {
    /// Kernel `[C, E]`.
    pub kernel: &'a Tensor,
    /// Bias `[E]`.
    pub bias: Option<&'a Tensor>,
    /// Activation applied to the expanded values.
    pub epilogue: Epilogue,
}

/// Expanded tensors below this many values (8 MB) stay in the caches anyway: they are
/// computed whole, by the two layers' own kernels.
const MIN_EXPANDED: usize = 2 * 1024 * 1024;

/// Whether expanding NHWC `x` to `e` channels is worth fusing into the depthwise convolution
/// that reads it: an input the fast path takes, and an expanded tensor too large to stay in
/// cache.
pub(crate) fn expansion_pays(x: &Tensor, e: usize) -> bool {
    match x.dims() {
        [n, h, w, _] => eligible(x) && n * h * w * e >= MIN_EXPANDED,
        _ => false,
    }
}

/// Expanded values a band may hold: 128 Ki floats (512 KiB), a quarter of a core's L2 here.
const BAND_FLOATS: usize = 128 * 1024;

/// The input rows output rows `rows` read (empty when they read only padding).
fn input_rows(g: &Geometry, rows: &Range<usize>) -> Range<usize> {
    let (s, d, k) = (g.win.h.stride, g.win.h.dilation, g.win.h.kernel);
    let first = (rows.start * s).saturating_sub(g.rows.before).min(g.h);
    let end = ((rows.end - 1) * s + (k - 1) * d + 1)
        .saturating_sub(g.rows.before)
        .min(g.h);
    first..end.max(first)
}

/// Output rows per band: as many as keep the band's expanded rows within [`BAND_FLOATS`],
/// while leaving a few bands per core.
fn band_rows(g: &Geometry, threads: usize) -> usize {
    let (s, d, k) = (g.win.h.stride, g.win.h.dilation, g.win.h.kernel);
    let fit = (BAND_FLOATS / (g.w * g.c).max(1)).saturating_sub((k - 1) * d + 1) / s + 1;
    let spread = (g.n * g.rows.out).div_ceil(4 * threads);
    fit.min(spread).clamp(1, g.rows.out.max(1))
}

/// The depthwise convolution (`depthwise`, a `[kh·kw, E]` kernel and its bias, `win` over the input zero-padded by
/// `pad`, `epilogue`) of `expansion` applied to NHWC `x`, on the CPU fast path; `None` when
/// `x` is not eligible or a shape does not fit (the caller then runs the two layers apart).
pub(crate) fn expanded_depthwise_conv2d(
    x: &Tensor,
    expansion: &Expansion<'_>,
    depthwise: DepthwiseWeights<'_>,
    win: &Window2d,
    pad: ZeroPad,
    epilogue: Epilogue,
) -> Result<Option<Tensor>> {
    if !eligible(x) {
        return Ok(None);
    }
    let (kernel, bias) = (depthwise.kernel, depthwise.bias);
    let (n, h, w, c) = x.dims4()?;
    let Ok((kc, e)) = expansion.kernel.dims2() else {
        return Ok(None);
    };
    let g = Geometry::new((n, h, w, e), win, pad)?;
    let fits = kc == c
        && e > 0
        && g.out_pixels() > 0
        && expansion.bias.is_none_or(|b| b.dims() == [e])
        && kernel.dims() == [win.positions(), e]
        && bias.is_none_or(|b| b.dims() == [e]);
    if !fits {
        return Ok(None);
    }
    let mut inputs = vec![x, expansion.kernel, kernel];
    inputs.extend(expansion.bias);
    inputs.extend(bias);
    let has_expansion_bias = expansion.bias.is_some();
    let out = with_host(&inputs, |hs| {
        let mut rest = hs[3..].iter().copied();
        let expansion_bias = if has_expansion_bias {
            rest.next()
        } else {
            None
        };
        let job = Job {
            x: hs[0],
            g: &g,
            c,
            expansion: (hs[1], expansion_bias, expansion.epilogue),
            depthwise: (hs[2], rest.next(), epilogue),
        };
        job.run(band_rows(&g, threads()))
    })?;
    let Some(out) = out else {
        return Ok(None);
    };
    Ok(Some(tensor(out, &[n, g.rows.out, g.cols.out, e])?))
}

/// Host data of one fused convolution.
struct Job<'a> {
    x: &'a [f32],
    /// The depthwise geometry (over the expanded channels).
    g: &'a Geometry,
    /// Input channels.
    c: usize,
    /// Expansion kernel, bias and activation.
    expansion: (&'a [f32], Option<&'a [f32]>, Epilogue),
    /// Depthwise kernel, bias and activation.
    depthwise: (&'a [f32], Option<&'a [f32]>, Epilogue),
}

impl Job<'_> {
    /// Computes the output in bands of `band` output rows, in parallel.
    fn run(&self, band: usize) -> Vec<f32> {
        let g = self.g;
        let row_len = g.cols.out * g.c;
        let mut out = zeroed(g.out_pixels() * g.c);
        let mut bands = Vec::new();
        for (b, image) in out.chunks_mut(g.rows.out * row_len).enumerate() {
            for (k, rows) in image.chunks_mut(band * row_len).enumerate() {
                let first = k * band;
                bands.push((b, first..first + rows.len() / row_len, rows));
            }
        }
        bands
            .into_par_iter()
            .for_each_init(Vec::new, |expanded, (b, rows, dst)| {
                self.band(b, rows, dst, expanded);
            });
        out
    }

    /// Output rows `rows` of image `b` into `dst`, expanding the input rows they read into
    /// `expanded`.
    fn band(&self, b: usize, rows: Range<usize>, dst: &mut [f32], expanded: &mut Vec<f32>) {
        let (g, c, e) = (self.g, self.c, self.g.c);
        let read = input_rows(g, &rows);
        let (kernel, bias, activation) = self.expansion;
        let m = read.len() * g.w;
        expanded.resize(m * e, 0.0);
        let first = (b * g.h + read.start) * g.w * c;
        matmul_into(
            expanded,
            &self.x[first..first + m * c],
            kernel,
            (m, c, e),
            false,
            1,
        );
        activation.apply_biased(expanded, bias, e);
        let (weights, bias, activation) = self.depthwise;
        let row_len = g.w * e;
        let input_row = |ih: usize| &expanded[(ih - read.start) * row_len..][..row_len];
        for (oh, dst) in rows.zip(dst.chunks_exact_mut(g.cols.out * e)) {
            output_row(input_row, g, HostWeights { weights, bias }, oh, dst);
            activation.apply(dst);
        }
    }
}
