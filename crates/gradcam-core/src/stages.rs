//! The stage layers (`--layer stages`): the last node of each spatial resolution from 1/4 to
//! 1/32 of what the network body sees, so that several resolutions can be fused without
//! knowing layer names.

use keras_import::{Graph, NodeId, Op};

use crate::error::{CamError, ErrorKind, Result};
use crate::target::ancestors;

/// The stage layers of output `output`: for each spatial resolution from 1/4 to 1/32 of the
/// resolution the network body sees (a height and width `2^s` times smaller, `s = 2…5`, up to
/// rounding), the last node in topological order with that resolution on which the output
/// depends (InputLayers never count), finest first.
///
/// The body's resolution is that of the first input of the first convolution or pooling on
/// the output's path: the input, or what a Resizing or CenterCrop inside the model made of
/// it. A model whose input size is free (`(None, None, C)`) needs `input_size`, the height
/// and width of the image it will run on. Fails with [`ErrorKind::NoFeatureMap`] when no
/// node qualifies.
pub fn stage_layers(
    graph: &Graph,
    output: NodeId,
    input_size: Option<(usize, usize)>,
) -> Result<Vec<NodeId>> {
    let shapes = shapes_for_stages(graph, input_size)?;
    let needed = ancestors(graph, &[output]);
    let hw = |id: NodeId| match shapes[id][..] {
        [Some(h), Some(w), _] => Some((h, w)),
        _ => None,
    };
    let body = graph
        .nodes
        .iter()
        .enumerate()
        .find(|(id, node)| needed[*id] && is_body_layer(&node.op))
        .and_then(|(_, node)| node.inputs.first().copied())
        .and_then(hw);
    let Some((height, width)) = body.or_else(|| graph.inputs.first().copied().and_then(hw)) else {
        return Err(CamError::new(
            ErrorKind::NoFeatureMap,
            "no convolution or pooling with a known input size feeds the model output",
        ));
    };
    let mut last = [None; 4];
    for (id, node) in graph.nodes.iter().enumerate() {
        if !needed[id] || matches!(node.op, Op::Input) {
            continue;
        }
        let Some((h, w)) = hw(id) else {
            continue;
        };
        if let Some(s) = stage_of(height, h).filter(|&s| stage_of(width, w) == Some(s)) {
            last[s - 2] = Some(id);
        }
    }
    let stages: Vec<NodeId> = last.into_iter().flatten().collect();
    if stages.is_empty() {
        return Err(CamError::new(
            ErrorKind::NoFeatureMap,
            format!(
                "no feature map at 1/4 to 1/32 of the {height}×{width} resolution the \
                 network sees feeds the model output"
            ),
        ));
    }
    Ok(stages)
}

/// Every node's output shape: the graph's own, or, when its input size is free, at
/// `input_size`.
fn shapes_for_stages(
    graph: &Graph,
    input_size: Option<(usize, usize)>,
) -> Result<Vec<keras_import::Shape>> {
    let input = graph.inputs.first().map(|&i| &graph.nodes[i].output_shape);
    let free = input.is_some_and(|s| s.len() == 3 && (s[0].is_none() || s[1].is_none()));
    match (free, input_size) {
        (false, _) => Ok(graph.nodes.iter().map(|n| n.output_shape.clone()).collect()),
        (true, Some((h, w))) => graph
            .shapes_at_input_size(h, w)
            .map_err(|e| CamError::new(ErrorKind::InvalidInput, e.message)),
        (true, None) => Err(CamError::new(
            ErrorKind::Unsupported,
            "the `stages` layers of a model whose input size is free need the image size",
        )),
    }
}

/// Layers whose input is the resolution the network body works at (the first of them on
/// the output's path).
fn is_body_layer(op: &Op) -> bool {
    matches!(
        op,
        Op::Conv2D(_)
            | Op::DepthwiseConv2D { .. }
            | Op::SeparableConv2D { .. }
            | Op::MaxPool2D(_)
            | Op::AvgPool2D(_)
    )
}

/// `s` in 2…5 when `size` is `full / 2^s` up to rounding (within a factor 2^0.3).
fn stage_of(full: usize, size: usize) -> Option<usize> {
    if size == 0 {
        return None;
    }
    let octaves = (full as f64 / size as f64).log2();
    let s = octaves.round();
    ((2.0..=5.0).contains(&s) && (octaves - s).abs() < 0.3).then_some(s as usize)
}

#[cfg(test)]
mod tests {
    use keras_import::{graph_from_config_json, Graph};

    use super::stage_layers;

    /// A Sequential model: `input` (batch shape), then `front` layers, then a body whose maps
    /// are 1/2 (a), 1/4 (b), 1/8 (p, c), 1/16 (q) of what it sees, then a Dense head.
    fn model(input: &str, front: &str) -> Graph {
        let json = format!(
            r#"{{"class_name": "Sequential", "config": {{"name": "s", "layers": [
            {{"class_name": "InputLayer", "config": {{"name": "in", "batch_shape": {input}}}}},
            {front}
            {{"class_name": "Conv2D", "config": {{"name": "a", "filters": 4, "kernel_size": [3, 3],
                "strides": [2, 2], "padding": "same"}}}},
            {{"class_name": "Conv2D", "config": {{"name": "b", "filters": 4, "kernel_size": [3, 3],
                "strides": [2, 2], "padding": "same"}}}},
            {{"class_name": "MaxPooling2D", "config": {{"name": "p", "pool_size": [2, 2]}}}},
            {{"class_name": "Conv2D", "config": {{"name": "c", "filters": 4, "kernel_size": [3, 3],
                "padding": "same"}}}},
            {{"class_name": "MaxPooling2D", "config": {{"name": "q", "pool_size": [2, 2]}}}},
            {{"class_name": "GlobalAveragePooling2D", "config": {{"name": "g"}}}},
            {{"class_name": "Dense", "config": {{"name": "d", "units": 3}}}}
        ]}}, "keras_version": "3.5.0"}}"#
        );
        graph_from_config_json(&json, "stages.json").expect("graph")
    }

    fn stage_names(g: &Graph, input_size: Option<(usize, usize)>) -> Vec<String> {
        let output = g.outputs[0];
        stage_layers(g, output, input_size)
            .expect("stages")
            .into_iter()
            .map(|id| g.nodes[id].path.clone())
            .collect()
    }

    #[test]
    fn a_fixed_size_model_has_a_stage_per_resolution() {
        let g = model("[null, 64, 64, 3]", "");
        assert_eq!(stage_names(&g, None), ["b", "c", "q"]);
    }

    #[test]
    fn a_free_size_model_takes_the_stages_of_the_image_size() {
        let g = model("[null, null, null, 3]", "");
        assert_eq!(stage_names(&g, Some((64, 64))), ["b", "c", "q"]);
        // Other sizes give the same fractions, so the same layers.
        assert_eq!(stage_names(&g, Some((128, 96))), ["b", "c", "q"]);
        let err = stage_layers(&g, g.outputs[0], None).unwrap_err();
        assert!(err.to_string().contains("image size"), "{err}");
    }

    #[test]
    fn a_model_that_resizes_inside_counts_from_the_resized_image() {
        let resize = r#"{"class_name": "Resizing", "config": {"name": "r", "height": 64,
            "width": 64, "interpolation": "bilinear"}},"#;
        let g = model("[null, null, null, 3]", resize);
        // The photo's own size (480×640) does not matter: the body sees 64×64.
        assert_eq!(stage_names(&g, Some((480, 640))), ["b", "c", "q"]);
        let g = model("[null, 300, 300, 3]", resize);
        assert_eq!(stage_names(&g, None), ["b", "c", "q"]);
    }

    #[test]
    fn an_image_too_small_for_the_body_is_an_error_naming_the_layer() {
        let g = model("[null, null, null, 3]", "");
        let err = stage_layers(&g, g.outputs[0], Some((4, 4))).unwrap_err();
        // a → 2×2, b → 1×1, and p cannot pool 1×1 by 2.
        assert!(err.to_string().contains("layer 'p'"), "{err}");
    }
}
