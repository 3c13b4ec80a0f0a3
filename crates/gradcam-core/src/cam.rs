//! Class activation maps by autodiff: the target activation is the only tracked variable,
//! the score of each requested class is backpropagated to it, and a [`CamMethod`] turns
//! activations and gradients into a map.

use candle_core::{DType, Tensor};
use keras_import::NodeId;

use crate::error::{CamError, ErrorKind, Result};
use crate::forward::Forward;
use crate::network::{Network, Prediction};
use crate::ops::pool::global_avg_pool;
use crate::target::{default_target_layer_for, resolve_layer};

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

/// What to explain: the target layer (its full path; `None` = the default rule) and the
/// classes (empty = top-1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CamRequest {
    /// Full path of the target layer, or `None` for the default target layer of the explained
    /// output ([`crate::default_target_layer_for`]).
    pub layer: Option<String>,
    /// Classes to explain, one map each.
    pub targets: Vec<Target>,
}

/// One image's map for one class.
#[derive(Debug, Clone, PartialEq)]
pub struct CamResult {
    /// Normalised map in [0, 1], row-major `height × width` (all zeros when the raw map is 0).
    pub heatmap: Vec<f32>,
    /// Feature-map height.
    pub height: usize,
    /// Feature-map width.
    pub width: usize,
    /// The map before normalisation.
    pub raw_cam: Vec<f32>,
    /// Maximum of `raw_cam` (the normaliser).
    pub heatmap_max_raw: f32,
    /// Path of the target layer.
    pub target_layer: String,
    /// The explained class.
    pub class: usize,
    /// The explained score (logit, or −logit for class 0 of a one-unit sigmoid).
    pub score: f32,
    /// The image's logits.
    pub logits: Vec<f32>,
    /// The image's model output.
    pub probabilities: Vec<f32>,
}

/// A class-activation-map method: turns the target activations `A [N, h, w, k]` and the
/// gradients `dScore/dA` (same shape) into raw maps `[N, h, w]`.
pub trait CamMethod {
    /// Short name of the method (`grad-cam`, …).
    fn name(&self) -> &'static str;
    /// Raw maps `[N, h, w]`.
    fn maps(&self, activations: &Tensor, gradients: &Tensor) -> Result<Tensor>;
}

/// Grad-CAM: `ReLU(Σ_k mean_hw(G)_k · A_k)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GradCam;

/// `Σ_k weights_k · A_k` for per-image channel weights `[N, 1, 1, k]` (or any shape that
/// broadcasts to it), as one batched product `[N, h·w, k] · [N, k, 1]`: candle's reductions
/// over the channel axis take several times longer.
pub fn weighted_channel_sum(activations: &Tensor, weights: &Tensor) -> Result<Tensor> {
    let (n, h, w, k) = activations.dims4()?;
    let weights = weights.broadcast_as((n, 1, 1, k))?.reshape((n, k, 1))?;
    let sums = activations.reshape((n, h * w, k))?.matmul(&weights)?;
    Ok(sums.reshape((n, h, w))?)
}

impl CamMethod for GradCam {
    fn name(&self) -> &'static str {
        "grad-cam"
    }

    fn maps(&self, activations: &Tensor, gradients: &Tensor) -> Result<Tensor> {
        let alpha = global_avg_pool(gradients, true)?;
        Ok(weighted_channel_sum(activations, &alpha)?.relu()?)
    }
}

/// Normalises one raw map: divide by its maximum, or all zeros when the maximum is ≤ 0.
fn normalise(raw: &[f32]) -> Result<(Vec<f32>, f32)> {
    if raw.iter().any(|v| !v.is_finite()) {
        return Err(CamError::new(
            ErrorKind::NonFinite,
            "the class activation map contains NaN or Inf",
        ));
    }
    let max = raw.iter().copied().fold(0f32, f32::max);
    if max > 0.0 {
        Ok((raw.iter().map(|v| v / max).collect(), max))
    } else {
        Ok((vec![0.0; raw.len()], max))
    }
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

    /// Like [`Network::grad_cam`] with any [`CamMethod`]. One forward pass for the batch;
    /// one backward pass per target, of the sum over images of each image's score (images
    /// are independent, so each gets its own gradient).
    pub fn cam_with(
        &self,
        method: &dyn CamMethod,
        batch: &[f32],
        n: usize,
        request: &CamRequest,
    ) -> Result<Vec<Vec<CamResult>>> {
        let (target_id, target_path) = self.target_layer(request)?;
        let x = self.input_tensor(batch, n)?;
        let fwd = self.forward(&x, Some(target_id))?;
        let activations = target_activations(&fwd, &target_path)?;
        let (_, height, width, _) = activations.dims4()?;
        let predictions = self.predictions(&fwd)?;
        let targets = if request.targets.is_empty() {
            vec![Target::Rank(0)]
        } else {
            request.targets.clone()
        };
        let mut results: Vec<Vec<CamResult>> = vec![Vec::with_capacity(targets.len()); n];
        for target in &targets {
            let chosen = self.scores(*target, &predictions)?;
            let gradient = self.gradient(&fwd, &chosen, &target_path)?;
            let raw = method
                .maps(&activations.detach(), &gradient)?
                .to_dtype(DType::F32)?
                .flatten_all()?
                .to_vec1::<f32>()?;
            let per_map = height * width;
            for (i, (score, p)) in chosen.into_iter().zip(&predictions).enumerate() {
                let raw_cam = raw[i * per_map..(i + 1) * per_map].to_vec();
                let (heatmap, heatmap_max_raw) =
                    normalise(&raw_cam).map_err(|e| e.in_layer(&target_path))?;
                results[i].push(CamResult {
                    heatmap,
                    height,
                    width,
                    raw_cam,
                    heatmap_max_raw,
                    target_layer: target_path.clone(),
                    class: score.class,
                    score: score.value,
                    logits: p.logits.clone(),
                    probabilities: p.probabilities.clone(),
                });
            }
        }
        Ok(results)
    }

    /// The requested (or default) target layer, which the output must depend on.
    fn target_layer(&self, request: &CamRequest) -> Result<(NodeId, String)> {
        let graph = self.graph();
        let target_id = match &request.layer {
            Some(path) => resolve_layer(graph, path)?,
            None => default_target_layer_for(graph, self.head.output_node)?,
        };
        let target_path = graph.nodes[target_id].path.clone();
        if !self.output_depends_on(target_id) {
            return Err(CamError::at(
                ErrorKind::InvalidInput,
                &target_path,
                "the model output does not depend on this layer",
            ));
        }
        Ok((target_id, target_path))
    }

    /// Each image's class for `target`, with the logit unit, sign and value of its score.
    fn scores(&self, target: Target, predictions: &[Prediction]) -> Result<Vec<Score>> {
        predictions
            .iter()
            .map(|p| {
                let k = p.logits.len();
                let classes = self.head.num_classes(k);
                let class = match target {
                    Target::Class(c) if c < classes => c,
                    Target::Class(c) => {
                        return Err(CamError::new(
                            ErrorKind::InvalidInput,
                            format!("class {c} does not exist (the model has {classes} classes)"),
                        ))
                    }
                    Target::Rank(r) => *self.head.ranking(&p.logits).get(r).ok_or_else(|| {
                        CamError::new(
                            ErrorKind::InvalidInput,
                            format!("rank {r} exceeds the {classes} classes"),
                        )
                    })?,
                };
                let (unit, sign) = self.head.score_unit(class, k);
                Ok(Score {
                    class,
                    unit,
                    sign,
                    value: sign * p.logits[unit],
                })
            })
            .collect()
    }

    /// The gradient of the sum of the images' scores with respect to the target activation.
    fn gradient(&self, fwd: &Forward, scores: &[Score], target_path: &str) -> Result<Tensor> {
        let (n, k) = fwd.logits.dims2()?;
        let mut select = vec![0f32; n * k];
        for (i, s) in scores.iter().enumerate() {
            select[i * k + s.unit] = s.sign;
        }
        let select = Tensor::from_vec(select, (n, k), self.device())?;
        let score = fwd.logits.mul(&select)?.sum_all()?;
        let grads = score.backward()?;
        let activations = target_activations(fwd, target_path)?;
        grads.get(activations).cloned().ok_or_else(|| {
            CamError::at(
                ErrorKind::MissingGradient,
                target_path,
                "backpropagation did not reach the target layer",
            )
        })
    }
}

/// One image's score for one target.
struct Score {
    /// The explained class.
    class: usize,
    /// The logit unit it reads.
    unit: usize,
    /// +1, or −1 for class 0 of a one-unit sigmoid.
    sign: f32,
    /// `sign · logit`.
    value: f32,
}

/// The tracked target activation of a forward pass, which must be a 4-D feature map.
fn target_activations<'a>(fwd: &'a Forward, target_path: &str) -> Result<&'a Tensor> {
    let var = fwd.target.as_ref().ok_or_else(|| {
        CamError::at(
            ErrorKind::InvalidInput,
            target_path,
            "the model output does not depend on this layer",
        )
    })?;
    let activations = var.as_tensor();
    if activations.rank() != 4 {
        return Err(CamError::at(
            ErrorKind::InvalidInput,
            target_path,
            format!(
                "output {:?} is not a 4-D feature map (N, H, W, C)",
                activations.dims()
            ),
        ));
    }
    Ok(activations)
}
