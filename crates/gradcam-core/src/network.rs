//! The executor: a graph's layers prepared on a candle device, run in topological order on
//! NHWC batches. Values are dropped as soon as their last consumer has run.

use candle_core::{DType, Device, Tensor, Var};
use keras_import::{Activation, Graph, Node, NodeId, Op};

use crate::cpu;
use crate::error::{CamError, ErrorKind, Result};
use crate::eval::{evaluate, evaluate_after_expansion, ExpansionStep, Fusion};
use crate::fold::{self, Folding};
use crate::head::{find_head, Head, HeadInfo};
use crate::ops::activation;
use crate::prepare::{arrange_panels, prepare, Layer};
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

/// Per-pass marks of nodes whose work another node did.
struct Marks {
    /// Expansion convolutions left to the depthwise convolution that reads them.
    deferred: Vec<bool>,
    /// Residual sums finished by the convolution that feeds them.
    summed: Vec<bool>,
}

/// A model ready to run on a device.
pub struct Network {
    device: Device,
    /// The graph's structure (weights stripped: they live in `layers`).
    skeleton: Graph,
    layers: Vec<Layer>,
    folding: Folding,
    needed: Vec<bool>,
    last_use: Vec<usize>,
    input: NodeId,
    input_shape: Vec<Option<usize>>,
    head: HeadInfo,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network")
            .field("nodes", &self.skeleton.nodes.len())
            .field("input_shape", &self.input_shape)
            .field("head", &self.head)
            .field(
                "folded_batch_norms",
                &self.folding.into.iter().filter(|i| i.is_some()).count(),
            )
            .field(
                "fused_expansions",
                &self
                    .folding
                    .expansion
                    .iter()
                    .filter(|e| e.is_some())
                    .count(),
            )
            .field(
                "fused_residual_sums",
                &self.folding.residual.iter().filter(|r| r.is_some()).count(),
            )
            .field(
                "kernels_as_panels",
                &self
                    .layers
                    .iter()
                    .filter(|l| matches!(l, Layer::Conv { arranged: true, .. }))
                    .count(),
            )
            .field("device", &self.device)
            .finish()
    }
}

/// What a forward pass hands back.
pub(crate) struct Forward {
    /// Logits `[N, K]`.
    pub logits: Tensor,
    /// Model output `[N, K]`.
    pub output: Tensor,
    /// The target activation as the only tracked variable, when one was requested.
    pub target: Option<Var>,
}

fn invalid(msg: String) -> CamError {
    CamError::new(ErrorKind::InvalidInput, msg)
}

/// `(x − x)` sums to exactly 0 iff every element is finite.
fn all_finite(t: &Tensor) -> Result<bool> {
    let z = t.detach().sub(&t.detach())?.sum_all()?.to_scalar::<f32>()?;
    Ok(z == 0.0)
}

/// Checks what the executor needs of a graph's structure: one non-scalar input, nodes in
/// topological order. Returns the input node and its shape.
fn check_structure(graph: &Graph) -> Result<(NodeId, Vec<Option<usize>>)> {
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
    Ok((input, input_shape))
}

impl Network {
    /// Prepares `graph` on `device`: converts every weight once to executor layout, checks
    /// weights for NaN/Inf, and folds BatchNormalization into the preceding convolutions.
    pub fn load(graph: &Graph, device: &Device) -> Result<Network> {
        let input = check_structure(graph)?;
        let layers = graph
            .nodes
            .iter()
            .map(|n| prepare(graph, n, device).map_err(|e| e.in_layer(&n.path)))
            .collect::<Result<Vec<_>>>()?;
        Network::assemble(graph, device, layers, input)
    }

    /// Like [`Network::load`], but frees each weight's values in `graph` as soon as the last
    /// layer reading it is prepared, so that the weights are never held twice (peak memory).
    /// The graph keeps its structure and weight shapes; it can no longer be loaded again.
    pub fn load_releasing(graph: &mut Graph, device: &Device) -> Result<Network> {
        let input = check_structure(graph)?;
        let mut last_reader = vec![None; graph.weights.len()];
        for (id, node) in graph.nodes.iter().enumerate() {
            for &w in &node.weights {
                if let Some(slot) = last_reader.get_mut(w) {
                    *slot = Some(id);
                }
            }
        }
        let mut layers = Vec::with_capacity(graph.nodes.len());
        for id in 0..graph.nodes.len() {
            let node = &graph.nodes[id];
            layers.push(prepare(graph, node, device).map_err(|e| e.in_layer(&node.path))?);
            let done: Vec<usize> = node
                .weights
                .iter()
                .copied()
                .filter(|&w| last_reader.get(w) == Some(&Some(id)))
                .collect();
            for w in done {
                graph.weights[w].data = Vec::new();
            }
        }
        Network::assemble(graph, device, layers, input)
    }

    /// Builds the network from prepared layers and the checked input (node, shape): folds,
    /// liveness, head.
    fn assemble(
        graph: &Graph,
        device: &Device,
        mut layers: Vec<Layer>,
        (input, input_shape): (NodeId, Vec<Option<usize>>),
    ) -> Result<Network> {
        let head = find_head(graph)?;
        let folding = fold::plan(graph, &mut layers, &[head.logits_node, head.output_node]);
        arrange_panels(&mut layers, |id| !folding.expansion_chain[id].is_empty())?;
        let needed = ancestors(graph, &[head.logits_node, head.output_node]);
        let mut last_use = vec![0usize; graph.nodes.len()];
        for (id, node) in graph.nodes.iter().enumerate().filter(|(id, _)| needed[*id]) {
            for &i in &node.inputs {
                last_use[i] = id;
            }
        }
        for keep in [head.logits_node, head.output_node] {
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
            layers,
            folding,
            needed,
            last_use,
            input,
            input_shape,
            head,
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

    /// Whether the model output depends on node `id`.
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

    /// Runs the graph on `x`; `target` (if any) becomes the only tracked variable.
    pub(crate) fn forward(&self, x: &Tensor, target: Option<NodeId>) -> Result<Forward> {
        match self.forward_checked(x, target, false) {
            Ok(f) if all_finite(&f.logits)? && all_finite(&f.output)? => Ok(f),
            Ok(_) => {
                // Rerun with a check after every node to name the first layer that goes bad.
                self.forward_checked(x, target, true)?;
                Err(CamError::new(
                    ErrorKind::NonFinite,
                    "the model output contains NaN or Inf",
                ))
            }
            Err(e) => Err(e),
        }
    }

    fn forward_checked(&self, x: &Tensor, target: Option<NodeId>, check: bool) -> Result<Forward> {
        let nodes = &self.skeleton.nodes;
        let mut values: Vec<Option<Tensor>> = vec![None; nodes.len()];
        let mut marks = Marks {
            deferred: vec![false; nodes.len()],
            summed: vec![false; nodes.len()],
        };
        let mut var = None;
        let mut logits = None;
        for (id, node) in nodes.iter().enumerate() {
            if !self.needed[id] && target != Some(id) {
                continue;
            }
            let (value, pre) = self
                .run_node(id, node, x, (&values, &mut marks), target)
                .map_err(|e| e.in_layer(&node.path))?;
            if id == self.head.logits_node {
                logits = Some(if self.head.fused { pre } else { value.clone() });
            }
            let value = if target == Some(id) {
                let v = Var::from_tensor(&value.detach())?;
                let t = v.as_tensor().clone();
                var = Some(v);
                t
            } else {
                value
            };
            if check && !all_finite(&value)? {
                return Err(CamError::at(
                    ErrorKind::NonFinite,
                    &node.path,
                    "the first NaN or Inf of the forward pass appears in this layer's output",
                ));
            }
            values[id] = Some(value);
            for &i in &node.inputs {
                if self.last_use[i] == id && target != Some(i) {
                    values[i] = None;
                }
            }
        }
        let take = |id: NodeId| -> Result<Tensor> {
            let t = values[id].clone().ok_or_else(|| {
                CamError::new(ErrorKind::InvalidGraph, "the output was not computed")
            })?;
            let n = t.dim(0)?;
            Ok(t.reshape((n, t.elem_count() / n.max(1)))?)
        };
        let logits = match logits {
            Some(l) => {
                let n = l.dim(0)?;
                l.reshape((n, l.elem_count() / n.max(1)))?
            }
            None => take(self.head.logits_node)?,
        };
        Ok(Forward {
            logits,
            output: take(self.head.output_node)?,
            target: var,
        })
    }

    /// Computes one node; returns its value and its value before the fused activation. An
    /// expansion convolution left to its depthwise convolution passes its input on instead
    /// (and is marked in `marks.deferred`); the layers between them pass it on as folded
    /// layers do. A convolution that finishes a residual sum returns the sum's value (and
    /// marks the sum in `marks.summed`, which then passes that value on).
    fn run_node(
        &self,
        id: NodeId,
        node: &Node,
        x: &Tensor,
        (values, marks): (&[Option<Tensor>], &mut Marks),
        target: Option<NodeId>,
    ) -> Result<(Tensor, Tensor)> {
        if id == self.input {
            return Ok((x.clone(), x.clone()));
        }
        if matches!(node.op, Op::Input) {
            return Err(CamError::new(
                ErrorKind::Unsupported,
                "a second model input",
            ));
        }
        let inputs = node
            .inputs
            .iter()
            .map(|&i| {
                values[i].clone().ok_or_else(|| {
                    CamError::new(
                        ErrorKind::InvalidGraph,
                        format!("input node {i} has no value"),
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?;
        // BatchNormalization or activation already applied by the convolution before it.
        let passed_through = match (self.folding.into[id], self.folding.activation_into[id]) {
            (Some(conv), _) => self.folding.batch_norm_applies(conv, target),
            (_, Some(conv)) => self.folding.activation_applies(conv, target).is_some(),
            _ => self.folding.pad_passes_through(id, target),
        };
        if passed_through || self.defers_expansion(id, &inputs[0], target)? {
            marks.deferred[id] = !passed_through;
            let v = inputs[0].clone();
            return Ok((v.clone(), v));
        }
        if let (true, Some(side)) = (marks.summed[id], self.folding.summed_side[id]) {
            let v = inputs[side].clone();
            return Ok((v.clone(), v));
        }
        let layer = self.folding.layer_for(id, &self.layers[id], target)?;
        if let Some(r) = self.folding.residual_applies(id, target) {
            let other = values[r.other].as_ref();
            if let Some(v) = self.finish_sum(id, &layer, &inputs[0], other, r.sum, target)? {
                marks.summed[r.sum] = true;
                return Ok((v.clone(), v));
            }
        }
        let e = match self.folding.expansion[id].filter(|&conv| marks.deferred[conv]) {
            Some(conv) => {
                let expand_layer = self.folding.layer_for(conv, &self.layers[conv], target)?;
                let expansion = ExpansionStep {
                    node: &self.skeleton.nodes[conv],
                    layer: &expand_layer,
                    fusion: self.fusion(conv, target),
                };
                evaluate_after_expansion(
                    &expansion,
                    node,
                    &layer,
                    &inputs[0],
                    self.fusion(id, target),
                )?
            }
            None => evaluate(node, &layer, &inputs, self.fusion(id, target))?,
        };
        let value = activation::apply(&e.pre, e.activation)?;
        Ok((value, e.pre))
    }

    /// Convolution `conv` (prepared `layer`) of `x`, plus `other` and the activation of the
    /// residual `sum` it finishes, in one CPU kernel; `None` when that kernel cannot run (the
    /// layers then run apart).
    fn finish_sum(
        &self,
        conv: NodeId,
        layer: &Layer,
        x: &Tensor,
        other: Option<&Tensor>,
        sum: NodeId,
        target: Option<NodeId>,
    ) -> Result<Option<Tensor>> {
        let (
            Some(other),
            Layer::Conv {
                win,
                kernel,
                kept,
                bias,
                grouped: false,
                ..
            },
        ) = (other, layer)
        else {
            return Ok(None);
        };
        let activation = self
            .folding
            .activation_applies(sum, target)
            .unwrap_or(Activation::Linear);
        let Some(epilogue) = cpu::Epilogue::of(activation) else {
            return Ok(None);
        };
        let pad = self.folding.pad_for(conv, target);
        cpu::conv2d(
            x,
            (kernel, bias.as_ref(), Some(kept)),
            win,
            pad,
            (Some(other), epilogue),
        )
    }

    /// How node `id` runs with `target`: the activation and padding folded into it, and
    /// whether the CPU kernels may apply its activation in place.
    fn fusion(&self, id: NodeId, target: Option<NodeId>) -> Fusion {
        Fusion {
            activation: self.folding.activation_applies(id, target),
            fast: id != self.head.logits_node,
            pad: self.folding.pad_for(id, target),
        }
    }

    /// Whether expansion convolution `id` (if it is one) is left to the depthwise convolution
    /// that reads it, for input `x` with `target`.
    fn defers_expansion(&self, id: NodeId, x: &Tensor, target: Option<NodeId>) -> Result<bool> {
        if !self.folding.expansion_may_defer(id, target) {
            return Ok(false);
        }
        let Layer::Conv {
            kernel,
            arranged: false,
            ..
        } = &self.layers[id]
        else {
            return Ok(false);
        };
        Ok(cpu::expansion_pays(x, kernel.dims2()?.1))
    }

    /// Classifies a batch of `n` NHWC images (`batch.len() == n·H·W·C`).
    pub fn predict(&self, batch: &[f32], n: usize) -> Result<Vec<Prediction>> {
        let x = self.input_tensor(batch, n)?;
        let f = self.forward(&x, None)?;
        self.predictions(&f)
    }

    /// Splits a forward pass into per-image predictions.
    pub(crate) fn predictions(&self, f: &Forward) -> Result<Vec<Prediction>> {
        let logits = f.logits.to_dtype(DType::F32)?.to_vec2::<f32>()?;
        let probs = f.output.to_dtype(DType::F32)?.to_vec2::<f32>()?;
        Ok(logits
            .into_iter()
            .zip(probs)
            .map(|(logits, probabilities)| {
                let top_class = self.ranking(&logits).first().copied().unwrap_or(0);
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
        if self.head.kind == Head::Sigmoid && logits_len == 1 {
            2
        } else {
            logits_len
        }
    }

    /// Classes from most to least likely (ties: lower index first).
    pub fn ranking(&self, logits: &[f32]) -> Vec<usize> {
        if self.head.kind == Head::Sigmoid && logits.len() == 1 {
            return if logits[0] >= 0.0 {
                vec![1, 0]
            } else {
                vec![0, 1]
            };
        }
        let mut order: Vec<usize> = (0..logits.len()).collect();
        order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
        order
    }

    /// The logit unit and sign whose product is the score of `class`.
    pub(crate) fn score_unit(&self, class: usize, logits_len: usize) -> (usize, f32) {
        if self.head.kind == Head::Sigmoid && logits_len == 1 {
            (0, if class == 1 { 1.0 } else { -1.0 })
        } else {
            (class, 1.0)
        }
    }
}
