//! Score-CAM (`pytorch_grad_cam/score_cam.py::ScoreCAM.get_cam_weights`), with
//! tf-keras-vis's Faster-Score-CAM channel selection (`tf_keras_vis/scorecam.py`, `max_N`).

use std::collections::HashMap;

use candle_core::{DType, Tensor};

use super::DEFAULT_BATCH;
use crate::cam::fusion::corner_aligned_weights;
use crate::cam::{CamContext, CamMethod, Contribution};
use crate::error::{CamError, ErrorKind, Result};
use crate::ops::image_resize::separable;

/// Score-CAM: each channel `A_k`, upsampled to the input size (bilinear,
/// `align_corners=True`) and min-max scaled (`/(max − min + 1e-8)`), masks the model-ready
/// input (`X ⊙ M_k`, so a masked-out pixel is 0 in normalised space); `s_k` is the score of
/// the masked input, `w = softmax_k(s)`, map `ReLU(Σ_k w_k A_k)`. The masked inputs run in
/// batches through the network's untracked forward pass.
///
/// `max_channels = Some(n)` is Faster Score-CAM: only the `n` channels with the largest
/// spatial standard deviation (per image; ties to the lower index) are scored, the softmax
/// runs over them and the other channels weigh 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScoreCam {
    /// Channels scored per image (`None`: every channel).
    pub max_channels: Option<usize>,
    /// Masked inputs per forward pass.
    pub batch: usize,
}

impl Default for ScoreCam {
    fn default() -> ScoreCam {
        ScoreCam {
            max_channels: None,
            batch: DEFAULT_BATCH,
        }
    }
}

impl CamMethod for ScoreCam {
    fn name(&self) -> &'static str {
        "scorecam"
    }

    fn needs_gradients(&self) -> bool {
        false
    }

    fn contribution(&self, ctx: &CamContext<'_>) -> Result<Contribution> {
        let a = ctx.activations();
        let (n, _, _, k) = a.dims4()?;
        let mut plans = Vec::with_capacity(n);
        for image in 0..n {
            let a = a.narrow(0, image, 1)?;
            let channels = self.scored_channels(&a)?;
            let grids = DistinctGrids::of(&a, &channels)?;
            plans.push((channels, grids));
        }
        let total = plans.iter().map(|(_, g)| g.representatives.len()).sum();
        let (mut done, mut weights) = (0, Vec::with_capacity(n * k));
        for (image, (channels, grids)) in plans.iter().enumerate() {
            let scores = self.distinct_scores(ctx, image, grids, (done, total))?;
            done += scores.len();
            weights.extend(softmax_weights(k, channels, &grids.owner, &scores));
        }
        let weights = Tensor::from_vec(weights, (n, k), a.device())?.to_dtype(a.dtype())?;
        Ok(Contribution::ChannelWeights(weights))
    }
}

impl ScoreCam {
    /// The channels scored for one image's activations `a` (`[1, h, w, k]`).
    fn scored_channels(&self, a: &Tensor) -> Result<Vec<usize>> {
        let k = a.dim(3)?;
        match self.max_channels {
            Some(0) => Err(CamError::new(
                ErrorKind::InvalidInput,
                "max_channels must be at least 1",
            )),
            Some(m) if m < k => top_by_std(a, m),
            _ => Ok((0..k).collect()),
        }
    }

    /// The score of image `image` masked by each distinct grid of `grids`, in batches;
    /// `(before, total)`: the masked passes of earlier images and of all, for the progress
    /// reports.
    fn distinct_scores(
        &self,
        ctx: &CamContext<'_>,
        image: usize,
        grids: &DistinctGrids,
        (before, total): (usize, usize),
    ) -> Result<Vec<f32>> {
        let a = ctx.activations().narrow(0, image, 1)?;
        let x = ctx.input().narrow(0, image, 1)?;
        let mut scores = Vec::with_capacity(grids.representatives.len());
        let batch = self.batch.max(1);
        for (chunk, constant) in grids
            .representatives
            .chunks(batch)
            .zip(grids.constant.chunks(batch))
        {
            let masks = masks(&a, &x, chunk, constant)?;
            let masked = x.broadcast_mul(&masks)?;
            scores.extend(ctx.scores_of_inputs(image, &masked)?);
            ctx.report_progress(before + scores.len(), total);
        }
        Ok(scores)
    }
}

/// One image's channel weights `softmax(s)` over the scored `channels` (each scored by its
/// group's score, `owner[i]` the group of `channels[i]`); other channels weigh 0.
fn softmax_weights(k: usize, channels: &[usize], owner: &[usize], scores: &[f32]) -> Vec<f32> {
    let scores: Vec<f32> = owner.iter().map(|&g| scores[g]).collect();
    let top = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f64> = scores.iter().map(|&s| ((s - top) as f64).exp()).collect();
    let total: f64 = exps.iter().sum();
    let mut weights = vec![0f32; k];
    for (&c, e) in channels.iter().zip(exps) {
        weights[c] = (e / total) as f32;
    }
    weights
}

/// Channels grouped by their min-max scaled activation grid `(A_k − min)/(max − min +
/// 1e-8)`, compared bit for bit. Channels in one group have the same mask up to float
/// rounding (every constant channel, all-zero ones included, has the zero mask; every channel
/// active at one position only has that position's mask), so one masked pass, the first
/// channel's, scores them all.
#[derive(Debug, PartialEq)]
struct DistinctGrids {
    /// The first channel of each group.
    representatives: Vec<usize>,
    /// For each group, whether its grid is constant (its mask is then all zeros).
    constant: Vec<bool>,
    /// For each requested channel, the index of its group.
    owner: Vec<usize>,
}

impl DistinctGrids {
    /// The groups of `channels` of one image's activations `a` (`[1, h, w, k]`).
    fn of(a: &Tensor, channels: &[usize]) -> Result<DistinctGrids> {
        let (_, h, w, k) = a.dims4()?;
        let by_channel = a
            .to_dtype(DType::F32)?
            .reshape((h * w, k))?
            .t()?
            .contiguous()?
            .flatten_all()?
            .to_vec1::<f32>()?;
        Ok(DistinctGrids::group(&by_channel, h * w, channels))
    }

    /// The groups of `channels` given each channel's `size` values in turn.
    fn group(by_channel: &[f32], size: usize, channels: &[usize]) -> DistinctGrids {
        let mut index: HashMap<Vec<u32>, usize> = HashMap::new();
        let mut groups = DistinctGrids {
            representatives: Vec::new(),
            constant: Vec::new(),
            owner: Vec::with_capacity(channels.len()),
        };
        for &c in channels {
            let channel = &by_channel[c * size..(c + 1) * size];
            let min = channel.iter().copied().fold(f32::INFINITY, f32::min);
            let max = channel.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let range = max - min + 1e-8;
            let key: Vec<u32> = channel
                .iter()
                .map(|&v| ((v - min) / range).to_bits())
                .collect();
            let next = groups.representatives.len();
            let id = *index.entry(key).or_insert(next);
            if id == next {
                groups.representatives.push(c);
                groups.constant.push(max == min);
            }
            groups.owner.push(id);
        }
        groups
    }
}

/// The masks `[B, H, W, 1]` of channels `chunk` of one image's activations `a`
/// (`[1, h, w, k]`) for its input `x` (`[1, H, W, C]`). A constant channel's mask is zero:
/// there `up − min` is only the rounding of the upsampling, which the reference's division
/// by `1e-8` would blow up into noise.
fn masks(a: &Tensor, x: &Tensor, chunk: &[usize], constant: &[bool]) -> Result<Tensor> {
    let (_, h, w, _) = a.dims4()?;
    let (_, height, width, _) = x.dims4()?;
    let index: Vec<u32> = chunk.iter().map(|&c| c as u32).collect();
    let index = Tensor::from_vec(index, chunk.len(), a.device())?;
    let selected = a.index_select(&index, 3)?.to_dtype(DType::F32)?;
    let up = separable(
        &selected,
        (corner_aligned_weights(h, height), height),
        (corner_aligned_weights(w, width), width),
    )?;
    let up = up.reshape((height * width, chunk.len()))?;
    let min = up.min_keepdim(0)?;
    let max = up.max_keepdim(0)?;
    let range = (max.sub(&min)? + 1e-8)?;
    let keep: Vec<f32> = constant
        .iter()
        .map(|&c| if c { 0.0 } else { 1.0 })
        .collect();
    let keep = Tensor::from_vec(keep, (1, chunk.len()), a.device())?;
    let scaled = up
        .broadcast_sub(&min)?
        .broadcast_div(&range)?
        .broadcast_mul(&keep)?;
    let masks = scaled.t()?.reshape((chunk.len(), height, width, 1))?;
    Ok(masks.to_dtype(x.dtype())?)
}

/// The `m` channels of `a` (`[1, h, w, k]`) with the largest spatial standard deviation.
fn top_by_std(a: &Tensor, m: usize) -> Result<Vec<usize>> {
    let (_, h, w, k) = a.dims4()?;
    let flat = a.to_dtype(DType::F32)?.reshape((h * w, k))?;
    let mean = flat.mean_keepdim(0)?;
    let var = flat.broadcast_sub(&mean)?.sqr()?.mean(0)?;
    let var = var.to_vec1::<f32>()?;
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&i, &j| var[j].total_cmp(&var[i]));
    order.truncate(m);
    order.sort_unstable();
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::DistinctGrids;

    #[test]
    fn channels_with_equal_scaled_grids_share_a_group() {
        // Four values per channel: 0 and 1 dead, 2 and 4 active at position 1 only (other
        // magnitudes), 3 constant, 5 like 2 at position 2, 6 a full pattern, 7 = 6·3 + 1.
        let by_channel = [
            0.0, 0.0, 0.0, 0.0, //
            0.0, 0.0, 0.0, 0.0, //
            0.0, 2.5, 0.0, 0.0, //
            0.7, 0.7, 0.7, 0.7, //
            0.0, 9.0, 0.0, 0.0, //
            0.0, 0.0, 2.5, 0.0, //
            0.0, 1.0, 2.0, 4.0, //
            1.0, 4.0, 7.0, 13.0,
        ];
        let groups = DistinctGrids::group(&by_channel, 4, &[0, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(groups.representatives, vec![0, 2, 5, 6]);
        assert_eq!(groups.constant, vec![true, false, false, false]);
        assert_eq!(groups.owner, vec![0, 0, 1, 0, 1, 2, 3, 3]);
    }

    #[test]
    fn only_the_requested_channels_are_grouped() {
        let by_channel = [0.0, 1.0, 0.0, 1.0, 5.0, 0.0];
        let groups = DistinctGrids::group(&by_channel, 2, &[2, 0]);
        assert_eq!(groups.representatives, vec![2, 0]);
        assert_eq!(groups.owner, vec![0, 1]);
    }
}
