//! Activation functions (by name, string or serialised object) and the activation layers:
//! their options, shape checks and PReLU's slopes.

use serde_json::Value;

use super::{LayerInput, LayerRules, WeightShape, WeightTemplate};
use crate::config::fields::Fields;
use crate::config::Dialect;
use crate::error::Result;
use crate::graph::shape::{fmt_shape, invalid, one_input, Broadcast, ShapeResult};
use crate::ir::{Activation, Op, Shape, WeightRole};
use crate::normalize_axis;

/// Parses an activation by its Keras name. `hard_sigmoid` follows the dialect: Keras 3 uses
/// `relu6(x + 3) / 6` (slope 1/6), Keras 2 / tf_keras `clip(0.2·x + 0.5, 0, 1)`.
pub(crate) fn activation_by_name(name: &str, dialect: Dialect) -> Option<Activation> {
    Some(match name {
        "linear" | "identity" => Activation::Linear,
        "relu" => Activation::Relu,
        "relu6" => Activation::Relu6,
        "sigmoid" => Activation::Sigmoid,
        "hard_sigmoid" => match dialect {
            Dialect::Keras3 => Activation::HardSigmoid {
                slope: 1.0 / 6.0,
                offset: 0.5,
            },
            Dialect::Keras2 => Activation::HardSigmoid {
                slope: 0.2,
                offset: 0.5,
            },
        },
        "softmax" => Activation::Softmax,
        "swish" | "silu" => Activation::Swish,
        "hard_swish" | "hard_silu" => Activation::HardSwish,
        "gelu" => Activation::Gelu { approximate: false },
        "tanh" => Activation::Tanh,
        "elu" => Activation::Elu { alpha: 1.0 },
        "selu" => Activation::Selu,
        "softplus" => Activation::Softplus,
        "softsign" => Activation::Softsign,
        "mish" => Activation::Mish,
        "exponential" => Activation::Exponential,
        "leaky_relu" => Activation::LeakyRelu { alpha: 0.2 },
        "log_softmax" => Activation::LogSoftmax,
        "celu" => Activation::Celu { alpha: 1.0 },
        "log_sigmoid" => Activation::LogSigmoid,
        "hard_tanh" => Activation::HardTanh,
        "squareplus" => Activation::Squareplus { b: 4.0 },
        "sparse_plus" => Activation::SparsePlus,
        "soft_shrink" => Activation::SoftShrink { threshold: 0.5 },
        "hard_shrink" => Activation::HardShrink { threshold: 0.5 },
        "tanh_shrink" => Activation::TanhShrink,
        _ => return None,
    })
}

/// Reads the `activation` option of a layer: absent/null is linear; a string, or an object
/// `{"class_name": "function"|name, "config": name | {...}}`.
pub(crate) fn parse_activation_option(fields: &Fields, dialect: Dialect) -> Result<Activation> {
    let Some(value) = fields.get("activation") else {
        return Ok(Activation::Linear);
    };
    let name = activation_name(value).ok_or_else(|| fields.malformed("activation", "a name"))?;
    activation_by_name(name, dialect).ok_or_else(|| fields.unsupported("activation", name))
}

fn activation_name(value: &Value) -> Option<&str> {
    match value {
        Value::String(name) => Some(name),
        Value::Object(obj) => obj
            .get("config")
            .and_then(Value::as_str)
            .or_else(|| {
                obj.get("config")
                    .and_then(|c| c.get("name"))
                    .and_then(Value::as_str)
            })
            .or_else(|| obj.get("class_name").and_then(Value::as_str)),
        _ => None,
    }
}

/// `Activation` layer.
pub(crate) fn activation_layer(input: &LayerInput) -> Result<Op> {
    parse_activation_option(&input.fields, input.dialect).map(Op::Activation)
}

/// `ReLU` layer with `max_value`, `negative_slope` and `threshold`.
pub(crate) fn relu_layer(input: &LayerInput) -> Result<Op> {
    let f = &input.fields;
    Ok(Op::Relu {
        max_value: f.opt_f32("max_value")?,
        negative_slope: f.f32_or("negative_slope", 0.0)?,
        threshold: f.f32_or("threshold", 0.0)?,
    })
}

/// `LeakyReLU`: `alpha` in Keras 2, `negative_slope` in Keras 3 (default 0.3 in both).
pub(crate) fn leaky_relu_layer(input: &LayerInput) -> Result<Op> {
    let f = &input.fields;
    let alpha = match f.opt_f32("negative_slope")? {
        Some(slope) => slope,
        None => f.f32_or("alpha", 0.3)?,
    };
    Ok(Op::LeakyRelu { alpha })
}

/// `ELU` layer (`alpha`, default 1).
pub(crate) fn elu_layer(input: &LayerInput) -> Result<Op> {
    Ok(Op::Activation(Activation::Elu {
        alpha: input.fields.f32_or("alpha", 1.0)?,
    }))
}

/// `Softmax` layer (`axis`, default −1; a single axis only).
pub(crate) fn softmax_layer(input: &LayerInput) -> Result<Op> {
    let axes = input.fields.i64_list("axis")?.unwrap_or_else(|| vec![-1]);
    match axes.as_slice() {
        [axis] => Ok(Op::Softmax { axis: *axis }),
        _ => Err(input.fields.unsupported("axis", format_args!("{axes:?}"))),
    }
}

/// `PReLU` layer (`shared_axes`, 1-based without batch as Keras).
pub(crate) fn prelu_layer(input: &LayerInput) -> Result<Op> {
    Ok(Op::PRelu {
        shared_axes: input.fields.i64_list("shared_axes")?.unwrap_or_default(),
    })
}

/// The activation family's view of an op.
pub(crate) enum Activating<'a> {
    /// An element-wise function without parameters to check (Activation, ReLU, LeakyReLU).
    Elementwise,
    /// `PReLU` with its shared axes.
    PRelu(&'a [i64]),
    /// `Softmax` over an axis.
    Softmax(i64),
}

impl LayerRules for Activating<'_> {
    fn output_shape(&self, inputs: &[&Shape], _: Broadcast) -> ShapeResult<Shape> {
        let x = one_input(inputs)?;
        match self {
            Activating::Elementwise => {}
            Activating::PRelu(_) => {
                if x.iter().any(Option::is_none) {
                    return Err(invalid(format!(
                        "PReLU needs a fully known input shape, got {}",
                        fmt_shape(x)
                    )));
                }
            }
            Activating::Softmax(axis) => {
                if matches!(normalize_axis(*axis, x.len() + 1), None | Some(0)) {
                    return Err(invalid(format!(
                        "softmax axis {axis} is out of range for input {}",
                        fmt_shape(x)
                    )));
                }
            }
        }
        Ok(x.clone())
    }

    fn weights(&self) -> Vec<WeightTemplate> {
        match self {
            Activating::PRelu(shared_axes) => vec![WeightTemplate {
                role: WeightRole::Alpha,
                shape: WeightShape::InputSharing(shared_axes.to_vec()),
            }],
            Activating::Elementwise | Activating::Softmax(_) => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use serde_json::json;

    fn parse(v: Value, dialect: Dialect) -> Result<Activation> {
        let config = json!({ "activation": v });
        parse_activation_option(&Fields::new("f", "l", &config), dialect)
    }

    #[test]
    fn string_and_object_forms() {
        assert_eq!(
            parse(json!("relu"), Dialect::Keras3).unwrap(),
            Activation::Relu
        );
        assert_eq!(
            parse(Value::Null, Dialect::Keras3).unwrap(),
            Activation::Linear
        );
        assert_eq!(
            parse(
                json!({"class_name": "function", "config": "swish"}),
                Dialect::Keras3
            )
            .unwrap(),
            Activation::Swish
        );
        assert_eq!(
            parse(json!({"class_name": "tanh", "config": {}}), Dialect::Keras2).unwrap(),
            Activation::Tanh
        );
    }

    #[test]
    fn hard_sigmoid_depends_on_dialect() {
        assert_eq!(
            parse(json!("hard_sigmoid"), Dialect::Keras2).unwrap(),
            Activation::HardSigmoid {
                slope: 0.2,
                offset: 0.5
            }
        );
        assert_eq!(
            parse(json!("hard_sigmoid"), Dialect::Keras3).unwrap(),
            Activation::HardSigmoid {
                slope: 1.0 / 6.0,
                offset: 0.5
            }
        );
    }

    #[test]
    fn aliases_and_unknown_names() {
        assert_eq!(
            parse(json!("silu"), Dialect::Keras3).unwrap(),
            Activation::Swish
        );
        assert_eq!(
            parse(json!("hard_silu"), Dialect::Keras3).unwrap(),
            Activation::HardSwish
        );
        assert_eq!(
            parse(json!("gelu"), Dialect::Keras3).unwrap(),
            Activation::Gelu { approximate: false }
        );
        assert_eq!(
            parse(json!("sparsemax"), Dialect::Keras3).unwrap_err().kind,
            ErrorKind::UnsupportedOption
        );
        assert_eq!(
            parse(json!("celu"), Dialect::Keras3).unwrap(),
            Activation::Celu { alpha: 1.0 }
        );
        assert_eq!(
            parse(json!(3), Dialect::Keras3).unwrap_err().kind,
            ErrorKind::BadJson
        );
    }
}
