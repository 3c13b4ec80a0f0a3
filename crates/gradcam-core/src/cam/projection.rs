//! The first principal component of per-pixel channel vectors, as pytorch-grad-cam 1.5.x's
//! `utils/svd_on_activations.py::get_2d_projection`: `X [h·w, k]` (NaN → 0), columns
//! centred over pixels, `p = X_c · v₁` with `v₁` the first right singular vector.
//!
//! The sign of `v₁` is arbitrary (LAPACK-dependent in NumPy, pytorch-grad-cam issue #315).
//! kerascam fixes it: **`p` correlates positively with the per-pixel channel mean of `X`**
//! (`Σ_z p_z · mean_k X[z, k] ≥ 0`, i.e. the projection agrees with the plain channel sum
//! `Σ_k X[z, k]` — for Eigen-CAM the mean activation, for `eigen_smooth` the un-smoothed
//! map); on an exact tie the largest-magnitude value of `p` is made positive.
//!
//! `p = σ₁ u₁` is computed from the smaller Gram matrix (`X_c X_cᵀ` or `X_cᵀ X_c`) by a
//! cyclic Jacobi eigensolver in f64: a few lines instead of a linear-algebra dependency,
//! and exact for the symmetric matrices of at most a few hundred rows met here.

use candle_core::{DType, Tensor};

use crate::error::Result;

/// The projections of every image of `x` (`[N, h, w, k]`) as `[N, h, w]`.
pub fn project_maps(x: &Tensor) -> Result<Tensor> {
    let (n, h, w, k) = x.dims4()?;
    let values = x.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
    let maps: Vec<f32> = values
        .chunks(h * w * k)
        .flat_map(|image| project(image, h * w, k))
        .collect();
    Ok(Tensor::from_vec(maps, (n, h, w), x.device())?.to_dtype(x.dtype())?)
}

/// The first-component projection of one image's `pixels × channels` matrix (row-major),
/// with the sign convention of the module documentation.
pub fn project(x: &[f32], pixels: usize, channels: usize) -> Vec<f32> {
    if pixels == 0 || channels == 0 {
        return vec![0.0; pixels];
    }
    let value = |z: usize, c: usize| {
        let v = x[z * channels + c] as f64;
        if v.is_nan() {
            0.0
        } else {
            v
        }
    };
    let mut centred = vec![0f64; pixels * channels];
    for c in 0..channels {
        let mean = (0..pixels).map(|z| value(z, c)).sum::<f64>() / pixels as f64;
        for z in 0..pixels {
            centred[z * channels + c] = value(z, c) - mean;
        }
    }
    let mut p = if pixels <= channels {
        // u₁ of X_c X_cᵀ = λ₁ u₁; p = σ₁ u₁ = √λ₁ u₁.
        let gram = gram(&centred, pixels, channels, true);
        let (lambda, u) = top_eigenvector(gram, pixels);
        u.into_iter().map(|v| v * lambda.max(0.0).sqrt()).collect()
    } else {
        let gram = gram(&centred, pixels, channels, false);
        let (_, v) = top_eigenvector(gram, channels);
        (0..pixels)
            .map(|z| {
                (0..channels)
                    .map(|c| centred[z * channels + c] * v[c])
                    .sum()
            })
            .collect::<Vec<f64>>()
    };
    let mean_activation = |z: usize| (0..channels).map(|c| value(z, c)).sum::<f64>();
    let agreement: f64 = (0..pixels).map(|z| p[z] * mean_activation(z)).sum();
    let largest = p
        .iter()
        .copied()
        .fold(0f64, |m, v| if v.abs() > m.abs() { v } else { m });
    if agreement < 0.0 || (agreement == 0.0 && largest < 0.0) {
        p.iter_mut().for_each(|v| *v = -*v);
    }
    p.into_iter().map(|v| v as f32).collect()
}

/// `X Xᵀ` (`rows = true`, `[pixels, pixels]`) or `Xᵀ X` (`[channels, channels]`).
fn gram(x: &[f64], pixels: usize, channels: usize, rows: bool) -> Vec<f64> {
    let (n, inner) = if rows {
        (pixels, channels)
    } else {
        (channels, pixels)
    };
    let at = |i: usize, t: usize| {
        if rows {
            x[i * channels + t]
        } else {
            x[t * channels + i]
        }
    };
    let mut g = vec![0f64; n * n];
    for i in 0..n {
        for j in i..n {
            let s: f64 = (0..inner).map(|t| at(i, t) * at(j, t)).sum();
            g[i * n + j] = s;
            g[j * n + i] = s;
        }
    }
    g
}

/// The largest eigenvalue of the symmetric `n × n` matrix `a` and its unit eigenvector, by
/// cyclic Jacobi rotations until the off-diagonal mass is negligible.
fn top_eigenvector(mut a: Vec<f64>, n: usize) -> (f64, Vec<f64>) {
    let mut v = vec![0f64; n * n];
    (0..n).for_each(|i| v[i * n + i] = 1.0);
    let total: f64 = a.iter().map(|x| x * x).sum();
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j] * a[i * n + j])
            .sum();
        if off <= 1e-30 * total.max(f64::MIN_POSITIVE) {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                rotate(&mut a, &mut v, n, (p, q));
            }
        }
    }
    let best = (0..n)
        .max_by(|&i, &j| a[i * n + i].total_cmp(&a[j * n + j]))
        .unwrap_or(0);
    let vector = (0..n).map(|r| v[r * n + best]).collect();
    (a[best * n + best], vector)
}

/// One Jacobi rotation zeroing `a[p][q]`, accumulated into the eigenvectors `v` (columns).
fn rotate(a: &mut [f64], v: &mut [f64], n: usize, (p, q): (usize, usize)) {
    let apq = a[p * n + q];
    if apq == 0.0 {
        return;
    }
    let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
    let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
    let t = if theta == 0.0 { 1.0 } else { t };
    let c = 1.0 / (t * t + 1.0).sqrt();
    let s = t * c;
    for k in 0..n {
        let (akp, akq) = (a[k * n + p], a[k * n + q]);
        a[k * n + p] = c * akp - s * akq;
        a[k * n + q] = s * akp + c * akq;
    }
    for k in 0..n {
        let (apk, aqk) = (a[p * n + k], a[q * n + k]);
        a[p * n + k] = c * apk - s * aqk;
        a[q * n + k] = s * apk + c * aqk;
    }
    for k in 0..n {
        let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
        v[k * n + p] = c * vkp - s * vkq;
        v[k * n + q] = s * vkp + c * vkq;
    }
}
