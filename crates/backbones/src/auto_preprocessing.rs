//! Choosing the preprocessing for a model automatically.

use keras_import::{Graph, NodeId, Op};

use crate::input_pipeline::is_normalising;

use crate::detect::Detection;
use crate::preprocessing::Preprocessing;

/// The preprocessing a model expects, by these rules in order:
///
/// 1. `none` when the layers that first compute on the input (after InputLayers, identities
///    such as augmentation layers at inference, Resizing and CenterCrop, nested-model
///    boundaries included) all rescale or normalise it: `Rescaling`,
///    `Normalization`, AutoContrast or CLAHE on the value range 0–255, or arithmetic with a constant (`x / 127.5`, `x - 1`, as Keras 3 writes
///    `preprocess_input` inside a model). The model then normalises raw `[0, 255]` pixels
///    itself (`rescaling_cnn`, EfficientNet, MobileNetV3, ConvNeXt, RegNet).
/// 2. the detected backbone family's mode (`transfer_mobilenetv2_035`: `tf`).
/// 3. `unit` (`x / 255`) for a model without a recognised backbone (`tiny_*`).
pub fn choose_preprocessing(graph: &Graph, detection: Option<&Detection>) -> Preprocessing {
    if normalises_input(graph) {
        Preprocessing::None
    } else {
        detection.map_or(Preprocessing::Unit, |d| d.preprocessing)
    }
}

/// Whether every first computing layer after the model inputs rescales or normalises.
pub fn normalises_input(graph: &Graph) -> bool {
    let first = first_consumers(graph);
    !first.is_empty()
        && first.iter().all(|&n| {
            graph
                .nodes
                .get(n)
                .is_some_and(|node| is_normalising(&node.op))
        })
}

/// The nodes that first compute on the inputs, looking through pass-through nodes.
fn first_consumers(graph: &Graph) -> Vec<NodeId> {
    let consumers = graph.consumers();
    let mut seen = vec![false; graph.nodes.len()];
    let mut stack: Vec<NodeId> = graph
        .inputs
        .iter()
        .copied()
        .filter(|&i| i < graph.nodes.len())
        .collect();
    let mut first = Vec::new();
    while let Some(n) = stack.pop() {
        if std::mem::replace(&mut seen[n], true) {
            continue;
        }
        // Resampling and cropping move pixel values without rescaling them, so a model that
        // resizes its input and then normalises it still takes raw pixels.
        // Slicing, stacking and concatenation reorder channels (`preprocess_input`'s RGB to
        // BGR) without rescaling them either.
        let pass_through = matches!(
            graph.nodes[n].op,
            Op::Input
                | Op::Identity
                | Op::Resize(_)
                | Op::CenterCrop { .. }
                | Op::Slice { .. }
                | Op::Stack { .. }
                | Op::Concatenate { .. }
        );
        if pass_through {
            stack.extend(consumers[n].iter().copied());
        } else {
            first.push(n);
        }
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_graph::GraphBuilder;
    use keras_import::{BinaryOp, Operand};

    fn detection(preprocessing: Preprocessing) -> Detection {
        Detection {
            family: "resnet",
            variant: None,
            signature: None,
            scope: String::new(),
            nested: false,
            include_top: false,
            preprocessing,
            confidence: 1.0,
            evidence: Vec::new(),
        }
    }

    fn model(first: Op, nested: bool) -> keras_import::Graph {
        let mut b = GraphBuilder::new();
        let mut x = b.node("input", "InputLayer", Op::Input, 0, &[], 0);
        let mut scope = 0;
        if nested {
            scope = b.scope("backbone", 0);
            x = b.node("inner_input", "InputLayer", Op::Input, scope, &[x], 0);
        }
        let f = b.node("first", "Layer", first, scope, &[x], 0);
        b.node("conv", "Conv2D", Op::Identity, scope, &[f], 4);
        b.graph
    }

    fn rescaling() -> Op {
        Op::Rescaling {
            scale: vec![1.0 / 255.0],
            offset: vec![0.0],
        }
    }

    #[test]
    fn rescaling_first_means_none_even_inside_a_nested_model() {
        let caffe = detection(Preprocessing::Caffe);
        assert_eq!(
            choose_preprocessing(&model(rescaling(), false), Some(&caffe)),
            Preprocessing::None
        );
        assert_eq!(
            choose_preprocessing(&model(rescaling(), true), None),
            Preprocessing::None
        );
        let divide = Op::Binary {
            op: BinaryOp::Divide,
            lhs: Operand::Input(0),
            rhs: Operand::Scalar(127.5),
        };
        assert_eq!(
            choose_preprocessing(&model(divide, true), None),
            Preprocessing::None
        );
    }

    #[test]
    fn resizing_and_cropping_before_rescaling_still_mean_none() {
        let mut b = GraphBuilder::new();
        let x = b.node("input", "InputLayer", Op::Input, 0, &[], 0);
        let resize = Op::Resize(keras_import::ResizeParams {
            size: [256, 256],
            method: keras_import::ResizeMethod::Bilinear,
            antialias: false,
            fit: keras_import::AspectFit::Stretch,
        });
        let r = b.node("resize", "Resizing", resize, 0, &[x], 0);
        let crop = Op::CenterCrop { size: [224, 224] };
        let c = b.node("crop", "CenterCrop", crop, 0, &[r], 0);
        let s = b.node("rescale", "Rescaling", rescaling(), 0, &[c], 0);
        b.node("conv", "Conv2D", Op::Identity, 0, &[s], 4);
        let caffe = detection(Preprocessing::Caffe);
        assert_eq!(
            choose_preprocessing(&b.graph, Some(&caffe)),
            Preprocessing::None
        );
    }

    #[test]
    fn otherwise_the_family_mode_then_unit() {
        let g = model(Op::Flatten, false);
        let tf = detection(Preprocessing::Tf);
        assert_eq!(choose_preprocessing(&g, Some(&tf)), Preprocessing::Tf);
        assert_eq!(choose_preprocessing(&g, None), Preprocessing::Unit);
        assert_eq!(
            choose_preprocessing(&keras_import::Graph::default(), None),
            Preprocessing::Unit
        );
    }
}
