//! Keras 3 operation nodes (`keras.src.ops.*`) and tf_keras `TFOpLambda` layers: which
//! functions are supported, how their operands are read, and the mean they may compute.

use serde_json::Value;

use super::merge::{binary, concatenate};
use super::{constants, indexing};
use super::{Arg, LayerInput, LayerRules, ParsedOp};
use crate::error::Result;
use crate::graph::shape::{one_input, Broadcast, ShapeResult};
use crate::ir::{Activation, BinaryOp, Op, Shape};

/// A supported `TFOpLambda` function.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum TfFunction {
    /// Binary arithmetic (`__operators__.add`, `math.multiply`, ...).
    Binary(BinaryOp),
    /// Unary activation (`nn.relu6`, `math.sigmoid`, ...).
    Unary(Activation),
    /// `math.reduce_mean` with `axis` and `keepdims` kwargs.
    ReduceMean,
    /// `nn.gelu` with its `approximate` kwarg (TF defaults to the exact form).
    Gelu,
    /// `__operators__.getitem` (a `SlicingOpLambda`) with its `slice_spec`.
    GetItem,
    /// `nn.bias_add` with a constant `bias`.
    BiasAdd,
    /// `reverse` along `axis`.
    Reverse,
    /// `stack` of tensors along `axis`.
    Stack,
    /// `concat` of tensors along `axis`.
    Concat,
    /// `cast` to `dtype`.
    Cast,
}

impl TfFunction {
    /// Maps a `TFOpLambda` `function` name.
    pub(crate) fn by_name(name: &str) -> Option<TfFunction> {
        use BinaryOp::*;
        Some(match name {
            "__operators__.add" | "math.add" => TfFunction::Binary(Add),
            "math.subtract" | "__operators__.sub" => TfFunction::Binary(Subtract),
            "math.multiply" | "__operators__.mul" => TfFunction::Binary(Multiply),
            "math.truediv" | "math.divide" | "__operators__.truediv" => TfFunction::Binary(Divide),
            "math.maximum" => TfFunction::Binary(Maximum),
            "math.minimum" => TfFunction::Binary(Minimum),
            "nn.relu" => TfFunction::Unary(Activation::Relu),
            "nn.relu6" => TfFunction::Unary(Activation::Relu6),
            "math.sigmoid" | "nn.sigmoid" => TfFunction::Unary(Activation::Sigmoid),
            "math.tanh" | "nn.tanh" => TfFunction::Unary(Activation::Tanh),
            "nn.silu" | "nn.swish" => TfFunction::Unary(Activation::Swish),
            "nn.softmax" => TfFunction::Unary(Activation::Softmax),
            "math.exp" => TfFunction::Unary(Activation::Exponential),
            "math.reduce_mean" | "reduce_mean" => TfFunction::ReduceMean,
            "nn.gelu" => TfFunction::Gelu,
            "__operators__.getitem" => TfFunction::GetItem,
            "nn.bias_add" => TfFunction::BiasAdd,
            "reverse" | "reverse_v2" => TfFunction::Reverse,
            "stack" => TfFunction::Stack,
            "concat" => TfFunction::Concat,
            "cast" | "dtypes.cast" => TfFunction::Cast,
            _ => return None,
        })
    }
}

/// A supported Keras 3 operation node (`keras.src.ops.*`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum KerasOperation {
    /// Binary arithmetic with broadcasting (numpy rules).
    Binary(BinaryOp),
    /// Unary activation.
    Unary(Activation),
    /// `numpy.Mean` with `axis`/`keepdims` config.
    Mean,
    /// `nn.Gelu` with its `approximate` config (Keras 3 defaults to the tanh form).
    Gelu,
    /// `GetItem` (`x[...]`).
    GetItem,
    /// `numpy.Flip` along `axis`.
    Flip,
    /// `numpy.Stack` along `axis`.
    Stack,
    /// `numpy.Concatenate` along `axis`.
    Concatenate,
    /// `core.Cast` to `dtype`.
    Cast,
}

impl KerasOperation {
    /// Maps a Keras 3 operation class (`module` is `keras.src.ops.numpy`, `keras.src.ops.nn`).
    pub(crate) fn by_class(module: &str, class_name: &str) -> Option<KerasOperation> {
        if module.is_empty() {
            // A Keras 3 `.h5` file names no module: the class decides.
            return ["numpy", "nn", "core"]
                .iter()
                .find_map(|family| Self::by_class(family, class_name));
        }
        use BinaryOp::*;
        let family = module.rsplit('.').next().unwrap_or(module);
        Some(match (family, class_name) {
            ("numpy", "Add") => KerasOperation::Binary(Add),
            ("numpy", "Subtract") => KerasOperation::Binary(Subtract),
            ("numpy", "Multiply") => KerasOperation::Binary(Multiply),
            ("numpy", "Divide" | "TrueDivide") => KerasOperation::Binary(Divide),
            ("numpy", "Maximum") => KerasOperation::Binary(Maximum),
            ("numpy", "Minimum") => KerasOperation::Binary(Minimum),
            ("numpy", "Mean") => KerasOperation::Mean,
            ("nn", "Gelu") => KerasOperation::Gelu,
            ("numpy" | "core", "GetItem") => KerasOperation::GetItem,
            ("numpy", "Flip") => KerasOperation::Flip,
            ("numpy", "Stack") => KerasOperation::Stack,
            ("numpy", "Concatenate") => KerasOperation::Concatenate,
            ("numpy" | "core", "Cast") => KerasOperation::Cast,
            ("numpy", "Tanh") | ("nn", "Tanh") => KerasOperation::Unary(Activation::Tanh),
            ("numpy", "Exp") => KerasOperation::Unary(Activation::Exponential),
            ("nn", "Relu") => KerasOperation::Unary(Activation::Relu),
            ("nn", "Relu6") => KerasOperation::Unary(Activation::Relu6),
            ("nn", "Sigmoid") => KerasOperation::Unary(Activation::Sigmoid),
            ("nn", "Silu" | "Swish") => KerasOperation::Unary(Activation::Swish),
            ("nn", "HardSilu" | "HardSwish") => KerasOperation::Unary(Activation::HardSwish),
            ("nn", "HardSigmoid") => KerasOperation::Unary(Activation::HardSigmoid {
                slope: 1.0 / 6.0,
                offset: 0.5,
            }),
            _ => return None,
        })
    }
}

fn unary(input: &LayerInput, activation: Activation) -> Result<ParsedOp> {
    let inputs = input.single_tensor()?;
    Ok(ParsedOp {
        op: Op::Activation(activation),
        inputs,
    })
}

/// A mean over `axis` read from `source` (`axis`, `keepdims` keys).
fn reduce_mean(
    input: &LayerInput,
    axis: Option<&Value>,
    keepdims: Option<&Value>,
) -> Result<ParsedOp> {
    let inputs = input.single_tensor()?;
    let axes: Vec<i64> = match axis {
        Some(Value::Number(n)) => n.as_i64().into_iter().collect(),
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_i64).collect(),
        _ => Vec::new(),
    };
    if axes.is_empty() {
        return Err(input
            .fields
            .unsupported("axis", "a mean over all axes (batch included)"));
    }
    let mut axes = input.positive_axes("axis", &axes)?;
    axes.sort_unstable();
    axes.dedup();
    Ok(ParsedOp {
        op: Op::ReduceMean {
            axes,
            keepdims: keepdims.and_then(Value::as_bool).unwrap_or(false),
        },
        inputs,
    })
}

/// A Keras 3 operation node.
pub(crate) fn keras_operation(input: &LayerInput, operation: KerasOperation) -> Result<ParsedOp> {
    match operation {
        KerasOperation::Binary(op) => constants::keras3_binary(input, op)
            .unwrap_or_else(|| binary(input, op, &input.args.iter().collect::<Vec<_>>())),
        KerasOperation::Unary(activation) => unary(input, activation),
        KerasOperation::Mean => reduce_mean(
            input,
            input.fields.get("axis"),
            input.fields.get("keepdims"),
        ),
        KerasOperation::Gelu => {
            let approximate = input.fields.bool_or("approximate", true)?;
            unary(input, Activation::Gelu { approximate })
        }
        KerasOperation::GetItem => indexing::get_item(input),
        KerasOperation::Flip => indexing::reverse(input, input.fields.get("axis")),
        KerasOperation::Stack => indexing::stack(input, input.fields.get("axis")),
        KerasOperation::Concatenate => concatenate(input, input.fields.get("axis")),
        KerasOperation::Cast => constants::cast(input, input.fields.get("dtype")),
    }
}

/// A tf_keras `TFOpLambda` layer: `x` is the positional tensor, `y` a keyword operand.
pub(crate) fn tf_op_lambda(input: &LayerInput, function: TfFunction) -> Result<ParsedOp> {
    match function {
        TfFunction::Binary(op) => {
            if let Some(parsed) = constants::tf_binary(input, op) {
                return parsed;
            }
            let operands: Vec<&Arg> = input
                .args
                .iter()
                .chain(
                    input
                        .kwargs
                        .iter()
                        .filter(|(k, _)| k == "y")
                        .map(|(_, a)| a),
                )
                .collect();
            binary(input, op, &operands)
        }
        TfFunction::Unary(activation) => unary(input, activation),
        TfFunction::ReduceMean => reduce_mean(
            input,
            input.raw_kwargs.get("axis"),
            input.raw_kwargs.get("keepdims"),
        ),
        TfFunction::Gelu => {
            let approximate = input
                .raw_kwargs
                .get("approximate")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false);
            unary(input, Activation::Gelu { approximate })
        }
        TfFunction::GetItem => indexing::getitem_lambda(input),
        TfFunction::BiasAdd => constants::bias_add(input),
        TfFunction::Reverse => indexing::reverse(input, input.raw_kwargs.get("axis")),
        TfFunction::Stack => indexing::stack(input, input.raw_kwargs.get("axis")),
        TfFunction::Concat => concatenate(input, input.raw_kwargs.get("axis")),
        TfFunction::Cast => constants::cast(input, input.raw_kwargs.get("dtype")),
    }
}

/// A mean over the given axes.
pub(crate) struct ReduceMean<'a> {
    /// Reduced axes (positive, batch included).
    pub axes: &'a [i64],
    /// Keep reduced axes as size 1.
    pub keepdims: bool,
}

impl LayerRules for ReduceMean<'_> {
    fn output_shape(&self, inputs: &[&Shape], _: Broadcast) -> ShapeResult<Shape> {
        let x = one_input(inputs)?;
        let mut out = Vec::with_capacity(x.len());
        for (i, d) in x.iter().enumerate() {
            let reduced = self.axes.contains(&(i as i64 + 1));
            match (reduced, self.keepdims) {
                (false, _) => out.push(*d),
                (true, true) => out.push(Some(1)),
                (true, false) => {}
            }
        }
        Ok(out)
    }
}
