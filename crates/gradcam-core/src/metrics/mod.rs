//! Faithfulness metrics of saliency maps, each written to equal its reference code:
//!
//! | metric | file | reference |
//! | --- | --- | --- |
//! | pointing game | `pointing.rs` | TorchRay `torchray/benchmark/pointing_game.py` |
//! | deletion and insertion AUC | `causal.rs` | RISE `evaluation.py::CausalMetric` |
//! | ROAD (MoRF, LeRF, combined) | `road.rs`, `imputation.rs` | `road_evaluation/road/imputations.py`, pytorch-grad-cam `metrics/road.py` |
//! | drop and increase in confidence | `confidence.rs` | pytorch-grad-cam `metrics/cam_mult_image.py` |
//!
//! Every metric but the pointing game runs the network on perturbed copies of one
//! model-ready image (after preprocessing, NHWC): a [`Classifier`] wraps a closure from a
//! batch of such images to per-image class scores and sends the perturbed copies through
//! it in batches. Heatmaps are at the input's resolution, row-major, one value per pixel.

mod causal;
mod confidence;
mod imputation;
mod pointing;
mod road;
mod solver;

pub use causal::{auc, blur_substrate, deletion, insertion, CausalCurve, CausalOptions};
pub use confidence::{confidence_change, ConfidenceChange};
pub use imputation::noisy_linear_impute;
pub use pointing::{pointing_game, PixelBox, Pointing, POINTING_TOLERANCE};
pub use road::{road, Road, RoadOptions};

use crate::error::{CamError, ErrorKind, Result};

/// One model-ready image: `height × width × channels` values, row-major (NHWC without the
/// batch axis), after the model's preprocessing.
#[derive(Debug, Clone, Copy)]
pub struct ModelInput<'a> {
    /// The values.
    pub pixels: &'a [f32],
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// Values per pixel.
    pub channels: usize,
}

impl<'a> ModelInput<'a> {
    /// Wraps `pixels`, checking that it holds `height × width × channels` finite values.
    pub fn new(pixels: &'a [f32], height: usize, width: usize, channels: usize) -> Result<Self> {
        let expected = height
            .checked_mul(width)
            .and_then(|p| p.checked_mul(channels));
        if expected != Some(pixels.len()) || pixels.is_empty() {
            return Err(invalid(format!(
                "the image holds {} values, not {height}×{width}×{channels}",
                pixels.len()
            )));
        }
        if pixels.iter().any(|v| !v.is_finite()) {
            return Err(CamError::new(
                ErrorKind::NonFinite,
                "the image contains NaN or Inf",
            ));
        }
        Ok(ModelInput {
            pixels,
            height,
            width,
            channels,
        })
    }

    /// Number of pixels (`height × width`).
    pub fn area(&self) -> usize {
        self.height * self.width
    }

    /// Checks that `heatmap` has one finite value per pixel of this image.
    pub(crate) fn check_heatmap(&self, heatmap: &[f32]) -> Result<()> {
        if heatmap.len() != self.area() {
            return Err(invalid(format!(
                "the heatmap has {} values; the {}×{} input needs one per pixel",
                heatmap.len(),
                self.height,
                self.width
            )));
        }
        if heatmap.iter().any(|v| !v.is_finite()) {
            return Err(CamError::new(
                ErrorKind::NonFinite,
                "the heatmap contains NaN or Inf",
            ));
        }
        Ok(())
    }
}

/// A network run: `n` images laid end to end in, one score row per image out.
type RunBatch<'a> = Box<dyn FnMut(&[f32], usize) -> Result<Vec<Vec<f32>>> + 'a>;

/// The network as the metrics see it: a closure from `n` model-ready images laid end to end
/// (NHWC) to each image's class scores (probabilities, as the references use), called with
/// at most `batch_size` images at a time.
pub struct Classifier<'a> {
    run: RunBatch<'a>,
    batch_size: usize,
}

impl<'a> Classifier<'a> {
    /// Wraps `run`; `batch_size` (at least 1) bounds the images per call.
    pub fn new(
        run: impl FnMut(&[f32], usize) -> Result<Vec<Vec<f32>>> + 'a,
        batch_size: usize,
    ) -> Self {
        Classifier {
            run: Box::new(run),
            batch_size: batch_size.max(1),
        }
    }

    /// The score of `class` for `count` images shaped like `input`, the `i`-th written by
    /// `make(i, buffer)` in increasing `i` (so a maker may update its state in place).
    pub(crate) fn scores_of(
        &mut self,
        input: &ModelInput<'_>,
        class: usize,
        count: usize,
        mut make: impl FnMut(usize, &mut [f32]) -> Result<()>,
    ) -> Result<Vec<f32>> {
        let size = input.pixels.len();
        let mut scores = Vec::with_capacity(count);
        let mut batch = Vec::new();
        let mut first = 0;
        while first < count {
            let n = self.batch_size.min(count - first);
            batch.resize(n * size, 0.0);
            for (j, image) in batch.chunks_exact_mut(size).enumerate() {
                make(first + j, image)?;
            }
            let rows = (self.run)(&batch, n)?;
            if rows.len() != n {
                return Err(invalid(format!(
                    "the network returned {} score rows for {n} images",
                    rows.len()
                )));
            }
            for row in rows {
                scores.push(class_score(&row, class)?);
            }
            first += n;
        }
        Ok(scores)
    }
}

fn class_score(row: &[f32], class: usize) -> Result<f32> {
    let score = *row.get(class).ok_or_else(|| {
        invalid(format!(
            "class {class} does not exist (the network gives {} scores)",
            row.len()
        ))
    })?;
    if !score.is_finite() {
        return Err(CamError::new(
            ErrorKind::NonFinite,
            format!("the network's score of class {class} is {score}"),
        ));
    }
    Ok(score)
}

/// Pixel indices (row-major) from most to least relevant: by decreasing heatmap value, ties
/// in row-major order. A stable rule where the references use NumPy's unstable argsort.
pub(crate) fn most_relevant_first(heatmap: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..heatmap.len()).collect();
    // Values are checked finite, so partial_cmp is total; -0.0 and 0.0 tie as in NumPy.
    order.sort_by(|&a, &b| {
        heatmap[b]
            .partial_cmp(&heatmap[a])
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    order
}

fn invalid(message: String) -> CamError {
    CamError::new(ErrorKind::InvalidInput, message)
}
