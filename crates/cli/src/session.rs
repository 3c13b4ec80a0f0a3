//! What every command needs from a model file: the graph, its backbone and preprocessing.

use std::path::Path;

use backbones::{Detection, Preprocessing};
use keras_import::Model;

use crate::args::PreprocessArg;
use crate::error::Result;

/// A loaded model with what kerascam recognised in it.
pub struct Session {
    /// The imported model.
    pub model: Model,
    /// The recognised keras.applications backbone, if any.
    pub backbone: Option<Detection>,
    /// The preprocessing `explain` applies.
    pub preprocessing: Preprocessing,
}

impl Session {
    /// Loads `path`, recognises the backbone and settles the preprocessing
    /// (`--preprocess auto` follows the backbone; any other value is forced).
    pub fn open(path: &Path, preprocess: PreprocessArg) -> Result<Session> {
        let model = keras_import::load_model(path)?;
        let backbone = backbones::detect(&model.graph);
        let preprocessing = match preprocess {
            PreprocessArg::Auto => backbones::choose_preprocessing(&model.graph, backbone.as_ref()),
            PreprocessArg::Caffe => Preprocessing::Caffe,
            PreprocessArg::Tf => Preprocessing::Tf,
            PreprocessArg::Torch => Preprocessing::Torch,
            PreprocessArg::None => Preprocessing::None,
            PreprocessArg::Unit => Preprocessing::Unit,
        };
        Ok(Session {
            model,
            backbone,
            preprocessing,
        })
    }

    /// The ImageNet class names when the model is a keras.applications network that kept its
    /// 1000-way top (the whole model is the application, or its head is untouched).
    pub fn imagenet_labels(&self, num_classes: usize) -> Option<Vec<String>> {
        let backbone = self.backbone.as_ref()?;
        (backbone.include_top && num_classes == 1000).then(crate::labels::imagenet)
    }
}
