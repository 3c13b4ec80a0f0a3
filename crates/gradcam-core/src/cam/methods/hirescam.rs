//! HiResCAM (`pytorch_grad_cam/hirescam.py::HiResCAM.get_cam_image`).

use crate::cam::{CamContext, CamMethod, Contribution};
use crate::error::Result;

/// HiResCAM: map `ReLU(Σ_k G_k ⊙ A_k)` (no spatial averaging of the gradients).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HiResCam;

impl CamMethod for HiResCam {
    fn name(&self) -> &'static str {
        "hirescam"
    }

    fn contribution(&self, ctx: &CamContext<'_>) -> Result<Contribution> {
        Ok(Contribution::Elementwise(
            ctx.gradients()?.mul(ctx.activations())?,
        ))
    }
}
