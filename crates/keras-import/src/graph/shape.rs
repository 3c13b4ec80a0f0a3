//! Output shape inference for every op (no batch axis; `None` is a dimension known only at
//! run time and propagates). Convolution and pooling follow TensorFlow's `same` / `valid`.

use crate::error::ErrorKind;
use crate::ir::{Conv2dParams, Op, Operand, Padding, Shape};

/// Most elements a tensor (activation or weight) may claim.
pub(crate) const MAX_ELEMENTS: u64 = 1 << 31;

/// Why a shape could not be inferred: a kind and a message naming the shapes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ShapeError {
    /// `InvalidGraph` for incompatible shapes, `TooLarge` beyond the limits.
    pub kind: ErrorKind,
    /// What is wrong, with the shapes involved.
    pub message: String,
}

type ShapeResult<T> = std::result::Result<T, ShapeError>;

fn invalid(message: String) -> ShapeError {
    ShapeError {
        kind: ErrorKind::InvalidGraph,
        message,
    }
}

/// Formats a shape as Keras prints it, batch axis first: `(None, 7, 7, 512)`.
pub(crate) fn fmt_shape(shape: &[Option<usize>]) -> String {
    let dims: Vec<String> = std::iter::once("None".to_string())
        .chain(shape.iter().map(|d| match d {
            Some(d) => d.to_string(),
            None => "None".to_string(),
        }))
        .collect();
    format!("({})", dims.join(", "))
}

/// How element-wise broadcasting treats an unknown dimension against a known one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Broadcast {
    /// Keras merge layers: unknown with anything stays unknown.
    MergeLayer,
    /// numpy / TensorFlow ops: unknown with `k > 1` is `k`.
    Numpy,
}

/// Infers the output shape of `op` from its input shapes.
pub(crate) fn infer_shape(op: &Op, inputs: &[&Shape], broadcast: Broadcast) -> ShapeResult<Shape> {
    let out = infer_unchecked(op, inputs, broadcast)?;
    check_size(&out)?;
    Ok(out)
}

/// Rejects shapes with more than [`MAX_ELEMENTS`] known elements.
pub(crate) fn check_size(shape: &Shape) -> ShapeResult<()> {
    let mut total: u64 = 1;
    for d in shape.iter().flatten() {
        total = total.saturating_mul(*d as u64);
    }
    if total > MAX_ELEMENTS {
        return Err(ShapeError {
            kind: ErrorKind::TooLarge,
            message: format!(
                "output shape {} has more than {MAX_ELEMENTS} elements",
                fmt_shape(shape)
            ),
        });
    }
    Ok(())
}

fn first<'a>(inputs: &[&'a Shape]) -> ShapeResult<&'a Shape> {
    match inputs {
        [only] => Ok(only),
        _ => Err(invalid(format!("expects one input, got {}", inputs.len()))),
    }
}

fn image<'a>(inputs: &[&'a Shape]) -> ShapeResult<&'a Shape> {
    let shape = first(inputs)?;
    if shape.len() != 3 {
        return Err(invalid(format!(
            "expects a 4-D (batch, height, width, channels) input, got {}",
            fmt_shape(shape)
        )));
    }
    Ok(shape)
}

fn infer_unchecked(op: &Op, inputs: &[&Shape], broadcast: Broadcast) -> ShapeResult<Shape> {
    match op {
        Op::Input => Err(invalid("an input has no inputs".into())),
        Op::Conv2D(conv) | Op::DepthwiseConv2D { conv, .. } | Op::SeparableConv2D { conv, .. } => {
            let x = image(inputs)?;
            Ok(vec![
                conv_length(x[0], conv, 0, x)?,
                conv_length(x[1], conv, 1, x)?,
                Some(conv.filters),
            ])
        }
        Op::Conv2DTranspose {
            conv,
            output_padding,
        } => {
            let x = image(inputs)?;
            let length = |axis: usize| {
                x[axis].map(|n| transpose_length(n, conv, axis, output_padding.map(|p| p[axis])))
            };
            Ok(vec![length(0), length(1), Some(conv.filters)])
        }
        Op::Dense { units, .. } => {
            let x = first(inputs)?;
            match x.last() {
                Some(Some(_)) => {
                    let mut out = x.clone();
                    if let Some(last) = out.last_mut() {
                        *last = Some(*units);
                    }
                    Ok(out)
                }
                _ => Err(invalid(format!(
                    "Dense needs a known last axis, input shape is {}",
                    fmt_shape(x)
                ))),
            }
        }
        Op::BatchNorm { axis, .. } => {
            let x = first(inputs)?;
            known_axes(x, std::slice::from_ref(axis))?;
            Ok(x.clone())
        }
        Op::LayerNorm { axes, .. } => {
            let x = first(inputs)?;
            known_axes(x, axes)?;
            Ok(x.clone())
        }
        Op::Rescaling { scale, offset } => {
            let x = first(inputs)?;
            per_channel(x, scale.len(), "scale")?;
            per_channel(x, offset.len(), "offset")?;
            Ok(x.clone())
        }
        Op::Normalization { mean, variance, .. } => {
            let x = first(inputs)?;
            if x.last().copied().flatten().is_none() {
                return Err(invalid(format!(
                    "Normalization needs a known last axis, input shape is {}",
                    fmt_shape(x)
                )));
            }
            for (name, values) in [("mean", mean), ("variance", variance)] {
                if let Some(values) = values {
                    per_channel(x, values.len(), name)?;
                }
            }
            Ok(x.clone())
        }
        Op::PRelu { .. } => {
            let x = first(inputs)?;
            if x.iter().any(Option::is_none) {
                return Err(invalid(format!(
                    "PReLU needs a fully known input shape, got {}",
                    fmt_shape(x)
                )));
            }
            Ok(x.clone())
        }
        Op::Activation(_)
        | Op::Relu { .. }
        | Op::LeakyRelu { .. }
        | Op::LayerScale
        | Op::Scale { .. }
        | Op::Identity => Ok(first(inputs)?.clone()),
        Op::Softmax { axis } => {
            let x = first(inputs)?;
            let rank = x.len() as i64 + 1;
            let positive = if *axis < 0 { axis + rank } else { *axis };
            if !(1..rank).contains(&positive) {
                return Err(invalid(format!(
                    "softmax axis {axis} is out of range for input {}",
                    fmt_shape(x)
                )));
            }
            Ok(x.clone())
        }
        Op::Binary { lhs, rhs, .. } => {
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
        Op::ScaleAdd { .. } => match inputs {
            [a, b] => broadcast_shapes(a, b, broadcast),
            _ => Err(invalid(format!("expects two inputs, got {}", inputs.len()))),
        },
        Op::Merge { .. } => {
            let (head, rest) = inputs
                .split_first()
                .ok_or_else(|| invalid("a merge needs inputs".into()))?;
            rest.iter().try_fold((*head).clone(), |acc, s| {
                broadcast_shapes(&acc, s, broadcast)
            })
        }
        Op::Concatenate { axis } => concat_shapes(inputs, *axis),
        Op::ZeroPadding2D { padding } => {
            let x = image(inputs)?;
            let grow = |d: Option<usize>, p: [usize; 2]| d.map(|d| d + p[0] + p[1]);
            Ok(vec![grow(x[0], padding[0]), grow(x[1], padding[1]), x[2]])
        }
        Op::Cropping2D { cropping } => {
            let x = image(inputs)?;
            let shrink = |d: Option<usize>, c: [usize; 2]| -> ShapeResult<Option<usize>> {
                match d {
                    None => Ok(None),
                    Some(d) => d
                        .checked_sub(c[0] + c[1])
                        .filter(|&n| n > 0)
                        .map(Some)
                        .ok_or_else(|| {
                            invalid(format!(
                                "cropping {cropping:?} leaves nothing of input {}",
                                fmt_shape(x)
                            ))
                        }),
                }
            };
            Ok(vec![
                shrink(x[0], cropping[0])?,
                shrink(x[1], cropping[1])?,
                x[2],
            ])
        }
        Op::MaxPool2D(pool) | Op::AvgPool2D(pool) => {
            let x = image(inputs)?;
            let conv = Conv2dParams {
                filters: 0,
                kernel: pool.pool,
                strides: pool.strides,
                dilation: [1, 1],
                padding: pool.padding,
                groups: 1,
                use_bias: false,
                activation: crate::ir::Activation::Linear,
            };
            Ok(vec![
                conv_length(x[0], &conv, 0, x)?,
                conv_length(x[1], &conv, 1, x)?,
                x[2],
            ])
        }
        Op::GlobalAvgPool2D { keepdims } | Op::GlobalMaxPool2D { keepdims } => {
            let x = image(inputs)?;
            Ok(if *keepdims {
                vec![Some(1), Some(1), x[2]]
            } else {
                vec![x[2]]
            })
        }
        Op::Flatten => {
            let x = first(inputs)?;
            Ok(vec![known_product(x)])
        }
        Op::Reshape { target_shape } => reshape(first(inputs)?, target_shape),
        Op::Permute { dims } => {
            let x = first(inputs)?;
            dims.iter()
                .map(|&d| {
                    d.checked_sub(1)
                        .and_then(|i| x.get(i).copied())
                        .ok_or_else(|| {
                            invalid(format!(
                                "permutation {dims:?} does not fit {}",
                                fmt_shape(x)
                            ))
                        })
                })
                .collect()
        }
        Op::UpSampling2D { size, .. } => {
            let x = image(inputs)?;
            Ok(vec![
                x[0].map(|d| d.saturating_mul(size[0])),
                x[1].map(|d| d.saturating_mul(size[1])),
                x[2],
            ])
        }
        Op::ReduceMean { axes, keepdims } => {
            let x = first(inputs)?;
            let mut out = Vec::with_capacity(x.len());
            for (i, d) in x.iter().enumerate() {
                let reduced = axes.contains(&(i as i64 + 1));
                match (reduced, keepdims) {
                    (false, _) => out.push(*d),
                    (true, true) => out.push(Some(1)),
                    (true, false) => {}
                }
            }
            Ok(out)
        }
    }
}

/// Output length of a convolution or pooling window along `axis` (TF `same` / `valid`).
fn conv_length(
    input: Option<usize>,
    conv: &Conv2dParams,
    axis: usize,
    shape: &Shape,
) -> ShapeResult<Option<usize>> {
    let Some(n) = input else {
        return Ok(None);
    };
    let stride = conv.strides[axis];
    let effective = conv.dilation[axis] * (conv.kernel[axis] - 1) + 1;
    match conv.padding {
        Padding::Same => Ok(Some(n.div_ceil(stride))),
        Padding::Valid if n >= effective => Ok(Some((n - effective) / stride + 1)),
        Padding::Valid => Err(invalid(format!(
            "window {} (dilated) is larger than the input {} with valid padding",
            effective,
            fmt_shape(shape)
        ))),
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

fn known_axes(x: &Shape, axes: &[i64]) -> ShapeResult<()> {
    for &axis in axes {
        let dim = usize::try_from(axis - 1).ok().and_then(|i| x.get(i));
        if !matches!(dim, Some(Some(_))) {
            return Err(invalid(format!(
                "axis {axis} must be a known dimension of input {}",
                fmt_shape(x)
            )));
        }
    }
    Ok(())
}

fn per_channel(x: &Shape, len: usize, what: &str) -> ShapeResult<()> {
    match x.last().copied().flatten() {
        _ if len == 1 => Ok(()),
        Some(channels) if channels == len => Ok(()),
        _ => Err(invalid(format!(
            "{what} has {len} values, input shape is {}",
            fmt_shape(x)
        ))),
    }
}

fn known_product(x: &Shape) -> Option<usize> {
    x.iter()
        .try_fold(1usize, |acc, d| d.and_then(|d| acc.checked_mul(d)))
}

fn reshape(x: &Shape, target: &[i64]) -> ShapeResult<Shape> {
    let mismatch = || {
        invalid(format!(
            "cannot reshape {} to target shape {target:?}",
            fmt_shape(x)
        ))
    };
    let mut known: usize = 1;
    for &d in target.iter().filter(|&&d| d > 0) {
        let d = usize::try_from(d).map_err(|_| mismatch())?;
        known = known.checked_mul(d).ok_or_else(mismatch)?;
    }
    let total = known_product(x);
    let free = match total {
        Some(total) if known == 0 || total % known != 0 => return Err(mismatch()),
        Some(total) => Some(total / known),
        None => None,
    };
    let has_free = target.contains(&-1);
    if !has_free && total.is_some_and(|t| t != known) {
        return Err(mismatch());
    }
    target
        .iter()
        .map(|&d| {
            if d == -1 {
                Ok(free)
            } else {
                usize::try_from(d).map(Some).map_err(|_| mismatch())
            }
        })
        .collect()
}

/// Element-wise broadcasting of two shapes, right-aligned.
fn broadcast_shapes(a: &Shape, b: &Shape, rule: Broadcast) -> ShapeResult<Shape> {
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
    use crate::ir::{Activation, BinaryOp, Pool2dParams};

    fn conv(kernel: usize, stride: usize, dilation: usize, padding: Padding) -> Op {
        Op::Conv2D(Conv2dParams {
            filters: 8,
            kernel: [kernel; 2],
            strides: [stride; 2],
            dilation: [dilation; 2],
            padding,
            groups: 1,
            use_bias: true,
            activation: Activation::Linear,
        })
    }

    fn infer1(op: &Op, x: Shape) -> ShapeResult<Shape> {
        infer_shape(op, &[&x], Broadcast::Numpy)
    }

    #[test]
    fn conv_arithmetic() {
        let x = vec![Some(224), Some(225), Some(3)];
        assert_eq!(
            infer1(&conv(3, 2, 1, Padding::Same), x.clone()).unwrap(),
            vec![Some(112), Some(113), Some(8)]
        );
        assert_eq!(
            infer1(&conv(3, 2, 1, Padding::Valid), x.clone()).unwrap(),
            vec![Some(111), Some(112), Some(8)]
        );
        assert_eq!(
            infer1(&conv(3, 1, 2, Padding::Valid), x.clone()).unwrap(),
            vec![Some(220), Some(221), Some(8)]
        );
        assert_eq!(
            infer1(&conv(3, 1, 1, Padding::Same), vec![None, Some(5), Some(3)]).unwrap(),
            vec![None, Some(5), Some(8)]
        );
        let err = infer1(
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
                kernel: [3, 3],
                strides: [2, 2],
                dilation: [1, 1],
                padding: Padding::Valid,
                groups: 1,
                use_bias: true,
                activation: Activation::Linear,
            },
            output_padding: None,
        };
        assert_eq!(
            infer1(&op, vec![Some(7), Some(7), Some(3)]).unwrap(),
            vec![Some(15), Some(15), Some(4)]
        );
    }

    #[test]
    fn pooling_and_padding() {
        let pool = Op::MaxPool2D(Pool2dParams {
            pool: [3, 3],
            strides: [2, 2],
            padding: Padding::Valid,
        });
        assert_eq!(
            infer1(&pool, vec![Some(147), Some(147), Some(64)]).unwrap(),
            vec![Some(73), Some(73), Some(64)]
        );
        let pad = Op::ZeroPadding2D {
            padding: [[0, 1], [2, 3]],
        };
        assert_eq!(
            infer1(&pad, vec![Some(4), None, Some(2)]).unwrap(),
            vec![Some(5), None, Some(2)]
        );
        let crop = Op::Cropping2D {
            cropping: [[3, 3], [0, 0]],
        };
        assert!(infer1(&crop, vec![Some(6), Some(6), Some(1)]).is_err());
    }

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
        assert_eq!(infer1(&add, c.clone()).unwrap(), c);
    }

    #[test]
    fn reshape_and_flatten() {
        let x = vec![Some(7), Some(7), Some(32)];
        assert_eq!(
            infer1(
                &Op::Reshape {
                    target_shape: vec![-1, 32]
                },
                x.clone()
            )
            .unwrap(),
            vec![Some(49), Some(32)]
        );
        assert!(infer1(
            &Op::Reshape {
                target_shape: vec![5, 32]
            },
            x.clone()
        )
        .is_err());
        assert_eq!(infer1(&Op::Flatten, x).unwrap(), vec![Some(1568)]);
        assert_eq!(
            infer1(
                &Op::Reshape {
                    target_shape: vec![1, 1, -1]
                },
                vec![None]
            )
            .unwrap(),
            vec![Some(1), Some(1), None]
        );
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

    #[test]
    fn sizes_are_bounded() {
        let x = vec![Some(1 << 20), Some(1 << 20), Some(3)];
        assert_eq!(
            infer1(&Op::Identity, x).unwrap_err().kind,
            ErrorKind::TooLarge
        );
    }
}
