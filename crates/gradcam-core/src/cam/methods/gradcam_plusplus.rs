//! Grad-CAM++ (`pytorch_grad_cam/grad_cam_plusplus.py::GradCAMPlusPlus.get_cam_weights`).

use candle_core::Tensor;

use crate::cam::method::spatial_sum;
use crate::cam::{CamContext, CamMethod, Contribution};
use crate::error::Result;

/// Grad-CAM++ as pytorch-grad-cam computes it: with `S_k = Σ_hw A_k`,
/// `α = G² / (2G² + S_k·G³ + 1e-6)` (0 where `G = 0`), `w_k = Σ_hw ReLU(G)·α`, map
/// `ReLU(Σ_k w_k A_k)`. This is the paper's eq. 19 without its `exp(S)` factor (a positive
/// constant per image) and without the α normalisation of tf-keras-vis and of the authors'
/// code, so the maps differ from those in shape, not only scale.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GradCamPlusPlus;

impl CamMethod for GradCamPlusPlus {
    fn name(&self) -> &'static str {
        "gradcam++"
    }

    fn contribution(&self, ctx: &CamContext<'_>) -> Result<Contribution> {
        let g = ctx.gradients()?;
        let (n, _, _, k) = g.dims4()?;
        let g2 = g.sqr()?;
        let g3 = g2.mul(g)?;
        let sum_a = spatial_sum(ctx.activations())?.reshape((n, 1, 1, k))?;
        let denominator = ((g2.affine(2.0, 0.0)? + g3.broadcast_mul(&sum_a)?)? + 1e-6)?;
        let alpha = g2.div(&denominator)?;
        let alpha = g
            .ne(0f32)?
            .where_cond(&alpha, &Tensor::zeros_like(&alpha)?)?;
        Ok(Contribution::ChannelWeights(spatial_sum(
            &g.relu()?.mul(&alpha)?,
        )?))
    }
}
