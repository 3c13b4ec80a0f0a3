//! Image preprocessing layers that resample at inference: Resizing (and tf_keras'
//! RandomCrop) and CenterCrop. The random augmentations are the identity at inference and
//! run as [`super::reshape::Identity`].

use candle_core::Tensor;
use keras_import::{AspectFit, ResizeMethod, ResizeParams};

use super::{first, Evaluated, Fusion, Kernel};
use crate::error::Result;
use crate::ops::image_resize::resize;

/// Resizing: `tf.image.resize` after the crop or pad to the target aspect ratio.
#[derive(Debug, Clone)]
pub(crate) struct Resize(pub ResizeParams);

impl Kernel for Resize {
    fn evaluate(&self, inputs: &[Tensor], _: &Fusion) -> Result<Evaluated> {
        Ok(Evaluated::linear(resize(first(inputs)?, &self.0)?))
    }
}

/// CenterCrop: the centred window when the input covers the target on both sides;
/// otherwise the largest centred window of the target aspect ratio, resized bilinearly.
#[derive(Debug, Clone)]
pub(crate) struct CenterCrop(pub [usize; 2]);

impl Kernel for CenterCrop {
    fn evaluate(&self, inputs: &[Tensor], _: &Fusion) -> Result<Evaluated> {
        let x = first(inputs)?;
        let (_, h, w, _) = x.dims4()?;
        let [th, tw] = self.0;
        let out = if h >= th && w >= tw {
            x.narrow(1, (h - th) / 2, th)?.narrow(2, (w - tw) / 2, tw)?
        } else {
            let params = ResizeParams {
                size: self.0,
                method: ResizeMethod::Bilinear,
                antialias: false,
                fit: AspectFit::Crop,
            };
            resize(x, &params)?
        };
        Ok(Evaluated::linear(out))
    }
}
