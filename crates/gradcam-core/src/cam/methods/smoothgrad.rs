//! SmoothGrad as a registered method (tf-keras-vis `saliency.py::Saliency` with
//! `smooth_samples`); the computation lives in [`crate::saliency`].

use super::pixel::pixel_maps;
use crate::cam::{CamContext, CamMethod, Contribution};
use crate::error::Result;
use crate::saliency::{SmoothGradOptions, SMOOTH_GRAD};

/// SmoothGrad: the mean absolute input gradient over seeded noisy copies.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SmoothGrad {
    /// Copies, noise level and seed.
    pub options: SmoothGradOptions,
}

impl CamMethod for SmoothGrad {
    fn name(&self) -> &'static str {
        SMOOTH_GRAD
    }

    fn needs_gradients(&self) -> bool {
        false
    }

    fn contribution(&self, ctx: &CamContext<'_>) -> Result<Contribution> {
        pixel_maps(ctx, |x, target| {
            ctx.network().smooth_grad(x, 1, &[target], &self.options)
        })
    }
}
