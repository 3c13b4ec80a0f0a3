//! UpSampling2D on NHWC tensors from ops with exact backward: nearest as reshape + broadcast,
//! bilinear (TF half-pixel centres) as two small interpolation-matrix products.

use candle_core::Tensor;

use super::image_resize::separable;
use crate::error::Result;

/// Nearest-neighbour upsampling by integer factors.
pub(crate) fn upsample_nearest(x: &Tensor, size: [usize; 2]) -> Result<Tensor> {
    let (n, h, w, c) = x.dims4()?;
    let [sh, sw] = size;
    Ok(x.reshape((n, h, 1, w, 1, c))?
        .broadcast_as((n, h, sh, w, sw, c))?
        .reshape((n, h * sh, w * sw, c))?)
}

/// Row-interpolation matrix `[len·scale, len]` of TF's bilinear resize with half-pixel centres.
fn bilinear_matrix(len: usize, scale: usize) -> Vec<f32> {
    let out = len * scale;
    let mut m = vec![0f32; out * len];
    let last = len.saturating_sub(1) as f64;
    for o in 0..out {
        let src = (o as f64 + 0.5) / scale as f64 - 0.5;
        let floor = src.floor();
        let lerp = (src - floor) as f32;
        let lo = floor.max(0.0).min(last) as usize;
        let hi = src.ceil().max(0.0).min(last) as usize;
        m[o * len + lo] += 1.0 - lerp;
        m[o * len + hi] += lerp;
    }
    m
}

/// Bilinear upsampling by integer factors (TF `resize(..., "bilinear")`, half-pixel centres).
pub(crate) fn upsample_bilinear(x: &Tensor, size: [usize; 2]) -> Result<Tensor> {
    let (_, h, w, _) = x.dims4()?;
    let [sh, sw] = size;
    separable(
        x,
        (bilinear_matrix(h, sh), h * sh),
        (bilinear_matrix(w, sw), w * sw),
    )
}
