//! Image preprocessing layers active at inference: Resizing (and tf_keras' RandomCrop),
//! CenterCrop, AutoContrast and CLAHE. The random augmentations are the identity at inference and
//! run as [`super::reshape::Identity`].

use candle_core::Tensor;
use keras_import::{AspectFit, ClaheParams, ResizeMethod, ResizeParams};

use super::{first, Evaluated, Fusion, Kernel};
use crate::error::Result;
use crate::ops::clahe::clahe;
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

/// Keras 3 AutoContrast: per image and channel, `(x − min) · 255 / (max − min)` on the
/// 0–255 scale of `value_range`, clipped, mapped back; a constant channel (where Keras
/// divides by zero and keeps the input where the result is NaN) is left unchanged.
#[derive(Debug, Clone)]
pub(crate) struct AutoContrast(pub [f32; 2]);

impl AutoContrast {
    /// `x` mapped linearly from the range `from` to the range `to`, in Keras' order of
    /// operations, or `x` itself when the ranges are equal.
    fn rescale(x: &Tensor, from: [f32; 2], to: [f32; 2]) -> Result<Tensor> {
        if from == to {
            return Ok(x.clone());
        }
        let unit = ((x - f64::from(from[0]))? / f64::from(from[1] - from[0]))?;
        Ok(((unit * f64::from(to[1] - to[0]))? + f64::from(to[0]))?)
    }
}

impl Kernel for AutoContrast {
    fn evaluate(&self, inputs: &[Tensor], _: &Fusion) -> Result<Evaluated> {
        const FULL: [f32; 2] = [0.0, 255.0];
        let x = first(inputs)?;
        let u = Self::rescale(x, self.0, FULL)?;
        let low = u.min_keepdim(1)?.min_keepdim(2)?;
        let high = u.max_keepdim(1)?.max_keepdim(2)?;
        let spread = (&high - &low)?;
        let flat = spread.eq(0f64)?;
        let spread = flat.where_cond(&spread.ones_like()?, &spread)?;
        let scale = (spread.recip()? * 255.0)?;
        let offset = (low.neg()? * &scale)?;
        let stretched = u.broadcast_mul(&scale)?.broadcast_add(&offset)?;
        let back = Self::rescale(&stretched.clamp(0f32, 255f32)?, FULL, self.0)?;
        let out = flat.broadcast_as(x.shape())?.where_cond(x, &back)?;
        Ok(Evaluated::linear(out))
    }
}

/// Keras 3 ContrastLimitedAdaptiveHistogramEqualization (see [`crate::ops::clahe`]).
#[derive(Debug, Clone)]
pub(crate) struct Clahe(pub ClaheParams);

impl Kernel for Clahe {
    fn evaluate(&self, inputs: &[Tensor], _: &Fusion) -> Result<Evaluated> {
        Ok(Evaluated::linear(clahe(first(inputs)?, &self.0)?))
    }
}
