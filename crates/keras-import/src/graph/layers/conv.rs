//! Convolution layers: Conv2D, DepthwiseConv2D, SeparableConv2D, Conv2DTranspose — their
//! options, output shapes, kernels and multiply-adds.

use super::activation::parse_activation_option;
use super::{positions, Cost, Dim, LayerInput, LayerRules, WeightTemplate};
use crate::config::fields::Fields;
use crate::config::Dialect;
use crate::error::{ErrorKind, Result};
use crate::graph::shape::{fmt_shape, image, Broadcast, ShapeResult, Window};
use crate::ir::{Conv2dParams, Op, Padding, Shape, WeightRole};

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
                    fmt_shape(input.single_shape().unwrap_or(&vec![]))
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

/// The convolution family's view of an op: its parameters and depth multiplier or output
/// padding.
pub(crate) enum Convolution<'a> {
    /// `Conv2D`.
    Plain(&'a Conv2dParams),
    /// `DepthwiseConv2D` with its depth multiplier.
    Depthwise(&'a Conv2dParams, usize),
    /// `SeparableConv2D` with its depth multiplier.
    Separable(&'a Conv2dParams, usize),
    /// `Conv2DTranspose` with its output padding.
    Transpose(&'a Conv2dParams, Option<[usize; 2]>),
}

impl Convolution<'_> {
    fn params(&self) -> &Conv2dParams {
        match self {
            Convolution::Plain(conv)
            | Convolution::Depthwise(conv, _)
            | Convolution::Separable(conv, _)
            | Convolution::Transpose(conv, _) => conv,
        }
    }

    /// The kernels, in Keras variable order.
    fn kernels(&self) -> Vec<WeightTemplate> {
        let conv = self.params();
        let [kh, kw] = conv.kernel.map(Dim::Fixed);
        let filters = Dim::Fixed(conv.filters);
        let kernel = |role, dims| WeightTemplate::new(role, dims);
        match *self {
            Convolution::Plain(_) => {
                let per_group = Dim::Input {
                    axis: -1,
                    times: 1,
                    per: conv.groups.max(1),
                };
                vec![kernel(WeightRole::Kernel, vec![kh, kw, per_group, filters])]
            }
            Convolution::Depthwise(_, multiplier) => {
                let depthwise = vec![kh, kw, Dim::channels(), Dim::Fixed(multiplier)];
                vec![kernel(WeightRole::DepthwiseKernel, depthwise)]
            }
            Convolution::Separable(_, multiplier) => {
                let expanded = Dim::Input {
                    axis: -1,
                    times: multiplier,
                    per: 1,
                };
                let depthwise = vec![kh, kw, Dim::channels(), Dim::Fixed(multiplier)];
                let pointwise = vec![Dim::Fixed(1), Dim::Fixed(1), expanded, filters];
                vec![
                    kernel(WeightRole::DepthwiseKernel, depthwise),
                    kernel(WeightRole::PointwiseKernel, pointwise),
                ]
            }
            Convolution::Transpose(..) => {
                vec![kernel(
                    WeightRole::Kernel,
                    vec![kh, kw, filters, Dim::channels()],
                )]
            }
        }
    }
}

impl LayerRules for Convolution<'_> {
    fn output_shape(&self, inputs: &[&Shape], _: Broadcast) -> ShapeResult<Shape> {
        let x = image(inputs)?;
        let conv = self.params();
        let [h, w] = match self {
            Convolution::Transpose(_, output_padding) => {
                let length = |axis: usize| {
                    let extra = output_padding.map(|p| p[axis]);
                    x[axis].map(|n| transpose_length(n, conv, axis, extra))
                };
                [length(0), length(1)]
            }
            Convolution::Plain(_) | Convolution::Depthwise(..) | Convolution::Separable(..) => {
                Window {
                    size: conv.kernel,
                    strides: conv.strides,
                    dilation: conv.dilation,
                    padding: conv.padding,
                }
                .output_hw(x)?
            }
        };
        Ok(vec![h, w, Some(conv.filters)])
    }

    fn weights(&self) -> Vec<WeightTemplate> {
        let conv = self.params();
        let mut weights = self.kernels();
        if conv.use_bias {
            weights.push(WeightTemplate::vector(
                WeightRole::Bias,
                Dim::Fixed(conv.filters),
            ));
        }
        weights
    }

    /// Keras 3 names DepthwiseConv2D's depthwise kernel `kernel`, Keras 2
    /// `depthwise_kernel`.
    fn var_name(&self, role: WeightRole, dialect: Dialect) -> &'static str {
        match (self, role, dialect) {
            (Convolution::Depthwise(..), WeightRole::DepthwiseKernel, Dialect::Keras3) => "kernel",
            _ => role.keras_name(),
        }
    }

    /// Each output position costs one multiply-add per kernel weight; a transposed
    /// convolution spreads each input position over its kernel instead.
    fn multiply_adds(&self, cost: &Cost) -> u64 {
        let size = cost.weight_size;
        match self {
            Convolution::Plain(_) => positions(cost.output) * size(WeightRole::Kernel),
            Convolution::Depthwise(..) => {
                positions(cost.output) * size(WeightRole::DepthwiseKernel)
            }
            Convolution::Separable(..) => {
                let kernels = size(WeightRole::DepthwiseKernel) + size(WeightRole::PointwiseKernel);
                positions(cost.output) * kernels
            }
            Convolution::Transpose(..) => cost
                .input
                .map_or(0, |x| positions(x) * size(WeightRole::Kernel)),
        }
    }
}

/// Output length of a transposed convolution (Keras `deconv_output_length`).
fn transpose_length(
    n: usize,
    conv: &Conv2dParams,
    axis: usize,
    output_padding: Option<usize>,
) -> usize {
    let kernel = conv.kernel[axis] + (conv.kernel[axis] - 1) * (conv.dilation[axis] - 1);
    let stride = conv.strides[axis];
    match output_padding {
        None => match conv.padding {
            Padding::Valid => n * stride + kernel.saturating_sub(stride),
            Padding::Same => n * stride,
        },
        Some(extra) => {
            let pad = match conv.padding {
                Padding::Same => kernel / 2,
                Padding::Valid => 0,
            };
            ((n - 1) * stride + kernel + extra).saturating_sub(2 * pad)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::shape::infer_one;
    use crate::ir::Activation;

    fn params(kernel: usize, stride: usize, dilation: usize, padding: Padding) -> Conv2dParams {
        Conv2dParams {
            filters: 8,
            kernel: [kernel; 2],
            strides: [stride; 2],
            dilation: [dilation; 2],
            padding,
            groups: 1,
            use_bias: true,
            activation: Activation::Linear,
        }
    }

    fn conv(kernel: usize, stride: usize, dilation: usize, padding: Padding) -> Op {
        Op::Conv2D(params(kernel, stride, dilation, padding))
    }

    #[test]
    fn conv_arithmetic() {
        let x = vec![Some(224), Some(225), Some(3)];
        assert_eq!(
            infer_one(&conv(3, 2, 1, Padding::Same), x.clone()).unwrap(),
            vec![Some(112), Some(113), Some(8)]
        );
        assert_eq!(
            infer_one(&conv(3, 2, 1, Padding::Valid), x.clone()).unwrap(),
            vec![Some(111), Some(112), Some(8)]
        );
        assert_eq!(
            infer_one(&conv(3, 1, 2, Padding::Valid), x.clone()).unwrap(),
            vec![Some(220), Some(221), Some(8)]
        );
        assert_eq!(
            infer_one(&conv(3, 1, 1, Padding::Same), vec![None, Some(5), Some(3)]).unwrap(),
            vec![None, Some(5), Some(8)]
        );
        let err = infer_one(
            &conv(7, 1, 1, Padding::Valid),
            vec![Some(5), Some(5), Some(3)],
        )
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidGraph);
    }

    #[test]
    fn transpose_conv_lengths() {
        let op = Op::Conv2DTranspose {
            conv: Conv2dParams {
                filters: 4,
                ..params(3, 2, 1, Padding::Valid)
            },
            output_padding: None,
        };
        assert_eq!(
            infer_one(&op, vec![Some(7), Some(7), Some(3)]).unwrap(),
            vec![Some(15), Some(15), Some(4)]
        );
    }

    #[test]
    fn depthwise_kernel_name_follows_the_dialect() {
        let conv = params(3, 1, 1, Padding::Same);
        let rules = Convolution::Depthwise(&conv, 2);
        let roles: Vec<_> = rules.weights().iter().map(|w| w.role).collect();
        assert_eq!(roles, [WeightRole::DepthwiseKernel, WeightRole::Bias]);
        assert_eq!(
            rules.var_name(WeightRole::DepthwiseKernel, Dialect::Keras2),
            "depthwise_kernel"
        );
        assert_eq!(
            rules.var_name(WeightRole::DepthwiseKernel, Dialect::Keras3),
            "kernel"
        );
        let separable = Convolution::Separable(&conv, 2);
        assert_eq!(
            separable.var_name(WeightRole::DepthwiseKernel, Dialect::Keras3),
            "depthwise_kernel"
        );
    }
}
