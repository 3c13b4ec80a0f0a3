//! Score-CAM (`pytorch_grad_cam/score_cam.py::ScoreCAM.get_cam_weights`), with
//! tf-keras-vis's Faster-Score-CAM channel selection (`tf_keras_vis/scorecam.py`, `max_N`).

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
        let mut weights = Vec::with_capacity(n * k);
        for image in 0..n {
            weights.extend(self.image_weights(ctx, image)?);
        }
        let weights = Tensor::from_vec(weights, (n, k), a.device())?.to_dtype(a.dtype())?;
        Ok(Contribution::ChannelWeights(weights))
    }
}

impl ScoreCam {
    /// One image's channel weights.
    fn image_weights(&self, ctx: &CamContext<'_>, image: usize) -> Result<Vec<f32>> {
        let a = ctx.activations().narrow(0, image, 1)?;
        let x = ctx.input().narrow(0, image, 1)?;
        let k = a.dim(3)?;
        let channels = match self.max_channels {
            Some(0) => {
                return Err(CamError::new(
                    ErrorKind::InvalidInput,
                    "max_channels must be at least 1",
                ))
            }
            Some(m) if m < k => top_by_std(&a, m)?,
            _ => (0..k).collect(),
        };
        let mut scores = Vec::with_capacity(channels.len());
        for chunk in channels.chunks(self.batch.max(1)) {
            let masks = masks(&a, &x, chunk)?;
            let masked = x.broadcast_mul(&masks)?;
            scores.extend(ctx.scores_of_inputs(image, &masked)?);
        }
        let top = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exps: Vec<f64> = scores.iter().map(|&s| ((s - top) as f64).exp()).collect();
        let total: f64 = exps.iter().sum();
        let mut weights = vec![0f32; k];
        for (&c, e) in channels.iter().zip(exps) {
            weights[c] = (e / total) as f32;
        }
        Ok(weights)
    }
}

/// The masks `[B, H, W, 1]` of channels `chunk` of one image's activations `a`
/// (`[1, h, w, k]`) for its input `x` (`[1, H, W, C]`).
fn masks(a: &Tensor, x: &Tensor, chunk: &[usize]) -> Result<Tensor> {
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
    let scaled = up.broadcast_sub(&min)?.broadcast_div(&range)?;
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
