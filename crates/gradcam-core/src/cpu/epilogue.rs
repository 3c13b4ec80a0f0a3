//! What a fast kernel applies to its output rows while they are in cache: a per-channel bias
//! and one of the activations that follow convolutions in practice.

use keras_import::Activation;

/// An activation a kernel can apply in place.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Epilogue {
    /// Nothing.
    Linear,
    /// `max(x, lo)` then `min(·, hi)` (ReLU: 0, ∞; ReLU6: 0, 6).
    Clip { lo: f32, hi: f32 },
    /// `x · sigmoid(x)` (swish / SiLU).
    Swish,
}

impl Epilogue {
    /// The epilogue computing `activation`, when there is one.
    pub fn of(activation: Activation) -> Option<Epilogue> {
        match activation {
            Activation::Linear => Some(Epilogue::Linear),
            Activation::Relu => Some(Epilogue::Clip {
                lo: 0.0,
                hi: f32::INFINITY,
            }),
            Activation::Relu6 => Some(Epilogue::Clip { lo: 0.0, hi: 6.0 }),
            Activation::Swish => Some(Epilogue::Swish),
            _ => None,
        }
    }

    /// Adds `bias` to each `width`-long row of `rows` (when there is one), then applies the
    /// activation, row by row while each is in L1.
    pub fn apply_biased(self, rows: &mut [f32], bias: Option<&[f32]>, width: usize) {
        self.apply_summed(rows, bias, None, width);
    }

    /// Like [`Epilogue::apply_biased`], adding `residual` (as long as `rows`) too before the
    /// activation: a residual sum that reads this layer, done while the rows are in cache.
    /// One pass per row: each value gets its bias, residual and activation at once.
    pub fn apply_summed(
        self,
        rows: &mut [f32],
        bias: Option<&[f32]>,
        residual: Option<&[f32]>,
        width: usize,
    ) {
        match self {
            Epilogue::Linear => finish_rows(rows, bias, residual, width, |v| v),
            Epilogue::Clip { lo, hi } => finish_rows(rows, bias, residual, width, |v| {
                // Selects (which vectorise) rather than min/max, so that a NaN passes through
                // and is reported later.
                let low = if v < lo { lo } else { v };
                if low > hi {
                    hi
                } else {
                    low
                }
            }),
            Epilogue::Swish => finish_rows(rows, bias, residual, width, |v| v / (1.0 + (-v).exp())),
        }
    }

    /// Applies the activation to every value of `rows`.
    pub fn apply(self, rows: &mut [f32]) {
        if self != Epilogue::Linear {
            self.apply_summed(rows, None, None, 1);
        }
    }
}

/// `v = activation(v + bias[k] + residual[i])` over `width`-long rows, in one pass.
#[inline(always)]
fn finish_rows(
    rows: &mut [f32],
    bias: Option<&[f32]>,
    residual: Option<&[f32]>,
    width: usize,
    activation: impl Fn(f32) -> f32,
) {
    match (bias, residual) {
        (None, None) => rows.iter_mut().for_each(|v| *v = activation(*v)),
        (Some(bias), None) => {
            for row in rows.chunks_exact_mut(width) {
                for (v, b) in row.iter_mut().zip(bias) {
                    *v = activation(*v + b);
                }
            }
        }
        (None, Some(residual)) => {
            for (v, r) in rows.iter_mut().zip(residual) {
                *v = activation(*v + r);
            }
        }
        (Some(bias), Some(residual)) => {
            for (row, res) in rows
                .chunks_exact_mut(width)
                .zip(residual.chunks_exact(width))
            {
                for ((v, b), r) in row.iter_mut().zip(bias).zip(res) {
                    *v = activation(*v + b + r);
                }
            }
        }
    }
}
