//! The executor: a graph's layers prepared on a candle device, the fusions found once, and a
//! plan per set of Grad-CAM targets (see [`crate::plan`]).

use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use keras_import::{Graph, NodeId};

use crate::error::{CamError, ErrorKind, Result};
use crate::head::{find_head_for, resolve_output, HeadInfo, OutputChoice};
use crate::layers::conv::Conv2d;
use crate::layers::{self, Kernel};
use crate::plan::{Fusions, Plan, PlanCache, PlanInputs};
use crate::target::ancestors;

/// One image's classification.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Pre-activation logits of the output layer.
    pub logits: Vec<f32>,
    /// The model's real output (softmax/sigmoid probabilities, or the logits for a linear head).
    pub probabilities: Vec<f32>,
    /// Predicted class: argmax of the logits, or for one sigmoid unit 1 if logit ≥ 0 else 0.
    pub top_class: usize,
}

/// A model ready to run on a device.
pub struct Network {
    device: Device,
    /// The graph's structure (weights stripped: they live in `kernels`).
    pub(crate) skeleton: Graph,
    kernels: Vec<Arc<dyn Kernel>>,
    fusions: Fusions,
    plans: PlanCache,
    needed: Vec<bool>,
    /// For each node, the last node reading it (values are dropped after it).
    pub(crate) last_use: Vec<usize>,
    pub(crate) input: NodeId,
    input_shape: Vec<Option<usize>>,
    pub(crate) head: HeadInfo,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let panels = self
            .kernels
            .iter()
            .filter(|k| {
                let any: &dyn std::any::Any = k.as_ref();
                any.downcast_ref::<Conv2d>()
                    .is_some_and(|c| c.layout == crate::cpu::KernelLayout::Panels)
            })
            .count();
        let residuals = self.fusions.residuals.iter().flatten().count();
        f.debug_struct("Network")
            .field("nodes", &self.skeleton.nodes.len())
            .field("input_shape", &self.input_shape)
            .field("head", &self.head)
            .field("folded_batch_norms", &self.fusions.batch_norms.count())
            .field("fused_expansions", &self.fusions.expansions.count())
            .field("fused_residual_sums", &residuals)
            .field("kernels_as_panels", &panels)
            .field("device", &self.device)
            .finish()
    }
}

fn invalid(msg: String) -> CamError {
    CamError::new(ErrorKind::InvalidInput, msg)
}

/// The model's one input.
struct ModelInput {
    /// Its node.
    node: NodeId,
    /// Its shape without batch.
    shape: Vec<Option<usize>>,
}

/// Checks what the executor needs of a graph's structure: one non-scalar input, nodes in
/// topological order.
fn check_structure(graph: &Graph) -> Result<ModelInput> {
    let [input] = graph.inputs[..] else {
        return Err(CamError::new(
            ErrorKind::Unsupported,
            format!(
                "the model has {} inputs; exactly one image input is supported",
                graph.inputs.len()
            ),
        ));
    };
    let input_node = graph
        .nodes
        .get(input)
        .ok_or_else(|| CamError::new(ErrorKind::InvalidGraph, "input node does not exist"))?;
    let input_shape = input_node.output_shape.clone();
    if input_shape.is_empty() {
        return Err(CamError::at(
            ErrorKind::Unsupported,
            &input_node.path,
            "the model input is a scalar",
        ));
    }
    for (id, node) in graph.nodes.iter().enumerate() {
        if let Some(&bad) = node.inputs.iter().find(|&&i| i >= id) {
            return Err(CamError::at(
                ErrorKind::InvalidGraph,
                &node.path,
                format!("input node {bad} does not precede node {id}"),
            ));
        }
    }
    Ok(ModelInput {
        node: input,
        shape: input_shape,
    })
}

/// Prepares node `id`'s layer, naming the layer in an error.
fn prepare_node(graph: &Graph, id: NodeId, device: &Device) -> Result<Box<dyn Kernel>> {
    let node = &graph.nodes[id];
    layers::prepare(graph, node, device).map_err(|e| e.in_layer(&node.path))
}

impl Network {
    /// Prepares `graph` on `device`: converts every weight once to executor layout, checks
    /// weights for NaN/Inf, and finds the fusions (BatchNormalization folded into the
    /// preceding convolutions, …).
    /// Explains the model's first output ([`Network::load_with`] chooses another).
    pub fn load(graph: &Graph, device: &Device) -> Result<Network> {
        Network::load_with(graph, device, &OutputChoice::Index(0))
    }

    /// Like [`Network::load`], for the model output `output`: the head, the layers run and
    /// the default target layer are those of that output.
    pub fn load_with(graph: &Graph, device: &Device, output: &OutputChoice) -> Result<Network> {
        let output = resolve_output(graph, output)?;
        let input = check_structure(graph)?;
        let kernels = (0..graph.nodes.len())
            .map(|id| prepare_node(graph, id, device))
            .collect::<Result<Vec<_>>>()?;
        Network::assemble(graph, device, kernels, input, output)
    }

    /// Like [`Network::load`], but frees each weight's values in `graph` as soon as the last
    /// layer reading it is prepared, so that the weights are never held twice (peak memory).
    /// The graph keeps its structure and weight shapes; it can no longer be loaded again.
    pub fn load_releasing(graph: &mut Graph, device: &Device) -> Result<Network> {
        Network::load_releasing_with(graph, device, &OutputChoice::Index(0))
    }

    /// [`Network::load_releasing`] for the model output `output` (see [`Network::load_with`]).
    pub fn load_releasing_with(
        graph: &mut Graph,
        device: &Device,
        output: &OutputChoice,
    ) -> Result<Network> {
        let output = resolve_output(graph, output)?;
        let input = check_structure(graph)?;
        let mut last_reader = vec![None; graph.weights.len()];
        for (id, node) in graph.nodes.iter().enumerate() {
            for &w in &node.weights {
                if let Some(slot) = last_reader.get_mut(w) {
                    *slot = Some(id);
                }
            }
        }
        let mut kernels = Vec::with_capacity(graph.nodes.len());
        for id in 0..graph.nodes.len() {
            kernels.push(prepare_node(graph, id, device)?);
            let done: Vec<usize> = graph.nodes[id]
                .weights
                .iter()
                .copied()
                .filter(|&w| last_reader.get(w) == Some(&Some(id)))
                .collect();
            for w in done {
                graph.weights[w].data = Vec::new();
            }
        }
        Network::assemble(graph, device, kernels, input, output)
    }

    /// Builds the network from prepared kernels, the checked input and the chosen output
    /// node: fusions, liveness, head.
    fn assemble(
        graph: &Graph,
        device: &Device,
        mut kernels: Vec<Box<dyn Kernel>>,
        input: ModelInput,
        output: NodeId,
    ) -> Result<Network> {
        let head = find_head_for(graph, output)?;
        let outputs = [head.logits_node, head.output_node];
        let fusions = Fusions::find(graph, &mut kernels, &outputs)?;
        let needed = ancestors(graph, &outputs);
        let mut last_use = vec![0usize; graph.nodes.len()];
        for (id, node) in graph.nodes.iter().enumerate().filter(|(id, _)| needed[*id]) {
            for &i in &node.inputs {
                last_use[i] = id;
            }
        }
        for keep in outputs {
            last_use[keep] = usize::MAX;
        }
        let skeleton = Graph {
            nodes: graph.nodes.clone(),
            inputs: graph.inputs.clone(),
            outputs: graph.outputs.clone(),
            scopes: graph.scopes.clone(),
            weights: Vec::new(),
        };
        Ok(Network {
            device: device.clone(),
            skeleton,
            kernels: kernels.into_iter().map(Arc::from).collect(),
            fusions,
            plans: PlanCache::default(),
            needed,
            last_use,
            input: input.node,
            input_shape: input.shape,
            head,
        })
    }

    /// The plan for `targets`, built once per target set.
    pub(crate) fn plan(&self, targets: &[NodeId]) -> Result<Arc<Plan>> {
        self.plans.get(targets, |targets| {
            PlanInputs {
                graph: &self.skeleton,
                kernels: &self.kernels,
                fusions: &self.fusions,
                needed: &self.needed,
                input: self.input,
                logits: self.head.logits_node,
            }
            .plan(targets)
        })
    }

    /// Fixes the input height and width of an image model whose input size is free (e.g.
    /// MobileNetV3 with `(None, None, 3)`); fails if the model fixes a different size.
    pub fn with_input_size(mut self, height: usize, width: usize) -> Result<Network> {
        if self.input_shape.len() != 3 {
            return Err(invalid(format!(
                "the model input {:?} is not an image (H, W, C)",
                self.input_shape
            )));
        }
        for (dim, want) in [(0, height), (1, width)] {
            match self.input_shape[dim] {
                Some(have) if have != want => {
                    return Err(invalid(format!(
                        "the model input is {have} in axis {dim}, not {want}"
                    )))
                }
                _ => self.input_shape[dim] = Some(want),
            }
        }
        Ok(self)
    }

    /// Input shape without batch (`(H, W, C)` for an image model); `None` for a free dimension.
    pub fn input_shape(&self) -> &[Option<usize>] {
        &self.input_shape
    }

    /// The classifier head.
    pub fn head(&self) -> HeadInfo {
        self.head
    }

    /// The graph structure (without weight data).
    pub fn graph(&self) -> &Graph {
        &self.skeleton
    }

    /// The explained model output: its node.
    pub fn output_node(&self) -> NodeId {
        self.head.output_node
    }

    /// Whether the explained model output depends on node `id`.
    pub fn output_depends_on(&self, id: NodeId) -> bool {
        self.needed.get(id).copied().unwrap_or(false)
    }

    /// The device the network runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Uploads an NHWC batch of `n` images after checking its length and values.
    pub(crate) fn input_tensor(&self, batch: &[f32], n: usize) -> Result<Tensor> {
        let Some(dims) = self
            .input_shape
            .iter()
            .copied()
            .collect::<Option<Vec<usize>>>()
        else {
            return Err(invalid(
                "the model input size is free: call Network::with_input_size first".to_string(),
            ));
        };
        let per_image: usize = dims.iter().product();
        if n == 0 || batch.len() != n * per_image {
            return Err(invalid(format!(
                "batch holds {} values; {n} inputs of shape {dims:?} need {}",
                batch.len(),
                n * per_image
            )));
        }
        if let Some(i) = batch.iter().position(|v| !v.is_finite()) {
            return Err(CamError::new(
                ErrorKind::NonFinite,
                format!("input value {i} is {}", batch[i]),
            ));
        }
        let mut shape = vec![n];
        shape.extend(dims);
        Ok(Tensor::from_slice(batch, shape, &self.device)?)
    }

    /// Classifies a batch of `n` NHWC images (`batch.len() == n·H·W·C`).
    pub fn predict(&self, batch: &[f32], n: usize) -> Result<Vec<Prediction>> {
        let x = self.input_tensor(batch, n)?;
        let f = self.forward(&x, None)?;
        self.predictions(&f)
    }

    /// Splits a forward pass into per-image predictions.
    pub(crate) fn predictions(&self, f: &crate::forward::Forward) -> Result<Vec<Prediction>> {
        let logits = f.logits.to_dtype(DType::F32)?.to_vec2::<f32>()?;
        let probs = f.output.to_dtype(DType::F32)?.to_vec2::<f32>()?;
        Ok(logits
            .into_iter()
            .zip(probs)
            .map(|(logits, probabilities)| {
                let top_class = self.head.ranking(&logits).first().copied().unwrap_or(0);
                Prediction {
                    logits,
                    probabilities,
                    top_class,
                }
            })
            .collect())
    }

    /// Number of classes a target may name (2 for a one-unit sigmoid head).
    pub fn num_classes(&self, logits_len: usize) -> usize {
        self.head.num_classes(logits_len)
    }

    /// Classes from most to least likely (ties: lower index first).
    pub fn ranking(&self, logits: &[f32]) -> Vec<usize> {
        self.head.ranking(logits)
    }
}
