//! Where each output pixel of a sliding window reads its input, with TensorFlow's padding.

use candle_core::Tensor;

use super::host::eligible;
use crate::error::Result;
use crate::ops::conv::Window2d;
use crate::ops::window::AxisPlan;

/// Where each output pixel reads its input: the geometry of one convolution.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Geometry {
    /// Batch, input height, width and channels.
    pub n: usize,
    pub h: usize,
    pub w: usize,
    pub c: usize,
    /// Window over the height and width axes.
    pub win: Window2d,
    /// Height and width plans (output size, padding before).
    pub rows: AxisPlan,
    pub cols: AxisPlan,
}

impl Geometry {
    /// The geometry of `win` over `x` when `x` can take a CPU fast path and the output is
    /// not empty; `None` otherwise.
    pub fn of_eligible(x: &Tensor, win: &Window2d) -> Result<Option<Geometry>> {
        if !eligible(x) {
            return Ok(None);
        }
        let g = Geometry::new(x.dims4()?, win)?;
        Ok((g.out_pixels() > 0 && g.c > 0).then_some(g))
    }

    /// Plans `win` over an NHWC input of `dims`.
    pub fn new(dims: (usize, usize, usize, usize), win: &Window2d) -> Result<Geometry> {
        let (n, h, w, c) = dims;
        Ok(Geometry {
            n,
            h,
            w,
            c,
            win: *win,
            rows: win.h.plan(h, win.padding)?,
            cols: win.w.plan(w, win.padding)?,
        })
    }

    /// Number of output pixels over the batch.
    pub fn out_pixels(&self) -> usize {
        self.n * self.rows.out * self.cols.out
    }

    /// Input row read by output row `o` at kernel row `i`, if inside the image.
    pub fn in_row(&self, o: usize, i: usize) -> Option<usize> {
        (o * self.win.h.stride + i * self.win.h.dilation)
            .checked_sub(self.rows.before)
            .filter(|&r| r < self.h)
    }

    /// Input column read by output column `o` at kernel column `j`, if inside the image.
    pub fn in_col(&self, o: usize, j: usize) -> Option<usize> {
        (o * self.win.w.stride + j * self.win.w.dilation)
            .checked_sub(self.cols.before)
            .filter(|&q| q < self.w)
    }
}
