//! Deletion and insertion (Petsiuk et al. 2018) as RISE's `evaluation.py::CausalMetric`
//! computes them. Pixels are moved from a start image to a finish image, `step` at a time,
//! most relevant first (the heatmap's order, ties in row-major order), and the class score
//! is taken before each move and after the last: `⌈H·W / step⌉ + 1` scores. RISE's step is
//! 224 at 224×224, one row's worth, so the default step is the input's width.
//!
//! - deletion: start = the image, finish = zeros (in the model-ready space, as RISE's
//!   normalised tensors); lower is better.
//! - insertion: start = the image blurred by RISE's `gkern(11, 5)` (zero padding),
//!   finish = the image; higher is better.
//!
//! The area under the curve is RISE's `auc`: the trapezoid rule on a uniform grid over [0, 1].

use super::{invalid, most_relevant_first, Classifier, ModelInput};
use crate::error::Result;

/// RISE's blur kernel: 11 taps, σ = 5.
const KERNEL_SIZE: usize = 11;
const KERNEL_SIGMA: f64 = 5.0;
/// SciPy's `gaussian_filter` default: the kernel reaches 4 σ.
const KERNEL_TRUNCATE: f64 = 4.0;

/// Options of deletion and insertion.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CausalOptions {
    /// Pixels moved per step; `None` = the input's width (RISE: 224 at 224×224).
    pub step: Option<usize>,
}

/// One image's curve and its area.
#[derive(Debug, Clone, PartialEq)]
pub struct CausalCurve {
    /// The class score before each step and after the last.
    pub scores: Vec<f32>,
    /// RISE's area under `scores`.
    pub auc: f32,
}

/// The deletion curve of `class` on `input` ordered by `heatmap`.
pub fn deletion(
    classifier: &mut Classifier<'_>,
    input: &ModelInput<'_>,
    class: usize,
    heatmap: &[f32],
    options: CausalOptions,
) -> Result<CausalCurve> {
    let finish = vec![0.0; input.pixels.len()];
    curve(
        classifier,
        input,
        class,
        heatmap,
        options,
        input.pixels.to_vec(),
        &finish,
    )
}

/// The insertion curve of `class` on `input` ordered by `heatmap`.
pub fn insertion(
    classifier: &mut Classifier<'_>,
    input: &ModelInput<'_>,
    class: usize,
    heatmap: &[f32],
    options: CausalOptions,
) -> Result<CausalCurve> {
    let start = blur_substrate(input);
    curve(
        classifier,
        input,
        class,
        heatmap,
        options,
        start,
        input.pixels,
    )
}

fn curve(
    classifier: &mut Classifier<'_>,
    input: &ModelInput<'_>,
    class: usize,
    heatmap: &[f32],
    options: CausalOptions,
    mut image: Vec<f32>,
    finish: &[f32],
) -> Result<CausalCurve> {
    input.check_heatmap(heatmap)?;
    let step = options.step.unwrap_or(input.width);
    if step == 0 {
        return Err(invalid(
            "the deletion/insertion step must be at least 1".into(),
        ));
    }
    let order = most_relevant_first(heatmap);
    let steps = order.len().div_ceil(step);
    let c = input.channels;
    let scores = classifier.scores_of(input, class, steps + 1, |i, buffer| {
        // Image i has the first i·step pixels moved: move step i − 1's pixels now.
        if i > 0 {
            let moved = &order[(i - 1) * step..(i * step).min(order.len())];
            for &p in moved {
                image[p * c..(p + 1) * c].copy_from_slice(&finish[p * c..(p + 1) * c]);
            }
        }
        buffer.copy_from_slice(&image);
        Ok(())
    })?;
    Ok(CausalCurve {
        auc: auc(&scores),
        scores,
    })
}

/// RISE's `auc`: `(Σ a − a₀/2 − a_last/2) / (len − 1)`, the trapezoid rule with equal steps
/// over [0, 1]; 0 for fewer than two scores.
pub fn auc(scores: &[f32]) -> f32 {
    let (Some(first), Some(last)) = (scores.first(), scores.last()) else {
        return 0.0;
    };
    if scores.len() < 2 {
        return 0.0;
    }
    let sum: f64 = scores.iter().map(|&s| f64::from(s)).sum();
    ((sum - f64::from(*first) / 2.0 - f64::from(*last) / 2.0) / (scores.len() - 1) as f64) as f32
}

/// The 1-D factor of RISE's `gkern(11, 5)`: SciPy's `gaussian_filter` (σ = 5, truncate 4,
/// mode `reflect`) applied to a centred unit impulse of 11 samples. The 2-D kernel is its
/// outer product with itself (the filter is separable).
fn gaussian_taps() -> [f64; KERNEL_SIZE] {
    let radius = (KERNEL_TRUNCATE * KERNEL_SIGMA + 0.5) as i64;
    let weights: Vec<f64> = (-radius..=radius)
        .map(|j| (-0.5 * (j * j) as f64 / (KERNEL_SIGMA * KERNEL_SIGMA)).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    let n = KERNEL_SIZE as i64;
    let centre = n / 2;
    let mut taps = [0.0; KERNEL_SIZE];
    for (i, tap) in taps.iter_mut().enumerate() {
        for (k, w) in weights.iter().enumerate() {
            // Half-sample symmetric reflection (SciPy's `reflect`): … b a | a b … | … b a.
            let mut at = i as i64 + k as i64 - radius;
            while !(0..n).contains(&at) {
                at = if at < 0 { -at - 1 } else { 2 * n - at - 1 };
            }
            if at == centre {
                *tap += w / total;
            }
        }
    }
    taps
}

/// RISE's insertion substrate: each channel convolved with the 11×11 kernel of
/// `gkern(11, 5)` (stored as float32), zero padding of 5, channels not mixed.
pub fn blur_substrate(input: &ModelInput<'_>) -> Vec<f32> {
    let taps = gaussian_taps();
    let (h, w, c) = (input.height, input.width, input.channels);
    let half = KERNEL_SIZE / 2;
    let mut out = vec![0.0; input.pixels.len()];
    for y in 0..h {
        for x in 0..w {
            let mut acc = vec![0f64; c];
            for (ky, ty) in taps.iter().enumerate() {
                let Some(sy) = (y + ky).checked_sub(half).filter(|&s| s < h) else {
                    continue;
                };
                for (kx, tx) in taps.iter().enumerate() {
                    let Some(sx) = (x + kx).checked_sub(half).filter(|&s| s < w) else {
                        continue;
                    };
                    let k = f64::from((ty * tx) as f32);
                    let src = &input.pixels[(sy * w + sx) * c..(sy * w + sx + 1) * c];
                    for (a, &v) in acc.iter_mut().zip(src) {
                        *a += k * f64::from(v);
                    }
                }
            }
            for (o, a) in out[(y * w + x) * c..(y * w + x + 1) * c]
                .iter_mut()
                .zip(acc)
            {
                *o = a as f32;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_is_the_trapezoid_rule_on_a_uniform_grid() {
        assert_eq!(auc(&[1.0, 1.0, 1.0]), 1.0);
        assert!((auc(&[1.0, 0.0]) - 0.5).abs() < 1e-7);
        assert!((auc(&[0.0, 1.0, 0.0, 1.0]) - 0.5).abs() < 1e-7);
        assert_eq!(auc(&[0.3]), 0.0);
    }

    #[test]
    fn the_blur_kernel_sums_to_one_and_peaks_in_the_centre() {
        let taps = gaussian_taps();
        assert!((taps.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(taps[5] > taps[4] && taps[4] > taps[0]);
        assert!((taps[0] - taps[10]).abs() < 1e-15);
    }

    /// A "network" whose class-0 score is the mean of the first channel: deleting the
    /// brightest pixels first drops it fastest.
    fn mean_brightness<'a>() -> Classifier<'a> {
        Classifier::new(
            |batch: &[f32], n: usize| {
                let per = batch.len() / n;
                Ok(batch
                    .chunks(per)
                    .map(|img| vec![img.iter().sum::<f32>() / per as f32])
                    .collect())
            },
            3,
        )
    }

    #[test]
    fn a_perfect_map_deletes_faster_than_an_inverted_one() {
        let pixels: Vec<f32> = (0..16).map(|i| (i % 5) as f32).collect();
        let input = ModelInput::new(&pixels, 4, 4, 1).unwrap();
        let perfect = pixels.clone();
        let inverted: Vec<f32> = pixels.iter().map(|v| 4.0 - v).collect();
        let mut net = mean_brightness();
        let good = deletion(&mut net, &input, 0, &perfect, CausalOptions::default()).unwrap();
        let bad = deletion(&mut net, &input, 0, &inverted, CausalOptions::default()).unwrap();
        assert_eq!(good.scores.len(), 5);
        assert_eq!(*good.scores.last().unwrap(), 0.0);
        assert!(good.auc < bad.auc, "{} vs {}", good.auc, bad.auc);
        let good = insertion(&mut net, &input, 0, &perfect, CausalOptions::default()).unwrap();
        let bad = insertion(&mut net, &input, 0, &inverted, CausalOptions::default()).unwrap();
        assert!(good.auc > bad.auc, "{} vs {}", good.auc, bad.auc);
        assert!((good.scores[4] - 30.0 / 16.0).abs() < 1e-6);
    }
}
