//! The signature of every keras.applications variant in the conformance corpus: parameter
//! counts and structural evidence, generated from data (see [`crate::signatures_table`]).

use crate::preprocessing::Preprocessing;
pub use crate::signatures_table::{COLLISIONS, FAMILIES, NOT_COVERED, SIGNATURES};

/// One keras.applications model as built by one constructor call (one corpus `configs` entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signature {
    /// The corpus entry id (`k3_resnet50_notop`).
    pub id: &'static str,
    /// Keras major version whose `applications` built it (3, or 2 for tf_keras).
    pub keras_major: u8,
    /// The keras.applications module name (`resnet`, `mobilenet_v2`, `regnet` ...).
    pub family: &'static str,
    /// The constructor (`ResNet50`, `MobileNetV2` ...).
    pub constructor: &'static str,
    /// Constructor arguments beyond weights/include_top/input_shape (`alpha=0.35`), or `""`.
    pub args: &'static str,
    /// Whether the ImageNet classifier head is included.
    pub include_top: bool,
    /// Input shape without the batch axis (`None` = dynamic).
    pub input_shape: [Option<u32>; 3],
    /// `model.count_params()`.
    pub param_count: u64,
    /// Trainable share of `param_count`.
    pub trainable_param_count: u64,
    /// Non-trainable share of `param_count` (BatchNormalization moving statistics ...).
    pub non_trainable_param_count: u64,
    /// The mode `preprocess_input` of the family matched.
    pub preprocessing: Preprocessing,
    /// Name of the model's output layer; `{model}_` stands for the model name prefix.
    pub output_layer: &'static str,
    /// Layer names of this entry that no unrelated family uses (automatic names such as
    /// `conv2d_7` excluded); `{model}_` stands for the model name prefix.
    pub markers: &'static [&'static str],
    /// Number of layers of each evidence class (leaf layers, nested models included).
    pub class_counts: &'static [(&'static str, u32)],
}

impl Signature {
    /// Constructor and arguments, e.g. `MobileNetV2(alpha=0.35)` or `ResNet50`.
    pub fn variant(&self) -> String {
        if self.args.is_empty() {
            self.constructor.to_string()
        } else {
            format!("{}({})", self.constructor, self.args)
        }
    }
}

/// Facts shared by all variants of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FamilyInfo {
    /// The keras.applications module name.
    pub family: &'static str,
    /// Its preprocessing mode.
    pub preprocessing: Preprocessing,
    /// Classifier-head layer names found in every include_top model of the family and in none
    /// without the top (`{model}_` stands for the model name prefix).
    pub head_layers: &'static [&'static str],
}

/// The facts of `family`, if it is one of the corpus families.
pub fn family_info(family: &str) -> Option<&'static FamilyInfo> {
    FAMILIES.iter().find(|f| f.family == family)
}

/// Whether a layer name matches a signature name pattern: equal, or for a pattern
/// `{model}_rest`, a name `<prefix>_rest` with a non-empty prefix.
pub fn name_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_prefix("{model}") {
        Some(rest) => name.len() > rest.len() && name.ends_with(rest),
        None => pattern == name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_prefix_patterns() {
        assert!(name_matches("{model}_stem", "convnext_tiny_stem"));
        assert!(!name_matches("{model}_stem", "_stem"));
        assert!(name_matches("conv1", "conv1"));
        assert!(!name_matches("conv1", "xconv1"));
    }

    #[test]
    fn every_family_has_one_mode_and_the_table_agrees() {
        for s in SIGNATURES {
            let fam = family_info(s.family).map(|f| f.preprocessing);
            assert_eq!(fam, Some(s.preprocessing), "{}", s.id);
            assert_eq!(
                s.param_count,
                s.trainable_param_count + s.non_trainable_param_count
            );
        }
    }
}
