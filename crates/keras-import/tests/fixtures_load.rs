//! The hand-made fixtures (see tests/fixtures/make_fixtures.py) load with exactly the values
//! the generator wrote: the `.keras` layout, and the `.h5` layout in its harder variants
//! (split `layer_names0/1`, fixed- and variable-length strings, empty float64 `weight_names`,
//! float16 and float64 datasets).

use std::path::{Path, PathBuf};

use keras_import::{load_model, Format, Model};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The generator's values: `((i * 37 + seed * 11) % 129 - 64) / 64` for element `i`.
fn generated(count: usize, seed: usize) -> Vec<f32> {
    (0..count)
        .map(|i| ((i * 37 + seed * 11) % 129) as f32 / 64.0 - 1.0)
        .collect()
}

fn weights_of(model: &Model, path: &str) -> Vec<(Vec<usize>, Vec<f32>)> {
    let node = model
        .graph
        .node_by_path(path)
        .unwrap_or_else(|| panic!("no node {path}"));
    model.graph.nodes[node]
        .weights
        .iter()
        .map(|&w| {
            let weight = &model.graph.weights[w];
            (weight.shape.clone(), weight.data.clone())
        })
        .collect()
}

fn check_values(model: &Model) {
    assert_eq!(
        weights_of(model, "conv"),
        [
            (vec![3, 3, 3, 4], generated(108, 1)),
            (vec![4], generated(4, 2))
        ]
    );
    assert_eq!(
        weights_of(model, "predictions"),
        [(vec![4, 2], generated(8, 3)), (vec![2], generated(2, 4))]
    );
    assert!(weights_of(model, "gap").is_empty());
}

/// Loads fixture `name` and checks its format, recorded version and values.
fn check_fixture(name: &str, format: Format, keras_version: &str) {
    let model = load_model(&fixture(name)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(model.format, format, "{name}");
    assert_eq!(
        model.keras_version.as_deref(),
        Some(keras_version),
        "{name}"
    );
    check_values(&model);
}

#[test]
fn keras3_archive_fixture_loads_with_its_values() {
    check_fixture("tiny_cnn.keras", Format::Keras3Zip, "3.15.1");
}

#[test]
fn keras2_h5_fixture_with_split_attributes_and_mixed_precision_loads_with_its_values() {
    check_fixture("tiny_cnn_k2.h5", Format::Keras2H5, "2.21.0");
}

#[test]
fn the_format_comes_from_the_bytes_not_the_name() {
    let bytes = std::fs::read(fixture("tiny_cnn.keras")).unwrap_or_else(|e| panic!("{e}"));
    let model = keras_import::load_model_from_bytes(&bytes, "misnamed.h5")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(model.format, Format::Keras3Zip);
}

#[test]
fn a_missing_file_is_an_io_error_naming_it() {
    let path = fixture("does_not_exist.keras");
    let err = load_model(&path).err().map(|e| (e.kind(), e.to_string()));
    let (kind, message) = err.unwrap_or_else(|| panic!("loaded a missing file"));
    assert_eq!(kind, keras_import::ErrorKind::Io);
    assert!(message.contains("does_not_exist.keras"), "{message}");
}
