//! Sliding-window geometry shared by convolutions and pooling: Keras/TF padding and the
//! shifted "taps" (one strided view of the input per kernel position).
//!
//! Taps are built from `pad`, `narrow` and `reshape` only, so they run on every candle device
//! and their backward pass is exact.

use candle_core::{DType, Tensor};
use keras_import::Padding;

use crate::error::{CamError, ErrorKind, Result};

/// Geometry of a window sliding over one spatial axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AxisWindow {
    /// Kernel size.
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
    /// Dilation.
    pub dilation: usize,
}

/// Where a window lands on one axis: output length and the padding before/after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AxisPlan {
    /// Output length.
    pub out: usize,
    /// Rows (or columns) padded before the input.
    pub before: usize,
    /// Rows (or columns) padded after the input.
    pub after: usize,
}

impl AxisWindow {
    /// Extent of the dilated kernel.
    pub fn extent(&self) -> usize {
        (self.kernel - 1) * self.dilation + 1
    }

    /// Plans the window over an axis of `input` elements. TF `same` puts the odd extra
    /// padding row at the end (bottom/right).
    pub fn plan(&self, input: usize, padding: Padding) -> Result<AxisPlan> {
        if self.kernel == 0 || self.stride == 0 || self.dilation == 0 {
            return Err(CamError::new(
                ErrorKind::InvalidGraph,
                format!("window {self:?} has a zero size, stride or dilation"),
            ));
        }
        let extent = self.extent();
        match padding {
            Padding::Same => {
                let out = input.div_ceil(self.stride);
                let total = ((out.max(1) - 1) * self.stride + extent).saturating_sub(input);
                Ok(AxisPlan {
                    out,
                    before: total / 2,
                    after: total - total / 2,
                })
            }
            Padding::Valid => {
                if input < extent {
                    return Err(CamError::new(
                        ErrorKind::InvalidInput,
                        format!("input size {input} is smaller than the window extent {extent}"),
                    ));
                }
                Ok(AxisPlan {
                    out: (input - extent) / self.stride + 1,
                    before: 0,
                    after: 0,
                })
            }
        }
    }
}

/// Pads `dim` of `x` with `before`/`after` copies of the constant `value`.
pub(crate) fn pad_const(
    x: &Tensor,
    dim: usize,
    before: usize,
    after: usize,
    value: f32,
) -> Result<Tensor> {
    if before == 0 && after == 0 {
        return Ok(x.clone());
    }
    if value == 0.0 {
        return Ok(x.pad_with_zeros(dim, before, after)?);
    }
    let mut parts = Vec::with_capacity(3);
    let border = |len: usize| -> Result<Tensor> {
        let mut dims = x.dims().to_vec();
        dims[dim] = len;
        Ok(Tensor::full(value, dims, x.device())?.to_dtype(DType::F32)?)
    };
    if before > 0 {
        parts.push(border(before)?);
    }
    parts.push(x.clone());
    if after > 0 {
        parts.push(border(after)?);
    }
    Ok(Tensor::cat(&parts, dim)?)
}

/// The taps of a 2-D window over an NHWC tensor: for each kernel position `(i, j)` in
/// row-major order, the `[N, Ho, Wo, C]` view of the input that position reads.
pub(crate) struct Taps {
    /// One tensor per kernel position, row-major over (kernel row, kernel column).
    pub taps: Vec<Tensor>,
    /// Output height.
    pub out_h: usize,
    /// Output width.
    pub out_w: usize,
}

/// Extracts the taps of window `(wh, ww)` with `padding` from NHWC `x`; padded cells hold
/// `pad_value`.
pub(crate) fn taps(
    x: &Tensor,
    wh: AxisWindow,
    ww: AxisWindow,
    padding: Padding,
    pad_value: f32,
) -> Result<Taps> {
    let (n, h, w, c) = x.dims4()?;
    let ph = wh.plan(h, padding)?;
    let pw = ww.plan(w, padding)?;
    let padded = pad_const(x, 1, ph.before, ph.after, pad_value)?;
    let padded = pad_const(&padded, 2, pw.before, pw.after, pad_value)?;
    let (sh, sw) = (wh.stride, ww.stride);
    let mut phases: Vec<Option<Tensor>> = vec![None; sh * sw];
    // Stride > 1: split the padded input into sh·sw phases once, so each tap is a plain
    // stride-1 window of one phase.
    let (hq, wq) = (padded.dim(1)?.div_ceil(sh), padded.dim(2)?.div_ceil(sw));
    let grid = if sh == 1 && sw == 1 {
        None
    } else {
        let g = padded
            .pad_with_zeros(1, 0, hq * sh - padded.dim(1)?)?
            .pad_with_zeros(2, 0, wq * sw - padded.dim(2)?)?;
        Some(g.reshape((n, hq, sh, wq, sw, c))?)
    };
    let mut out = Vec::with_capacity(wh.kernel * ww.kernel);
    for i in 0..wh.kernel {
        for j in 0..ww.kernel {
            let (r, q) = (i * wh.dilation, j * ww.dilation);
            let tap = match &grid {
                None => padded.narrow(1, r, ph.out)?.narrow(2, q, pw.out)?,
                Some(g) => {
                    let slot = (r % sh) * sw + (q % sw);
                    let phase = match &phases[slot] {
                        Some(p) => p.clone(),
                        None => {
                            let p = g
                                .narrow(2, r % sh, 1)?
                                .narrow(4, q % sw, 1)?
                                .reshape((n, hq, wq, c))?;
                            phases[slot] = Some(p.clone());
                            p
                        }
                    };
                    phase.narrow(1, r / sh, ph.out)?.narrow(2, q / sw, pw.out)?
                }
            };
            out.push(tap);
        }
    }
    Ok(Taps {
        taps: out,
        out_h: ph.out,
        out_w: pw.out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn same_padding_puts_the_extra_row_at_the_end() {
        let w = AxisWindow {
            kernel: 3,
            stride: 2,
            dilation: 1,
        };
        // 8 rows, stride 2: out 4, total padding (4-1)*2 + 3 - 8 = 1, all after.
        assert_eq!(
            w.plan(8, Padding::Same).unwrap(),
            AxisPlan {
                out: 4,
                before: 0,
                after: 1
            }
        );
        // 7 rows: out 4, total (3*2 + 3) - 7 = 2 split 1/1.
        assert_eq!(
            w.plan(7, Padding::Same).unwrap(),
            AxisPlan {
                out: 4,
                before: 1,
                after: 1
            }
        );
        assert_eq!(
            w.plan(7, Padding::Valid).unwrap(),
            AxisPlan {
                out: 3,
                before: 0,
                after: 0
            }
        );
        assert!(w.plan(2, Padding::Valid).is_err());
    }

    #[test]
    fn strided_taps_read_the_right_cells() {
        // A 1×5×5×1 ramp; 3×3 window, stride 2, valid: tap (i, j) at output (a, b) reads
        // cell (2a + i, 2b + j).
        let x = Tensor::arange(0f32, 25.0, &Device::Cpu)
            .unwrap()
            .reshape((1, 5, 5, 1))
            .unwrap();
        let w = AxisWindow {
            kernel: 3,
            stride: 2,
            dilation: 1,
        };
        let t = taps(&x, w, w, Padding::Valid, 0.0).unwrap();
        assert_eq!((t.out_h, t.out_w), (2, 2));
        for i in 0..3 {
            for j in 0..3 {
                let got = t.taps[i * 3 + j]
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap();
                let want: Vec<f32> = [(0, 0), (0, 1), (1, 0), (1, 1)]
                    .iter()
                    .map(|&(a, b)| ((2 * a + i) * 5 + 2 * b + j) as f32)
                    .collect();
                assert_eq!(got, want, "tap ({i}, {j})");
            }
        }
    }
}
