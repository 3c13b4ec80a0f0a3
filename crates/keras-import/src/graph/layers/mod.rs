//! Layer families. Each family module owns, for its layer classes and ops, the config
//! parsing, the output-shape rule and the variables (roles, order, shapes, trainability).
//! [`registry`] is the one list of class names; [`rules`] is the one match that hands each
//! [`Op`] to its family, exhaustive so that a new variant cannot be forgotten.

mod activation;
mod constants;
mod conv;
mod dense;
mod indexing;
mod merge;
mod normalization;
mod operations;
mod preprocessing;
mod registry;
mod reshaping;
mod spatial;

use serde_json::{Map, Value};

pub(crate) use self::registry::{parse_op, LayerKind};
use super::shape::{Broadcast, ShapeResult};
use crate::config::fields::Fields;
use crate::config::Dialect;
use crate::error::{ErrorKind, Result};
use crate::ir::{NodeId, Op, Shape, WeightRole};
use crate::normalize_axis;

/// One argument of a call with its tensor resolved to a graph node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    /// A tensor: the node producing it and its shape.
    Tensor {
        /// Producing node.
        node: NodeId,
        /// Its inferred shape.
        shape: Shape,
    },
    /// A number.
    Scalar(f32),
}

/// Everything a layer parser reads: the config options and the resolved call.
pub(crate) struct LayerInput<'a> {
    /// The layer's config options.
    pub fields: Fields<'a>,
    /// Dialect of the document.
    pub dialect: Dialect,
    /// Positional operands.
    pub args: &'a [Arg],
    /// Keyword operands (tensor or number valued).
    pub kwargs: &'a [(String, Arg)],
    /// All keyword arguments as written.
    pub raw_kwargs: &'a Map<String, Value>,
    /// Keras 3 positional arguments as written (see [`crate::config::InboundCall`]).
    pub raw_args: &'a [Value],
}

impl LayerInput<'_> {
    /// The shape of the only input; an error unless the call has exactly one tensor.
    pub(crate) fn single_shape(&self) -> Result<&Shape> {
        match self.args {
            [Arg::Tensor { shape, .. }] => Ok(shape),
            _ => Err(self.fields.error(
                ErrorKind::InvalidGraph,
                format_args!(
                    "expects one input tensor, got {} arguments",
                    self.args.len()
                ),
            )),
        }
    }

    /// The nodes of the positional operands, which must all be tensors.
    pub(crate) fn tensors(&self) -> Result<Vec<NodeId>> {
        self.args
            .iter()
            .map(|arg| match arg {
                Arg::Tensor { node, .. } => Ok(*node),
                Arg::Scalar(_) => Err(self.fields.error(
                    ErrorKind::InvalidGraph,
                    "expects tensors only, got a number",
                )),
            })
            .collect()
    }

    /// The node of the only operand, which must be a tensor.
    pub(crate) fn single_tensor(&self) -> Result<Vec<NodeId>> {
        let inputs = self.tensors()?;
        if inputs.len() != 1 {
            return Err(self.fields.error(
                ErrorKind::InvalidGraph,
                format_args!("expects one input tensor, got {}", inputs.len()),
            ));
        }
        Ok(inputs)
    }

    /// Option `key`'s axes (Keras numbering, negative from the end) of the single input as
    /// positive indices `1..rank`; the batch axis and out-of-range axes are rejected.
    pub(crate) fn positive_axes(&self, key: &str, axes: &[i64]) -> Result<Vec<i64>> {
        let rank = self.single_shape()?.len() + 1;
        axes.iter()
            .map(|&a| match normalize_axis(a, rank) {
                Some(index) if index >= 1 => Ok(index as i64),
                _ => Err(self.fields.error(
                    ErrorKind::InvalidGraph,
                    format_args!(
                        "{key} = {a} is out of range for a rank-{rank} input (batch included)"
                    ),
                )),
            })
            .collect()
    }
}

/// A parsed op with the nodes it reads, in operand order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ParsedOp {
    /// The typed operation.
    pub op: Op,
    /// Input nodes (`Operand::Input(i)` refers to `inputs[i]`).
    pub inputs: Vec<NodeId>,
}

/// A dimension of a weight, as a formula over the layer's input shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dim {
    /// A size set by the config (kernel size, filters, units).
    Fixed(usize),
    /// Input axis `axis` (Keras numbering, batch included, negative from the end), times
    /// `times`, divided by `per` (grouped convolutions).
    Input {
        /// The axis.
        axis: i64,
        /// Multiplier (depth multiplier).
        times: usize,
        /// Divisor (feature groups).
        per: usize,
    },
}

impl Dim {
    /// The size of input axis `axis`.
    pub(crate) fn axis(axis: i64) -> Dim {
        Dim::Input {
            axis,
            times: 1,
            per: 1,
        }
    }

    /// The input's channel count (last axis).
    pub(crate) fn channels() -> Dim {
        Dim::axis(-1)
    }
}

/// The shape of a weight, as formulas over the layer's input shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WeightShape {
    /// One formula per dimension.
    Dims(Vec<Dim>),
    /// The input's shape with the given axes (Keras numbering, batch included) set to 1
    /// (PReLU's `shared_axes`).
    InputSharing(Vec<i64>),
}

/// One variable of an op: its role and its shape; the name and trainability follow from
/// the role (see [`WeightRole::keras_name`], [`WeightRole::trainable`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WeightTemplate {
    /// What the variable is for.
    pub role: WeightRole,
    /// Its shape.
    pub shape: WeightShape,
}

impl WeightTemplate {
    /// A variable of `role` shaped `dims`.
    pub(crate) fn new(role: WeightRole, dims: Vec<Dim>) -> Self {
        WeightTemplate {
            role,
            shape: WeightShape::Dims(dims),
        }
    }

    /// A vector of `n` values (bias, normalisation parameters).
    pub(crate) fn vector(role: WeightRole, n: Dim) -> Self {
        WeightTemplate::new(role, vec![n])
    }
}

impl WeightRole {
    /// The variable name Keras usually gives this role (a family may override it, see
    /// [`LayerRules::var_name`]).
    pub(crate) fn keras_name(self) -> &'static str {
        match self {
            WeightRole::Kernel => "kernel",
            WeightRole::DepthwiseKernel => "depthwise_kernel",
            WeightRole::PointwiseKernel => "pointwise_kernel",
            WeightRole::Bias => "bias",
            WeightRole::Gamma => "gamma",
            WeightRole::Beta => "beta",
            WeightRole::MovingMean => "moving_mean",
            WeightRole::MovingVariance => "moving_variance",
            WeightRole::Alpha => "alpha",
            WeightRole::Mean => "mean",
            WeightRole::Variance => "variance",
            WeightRole::Count => "count",
        }
    }

    /// Whether Keras trains a variable of this role (statistics are only ever assigned).
    pub(crate) fn trainable(self) -> bool {
        match self {
            WeightRole::Kernel
            | WeightRole::DepthwiseKernel
            | WeightRole::PointwiseKernel
            | WeightRole::Bias
            | WeightRole::Gamma
            | WeightRole::Beta
            | WeightRole::Alpha => true,
            WeightRole::MovingMean
            | WeightRole::MovingVariance
            | WeightRole::Mean
            | WeightRole::Variance
            | WeightRole::Count => false,
        }
    }
}

/// What a multiply-add count reads of a node.
pub(crate) struct Cost<'a> {
    /// Shape of the first input, when the node has one.
    pub input: Option<&'a Shape>,
    /// The node's output shape.
    pub output: &'a Shape,
    /// Element count of the node's weight of a role, 0 when it has none.
    pub weight_size: &'a dyn Fn(WeightRole) -> u64,
}

/// Number of positions of a channels-last shape (every axis but the last); free dimensions
/// count as 1.
pub(crate) fn positions(shape: &Shape) -> u64 {
    let spatial = shape.len().saturating_sub(1);
    shape[..spatial]
        .iter()
        .map(|d| d.unwrap_or(1) as u64)
        .product()
}

/// What a layer family knows about one of its ops.
pub(crate) trait LayerRules {
    /// The output shape for these input shapes (no batch axis). `broadcast` is how a merge
    /// layer or numpy operation treats unknown dimensions; other ops ignore it.
    fn output_shape(&self, inputs: &[&Shape], broadcast: Broadcast) -> ShapeResult<Shape>;

    /// The variables the op owns, in Keras variable order.
    fn weights(&self) -> Vec<WeightTemplate> {
        Vec::new()
    }

    /// The variable name of the weight of `role` in files of `dialect`.
    fn var_name(&self, role: WeightRole, _dialect: Dialect) -> &'static str {
        role.keras_name()
    }

    /// Multiply-adds of one forward pass for one input; 0 for ops without a kernel.
    fn multiply_adds(&self, _cost: &Cost) -> u64 {
        0
    }
}

/// The family rules of `op`.
pub(crate) fn rules(op: &Op) -> Box<dyn LayerRules + '_> {
    use self::activation::Activating;
    use self::conv::Convolution;
    use self::merge::Merging;
    use self::normalization::{Axes, Normalizing};
    use self::preprocessing::Preprocessing;
    use self::reshaping::Reshaping;
    use self::spatial::Spatial;
    match op {
        Op::Input => Box::new(Reshaping::Input),
        Op::Identity => Box::new(Reshaping::Identity),
        Op::Flatten => Box::new(Reshaping::Flatten),
        Op::Reshape { target_shape } => Box::new(Reshaping::Reshape(target_shape)),
        Op::Permute { dims } => Box::new(Reshaping::Permute(dims)),
        Op::Conv2D(conv) => Box::new(Convolution::Plain(conv)),
        Op::DepthwiseConv2D {
            conv,
            depth_multiplier: m,
        } => Box::new(Convolution::Depthwise(conv, *m)),
        Op::SeparableConv2D {
            conv,
            depth_multiplier: m,
        } => Box::new(Convolution::Separable(conv, *m)),
        Op::Conv2DTranspose {
            conv,
            output_padding: p,
        } => Box::new(Convolution::Transpose(conv, *p)),
        Op::Dense {
            units, use_bias, ..
        } => Box::new(dense::Dense {
            units: *units,
            use_bias: *use_bias,
        }),
        Op::BatchNorm {
            axis,
            center,
            scale,
            ..
        } => Box::new(Normalizing::BatchNorm(Axes {
            axes: std::slice::from_ref(axis),
            center: *center,
            scale: *scale,
        })),
        Op::LayerNorm {
            axes,
            center,
            scale,
            ..
        } => Box::new(Normalizing::LayerNorm(Axes {
            axes,
            center: *center,
            scale: *scale,
        })),
        Op::Rescaling { scale, offset } => Box::new(Normalizing::Rescaling { scale, offset }),
        Op::Normalization { mean, variance, .. } => Box::new(Normalizing::Normalization {
            mean: mean.as_deref(),
            variance: variance.as_deref(),
        }),
        Op::LayerScale => Box::new(Normalizing::LayerScale),
        Op::Scale { .. } => Box::new(Normalizing::Scale),
        Op::Activation(_) | Op::Relu { .. } | Op::LeakyRelu { .. } => {
            Box::new(Activating::Elementwise)
        }
        Op::PRelu { shared_axes } => Box::new(Activating::PRelu(shared_axes)),
        Op::Softmax { axis } => Box::new(Activating::Softmax(*axis)),
        Op::Binary { lhs, rhs, .. } => Box::new(Merging::Binary(*lhs, *rhs)),
        Op::Merge { .. } => Box::new(Merging::Merge),
        Op::ScaleAdd { .. } => Box::new(Merging::ScaleAdd),
        Op::Concatenate { axis } => Box::new(Merging::Concatenate(*axis)),
        Op::ConstantBinary { constant, .. } => Box::new(constants::ConstantOperand(constant)),
        Op::Slice { axes } => Box::new(indexing::Indexing::Slice(axes)),
        Op::Stack { axis } => Box::new(indexing::Indexing::Stack(*axis)),
        Op::ReduceMean { axes, keepdims } => Box::new(operations::ReduceMean {
            axes,
            keepdims: *keepdims,
        }),
        Op::ZeroPadding2D { padding } => Box::new(Spatial::ZeroPadding(padding)),
        Op::Cropping2D { cropping } => Box::new(Spatial::Cropping(cropping)),
        Op::MaxPool2D(pool) | Op::AvgPool2D(pool) => Box::new(Spatial::Pool(pool)),
        Op::GlobalAvgPool2D { keepdims } | Op::GlobalMaxPool2D { keepdims } => {
            Box::new(Spatial::GlobalPool(*keepdims))
        }
        Op::UpSampling2D { size, .. } => Box::new(Spatial::UpSampling(size)),
        Op::Resize(params) => Box::new(Preprocessing::Resampling(&params.size)),
        Op::CenterCrop { size } => Box::new(Preprocessing::Resampling(size)),
        Op::AutoContrast { .. } | Op::Clahe(_) => Box::new(Preprocessing::Image),
    }
}
