//! Ablation-CAM (`pytorch_grad_cam/ablation_cam.py::AblationCAM.get_cam_weights` with
//! `ablation_layer.py::AblationLayer`).

use candle_core::{DType, Tensor};

use super::DEFAULT_BATCH;
use crate::cam::{CamContext, CamMethod, Contribution};
use crate::error::Result;

/// Ablation-CAM: `w_k = (y − y_k) / y`, where `y` is the score and `y_k` the score with
/// channel `k` of the target activation replaced (by 0 when the activation's minimum is 0,
/// else by `min − 1e7`, as `AblationLayer` does; pytorch-grad-cam lowers that value by a
/// further 1e7 per copy within a batch, a quirk not reproduced); map `ReLU(Σ_k w_k A_k)`.
/// No epsilon: a score of 0 gives a non-finite map, which is an error. Only the layers after
/// the target run for the ablated copies, in batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AblationCam {
    /// Ablated copies per pass.
    pub batch: usize,
}

impl Default for AblationCam {
    fn default() -> AblationCam {
        AblationCam {
            batch: DEFAULT_BATCH,
        }
    }
}

impl CamMethod for AblationCam {
    fn name(&self) -> &'static str {
        "ablationcam"
    }

    fn needs_gradients(&self) -> bool {
        false
    }

    fn contribution(&self, ctx: &CamContext<'_>) -> Result<Contribution> {
        let a = ctx.activations();
        let (n, _, _, k) = a.dims4()?;
        let mut weights = Vec::with_capacity(n * k);
        for image in 0..n {
            let y = ctx.score(image)?;
            let tail = ctx.tail(image)?;
            let a = a.narrow(0, image, 1)?;
            let min = a
                .flatten_all()?
                .min(0)?
                .to_dtype(DType::F32)?
                .to_scalar::<f32>()?;
            let value = if min == 0.0 { 0.0 } else { min - 1e7 };
            let channels: Vec<usize> = (0..k).collect();
            for chunk in channels.chunks(self.batch.max(1)) {
                let ablated = ablated(&a, chunk, value)?;
                let scores = tail.scores(&ablated)?;
                weights.extend(scores.into_iter().map(|s| (y - s) / y));
                ctx.report_progress(weights.len(), n * k);
            }
        }
        let weights = Tensor::from_vec(weights, (n, k), a.device())?.to_dtype(a.dtype())?;
        Ok(Contribution::ChannelWeights(weights))
    }
}

/// Copies of one image's activation `a` (`[1, h, w, k]`), copy `i` with channel `chunk[i]`
/// set to `value`.
fn ablated(a: &Tensor, chunk: &[usize], value: f32) -> Result<Tensor> {
    let k = a.dim(3)?;
    let b = chunk.len();
    let mut keep = vec![1f32; b * k];
    let mut fill = vec![0f32; b * k];
    for (i, &c) in chunk.iter().enumerate() {
        keep[i * k + c] = 0.0;
        fill[i * k + c] = value;
    }
    let keep = Tensor::from_vec(keep, (b, 1, 1, k), a.device())?.to_dtype(a.dtype())?;
    let fill = Tensor::from_vec(fill, (b, 1, 1, k), a.device())?.to_dtype(a.dtype())?;
    Ok(a.broadcast_mul(&keep)?.broadcast_add(&fill)?)
}
