//! Guided Backpropagation as a registered method (`pytorch_grad_cam/guided_backprop.py::
//! GuidedBackpropReLUModel`); the computation lives in [`crate::saliency`].

use super::pixel::pixel_maps;
use crate::cam::{CamContext, CamMethod, Contribution};
use crate::error::Result;
use crate::saliency::GUIDED_BACKPROP;

/// Guided Backpropagation: the input gradient with every ReLU's backward pass guided; the
/// map is the maximum over colour channels of its absolute value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GuidedBackprop;

impl CamMethod for GuidedBackprop {
    fn name(&self) -> &'static str {
        GUIDED_BACKPROP
    }

    fn needs_gradients(&self) -> bool {
        false
    }

    fn contribution(&self, ctx: &CamContext<'_>) -> Result<Contribution> {
        pixel_maps(ctx, |x, target| {
            ctx.network().guided_backprop(x, 1, &[target])
        })
    }
}
