//! Builds the [`ModelConfig`] tree from the JSON value, recursing into nested models.

use serde_json::{Map, Value};

use super::fields::parse_batch_shape;
use super::inbound::{parse_inbound_nodes, parse_ref_list};
use super::{Dialect, LayerConfig, ModelConfig, MAX_MODEL_NESTING};
use crate::error::{ErrorKind, ImportError, Result};

/// Class names of model entries whose `config.layers` is expanded.
const MODEL_CLASSES: [&str; 3] = ["Functional", "Sequential", "Model"];

/// Keras 3's `Pipeline` layer: a list of layers applied in order, stored (config and weights)
/// like a Sequential model without an input, so it is expanded as one; never a document root.
pub(crate) const PIPELINE: &str = "Pipeline";

/// Parses the document root, which must be a model entry.
pub(super) fn parse_root(root: &Value, dialect: Dialect, file: &str) -> Result<ModelConfig> {
    if !is_model_entry(root, &MODEL_CLASSES) {
        return Err(ImportError::new(
            ErrorKind::BadJson,
            file,
            "not a Keras model config (expected {\"class_name\": \"Functional\" | \"Sequential\" | \"Model\", \"config\": {\"layers\": [...]}})",
        ));
    }
    parse_model(root, dialect, file, 0)
}

/// Whether `entry` is one of `classes` with a `config.layers` list.
fn is_model_entry(entry: &Value, classes: &[&str]) -> bool {
    entry
        .get("class_name")
        .and_then(Value::as_str)
        .is_some_and(|c| classes.contains(&c))
        && entry
            .get("config")
            .and_then(|c| c.get("layers"))
            .is_some_and(Value::is_array)
}

fn parse_model(entry: &Value, dialect: Dialect, file: &str, depth: usize) -> Result<ModelConfig> {
    let bad = |msg: &str| ImportError::new(ErrorKind::BadJson, file, msg.to_string());
    let class_name = entry
        .get("class_name")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("a model entry has no class_name"))?
        .to_string();
    let config = entry
        .get("config")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("a model entry has no config object"))?;
    let name = config
        .get("name")
        .and_then(Value::as_str)
        .or_else(|| entry.get("name").and_then(Value::as_str))
        .unwrap_or("model")
        .to_string();
    let layer_values = config
        .get("layers")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("a model config has no layers list"))?;
    let layers = layer_values
        .iter()
        .map(|layer| parse_layer(layer, dialect, file, depth))
        .collect::<Result<Vec<_>>>()?;
    let build_input_shape = config
        .get("build_input_shape")
        .filter(|v| !v.is_null())
        .or_else(|| entry.get("build_config").and_then(|b| b.get("input_shape")))
        .and_then(parse_batch_shape);
    Ok(ModelConfig {
        inputs: parse_ref_list(
            config.get("input_layers"),
            file,
            &format!("{name} input_layers"),
        )?,
        outputs: parse_ref_list(
            config.get("output_layers"),
            file,
            &format!("{name} output_layers"),
        )?,
        trainable: config
            .get("trainable")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        name,
        class_name,
        layers,
        dialect,
        build_input_shape,
    })
}

fn parse_layer(entry: &Value, dialect: Dialect, file: &str, depth: usize) -> Result<LayerConfig> {
    let bad = |msg: String| ImportError::new(ErrorKind::BadJson, file, msg);
    let class_name = entry
        .get("class_name")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("a layer entry has no class_name".into()))?
        .to_string();
    let config = entry
        .get("config")
        .and_then(Value::as_object)
        .ok_or_else(|| bad(format!("a {class_name} entry has no config object")))?;
    let name = entry
        .get("name")
        .and_then(Value::as_str)
        .or_else(|| config.get("name").and_then(Value::as_str))
        .ok_or_else(|| bad(format!("a {class_name} entry has no name")))?
        .to_string();
    let module = entry
        .get("module")
        .and_then(Value::as_str)
        .map(str::to_string);
    let nested = if is_model_entry(entry, &MODEL_CLASSES) || is_model_entry(entry, &[PIPELINE]) {
        if depth + 1 > MAX_MODEL_NESTING {
            return Err(ImportError::new(
                ErrorKind::TooLarge,
                file,
                format!("model '{name}' nests models deeper than {MAX_MODEL_NESTING} levels"),
            ));
        }
        Some(Box::new(parse_model(entry, dialect, file, depth + 1)?))
    } else {
        None
    };
    let config = if nested.is_some() {
        let without_layers: Map<String, Value> = config
            .iter()
            .filter(|(k, _)| k.as_str() != "layers")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Value::Object(without_layers)
    } else {
        Value::Object(config.clone())
    };
    Ok(LayerConfig {
        calls: parse_inbound_nodes(entry.get("inbound_nodes"), file, &name)?,
        is_operation: match module.as_deref() {
            Some(module) => module.starts_with("keras.src.ops"),
            // Keras 3's legacy `.h5` writer drops `module`: an operation node is then told
            // from a layer by its config, which holds its name and at most the operation's
            // own options, never `trainable` (every layer's config has it).
            None => {
                dialect == Dialect::Keras3
                    && nested.is_none()
                    && class_name != "InputLayer"
                    && config.as_object().is_some_and(|c| {
                        c.keys().all(|k| {
                            matches!(
                                k.as_str(),
                                "name" | "axis" | "dtype" | "keepdims" | "approximate"
                            )
                        })
                    })
            }
        },
        trainable: config
            .get("trainable")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        registered_name: entry
            .get("registered_name")
            .and_then(Value::as_str)
            .map(str::to_string),
        name,
        class_name,
        module,
        nested,
        config,
    })
}

#[cfg(test)]
mod tests {
    use super::super::parse_model_config;
    use super::*;

    #[test]
    fn rejects_non_models() {
        for text in [
            "[]",
            "{}",
            "{\"class_name\": \"Conv2D\", \"config\": {}}",
            "{\"a\": 1",
        ] {
            assert_eq!(
                parse_model_config(text, "f").unwrap_err().kind,
                ErrorKind::BadJson,
                "{text}"
            );
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let mut text = String::from(
            r#"{"class_name": "Sequential", "config": {"name": "m", "layers": [{"class_name": "Dense", "config": {"name": "d", "units": 1}}]}}"#,
        );
        for i in 0..(MAX_MODEL_NESTING + 1) {
            text = format!(
                r#"{{"class_name": "Sequential", "config": {{"name": "m{i}", "layers": [{text}]}}}}"#
            );
        }
        // serde_json's own recursion limit or ours must stop this, never a stack overflow.
        let err = parse_model_config(&text, "f").unwrap_err();
        assert!(matches!(err.kind, ErrorKind::TooLarge | ErrorKind::BadJson));
    }

    #[test]
    fn sequential_layers_take_their_name_from_config() {
        let text = r#"{"class_name": "Sequential", "config": {"name": "s", "trainable": false,
            "build_input_shape": [null, 8, 8, 3],
            "layers": [{"module": "keras.layers", "class_name": "Flatten", "config": {"name": "f"}}]}}"#;
        let m = parse_model_config(text, "f").unwrap();
        assert_eq!(m.layers[0].name, "f");
        assert!(!m.trainable);
        assert_eq!(m.build_input_shape, Some(vec![Some(8), Some(8), Some(3)]));
    }
}
