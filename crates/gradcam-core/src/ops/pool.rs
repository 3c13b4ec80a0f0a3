//! Pooling on NHWC tensors, with TensorFlow's gradient semantics when tracked: max pooling
//! gives each window's gradient to ONE element (the first maximum in row-major window order),
//! average pooling with `same` padding divides by the number of valid cells, global max
//! pooling splits the gradient equally among tied maxima (`tf.reduce_max`).

use candle_core::{DType, Tensor};
use keras_import::{Padding, Pool2dParams};

use super::conv::Window2d;
use super::window::{taps, AxisWindow, Taps};
use crate::cpu;
use crate::error::Result;

fn pool_taps(x: &Tensor, p: &Pool2dParams, pad_value: f32) -> Result<Taps> {
    let axis = |i: usize| AxisWindow {
        kernel: p.pool[i],
        stride: p.strides[i],
        dilation: 1,
    };
    taps(x, axis(0), axis(1), p.padding, pad_value)
}

/// Mask that is 1 at the first element of `candidates` (in order) equal to `max`, 0 elsewhere.
fn first_winner_masks(candidates: &[Tensor], max: &Tensor) -> Result<Vec<Tensor>> {
    let mut taken: Option<Tensor> = None;
    let mut masks = Vec::with_capacity(candidates.len());
    for c in candidates {
        let hit = c.eq(max)?.to_dtype(DType::F32)?;
        let mask = match &taken {
            None => hit,
            Some(t) => hit.broadcast_mul(&t.affine(-1.0, 1.0)?)?,
        };
        taken = Some(match taken {
            None => mask.clone(),
            Some(t) => (t + &mask)?,
        });
        masks.push(mask);
    }
    Ok(masks)
}

/// MaxPooling2D; `same` padding pads with the lowest finite f32 so padding never wins.
pub(crate) fn max_pool(x: &Tensor, p: &Pool2dParams) -> Result<Tensor> {
    let win = Window2d::new(p.pool, p.strides, [1, 1], p.padding);
    if let Some(y) = cpu::max_pool(x, &win)? {
        return Ok(y);
    }
    let t = pool_taps(x, p, f32::MIN)?;
    let detached: Vec<Tensor> = t.taps.iter().map(|t| t.detach()).collect();
    let mut max = detached[0].clone();
    for d in &detached[1..] {
        max = max.maximum(d)?;
    }
    if !x.track_op() {
        return Ok(max);
    }
    let masks = first_winner_masks(&detached, &max)?;
    let mut acc: Option<Tensor> = None;
    for (tap, mask) in t.taps.iter().zip(&masks) {
        let term = (tap * mask)?;
        acc = Some(match acc {
            None => term,
            Some(a) => (a + term)?,
        });
    }
    Ok(acc.unwrap_or(max))
}

/// AveragePooling2D; with `same` padding each output divides by its count of real cells.
pub(crate) fn avg_pool(x: &Tensor, p: &Pool2dParams) -> Result<Tensor> {
    let t = pool_taps(x, p, 0.0)?;
    let mut sum = t.taps[0].clone();
    for tap in &t.taps[1..] {
        sum = (sum + tap)?;
    }
    let window = (p.pool[0] * p.pool[1]) as f64;
    if p.padding == Padding::Valid {
        return Ok(sum.affine(1.0 / window, 0.0)?);
    }
    let (_, h, w, _) = x.dims4()?;
    let counts = |len: usize, k: usize, s: usize, out: usize| -> Vec<f32> {
        let extent = k;
        let total = ((out.max(1) - 1) * s + extent).saturating_sub(len);
        let before = total / 2;
        (0..out)
            .map(|o| {
                let start = (o * s) as isize - before as isize;
                let lo = start.max(0);
                let hi = (start + k as isize).min(len as isize);
                (hi - lo).max(1) as f32
            })
            .collect()
    };
    let ch = counts(h, p.pool[0], p.strides[0], t.out_h);
    let cw = counts(w, p.pool[1], p.strides[1], t.out_w);
    let mut inv = Vec::with_capacity(t.out_h * t.out_w);
    for a in &ch {
        for b in &cw {
            inv.push(1.0 / (a * b));
        }
    }
    let inv = Tensor::from_vec(inv, (1, t.out_h, t.out_w, 1), x.device())?;
    Ok(sum.broadcast_mul(&inv)?)
}

/// GlobalAveragePooling2D, as one batched product `[1, H·W] · [H·W, C]` with weights
/// `1/(H·W)`: candle's matmul (and its backward) is far faster than its reductions over the
/// middle axes (docs/gradcam-bench.md has the measurement).
pub(crate) fn global_avg_pool(x: &Tensor, keepdims: bool) -> Result<Tensor> {
    let (n, h, w, c) = x.dims4()?;
    let y = if h * w == 0 {
        x.mean_keepdim(1)?.mean_keepdim(2)?
    } else {
        let weights =
            Tensor::full(1.0 / (h * w) as f64, (1, 1, h * w), x.device())?.to_dtype(x.dtype())?;
        weights.broadcast_matmul(&x.reshape((n, h * w, c))?)?
    };
    if keepdims {
        Ok(y.reshape((n, 1, 1, c))?)
    } else {
        Ok(y.reshape((n, c))?)
    }
}

/// GlobalMaxPooling2D; tracked, the gradient is split equally among tied maxima.
pub(crate) fn global_max_pool(x: &Tensor, keepdims: bool) -> Result<Tensor> {
    let max = x.detach().max_keepdim(1)?.max_keepdim(2)?;
    let y = if x.track_op() {
        let mask = x.detach().broadcast_eq(&max)?.to_dtype(DType::F32)?;
        let count = mask.sum_keepdim(1)?.sum_keepdim(2)?;
        (x * &mask)?
            .sum_keepdim(1)?
            .sum_keepdim(2)?
            .broadcast_div(&count)?
    } else {
        max
    };
    if keepdims {
        Ok(y)
    } else {
        Ok(y.squeeze(2)?.squeeze(1)?)
    }
}
