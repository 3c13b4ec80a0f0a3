//! SmoothGrad (Smilkov et al. 2017) as tf-keras-vis 0.8.7's `Saliency(...,
//! smooth_samples=N, smooth_noise=σ)`: the input gradient averaged over `N` copies of the image
//! with Gaussian noise of standard deviation `σ · (max x − min x)` (the image's own range),
//! the class fixed by the unperturbed image. The attribution is the mean gradient (the
//! paper's); the map is the channel maximum of the mean absolute gradient (tf-keras-vis').
//! The noise comes from a ChaCha20 generator seeded by [`SmoothGradOptions::seed`], so a run
//! is repeatable.

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rand_distr::{Distribution, StandardNormal};

use super::guided_relu::ReluBackward;
use super::{targets_or_top1, MapParts, PixelMap};
use crate::cam::Score;
use crate::cam::Target;
use crate::error::{CamError, ErrorKind, Result};
use crate::network::Network;

/// Command-line name of the method.
pub const NAME: &str = "smoothgrad";

/// Noisy copies per forward pass: a tracked pass keeps every activation for the backward
/// pass, so copies go through a few at a time.
const COPIES_PER_PASS: usize = 4;

/// The most noisy copies a call may ask for.
pub const MAX_SAMPLES: usize = 1000;

/// SmoothGrad's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SmoothGradOptions {
    /// Noisy copies per image (tf-keras-vis' examples use 20).
    pub samples: usize,
    /// Noise standard deviation as a fraction of the image's value range (tf-keras-vis'
    /// default `smooth_noise=0.20`).
    pub noise_level: f32,
    /// Seed of the noise generator.
    pub seed: u64,
}

impl Default for SmoothGradOptions {
    fn default() -> Self {
        SmoothGradOptions {
            samples: 20,
            noise_level: 0.2,
            seed: 0,
        }
    }
}

/// Fills one copy's noise (standard normal values, scaled later) for `(image, sample)`.
type NoiseSource<'a> = dyn FnMut(usize, usize, &mut [f32]) -> Result<()> + 'a;

/// What one image needs to be smoothed.
struct Smoothing<'a> {
    image: &'a [f32],
    index: usize,
    sigma: f32,
    samples: usize,
}

impl Network {
    /// SmoothGrad for a batch of `n` NHWC images: per image, one [`PixelMap`] per target
    /// (top-1 when `targets` is empty), with noise drawn from `options.seed`.
    pub fn smooth_grad(
        &self,
        batch: &[f32],
        n: usize,
        targets: &[Target],
        options: &SmoothGradOptions,
    ) -> Result<Vec<Vec<PixelMap>>> {
        let mut rng = ChaCha20Rng::seed_from_u64(options.seed);
        let mut draw = |_: usize, _: usize, out: &mut [f32]| {
            out.iter_mut()
                .for_each(|v| *v = StandardNormal.sample(&mut rng));
            Ok(())
        };
        self.smooth_grad_from(batch, n, targets, options, &mut draw)
    }

    /// [`Network::smooth_grad`] with given standard-normal noise, ordered
    /// `[image][sample][H][W][C]` (`options.seed` is unused): to reproduce another
    /// implementation's draws.
    pub fn smooth_grad_with_noise(
        &self,
        batch: &[f32],
        n: usize,
        targets: &[Target],
        options: &SmoothGradOptions,
        noise: &[f32],
    ) -> Result<Vec<Vec<PixelMap>>> {
        let per_copy = batch.len() / n.max(1);
        let need = per_copy * n * options.samples;
        if noise.len() != need {
            return Err(CamError::new(
                ErrorKind::InvalidInput,
                format!(
                    "{} noise values; {n} images × {} samples need {need}",
                    noise.len(),
                    options.samples
                ),
            ));
        }
        let mut copy = |image: usize, sample: usize, out: &mut [f32]| {
            let start = (image * options.samples + sample) * per_copy;
            out.copy_from_slice(&noise[start..start + per_copy]);
            Ok(())
        };
        self.smooth_grad_from(batch, n, targets, options, &mut copy)
    }

    fn smooth_grad_from(
        &self,
        batch: &[f32],
        n: usize,
        targets: &[Target],
        options: &SmoothGradOptions,
        noise: &mut NoiseSource<'_>,
    ) -> Result<Vec<Vec<PixelMap>>> {
        check_options(options)?;
        let predictions = self.predict(batch, n)?;
        let per_image = batch.len() / n;
        let dims = self.image_dims(per_image)?;
        let mut maps: Vec<Vec<PixelMap>> = vec![Vec::new(); n];
        for (index, image) in batch.chunks_exact(per_image).enumerate() {
            let smoothing = Smoothing {
                image,
                index,
                sigma: options.noise_level * value_range(image),
                samples: options.samples,
            };
            for &target in &targets_or_top1(targets) {
                let logits = &predictions[index].logits;
                let score = Score::resolve(&self.head, target, logits)?;
                let (mean, mean_abs) = self.mean_gradients(&smoothing, score, noise)?;
                let parts = MapParts {
                    method: NAME,
                    dims,
                    prediction: &predictions[index],
                    score,
                    target_layer: None,
                };
                maps[index].push(parts.build(mean, &mean_abs)?);
            }
        }
        Ok(maps)
    }

    /// The mean gradient and mean absolute gradient of `score` over the noisy copies.
    fn mean_gradients(
        &self,
        s: &Smoothing<'_>,
        score: Score,
        noise: &mut NoiseSource<'_>,
    ) -> Result<(Vec<f32>, Vec<f32>)> {
        let len = s.image.len();
        let (mut sum, mut sum_abs) = (vec![0f64; len], vec![0f64; len]);
        let mut done = 0;
        while done < s.samples {
            let copies = COPIES_PER_PASS.min(s.samples - done);
            let mut noisy = vec![0f32; copies * len];
            for (k, copy) in noisy.chunks_exact_mut(len).enumerate() {
                noise(s.index, done + k, copy)?;
                for (v, &x) in copy.iter_mut().zip(s.image) {
                    *v = x + s.sigma * *v;
                }
            }
            let pass = self.gradient_pass(&noisy, copies, ReluBackward::Exact)?;
            let gradient = self.input_gradient(&pass, &vec![score; copies])?;
            for copy in gradient.chunks_exact(len) {
                for ((a, b), &g) in sum.iter_mut().zip(&mut sum_abs).zip(copy) {
                    *a += f64::from(g);
                    *b += f64::from(g.abs());
                }
            }
            done += copies;
        }
        let mean = |v: Vec<f64>| -> Vec<f32> {
            v.into_iter()
                .map(|x| (x / s.samples as f64) as f32)
                .collect()
        };
        Ok((mean(sum), mean(sum_abs)))
    }

    /// `[H, W, C]` of one image of `per_image` values.
    fn image_dims(&self, per_image: usize) -> Result<[usize; 3]> {
        match self.input_shape() {
            [Some(h), Some(w), Some(c)] if h * w * c == per_image => Ok([*h, *w, *c]),
            shape => Err(CamError::new(
                ErrorKind::Unsupported,
                format!("pixel methods need an image input (H, W, C), not {shape:?}"),
            )),
        }
    }
}

/// `max − min` of an image's values.
fn value_range(image: &[f32]) -> f32 {
    let (lo, hi) = image
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    hi - lo
}

/// Rejects sample counts outside 1..=[`MAX_SAMPLES`] and negative or non-finite noise.
fn check_options(options: &SmoothGradOptions) -> Result<()> {
    if !(1..=MAX_SAMPLES).contains(&options.samples) {
        return Err(CamError::new(
            ErrorKind::InvalidInput,
            format!(
                "SmoothGrad needs 1 to {MAX_SAMPLES} samples, not {}",
                options.samples
            ),
        ));
    }
    if !(options.noise_level.is_finite() && options.noise_level >= 0.0) {
        return Err(CamError::new(
            ErrorKind::InvalidInput,
            format!(
                "the SmoothGrad noise level must be ≥ 0, not {}",
                options.noise_level
            ),
        ));
    }
    Ok(())
}
