//! Multi-input and element-wise nodes: merge layers, Concatenate, Keras 3 operation nodes and
//! tf_keras `TFOpLambda` layers.

use serde_json::Value;

use super::{Arg, LayerInput, ParsedOp};
use crate::error::{ErrorKind, Result};
use crate::ir::{Activation, BinaryOp, Op, Operand};

/// Merge layer flavours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MergeKind {
    /// `Add`, `Subtract`, `Multiply`, `Maximum`, `Minimum` layers.
    Reduce(BinaryOp),
    /// `Average` layer.
    Average,
}

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
}

impl KerasOperation {
    /// Maps a Keras 3 operation class (`module` is `keras.src.ops.numpy`, `keras.src.ops.nn`).
    pub(crate) fn by_class(module: &str, class_name: &str) -> Option<KerasOperation> {
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

/// All positional operands must be tensors.
fn tensor_inputs(input: &LayerInput) -> Result<Vec<usize>> {
    input
        .args
        .iter()
        .map(|arg| match arg {
            Arg::Tensor { node, .. } => Ok(*node),
            Arg::Scalar(_) => Err(input.fields.error(
                ErrorKind::InvalidGraph,
                "expects tensors only, got a number",
            )),
        })
        .collect()
}

/// Merge layers over a list of tensors.
pub(crate) fn merge(input: &LayerInput, kind: MergeKind) -> Result<ParsedOp> {
    let inputs = tensor_inputs(input)?;
    let op = match (kind, inputs.len()) {
        (_, 0) => {
            return Err(input.fields.error(
                ErrorKind::InvalidGraph,
                "a merge layer needs at least one input",
            ))
        }
        (MergeKind::Reduce(BinaryOp::Subtract), n) if n != 2 => {
            return Err(input.fields.error(
                ErrorKind::InvalidGraph,
                format_args!("Subtract needs exactly 2 inputs, got {n}"),
            ))
        }
        (MergeKind::Reduce(op), 2) => Op::Binary {
            op,
            lhs: Operand::Input(0),
            rhs: Operand::Input(1),
        },
        (MergeKind::Reduce(op), _) => Op::Merge { op, average: false },
        (MergeKind::Average, _) => Op::Merge {
            op: BinaryOp::Add,
            average: true,
        },
    };
    Ok(ParsedOp { op, inputs })
}

/// `Concatenate` along `axis` (default −1).
pub(crate) fn concatenate(input: &LayerInput) -> Result<ParsedOp> {
    let inputs = tensor_inputs(input)?;
    let Some(Arg::Tensor { shape, .. }) = input.args.first() else {
        return Err(input.fields.error(
            ErrorKind::InvalidGraph,
            "Concatenate needs at least one input",
        ));
    };
    let rank = shape.len() as i64 + 1;
    let axis = input.fields.i64_list("axis")?.unwrap_or_else(|| vec![-1]);
    let axis = match axis.as_slice() {
        [a] if (1..rank).contains(&(if *a < 0 { a + rank } else { *a })) => {
            if *a < 0 {
                a + rank
            } else {
                *a
            }
        }
        _ => {
            return Err(input
                .fields
                .malformed("axis", "one axis within the input rank"))
        }
    };
    Ok(ParsedOp {
        op: Op::Concatenate { axis },
        inputs,
    })
}

/// A binary node over two operands, tensors or numbers (at least one tensor).
fn binary(input: &LayerInput, op: BinaryOp, operands: &[&Arg]) -> Result<ParsedOp> {
    let [a, b] = operands else {
        return Err(input.fields.error(
            ErrorKind::InvalidGraph,
            format_args!(
                "a binary operation needs 2 operands, got {}",
                operands.len()
            ),
        ));
    };
    let mut inputs = Vec::new();
    let mut operand = |arg: &Arg| match arg {
        Arg::Tensor { node, .. } => {
            inputs.push(*node);
            Operand::Input(inputs.len() - 1)
        }
        Arg::Scalar(x) => Operand::Scalar(*x),
    };
    let lhs = operand(a);
    let rhs = operand(b);
    if inputs.is_empty() {
        return Err(input.fields.error(
            ErrorKind::InvalidGraph,
            "a binary operation on two numbers has no tensor",
        ));
    }
    Ok(ParsedOp {
        op: Op::Binary { op, lhs, rhs },
        inputs,
    })
}

fn unary(input: &LayerInput, activation: Activation) -> Result<ParsedOp> {
    let inputs = tensor_inputs(input)?;
    if inputs.len() != 1 {
        return Err(input.fields.error(
            ErrorKind::InvalidGraph,
            format_args!("expects one input tensor, got {}", inputs.len()),
        ));
    }
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
    let inputs = tensor_inputs(input)?;
    if inputs.len() != 1 {
        return Err(input.fields.error(
            ErrorKind::InvalidGraph,
            format_args!("expects one input tensor, got {}", inputs.len()),
        ));
    }
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
    let mut axes = super::core::normalize_axes(input, "axis", &axes)?;
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
        KerasOperation::Binary(op) => binary(input, op, &input.args.iter().collect::<Vec<_>>()),
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
    }
}

/// A tf_keras `TFOpLambda` layer: `x` is the positional tensor, `y` a keyword operand.
pub(crate) fn tf_op_lambda(input: &LayerInput, function: TfFunction) -> Result<ParsedOp> {
    match function {
        TfFunction::Binary(op) => {
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
    }
}
