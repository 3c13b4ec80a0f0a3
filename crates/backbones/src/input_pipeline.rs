//! What a model does to the raw input before its first layer that computes features, in
//! words: the augmentation layers that are the identity at inference, the resampling layers,
//! and the rescaling or `preprocess_input` ops (with the keras.applications mode they amount
//! to), then the backbone or first layer, e.g. "RandomFlip, RandomRotation (identity at
//! inference) → TrueDivide, Subtract (tf preprocessing) → mobilenetv2_1.00_160
//! (MobileNetV2)".

use keras_import::{BinaryOp, Graph, Node, Op, Operand};

use crate::affine_chain::ChannelAffine;
use crate::detect::Detection;
use crate::preprocessing::Preprocessing;

/// What a group of input layers does at inference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageRole {
    /// Augmentation and other layers that pass values through unchanged at inference.
    Identity,
    /// Resizing and cropping: pixels move, values keep their 0–255 range.
    Resampling,
    /// Rescaling, normalisation or `preprocess_input` arithmetic (channel reordering included).
    Normalising,
}

/// Consecutive input layers of one role.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    /// What they do.
    pub role: StageRole,
    /// Their names as shown: the Keras class, or a TF-op layer's function (`math.truediv`).
    pub layers: Vec<String>,
}

/// The input layers of a model and how kerascam reads them.
#[derive(Debug, Clone, PartialEq)]
pub struct InputPipeline {
    /// The stages in order.
    pub stages: Vec<Stage>,
    /// The keras.applications `preprocess_input` mode the normalising ops compute, when they
    /// compute one of `caffe`, `tf`, `torch` exactly.
    pub mode: Option<Preprocessing>,
}

impl InputPipeline {
    /// Reads the input layers of `graph` (the region reachable from its inputs through
    /// pass-through and normalising layers only).
    pub fn of(graph: &Graph) -> InputPipeline {
        let region = input_region(graph);
        let mut stages: Vec<Stage> = Vec::new();
        let mut affine = ChannelAffine::default();
        for (id, node) in graph.nodes.iter().enumerate() {
            if !region[id] || matches!(node.op, Op::Input) {
                continue;
            }
            let Some(role) = role_of(&node.op) else {
                continue;
            };
            if role == StageRole::Normalising {
                affine.apply(graph, node);
            }
            let name = display_name(node);
            match stages.last_mut() {
                Some(stage) if stage.role == role => {
                    if !stage.layers.contains(&name) {
                        stage.layers.push(name);
                    }
                }
                _ => stages.push(Stage {
                    role,
                    layers: vec![name],
                }),
            }
        }
        let normalises = stages.iter().any(|s| s.role == StageRole::Normalising);
        InputPipeline {
            stages,
            mode: normalises.then(|| affine.mode()).flatten(),
        }
    }

    /// The pipeline in words, ending with the backbone (or the first computing layer).
    pub fn describe(&self, graph: &Graph, detection: Option<&Detection>) -> String {
        let mut parts: Vec<String> = self
            .stages
            .iter()
            .map(|stage| {
                let what = match (stage.role, self.mode) {
                    (StageRole::Identity, _) => "identity at inference".to_string(),
                    (StageRole::Resampling, _) => "resampling, values kept".to_string(),
                    (StageRole::Normalising, Some(mode)) => format!("{mode} preprocessing"),
                    (StageRole::Normalising, None) => "rescaling inside the model".to_string(),
                };
                format!("{} ({what})", stage.layers.join(", "))
            })
            .collect();
        parts.push(match detection {
            Some(d) => format!(
                "{} ({})",
                if d.scope.is_empty() {
                    "model"
                } else {
                    &d.scope
                },
                d.variant.as_deref().unwrap_or(d.family)
            ),
            None => first_computing(graph)
                .map(|n| format!("{} ({})", n.path, n.class_name))
                .unwrap_or_else(|| "no layer".to_string()),
        });
        parts.join(" → ")
    }
}

/// The role of an op in the input region, `None` for ops that end it.
fn role_of(op: &Op) -> Option<StageRole> {
    match op {
        Op::Input | Op::Identity => Some(StageRole::Identity),
        Op::Resize(_) | Op::CenterCrop { .. } => Some(StageRole::Resampling),
        Op::Slice { .. } | Op::Stack { .. } | Op::Concatenate { .. } => {
            Some(StageRole::Normalising)
        }
        op if is_normalising(op) => Some(StageRole::Normalising),
        _ => None,
    }
}

/// Whether `op` rescales or normalises values with constants from the config.
pub(crate) fn is_normalising(op: &Op) -> bool {
    /// The value range of raw pixels.
    const RAW: [f32; 2] = [0.0, 255.0];
    match op {
        Op::Rescaling { .. } | Op::Normalization { .. } | Op::ConstantBinary { .. } => true,
        // Layers that declare their input range as 0–255 take raw pixels.
        Op::AutoContrast { value_range } => *value_range == RAW,
        Op::Clahe(p) => p.value_range == RAW,
        Op::Binary { op, lhs, rhs } => {
            matches!(
                op,
                BinaryOp::Add | BinaryOp::Subtract | BinaryOp::Multiply | BinaryOp::Divide
            ) && (matches!(lhs, Operand::Scalar(_)) || matches!(rhs, Operand::Scalar(_)))
        }
        _ => false,
    }
}

/// Nodes reachable from the inputs through input-region ops only (every input of a node in
/// the region is in it). Nodes are in topological order, so one pass suffices.
fn input_region(graph: &Graph) -> Vec<bool> {
    let mut region = vec![false; graph.nodes.len()];
    for (id, node) in graph.nodes.iter().enumerate() {
        region[id] = graph.inputs.contains(&id)
            || (role_of(&node.op).is_some()
                && !node.inputs.is_empty()
                && node.inputs.iter().all(|&i| region.get(i) == Some(&true)));
    }
    region
}

/// The first node outside the input region that reads from it.
fn first_computing(graph: &Graph) -> Option<&Node> {
    let region = input_region(graph);
    graph.nodes.iter().enumerate().find_map(|(id, node)| {
        (!region[id] && node.inputs.iter().any(|&i| region.get(i) == Some(&true))).then_some(node)
    })
}

/// A node's name as shown: its class, or for a tf_keras TF-op layer the function its name
/// records (`tf.math.truediv_3` → `math.truediv`).
fn display_name(node: &Node) -> String {
    if matches!(node.class_name.as_str(), "TFOpLambda" | "SlicingOpLambda") {
        let name = node.name.strip_prefix("tf.").unwrap_or(&node.name);
        let base = match name.rsplit_once('_') {
            Some((base, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => base,
            _ => name,
        };
        return base.to_string();
    }
    node.class_name.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_graph::GraphBuilder;
    use keras_import::{Constant, SliceAxis};

    fn scalar(op: BinaryOp, k: f32) -> Op {
        Op::Binary {
            op,
            lhs: Operand::Input(0),
            rhs: Operand::Scalar(k),
        }
    }

    fn constant(op: BinaryOp, values: [f32; 3]) -> Op {
        Op::ConstantBinary {
            op,
            constant: Constant {
                shape: vec![3],
                values: values.to_vec(),
            },
            constant_first: false,
        }
    }

    fn chain(ops: Vec<(&str, Op)>) -> Graph {
        let mut b = GraphBuilder::new();
        let mut x = b.node("image", "InputLayer", Op::Input, 0, &[], 0);
        for (i, (class, op)) in ops.into_iter().enumerate() {
            x = b.node(&format!("n{i}"), class, op, 0, &[x], 0);
        }
        b.node("conv", "Conv2D", Op::Flatten, 0, &[x], 4);
        b.graph
    }

    #[test]
    fn tf_and_torch_are_recognised_from_their_constants() {
        let tf = chain(vec![
            ("RandomFlip", Op::Identity),
            ("TrueDivide", scalar(BinaryOp::Divide, 127.5)),
            ("Subtract", scalar(BinaryOp::Subtract, 1.0)),
        ]);
        let pipeline = InputPipeline::of(&tf);
        assert_eq!(pipeline.mode, Some(Preprocessing::Tf));
        assert_eq!(
            pipeline.describe(&tf, None),
            "RandomFlip (identity at inference) → TrueDivide, Subtract (tf preprocessing) → conv (Conv2D)"
        );
        let torch = chain(vec![
            ("TrueDivide", scalar(BinaryOp::Divide, 255.0)),
            ("Add", constant(BinaryOp::Add, [-0.485, -0.456, -0.406])),
            (
                "TrueDivide",
                constant(BinaryOp::Divide, [0.229, 0.224, 0.225]),
            ),
        ]);
        assert_eq!(InputPipeline::of(&torch).mode, Some(Preprocessing::Torch));
        let other = chain(vec![("Rescaling", scalar(BinaryOp::Divide, 255.0))]);
        let pipeline = InputPipeline::of(&other);
        assert_eq!(pipeline.mode, None);
        assert!(pipeline
            .describe(&other, None)
            .contains("(rescaling inside the model)"));
    }

    #[test]
    fn caffe_needs_the_channel_reversal_and_the_mean() {
        let reverse = Op::Slice {
            axes: vec![
                SliceAxis::ALL,
                SliceAxis::ALL,
                SliceAxis::ALL,
                SliceAxis::Range {
                    start: None,
                    stop: None,
                    step: -1,
                },
            ],
        };
        let mean = constant(BinaryOp::Add, [-103.939, -116.779, -123.68]);
        let caffe = chain(vec![
            ("SlicingOpLambda", reverse),
            ("TFOpLambda", mean.clone()),
        ]);
        assert_eq!(InputPipeline::of(&caffe).mode, Some(Preprocessing::Caffe));
        let unreversed = chain(vec![("Add", mean)]);
        assert_eq!(InputPipeline::of(&unreversed).mode, None);
    }

    #[test]
    fn tf_op_layers_show_their_function() {
        let mut b = GraphBuilder::new();
        let x = b.node("image", "InputLayer", Op::Input, 0, &[], 0);
        let d = b.node(
            "tf.math.truediv_3",
            "TFOpLambda",
            scalar(BinaryOp::Divide, 2.0),
            0,
            &[x],
            0,
        );
        assert_eq!(display_name(&b.graph.nodes[d]), "math.truediv");
        b.graph.nodes[d].name = "tf.__operators__.getitem".into();
        assert_eq!(display_name(&b.graph.nodes[d]), "__operators__.getitem");
    }
}
