//! Arithmetic with a constant tensor written in the config, as `preprocess_input` leaves it
//! inside a model: Keras 3 `Add(x, __tensor__[[[[-103.939, ...]]]])` and `TrueDivide(x,
//! __tensor__[0.229, ...])`, tf_keras `nn.bias_add(x, bias=[...])` and `math.truediv(x,
//! y=[...])`; and `cast`, which keeps float32 values as they are.

use serde_json::Value;

use super::merge::broadcast_shapes;
use super::{LayerInput, LayerRules, ParsedOp};
use crate::error::{ErrorKind, Result};
use crate::graph::shape::{invalid, one_input, Broadcast, ShapeResult};
use crate::ir::{BinaryOp, Constant, Op, Shape};

/// Deepest nesting accepted for a constant (a 4-D mean tensor has depth 4).
const MAX_RANK: usize = 8;

/// Reads a number or a nested rectangular list of numbers.
fn constant(value: &Value) -> std::result::Result<Constant, String> {
    let mut shape = Vec::new();
    let mut level = value;
    while let Value::Array(items) = level {
        if shape.len() == MAX_RANK {
            return Err(format!("a constant nested deeper than {MAX_RANK}"));
        }
        shape.push(items.len());
        level = items.first().unwrap_or(&Value::Null);
    }
    let mut values = Vec::new();
    collect(value, &shape, &mut values)?;
    Ok(Constant { shape, values })
}

fn collect(value: &Value, shape: &[usize], out: &mut Vec<f32>) -> std::result::Result<(), String> {
    match (value, shape.split_first()) {
        (Value::Number(n), None) => {
            out.push(n.as_f64().ok_or("a constant holds a non-finite number")? as f32);
            Ok(())
        }
        (Value::Array(items), Some((&len, rest))) if items.len() == len => {
            items.iter().try_for_each(|item| collect(item, rest, out))
        }
        _ => Err("a constant is not a rectangular list of numbers".into()),
    }
}

/// A Keras 3 `__tensor__` argument's constant, when `value` is one.
fn keras_tensor_constant(value: &Value) -> Option<std::result::Result<Constant, String>> {
    if value.get("class_name").and_then(Value::as_str) != Some("__tensor__") {
        return None;
    }
    let config = value.get("config").unwrap_or(&Value::Null);
    let dtype = config
        .get("dtype")
        .and_then(Value::as_str)
        .unwrap_or("float32");
    Some(match dtype_kind(dtype) {
        Some(_) => constant(config.get("value").unwrap_or(&Value::Null)),
        None => Err(format!("unknown dtype '{dtype}'")),
    })
}

/// The binary node `x op c` (or `c op x` when `constant_first`).
fn with_constant(
    input: &LayerInput,
    op: BinaryOp,
    constant: std::result::Result<Constant, String>,
    constant_first: bool,
) -> Result<ParsedOp> {
    let inputs = input.single_tensor()?;
    let constant = constant.map_err(|m| input.fields.error(ErrorKind::BadJson, m))?;
    Ok(ParsedOp {
        op: Op::ConstantBinary {
            op,
            constant,
            constant_first,
        },
        inputs,
    })
}

/// A Keras 3 binary operation node with a `__tensor__` operand; `None` when it has none.
pub(crate) fn keras3_binary(input: &LayerInput, op: BinaryOp) -> Option<Result<ParsedOp>> {
    let (position, constant) = input
        .raw_args
        .iter()
        .enumerate()
        .find_map(|(i, arg)| keras_tensor_constant(arg).map(|c| (i, c)))?;
    Some(with_constant(input, op, constant, position == 0))
}

/// A tf_keras binary `TFOpLambda` whose `y` is a list of numbers; `None` otherwise.
pub(crate) fn tf_binary(input: &LayerInput, op: BinaryOp) -> Option<Result<ParsedOp>> {
    let y = input.raw_kwargs.get("y")?;
    let is_list_of_numbers =
        matches!(y, Value::Array(items) if !items.first().is_some_and(Value::is_string));
    is_list_of_numbers.then(|| with_constant(input, op, constant(y), false))
}

/// tf_keras `nn.bias_add(x, bias)`: a per-channel constant added (channels last only).
pub(crate) fn bias_add(input: &LayerInput) -> Result<ParsedOp> {
    match input.raw_kwargs.get("data_format").and_then(Value::as_str) {
        None | Some("NHWC" | "N...C") => {}
        Some(other) => return Err(input.fields.unsupported("data_format", other)),
    }
    let bias = input
        .raw_kwargs
        .get("bias")
        .ok_or_else(|| input.fields.malformed("bias", "a list of numbers"))?;
    let constant = constant(bias).and_then(|c| match c.shape.len() {
        1 => Ok(c),
        n => Err(format!("bias must be a vector, got rank {n}")),
    });
    with_constant(input, BinaryOp::Add, constant, false)
}

/// What a dtype name means to a float32 executor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DtypeKind {
    /// float32 or wider: values are kept.
    Wide,
    /// Narrower floats, integers, booleans, complex: values would change.
    Narrowing,
}

fn dtype_kind(name: &str) -> Option<DtypeKind> {
    Some(match name {
        "float32" | "float64" | "float" | "double" => DtypeKind::Wide,
        "float16" | "half" | "bfloat16" | "bool" | "int8" | "int16" | "int32" | "int64"
        | "uint8" | "uint16" | "uint32" | "uint64" | "complex64" | "complex128" => {
            DtypeKind::Narrowing
        }
        _ => return None,
    })
}

/// `cast` to `dtype`: the identity for float32 and wider (the executor computes in float32);
/// other known dtypes are refused as unsupported, an unknown one as malformed.
pub(crate) fn cast(input: &LayerInput, dtype: Option<&Value>) -> Result<ParsedOp> {
    let inputs = input.single_tensor()?;
    let name = dtype
        .and_then(Value::as_str)
        .ok_or_else(|| input.fields.malformed("dtype", "a dtype name"))?;
    match dtype_kind(name) {
        Some(DtypeKind::Wide) => Ok(ParsedOp {
            op: Op::Identity,
            inputs,
        }),
        Some(DtypeKind::Narrowing) => Err(input.fields.unsupported("cast dtype", name)),
        None => Err(input.fields.malformed("dtype", "a known dtype name")),
    }
}

/// The shape rule of a binary op with a constant: numpy broadcasting, where a constant
/// with one axis more than the input (no batch) must be 1 on the batch axis.
pub(crate) struct ConstantOperand<'a>(pub &'a Constant);

impl LayerRules for ConstantOperand<'_> {
    fn output_shape(&self, inputs: &[&Shape], _: Broadcast) -> ShapeResult<Shape> {
        let x = one_input(inputs)?;
        let dims = &self.0.shape;
        let dims = match dims.len().checked_sub(x.len()) {
            None | Some(0) => dims.as_slice(),
            Some(1) if dims[0] == 1 => &dims[1..],
            _ => {
                return Err(invalid(format!(
                    "a constant of shape {dims:?} does not broadcast against the batch"
                )))
            }
        };
        let constant: Shape = dims.iter().map(|&d| Some(d)).collect();
        broadcast_shapes(x, &constant, Broadcast::Numpy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_lists_become_shaped_constants() {
        let c = constant(&json!([[[[-103.939, -116.779, -123.68]]]])).unwrap();
        assert_eq!(c.shape, vec![1, 1, 1, 3]);
        assert_eq!(c.values.len(), 3);
        assert_eq!(constant(&json!(2.5)).unwrap().shape, Vec::<usize>::new());
        for bad in [
            json!([[1, 2], [3]]),
            json!(["a"]),
            json!([[1], 2]),
            json!(null),
        ] {
            assert!(constant(&bad).is_err(), "{bad}");
        }
        let deep = (0..20).fold(json!(1), |v, _| json!([v]));
        assert!(constant(&deep).is_err());
    }

    #[test]
    fn constants_broadcast_on_the_channels() {
        let x = vec![Some(8), Some(8), Some(3)];
        let rule = |shape: Vec<usize>| {
            let c = Constant {
                values: vec![0.0; shape.iter().product()],
                shape,
            };
            ConstantOperand(&c).output_shape(&[&x], Broadcast::Numpy)
        };
        assert_eq!(rule(vec![1, 1, 1, 3]).unwrap(), x);
        assert_eq!(rule(vec![3]).unwrap(), x);
        assert!(rule(vec![4]).is_err());
        assert!(rule(vec![2, 1, 1, 3]).is_err());
        assert!(rule(vec![1, 1, 1, 1, 3]).is_err());
    }
}
