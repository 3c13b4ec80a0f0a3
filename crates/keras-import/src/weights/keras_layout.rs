//! Weights of the `.keras` layout (`model.weights.h5` inside the archive, Keras 3 and tf_keras).
//!
//! Groups are not named after layers: each model's layers (config order, operation nodes
//! skipped) get `snake_case(class name)` plus a per-class counter within that model
//! (`conv2d`, `conv2d_1`, ...), and their variables are datasets `vars/0`, `vars/1`, ... .
//! A nested model's layers live under its own group (`layers/functional/layers/conv2d_3`).

use std::collections::HashMap;

use super::snake_case::to_snake_case;
use super::{RawTensor, WeightStore};
use crate::config::ModelConfig;
use crate::container::h5::{H5File, H5Group};
use crate::error::{ErrorKind, Result};

/// Name of the group holding a model's layers, and of the group holding a layer's variables.
const LAYERS_GROUP: &str = "layers";
const VARS_GROUP: &str = "vars";

/// Reads every layer's variables of `model` (and its nested models) from `h5`.
pub(crate) fn read_keras_layout(h5: &H5File, model: &ModelConfig) -> Result<WeightStore> {
    let mut store = WeightStore::default();
    let root = h5.root()?;
    read_model(h5, &root, model, "", &mut store)?;
    Ok(store)
}

/// Reads the layers of one (possibly nested) model stored under `model_group`, keying them
/// under `path_prefix` (empty, or the nested model path followed by `/`).
fn read_model(
    h5: &H5File,
    model_group: &H5Group<'_>,
    model: &ModelConfig,
    path_prefix: &str,
    store: &mut WeightStore,
) -> Result<()> {
    let Some(layers) = model_group.child(LAYERS_GROUP)? else {
        return Ok(());
    };
    let mut counters: HashMap<String, usize> = HashMap::new();
    for layer in model.layers.iter().filter(|l| !l.is_operation) {
        let group_name = numbered_group_name(&mut counters, &layer.class_name);
        let Some(group) = layers.child(&group_name)? else {
            continue;
        };
        let path = format!("{path_prefix}{}", layer.name);
        match &layer.nested {
            Some(nested) => read_model(h5, &group, nested, &format!("{path}/"), store)?,
            None => {
                let vars = read_vars(h5, &group)?;
                if !vars.is_empty() {
                    store.by_layer.insert(path, vars);
                }
            }
        }
    }
    Ok(())
}

/// The next group name for a layer of `class_name`: `snake_case`, then `_1`, `_2`, ... .
fn numbered_group_name(counters: &mut HashMap<String, usize>, class_name: &str) -> String {
    let base = to_snake_case(class_name);
    let seen = counters.entry(base.clone()).or_insert(0);
    let name = if *seen == 0 {
        base
    } else {
        format!("{base}_{seen}")
    };
    *seen += 1;
    name
}

/// The datasets `vars/0`, `vars/1`, ... of a layer group, in numeric order.
fn read_vars(h5: &H5File, layer_group: &H5Group<'_>) -> Result<Vec<RawTensor>> {
    let Some(vars) = layer_group.child(VARS_GROUP)? else {
        return Ok(Vec::new());
    };
    let names = vars.dataset_names()?;
    let mut indices = names
        .iter()
        .map(|name| name.parse::<usize>().ok())
        .collect::<Option<Vec<usize>>>()
        .ok_or_else(|| {
            h5.error(
                ErrorKind::TruncatedWeights,
                format!(
                    "'{}' holds datasets {names:?}; expected 0, 1, 2, ...",
                    vars.path()
                ),
            )
        })?;
    indices.sort_unstable();
    if indices.iter().enumerate().any(|(i, &index)| i != index) {
        return Err(h5.error(
            ErrorKind::TruncatedWeights,
            format!(
                "'{}' holds variables {indices:?}; expected 0..{}",
                vars.path(),
                indices.len()
            ),
        ));
    }
    indices
        .into_iter()
        .map(|index| {
            let name = vars.child_path(&index.to_string());
            let tensor = h5.read_tensor(&name)?;
            Ok(RawTensor {
                name,
                shape: tensor.shape,
                data: tensor.data,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_per_class() {
        let mut counters = HashMap::new();
        let names: Vec<String> = ["Conv2D", "ReLU", "Conv2D", "Conv2D", "ReLU"]
            .iter()
            .map(|c| numbered_group_name(&mut counters, c))
            .collect();
        assert_eq!(
            names,
            ["conv2d", "re_lu", "conv2d_1", "conv2d_2", "re_lu_1"]
        );
    }
}
