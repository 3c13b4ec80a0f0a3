//! Slicing and stacking: Keras 3 `GetItem`, `Flip`, `Stack` operation nodes and tf_keras
//! `SlicingOpLambda` (`__operators__.getitem`) and `TFOpLambda` `reverse` / `stack` layers,
//! as `preprocess_input` writes them (`x[..., ::-1]`, `stack([x[..., 2], x[..., 1],
//! x[..., 0]], -1)`): the slice spec in either dialect, Ellipsis expanded, and the shapes.

use serde_json::Value;

use super::{Arg, LayerInput, LayerRules, ParsedOp};
use crate::error::{ErrorKind, Result};
use crate::graph::shape::{invalid, one_input, Broadcast, ShapeResult};
use crate::ir::{Op, Shape, SliceAxis};
use crate::normalize_axis;

/// One written entry of a slice spec, before the Ellipsis is expanded.
enum SpecItem {
    /// `...`.
    Ellipsis,
    /// A range, an index or a new axis.
    Axis(SliceAxis),
}

/// Reads one spec entry: a number (index), null (new axis), an Ellipsis in either
/// dialect's spelling, a Keras 3 `__slice__` or a tf_keras `{start, stop, step}` object.
fn spec_item(value: &Value) -> std::result::Result<SpecItem, String> {
    let bound = |v: Option<&Value>| -> std::result::Result<Option<i64>, String> {
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| format!("slice bound {v} is not an integer")),
        }
    };
    match value {
        Value::Null => Ok(SpecItem::Axis(SliceAxis::NewAxis)),
        Value::Number(n) => n
            .as_i64()
            .map(|i| SpecItem::Axis(SliceAxis::Index(i)))
            .ok_or_else(|| format!("index {n} is not an integer")),
        Value::String(s) if s == "Ellipsis" || s == "..." => Ok(SpecItem::Ellipsis),
        Value::Object(obj) => {
            let class = obj.get("class_name").and_then(Value::as_str);
            if class == Some("__ellipsis__") {
                return Ok(SpecItem::Ellipsis);
            }
            let range = match class {
                Some("__slice__") => obj.get("config").unwrap_or(&Value::Null),
                None => value,
                Some(other) => return Err(format!("unknown slice entry class '{other}'")),
            };
            let step = bound(range.get("step"))?.unwrap_or(1);
            if step == 0 {
                return Err("slice step cannot be zero".into());
            }
            Ok(SpecItem::Axis(SliceAxis::Range {
                start: bound(range.get("start"))?,
                stop: bound(range.get("stop"))?,
                step,
            }))
        }
        other => Err(format!("unknown slice entry {other}")),
    }
}

/// Expands a written spec over an input of `rank` axes (batch included): the Ellipsis (or
/// the end, without one) stands for the axes no entry reads.
fn expand(items: Vec<SpecItem>, rank: usize) -> std::result::Result<Vec<SliceAxis>, String> {
    let consuming = items
        .iter()
        .filter(|i| matches!(i, SpecItem::Axis(a) if a.consumes_axis()))
        .count();
    let ellipses = items
        .iter()
        .filter(|i| matches!(i, SpecItem::Ellipsis))
        .count();
    if ellipses > 1 {
        return Err("a slice may hold one Ellipsis only".into());
    }
    let free = rank
        .checked_sub(consuming)
        .ok_or_else(|| format!("{consuming} indices for a rank-{rank} input (batch included)"))?;
    let mut axes = Vec::with_capacity(items.len() + free);
    for item in items {
        match item {
            SpecItem::Ellipsis => axes.extend(std::iter::repeat_n(SliceAxis::ALL, free)),
            SpecItem::Axis(a) => axes.push(a),
        }
    }
    if ellipses == 0 {
        axes.extend(std::iter::repeat_n(SliceAxis::ALL, free));
    }
    // The batch axis is the first one read; it must be kept whole and come first.
    match axes.first() {
        Some(&SliceAxis::Range {
            start: None | Some(0),
            stop: None,
            step: 1,
        }) => Ok(axes),
        _ => Err("slicing the batch axis (or adding an axis before it) is not supported".into()),
    }
}

/// A slice of the single input from its written spec (an entry or a list of entries).
fn slice_from_spec(input: &LayerInput, spec: Option<&Value>) -> Result<ParsedOp> {
    // Keras 3 lists the spec's numbers among the arguments too: the tensor is the first.
    let Some(Arg::Tensor { node, shape }) = input.args.first() else {
        return Err(input.fields.error(
            ErrorKind::InvalidGraph,
            "a slice needs an input tensor first",
        ));
    };
    let (inputs, rank) = (vec![*node], shape.len() + 1);
    let spec = spec.ok_or_else(|| input.fields.malformed("slice_spec", "a slice spec"))?;
    let entries = match spec {
        Value::Array(items) => items.iter().collect(),
        single => vec![single],
    };
    let axes = entries
        .into_iter()
        .map(spec_item)
        .collect::<std::result::Result<Vec<_>, _>>()
        .and_then(|items| expand(items, rank))
        .map_err(|m| input.fields.error(ErrorKind::UnsupportedOption, m))?;
    Ok(ParsedOp {
        op: Op::Slice { axes },
        inputs,
    })
}

/// Keras 3 `GetItem`: the spec is the second positional argument as written.
pub(crate) fn get_item(input: &LayerInput) -> Result<ParsedOp> {
    slice_from_spec(input, input.raw_args.get(1))
}

/// tf_keras `SlicingOpLambda` (`__operators__.getitem`): the spec is the `slice_spec` kwarg.
pub(crate) fn getitem_lambda(input: &LayerInput) -> Result<ParsedOp> {
    slice_from_spec(input, input.raw_kwargs.get("slice_spec"))
}

/// `reverse` / `Flip` along `axis` (an axis or a list): a slice with step −1 there.
pub(crate) fn reverse(input: &LayerInput, axis: Option<&Value>) -> Result<ParsedOp> {
    let inputs = input.single_tensor()?;
    let written: Vec<i64> = match axis {
        Some(Value::Number(n)) => n.as_i64().into_iter().collect(),
        Some(Value::Array(items)) => items
            .iter()
            .map(Value::as_i64)
            .collect::<Option<_>>()
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    if written.is_empty() {
        return Err(input
            .fields
            .malformed("axis", "the axes to reverse (the batch axis excluded)"));
    }
    let rank = input.single_shape()?.len() + 1;
    let mut axes = vec![SliceAxis::ALL; rank];
    for a in input.positive_axes("axis", &written)? {
        axes[a as usize] = SliceAxis::Range {
            start: None,
            stop: None,
            step: -1,
        };
    }
    Ok(ParsedOp {
        op: Op::Slice { axes },
        inputs,
    })
}

/// `Stack` / `stack` of the input tensors along a new `axis` (default 0, the batch axis,
/// which is refused).
pub(crate) fn stack(input: &LayerInput, axis: Option<&Value>) -> Result<ParsedOp> {
    let inputs = input.tensors()?;
    let shape = match input.args.first() {
        Some(Arg::Tensor { shape, .. }) => shape,
        _ => {
            return Err(input
                .fields
                .error(ErrorKind::InvalidGraph, "stack needs at least one tensor"))
        }
    };
    let written = match axis {
        None | Some(Value::Null) => 0,
        Some(v) => v
            .as_i64()
            .ok_or_else(|| input.fields.malformed("axis", "an integer"))?,
    };
    let axis = normalize_axis(written, shape.len() + 2)
        .filter(|&a| a >= 1)
        .ok_or_else(|| {
            input.fields.error(
                ErrorKind::UnsupportedOption,
                format_args!(
                    "stack axis {written} is the batch axis or out of range for rank {}",
                    shape.len() + 2
                ),
            )
        })?;
    Ok(ParsedOp {
        op: Op::Stack { axis: axis as i64 },
        inputs,
    })
}

/// The indexing family's view of an op.
pub(crate) enum Indexing<'a> {
    /// A slice with these per-axis entries.
    Slice(&'a [SliceAxis]),
    /// Stacking along a new axis (with batch).
    Stack(i64),
}

impl LayerRules for Indexing<'_> {
    fn output_shape(&self, inputs: &[&Shape], _: Broadcast) -> ShapeResult<Shape> {
        match self {
            Indexing::Slice(axes) => slice_shape(one_input(inputs)?, axes),
            Indexing::Stack(axis) => stack_shape(inputs, *axis),
        }
    }
}

fn slice_shape(input: &Shape, axes: &[SliceAxis]) -> ShapeResult<Shape> {
    let mut dims = input.iter();
    let mut out = Vec::new();
    // The first entry reads the batch axis, which the spec keeps whole.
    for axis in axes.iter().skip(1) {
        if let SliceAxis::NewAxis = axis {
            out.push(Some(1));
            continue;
        }
        let dim = dims
            .next()
            .ok_or_else(|| invalid("the slice reads more axes than the input has".into()))?;
        let positions = match dim {
            Some(n) => Some(axis.positions(*n).ok_or_else(|| {
                invalid(format!("index {axis:?} is out of range for an axis of {n}"))
            })?),
            None => None,
        };
        match (axis, positions) {
            (SliceAxis::Index(_), _) => {}
            (_, Some((_, count, _))) => out.push(Some(count)),
            (_, None) => out.push(None),
        }
    }
    if dims.next().is_some() {
        return Err(invalid(
            "the slice reads fewer axes than the input has".into(),
        ));
    }
    Ok(out)
}

fn stack_shape(inputs: &[&Shape], axis: i64) -> ShapeResult<Shape> {
    let (head, rest) = inputs
        .split_first()
        .ok_or_else(|| invalid("stack needs inputs".into()))?;
    if rest.iter().any(|s| s.len() != head.len()) {
        return Err(invalid("stacked tensors differ in rank".into()));
    }
    let mut out: Shape = (*head).clone();
    for shape in rest {
        for (o, d) in out.iter_mut().zip(shape.iter()) {
            *o = match (*o, *d) {
                (Some(a), Some(b)) if a != b => {
                    return Err(invalid("stacked tensors differ in shape".into()))
                }
                (Some(a), _) | (_, Some(a)) => Some(a),
                (None, None) => None,
            };
        }
    }
    let index = usize::try_from(axis - 1)
        .ok()
        .filter(|&i| i <= out.len())
        .ok_or_else(|| invalid(format!("stack axis {axis} is out of range")))?;
    out.insert(index, Some(inputs.len()));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: Value, rank: usize) -> std::result::Result<Vec<SliceAxis>, String> {
        let items = match v {
            Value::Array(items) => items,
            single => vec![single],
        };
        expand(
            items
                .iter()
                .map(spec_item)
                .collect::<std::result::Result<_, _>>()?,
            rank,
        )
    }

    #[test]
    fn both_dialects_spell_the_channel_reversal_alike() {
        let k3 = json!([{"class_name": "__ellipsis__", "config": {}},
            {"class_name": "__slice__", "config": {"start": null, "stop": null, "step": -1}}]);
        let k2 = json!([{"class_name": "__ellipsis__"}, {"start": null, "stop": null, "step": -1}]);
        let old = json!(["Ellipsis", {"start": null, "stop": null, "step": -1}]);
        let want = spec(k3, 4).unwrap();
        assert_eq!(spec(k2, 4).unwrap(), want);
        assert_eq!(spec(old, 4).unwrap(), want);
        assert_eq!(want.len(), 4);
        let shape = slice_shape(&vec![Some(8), Some(8), Some(3)], &want).unwrap();
        assert_eq!(shape, vec![Some(8), Some(8), Some(3)]);
    }

    #[test]
    fn indices_drop_axes_and_new_axes_add_them() {
        let axes = spec(json!([{"class_name": "__ellipsis__"}, 2]), 4).unwrap();
        assert_eq!(
            slice_shape(&vec![Some(8), None, Some(3)], &axes).unwrap(),
            vec![Some(8), None]
        );
        let axes = spec(json!([{"class_name": "__ellipsis__"}, null]), 3).unwrap();
        assert_eq!(
            slice_shape(&vec![Some(8), Some(8)], &axes).unwrap(),
            vec![Some(8), Some(8), Some(1)]
        );
        let axes = spec(json!([{}, {"start": 1, "stop": 7, "step": 2}]), 4).unwrap();
        assert_eq!(
            slice_shape(&vec![Some(8), Some(8), Some(3)], &axes).unwrap(),
            vec![Some(3), Some(8), Some(3)]
        );
    }

    #[test]
    fn malformed_specs_are_errors() {
        for bad in [
            json!([{"class_name": "__ellipsis__"}, {"class_name": "__ellipsis__"}]),
            json!([0]),
            json!([{}, 0, 0, 0, 0]),
            json!([{}, {"step": 0}]),
            json!([{}, 1.5]),
            json!([{}, {"start": "a"}]),
            json!([null]),
            json!(["x"]),
        ] {
            assert!(spec(bad.clone(), 4).is_err(), "{bad}");
        }
        let axes = spec(json!([{"class_name": "__ellipsis__"}, 5]), 4).unwrap();
        assert!(slice_shape(&vec![Some(8), Some(8), Some(3)], &axes).is_err());
    }

    #[test]
    fn python_slice_positions() {
        let r = |start, stop, step| SliceAxis::Range { start, stop, step };
        assert_eq!(r(None, None, -1).positions(3), Some((2, 3, -1)));
        assert_eq!(r(Some(1), Some(7), 2).positions(8), Some((1, 3, 2)));
        assert_eq!(r(Some(-1), None, -2).positions(5), Some((4, 3, -2)));
        assert_eq!(r(Some(10), Some(-10), 1).positions(4), Some((4, 0, 1)));
        assert_eq!(r(None, Some(-10), -1).positions(4), Some((3, 4, -1)));
        assert_eq!(SliceAxis::Index(-1).positions(3), Some((2, 1, 1)));
        assert_eq!(SliceAxis::Index(3).positions(3), None);
        assert_eq!(
            stack_shape(&[&vec![Some(8), Some(8)]; 3], 3).unwrap(),
            vec![Some(8), Some(8), Some(3)]
        );
    }
}
