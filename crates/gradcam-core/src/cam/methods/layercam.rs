//! Layer-CAM (`pytorch_grad_cam/layer_cam.py::LayerCAM.get_cam_image`).

use crate::cam::{CamContext, CamMethod, Contribution};
use crate::error::Result;

/// Layer-CAM: map `ReLU(Σ_k ReLU(G_k) ⊙ A_k)`. Several layers are fused like any method
/// (mean of min-max maps), not with the paper's `tanh` and maximum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LayerCam;

impl CamMethod for LayerCam {
    fn name(&self) -> &'static str {
        "layercam"
    }

    fn contribution(&self, ctx: &CamContext<'_>) -> Result<Contribution> {
        Ok(Contribution::Elementwise(
            ctx.gradients()?.relu()?.mul(ctx.activations())?,
        ))
    }
}
