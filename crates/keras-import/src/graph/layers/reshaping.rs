//! Layers that move values without computing: InputLayer, Flatten, Reshape, Permute and the
//! layers that are the identity at inference (Dropout and its kind) — their options and
//! output shapes.

use super::{LayerInput, LayerRules};
use crate::error::Result;
use crate::graph::shape::{fmt_shape, invalid, one_input, Broadcast, ShapeResult};
use crate::ir::{Op, Shape};

/// Dropout, noise and regularisation layers: the identity at inference.
pub(crate) fn identity(input: &LayerInput) -> Result<Op> {
    input.single_shape()?;
    Ok(Op::Identity)
}

/// `Flatten` (channels_last only: channels_first would transpose first).
pub(crate) fn flatten(input: &LayerInput) -> Result<Op> {
    input.fields.require_channels_last()?;
    Ok(Op::Flatten)
}

/// `Reshape` to `target_shape` (without batch; at most one −1).
pub(crate) fn reshape(input: &LayerInput) -> Result<Op> {
    let f = &input.fields;
    let target_shape = f
        .i64_list("target_shape")?
        .ok_or_else(|| f.malformed("target_shape", "a list of integers"))?;
    if target_shape.iter().any(|&d| d < -1 || d == 0)
        || target_shape.iter().filter(|&&d| d == -1).count() > 1
    {
        return Err(f.malformed("target_shape", "positive sizes with at most one -1"));
    }
    Ok(Op::Reshape { target_shape })
}

/// `Permute` (1-based axes without batch).
pub(crate) fn permute(input: &LayerInput) -> Result<Op> {
    let f = &input.fields;
    let dims = f
        .i64_list("dims")?
        .ok_or_else(|| f.malformed("dims", "a list of integers"))?;
    let rank = input.single_shape()?.len();
    let mut seen = vec![false; rank];
    let mut out = Vec::with_capacity(dims.len());
    for &d in &dims {
        let index = usize::try_from(d).ok().filter(|&d| (1..=rank).contains(&d));
        match index {
            Some(i) if !seen[i - 1] => {
                seen[i - 1] = true;
                out.push(i);
            }
            _ => return Err(f.malformed("dims", "a permutation of 1..rank")),
        }
    }
    if out.len() != rank {
        return Err(f.malformed("dims", "a permutation of 1..rank"));
    }
    Ok(Op::Permute { dims: out })
}

/// The reshaping family's view of an op.
pub(crate) enum Reshaping<'a> {
    /// A model input: it has no inputs to infer from.
    Input,
    /// The identity.
    Identity,
    /// Flatten to one axis.
    Flatten,
    /// Reshape to a target shape.
    Reshape(&'a [i64]),
    /// Permute axes (1-based, without batch).
    Permute(&'a [usize]),
}

impl LayerRules for Reshaping<'_> {
    fn output_shape(&self, inputs: &[&Shape], _: Broadcast) -> ShapeResult<Shape> {
        match self {
            Reshaping::Input => Err(invalid("an input has no inputs".into())),
            Reshaping::Identity => Ok(one_input(inputs)?.clone()),
            Reshaping::Flatten => Ok(vec![known_product(one_input(inputs)?)]),
            Reshaping::Reshape(target) => reshaped(one_input(inputs)?, target),
            Reshaping::Permute(dims) => permuted(one_input(inputs)?, dims),
        }
    }
}

/// `x` with its axes in the order `dims` (1-based).
fn permuted(x: &Shape, dims: &[usize]) -> ShapeResult<Shape> {
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

/// The number of elements of `x`, `None` when a dimension is unknown.
fn known_product(x: &Shape) -> Option<usize> {
    x.iter()
        .try_fold(1usize, |acc, d| d.and_then(|d| acc.checked_mul(d)))
}

/// `x` reshaped to `target` (at most one −1, the free size).
fn reshaped(x: &Shape, target: &[i64]) -> ShapeResult<Shape> {
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

#[cfg(test)]
mod tests {
    use crate::graph::shape::infer_one;
    use crate::ir::Op;

    #[test]
    fn reshape_and_flatten() {
        let x = vec![Some(7), Some(7), Some(32)];
        assert_eq!(
            infer_one(
                &Op::Reshape {
                    target_shape: vec![-1, 32]
                },
                x.clone()
            )
            .unwrap(),
            vec![Some(49), Some(32)]
        );
        assert!(infer_one(
            &Op::Reshape {
                target_shape: vec![5, 32]
            },
            x.clone()
        )
        .is_err());
        assert_eq!(infer_one(&Op::Flatten, x).unwrap(), vec![Some(1568)]);
        assert_eq!(
            infer_one(
                &Op::Reshape {
                    target_shape: vec![1, 1, -1]
                },
                vec![None]
            )
            .unwrap(),
            vec![Some(1), Some(1), None]
        );
    }
}
