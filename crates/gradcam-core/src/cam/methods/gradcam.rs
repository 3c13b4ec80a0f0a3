//! Grad-CAM (`pytorch_grad_cam/grad_cam.py::GradCAM.get_cam_weights`).

use crate::cam::{CamContext, CamMethod, Contribution};
use crate::error::Result;
use crate::ops::pool::global_avg_pool;

/// Grad-CAM: `w_k = mean_hw G_k`, map `ReLU(Σ_k w_k A_k)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GradCam;

impl CamMethod for GradCam {
    fn name(&self) -> &'static str {
        "gradcam"
    }

    fn contribution(&self, ctx: &CamContext<'_>) -> Result<Contribution> {
        let weights = global_avg_pool(ctx.gradients()?, false)?;
        Ok(Contribution::ChannelWeights(weights))
    }
}
