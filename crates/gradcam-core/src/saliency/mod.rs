//! Pixel-level explanations: gradients of a class score with respect to the input image, at
//! the input's resolution.
//!
//! | method | name | definition (reference) |
//! | --- | --- | --- |
//! | [`Network::guided_backprop`] | `guided-backprop` | `∂s/∂x` with every ReLU's backward pass guided ([`guided_relu`]); pytorch-grad-cam 1.5.5 `guided_backprop.py::GuidedBackpropReLUModel` |
//! | [`Network::guided_grad_cam`] | `guided-gradcam` | guided backprop × the Grad-CAM heatmap resized to the input (bilinear, half-pixel centres); pytorch-grad-cam's usage example `cam.py` |
//! | [`Network::smooth_grad`] | `smoothgrad` | mean of `∂s/∂x̃` over noisy copies `x̃ = x + N(0, σ²)`, `σ = noise_level · (max x − min x)`; tf-keras-vis 0.8.7 `saliency.py::Saliency` with `smooth_samples` |
//!
//! The score `s` is the class's pre-activation logit, as for every CAM method. Each
//! [`PixelMap`] carries the attribution `[H, W, C]` and the map a user sees: tf-keras-vis'
//! saliency map, the maximum over channels of the absolute attribution (for SmoothGrad of the
//! mean absolute gradient, as tf-keras-vis averages `|∂s/∂x̃|`), divided by its maximum like
//! every kerascam heatmap (tf-keras-vis subtracts the minimum first). [`deprocess_image`] gives
//! pytorch-grad-cam's picture of an attribution instead.

mod display;
mod guided_backprop;
mod guided_grad_cam;
pub(crate) mod guided_relu;
mod smooth_grad;

use candle_core::{DType, Tensor};

pub use display::{deprocess_image, saliency_map};
pub use guided_backprop::NAME as GUIDED_BACKPROP;
pub use guided_grad_cam::NAME as GUIDED_GRAD_CAM;
pub use smooth_grad::{SmoothGradOptions, MAX_SAMPLES, NAME as SMOOTH_GRAD};

use crate::cam::{Score, Target};
use crate::error::{CamError, ErrorKind, Result};
use crate::forward::Forward;
use crate::network::{Network, Prediction};
use guided_relu::ReluBackward;

/// One image's pixel-level explanation of one class.
#[derive(Debug, Clone, PartialEq)]
pub struct PixelMap {
    /// The method's command-line name (`guided-backprop`, `guided-gradcam`, `smoothgrad`).
    pub method: &'static str,
    /// The attribution, row-major `height × width × channels` (an input gradient, or for
    /// Guided Grad-CAM its product with the upsampled heatmap).
    pub attribution: Vec<f32>,
    /// The map shown to a user, row-major `height × width`, in [0, 1] (see the module docs).
    pub heatmap: Vec<f32>,
    /// Input height.
    pub height: usize,
    /// Input width.
    pub width: usize,
    /// Input channels.
    pub channels: usize,
    /// The explained class.
    pub class: usize,
    /// The explained score (logit, or −logit for class 0 of a one-unit sigmoid).
    pub score: f32,
    /// The image's logits.
    pub logits: Vec<f32>,
    /// The image's model output.
    pub probabilities: Vec<f32>,
    /// The Grad-CAM layer for Guided Grad-CAM; `None` for the pure gradient methods.
    pub target_layer: Option<String>,
}

/// The explained targets, top-1 when none are named.
fn targets_or_top1(targets: &[Target]) -> Vec<Target> {
    if targets.is_empty() {
        vec![Target::Rank(0)]
    } else {
        targets.to_vec()
    }
}

/// Input gradients of one batch: its forward pass with the input tracked.
struct GradientPass {
    fwd: Forward,
    predictions: Vec<Prediction>,
    /// `[N, H, W, C]`.
    dims: [usize; 4],
}

impl Network {
    /// Runs `batch` (`n` NHWC images) with the input as the tracked variable, ReLUs sending
    /// gradients back by `rule`.
    fn gradient_pass(&self, batch: &[f32], n: usize, rule: ReluBackward) -> Result<GradientPass> {
        let x = self.input_tensor(batch, n)?;
        let (n, h, w, c) = x.dims4().map_err(|_| {
            CamError::new(
                ErrorKind::Unsupported,
                format!(
                    "pixel methods need an image input (H, W, C), not {:?}",
                    x.dims()
                ),
            )
        })?;
        let fwd = self.forward_with(&x, Some(self.input), rule)?;
        let predictions = self.predictions(&fwd)?;
        Ok(GradientPass {
            fwd,
            predictions,
            dims: [n, h, w, c],
        })
    }

    /// `∂(Σ_i score_i)/∂x` as host values `[N·H·W·C]`: images are independent, so each gets
    /// its own gradient.
    fn input_gradient(&self, pass: &GradientPass, scores: &[Score]) -> Result<Vec<f32>> {
        let (n, k) = pass.fwd.logits.dims2()?;
        let mut select = vec![0f32; n * k];
        for (i, s) in scores.iter().enumerate() {
            select[i * k + s.unit] = s.sign;
        }
        let select = Tensor::from_vec(select, (n, k), self.device())?;
        let score = pass.fwd.logits.mul(&select)?.sum_all()?;
        let grads = score.backward()?;
        let input = pass.fwd.target.as_ref().map(|v| v.as_tensor());
        let gradient = input
            .and_then(|x| grads.get(x))
            .ok_or_else(|| self.missing_input_gradient())?;
        Ok(gradient
            .to_dtype(DType::F32)?
            .flatten_all()?
            .to_vec1::<f32>()?)
    }

    /// Why no gradient reached the input: the first layer on the output's path that has none
    /// (a histogram equalisation, in TensorFlow too), when there is one.
    fn missing_input_gradient(&self) -> CamError {
        let graph = self.graph();
        let blocker = graph.nodes.iter().enumerate().find(|(id, node)| {
            self.output_depends_on(*id) && matches!(node.op, keras_import::Op::Clahe(_))
        });
        match blocker {
            Some((_, node)) => CamError::at(
                ErrorKind::MissingGradient,
                &node.path,
                format!(
                    "no gradient passes this {} (in TensorFlow neither), so none reaches the \
                     model input; the CAM methods, which need gradients only after their \
                     target layer, still work",
                    node.class_name
                ),
            ),
            None => CamError::new(
                ErrorKind::MissingGradient,
                "backpropagation did not reach the model input",
            ),
        }
    }
}

/// A [`PixelMap`] of image `prediction` for `score`, from its attribution `[H, W, C]` and the
/// values its display map is made of (the attribution itself except for SmoothGrad).
struct MapParts<'a> {
    method: &'static str,
    dims: [usize; 3],
    prediction: &'a Prediction,
    score: Score,
    target_layer: Option<String>,
}

impl MapParts<'_> {
    fn build(self, attribution: Vec<f32>, shown: &[f32]) -> Result<PixelMap> {
        let [height, width, channels] = self.dims;
        let heatmap = saliency_map(shown, channels)?;
        Ok(PixelMap {
            method: self.method,
            attribution,
            heatmap,
            height,
            width,
            channels,
            class: self.score.class,
            score: self.score.value,
            logits: self.prediction.logits.clone(),
            probabilities: self.prediction.probabilities.clone(),
            target_layer: self.target_layer,
        })
    }
}
