//! Grad-CAM element-wise (`pytorch_grad_cam/grad_cam_elementwise.py::GradCAMElementWise.
//! get_cam_image`).

use crate::cam::{CamContext, CamMethod, Contribution};
use crate::error::Result;

/// Grad-CAM element-wise: map `ReLU(Σ_k ReLU(G_k ⊙ A_k))`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GradCamElementWise;

impl CamMethod for GradCamElementWise {
    fn name(&self) -> &'static str {
        "gradcam-elementwise"
    }

    fn contribution(&self, ctx: &CamContext<'_>) -> Result<Contribution> {
        Ok(Contribution::Elementwise(
            ctx.gradients()?.mul(ctx.activations())?.relu()?,
        ))
    }
}
