//! Zero padding of NHWC host data: each input row is copied once into a zeroed output.

use candle_core::Tensor;
use rayon::prelude::*;

use super::host::{eligible, tensor, with_host, zeroed};
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
        let mut out = zeroed(n * ho * wo * c);
        out.par_chunks_mut(wo * c)
            .enumerate()
            .for_each(|(row, dst)| {
                let (b, r) = (row / ho, row % ho);
                if r < top || r >= top + h {
                    return;
                }
                let at = (b * h + r - top) * w * c;
                dst[left * c..(left + w) * c].copy_from_slice(&xs[at..at + w * c]);
            });
        out
    })?;
    let Some(out) = out else {
        return Ok(None);
    };
    Ok(Some(tensor(out, &[n, ho, wo, c])?))
}
