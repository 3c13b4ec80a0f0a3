//! Class activation maps, organised like pytorch-grad-cam's `base_cam.py`: this module runs
//! the pipeline (target layers, scores, gradients, smoothing, several layers), and each
//! method under [`methods`] only turns a [`CamContext`] into a [`Contribution`]. The
//! [`registry`] maps command-line names to methods.
//!
//! Per layer and class the pipeline computes the method's contribution, reduces it to a map
//! at the layer's resolution (`Σ_k`, or with `eigen_smooth` its first principal component,
//! [`projection`]), and applies a ReLU. One layer: the heatmap is that map normalised
//! ([`Normalize`]). Several layers ([`fusion`]): pytorch-grad-cam's `aggregate_multi_layers`.

mod context;
pub mod fusion;
mod method;
pub mod methods;
mod pipeline;
pub mod projection;
pub mod registry;
mod smoothing;

pub(crate) use context::Score;
pub use context::{CamContext, Progress, TailRunner};
pub use method::{weighted_channel_sum, CamMethod, Contribution};
pub use methods::GradCam;

use crate::error::Result;
use crate::network::Network;

/// Which class's score to explain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A fixed class index (0 or 1 for a one-unit sigmoid head).
    Class(usize),
    /// The class of the given rank per image: 0 = top-1, 1 = runner-up, …
    Rank(usize),
}

impl Target {
    /// The top-`k` classes of each image, best first.
    pub fn top_k(k: usize) -> Vec<Target> {
        (0..k).map(Target::Rank).collect()
    }
}

/// How a map becomes a heatmap in [0, 1].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Normalize {
    /// Divided by its maximum (all zeros when the maximum is ≤ 0), as kerascam always did.
    #[default]
    Max,
    /// pytorch-grad-cam's `scale_cam_image`: `(x − min) / (max(x − min) + 1e-7)`.
    MinMax,
}

/// The layer keyword that names the last node of each resolution from 1/4 to 1/32 of the
/// input ([`crate::stages::stage_layers`]).
pub const STAGES: &str = "stages";

/// What to explain: the target layers, the classes and the smoothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CamRequest {
    /// Full paths of the target layers (empty = the default target layer of the explained
    /// output, [`crate::default_target_layer_for`]); the entry [`STAGES`] stands for the
    /// stage layers. Several layers are fused ([`fusion`]).
    pub layers: Vec<String>,
    /// Classes to explain, one map each (empty = top-1).
    pub targets: Vec<Target>,
    /// pytorch-grad-cam's `aug_smooth`: the mean of six passes (horizontal flip × the
    /// model-ready input multiplied by 0.9, 1 and 1.1), each map flipped back.
    pub aug_smooth: bool,
    /// pytorch-grad-cam's `eigen_smooth`: the first principal component of the weighted
    /// activations instead of their channel sum.
    pub eigen_smooth: bool,
    /// How the map is normalised into the heatmap.
    pub normalize: Normalize,
}

impl CamRequest {
    /// A request for one layer (`None` = the default) and these classes.
    pub fn for_layer(layer: Option<String>, targets: Vec<Target>) -> CamRequest {
        CamRequest {
            layers: layer.into_iter().collect(),
            targets,
            ..CamRequest::default()
        }
    }
}

/// One image's map for one class.
#[derive(Debug, Clone, PartialEq)]
pub struct CamResult {
    /// Normalised map in [0, 1], row-major `height × width` (all zeros when the map is 0).
    pub heatmap: Vec<f32>,
    /// Map height: the target layer's (the finest layer's when several are fused).
    pub height: usize,
    /// Map width.
    pub width: usize,
    /// The map before normalisation (several layers: the mean of their min-max maps).
    pub raw_cam: Vec<f32>,
    /// Maximum of `raw_cam` (the normaliser of [`Normalize::Max`]).
    pub heatmap_max_raw: f32,
    /// Path of the target layer (the first of `layers`).
    pub target_layer: String,
    /// Paths of every target layer, as fused.
    pub layers: Vec<String>,
    /// The method's name ([`CamMethod::name`]).
    pub method: String,
    /// The explained class.
    pub class: usize,
    /// The explained score (logit, or −logit for class 0 of a one-unit sigmoid).
    pub score: f32,
    /// The image's logits.
    pub logits: Vec<f32>,
    /// The image's model output.
    pub probabilities: Vec<f32>,
}

impl Network {
    /// Grad-CAM for a batch of `n` NHWC images: per image, one [`CamResult`] per target.
    pub fn grad_cam(
        &self,
        batch: &[f32],
        n: usize,
        request: &CamRequest,
    ) -> Result<Vec<Vec<CamResult>>> {
        self.cam_with(&GradCam, batch, n, request)
    }

    /// Like [`Network::grad_cam`] with any [`CamMethod`]. Per target layer one forward pass
    /// for the batch and, for gradient methods, one backward pass per class (of the sum over
    /// images of each image's score: images are independent, so each gets its own
    /// gradient).
    pub fn cam_with(
        &self,
        method: &dyn CamMethod,
        batch: &[f32],
        n: usize,
        request: &CamRequest,
    ) -> Result<Vec<Vec<CamResult>>> {
        self.cam_with_progress(method, batch, n, request, &context::no_progress)
    }

    /// Like [`Network::cam_with`], reporting the passes of slow methods (Score-CAM,
    /// Ablation-CAM) to `progress` as `(done, total)` while they run.
    pub fn cam_with_progress(
        &self,
        method: &dyn CamMethod,
        batch: &[f32],
        n: usize,
        request: &CamRequest,
        progress: Progress<'_>,
    ) -> Result<Vec<Vec<CamResult>>> {
        let x = self.input_tensor(batch, n)?;
        pipeline::explain(self, method, &x, request, progress)
    }
}
