//! Spatial layers on NHWC feature maps: zero padding, cropping, pooling (windowed and
//! global) and upsampling.

use candle_core::Tensor;
use keras_import::{Interpolation, Pool2dParams};

use super::fast::zero_padded;
use super::{first, Evaluated, Fusion, Kernel};
use crate::cpu::ZeroPad;
use crate::error::{CamError, ErrorKind, Result};
use crate::ops::{pool, resize};

/// ZeroPadding2D: `[[top, bottom], [left, right]]`.
#[derive(Debug, Clone)]
pub(crate) struct ZeroPadding(pub ZeroPad);

impl Kernel for ZeroPadding {
    fn evaluate(&self, inputs: &[Tensor], _: &Fusion) -> Result<Evaluated> {
        Ok(Evaluated::linear(zero_padded(first(inputs)?, self.0)?))
    }
}

/// Cropping2D: `[[top, bottom], [left, right]]`.
#[derive(Debug, Clone)]
pub(crate) struct Cropping(pub [[usize; 2]; 2]);

impl Kernel for Cropping {
    fn evaluate(&self, inputs: &[Tensor], _: &Fusion) -> Result<Evaluated> {
        let x = first(inputs)?;
        let (_, h, w, _) = x.dims4()?;
        let [[t, b], [l, r]] = self.0;
        if t + b > h || l + r > w {
            return Err(CamError::new(
                ErrorKind::InvalidInput,
                format!("cropping {:?} exceeds the input {:?}", self.0, x.dims()),
            ));
        }
        Ok(Evaluated::linear(x.narrow(1, t, h - t - b)?.narrow(
            2,
            l,
            w - l - r,
        )?))
    }
}

/// MaxPooling2D.
#[derive(Debug, Clone)]
pub(crate) struct MaxPool(pub Pool2dParams);

impl Kernel for MaxPool {
    fn evaluate(&self, inputs: &[Tensor], _: &Fusion) -> Result<Evaluated> {
        Ok(Evaluated::linear(pool::max_pool(first(inputs)?, &self.0)?))
    }
}

/// AveragePooling2D (`same` excludes the padding from the count, as Keras).
#[derive(Debug, Clone)]
pub(crate) struct AvgPool(pub Pool2dParams);

impl Kernel for AvgPool {
    fn evaluate(&self, inputs: &[Tensor], _: &Fusion) -> Result<Evaluated> {
        Ok(Evaluated::linear(pool::avg_pool(first(inputs)?, &self.0)?))
    }
}

/// GlobalAveragePooling2D, keeping the spatial axes as size 1 when asked.
#[derive(Debug, Clone)]
pub(crate) struct GlobalAvgPool(pub bool);

impl Kernel for GlobalAvgPool {
    fn evaluate(&self, inputs: &[Tensor], _: &Fusion) -> Result<Evaluated> {
        Ok(Evaluated::linear(pool::global_avg_pool(
            first(inputs)?,
            self.0,
        )?))
    }
}

/// GlobalMaxPooling2D, keeping the spatial axes as size 1 when asked.
#[derive(Debug, Clone)]
pub(crate) struct GlobalMaxPool(pub bool);

impl Kernel for GlobalMaxPool {
    fn evaluate(&self, inputs: &[Tensor], _: &Fusion) -> Result<Evaluated> {
        Ok(Evaluated::linear(pool::global_max_pool(
            first(inputs)?,
            self.0,
        )?))
    }
}

/// UpSampling2D.
#[derive(Debug, Clone)]
pub(crate) struct UpSampling {
    /// Factor (h, w).
    pub size: [usize; 2],
    /// Interpolation.
    pub interpolation: Interpolation,
}

impl Kernel for UpSampling {
    fn evaluate(&self, inputs: &[Tensor], _: &Fusion) -> Result<Evaluated> {
        let x = first(inputs)?;
        Ok(Evaluated::linear(match self.interpolation {
            Interpolation::Nearest => resize::upsample_nearest(x, self.size)?,
            Interpolation::Bilinear => resize::upsample_bilinear(x, self.size)?,
        }))
    }
}
