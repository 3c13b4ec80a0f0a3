//! Every `configs[]` entry of the conformance corpus imports from its `model.to_json()` text:
//! parameter counts equal Keras' exactly, the target layer exists with the reference shape
//! (and is what the README's target rule picks on our graph), `last_conv_layer` exists, and
//! the class counts equal `layer_class_counts`.

use std::collections::BTreeMap;
use std::path::Path;

use keras_import::config::{parse_model_config, ModelConfig};
use keras_import::{graph_from_config_json, Graph, Op};
use kerascam_tests::corpus::{manifest, read_config_text};
use kerascam_tests::manifest::ConfigEntry;

/// Class counts over all config entries, nested ones included; operation nodes keyed
/// `module.class_name` as the manifest does.
fn config_class_counts(model: &ModelConfig, counts: &mut BTreeMap<String, u64>) {
    for layer in &model.layers {
        let key = match (&layer.module, layer.is_operation) {
            (Some(module), true) => format!("{module}.{}", layer.class_name),
            _ => layer.class_name.clone(),
        };
        *counts.entry(key).or_default() += 1;
        if let Some(nested) = &layer.nested {
            config_class_counts(nested, counts);
        }
    }
}

/// The README's target rule applied to our graph: the last node (topological order) with a
/// 4-D output whose H·W > 1 (unknown counts as > 1) that the model output depends on.
fn target_by_rule(graph: &Graph) -> Option<String> {
    let mut needed = vec![false; graph.nodes.len()];
    for &out in &graph.outputs {
        needed[out] = true;
    }
    for id in (0..graph.nodes.len()).rev() {
        if needed[id] {
            for &input in &graph.nodes[id].inputs {
                needed[input] = true;
            }
        }
    }
    graph
        .nodes
        .iter()
        .enumerate()
        .filter(|(id, n)| {
            let s = &n.output_shape;
            needed[*id]
                && n.op != Op::Input
                && s.len() == 3
                && s[0].zip(s[1]).is_none_or(|(h, w)| h * w > 1)
        })
        .map(|(_, n)| n.path.clone())
        .next_back()
}

fn check_entry(dir: &Path, entry: &ConfigEntry) -> Result<(), String> {
    let file = entry.config.as_str();
    let text = read_config_text(&dir.join(file));
    let graph = graph_from_config_json(&text, file).map_err(|e| format!("import failed: {e}"))?;

    let counts = graph.param_counts();
    let expected = (
        entry.param_count,
        entry.trainable_param_count,
        entry.non_trainable_param_count,
    );
    let got = (counts.total, counts.trainable, counts.non_trainable);
    if got != expected {
        return Err(format!("param counts {got:?}, expected {expected:?}"));
    }
    if graph.scope_param_counts(0) != counts {
        return Err("outer scope counts differ from the graph's".into());
    }

    let target = entry.target_layer.as_str();
    let node = graph
        .node_by_path(target)
        .ok_or_else(|| format!("no node '{target}'"))?;
    let want = &entry.target_layer_shape;
    if graph.nodes[node].output_shape != *want {
        return Err(format!(
            "target '{target}' shape {:?}, expected {want:?}",
            graph.nodes[node].output_shape
        ));
    }
    let picked = target_by_rule(&graph);
    if picked.as_deref() != Some(target) {
        return Err(format!(
            "target rule on our graph picks {picked:?}, expected {target}"
        ));
    }
    let last_conv = entry.last_conv_layer.as_str();
    if graph.node_by_path(last_conv).is_none() {
        return Err(format!("no node '{last_conv}'"));
    }

    let output = graph
        .outputs
        .first()
        .map(|&o| graph.nodes[o].output_shape.clone());
    if output.as_ref() != Some(&entry.output_shape) {
        return Err(format!(
            "output shape {output:?}, expected {:?}",
            entry.output_shape
        ));
    }
    let input = graph
        .inputs
        .first()
        .map(|&i| graph.nodes[i].output_shape.clone());
    if input.as_ref() != Some(&entry.input_shape) {
        return Err(format!(
            "input shape {input:?}, expected {:?}",
            entry.input_shape
        ));
    }

    check_class_counts(&text, &graph, entry)
}

/// The config's class counts (nested entries included) and top-level entry count equal the
/// manifest's, and every layer class has as many graph nodes as config entries.
fn check_class_counts(text: &str, graph: &Graph, entry: &ConfigEntry) -> Result<(), String> {
    let model = parse_model_config(text, &entry.config).map_err(|e| e.to_string())?;
    let mut class_counts = BTreeMap::new();
    config_class_counts(&model, &mut class_counts);
    let manifest_counts = &entry.layer_class_counts;
    if class_counts != *manifest_counts {
        return Err(format!(
            "config class counts {class_counts:?}, expected {manifest_counts:?}"
        ));
    }
    if model.layers.len() as u64 != entry.num_config_entries {
        return Err(format!("{} top-level entries", model.layers.len()));
    }

    // Every layer call except nested models and nested InputLayers is one graph node.
    let mut node_counts: BTreeMap<String, u64> = BTreeMap::new();
    for n in graph.nodes.iter().filter(|n| n.call_index == 0) {
        *node_counts.entry(n.class_name.clone()).or_default() += 1;
    }
    for (key, &count) in manifest_counts {
        let class = key.rsplit('.').next().unwrap_or(key);
        if ["InputLayer", "Functional", "Sequential", "Model"].contains(&class) {
            continue;
        }
        let expected: u64 = manifest_counts
            .iter()
            .filter(|(k, _)| k.rsplit('.').next() == Some(class))
            .map(|(_, c)| c)
            .sum();
        let got = node_counts.get(class).copied().unwrap_or(0);
        if got != expected {
            return Err(format!(
                "{got} graph nodes of class {class}, config has {expected} ({key}: {count})"
            ));
        }
    }
    Ok(())
}

#[test]
fn every_corpus_config_imports_with_exact_counts_and_shapes() {
    let Some((dir, manifest)) = manifest() else {
        return;
    };
    let entries = &manifest.configs;
    assert!(!entries.is_empty(), "the manifest lists no configs");
    let mut failures = Vec::new();
    for entry in entries {
        let id = &entry.id;
        if let Err(e) = check_entry(&dir, entry) {
            failures.push(format!("{id}: {e}"));
        }
    }
    println!(
        "import_configs: {}/{} corpus configs passed",
        entries.len() - failures.len(),
        entries.len()
    );
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}
