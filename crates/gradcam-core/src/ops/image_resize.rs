//! TensorFlow's `tf.image.resize` on NHWC tensors, with Keras' crop and pad to the target
//! aspect ratio. Every method is separable and linear: one weight matrix per axis, computed
//! as TF's kernels compute their weights (half-pixel bilinear and nearest, the tabulated
//! Keys cubic, area boxes, and `scale_and_translate` kernels when antialiased or for
//! lanczos, gaussian and mitchellcubic), applied as two matrix products — so the backward
//! pass is exact.

use candle_core::Tensor;
use keras_import::{AspectFit, ResizeMethod, ResizeParams};

use crate::error::Result;

/// `x` (NHWC) resized as `tf.image.resize` after the crop or pad of `params.fit`.
pub(crate) fn resize(x: &Tensor, params: &ResizeParams) -> Result<Tensor> {
    let x = match params.fit {
        AspectFit::Stretch => x.clone(),
        AspectFit::Crop => crop_to_aspect(x, params.size)?,
        AspectFit::Pad { fill } => pad_to_aspect(x, params.size, fill)?,
    };
    let (_, h, w, _) = x.dims4()?;
    let [oh, ow] = params.size;
    let mh = axis_weights(params.method, params.antialias, h, oh);
    let mw = axis_weights(params.method, params.antialias, w, ow);
    separable(&x, (mh, oh), (mw, ow))
}

/// `x` (NHWC) times the row matrix `mh` (`[oh, h]`) and the column matrix `mw` (`[ow, w]`).
pub(crate) fn separable(
    x: &Tensor,
    (mh, oh): (Vec<f32>, usize),
    (mw, ow): (Vec<f32>, usize),
) -> Result<Tensor> {
    let (n, h, w, c) = x.dims4()?;
    let mh = Tensor::from_vec(mh, (oh, h), x.device())?;
    let mw = Tensor::from_vec(mw, (ow, w), x.device())?;
    let rows = mh.broadcast_matmul(&x.reshape((n, h, w * c))?)?;
    let out = mw.broadcast_matmul(&rows.reshape((n * oh, w, c))?)?;
    Ok(out.reshape((n, oh, ow, c))?)
}

/// The largest centred window of `x` with the aspect ratio of `size` (Keras' arithmetic:
/// float32 division truncated, at least one pixel).
fn crop_to_aspect(x: &Tensor, size: [usize; 2]) -> Result<Tensor> {
    let (_, h, w, _) = x.dims4()?;
    let [th, tw] = size;
    let ch = ratio(w, th, tw).min(h).max(1);
    let cw = ratio(h, tw, th).min(w).max(1);
    let top = ((h - ch) as f32 / 2.0) as usize;
    let left = ((w - cw) as f32 / 2.0) as usize;
    Ok(x.narrow(1, top, ch)?.narrow(2, left, cw)?)
}

/// `x` padded with `fill` evenly on its short side towards the aspect ratio of `size`: as
/// Keras, the same amount `(padded − side) / 2` (truncated) on both ends.
fn pad_to_aspect(x: &Tensor, size: [usize; 2], fill: f32) -> Result<Tensor> {
    let (n, h, w, c) = x.dims4()?;
    let [th, tw] = size;
    let top = ((ratio(w, th, tw).max(h) - h) as f32 / 2.0) as usize;
    let left = ((ratio(h, tw, th).max(w) - w) as f32 / 2.0) as usize;
    let mut x = x.clone();
    if top > 0 {
        let band = Tensor::full(fill, (n, top, w, c), x.device())?;
        x = Tensor::cat(&[&band, &x, &band], 1)?;
    }
    if left > 0 {
        let band = Tensor::full(fill, (n, x.dim(1)?, left, c), x.device())?;
        x = Tensor::cat(&[&band, &x, &band], 2)?;
    }
    Ok(x)
}

/// `int(float32(a · b) / float32(d))`, as Keras computes crop and pad sizes.
fn ratio(a: usize, b: usize, d: usize) -> usize {
    ((a * b) as f32 / d as f32) as usize
}

/// The `[out, len]` weight matrix of one axis.
fn axis_weights(method: ResizeMethod, antialias: bool, len: usize, out: usize) -> Vec<f32> {
    let scale = len as f32 / out as f32;
    let mut m = vec![0f32; out * len];
    for (o, row) in m.chunks_mut(len).enumerate() {
        match (method, antialias) {
            (ResizeMethod::Bilinear, false) => bilinear_row(row, o, scale),
            (ResizeMethod::Nearest, _) => {
                let i = ((o as f32 + 0.5) * scale).floor() as usize;
                row[i.min(len - 1)] = 1.0;
            }
            (ResizeMethod::Bicubic, false) => bicubic_row(row, o, scale),
            (ResizeMethod::Area, _) => area_row(row, o, scale),
            (method, antialias) => kernel_row(row, o, out, kernel_of(method), antialias),
        }
    }
    m
}

/// TF's `resize_bilinear` with half-pixel centres.
fn bilinear_row(row: &mut [f32], o: usize, scale: f32) {
    let last = row.len() as i64 - 1;
    let src = (o as f32 + 0.5) * scale - 0.5;
    let floor = src.floor();
    let lerp = src - floor;
    let lo = (floor as i64).clamp(0, last) as usize;
    let hi = (src.ceil() as i64).clamp(0, last) as usize;
    row[lo] += 1.0 - lerp;
    row[hi] += lerp;
}

/// TF's `resize_area`: the mean over the box `[o·scale, (o+1)·scale)`, partial cells weighted
/// by their overlap.
fn area_row(row: &mut [f32], o: usize, scale: f32) {
    let last = row.len() - 1;
    let start = o as f32 * scale;
    let end = (o + 1) as f32 * scale;
    for i in start.floor() as usize..end.ceil() as usize {
        let i0 = i as f32;
        let overlap = if i0 < start {
            if i0 + 1.0 > end {
                scale
            } else {
                i0 + 1.0 - start
            }
        } else if i0 + 1.0 > end {
            end - i0
        } else {
            1.0
        };
        row[i.min(last)] += overlap / scale;
    }
}

/// Entries of TF's Keys cubic table (a = −0.5) at `i / 1024`: the weight of the near tap
/// (`[2i]`) and of the far tap one pixel further (`[2i + 1]`).
fn keys_table(i: usize) -> [f32; 2] {
    const A: f32 = -0.5;
    let x = i as f32 / 1024.0;
    let near = ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
    let x = x + 1.0;
    let far = ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A;
    [near, far]
}

/// TF's `resize_bicubic` with half-pixel centres: four taps from the 1024-entry table, taps
/// outside the image dropped and the rest renormalised.
fn bicubic_row(row: &mut [f32], o: usize, scale: f32) {
    let len = row.len() as i64;
    let src = (o as f32 + 0.5) * scale - 0.5;
    let base = src.floor();
    let offset = ((src - base) * 1024.0).round_ties_even() as usize;
    let [w1, w0] = keys_table(offset);
    let [w2, w3] = keys_table(1024 - offset);
    let taps = [(-1, w0), (0, w1), (1, w2), (2, w3)];
    let inside = |d: i64| (0..len).contains(&(base as i64 + d));
    let sum: f32 = taps.iter().filter(|t| inside(t.0)).map(|t| t.1).sum();
    let norm = if sum.abs() >= 1000.0 * f32::MIN_POSITIVE {
        1.0 / sum
    } else {
        1.0
    };
    for (d, weight) in taps {
        if inside(d) {
            row[(base as i64 + d) as usize] += weight * norm;
        }
    }
}

/// A kernel of TF's `scale_and_translate`: its radius and its function of |x|.
type ResizeKernel = (f32, fn(f32) -> f32);

/// The `scale_and_translate` kernel of a method.
fn kernel_of(method: ResizeMethod) -> ResizeKernel {
    match method {
        ResizeMethod::Bilinear | ResizeMethod::Nearest | ResizeMethod::Area => {
            (1.0, |x| (1.0 - x).max(0.0))
        }
        ResizeMethod::Bicubic => (2.0, |x| {
            if x >= 2.0 {
                0.0
            } else if x >= 1.0 {
                ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0
            } else {
                ((1.5 * x - 2.5) * x) * x + 1.0
            }
        }),
        ResizeMethod::Lanczos3 => (3.0, |x| lanczos(3.0, x)),
        ResizeMethod::Lanczos5 => (5.0, |x| lanczos(5.0, x)),
        ResizeMethod::Gaussian => (1.5, |x| {
            const SIGMA: f32 = 0.5;
            if x >= 1.5 {
                0.0
            } else {
                (-x * x / (2.0 * SIGMA * SIGMA)).exp()
            }
        }),
        ResizeMethod::MitchellCubic => (2.0, |x| {
            if x >= 2.0 {
                0.0
            } else if x >= 1.0 {
                (((-7.0 / 18.0) * x + 2.0) * x - 10.0 / 3.0) * x + 16.0 / 9.0
            } else {
                (((7.0 / 6.0) * x - 2.0) * x) * x + 8.0 / 9.0
            }
        }),
    }
}

/// The Lanczos window of `radius` at `x ≥ 0`.
fn lanczos(radius: f32, x: f32) -> f32 {
    use std::f32::consts::PI;
    if x > radius {
        0.0
    } else if x <= 1e-3 {
        1.0
    } else {
        radius * (PI * x).sin() * (PI * x / radius).sin() / (PI * PI * x * x)
    }
}

/// One output of TF's `scale_and_translate` (no translation): the kernel centred on the
/// sample, widened by the scale when antialiasing a downsample, weights normalised to 1.
fn kernel_row(row: &mut [f32], o: usize, out: usize, (radius, f): ResizeKernel, aa: bool) {
    let len = row.len();
    let scale = out as f32 / len as f32;
    let inv_scale = 1.0 / scale;
    let kernel_scale = if aa { inv_scale.max(1.0) } else { 1.0 };
    let sample = (o as f32 + 0.5) * inv_scale;
    let reach = radius * kernel_scale;
    let last = len as i64 - 1;
    let start = ((sample - reach - 0.5).ceil() as i64).clamp(0, last) as usize;
    let end = ((sample + reach - 0.5).floor() as i64).clamp(0, last) as usize + 1;
    let weights: Vec<f32> = (start..end)
        .map(|i| f(((i as f32 + 0.5 - sample) * (1.0 / kernel_scale)).abs()))
        .collect();
    let total: f32 = weights.iter().sum();
    if total.abs() >= 1000.0 * f32::MIN_POSITIVE {
        for (i, weight) in (start..end).zip(weights) {
            row[i] = weight * (1.0 / total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows_sum_to_one(m: &[f32], len: usize) {
        for row in m.chunks(len) {
            let s: f32 = row.iter().sum();
            assert!((s - 1.0).abs() < 1e-5, "{row:?}");
        }
    }

    #[test]
    fn every_method_keeps_constants() {
        use ResizeMethod::*;
        for method in [
            Bilinear,
            Nearest,
            Bicubic,
            Area,
            Lanczos3,
            Lanczos5,
            Gaussian,
            MitchellCubic,
        ] {
            for aa in [false, true] {
                for (len, out) in [(7, 3), (3, 7), (5, 5), (1, 4), (4, 1)] {
                    rows_sum_to_one(&axis_weights(method, aa, len, out), len);
                }
            }
        }
    }

    #[test]
    fn bilinear_same_size_is_the_identity() {
        let m = axis_weights(ResizeMethod::Bilinear, false, 4, 4);
        for (o, row) in m.chunks(4).enumerate() {
            assert_eq!(row[o], 1.0);
        }
    }
}
