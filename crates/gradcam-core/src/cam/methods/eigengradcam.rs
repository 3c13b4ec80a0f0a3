//! Eigen-Grad-CAM (`pytorch_grad_cam/eigen_grad_cam.py::EigenGradCAM.get_cam_image`).

use crate::cam::projection::project_maps;
use crate::cam::{CamContext, CamMethod, Contribution};
use crate::error::Result;

/// Eigen-Grad-CAM: the first principal component of `G ⊙ A` (no ReLU on the product), with
/// the sign convention of [`crate::cam::projection`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EigenGradCam;

impl CamMethod for EigenGradCam {
    fn name(&self) -> &'static str {
        "eigengradcam"
    }

    fn contribution(&self, ctx: &CamContext<'_>) -> Result<Contribution> {
        let product = ctx.gradients()?.mul(ctx.activations())?;
        Ok(Contribution::Map(project_maps(&product)?))
    }
}
