//! Element-wise activations with Keras semantics. When the input is tracked (after the target
//! layer), piecewise-linear functions are written as `x · a + b` with constant masks `a`, `b`
//! so that the gradient equals TensorFlow's at the kinks (relu'(0) = 0, clip edges 0,
//! max(x, y) sends the gradient to x on ties).

use candle_core::{DType, Tensor};
use keras_import::Activation;

use crate::error::Result;

fn mask(t: candle_core::Result<Tensor>) -> Result<Tensor> {
    Ok(t?.to_dtype(DType::F32)?)
}

/// `clip(x, lo, hi)` whose gradient is 1 strictly inside (lo, hi) and 0 elsewhere.
pub(crate) fn clip(x: &Tensor, lo: f32, hi: f32) -> Result<Tensor> {
    if !x.track_op() {
        return Ok(if hi == f32::INFINITY {
            x.maximum(lo)?
        } else {
            x.clamp(lo, hi)?
        });
    }
    let d = x.detach();
    let inside = mask(d.gt(lo as f64))?.mul(&mask(d.lt(hi as f64))?)?;
    let outside = d.clamp(lo, hi)?.mul(&inside.affine(-1.0, 1.0)?)?;
    Ok(x.mul(&inside)?.add(&outside)?)
}

/// Keras `relu` with negative slope, upper bound and threshold.
pub(crate) fn keras_relu(
    x: &Tensor,
    max_value: Option<f32>,
    slope: f32,
    threshold: f32,
) -> Result<Tensor> {
    let hi = max_value.unwrap_or(f32::INFINITY);
    if slope == 0.0 && threshold == 0.0 {
        return clip(x, 0.0, hi);
    }
    let d = x.detach();
    let low = mask(d.le(threshold as f64))?;
    let top = mask(d.ge(hi as f64))?;
    let mid = low.add(&top)?.affine(-1.0, 1.0)?;
    let a = mid.add(&low.affine(slope as f64, 0.0)?)?;
    let b = top
        .affine(if hi.is_finite() { hi as f64 } else { 0.0 }, 0.0)?
        .sub(&low.affine((slope * threshold) as f64, 0.0)?)?;
    Ok(x.mul(&a)?.add(&b)?)
}

/// LeakyReLU: x for x > 0, alpha · x otherwise.
pub(crate) fn leaky_relu(x: &Tensor, alpha: f32) -> Result<Tensor> {
    let pos = mask(x.detach().gt(0.0))?;
    let a = pos.affine(1.0 - alpha as f64, alpha as f64)?;
    Ok(x.mul(&a)?)
}

/// PReLU with a learned `alpha` broadcastable against `x`.
pub(crate) fn prelu(x: &Tensor, alpha: &Tensor) -> Result<Tensor> {
    let pos = mask(x.detach().gt(0.0))?;
    let neg = pos.affine(-1.0, 1.0)?;
    let a = pos.add(&neg.broadcast_mul(alpha)?)?;
    Ok(x.mul(&a)?)
}

/// Softmax over `dim`, built from basic ops (its backward is exact).
pub(crate) fn softmax(x: &Tensor, dim: usize) -> Result<Tensor> {
    let max = x.detach().max_keepdim(dim)?;
    let e = x.broadcast_sub(&max)?.exp()?;
    let s = e.sum_keepdim(dim)?;
    Ok(e.broadcast_div(&s)?)
}

/// Applies a Keras activation.
pub(crate) fn apply(x: &Tensor, act: Activation) -> Result<Tensor> {
    Ok(match act {
        Activation::Linear => x.clone(),
        Activation::Relu => clip(x, 0.0, f32::INFINITY)?,
        Activation::Relu6 => clip(x, 0.0, 6.0)?,
        Activation::Sigmoid => candle_nn::ops::sigmoid(x)?,
        Activation::HardSigmoid { slope, offset } => {
            clip(&x.affine(slope as f64, offset as f64)?, 0.0, 1.0)?
        }
        Activation::Softmax => softmax(x, x.rank().saturating_sub(1))?,
        Activation::Swish => x.mul(&candle_nn::ops::sigmoid(x)?)?,
        Activation::HardSwish => x.mul(&clip(&x.affine(1.0 / 6.0, 0.5)?, 0.0, 1.0)?)?,
        Activation::Gelu { approximate: true } => x.gelu()?,
        Activation::Gelu { approximate: false } => x.gelu_erf()?,
        Activation::Tanh => x.tanh()?,
        Activation::Elu { alpha } => elu(x, alpha)?,
        Activation::Selu => elu(x, 1.673_263_2)?.affine(1.050_701, 0.0)?,
        Activation::Softplus => softplus(x)?,
        Activation::Mish => x.mul(&softplus(x)?.tanh()?)?,
        Activation::Softsign => x.div(&x.abs()?.affine(1.0, 1.0)?)?,
        Activation::Exponential => x.exp()?,
        Activation::LeakyRelu { alpha } => leaky_relu(x, alpha)?,
        Activation::LogSoftmax => log_softmax(x, x.rank().saturating_sub(1))?,
        Activation::LogSigmoid => softplus(&x.neg()?)?.neg()?,
        Activation::TanhShrink => x.sub(&x.tanh()?)?,
        Activation::Squareplus { b } => x
            .sqr()?
            .affine(1.0, b as f64)?
            .sqrt()?
            .add(x)?
            .affine(0.5, 0.0)?,
        Activation::Celu { alpha } => celu(x, alpha)?,
        Activation::HardTanh => clip_inclusive(x, -1.0, 1.0)?,
        Activation::SparsePlus => sparse_plus(x)?,
        Activation::SoftShrink { threshold } => soft_shrink(x, threshold)?,
        Activation::HardShrink { threshold } => {
            x.mul(&mask(x.detach().abs()?.gt(threshold as f64))?)?
        }
    })
}

/// ln softmax over `dim`: x − max − ln Σ exp(x − max), the max held constant (exact backward).
fn log_softmax(x: &Tensor, dim: usize) -> Result<Tensor> {
    let z = x.broadcast_sub(&x.detach().max_keepdim(dim)?)?;
    let lse = z.exp()?.sum_keepdim(dim)?.log()?;
    Ok(z.broadcast_sub(&lse)?)
}

/// CELU as Keras writes it, `max(x, 0) + alpha · expm1(min(x, 0) / alpha)`, with TF's
/// gradients of `maximum` and `minimum` (both pass at x = 0).
fn celu(x: &Tensor, alpha: f32) -> Result<Tensor> {
    let d = x.detach();
    let pos = x.mul(&mask(d.ge(0.0))?)?;
    let neg = x.mul(&mask(d.le(0.0))?)?;
    let tail = neg.affine(1.0 / alpha as f64, 0.0)?.exp()?;
    Ok(pos.add(&tail.affine(alpha as f64, -(alpha as f64))?)?)
}

/// `clip_by_value(x, lo, hi)`: TensorFlow's gradient is 1 on the closed interval [lo, hi].
fn clip_inclusive(x: &Tensor, lo: f32, hi: f32) -> Result<Tensor> {
    if !x.track_op() {
        return Ok(x.clamp(lo, hi)?);
    }
    let d = x.detach();
    let inside = mask(d.ge(lo as f64))?.mul(&mask(d.le(hi as f64))?)?;
    let outside = d.clamp(lo, hi)?.mul(&inside.affine(-1.0, 1.0)?)?;
    Ok(x.mul(&inside)?.add(&outside)?)
}

/// sparse_plus: 0 for x ≤ −1, (x + 1)² / 4 inside, x for x ≥ 1. The square is taken of the
/// masked `x + 1`, so no huge input can turn into `0 · inf`.
fn sparse_plus(x: &Tensor) -> Result<Tensor> {
    let d = x.detach();
    let low = mask(d.le(-1.0))?;
    let high = mask(d.ge(1.0))?;
    let mid = low.add(&high)?.affine(-1.0, 1.0)?;
    let inner = x.affine(1.0, 1.0)?.mul(&mid)?.sqr()?.affine(0.25, 0.0)?;
    Ok(inner.add(&x.mul(&high)?)?)
}

/// soft_shrink: x − t above t, x + t below −t, 0 between, as `x · a + b`.
fn soft_shrink(x: &Tensor, t: f32) -> Result<Tensor> {
    let d = x.detach();
    let pos = mask(d.gt(t as f64))?;
    let neg = mask(d.lt(-t as f64))?;
    let b = neg.sub(&pos)?.affine(t as f64, 0.0)?;
    Ok(x.mul(&pos.add(&neg)?)?.add(&b)?)
}

/// ln(1 + exp(x)) as relu(x) + ln(1 + exp(−|x|)), which never overflows.
fn softplus(x: &Tensor) -> Result<Tensor> {
    let tail = x.abs()?.neg()?.exp()?.affine(1.0, 1.0)?.log()?;
    Ok(clip(x, 0.0, f32::INFINITY)?.add(&tail)?)
}

/// ELU: x for x > 0, alpha · (exp(x) − 1) otherwise.
fn elu(x: &Tensor, alpha: f32) -> Result<Tensor> {
    let pos = mask(x.detach().gt(0.0))?;
    let neg = pos.affine(-1.0, 1.0)?;
    // exp of the negative part only, so large positive inputs cannot overflow.
    let expm1 = x.mul(&neg)?.exp()?.affine(alpha as f64, -(alpha as f64))?;
    Ok(x.mul(&pos)?.add(&expm1.mul(&neg)?)?)
}

/// Element-wise maximum (`minimum` when `take_min`) with TF's gradient: on ties the whole
/// gradient goes to `a`.
pub(crate) fn select_extreme(a: &Tensor, b: &Tensor, take_min: bool) -> Result<Tensor> {
    let (ad, bd) = (a.detach(), b.detach());
    if !a.track_op() && !b.track_op() {
        return Ok(if take_min {
            ad.broadcast_minimum(&bd)?
        } else {
            ad.broadcast_maximum(&bd)?
        });
    }
    let pick_a = mask(if take_min {
        ad.broadcast_le(&bd)
    } else {
        ad.broadcast_ge(&bd)
    })?;
    let pick_b = pick_a.affine(-1.0, 1.0)?;
    Ok(a.broadcast_mul(&pick_a)?
        .broadcast_add(&b.broadcast_mul(&pick_b)?)?)
}
