//! Dense 2-D convolution on NHWC host data: the output rows (one per output pixel) are cut
//! into tiles; each task builds its tile's im2col block once (one contiguous copy of C
//! values per kernel position, zeros for padding) and multiplies it by the `[kh·kw·C, O]`
//! kernel with `gemm`, starting from the bias, then applies the activation.

use std::borrow::Cow;

use candle_core::Tensor;
use rayon::prelude::*;

use super::epilogue::Epilogue;
use super::geometry::{Geometry, ZeroPad};
use super::host::{eligible, par_chunks_filled, par_chunks_filled_with, tensor, with_host, zeroed};
use super::matmul::{matmul_columns_into, matmul_into};
use super::panels;
use super::threads;
use super::winograd::{self, KeptTransform};
use super::KernelLayout;
use crate::error::Result;
use crate::ops::conv::Window2d;

/// Writes the im2col rows of output pixels `first..first + count` into `block`
/// (`count × kh·kw·C`). With no dilation, a kernel row whose taps all fall inside the image
/// reads `kw·C` contiguous input values: one copy instead of `kw` (the 7×7 stem's C = 3 made
/// a call per 3 values).
fn im2col(x: &[f32], g: &Geometry, first: usize, count: usize, block: &mut [f32]) {
    let (c, kh, kw) = (g.c, g.win.h.kernel, g.win.w.kernel);
    let width = kh * kw * c;
    let (oh_n, ow_n) = (g.rows.out, g.cols.out);
    let span = kw * c;
    for (r, row) in block.chunks_exact_mut(width).take(count).enumerate() {
        let m = first + r;
        let (b, rest) = (m / (oh_n * ow_n), m % (oh_n * ow_n));
        let (oh, ow) = (rest / ow_n, rest % ow_n);
        let whole_row = g.win.w.dilation == 1
            && matches!((g.in_col(ow, 0), g.in_col(ow, kw - 1)), (Some(_), Some(_)));
        for (i, dst_row) in row.chunks_exact_mut(span).enumerate() {
            let Some(ih) = g.in_row(oh, i) else {
                dst_row.fill(0.0);
                continue;
            };
            let line = (b * g.h + ih) * g.w;
            if let (true, Some(iw)) = (whole_row, g.in_col(ow, 0)) {
                dst_row.copy_from_slice(&x[(line + iw) * c..(line + iw) * c + span]);
                continue;
            }
            for (j, dst) in dst_row.chunks_exact_mut(c).enumerate() {
                match g.in_col(ow, j) {
                    Some(iw) => dst.copy_from_slice(&x[(line + iw) * c..(line + iw + 1) * c]),
                    None => dst.fill(0.0),
                }
            }
        }
    }
}

/// Output rows per task when the rows are split: each `gemm` call packs the whole `[K, O]`
/// kernel once, so a task needs a few hundred rows for that to be cheap.
const TILE_ROWS: usize = 256;

/// Output rows per task for `m` rows over `threads` cores: about [`TILE_ROWS`], with a
/// number of tasks that is a multiple of `threads` so that every core gets the same share
/// (784 rows over 2 cores: 4 tasks of 196, not 3 of 256 and one of 16).
fn balanced_tile_rows(m: usize, threads: usize) -> usize {
    let tasks = m.div_ceil(TILE_ROWS).next_multiple_of(threads.max(1));
    m.div_ceil(tasks).max(1)
}

/// Columns of the smallest column block when a short product is split by columns.
const MIN_BLOCK_COLS: usize = 32;

/// Output rows per task when column blocks are gathered into the output.
const GATHER_ROWS: usize = 64;

/// The product of a convolution: host input, geometry, kernel, bias, output channels.
struct Product<'a> {
    x: &'a [f32],
    g: &'a Geometry,
    /// `[kh·kw·C, O]` rows, or `[O / 64, C, 64]` panels when `arranged`.
    kernel: &'a [f32],
    arranged: bool,
    bias: Option<&'a [f32]>,
    /// A tensor of the output's shape added before the activation (a residual sum).
    residual: Option<&'a [f32]>,
    out_c: usize,
    epilogue: Epilogue,
    /// Where the kernel's Winograd transform is kept between calls, if the layer keeps one.
    kept: Option<&'a KeptTransform>,
}

impl Product<'_> {
    /// Kernel rows: kh·kw·C.
    fn depth(&self) -> usize {
        self.g.win.positions() * self.g.c
    }

    /// Whether the input rows are already the im2col rows (1×1, stride 1, no padding on
    /// any side, so one output pixel per input pixel).
    fn pointwise(&self) -> bool {
        let g = self.g;
        g.win.positions() == 1
            && g.win.h.stride == 1
            && g.win.w.stride == 1
            && g.rows.before == 0
            && g.cols.before == 0
            && g.rows.out == g.h
            && g.cols.out == g.w
    }

    /// Many output rows: tiles of rows in parallel, each with its own im2col block and one
    /// single-threaded `gemm` over all output channels.
    fn by_rows(&self) -> Vec<f32> {
        let (k, out_c) = (self.depth(), self.out_c);
        let m = self.g.out_pixels();
        let tile_rows = balanced_tile_rows(m, threads());
        par_chunks_filled_with(m * out_c, tile_rows * out_c, Vec::new, |block, t, dst| {
            let first = t * tile_rows;
            let rows = dst.len() / out_c;
            let lhs = if self.pointwise() {
                &self.x[first * k..(first + rows) * k]
            } else {
                block.resize(rows * k, 0.0);
                im2col(self.x, self.g, first, rows, block);
                &block[..rows * k]
            };
            if self.arranged {
                let all = 0..panels::count(out_c);
                panels::multiply(dst, out_c, lhs, (rows, k, out_c), self.kernel, all);
            } else {
                matmul_into(dst, lhs, self.kernel, (rows, k, out_c), false, 1);
            }
            let residual = self.residual.map(|r| &r[first * out_c..][..dst.len()]);
            self.epilogue.apply_summed(dst, self.bias, residual, out_c);
        })
    }

    /// Few output rows (late, weight-heavy layers at batch 1): the im2col rows built by all
    /// cores, the output channels split into column blocks computed in parallel (so that each
    /// thread packs only its share of the kernel), then the blocks gathered into the output
    /// rows by all cores, with the bias, residual and activation applied on the way.
    fn by_columns(&self, blocks: usize) -> Vec<f32> {
        let (m, k, out_c) = (self.g.out_pixels(), self.depth(), self.out_c);
        let block;
        let lhs = if self.pointwise() {
            &self.x[..m * k]
        } else {
            let rows = m.div_ceil(threads()).max(1);
            block = par_chunks_filled(m * k, rows * k, |t, part| {
                im2col(self.x, self.g, t * rows, part.len() / k, part);
            });
            &block
        };
        // Blocks of whole panels when the kernel is held as panels.
        let align = if self.arranged { panels::WIDTH } else { 16 };
        let width = out_c.div_ceil(blocks).next_multiple_of(align);
        let parts: Vec<Vec<f32>> = (0..out_c.div_ceil(width))
            .into_par_iter()
            .map(|b| {
                let cols = b * width..((b + 1) * width).min(out_c);
                let mut part = vec![0f32; m * cols.len()];
                let dims = (m, k, out_c);
                if self.arranged {
                    let range = cols.start / panels::WIDTH..cols.end.div_ceil(panels::WIDTH);
                    panels::multiply(&mut part, cols.len(), lhs, dims, self.kernel, range);
                } else {
                    matmul_columns_into(&mut part, lhs, self.kernel, dims, cols, false, 1);
                }
                part
            })
            .collect();
        let rows = GATHER_ROWS.min(m.div_ceil(threads()).max(1));
        par_chunks_filled(m * out_c, rows * out_c, |t, dst| {
            let first = t * rows;
            for (r, row) in dst.chunks_exact_mut(out_c).enumerate() {
                for (b, part) in parts.iter().enumerate() {
                    let w = part.len() / m;
                    row[b * width..b * width + w]
                        .copy_from_slice(&part[(first + r) * w..(first + r + 1) * w]);
                }
            }
            let residual = self.residual.map(|res| &res[first * out_c..][..dst.len()]);
            self.epilogue.apply_summed(dst, self.bias, residual, out_c);
        })
    }

    /// Runs the convolution.
    fn run(&self) -> Vec<f32> {
        let m = self.g.out_pixels();
        let threads = threads();
        let row_tiles = m.div_ceil(TILE_ROWS);
        let (c, o) = (self.g.c, self.out_c);
        let kept = self.kept.filter(|_| KeptTransform::keeps(c, o));
        if winograd::pays(self.g, o, kept.is_some()) {
            let u = match kept {
                Some(k) => k.of(self.kernel, c, o),
                None => Cow::Owned(winograd::transformed_kernel(self.kernel, c, o)),
            };
            let mut out = zeroed(m * o);
            let job = winograd::Job {
                x: self.x,
                g: self.g,
                bias: self.bias,
                residual: self.residual,
                out_c: o,
                epilogue: self.epilogue,
            };
            winograd::convolve(winograd::Split::of(self.g, threads), &job, &u, &mut out);
            out
        } else if row_tiles >= 2 * threads || threads == 1 {
            self.by_rows()
        } else {
            // One block per thread: each block packs the whole im2col block once more.
            let blocks = threads.min(self.out_c.div_ceil(MIN_BLOCK_COLS)).max(1);
            self.by_columns(blocks)
        }
    }
}

/// A dense convolution's weights as the CPU kernel reads them.
#[derive(Clone, Copy)]
pub(crate) struct ConvWeights<'a> {
    /// `[kh·kw·C, O]` rows, or a 1×1 kernel's `[O / 64, C, 64]` panels.
    pub kernel: &'a Tensor,
    /// How `kernel` is laid out (never [`KernelLayout::Grouped`] here).
    pub layout: KernelLayout,
    /// Bias `[O]`.
    pub bias: Option<&'a Tensor>,
    /// Where the kernel's Winograd transform is kept, when the layer keeps it.
    pub kept: Option<&'a KeptTransform>,
}

/// What a convolution kernel does to each output tile while it is in cache.
#[derive(Clone, Copy)]
pub(crate) struct Finish<'a> {
    /// A tensor of the output's shape added before the activation (a residual sum).
    pub residual: Option<&'a Tensor>,
    /// The activation applied last.
    pub epilogue: Epilogue,
}

impl Finish<'_> {
    /// Only an activation.
    pub fn with(epilogue: Epilogue) -> Finish<'static> {
        Finish {
            residual: None,
            epilogue,
        }
    }
}

/// Dense convolution of NHWC `x`, zero-padded by `pad`, with `w` on the CPU fast path, with
/// the bias, residual and epilogue of `finish` fused; `None` when `x` or the residual is not
/// eligible, or the layout is grouped.
pub(crate) fn conv2d(
    x: &Tensor,
    w: ConvWeights<'_>,
    win: &Window2d,
    pad: ZeroPad,
    finish: Finish<'_>,
) -> Result<Option<Tensor>> {
    let Some(g) = Geometry::of_eligible(x, win, pad)? else {
        return Ok(None);
    };
    let (kernel, bias, kept, residual, epilogue) =
        (w.kernel, w.bias, w.kept, finish.residual, finish.epilogue);
    let (k, out_c, arranged) = match (w.layout, kernel.dims()) {
        (KernelLayout::Rows, &[k, o]) => (k, o, false),
        (KernelLayout::Panels, &[p, k, panels::WIDTH]) if g.win.positions() == 1 => {
            (k, p * panels::WIDTH, true)
        }
        _ => return Ok(None),
    };
    let out_dims = [g.n, g.rows.out, g.cols.out, out_c];
    // A mismatch is left to the generic path, which reports it.
    let fits = k == g.win.positions() * g.c
        && out_c > 0
        && bias.is_none_or(|b| b.dims() == [out_c])
        && residual.is_none_or(|r| eligible(r) && r.dims() == out_dims);
    if !fits {
        return Ok(None);
    }
    let mut inputs = vec![x, kernel];
    inputs.extend(residual);
    inputs.extend(bias);
    let out = with_host(&inputs, |h| {
        let mut rest = h[2..].iter().copied();
        let residual = residual.and_then(|_| rest.next());
        Product {
            x: h[0],
            g: &g,
            kernel: h[1],
            arranged,
            bias: rest.next(),
            residual,
            out_c,
            epilogue,
            kept,
        }
        .run()
    })?;
    let Some(out) = out else {
        return Ok(None);
    };
    Ok(Some(tensor(out, &out_dims)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_tiles_give_every_core_the_same_share() {
        for (m, threads, want) in [(784, 2, 196), (3136, 2, 224), (49, 2, 25), (256, 1, 256)] {
            assert_eq!(
                balanced_tile_rows(m, threads),
                want,
                "{m} rows, {threads} threads"
            );
        }
        for m in 1..3000 {
            for threads in 1..5 {
                let rows = balanced_tile_rows(m, threads);
                let tasks = m.div_ceil(rows);
                assert!(
                    rows <= TILE_ROWS && rows * tasks >= m,
                    "{m} rows, {threads} threads"
                );
                // The tasks split into whole rounds of `threads` except for a short tail.
                assert!(tasks % threads == 0 || m < threads * rows, "{m}, {threads}");
            }
        }
    }
}
