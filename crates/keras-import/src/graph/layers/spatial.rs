//! Spatial layers without weights: pooling, padding, cropping, up-sampling — their options
//! and output shapes.

use super::conv::parse_padding;
use super::{LayerInput, LayerRules};
use crate::error::Result;
use crate::graph::shape::{fmt_shape, image, invalid, Broadcast, ShapeResult, Window};
use crate::ir::{Interpolation, Op, Pool2dParams, Shape};

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

/// The spatial family's view of an op.
pub(crate) enum Spatial<'a> {
    /// `ZeroPadding2D`: `[[top, bottom], [left, right]]`.
    ZeroPadding(&'a [[usize; 2]; 2]),
    /// `Cropping2D`: `[[top, bottom], [left, right]]`.
    Cropping(&'a [[usize; 2]; 2]),
    /// Max or average pooling.
    Pool(&'a Pool2dParams),
    /// Global max or average pooling; `true` keeps the spatial axes as size 1.
    GlobalPool(bool),
    /// `UpSampling2D` by a factor (h, w).
    UpSampling(&'a [usize; 2]),
}

impl LayerRules for Spatial<'_> {
    fn output_shape(&self, inputs: &[&Shape], _: Broadcast) -> ShapeResult<Shape> {
        let x = image(inputs)?;
        let [h, w] = match self {
            Spatial::ZeroPadding(padding) => {
                let grow = |d: Option<usize>, p: [usize; 2]| d.map(|d| d + p[0] + p[1]);
                [grow(x[0], padding[0]), grow(x[1], padding[1])]
            }
            Spatial::Cropping(cropping) => [
                crop(x, 0, cropping[0], cropping)?,
                crop(x, 1, cropping[1], cropping)?,
            ],
            Spatial::Pool(pool) => Window {
                size: pool.pool,
                strides: pool.strides,
                dilation: [1, 1],
                padding: pool.padding,
            }
            .output_hw(x)?,
            Spatial::GlobalPool(keepdims) => {
                return Ok(if *keepdims {
                    vec![Some(1), Some(1), x[2]]
                } else {
                    vec![x[2]]
                })
            }
            Spatial::UpSampling(size) => [
                x[0].map(|d| d.saturating_mul(size[0])),
                x[1].map(|d| d.saturating_mul(size[1])),
            ],
        };
        Ok(vec![h, w, x[2]])
    }
}

/// Length of axis `axis` of image `x` after cropping `c` (before, after) from it.
fn crop(
    x: &Shape,
    axis: usize,
    c: [usize; 2],
    cropping: &[[usize; 2]; 2],
) -> ShapeResult<Option<usize>> {
    match x[axis] {
        None => Ok(None),
        Some(d) => d
            .checked_sub(c[0] + c[1])
            .filter(|&n| n > 0)
            .map(Some)
            .ok_or_else(|| {
                invalid(format!(
                    "cropping {cropping:?} leaves nothing of input {}",
                    fmt_shape(x)
                ))
            }),
    }
}

#[cfg(test)]
mod tests {
    use crate::graph::shape::infer_one;
    use crate::ir::{Op, Padding, Pool2dParams};

    #[test]
    fn pooling_and_padding() {
        let pool = Op::MaxPool2D(Pool2dParams {
            pool: [3, 3],
            strides: [2, 2],
            padding: Padding::Valid,
        });
        assert_eq!(
            infer_one(&pool, vec![Some(147), Some(147), Some(64)]).unwrap(),
            vec![Some(73), Some(73), Some(64)]
        );
        let pad = Op::ZeroPadding2D {
            padding: [[0, 1], [2, 3]],
        };
        assert_eq!(
            infer_one(&pad, vec![Some(4), None, Some(2)]).unwrap(),
            vec![Some(5), None, Some(2)]
        );
        let crop = Op::Cropping2D {
            cropping: [[3, 3], [0, 0]],
        };
        assert!(infer_one(&crop, vec![Some(6), Some(6), Some(1)]).is_err());
    }
}
