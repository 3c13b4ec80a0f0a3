//! Parsing a Keras model config (both the Keras 2 and the Keras 3 JSON dialects) into a tree
//! of [`ModelConfig`]s: one per (nested) model, layers in config order, calls resolved.

mod dialect;
pub(crate) mod fields;
mod inbound;
mod tree;

pub use dialect::Dialect;
pub use inbound::{CallArg, InboundCall, TensorRef};
pub(crate) use tree::PIPELINE;

use crate::error::{ErrorKind, ImportError, Result};

/// Deepest accepted nesting of models inside models.
pub const MAX_MODEL_NESTING: usize = 64;

/// One Keras model (outer or nested): its layers in config order.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    /// `config.name` of the model.
    pub name: String,
    /// `Functional`, `Sequential` or `Model`.
    pub class_name: String,
    /// Config `layers` entries in order, operation nodes and InputLayers included.
    pub layers: Vec<LayerConfig>,
    /// Whether the model is marked trainable.
    pub trainable: bool,
    /// The JSON dialect of the whole document.
    pub dialect: Dialect,
    /// `input_layers` of a Functional model (empty for Sequential).
    pub inputs: Vec<TensorRef>,
    /// `output_layers` of a Functional model (empty for Sequential).
    pub outputs: Vec<TensorRef>,
    /// Input shape without the batch axis recorded on the model itself (Sequential
    /// `build_input_shape` or `build_config.input_shape`), when any.
    pub build_input_shape: Option<Vec<Option<u64>>>,
}

/// One entry of a model's `layers` list.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerConfig {
    /// Layer name (may contain `/` in Keras 2 files).
    pub name: String,
    /// Keras class name (`Conv2D`, `Functional`, `Add`, `TFOpLambda`, ...).
    pub class_name: String,
    /// `module` when written (`keras.layers`, `keras.src.ops.numpy`, ...).
    pub module: Option<String>,
    /// `registered_name` when written (custom classes: `package>Class`).
    pub registered_name: Option<String>,
    /// True for Keras 3 operation nodes (`module` starting with `keras.src.ops`), which are
    /// not layers: they own no weights and are skipped when numbering weight groups.
    pub is_operation: bool,
    /// Whether the layer is marked trainable.
    pub trainable: bool,
    /// The nested model, when this entry is a Functional/Sequential/Model.
    pub nested: Option<Box<ModelConfig>>,
    /// The calls of this layer (`inbound_nodes`); empty in Sequential models and for inputs.
    pub calls: Vec<InboundCall>,
    /// The layer's `config` object (without `layers` for nested models), kept until the typed
    /// [`crate::ir::Op`] is parsed.
    pub config: serde_json::Value,
}

impl LayerConfig {
    /// The name used in messages: `module.Class` for operation nodes, the registered name of
    /// custom classes, else the class name.
    pub fn display_class(&self) -> String {
        match (&self.module, &self.registered_name) {
            (Some(module), _) if self.is_operation => format!("{module}.{}", self.class_name),
            (_, Some(registered)) if registered.contains('>') => registered.clone(),
            _ => self.class_name.clone(),
        }
    }
}

/// Parses a model description: a full `model.to_json()` / `config.json` object or the
/// `model_config` attribute of an `.h5` file, in either dialect.
///
/// Errors: [`ErrorKind::BadJson`] when the text is not JSON or not a model config,
/// [`ErrorKind::TooLarge`] when models nest deeper than [`MAX_MODEL_NESTING`].
pub fn parse_model_config(json: &str, file: &str) -> Result<ModelConfig> {
    let root: serde_json::Value = serde_json::from_str(json).map_err(|e| {
        ImportError::new(
            ErrorKind::BadJson,
            file,
            format!("the model config is not valid JSON: {e}"),
        )
    })?;
    let dialect = Dialect::detect(&root);
    tree::parse_root(&root, dialect, file)
}
