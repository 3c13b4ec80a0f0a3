//! ROAD's noisy linear imputation (`road_evaluation/road/imputations.py::NoisyLinearImputer`,
//! also pytorch-grad-cam's `metrics/road.py`): every removed pixel becomes the weighted mean
//! of its in-image neighbours (axial neighbours weigh 1/6, diagonal ones 1/12), removed
//! neighbours being unknowns themselves, so the removed region is the discrete harmonic
//! interpolation of the kept pixels around it; then Gaussian noise is added to the
//! imputed values. Each channel is solved with the same matrix.
//!
//! The system `S_i x_i − Σ_{removed j} w_ij x_j = Σ_{kept j} w_ij v_j` (`S_i` = the weights of
//! the in-image neighbours) is the reference's with both sides negated: symmetric, and
//! positive definite as soon as one pixel is kept, so conjugate gradients solve it
//! (`solver.rs`).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

use super::solver::{solve_spd, SparseMatrix};
use super::{invalid, ModelInput};
use crate::error::Result;

/// The eight neighbours `(dy, dx)` and their weights (the reference's `neighbors_weights`).
const NEIGHBOURS: [((isize, isize), f64); 8] = [
    ((1, 1), 1.0 / 12.0),
    ((0, 1), 1.0 / 6.0),
    ((-1, 1), 1.0 / 12.0),
    ((1, -1), 1.0 / 12.0),
    ((0, -1), 1.0 / 6.0),
    ((-1, -1), 1.0 / 12.0),
    ((1, 0), 1.0 / 6.0),
    ((-1, 0), 1.0 / 6.0),
];

/// `input` with the pixels where `kept` is false imputed, plus `noise` × standard normal
/// noise (the reference adds 0.01; the generator is seeded by `seed`). At least one pixel must
/// be kept.
pub fn noisy_linear_impute(
    input: &ModelInput<'_>,
    kept: &[bool],
    noise: f32,
    seed: u64,
) -> Result<Vec<f32>> {
    if kept.len() != input.area() {
        return Err(invalid(format!(
            "the mask has {} values; the {}×{} input needs one per pixel",
            kept.len(),
            input.height,
            input.width
        )));
    }
    if !kept.contains(&true) {
        return Err(invalid(
            "imputation needs at least one kept pixel (the system is singular without)".into(),
        ));
    }
    let removed: Vec<usize> = (0..kept.len()).filter(|&p| !kept[p]).collect();
    let mut unknown_index = vec![usize::MAX; kept.len()];
    for (k, &p) in removed.iter().enumerate() {
        unknown_index[p] = k;
    }
    let c = input.channels;
    let mut matrix = SparseMatrix::new();
    let mut rhs = vec![vec![0.0; removed.len()]; c];
    for (k, &p) in removed.iter().enumerate() {
        let mut row = Vec::with_capacity(9);
        let mut total = 0.0;
        for (q, weight) in neighbours(input.height, input.width, p) {
            total += weight;
            if kept[q] {
                for (channel, b) in rhs.iter_mut().enumerate() {
                    b[k] += weight * f64::from(input.pixels[q * c + channel]);
                }
            } else {
                row.push((unknown_index[q], -weight));
            }
        }
        row.push((k, total));
        row.sort_by_key(|&(column, _)| column);
        matrix.push_row(row);
    }
    let mut out = input.pixels.to_vec();
    let mut rng = StdRng::seed_from_u64(seed);
    for (channel, b) in rhs.iter().enumerate() {
        let x = solve_spd(&matrix, b)?;
        for (&p, v) in removed.iter().zip(x) {
            out[p * c + channel] = v as f32;
        }
    }
    if noise != 0.0 {
        // Noise per imputed value, pixel-major like the reference's `x.T + noise·randn`.
        for &p in &removed {
            for v in &mut out[p * c..(p + 1) * c] {
                *v += noise * rng.sample::<f32, _>(StandardNormal);
            }
        }
    }
    Ok(out)
}

/// The neighbours of pixel `p` inside a `height × width` image, with their weights.
fn neighbours(height: usize, width: usize, p: usize) -> impl Iterator<Item = (usize, f64)> {
    let (y, x) = ((p / width) as isize, (p % width) as isize);
    NEIGHBOURS.iter().filter_map(move |&((dy, dx), weight)| {
        let (ny, nx) = (y + dy, x + dx);
        let inside = (0..height as isize).contains(&ny) && (0..width as isize).contains(&nx);
        inside.then(|| (ny as usize * width + nx as usize, weight))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_linear_ramp_is_imputed_exactly_and_kept_pixels_stay() {
        // Harmonic interpolation reproduces any affine function inside a convex region.
        let (h, w) = (7, 9);
        let pixels: Vec<f32> = (0..h * w)
            .flat_map(|p| {
                let (y, x) = ((p / w) as f32, (p % w) as f32);
                [2.0 * x - y, 0.5 * y + 1.0]
            })
            .collect();
        let input = ModelInput::new(&pixels, h, w, 2).unwrap();
        let kept: Vec<bool> = (0..h * w)
            .map(|p| !(2..5).contains(&(p / w)) || !(2..7).contains(&(p % w)))
            .collect();
        let out = noisy_linear_impute(&input, &kept, 0.0, 0).unwrap();
        for (a, b) in out.iter().zip(&pixels) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        let noisy = noisy_linear_impute(&input, &kept, 0.01, 3).unwrap();
        assert_eq!(noisy, noisy_linear_impute(&input, &kept, 0.01, 3).unwrap());
        for (p, keep) in kept.iter().enumerate() {
            let same = noisy[p * 2] == pixels[p * 2];
            assert_eq!(same, *keep, "pixel {p}");
        }
        assert!(noisy_linear_impute(&input, &vec![false; h * w], 0.0, 0).is_err());
    }
}
