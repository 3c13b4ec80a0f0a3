//! Parsing a Keras model config (both the Keras 2 and the Keras 3 JSON dialects) into a tree
//! of [`ModelConfig`]s: one per (nested) model, layers in config order, calls resolved.

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
    /// True for Keras 3 operation nodes (`module` starting with `keras.src.ops`), which are
    /// not layers: they own no weights and are skipped when numbering weight groups.
    pub is_operation: bool,
    /// Whether the layer is marked trainable.
    pub trainable: bool,
    /// The nested model, when this entry is a Functional/Sequential/Model.
    pub nested: Option<Box<ModelConfig>>,
    /// The layer's `config` object, kept only until the typed [`crate::ir::Op`] is parsed.
    pub config: serde_json::Value,
}
