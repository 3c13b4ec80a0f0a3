//! ROAD (Rong et al. 2022): remove a share of the pixels, most relevant first (MoRF) or
//! least relevant first (LeRF), impute them with the noisy linear imputer, and score
//! `s(imputed) − s(x)`, as pytorch-grad-cam's `ROADMostRelevantFirstAverage`,
//! `ROADLeastRelevantFirstAverage` and `ROADCombined` (`metrics/road.py`) do over the
//! percentiles 10, 20, …, 90.
//!
//! At percentile `p` both orders remove `⌊H·W·(100 − p)/100⌋` pixels: MoRF the most relevant
//! (pytorch-grad-cam: `cam ≥ percentile(cam, p)`), LeRF the least relevant (`1 − cam ≥
//! percentile(1 − cam, p)`). Pixels are ranked with an exact count, as the original ROAD code
//! does, rather than by pytorch-grad-cam's threshold: a ReLU'd map is often 0 on more than
//! `p`% of the image, and the threshold then removes every pixel and leaves the imputation
//! singular (NaN images). `combined = (mean LeRF − mean MoRF) / 2`: higher is better.

use super::imputation::noisy_linear_impute;
use super::{invalid, most_relevant_first, Classifier, ModelInput};
use crate::error::Result;

/// Options of ROAD.
#[derive(Debug, Clone, PartialEq)]
pub struct RoadOptions {
    /// Percentiles of kept pixels, each in 1..=99 (default 10, 20, …, 90).
    pub percentiles: Vec<u8>,
    /// Standard deviation of the noise added to imputed values (the reference's 0.01).
    pub noise: f32,
    /// Seed of the noise.
    pub seed: u64,
}

impl Default for RoadOptions {
    fn default() -> Self {
        RoadOptions {
            percentiles: (1..=9).map(|p| p * 10).collect(),
            noise: 0.01,
            seed: 0,
        }
    }
}

/// One image's ROAD scores.
#[derive(Debug, Clone, PartialEq)]
pub struct Road {
    /// `s(imputed) − s(x)` per percentile, most relevant pixels removed.
    pub morf: Vec<f32>,
    /// The same, least relevant pixels removed.
    pub lerf: Vec<f32>,
    /// Mean of `morf` (lower is better).
    pub morf_mean: f32,
    /// Mean of `lerf` (higher is better).
    pub lerf_mean: f32,
    /// `(lerf_mean − morf_mean) / 2`.
    pub combined: f32,
}

/// ROAD for `class` on `input`, pixels ranked by `heatmap`.
pub fn road(
    classifier: &mut Classifier<'_>,
    input: &ModelInput<'_>,
    class: usize,
    heatmap: &[f32],
    options: &RoadOptions,
) -> Result<Road> {
    input.check_heatmap(heatmap)?;
    let percentiles = &options.percentiles;
    if percentiles.is_empty() || percentiles.iter().any(|p| !(1..=99).contains(p)) {
        return Err(invalid(format!(
            "ROAD percentiles must lie in 1..=99, got {percentiles:?}"
        )));
    }
    let order = most_relevant_first(heatmap);
    let area = input.area();
    let count = percentiles.len();
    // Image 0 is the input, 1..=count MoRF, then LeRF; each imputation has its own seed.
    let scores = classifier.scores_of(input, class, 2 * count + 1, |i, image| {
        if i == 0 {
            image.copy_from_slice(input.pixels);
            return Ok(());
        }
        let p = usize::from(percentiles[(i - 1) % count]);
        let removed = area * (100 - p) / 100;
        let removed_pixels = if i <= count {
            &order[..removed]
        } else {
            &order[area - removed..]
        };
        let mut kept = vec![true; area];
        removed_pixels.iter().for_each(|&q| kept[q] = false);
        let seed = options.seed.wrapping_add(i as u64);
        image.copy_from_slice(&noisy_linear_impute(input, &kept, options.noise, seed)?);
        Ok(())
    })?;
    let base = scores[0];
    let morf: Vec<f32> = scores[1..=count].iter().map(|s| s - base).collect();
    let lerf: Vec<f32> = scores[count + 1..].iter().map(|s| s - base).collect();
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    let (morf_mean, lerf_mean) = (mean(&morf), mean(&lerf));
    Ok(Road {
        combined: (lerf_mean - morf_mean) / 2.0,
        morf,
        lerf,
        morf_mean,
        lerf_mean,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Class 0 scores the value of pixel 0 (the only evidence); pixels elsewhere are 0.
    #[test]
    fn a_perfect_map_beats_an_inverted_one() {
        let mut pixels = vec![0.0f32; 36];
        pixels[0] = 1.0;
        let input = ModelInput::new(&pixels, 6, 6, 1).unwrap();
        let mut net = Classifier::new(
            |batch: &[f32], n: usize| {
                Ok(batch.chunks(batch.len() / n).map(|i| vec![i[0]]).collect())
            },
            4,
        );
        let perfect: Vec<f32> = (0..36).map(|p| if p == 0 { 1.0 } else { 0.0 }).collect();
        let inverted: Vec<f32> = perfect.iter().map(|v| 1.0 - v).collect();
        let options = RoadOptions {
            noise: 0.0,
            ..RoadOptions::default()
        };
        let good = road(&mut net, &input, 0, &perfect, &options).unwrap();
        let bad = road(&mut net, &input, 0, &inverted, &options).unwrap();
        // MoRF removes pixel 0 first: the score falls to the imputed 0 at every percentile.
        assert!(
            good.morf.iter().all(|&d| (d + 1.0).abs() < 1e-6),
            "{:?}",
            good.morf
        );
        assert!(good.lerf.iter().all(|&d| d.abs() < 1e-6), "{:?}", good.lerf);
        assert!((good.combined - 0.5).abs() < 1e-6);
        assert!(bad.combined < good.combined);
        let bad_options = RoadOptions {
            percentiles: vec![0],
            ..options
        };
        assert!(road(&mut net, &input, 0, &perfect, &bad_options).is_err());
    }
}
