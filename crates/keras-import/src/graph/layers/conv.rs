//! Convolution layers: Conv2D, DepthwiseConv2D, SeparableConv2D, Conv2DTranspose.

use super::activation::parse_activation_option;
use super::LayerInput;
use crate::config::fields::Fields;
use crate::error::{ErrorKind, Result};
use crate::ir::{Conv2dParams, Op, Padding};

/// Reads `padding` (`valid` / `same`, case-insensitive as Keras).
pub(crate) fn parse_padding(fields: &Fields) -> Result<Padding> {
    let padding = fields.str_or("padding", "valid")?;
    match padding.to_ascii_lowercase().as_str() {
        "valid" => Ok(Padding::Valid),
        "same" => Ok(Padding::Same),
        _ => Err(fields.unsupported("padding", padding)),
    }
}

/// The options every convolution shares; `filters` and `groups` are set by the caller.
fn common(input: &LayerInput, filters: usize, groups: usize) -> Result<Conv2dParams> {
    let f = &input.fields;
    f.require_channels_last()?;
    let strides = f.pair_or("strides", [1, 1])?;
    let dilation = f.pair_or("dilation_rate", [1, 1])?;
    if strides != [1, 1] && dilation != [1, 1] {
        return Err(f.unsupported(
            "strides with dilation_rate",
            format_args!("{strides:?} and {dilation:?}"),
        ));
    }
    Ok(Conv2dParams {
        filters,
        kernel: f.pair("kernel_size")?,
        strides,
        dilation,
        padding: parse_padding(f)?,
        groups,
        use_bias: f.bool_or("use_bias", true)?,
        activation: parse_activation_option(f, input.dialect)?,
    })
}

/// The known channel count of the (single) input, required to size kernels.
fn input_channels(input: &LayerInput) -> Result<usize> {
    input
        .single_shape()?
        .last()
        .copied()
        .flatten()
        .ok_or_else(|| {
            input.fields.error(
                ErrorKind::InvalidGraph,
                format_args!(
                    "needs a known channel count, input shape is {}",
                    super::super::shape::fmt_shape(input.single_shape().unwrap_or(&vec![]))
                ),
            )
        })
}

/// `Conv2D` (also the grouped form ConvNeXt uses for depthwise convolution).
pub(crate) fn conv2d(input: &LayerInput) -> Result<Op> {
    let f = &input.fields;
    let filters = f.size("filters")?;
    let groups = f.size_or("groups", 1)?;
    let channels = input_channels(input)?;
    if channels % groups != 0 || filters % groups != 0 {
        return Err(f.error(
            ErrorKind::InvalidGraph,
            format_args!(
                "groups = {groups} must divide both the {channels} input channels and the {filters} filters"
            ),
        ));
    }
    Ok(Op::Conv2D(common(input, filters, groups)?))
}

/// `DepthwiseConv2D`: `filters = channels × depth_multiplier`, `groups = channels`.
pub(crate) fn depthwise_conv2d(input: &LayerInput) -> Result<Op> {
    let depth_multiplier = input.fields.size_or("depth_multiplier", 1)?;
    let channels = input_channels(input)?;
    let filters = checked_filters(input, channels, depth_multiplier)?;
    Ok(Op::DepthwiseConv2D {
        conv: common(input, filters, channels)?,
        depth_multiplier,
    })
}

/// `SeparableConv2D`: depthwise then pointwise; `filters` is the pointwise output.
pub(crate) fn separable_conv2d(input: &LayerInput) -> Result<Op> {
    let f = &input.fields;
    let depth_multiplier = f.size_or("depth_multiplier", 1)?;
    let channels = input_channels(input)?;
    checked_filters(input, channels, depth_multiplier)?;
    Ok(Op::SeparableConv2D {
        conv: common(input, f.size("filters")?, 1)?,
        depth_multiplier,
    })
}

fn checked_filters(input: &LayerInput, channels: usize, multiplier: usize) -> Result<usize> {
    channels
        .checked_mul(multiplier)
        .filter(|&n| n <= crate::config::fields::MAX_DIM)
        .ok_or_else(|| {
            input.fields.error(
                ErrorKind::TooLarge,
                format_args!("{channels} channels × depth_multiplier {multiplier} is too large"),
            )
        })
}

/// `Conv2DTranspose` with optional `output_padding`.
pub(crate) fn conv2d_transpose(input: &LayerInput) -> Result<Op> {
    let f = &input.fields;
    if f.size_or("groups", 1)? != 1 {
        return Err(f.unsupported("groups", "> 1 in Conv2DTranspose"));
    }
    input_channels(input)?;
    let output_padding = match f.get("output_padding") {
        None => None,
        Some(_) => {
            let pads = f.pad_pairs("output_padding", 0)?;
            Some([pads[0][0], pads[1][0]])
        }
    };
    Ok(Op::Conv2DTranspose {
        conv: common(input, f.size("filters")?, 1)?,
        output_padding,
    })
}
