//! Typed views of the JSON files the tests read: the corpus `manifest.json` (format in
//! `../shared/conformance/README.md`), its `refs/<model>/weights_index.<format>.json` files and
//! the repository's own `tests/fixtures/manifest.json` (`tests/fixtures/README.md`).
//!
//! Every documented field is required: a missing or mistyped one fails [`read_json`] with the
//! file's path, so a changed manifest cannot silently shrink what the tests check. Fields
//! documented as nullable are `Option`s that must still be present (see [`nullable`]).

use std::collections::BTreeMap;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

/// Reads and parses a JSON file into `T`.
///
/// # Panics
/// When the file cannot be read or does not match `T` (missing field, wrong type, bad JSON);
/// the message names the file and serde's reason.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> T {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A field that must be present but may be `null`: serde's derive would otherwise take a
/// missing `Option` field as `None`.
fn nullable<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::deserialize(deserializer)
}

/// A shape without the batch axis; `None` is a dynamic dimension.
pub type Shape = Vec<Option<usize>>;

/// The library versions a generator ran with.
#[derive(Debug, Clone, Deserialize)]
pub struct Environment {
    /// TensorFlow version.
    pub tensorflow: String,
    /// Keras 3 version.
    pub keras: String,
    /// tf_keras (Keras 2) version.
    pub tf_keras: String,
    /// NumPy version.
    pub numpy: String,
    /// The seed set before every model.
    pub seed: u64,
}

/// The corpus `manifest.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    /// Format version (1).
    pub version: u32,
    /// Versions that made the corpus.
    pub environment: Environment,
    /// `model.to_json()` texts of keras.applications models.
    pub configs: Vec<ConfigEntry>,
    /// Model files with reference outputs and heatmaps.
    pub cases: Vec<Case>,
    /// Malformed or unsupported files and the error kind each must give.
    pub bad: Vec<BadFile>,
}

/// The constructor call that made a config.
#[derive(Debug, Clone, Deserialize)]
pub struct Variant {
    /// E.g. `keras.applications.ResNet50`.
    pub constructor: String,
    /// Its Python keyword arguments, as written.
    pub args: BTreeMap<String, serde_json::Value>,
}

/// One `configs[]` entry.
#[derive(Debug, Clone, Deserialize)]
pub struct ConfigEntry {
    /// E.g. `k3_resnet50_top`.
    pub id: String,
    /// 3 (`keras.applications`) or 2 (`tf_keras.applications`).
    pub keras_major: u8,
    /// Version that wrote the config.
    pub keras_version: String,
    /// Path of the config text (`.json` or `.json.gz`), relative to the corpus.
    pub config: String,
    /// Module name of the application (`resnet`, `mobilenet_v2`, ...).
    pub family: String,
    /// The exact constructor call.
    pub variant: Variant,
    /// Whether the classifier top is included.
    pub include_top: bool,
    /// Input shape.
    pub input_shape: Shape,
    /// Output shape.
    pub output_shape: Shape,
    /// `model.count_params()`.
    pub param_count: u64,
    /// Trainable part of `param_count`.
    pub trainable_param_count: u64,
    /// Non-trainable part of `param_count`.
    pub non_trainable_param_count: u64,
    /// The preprocessing definition `preprocess_input` matched.
    pub preprocessing: String,
    /// Path of the target layer (README rule).
    pub target_layer: String,
    /// Its output shape `[H, W, C]`.
    pub target_layer_shape: Shape,
    /// Path of the last convolution.
    pub last_conv_layer: String,
    /// `len(model.layers)`.
    pub num_layers: u64,
    /// Entries of the top-level config `layers` list.
    pub num_config_entries: u64,
    /// `class_name` counts over all config entries (operation nodes keyed `module.class_name`).
    pub layer_class_counts: BTreeMap<String, u64>,
}

/// The keras.applications backbone a case model contains.
#[derive(Debug, Clone, Deserialize)]
pub struct Backbone {
    /// Module name of the application.
    pub family: String,
    /// Its preprocessing definition.
    pub preprocessing: String,
    /// Name of the nested model holding it; `None` when the application is the model itself.
    #[serde(deserialize_with = "nullable")]
    pub nested_layer_name: Option<String>,
}

/// Worst differences of one recomputation route to the references.
#[derive(Debug, Clone, Deserialize)]
pub struct RouteCheck {
    /// Max absolute logit difference.
    pub logits_abs: f64,
    /// Logit difference relative to `max(1, max |logit|)`.
    pub logits_rel: f64,
    /// Max absolute heatmap difference.
    pub heatmap_abs: f64,
    /// Relative `heatmap_max_raw` difference.
    pub heatmap_max_raw_rel: f64,
}

/// The two recomputations of a case's references.
#[derive(Debug, Clone, Deserialize)]
pub struct CaseChecks {
    /// Flat re-wiring run as a `tf.function` graph.
    pub flat_graph_vs_reference: RouteCheck,
    /// The flat graph in float64.
    pub float64_vs_reference: RouteCheck,
}

/// One `cases[]` entry: a model file and its references.
#[derive(Debug, Clone, Deserialize)]
pub struct Case {
    /// `<model>.<format>`.
    pub id: String,
    /// Model name (shared by the formats of one model).
    pub model: String,
    /// Path of the model file.
    pub file: String,
    /// `keras3-zip`, `keras3-h5`, `keras2-h5` or `keras2-zip`.
    pub format: String,
    /// Version that wrote the file.
    pub keras_version: String,
    /// Input shape `[H, W, C]`.
    pub input_shape: Vec<usize>,
    /// Parameter count.
    pub param_count: u64,
    /// The backbone, or `None` for a custom model.
    #[serde(deserialize_with = "nullable")]
    pub backbone: Option<Backbone>,
    /// Preprocessing applied to make `inputs/`.
    pub preprocessing: String,
    /// `softmax`, `sigmoid` or `linear`.
    pub head: String,
    /// Output units.
    pub num_outputs: usize,
    /// Name of the output layer.
    pub output_layer: String,
    /// Path of the target layer.
    pub target_layer: String,
    /// Its output shape `[h, w, k]`.
    pub target_shape: Vec<usize>,
    /// Path of the last convolution.
    pub last_conv_layer: String,
    /// Logit difference after reloading with the library that wrote the file.
    pub reload_max_abs_logit_diff: f64,
    /// `.keras` files: path of the weights index ([`IndexedLayer`] list); `None` otherwise.
    #[serde(deserialize_with = "nullable")]
    pub weights_index: Option<String>,
    /// Recomputation of the references by two other routes.
    pub checks: CaseChecks,
    /// The photos with their reference outputs.
    pub images: Vec<CaseImage>,
}

/// One photo of a case with TensorFlow's outputs.
#[derive(Debug, Clone, Deserialize)]
pub struct CaseImage {
    /// Photo name (`chelsea`, ...).
    pub name: String,
    /// Path of the PNG at model size.
    pub image: String,
    /// Path of the preprocessed `.npy` input.
    pub input: String,
    /// Pre-activation logits.
    pub logits: Vec<f32>,
    /// The model's output.
    pub probabilities: Vec<f32>,
    /// The predicted class.
    pub top_class: usize,
    /// The top class, then the runner-up.
    pub heatmaps: Vec<HeatmapRef>,
}

/// A reference Grad-CAM heatmap of a corpus case.
#[derive(Debug, Clone, Deserialize)]
pub struct HeatmapRef {
    /// The explained class.
    pub class: usize,
    /// Its score.
    pub score: f64,
    /// Path of the normalised heatmap (`.npy`, float32 `(h, w)`).
    pub heatmap: String,
    /// `max(cam)` before normalisation.
    pub heatmap_max_raw: f32,
}

/// One `bad[]` entry.
#[derive(Debug, Clone, Deserialize)]
pub struct BadFile {
    /// Entry name.
    pub id: String,
    /// Path of the file.
    pub file: String,
    /// Always `error`.
    pub expect: String,
    /// The error kind a loader must give (`no_feature_map`: Grad-CAM's, not the loader's).
    pub kind: String,
    /// What the file is.
    pub note: String,
}

/// One layer of a `weights_index.<format>.json` file.
#[derive(Debug, Clone, Deserialize)]
pub struct IndexedLayer {
    /// Layer path (config names).
    pub layer: String,
    /// Its Keras class.
    pub class_name: String,
    /// Its variables in order.
    pub weights: Vec<IndexedWeight>,
}

/// One variable of an [`IndexedLayer`].
#[derive(Debug, Clone, Deserialize)]
pub struct IndexedWeight {
    /// Variable name (`kernel`, `gamma`, ...).
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its dataset inside `model.weights.h5`.
    pub dataset: String,
}

/// The repository's `tests/fixtures/manifest.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct FixturesManifest {
    /// Format version (1).
    pub version: u32,
    /// Versions that made the fixtures.
    pub environment: Environment,
    /// Where the definitions come from.
    pub definitions: String,
    /// Model files with reference outputs and heatmaps.
    pub cases: Vec<FixtureCase>,
    /// Formats that could not be produced, and why.
    pub skipped_formats: Vec<SkippedFormat>,
}

/// A model format the fixture generator could not produce.
#[derive(Debug, Clone, Deserialize)]
pub struct SkippedFormat {
    /// Model name.
    pub model: String,
    /// The missing format.
    pub format: String,
    /// Why.
    pub reason: String,
}

/// Checks the fixture generator made on a submodel route to the references.
#[derive(Debug, Clone, Deserialize)]
pub struct SubmodelCheck {
    /// Max absolute logit difference.
    pub logits_abs: f64,
    /// Max absolute heatmap difference.
    pub heatmap_abs: f64,
    /// Relative `heatmap_max_raw` difference.
    pub heatmap_max_raw_rel: f64,
    /// The layers checked.
    pub layers: Vec<String>,
}

/// Cross-library checks of a fixture case (Keras 2 copies only).
#[derive(Debug, Clone, Deserialize)]
pub struct FixtureChecks {
    /// Max logit difference of the tf_keras rebuild to Keras 3.
    #[serde(default)]
    pub keras2_vs_keras3_max_abs_logit_diff: Option<f64>,
}

/// One fixture case: a model file, its input batch and references.
#[derive(Debug, Clone, Deserialize)]
pub struct FixtureCase {
    /// `<model>.<format>`.
    pub id: String,
    /// Model name.
    pub model: String,
    /// Path of the model file.
    pub file: String,
    /// File format.
    pub format: String,
    /// Version that wrote the file.
    pub keras_version: String,
    /// Input shape `[H, W, C]`.
    pub input_shape: Vec<usize>,
    /// Path of the float32 NHWC input batch.
    pub input: String,
    /// How the inputs were drawn.
    pub input_distribution: String,
    /// Preprocessing (the inputs are fed as they are).
    pub preprocessing: String,
    /// Parameter count.
    pub param_count: u64,
    /// Trainable part of `param_count`.
    pub trainable_param_count: u64,
    /// Non-trainable part of `param_count`.
    pub non_trainable_param_count: u64,
    /// `softmax`, `sigmoid` or `linear`.
    pub head: String,
    /// Output units.
    pub num_outputs: usize,
    /// Name of the output layer.
    pub output_layer: String,
    /// Path of the default target layer.
    pub target_layer: String,
    /// Its output shape.
    pub target_shape: Vec<usize>,
    /// Path of the early layer also explained.
    pub early_layer: String,
    /// Its output shape.
    pub early_shape: Vec<usize>,
    /// Path of the last convolution.
    pub last_conv_layer: String,
    /// Entries of the top-level config `layers` list.
    pub num_config_entries: u64,
    /// `class_name` counts over all config entries.
    pub layer_class_counts: BTreeMap<String, u64>,
    /// Folder of the references used (`k3` or `k2`).
    pub references_from: String,
    /// Output difference after reloading with the writing library.
    pub reload_max_abs_output_diff: f64,
    /// What the model covers.
    pub covers: String,
    /// The submodel route's agreement with the references.
    pub submodel_check: SubmodelCheck,
    /// Cross-library checks.
    pub checks: FixtureChecks,
    /// One entry per image of the input batch.
    pub images: Vec<FixtureImage>,
}

/// One image of a fixture batch with TensorFlow's outputs.
#[derive(Debug, Clone, Deserialize)]
pub struct FixtureImage {
    /// `img<i>`.
    pub name: String,
    /// Its index in the input batch.
    pub batch_index: usize,
    /// Pre-activation logits.
    pub logits: Vec<f32>,
    /// The model's output.
    pub probabilities: Vec<f32>,
    /// The predicted class.
    pub top_class: usize,
    /// Gap between the two largest logits.
    pub top2_logit_gap: f64,
    /// Top class and runner-up at the target, top class at the early layer.
    pub heatmaps: Vec<FixtureHeatmap>,
}

/// A reference heatmap of a fixture image.
#[derive(Debug, Clone, Deserialize)]
pub struct FixtureHeatmap {
    /// The explained class.
    pub class: usize,
    /// The layer whose activations were weighted.
    pub layer: String,
    /// Its score.
    pub score: f64,
    /// Path of the normalised heatmap (`.npy`).
    pub heatmap: String,
    /// `[h, w]`.
    pub heatmap_shape: [usize; 2],
    /// `max(cam)` before normalisation.
    pub heatmap_max_raw: f32,
}

/// The folder `tests/fixtures/<name>/` and its `manifest.json`, untyped.
///
/// # Panics
/// When the manifest is missing or not JSON: the message names the `generate.py` that makes it.
pub fn fixture_set(name: &str) -> (std::path::PathBuf, serde_json::Value) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run tests/fixtures/{name}/generate.py)",
            path.display()
        )
    });
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (dir, value)
}

/// A JSON list of numbers as `f32`s.
///
/// # Panics
/// When `v` is not a list of numbers.
pub fn floats(v: &serde_json::Value) -> Vec<f32> {
    let list = v.as_array().expect("a list of numbers");
    list.iter()
        .map(|x| x.as_f64().expect("a number") as f32)
        .collect()
}
