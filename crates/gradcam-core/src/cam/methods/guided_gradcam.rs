//! Guided Grad-CAM as a registered method (pytorch-grad-cam's `cam.py` example: guided
//! backpropagation times the Grad-CAM heatmap); the computation lives in [`crate::saliency`].

use super::pixel::pixel_maps;
use crate::cam::{CamContext, CamMethod, CamRequest, Contribution};
use crate::error::Result;
use crate::saliency::GUIDED_GRAD_CAM;

/// Guided Grad-CAM at the pipeline's target layer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GuidedGradCam;

impl CamMethod for GuidedGradCam {
    fn name(&self) -> &'static str {
        GUIDED_GRAD_CAM
    }

    fn needs_gradients(&self) -> bool {
        false
    }

    fn contribution(&self, ctx: &CamContext<'_>) -> Result<Contribution> {
        pixel_maps(ctx, |x, target| {
            let request = CamRequest::for_layer(Some(ctx.layer().to_string()), vec![target]);
            ctx.network().guided_grad_cam(x, 1, &request)
        })
    }
}
