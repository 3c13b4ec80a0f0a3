//! Inbound nodes (the calls of a layer) in both dialects, reduced to tensor references and
//! scalar arguments.
//!
//! Keras 2: `[[[layer, node, tensor, kwargs], ...], ...]` (one list per call); TFOpLambda
//! calls are a single `[layer, node, tensor, {"y": [layer2, node, tensor]}]`.
//! Keras 3: `[{"args": [...], "kwargs": {...}}, ...]` with `__keras_tensor__` objects.

use serde_json::{Map, Value};

use crate::error::{ErrorKind, ImportError, Result};

/// A reference to an output tensor of a layer call in the same model.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TensorRef {
    /// Name of the producing layer.
    pub layer: String,
    /// Node index as written in the config (Keras 2 numbers nested-model calls from 1).
    pub node_index: usize,
    /// Which output of that call.
    pub tensor_index: usize,
}

/// One positional (or tensor-valued keyword) argument of a call.
#[derive(Debug, Clone, PartialEq)]
pub enum CallArg {
    /// A tensor produced by another layer call.
    Tensor(TensorRef),
    /// A Python number.
    Scalar(f64),
}

/// One call of a layer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InboundCall {
    /// Positional arguments in order, nested lists flattened (merge layers get `[[t1, t2]]`).
    pub args: Vec<CallArg>,
    /// Keyword arguments whose value is a tensor or a number (TFOpLambda `y`, ...).
    pub operand_kwargs: Vec<(String, CallArg)>,
    /// All keyword arguments as written (`training`, `axis`, ...).
    pub kwargs: Map<String, Value>,
    /// Keras 3: the positional arguments as written (a `GetItem` spec, a `__tensor__`
    /// constant); empty for Keras 2, whose such arguments are keyword arguments.
    pub raw_args: Vec<Value>,
}

impl InboundCall {
    /// Every tensor this call reads, positional first.
    pub fn tensor_refs(&self) -> impl Iterator<Item = &TensorRef> {
        self.args
            .iter()
            .chain(self.operand_kwargs.iter().map(|(_, arg)| arg))
            .filter_map(|arg| match arg {
                CallArg::Tensor(t) => Some(t),
                CallArg::Scalar(_) => None,
            })
    }
}

/// Parses a layer's `inbound_nodes` (absent or null: no calls).
pub(crate) fn parse_inbound_nodes(
    nodes: Option<&Value>,
    file: &str,
    layer: &str,
) -> Result<Vec<InboundCall>> {
    let nodes = match nodes {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(nodes)) => nodes,
        Some(_) => return Err(bad(file, layer, "inbound_nodes is not a list")),
    };
    nodes
        .iter()
        .map(|node| match node {
            Value::Object(obj) => parse_keras3_call(obj, file, layer),
            Value::Array(items) => parse_keras2_call(items, file, layer),
            _ => Err(bad(
                file,
                layer,
                "an inbound node is neither a list nor an object",
            )),
        })
        .collect()
}

/// Parses a `[name, node_index, tensor_index, ...]` reference (Keras 2 form, also
/// `keras_history`, `input_layers` and `output_layers` entries).
pub(crate) fn parse_tensor_ref(items: &[Value]) -> Option<TensorRef> {
    let layer = items.first()?.as_str()?.to_string();
    let node_index = usize::try_from(items.get(1)?.as_u64()?).ok()?;
    let tensor_index = usize::try_from(items.get(2)?.as_u64()?).ok()?;
    Some(TensorRef {
        layer,
        node_index,
        tensor_index,
    })
}

/// Parses `input_layers` / `output_layers`: one `[name, 0, 0]` or a list of them.
pub(crate) fn parse_ref_list(
    value: Option<&Value>,
    file: &str,
    what: &str,
) -> Result<Vec<TensorRef>> {
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(bad(file, what, "is not a list")),
    };
    if items.first().is_some_and(Value::is_string) {
        return parse_tensor_ref(items)
            .map(|r| vec![r])
            .ok_or_else(|| bad(file, what, "has a malformed [layer, node, tensor] entry"));
    }
    items
        .iter()
        .map(|item| {
            item.as_array()
                .and_then(|entry| parse_tensor_ref(entry))
                .ok_or_else(|| bad(file, what, "has a malformed [layer, node, tensor] entry"))
        })
        .collect()
}

fn parse_keras3_call(obj: &Map<String, Value>, file: &str, layer: &str) -> Result<InboundCall> {
    let mut call = InboundCall::default();
    if let Some(args) = obj.get("args") {
        let args = args
            .as_array()
            .ok_or_else(|| bad(file, layer, "inbound node args is not a list"))?;
        for arg in args {
            collect_keras3_args(arg, &mut call.args, file, layer)?;
        }
        call.raw_args = args.clone();
    }
    if let Some(kwargs) = obj.get("kwargs").and_then(Value::as_object) {
        for (key, value) in kwargs {
            if let Some(arg) = keras3_operand(value, file, layer)? {
                call.operand_kwargs.push((key.clone(), arg));
            }
        }
        call.kwargs = kwargs.clone();
    }
    Ok(call)
}

/// A Keras 3 argument that is a single tensor or number (lists are not operands).
fn keras3_operand(value: &Value, file: &str, layer: &str) -> Result<Option<CallArg>> {
    if let Some(number) = value.as_f64() {
        return Ok(Some(CallArg::Scalar(number)));
    }
    if is_keras_tensor(value) {
        return keras3_tensor(value, file, layer).map(|t| Some(CallArg::Tensor(t)));
    }
    Ok(None)
}

fn is_keras_tensor(value: &Value) -> bool {
    value.get("class_name").and_then(Value::as_str) == Some("__keras_tensor__")
}

fn keras3_tensor(value: &Value, file: &str, layer: &str) -> Result<TensorRef> {
    value
        .get("config")
        .and_then(|c| c.get("keras_history"))
        .and_then(Value::as_array)
        .and_then(|h| parse_tensor_ref(h))
        .ok_or_else(|| bad(file, layer, "a __keras_tensor__ has no valid keras_history"))
}

fn collect_keras3_args(
    value: &Value,
    out: &mut Vec<CallArg>,
    file: &str,
    layer: &str,
) -> Result<()> {
    match value {
        Value::Array(items) => {
            for item in items {
                collect_keras3_args(item, out, file, layer)?;
            }
        }
        _ => {
            if let Some(arg) = keras3_operand(value, file, layer)? {
                out.push(arg);
            }
        }
    }
    Ok(())
}

fn parse_keras2_call(items: &[Value], file: &str, layer: &str) -> Result<InboundCall> {
    let mut call = InboundCall::default();
    if items.first().is_some_and(Value::is_string) {
        add_keras2_tensor(items, &mut call, file, layer)?;
    } else {
        for item in items {
            collect_keras2_tensors(item, &mut call, file, layer)?;
        }
    }
    Ok(call)
}

fn collect_keras2_tensors(
    value: &Value,
    call: &mut InboundCall,
    file: &str,
    layer: &str,
) -> Result<()> {
    let items = value.as_array().ok_or_else(|| {
        bad(
            file,
            layer,
            "an inbound tensor is not a [layer, node, tensor, kwargs] list",
        )
    })?;
    if items.first().is_some_and(Value::is_string) {
        return add_keras2_tensor(items, call, file, layer);
    }
    for item in items {
        collect_keras2_tensors(item, call, file, layer)?;
    }
    Ok(())
}

fn add_keras2_tensor(
    items: &[Value],
    call: &mut InboundCall,
    file: &str,
    layer: &str,
) -> Result<()> {
    // tf_keras writes a constant first operand (`0.5 * x`) as ["_CONSTANT_VALUE", -1, 0.5, kwargs].
    let positional = match items {
        [Value::String(name), _, value, ..] if name == "_CONSTANT_VALUE" => value
            .as_f64()
            .map(CallArg::Scalar)
            .ok_or_else(|| bad(file, layer, "a _CONSTANT_VALUE operand is not a number"))?,
        _ => CallArg::Tensor(parse_tensor_ref(items).ok_or_else(|| {
            bad(
                file,
                layer,
                "an inbound tensor is not a [layer, node, tensor, kwargs] list",
            )
        })?),
    };
    call.args.push(positional);
    if let Some(kwargs) = items.get(3).and_then(Value::as_object) {
        for (key, value) in kwargs {
            if call.kwargs.contains_key(key) {
                continue;
            }
            if let Some(number) = value.as_f64() {
                call.operand_kwargs
                    .push((key.clone(), CallArg::Scalar(number)));
            } else if let Some(t) = value
                .as_array()
                .filter(|v| v.first().is_some_and(Value::is_string))
                .and_then(|v| parse_tensor_ref(v))
            {
                call.operand_kwargs.push((key.clone(), CallArg::Tensor(t)));
            }
            call.kwargs.insert(key.clone(), value.clone());
        }
    }
    Ok(())
}

fn bad(file: &str, layer: &str, what: &str) -> ImportError {
    ImportError::new(ErrorKind::BadJson, file, format!("layer '{layer}': {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tensor(layer: &str, node_index: usize) -> CallArg {
        CallArg::Tensor(TensorRef {
            layer: layer.into(),
            node_index,
            tensor_index: 0,
        })
    }

    #[test]
    fn keras2_merge_call() {
        let v = json!([[["a", 0, 0, {}], ["b", 1, 0, {}]]]);
        let calls = parse_inbound_nodes(Some(&v), "f", "l").unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].args, vec![tensor("a", 0), tensor("b", 1)]);
    }

    #[test]
    fn keras2_tf_op_lambda_with_tensor_and_scalar_y() {
        let v = json!([
            ["x", 0, 0, {"y": ["z", 0, 0], "name": null}],
            ["x", 0, 0, {"y": 3.0}]
        ]);
        let calls = parse_inbound_nodes(Some(&v), "f", "l").unwrap();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].args, vec![tensor("x", 0)]);
        assert_eq!(
            calls[0].operand_kwargs,
            vec![("y".to_string(), tensor("z", 0))]
        );
        assert_eq!(
            calls[1].operand_kwargs,
            vec![("y".to_string(), CallArg::Scalar(3.0))]
        );
        assert_eq!(calls[0].tensor_refs().count(), 2);
    }

    #[test]
    fn keras3_merge_list_and_scalars() {
        let t = |name: &str| {
            json!({"class_name": "__keras_tensor__",
            "config": {"shape": [null, 3], "dtype": "float32", "keras_history": [name, 0, 0]}})
        };
        let v = json!([
            {"args": [[t("a"), t("b")]], "kwargs": {}},
            {"args": [t("c"), 3.0], "kwargs": {"training": false}}
        ]);
        let calls = parse_inbound_nodes(Some(&v), "f", "l").unwrap();
        assert_eq!(calls[0].args, vec![tensor("a", 0), tensor("b", 0)]);
        assert_eq!(calls[1].args, vec![tensor("c", 0), CallArg::Scalar(3.0)]);
        assert_eq!(calls[1].kwargs.get("training"), Some(&json!(false)));
    }

    #[test]
    fn ref_lists_single_and_multiple() {
        let single = json!(["in", 0, 0]);
        let multi = json!([["a", 0, 0], ["b", 1, 0]]);
        assert_eq!(parse_ref_list(Some(&single), "f", "x").unwrap().len(), 1);
        let refs = parse_ref_list(Some(&multi), "f", "x").unwrap();
        assert_eq!(refs[1].node_index, 1);
        assert!(parse_ref_list(Some(&json!([["a", -1, 0]])), "f", "x").is_err());
    }

    #[test]
    fn malformed_nodes_are_bad_json() {
        for v in [
            json!("x"),
            json!([3]),
            json!([[[1, 0, 0]]]),
            json!([{"args": 3}]),
        ] {
            let err = parse_inbound_nodes(Some(&v), "f", "l").unwrap_err();
            assert_eq!(err.kind, ErrorKind::BadJson);
        }
    }
}
