//! Finds the classifier head: which node's value is the logits, and how scores are derived.

use keras_import::{Activation, Graph, NodeId, Op};

use crate::error::{CamError, ErrorKind, Result};

/// How the model turns logits into its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    /// Softmax over the logits: `score(c) = logits[c]`.
    Softmax,
    /// Sigmoid per unit; with one unit, score(1) = logit and score(0) = −logit.
    Sigmoid,
    /// No final squashing: the output is the logits.
    Linear,
}

/// Where the logits of the model are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadInfo {
    /// Kind of output squashing.
    pub kind: Head,
    /// Node whose value (pre-activation value when `fused`) is the logits.
    pub logits_node: NodeId,
    /// The model output node (its value is the model's real output, the probabilities).
    pub output_node: NodeId,
    /// True when the squashing is the output node's own fused activation (e.g.
    /// `Dense(activation="softmax")`), so the logits are that node's pre-activation value.
    pub fused: bool,
}

fn head_of(act: Activation) -> Option<Head> {
    match act {
        Activation::Softmax => Some(Head::Softmax),
        Activation::Sigmoid => Some(Head::Sigmoid),
        _ => None,
    }
}

/// Which model output to explain (the first is `Index(0)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputChoice {
    /// The output at this position of the model's output list.
    Index(usize),
    /// The output whose node path or layer name is this.
    Name(String),
}

impl OutputChoice {
    /// Reads a command-line value: a number is an index, anything else a name.
    pub fn parse(text: &str) -> OutputChoice {
        match text.parse::<usize>() {
            Ok(index) => OutputChoice::Index(index),
            Err(_) => OutputChoice::Name(text.to_string()),
        }
    }
}

/// Finds the output node `choice` names among `graph.outputs`; fails with
/// [`ErrorKind::UnknownOutput`] listing every output (index and path) when none matches.
pub fn resolve_output(graph: &Graph, choice: &OutputChoice) -> Result<NodeId> {
    let found = match choice {
        OutputChoice::Index(i) => graph.outputs.get(*i).copied(),
        OutputChoice::Name(name) => {
            let matches = |&&id: &&NodeId| {
                graph
                    .nodes
                    .get(id)
                    .is_some_and(|n| n.path == *name || n.name == *name)
            };
            graph.outputs.iter().find(matches).copied()
        }
    };
    found.ok_or_else(|| {
        let available: Vec<String> = graph
            .outputs
            .iter()
            .enumerate()
            .map(|(i, &id)| {
                let path = graph.nodes.get(id).map_or("?", |n| n.path.as_str());
                format!("{i} '{path}'")
            })
            .collect();
        let wanted = match choice {
            OutputChoice::Index(i) => format!("output {i}"),
            OutputChoice::Name(name) => format!("output '{name}'"),
        };
        let list = if available.is_empty() {
            "none".to_string()
        } else {
            available.join(", ")
        };
        CamError::new(
            ErrorKind::UnknownOutput,
            format!("the model has no {wanted}; its outputs are: {list}"),
        )
    })
}

/// Determines the head of `graph` from its first output (see [`find_head_for`]).
pub fn find_head(graph: &Graph) -> Result<HeadInfo> {
    find_head_for(graph, resolve_output(graph, &OutputChoice::Index(0))?)
}

/// Determines the head ending at the output node `output_node`: a final softmax/sigmoid
/// (fused into the output layer, an `Activation` layer or a `Softmax` layer) is stripped;
/// anything else is a linear head whose output is the logits.
pub fn find_head_for(graph: &Graph, output_node: NodeId) -> Result<HeadInfo> {
    let node = graph.nodes.get(output_node).ok_or_else(|| {
        CamError::new(
            ErrorKind::InvalidGraph,
            format!("output node {output_node} does not exist"),
        )
    })?;
    let fused = match &node.op {
        Op::Dense { activation, .. }
        | Op::Conv2D(keras_import::Conv2dParams { activation, .. }) => head_of(*activation),
        _ => None,
    };
    if let Some(kind) = fused {
        return Ok(HeadInfo {
            kind,
            logits_node: output_node,
            output_node,
            fused: true,
        });
    }
    let separate = match &node.op {
        Op::Activation(a) => head_of(*a),
        Op::Softmax { axis } if *axis == -1 || *axis == node.output_shape.len() as i64 => {
            Some(Head::Softmax)
        }
        _ => None,
    };
    match (separate, node.inputs.first()) {
        (Some(kind), Some(&input)) => Ok(HeadInfo {
            kind,
            logits_node: input,
            output_node,
            fused: false,
        }),
        _ => Ok(HeadInfo {
            kind: Head::Linear,
            logits_node: output_node,
            output_node,
            fused: false,
        }),
    }
}

/// The one place that says how a head's logits become class scores: one unit, sigmoid or
/// linear (a binary logit, as trained with `from_logits=True`), is two classes (0 scores the
/// negated logit, 1 the logit, probability `sigmoid(logit)`); any other head has one class per
/// logit (several sigmoid units are independent labels, each scored by its own logit).
impl HeadInfo {
    /// Whether `logits_len` logits of this head are one unit (sigmoid or linear) read as two
    /// classes.
    fn is_binary(&self, logits_len: usize) -> bool {
        matches!(self.kind, Head::Sigmoid | Head::Linear) && logits_len == 1
    }

    /// Number of classes a target may name for `logits_len` logits.
    pub fn num_classes(&self, logits_len: usize) -> usize {
        if self.is_binary(logits_len) {
            2
        } else {
            logits_len
        }
    }

    /// Classes from most to least likely (ties: lower index first).
    pub fn ranking(&self, logits: &[f32]) -> Vec<usize> {
        if self.is_binary(logits.len()) {
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
    pub fn score_unit(&self, class: usize, logits_len: usize) -> (usize, f32) {
        if self.is_binary(logits_len) {
            (0, if class == 1 { 1.0 } else { -1.0 })
        } else {
            (class, 1.0)
        }
    }

    /// Per-class probabilities from the model output: the output itself for softmax and
    /// sigmoid heads; for a one-unit sigmoid `[1 − p, p]`; for a one-unit linear logit `l`,
    /// `p = sigmoid(l)`; for several linear units (logits trained with `from_logits=True`,
    /// as TensorFlow's image classification tutorial does) their softmax.
    pub fn class_probabilities(&self, output: &[f32]) -> Vec<f32> {
        match (output, self.kind) {
            ([l], Head::Linear) => {
                let p = 1.0 / (1.0 + (-l).exp());
                vec![1.0 - p, p]
            }
            ([p], Head::Sigmoid) => vec![1.0 - p, *p],
            (logits, Head::Linear) => softmax(logits),
            _ => output.to_vec(),
        }
    }
}

/// `exp(x − max) / Σ exp(x − max)`, in f64 so that large logits neither overflow nor lose the
/// small classes.
fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let exps: Vec<f64> = logits.iter().map(|&l| (l as f64 - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.iter().map(|e| (e / sum) as f32).collect()
}
