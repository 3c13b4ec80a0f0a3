//! Which JSON dialect (Keras 2 / tf_keras or Keras 3) a model config is written in.

use serde_json::Value;

/// The Keras generation that wrote a config; some layer semantics differ between them
/// (`hard_sigmoid` slope, node numbering of nested models, variable names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// tf.keras 2.x / tf_keras.
    Keras2,
    /// Keras 3.
    Keras3,
}

/// Most layer entries inspected while looking for evidence of the dialect.
const MAX_ENTRIES_INSPECTED: usize = 100_000;

impl Dialect {
    /// Decides the dialect of a whole model document: an explicit `keras_version` or a
    /// `tf_keras` module wins; otherwise the first layer whose inbound nodes, input shape key
    /// or dtype form tells the two apart; Keras 3 when nothing does.
    pub fn detect(root: &Value) -> Dialect {
        if let Some(version) = root.get("keras_version").and_then(Value::as_str) {
            if version.starts_with('2') {
                return Dialect::Keras2;
            }
            if version.starts_with('3') {
                return Dialect::Keras3;
            }
        }
        if let Some(module) = root.get("module").and_then(Value::as_str) {
            if module.starts_with("tf_keras") {
                return Dialect::Keras2;
            }
        }
        let mut pending: Vec<&Value> = vec![root];
        let mut inspected = 0usize;
        while let Some(model) = pending.pop() {
            let layers = model
                .get("config")
                .and_then(|c| c.get("layers"))
                .and_then(Value::as_array);
            for layer in layers.into_iter().flatten() {
                inspected += 1;
                if inspected > MAX_ENTRIES_INSPECTED {
                    return Dialect::Keras3;
                }
                if let Some(found) = evidence(layer) {
                    return found;
                }
                if layer.get("config").and_then(|c| c.get("layers")).is_some() {
                    pending.push(layer);
                }
            }
        }
        Dialect::Keras3
    }
}

/// What one layer entry says about the dialect, if anything.
fn evidence(layer: &Value) -> Option<Dialect> {
    if let Some(first) = layer
        .get("inbound_nodes")
        .and_then(Value::as_array)
        .and_then(|nodes| nodes.first())
    {
        if first.is_object() {
            return Some(Dialect::Keras3);
        }
        if first.is_array() {
            return Some(Dialect::Keras2);
        }
    }
    let config = layer.get("config")?;
    if config.get("batch_shape").is_some() {
        return Some(Dialect::Keras3);
    }
    if config.get("batch_input_shape").is_some() {
        return Some(Dialect::Keras2);
    }
    if config.get("dtype").is_some_and(Value::is_object) {
        return Some(Dialect::Keras3);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn version_wins() {
        let v = json!({"keras_version": "2.15.0", "config": {"layers": [
            {"inbound_nodes": [{"args": []}]}]}});
        assert_eq!(Dialect::detect(&v), Dialect::Keras2);
    }

    #[test]
    fn inbound_node_form_decides() {
        let k3 = json!({"config": {"layers": [{"inbound_nodes": [{"args": [], "kwargs": {}}]}]}});
        let k2 = json!({"config": {"layers": [{"inbound_nodes": [[["a", 0, 0, {}]]]}]}});
        assert_eq!(Dialect::detect(&k3), Dialect::Keras3);
        assert_eq!(Dialect::detect(&k2), Dialect::Keras2);
    }

    #[test]
    fn sequential_input_shape_key_decides() {
        let k2 = json!({"config": {"layers": [{"config": {"batch_input_shape": [null, 4]}}]}});
        let k3 = json!({"config": {"layers": [{"config": {"batch_shape": [null, 4]}}]}});
        assert_eq!(Dialect::detect(&k2), Dialect::Keras2);
        assert_eq!(Dialect::detect(&k3), Dialect::Keras3);
    }

    #[test]
    fn nested_models_are_searched() {
        let v = json!({"config": {"layers": [
            {"class_name": "Sequential", "config": {"layers": [
                {"config": {"dtype": "float32", "batch_input_shape": [null, 3]}}]}}]}});
        assert_eq!(Dialect::detect(&v), Dialect::Keras2);
    }
}
