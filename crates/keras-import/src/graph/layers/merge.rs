//! Merge layers (Add, Subtract, Multiply, Maximum, Minimum, Average, Concatenate,
//! InceptionResNetV2's CustomScaleLayer) and the binary element-wise op they share with
//! Keras 3 operation nodes and `TFOpLambda` layers: parsing and broadcasting shapes.

use super::{Arg, LayerInput, LayerRules, ParsedOp};
use crate::error::{ErrorKind, Result};
use crate::graph::shape::{fmt_shape, invalid, Broadcast, ShapeResult};
use crate::ir::{BinaryOp, Op, Operand, Shape};
use crate::normalize_axis;

/// Merge layer flavours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MergeKind {
    /// `Add`, `Subtract`, `Multiply`, `Maximum`, `Minimum` layers.
    Reduce(BinaryOp),
    /// `Average` layer.
    Average,
}

/// Merge layers over a list of tensors.
pub(crate) fn merge(input: &LayerInput, kind: MergeKind) -> Result<ParsedOp> {
    let inputs = input.tensors()?;
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

/// The `Concatenate` layer along its `axis` option (default −1).
pub(crate) fn concatenate_layer(input: &LayerInput) -> Result<ParsedOp> {
    concatenate(input, input.fields.get("axis"))
}

/// Concatenation along `axis` (default −1) as written in a config or call.
pub(crate) fn concatenate(
    input: &LayerInput,
    axis: Option<&serde_json::Value>,
) -> Result<ParsedOp> {
    let inputs = input.tensors()?;
    let Some(Arg::Tensor { shape, .. }) = input.args.first() else {
        return Err(input.fields.error(
            ErrorKind::InvalidGraph,
            "Concatenate needs at least one input",
        ));
    };
    let written = match axis {
        None | Some(serde_json::Value::Null) => Some(-1),
        Some(serde_json::Value::Array(items)) if items.len() == 1 => items[0].as_i64(),
        Some(v) => v.as_i64(),
    };
    let axis = written
        .and_then(|a| normalize_axis(a, shape.len() + 1))
        .filter(|&a| a >= 1)
        .ok_or_else(|| {
            input
                .fields
                .malformed("axis", "one axis within the input rank")
        })?;
    Ok(ParsedOp {
        op: Op::Concatenate { axis: axis as i64 },
        inputs,
    })
}

/// A binary node over two operands, tensors or numbers (at least one tensor).
pub(crate) fn binary(input: &LayerInput, op: BinaryOp, operands: &[&Arg]) -> Result<ParsedOp> {
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

/// InceptionResNetV2 `CustomScaleLayer`: `inputs[0] + inputs[1] · scale`.
pub(crate) fn custom_scale(input: &LayerInput) -> Result<ParsedOp> {
    let f = &input.fields;
    let factor = f
        .opt_f32("scale")?
        .ok_or_else(|| f.malformed("scale", "a number"))?;
    let inputs = input
        .args
        .iter()
        .map(|arg| match arg {
            Arg::Tensor { node, .. } => Some(*node),
            Arg::Scalar(_) => None,
        })
        .collect::<Option<Vec<_>>>()
        .filter(|inputs| inputs.len() == 2)
        .ok_or_else(|| {
            f.error(
                ErrorKind::InvalidGraph,
                format_args!(
                    "expects two input tensors, got {} arguments",
                    input.args.len()
                ),
            )
        })?;
    Ok(ParsedOp {
        op: Op::ScaleAdd { factor },
        inputs,
    })
}
/// The merge family's view of an op.
pub(crate) enum Merging {
    /// A binary op over these operands.
    Binary(Operand, Operand),
    /// An n-ary merge over all inputs.
    Merge,
    /// `inputs[0] + inputs[1] · factor`.
    ScaleAdd,
    /// Concatenation along an axis (batch included).
    Concatenate(i64),
}

impl LayerRules for Merging {
    fn output_shape(&self, inputs: &[&Shape], broadcast: Broadcast) -> ShapeResult<Shape> {
        match self {
            Merging::Binary(lhs, rhs) => {
                let operand = |o: &Operand| -> ShapeResult<Option<&Shape>> {
                    match o {
                        Operand::Scalar(_) => Ok(None),
                        Operand::Input(i) => inputs
                            .get(*i)
                            .copied()
                            .map(Some)
                            .ok_or_else(|| invalid(format!("operand {i} has no input"))),
                    }
                };
                match (operand(lhs)?, operand(rhs)?) {
                    (Some(a), Some(b)) => broadcast_shapes(a, b, broadcast),
                    (Some(a), None) | (None, Some(a)) => Ok(a.clone()),
                    (None, None) => Err(invalid("no tensor operand".into())),
                }
            }
            Merging::ScaleAdd => match inputs {
                [a, b] => broadcast_shapes(a, b, broadcast),
                _ => Err(invalid(format!("expects two inputs, got {}", inputs.len()))),
            },
            Merging::Merge => {
                let (head, rest) = inputs
                    .split_first()
                    .ok_or_else(|| invalid("a merge needs inputs".into()))?;
                rest.iter().try_fold((*head).clone(), |acc, s| {
                    broadcast_shapes(&acc, s, broadcast)
                })
            }
            Merging::Concatenate(axis) => concat_shapes(inputs, *axis),
        }
    }
}

/// Element-wise broadcasting of two shapes, right-aligned.
pub(crate) fn broadcast_shapes(a: &Shape, b: &Shape, rule: Broadcast) -> ShapeResult<Shape> {
    let rank = a.len().max(b.len());
    let pad = |s: &Shape| -> Shape {
        std::iter::repeat_n(Some(1), rank - s.len())
            .chain(s.iter().copied())
            .collect()
    };
    let (a2, b2) = (pad(a), pad(b));
    a2.iter()
        .zip(&b2)
        .map(|(&x, &y)| match (x, y) {
            (Some(x), Some(y)) if x == y => Ok(Some(x)),
            (Some(1), y) | (y, Some(1)) => Ok(y),
            (Some(_), Some(_)) => Err(invalid(format!(
                "shapes {} and {} do not broadcast",
                fmt_shape(a),
                fmt_shape(b)
            ))),
            (None, None) => Ok(None),
            (None, Some(k)) | (Some(k), None) => Ok(match rule {
                Broadcast::MergeLayer => None,
                Broadcast::Numpy => Some(k),
            }),
        })
        .collect()
}

fn concat_shapes(inputs: &[&Shape], axis: i64) -> ShapeResult<Shape> {
    let (head, rest) = inputs
        .split_first()
        .ok_or_else(|| invalid("Concatenate needs inputs".into()))?;
    let index = usize::try_from(axis - 1)
        .ok()
        .filter(|&i| i < head.len())
        .ok_or_else(|| {
            invalid(format!(
                "axis {axis} is out of range for {}",
                fmt_shape(head)
            ))
        })?;
    let mut out: Shape = (*head).clone();
    for shape in rest {
        if shape.len() != head.len() {
            return Err(invalid(format!(
                "cannot concatenate {} and {}: ranks differ",
                fmt_shape(head),
                fmt_shape(shape)
            )));
        }
        for (i, (o, d)) in out.iter_mut().zip(shape.iter()).enumerate() {
            if i == index {
                *o = match (*o, *d) {
                    (Some(a), Some(b)) => Some(a.saturating_add(b)),
                    _ => None,
                };
            } else {
                *o = match (*o, *d) {
                    (Some(a), Some(b)) if a != b => {
                        return Err(invalid(format!(
                            "cannot concatenate {} and {} on axis {axis}",
                            fmt_shape(head),
                            fmt_shape(shape)
                        )))
                    }
                    (Some(a), _) | (_, Some(a)) => Some(a),
                    (None, None) => None,
                };
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::shape::infer_shape;

    #[test]
    fn broadcasting_rules() {
        let a = vec![None, None, Some(16)];
        let b = vec![Some(1), Some(1), Some(16)];
        let c = vec![Some(7), Some(7), Some(16)];
        assert_eq!(broadcast_shapes(&a, &b, Broadcast::Numpy).unwrap(), a);
        assert_eq!(broadcast_shapes(&a, &c, Broadcast::MergeLayer).unwrap(), a);
        assert_eq!(broadcast_shapes(&a, &c, Broadcast::Numpy).unwrap(), c);
        assert!(broadcast_shapes(&c, &vec![Some(5), Some(7), Some(16)], Broadcast::Numpy).is_err());
        let add = Op::Binary {
            op: BinaryOp::Add,
            lhs: Operand::Input(0),
            rhs: Operand::Scalar(3.0),
        };
        assert_eq!(infer_shape(&add, &[&c], Broadcast::Numpy).unwrap(), c);
    }

    #[test]
    fn concatenation() {
        let a = vec![Some(7), Some(7), Some(32)];
        let b = vec![Some(7), Some(7), Some(16)];
        assert_eq!(
            infer_shape(&Op::Concatenate { axis: 3 }, &[&a, &b], Broadcast::Numpy).unwrap(),
            vec![Some(7), Some(7), Some(48)]
        );
        assert!(infer_shape(&Op::Concatenate { axis: 1 }, &[&a, &b], Broadcast::Numpy).is_err());
    }
}
