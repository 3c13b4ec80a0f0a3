//! Eigen-CAM (`pytorch_grad_cam/eigen_cam.py::EigenCAM.get_cam_image`, i.e.
//! `utils/svd_on_activations.py::get_2d_projection` of the activations).

use crate::cam::projection::project_maps;
use crate::cam::{CamContext, CamMethod, Contribution};
use crate::error::Result;

/// Eigen-CAM: the first principal component of the activations, `ReLU(X_c v₁)`, with the
/// sign that makes it correlate positively with the mean activation
/// ([`crate::cam::projection`]). Class-agnostic and gradient-free.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EigenCam;

impl CamMethod for EigenCam {
    fn name(&self) -> &'static str {
        "eigencam"
    }

    fn needs_gradients(&self) -> bool {
        false
    }

    fn contribution(&self, ctx: &CamContext<'_>) -> Result<Contribution> {
        Ok(Contribution::Map(project_maps(ctx.activations())?))
    }
}
