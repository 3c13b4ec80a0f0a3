//! The pipeline of [`super::CamMethod`]s (pytorch-grad-cam's `BaseCAM.forward` and
//! `compute_cam_per_layer`): per target layer one forward pass, per class the gradient
//! (when the method needs it), the method's contribution reduced to a ReLU'd map per image;
//! then the layers fused and the map normalised.

use candle_core::{DType, Tensor};
use keras_import::NodeId;

use super::context::{CamContext, Progress, Score};
use super::fusion::{self, Finished, Map};
use super::method::{channel_sum, weighted_channel_sum, CamMethod, Contribution};
use super::projection::project_maps;
use super::{smoothing, CamRequest, CamResult, Target};
use crate::error::{CamError, ErrorKind, Result};
use crate::forward::Forward;
use crate::network::{Network, Prediction};
use crate::stages::stage_layers;
use crate::target::{default_target_layer_for, resolve_layer};

/// A target layer: its node and path.
pub(crate) type Layer = (NodeId, String);

/// The method a pass runs and where it reports its progress.
pub(crate) type Method<'a> = (&'a dyn CamMethod, Progress<'a>);

/// How the classes of a pass are chosen.
pub(crate) enum Classes<'a> {
    /// From the pass's own predictions.
    Resolve(&'a [Target]),
    /// The classes (per target, per image) of an earlier pass.
    Fixed(&'a [Vec<Score>]),
}

/// One pass over every target layer.
pub(crate) struct Pass {
    /// Each image's prediction.
    pub predictions: Vec<Prediction>,
    /// Per target, per image: the score explained.
    pub scores: Vec<Vec<Score>>,
    /// Per target, per image: the finished map.
    pub finished: Vec<Vec<Finished>>,
}

/// Runs `method` on the model-ready batch `x` as `request` says.
pub(crate) fn explain(
    net: &Network,
    method: &dyn CamMethod,
    x: &Tensor,
    request: &CamRequest,
    progress: Progress<'_>,
) -> Result<Vec<Vec<CamResult>>> {
    // An image batch's height and width (a model without image input has none).
    let input_size = match *x.dims() {
        [_, height, width, _] => Some((height, width)),
        _ => None,
    };
    let layers = target_layers(net, &request.layers, input_size)?;
    let targets = if request.targets.is_empty() {
        vec![Target::Rank(0)]
    } else {
        request.targets.clone()
    };
    let plain = run_pass(
        net,
        (method, progress),
        x,
        &layers,
        Classes::Resolve(&targets),
        request,
    )?;
    let finished = if request.aug_smooth {
        smoothing::augmented(net, (method, progress), x, &layers, &plain, request)?
    } else {
        plain.finished
    };
    let paths: Vec<String> = layers.iter().map(|(_, p)| p.clone()).collect();
    let mut results: Vec<Vec<CamResult>> = vec![Vec::with_capacity(targets.len()); x.dim(0)?];
    for (scores, maps) in plain.scores.iter().zip(finished) {
        for (i, ((score, map), p)) in scores.iter().zip(maps).zip(&plain.predictions).enumerate() {
            results[i].push(CamResult {
                heatmap_max_raw: map.raw.data.iter().copied().fold(0f32, f32::max),
                heatmap: map.heatmap.data,
                height: map.heatmap.height,
                width: map.heatmap.width,
                raw_cam: map.raw.data,
                target_layer: paths[0].clone(),
                layers: paths.clone(),
                method: method.name().to_string(),
                class: score.class,
                score: score.value,
                logits: p.logits.clone(),
                probabilities: p.probabilities.clone(),
            });
        }
    }
    Ok(results)
}

/// Every target layer's maps for `x`, fused and normalised per target and image.
pub(crate) fn run_pass(
    net: &Network,
    method: Method<'_>,
    x: &Tensor,
    layers: &[Layer],
    classes: Classes<'_>,
    request: &CamRequest,
) -> Result<Pass> {
    let mut predictions = Vec::new();
    let mut scores = Vec::new();
    // Per layer, per target, per image.
    let mut per_layer: Vec<Vec<Vec<Map>>> = Vec::with_capacity(layers.len());
    for layer in layers {
        let (p, s, maps) = layer_maps(net, method, x, layer, &classes, request.eigen_smooth)
            .map_err(|e| e.in_layer(&layer.1))?;
        (predictions, scores) = (p, s);
        per_layer.push(maps);
    }
    let mut finished = Vec::with_capacity(scores.len());
    for t in 0..scores.len() {
        let per_image = (0..x.dim(0)?)
            .map(|i| {
                let maps = per_layer.iter().map(|l| l[t][i].clone()).collect();
                fusion::finish(maps, request.normalize)
            })
            .collect::<Result<Vec<_>>>();
        finished.push(per_image.map_err(|e| e.in_layer(&layers[0].1))?);
    }
    Ok(Pass {
        predictions,
        scores,
        finished,
    })
}

/// One layer's predictions, scores and maps (per target, per image).
type LayerMaps = (Vec<Prediction>, Vec<Vec<Score>>, Vec<Vec<Map>>);

fn layer_maps(
    net: &Network,
    (method, progress): Method<'_>,
    x: &Tensor,
    (target, path): &Layer,
    classes: &Classes<'_>,
    eigen_smooth: bool,
) -> Result<LayerMaps> {
    let fwd = net.forward(x, Some(*target))?;
    let activations = target_activations(&fwd, path)?;
    let predictions = net.predictions(&fwd)?;
    let scores = match classes {
        Classes::Resolve(targets) => targets
            .iter()
            .map(|t| net.scores(*t, &predictions))
            .collect::<Result<Vec<_>>>()?,
        Classes::Fixed(fixed) => fixed
            .iter()
            .map(|per_image| rescored(per_image, &predictions))
            .collect(),
    };
    let detached = activations.detach();
    let mut maps = Vec::with_capacity(scores.len());
    for chosen in &scores {
        let gradients = if method.needs_gradients() {
            Some(net.gradient(&fwd, chosen, path)?)
        } else {
            None
        };
        let ctx = CamContext {
            network: net,
            input: x,
            activations: &detached,
            gradients: gradients.as_ref(),
            target: *target,
            layer: path,
            scores: chosen,
            progress,
        };
        let contribution = method.contribution(&ctx)?;
        let relu = method.relu_map();
        maps.push(reduce(contribution, &detached, eigen_smooth, relu)?);
    }
    Ok((predictions, scores, maps))
}

/// The scores of an earlier pass's classes, read from this pass's logits.
fn rescored(scores: &[Score], predictions: &[Prediction]) -> Vec<Score> {
    scores
        .iter()
        .zip(predictions)
        .map(|(s, p)| Score {
            value: s.sign * p.logits[s.unit],
            ..*s
        })
        .collect()
}

/// A contribution as one map per image (ReLU'd when `relu`).
fn reduce(
    contribution: Contribution,
    activations: &Tensor,
    eigen_smooth: bool,
    relu: bool,
) -> Result<Vec<Map>> {
    let maps = match contribution {
        Contribution::ChannelWeights(w) => {
            let (n, k) = w.dims2()?;
            let w = w.reshape((n, 1, 1, k))?;
            if eigen_smooth {
                project_maps(&activations.broadcast_mul(&w)?)?
            } else {
                weighted_channel_sum(activations, &w)?
            }
        }
        Contribution::Elementwise(b) if eigen_smooth => project_maps(&b)?,
        Contribution::Elementwise(b) => channel_sum(&b)?,
        Contribution::Map(m) => m,
    };
    let (n, height, width) = maps.dims3()?;
    let maps = if relu { maps.relu()? } else { maps };
    let values = maps.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
    Ok((0..n)
        .map(|i| Map {
            data: values[i * height * width..(i + 1) * height * width].to_vec(),
            height,
            width,
        })
        .collect())
}

/// The requested target layers (none: the default; [`super::STAGES`]: the stage layers of
/// the network running on `input_size` images), each of which the output must depend on.
pub(crate) fn target_layers(
    net: &Network,
    requested: &[String],
    input_size: Option<(usize, usize)>,
) -> Result<Vec<Layer>> {
    let graph = net.graph();
    let mut ids = Vec::new();
    if requested.is_empty() {
        ids.push(default_target_layer_for(graph, net.head.output_node)?);
    }
    for path in requested {
        if path == super::STAGES && graph.node_by_path(path).is_none() {
            ids.extend(stage_layers(graph, net.head.output_node, input_size)?);
        } else {
            ids.push(resolve_layer(graph, path)?);
        }
    }
    let mut layers = Vec::with_capacity(ids.len());
    for id in ids {
        let path = graph.nodes[id].path.clone();
        if !net.output_depends_on(id) {
            return Err(CamError::at(
                ErrorKind::InvalidInput,
                &path,
                "the model output does not depend on this layer",
            ));
        }
        if !layers.iter().any(|(l, _)| *l == id) {
            layers.push((id, path));
        }
    }
    Ok(layers)
}

impl Network {
    /// Each image's class for `target`, with the logit unit, sign and value of its score.
    pub(crate) fn scores(&self, target: Target, predictions: &[Prediction]) -> Result<Vec<Score>> {
        predictions
            .iter()
            .map(|p| Score::resolve(&self.head, target, &p.logits))
            .collect()
    }

    /// The gradient of the sum of the images' scores with respect to the target activation.
    pub(crate) fn gradient(
        &self,
        fwd: &Forward,
        scores: &[Score],
        target_path: &str,
    ) -> Result<Tensor> {
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
