//! Spatial layers without weights: pooling, padding, cropping, up-sampling.

use super::conv::parse_padding;
use super::LayerInput;
use crate::error::Result;
use crate::ir::{Interpolation, Op, Pool2dParams};

fn pool_params(input: &LayerInput) -> Result<Pool2dParams> {
    let f = &input.fields;
    f.require_channels_last()?;
    let pool = f.pair_or("pool_size", [2, 2])?;
    Ok(Pool2dParams {
        pool,
        strides: f.pair_or("strides", pool)?,
        padding: parse_padding(f)?,
    })
}

/// `MaxPooling2D` (`strides` default to `pool_size`).
pub(crate) fn max_pool(input: &LayerInput) -> Result<Op> {
    pool_params(input).map(Op::MaxPool2D)
}

/// `AveragePooling2D`.
pub(crate) fn avg_pool(input: &LayerInput) -> Result<Op> {
    pool_params(input).map(Op::AvgPool2D)
}

/// `GlobalAveragePooling2D` (`keepdims`).
pub(crate) fn global_avg_pool(input: &LayerInput) -> Result<Op> {
    input.fields.require_channels_last()?;
    Ok(Op::GlobalAvgPool2D {
        keepdims: input.fields.bool_or("keepdims", false)?,
    })
}

/// `GlobalMaxPooling2D` (`keepdims`).
pub(crate) fn global_max_pool(input: &LayerInput) -> Result<Op> {
    input.fields.require_channels_last()?;
    Ok(Op::GlobalMaxPool2D {
        keepdims: input.fields.bool_or("keepdims", false)?,
    })
}

/// `ZeroPadding2D`: `padding` as int, pair or pair of pairs (default 1).
pub(crate) fn zero_padding(input: &LayerInput) -> Result<Op> {
    input.fields.require_channels_last()?;
    Ok(Op::ZeroPadding2D {
        padding: input.fields.pad_pairs("padding", 1)?,
    })
}

/// `Cropping2D`: `cropping` as int, pair or pair of pairs (default 0).
pub(crate) fn cropping(input: &LayerInput) -> Result<Op> {
    input.fields.require_channels_last()?;
    Ok(Op::Cropping2D {
        cropping: input.fields.pad_pairs("cropping", 0)?,
    })
}

/// `UpSampling2D` with `nearest` or `bilinear` interpolation.
pub(crate) fn upsampling(input: &LayerInput) -> Result<Op> {
    let f = &input.fields;
    f.require_channels_last()?;
    let interpolation = match f.str_or("interpolation", "nearest")? {
        "nearest" => Interpolation::Nearest,
        "bilinear" => Interpolation::Bilinear,
        other => return Err(f.unsupported("interpolation", other)),
    };
    Ok(Op::UpSampling2D {
        size: f.pair_or("size", [2, 2])?,
        interpolation,
    })
}
