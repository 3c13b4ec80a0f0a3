//! Max pooling on NHWC host data, computed directly (one pass over each window, the channel
//! axis innermost); padding cells never win, as in TensorFlow.

use candle_core::Tensor;

use super::geometry::{Geometry, NO_PAD};
use super::host::{par_chunks_filled, tensor, with_host};
use crate::error::Result;
use crate::ops::conv::Window2d;

/// One output image row (`Wo × C`) of batch item `b`, output row `oh`.
fn output_row(x: &[f32], g: &Geometry, b: usize, oh: usize, dst: &mut [f32]) {
    let (c, kh, kw) = (g.c, g.win.h.kernel, g.win.w.kernel);
    for (ow, acc) in dst.chunks_exact_mut(c).enumerate() {
        acc.fill(f32::MIN);
        for i in 0..kh {
            let Some(ih) = g.in_row(oh, i) else { continue };
            for j in 0..kw {
                let Some(iw) = g.in_col(ow, j) else { continue };
                let at = ((b * g.h + ih) * g.w + iw) * c;
                for (a, &v) in acc.iter_mut().zip(&x[at..at + c]) {
                    *a = a.max(v);
                }
            }
        }
    }
}

/// MaxPooling2D of NHWC `x` over `win` on the CPU fast path; `None` when `x` is not eligible.
pub(crate) fn max_pool(x: &Tensor, win: &Window2d) -> Result<Option<Tensor>> {
    let Some(g) = Geometry::of_eligible(x, win, NO_PAD)? else {
        return Ok(None);
    };
    let (oh_n, ow_n) = (g.rows.out, g.cols.out);
    let out = with_host(&[x], |h| {
        par_chunks_filled(g.out_pixels() * g.c, ow_n * g.c, |row, dst| {
            output_row(h[0], &g, row / oh_n, row % oh_n, dst)
        })
    })?;
    let Some(out) = out else {
        return Ok(None);
    };
    Ok(Some(tensor(out, &[g.n, oh_n, ow_n, g.c])?))
}
