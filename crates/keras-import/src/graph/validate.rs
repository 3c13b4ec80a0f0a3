//! Refuses Lambda layers and unknown classes up front, listing all of them in one error.

use super::layers::LayerKind;
use crate::config::ModelConfig;
use crate::error::{ErrorKind, ImportError, Result};

/// Walks every model (nested ones included) and fails with [`ErrorKind::LambdaRefused`] if
/// any Lambda layer exists, else with [`ErrorKind::UnknownLayer`] listing every layer whose
/// class (or TFOpLambda function, or operation) is not supported.
pub(crate) fn check_supported(model: &ModelConfig, file: &str) -> Result<()> {
    let mut lambdas = Vec::new();
    let mut unknown = Vec::new();
    collect(model, "", &mut lambdas, &mut unknown);
    if !lambdas.is_empty() {
        return Err(ImportError::new(
            ErrorKind::LambdaRefused,
            file,
            format!(
                "refusing {} Lambda layer(s): {}; their Python code is never decoded or run",
                lambdas.len(),
                lambdas.join(", ")
            ),
        ));
    }
    if !unknown.is_empty() {
        return Err(ImportError::new(
            ErrorKind::UnknownLayer,
            file,
            format!(
                "{} unsupported layer(s): {}",
                unknown.len(),
                unknown.join(", ")
            ),
        ));
    }
    Ok(())
}

fn collect(
    model: &ModelConfig,
    prefix: &str,
    lambdas: &mut Vec<String>,
    unknown: &mut Vec<String>,
) {
    for layer in &model.layers {
        let path = format!("{prefix}{}", layer.name);
        if let Some(nested) = &layer.nested {
            collect(nested, &format!("{path}/"), lambdas, unknown);
            continue;
        }
        match LayerKind::of(layer) {
            Some(LayerKind::Lambda) => lambdas.push(path),
            Some(_) => {}
            None => {
                let function = layer
                    .config
                    .get("function")
                    .and_then(serde_json::Value::as_str)
                    .map(|f| format!(" {f}"))
                    .unwrap_or_default();
                unknown.push(format!("{path} ({}{function})", layer.display_class()));
            }
        }
    }
}
