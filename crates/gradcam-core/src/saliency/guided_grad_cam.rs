//! Guided Grad-CAM as in pytorch-grad-cam's usage example (`cam.py`): the guided
//! backpropagation gradient times the Grad-CAM heatmap resized to the input. The heatmap is
//! kerascam's (ReLU, divided by its maximum), resized with bilinear interpolation and
//! half-pixel centres (`cv2.resize` `INTER_LINEAR`, as pytorch-grad-cam resizes); the example
//! min-max normalises instead, which is the same map whenever the heatmap's minimum is 0.

use candle_core::Tensor;
use keras_import::{AspectFit, ResizeMethod, ResizeParams};

use super::guided_relu::ReluBackward;
use super::{MapParts, PixelMap};
use crate::cam::Score;
use crate::cam::{CamRequest, CamResult, Target};
use crate::error::Result;
use crate::network::Network;
use crate::ops::image_resize::resize;

/// Command-line name of the method.
pub const NAME: &str = "guided-gradcam";

impl Network {
    /// Guided Grad-CAM for a batch of `n` NHWC images: per image, one [`PixelMap`] per
    /// target of `request` (Grad-CAM at its layer, top-1 when it names no class), at the
    /// input's resolution.
    pub fn guided_grad_cam(
        &self,
        batch: &[f32],
        n: usize,
        request: &CamRequest,
    ) -> Result<Vec<Vec<PixelMap>>> {
        let cams = self.grad_cam(batch, n, request)?;
        let pass = self.gradient_pass(batch, n, ReluBackward::Guided)?;
        let [n, h, w, c] = pass.dims;
        let per_image = h * w * c;
        let targets = cams.first().map_or(0, Vec::len);
        let mut maps: Vec<Vec<PixelMap>> = vec![Vec::new(); n];
        // `t` picks the same target in every image's list of maps.
        #[allow(clippy::needless_range_loop)]
        for t in 0..targets {
            // The classes Grad-CAM explained, so that both factors explain the same one.
            let scores = (0..n)
                .map(|i| {
                    let logits = &pass.predictions[i].logits;
                    Score::resolve(&self.head, Target::Class(cams[i][t].class), logits)
                })
                .collect::<Result<Vec<_>>>()?;
            let gradient = self.input_gradient(&pass, &scores)?;
            for (i, image) in gradient.chunks_exact(per_image).enumerate() {
                let cam = &cams[i][t];
                let product = weigh_pixels(image, &self.upsampled(cam, h, w)?, c);
                let parts = MapParts {
                    method: NAME,
                    dims: [h, w, c],
                    prediction: &pass.predictions[i],
                    score: scores[i],
                    target_layer: Some(cam.target_layer.clone()),
                };
                maps[i].push(parts.build(product.clone(), &product)?);
            }
        }
        Ok(maps)
    }

    /// `cam`'s heatmap resized to `height × width` (bilinear, half-pixel centres).
    fn upsampled(&self, cam: &CamResult, height: usize, width: usize) -> Result<Vec<f32>> {
        let map = Tensor::from_slice(&cam.heatmap, (1, cam.height, cam.width, 1), self.device())?;
        let params = ResizeParams {
            size: [height, width],
            method: ResizeMethod::Bilinear,
            antialias: false,
            fit: AspectFit::Stretch,
        };
        Ok(resize(&map, &params)?.flatten_all()?.to_vec1::<f32>()?)
    }
}

/// Each pixel's `channels` values of `image` times that pixel's weight.
fn weigh_pixels(image: &[f32], weights: &[f32], channels: usize) -> Vec<f32> {
    image
        .chunks_exact(channels)
        .zip(weights)
        .flat_map(|(pixel, &w)| pixel.iter().map(move |v| v * w))
        .collect()
}
