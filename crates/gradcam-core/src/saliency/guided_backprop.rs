//! Guided backpropagation (Springenberg et al. 2015) as pytorch-grad-cam 1.5.5's
//! `GuidedBackpropReLUModel`: the input gradient of the class score with every ReLU's
//! backward pass guided ([`super::guided_relu`]).

use super::guided_relu::ReluBackward;
use super::{targets_or_top1, MapParts, PixelMap};
use crate::cam::Target;
use crate::error::Result;
use crate::network::Network;

/// Command-line name of the method.
pub const NAME: &str = "guided-backprop";

impl Network {
    /// Guided backpropagation for a batch of `n` NHWC images: per image, one [`PixelMap`] per
    /// target (top-1 when `targets` is empty), at the input's resolution. One forward pass
    /// for the batch, one backward pass per target.
    pub fn guided_backprop(
        &self,
        batch: &[f32],
        n: usize,
        targets: &[Target],
    ) -> Result<Vec<Vec<PixelMap>>> {
        let pass = self.gradient_pass(batch, n, ReluBackward::Guided)?;
        let [n, h, w, c] = pass.dims;
        let per_image = h * w * c;
        let mut maps: Vec<Vec<PixelMap>> = vec![Vec::new(); n];
        for target in targets_or_top1(targets) {
            let scores = self.scores(target, &pass.predictions)?;
            let gradient = self.input_gradient(&pass, &scores)?;
            for (i, image) in gradient.chunks_exact(per_image).enumerate() {
                let parts = MapParts {
                    method: NAME,
                    dims: [h, w, c],
                    prediction: &pass.predictions[i],
                    score: scores[i],
                    target_layer: None,
                };
                maps[i].push(parts.build(image.to_vec(), image)?);
            }
        }
        Ok(maps)
    }
}
