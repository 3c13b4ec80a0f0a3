//! The registry: every supported layer class, by name, with the family parser that reads
//! it. Listing a class here (and nowhere else) makes the importer accept it.

use serde_json::Value;

use super::merge::{self, MergeKind};
use super::operations::{self, KerasOperation, TfFunction};
use super::{
    activation, conv, dense, normalization, preprocessing, reshaping, spatial, Arg, LayerInput,
    ParsedOp,
};
use crate::config::LayerConfig;
use crate::error::{ErrorKind, Result};
use crate::ir::{BinaryOp, Op};

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
            let operation = KerasOperation::by_class(module, &layer.class_name);
            // Without a module (Keras 3 `.h5`) a small config may still be a layer's.
            if operation.is_some() || layer.module.is_some() {
                return operation.map(LayerKind::Operation);
            }
        }
        use LayerKind::Single;
        Some(match layer.class_name.as_str() {
            "InputLayer" => LayerKind::Input,
            "Lambda" => LayerKind::Lambda,
            "TFOpLambda" | "SlicingOpLambda" => {
                let function = layer.config.get("function").and_then(Value::as_str)?;
                LayerKind::TfOp(TfFunction::by_name(function)?)
            }
            "Conv2D" | "Convolution2D" => Single(conv::conv2d),
            "DepthwiseConv2D" => Single(conv::depthwise_conv2d),
            "SeparableConv2D" | "SeparableConvolution2D" => Single(conv::separable_conv2d),
            "Conv2DTranspose" | "Convolution2DTranspose" => Single(conv::conv2d_transpose),
            "Dense" => Single(dense::dense),
            "BatchNormalization" => Single(normalization::batch_norm),
            "LayerNormalization" => Single(normalization::layer_norm),
            "Rescaling" => Single(normalization::rescaling),
            "Normalization" => Single(normalization::normalization),
            "LayerScale" => Single(normalization::layer_scale),
            "CustomScaleLayer" => LayerKind::CustomScale,
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
            "Flatten" => Single(reshaping::flatten),
            "Reshape" => Single(reshaping::reshape),
            "Permute" => Single(reshaping::permute),
            "Dropout"
            | "SpatialDropout2D"
            | "GaussianNoise"
            | "GaussianDropout"
            | "AlphaDropout"
            | "ActivityRegularization"
            | "Identity" => Single(reshaping::identity),
            "Resizing" => Single(preprocessing::resizing),
            "CenterCrop" => Single(preprocessing::center_crop),
            "RandomCrop" => Single(preprocessing::random_crop),
            "AutoContrast" => Single(preprocessing::auto_contrast),
            "ContrastLimitedAdaptiveHistogramEqualization" => Single(preprocessing::clahe),
            "AugMix"
            | "CutMix"
            | "Equalization"
            | "MaxNumBoundingBoxes"
            | "MixUp"
            | "RandAugment"
            | "RandomBrightness"
            | "RandomColorDegeneration"
            | "RandomColorJitter"
            | "RandomContrast"
            | "RandomElasticTransform"
            | "RandomErasing"
            | "RandomFlip"
            | "RandomGaussianBlur"
            | "RandomGrayscale"
            | "RandomHeight"
            | "RandomHue"
            | "RandomInvert"
            | "RandomPerspective"
            | "RandomPosterization"
            | "RandomRotation"
            | "RandomSaturation"
            | "RandomSharpness"
            | "RandomShear"
            | "RandomTranslation"
            | "RandomWidth"
            | "RandomZoom"
            | "Solarization" => Single(preprocessing::augmentation),
            _ => return None,
        })
    }
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
        LayerKind::Merge(kind) => merge::merge(input, kind),
        LayerKind::Concatenate => merge::concatenate_layer(input),
        LayerKind::Operation(operation) => operations::keras_operation(input, operation),
        LayerKind::TfOp(function) => operations::tf_op_lambda(input, function),
        LayerKind::CustomScale => merge::custom_scale(input),
        LayerKind::Input | LayerKind::Model | LayerKind::Lambda => Err(input.fields.error(
            ErrorKind::InvalidGraph,
            "is not an operation (input, nested model or Lambda)",
        )),
    }
}
