//! Where each output pixel of a sliding window reads its input, with TensorFlow's padding.

use candle_core::Tensor;

use super::host::eligible;
use crate::error::Result;
use crate::ops::conv::Window2d;
use crate::ops::window::{AxisPlan, AxisWindow};

/// Zero padding `[[top, bottom], [left, right]]` of a ZeroPadding2D layer folded into the
/// window that reads it.
pub(crate) type ZeroPad = [[usize; 2]; 2];

/// No folded zero padding.
pub(crate) const NO_PAD: ZeroPad = [[0, 0], [0, 0]];

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
    /// The geometry of `win` over `x` zero-padded by `pad`, when `x` can take a CPU fast
    /// path and the output is not empty; `None` otherwise.
    pub fn of_eligible(x: &Tensor, win: &Window2d, pad: ZeroPad) -> Result<Option<Geometry>> {
        if !eligible(x) {
            return Ok(None);
        }
        let g = Geometry::new(x.dims4()?, win, pad)?;
        Ok((g.out_pixels() > 0 && g.c > 0).then_some(g))
    }

    /// Plans `win` over an NHWC input of `dims` zero-padded by `pad` (padded cells, like
    /// the window's own padding, read as zeros, so they are skipped).
    pub fn new(
        dims: (usize, usize, usize, usize),
        win: &Window2d,
        pad: ZeroPad,
    ) -> Result<Geometry> {
        let (n, h, w, c) = dims;
        let plan = |aw: AxisWindow, len: usize, [before, after]: [usize; 2]| -> Result<AxisPlan> {
            let p = aw.plan(len + before + after, win.padding)?;
            Ok(AxisPlan {
                out: p.out,
                before: p.before + before,
                after: p.after + after,
            })
        };
        Ok(Geometry {
            n,
            h,
            w,
            c,
            win: *win,
            rows: plan(win.h, h, pad[0])?,
            cols: plan(win.w, w, pad[1])?,
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
