//! Every model file of the conformance corpus (`cases` in manifest.json: four formats) loads
//! with all its weights: format, Keras version and parameter count as TensorFlow recorded them,
//! `.keras` layers bound to exactly the datasets of TensorFlow's `weights_index`, and the same
//! weight values in every format of one model.

use std::collections::BTreeMap;
use std::path::Path;

use keras_import::{load_model, load_weight_store_from_bytes, Model};
use kerascam_tests::corpus;
use kerascam_tests::manifest::{read_json, Case, IndexedLayer};

/// The `cases` of the manifest with the corpus folder, or `None` when the corpus is absent.
fn cases() -> Option<(std::path::PathBuf, Vec<Case>)> {
    let (dir, manifest) = corpus::manifest()?;
    assert!(!manifest.cases.is_empty(), "manifest.json lists no cases");
    Some((dir, manifest.cases))
}

fn load(dir: &Path, case: &Case) -> Model {
    load_model(&dir.join(&case.file)).unwrap_or_else(|e| panic!("{}: {e}", case.id))
}

#[test]
fn every_case_file_loads_with_its_format_version_and_parameter_count() {
    let Some((dir, cases)) = cases() else { return };
    for case in &cases {
        let id = &case.id;
        let model = load(&dir, case);
        assert_eq!(model.format.as_str(), case.format, "{id}");
        assert_eq!(
            model.keras_version.as_deref(),
            Some(case.keras_version.as_str()),
            "{id}"
        );
        let params: usize = model.graph.weights.iter().map(|w| w.data.len()).sum();
        assert_eq!(params as u64, case.param_count, "{id}");
        for weight in &model.graph.weights {
            let count: usize = weight.shape.iter().product();
            assert_eq!(weight.data.len(), count, "{id}: {}", weight.name);
            assert!(
                weight.data.iter().all(|v| v.is_finite()),
                "{id}: {} has non-finite values",
                weight.name
            );
        }
    }
    eprintln!("{} case files loaded", cases.len());
}

#[test]
fn keras_archives_bind_every_layer_to_the_datasets_of_its_weights_index() {
    let Some((dir, cases)) = cases() else { return };
    let mut checked = 0;
    for case in &cases {
        let Some(index_file) = &case.weights_index else {
            continue;
        };
        let id = case.id.as_str();
        let path = dir.join(&case.file);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{id}: {e}"));
        let store = load_weight_store_from_bytes(&bytes, id).unwrap_or_else(|e| panic!("{e}"));
        let model = load(&dir, case);
        let index: Vec<IndexedLayer> = read_json(&dir.join(index_file));
        let mut indexed_layers = 0;
        for entry in &index {
            let layer = entry.layer.as_str();
            let stored = store
                .by_layer
                .get(layer)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let datasets: Vec<(&str, Vec<usize>)> = stored
                .iter()
                .map(|t| (t.name.as_str(), t.shape.clone()))
                .collect();
            let wanted: Vec<(&str, Vec<usize>)> = entry
                .weights
                .iter()
                .map(|w| (w.dataset.as_str(), w.shape.clone()))
                .collect();
            assert_eq!(datasets, wanted, "{id}: layer {layer}");
            let node = model
                .graph
                .node_by_path(layer)
                .unwrap_or_else(|| panic!("{id}: no node {layer}"));
            let graph_shapes: Vec<&[usize]> = model.graph.nodes[node]
                .weights
                .iter()
                .map(|&w| model.graph.weights[w].shape.as_slice())
                .collect();
            let index_shapes: Vec<&[usize]> = wanted.iter().map(|(_, s)| s.as_slice()).collect();
            assert_eq!(graph_shapes, index_shapes, "{id}: layer {layer}");
            indexed_layers += 1;
        }
        let stored_layers = store.by_layer.len();
        assert_eq!(
            stored_layers, indexed_layers,
            "{id}: layers with weights beyond the index"
        );
        checked += 1;
    }
    assert!(checked > 0, "no case has a weights_index");
    eprintln!("{checked} .keras files match their weights_index");
}

#[test]
fn every_format_of_a_model_holds_the_same_weight_values() {
    let Some((dir, cases)) = cases() else { return };
    let mut by_model: BTreeMap<&str, Vec<&Case>> = BTreeMap::new();
    for case in &cases {
        by_model.entry(&case.model).or_default().push(case);
    }
    let mut compared = 0;
    for (model_name, formats) in by_model.iter().filter(|(_, f)| f.len() > 1) {
        let reference = formats
            .iter()
            .find(|c| c.format == "keras3-zip")
            .unwrap_or_else(|| panic!("{model_name}: no keras3-zip file"));
        let reference_model = load(&dir, reference);
        for other in formats.iter().filter(|c| c.format != "keras3-zip") {
            let id = &other.id;
            let other_model = load(&dir, other);
            let mut values = 0usize;
            let weighted = |n: &&keras_import::Node| n.call_index == 0 && !n.weights.is_empty();
            for node in reference_model.graph.nodes.iter().filter(weighted) {
                let other_node = other_model
                    .graph
                    .node_by_path(&node.path)
                    .unwrap_or_else(|| panic!("{id}: no node {}", node.path));
                let other_weights = &other_model.graph.nodes[other_node].weights;
                assert_eq!(
                    node.weights.len(),
                    other_weights.len(),
                    "{id}: {}",
                    node.path
                );
                for (&a, &b) in node.weights.iter().zip(other_weights) {
                    let (a, b) = (
                        &reference_model.graph.weights[a],
                        &other_model.graph.weights[b],
                    );
                    assert_eq!(a.shape, b.shape, "{id}: {}", a.name);
                    let worst = a
                        .data
                        .iter()
                        .zip(&b.data)
                        .map(|(x, y)| (x - y).abs())
                        .fold(0f32, f32::max);
                    assert_eq!(worst, 0.0, "{id}: {} differs from keras3-zip", a.name);
                    values += a.data.len();
                }
            }
            assert_eq!(values as u64, other.param_count, "{id}");
            compared += 1;
        }
    }
    assert!(compared > 0, "no model has several formats");
    eprintln!("{compared} files compared value by value with their keras3-zip twin");
}
