//! Element-wise sum of same-shaped host tensors (a residual `Add`), with the activation
//! that follows applied in the same pass.

use candle_core::Tensor;

use super::epilogue::Epilogue;
use super::host::{eligible, par_chunks_filled, tensor, with_host};
use crate::error::Result;

/// Values per parallel task.
const CHUNK: usize = 1 << 14;

/// `epilogue(Σ inputs)` on the CPU fast path; `None` unless there are at least two eligible
/// inputs of one shape (broadcasting sums take the generic path).
pub(crate) fn add(inputs: &[Tensor], epilogue: Epilogue) -> Result<Option<Tensor>> {
    let [first, rest @ ..] = inputs else {
        return Ok(None);
    };
    if rest.is_empty()
        || !inputs
            .iter()
            .all(|t| eligible(t) && t.dims() == first.dims())
    {
        return Ok(None);
    }
    let refs: Vec<&Tensor> = inputs.iter().collect();
    let out = with_host(&refs, |hs| {
        par_chunks_filled(hs[0].len(), CHUNK, |i, dst| {
            let span = i * CHUNK..i * CHUNK + dst.len();
            dst.copy_from_slice(&hs[0][span.clone()]);
            for other in &hs[1..] {
                for (d, s) in dst.iter_mut().zip(&other[span.clone()]) {
                    *d += s;
                }
            }
            epilogue.apply(dst);
        })
    })?;
    let Some(out) = out else {
        return Ok(None);
    };
    Ok(Some(tensor(out, first.dims())?))
}
