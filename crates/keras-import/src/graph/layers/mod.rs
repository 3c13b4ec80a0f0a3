//! Layer classes to typed [`Op`]s: one classification of every supported class, then one
//! parser per class reading its config options.

mod activation;
mod conv;
mod core;
mod elementwise;
mod spatial;

use serde_json::{Map, Value};

use self::elementwise::{KerasOperation, MergeKind, TfFunction};
use crate::config::fields::Fields;
use crate::config::{Dialect, LayerConfig};
use crate::error::{ErrorKind, Result};
use crate::ir::{BinaryOp, NodeId, Op, Shape};

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
}

/// A parsed op with the nodes it reads, in operand order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ParsedOp {
    /// The typed operation.
    pub op: Op,
    /// Input nodes (`Operand::Input(i)` refers to `inputs[i]`).
    pub inputs: Vec<NodeId>,
}

/// Every supported layer class, decided from the class name (and module, function).
#[derive(Debug, Clone, Copy)]
pub(crate) enum LayerKind {
    /// `InputLayer`.
    Input,
    /// A nested Functional / Sequential / Model.
    Model,
    /// `Lambda`: refused, never decoded.
    Lambda,
    /// A layer with one input parsed by the given function.
    Single(fn(&LayerInput) -> Result<Op>),
    /// A merge layer.
    Merge(MergeKind),
    /// `Concatenate`.
    Concatenate,
    /// A Keras 3 operation node.
    Operation(KerasOperation),
    /// A `TFOpLambda` layer.
    TfOp(TfFunction),
    /// InceptionResNetV2 `CustomScaleLayer` (two inputs).
    CustomScale,
}

impl LayerKind {
    /// Classifies a config entry; `None` for classes (or functions) this importer lacks.
    pub(crate) fn of(layer: &LayerConfig) -> Option<LayerKind> {
        if layer.nested.is_some() {
            return Some(LayerKind::Model);
        }
        if layer.is_operation {
            let module = layer.module.as_deref().unwrap_or_default();
            return KerasOperation::by_class(module, &layer.class_name).map(LayerKind::Operation);
        }
        use LayerKind::Single;
        Some(match layer.class_name.as_str() {
            "InputLayer" => LayerKind::Input,
            "Lambda" => LayerKind::Lambda,
            "TFOpLambda" => {
                let function = layer.config.get("function").and_then(Value::as_str)?;
                LayerKind::TfOp(TfFunction::by_name(function)?)
            }
            "Conv2D" | "Convolution2D" => Single(conv::conv2d),
            "DepthwiseConv2D" => Single(conv::depthwise_conv2d),
            "SeparableConv2D" | "SeparableConvolution2D" => Single(conv::separable_conv2d),
            "Conv2DTranspose" | "Convolution2DTranspose" => Single(conv::conv2d_transpose),
            "Dense" => Single(core::dense),
            "BatchNormalization" => Single(core::batch_norm),
            "LayerNormalization" => Single(core::layer_norm),
            "Activation" => Single(activation::activation_layer),
            "ReLU" => Single(activation::relu_layer),
            "LeakyReLU" => Single(activation::leaky_relu_layer),
            "PReLU" => Single(activation::prelu_layer),
            "ELU" => Single(activation::elu_layer),
            "Softmax" => Single(activation::softmax_layer),
            "Add" => LayerKind::Merge(MergeKind::Reduce(BinaryOp::Add)),
            "Subtract" => LayerKind::Merge(MergeKind::Reduce(BinaryOp::Subtract)),
            "Multiply" => LayerKind::Merge(MergeKind::Reduce(BinaryOp::Multiply)),
            "Maximum" => LayerKind::Merge(MergeKind::Reduce(BinaryOp::Maximum)),
            "Minimum" => LayerKind::Merge(MergeKind::Reduce(BinaryOp::Minimum)),
            "Average" => LayerKind::Merge(MergeKind::Average),
            "Concatenate" => LayerKind::Concatenate,
            "ZeroPadding2D" => Single(spatial::zero_padding),
            "Cropping2D" => Single(spatial::cropping),
            "MaxPooling2D" | "MaxPool2D" => Single(spatial::max_pool),
            "AveragePooling2D" | "AvgPool2D" => Single(spatial::avg_pool),
            "GlobalAveragePooling2D" | "GlobalAvgPool2D" => Single(spatial::global_avg_pool),
            "GlobalMaxPooling2D" | "GlobalMaxPool2D" => Single(spatial::global_max_pool),
            "UpSampling2D" => Single(spatial::upsampling),
            "Flatten" => Single(core::flatten),
            "Reshape" => Single(core::reshape),
            "Permute" => Single(core::permute),
            "Rescaling" => Single(core::rescaling),
            "Normalization" => Single(core::normalization),
            "LayerScale" => Single(core::layer_scale),
            "CustomScaleLayer" => LayerKind::CustomScale,
            "Dropout"
            | "SpatialDropout2D"
            | "GaussianNoise"
            | "GaussianDropout"
            | "AlphaDropout"
            | "ActivityRegularization"
            | "Identity" => Single(identity),
            _ => return None,
        })
    }
}

fn identity(input: &LayerInput) -> Result<Op> {
    input.single_shape()?;
    Ok(Op::Identity)
}

/// Parses the op of one call of a (non-input, non-model) layer of the given kind.
pub(crate) fn parse_op(kind: LayerKind, input: &LayerInput) -> Result<ParsedOp> {
    match kind {
        LayerKind::Single(parse) => {
            input.single_shape()?;
            let op = parse(input)?;
            let inputs = match input.args {
                [Arg::Tensor { node, .. }] => vec![*node],
                _ => Vec::new(),
            };
            Ok(ParsedOp { op, inputs })
        }
        LayerKind::Merge(merge) => elementwise::merge(input, merge),
        LayerKind::Concatenate => elementwise::concatenate(input),
        LayerKind::Operation(operation) => elementwise::keras_operation(input, operation),
        LayerKind::TfOp(function) => elementwise::tf_op_lambda(input, function),
        LayerKind::CustomScale => core::custom_scale(input),
        LayerKind::Input | LayerKind::Model | LayerKind::Lambda => Err(input.fields.error(
            ErrorKind::InvalidGraph,
            "is not an operation (input, nested model or Lambda)",
        )),
    }
}
