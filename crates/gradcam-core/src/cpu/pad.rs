//! Zero padding of NHWC host data: each input row is copied once into a zeroed output.

use candle_core::Tensor;

use super::host::{eligible, par_chunks_filled, tensor, with_host};
use crate::error::Result;

/// ZeroPadding2D of NHWC `x` by `[[top, bottom], [left, right]]` on the CPU fast path;
/// `None` when `x` is not eligible.
pub(crate) fn zero_pad(x: &Tensor, padding: [[usize; 2]; 2]) -> Result<Option<Tensor>> {
    if !eligible(x) {
        return Ok(None);
    }
    let (n, h, w, c) = x.dims4()?;
    let [[top, bottom], [left, right]] = padding;
    let (ho, wo) = (h + top + bottom, w + left + right);
    if n * ho * wo * c == 0 {
        return Ok(None);
    }
    let out = with_host(&[x], |hs| {
        let xs = hs[0];
        par_chunks_filled(n * ho * wo * c, wo * c, |row, dst| {
            let (b, r) = (row / ho, row % ho);
            if r < top || r >= top + h {
                return;
            }
            let at = (b * h + r - top) * w * c;
            dst[left * c..(left + w) * c].copy_from_slice(&xs[at..at + w * c]);
        })
    })?;
    let Some(out) = out else {
        return Ok(None);
    };
    Ok(Some(tensor(out, &[n, ho, wo, c])?))
}
