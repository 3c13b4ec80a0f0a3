//! XGrad-CAM (`pytorch_grad_cam/xgrad_cam.py::XGradCAM.get_cam_weights`).

use crate::cam::method::spatial_sum;
use crate::cam::{CamContext, CamMethod, Contribution};
use crate::error::Result;

/// XGrad-CAM: `w_k = Σ_hw G_k ⊙ A_k / (Σ_hw A_k + 1e-7)`, map `ReLU(Σ_k w_k A_k)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct XGradCam;

impl CamMethod for XGradCam {
    fn name(&self) -> &'static str {
        "xgradcam"
    }

    fn contribution(&self, ctx: &CamContext<'_>) -> Result<Contribution> {
        let a = ctx.activations();
        let numerator = spatial_sum(&ctx.gradients()?.mul(a)?)?;
        let denominator = (spatial_sum(a)? + 1e-7)?;
        Ok(Contribution::ChannelWeights(numerator.div(&denominator)?))
    }
}
