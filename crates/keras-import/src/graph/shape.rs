//! The vocabulary of shape inference (no batch axis; `None` is a dimension known only at
//! run time and propagates): errors, limits, formatting and the sliding-window arithmetic
//! that convolution and pooling share (TensorFlow's `same` / `valid`). Each layer family
//! holds its own rule; [`infer_shape`] dispatches to it.

use super::layers::rules;
use crate::error::ErrorKind;
use crate::ir::{Op, Padding, Shape};

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

pub(crate) type ShapeResult<T> = std::result::Result<T, ShapeError>;

/// An [`ErrorKind::InvalidGraph`] shape error.
pub(crate) fn invalid(message: String) -> ShapeError {
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

/// Infers the output shape of `op` from its input shapes, by the rule of its layer family.
pub(crate) fn infer_shape(op: &Op, inputs: &[&Shape], broadcast: Broadcast) -> ShapeResult<Shape> {
    let out = rules(op).output_shape(inputs, broadcast)?;
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

/// The shape of the only input.
pub(crate) fn one_input<'a>(inputs: &[&'a Shape]) -> ShapeResult<&'a Shape> {
    match inputs {
        [only] => Ok(only),
        _ => Err(invalid(format!("expects one input, got {}", inputs.len()))),
    }
}

/// The shape of the only input, which must be an image `(height, width, channels)`.
pub(crate) fn image<'a>(inputs: &[&'a Shape]) -> ShapeResult<&'a Shape> {
    let shape = one_input(inputs)?;
    if shape.len() != 3 {
        return Err(invalid(format!(
            "expects a 4-D (batch, height, width, channels) input, got {}",
            fmt_shape(shape)
        )));
    }
    Ok(shape)
}

/// A window sliding over height and width: a convolution kernel or a pooling window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    /// Size (h, w).
    pub size: [usize; 2],
    /// Strides (h, w).
    pub strides: [usize; 2],
    /// Dilation rate (h, w).
    pub dilation: [usize; 2],
    /// Padding mode.
    pub padding: Padding,
}

impl Window {
    /// Output height and width over image `x` (TF `same` / `valid`); unknown stays unknown.
    pub(crate) fn output_hw(&self, x: &Shape) -> ShapeResult<[Option<usize>; 2]> {
        let length = |axis: usize| -> ShapeResult<Option<usize>> {
            let Some(n) = x[axis] else {
                return Ok(None);
            };
            let stride = self.strides[axis];
            let effective = self.dilation[axis] * (self.size[axis] - 1) + 1;
            match self.padding {
                Padding::Same => Ok(Some(n.div_ceil(stride))),
                Padding::Valid if n >= effective => Ok(Some((n - effective) / stride + 1)),
                Padding::Valid => Err(invalid(format!(
                    "window {effective} (dilated) is larger than the input {} with valid padding",
                    fmt_shape(x)
                ))),
            }
        };
        Ok([length(0)?, length(1)?])
    }
}

/// The output shape of `op` on one input `x` (unit tests of the families).
#[cfg(test)]
pub(crate) fn infer_one(op: &Op, x: Shape) -> ShapeResult<Shape> {
    infer_shape(op, &[&x], Broadcast::Numpy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_bounded() {
        let x = vec![Some(1 << 20), Some(1 << 20), Some(3)];
        assert_eq!(
            infer_one(&Op::Identity, x).unwrap_err().kind,
            ErrorKind::TooLarge
        );
    }
}
