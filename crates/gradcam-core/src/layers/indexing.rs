//! Slicing and stacking (`preprocess_input`'s channel reversal `x[..., ::-1]` and its
//! `stack([x[..., 2], x[..., 1], x[..., 0]], -1)`), as `tf.strided_slice` and `tf.stack`
//! compute them. Reversed and strided ranges gather with `index_select`, whose backward pass
//! scatters the gradient back, so Grad-CAM can target a layer before them.

use candle_core::Tensor;
use keras_import::SliceAxis;

use super::{first, Evaluated, Fusion, Kernel};
use crate::error::{CamError, ErrorKind, Result};

/// A slice: one entry per input axis (batch first, kept whole) plus new axes.
#[derive(Debug, Clone)]
pub(crate) struct Slice(pub Vec<SliceAxis>);

/// `x` along `dim` at positions `first, first + step, …` (`count` of them).
fn take(x: &Tensor, dim: usize, first: i64, count: usize, step: i64) -> Result<Tensor> {
    let n = x.dim(dim)?;
    if step == 1 {
        let start = usize::try_from(first).unwrap_or(0);
        return if start == 0 && count == n {
            Ok(x.clone())
        } else {
            Ok(x.narrow(dim, start, count)?)
        };
    }
    let ids: Vec<u32> = (0..count as i64)
        .map(|j| (first + j * step) as u32)
        .collect();
    let ids = Tensor::from_vec(ids, count, x.device())?;
    Ok(x.contiguous()?.index_select(&ids, dim)?)
}

impl Kernel for Slice {
    fn evaluate(&self, inputs: &[Tensor], _: &Fusion) -> Result<Evaluated> {
        let mut y = first(inputs)?.clone();
        // `dim` is the axis of `y` the next entry reads; the batch entry is skipped.
        let mut dim = 1;
        for axis in self.0.iter().skip(1) {
            if let SliceAxis::NewAxis = axis {
                y = y.unsqueeze(dim)?;
                dim += 1;
                continue;
            }
            let n = y.dim(dim)?;
            let (start, count, step) = axis
                .positions(n)
                .filter(|&(_, count, _)| count > 0)
                .ok_or_else(|| {
                    CamError::new(
                        ErrorKind::InvalidInput,
                        format!("slice {axis:?} selects nothing from an axis of {n}"),
                    )
                })?;
            y = take(&y, dim, start, count, step)?;
            if let SliceAxis::Index(_) = axis {
                y = y.squeeze(dim)?;
            } else {
                dim += 1;
            }
        }
        Ok(Evaluated::linear(y))
    }
}

/// Stacking along a new axis (with batch, positive).
#[derive(Debug, Clone)]
pub(crate) struct Stack(pub usize);

impl Kernel for Stack {
    fn evaluate(&self, inputs: &[Tensor], _: &Fusion) -> Result<Evaluated> {
        Ok(Evaluated::linear(Tensor::stack(inputs, self.0)?))
    }
}
