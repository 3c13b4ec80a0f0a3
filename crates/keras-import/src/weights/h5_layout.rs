//! Weights of the legacy full-model `.h5` layout (Keras 3 `save(... .h5)` and tf_keras).
//!
//! `model_weights` has one group per top-level layer, named after the layer (a `/` in a Keras 2
//! name nests HDF5 groups), with a `weight_names` attribute listing the datasets in Keras
//! variable order. Keras 3 names have no suffix (`predictions/kernel`), Keras 2 names end in
//! `:0`. A nested model has a single group whose names are `<inner layer>/<variable>`; they are
//! assigned to the inner layers by the longest matching inner layer name.

use std::collections::HashSet;

use super::{RawTensor, WeightStore};
use crate::config::ModelConfig;
use crate::container::h5::H5File;
use crate::error::{ErrorKind, Result};

/// The group holding the layer groups.
const MODEL_WEIGHTS: &str = "model_weights";

/// Reads the weights of every layer of `model` from the `model_weights` group of `h5`.
pub(crate) fn read_h5_layout(h5: &H5File, model: &ModelConfig) -> Result<WeightStore> {
    let weights_group = h5.group(MODEL_WEIGHTS)?.ok_or_else(|| {
        h5.error(
            ErrorKind::TruncatedWeights,
            format!("the file has a model_config but no '{MODEL_WEIGHTS}' group"),
        )
    })?;
    let stored: Option<HashSet<String>> = weights_group
        .attributes()?
        .string_list("layer_names")?
        .map(|names| names.into_iter().collect());
    let mut store = WeightStore::default();
    for layer in model.layers.iter().filter(|l| !l.is_operation) {
        if stored.as_ref().is_some_and(|s| !s.contains(&layer.name)) {
            continue;
        }
        let group_path = format!("{MODEL_WEIGHTS}/{}", layer.name);
        let Some(group) = h5.group(&group_path)? else {
            continue;
        };
        let names = group
            .attributes()?
            .string_list("weight_names")?
            .unwrap_or_default();
        let tensors = names
            .into_iter()
            .map(|name| {
                let tensor = h5.read_tensor(&format!("{group_path}/{name}"))?;
                Ok(RawTensor {
                    name,
                    shape: tensor.shape,
                    data: tensor.data,
                })
            })
            .collect::<Result<Vec<RawTensor>>>()?;
        match &layer.nested {
            None if tensors.is_empty() => {}
            None => {
                store.by_layer.insert(layer.name.clone(), tensors);
            }
            Some(nested) => distribute_nested(h5, nested, &layer.name, tensors, &mut store)?,
        }
    }
    Ok(store)
}

/// One weight-owning layer inside a nested model, as weight names may spell it.
struct InnerLayer {
    /// The prefix a weight name carries for this layer (`Conv1`, `conv1/conv`, `inner/leaf`).
    spelling: String,
    /// The layer's full node path (`mobilenetv2_0.35_96/Conv1`).
    path: String,
}

/// Assigns the weights of a nested model's single group to its inner layers.
fn distribute_nested(
    h5: &H5File,
    nested: &ModelConfig,
    nested_path: &str,
    tensors: Vec<RawTensor>,
    store: &mut WeightStore,
) -> Result<()> {
    let mut inner = Vec::new();
    collect_inner_layers(nested, &format!("{nested_path}/"), "", &mut inner);
    for tensor in tensors {
        let owner = inner
            .iter()
            .filter(|layer| names_layer(&tensor.name, &layer.spelling))
            .max_by_key(|layer| layer.spelling.len())
            .ok_or_else(|| {
                h5.error(
                    ErrorKind::InvalidGraph,
                    format!(
                        "weight '{}' of nested model '{nested_path}' names none of its layers",
                        tensor.name
                    ),
                )
            })?;
        store
            .by_layer
            .entry(owner.path.clone())
            .or_default()
            .push(tensor);
    }
    Ok(())
}

/// Whether weight `name` belongs to the layer spelled `layer`: `layer/var` or `.../layer/var`.
fn names_layer(name: &str, layer: &str) -> bool {
    let owned_by = |rest: &str| rest.strip_prefix(layer).is_some_and(|r| r.starts_with('/'));
    owned_by(name)
        || name
            .match_indices('/')
            .any(|(i, _)| owned_by(&name[i + 1..]))
}

/// Every non-model layer of `model` and its nested models, with both its path relative to the
/// outermost nested model and its own name as spellings.
fn collect_inner_layers(
    model: &ModelConfig,
    path_prefix: &str,
    relative_prefix: &str,
    out: &mut Vec<InnerLayer>,
) {
    for layer in model.layers.iter().filter(|l| !l.is_operation) {
        let path = format!("{path_prefix}{}", layer.name);
        let relative = format!("{relative_prefix}{}", layer.name);
        match &layer.nested {
            Some(nested) => {
                collect_inner_layers(nested, &format!("{path}/"), &format!("{relative}/"), out)
            }
            None => {
                if relative != layer.name {
                    out.push(InnerLayer {
                        spelling: layer.name.clone(),
                        path: path.clone(),
                    });
                }
                out.push(InnerLayer {
                    spelling: relative,
                    path,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::names_layer;

    #[test]
    fn weight_names_match_whole_layer_names() {
        assert!(names_layer("Conv1/kernel:0", "Conv1"));
        assert!(names_layer("model/Conv1/kernel", "Conv1"));
        assert!(names_layer("conv1/conv/kernel:0", "conv1/conv"));
        assert!(!names_layer("block_1_expand_BN/gamma", "block_1_expand"));
        assert!(!names_layer("Conv1", "Conv1"));
        assert!(!names_layer("xConv1/kernel", "Conv1"));
    }
}
