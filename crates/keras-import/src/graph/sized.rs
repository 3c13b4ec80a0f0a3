//! Shapes of a model whose input size is free (`(None, None, C)`), at one input size: the
//! importer's shape rules rerun over the graph with the first input's height and width fixed.

use super::shape::{check_size, fmt_shape, infer_shape, Broadcast};
use crate::error::{ErrorKind, ImportError, Result};
use crate::ir::{Graph, Op, Shape};

/// What an error names as the file: the graph is already in memory.
const SOURCE: &str = "<graph>";

impl Graph {
    /// The output shape of every node (by node id, without the batch axis) when the first
    /// input is `height × width` pixels. Inputs other than the first keep their shapes; a
    /// first input that fixes another size, or has no height and width, is an error.
    pub fn shapes_at_input_size(&self, height: usize, width: usize) -> Result<Vec<Shape>> {
        let first = self.inputs.first().copied();
        let mut shapes: Vec<Shape> = Vec::with_capacity(self.nodes.len());
        for (id, node) in self.nodes.iter().enumerate() {
            let shape = match node.op {
                Op::Input if Some(id) == first => sized_input(&node.output_shape, height, width)
                    .map_err(|m| error(&node.path, m))?,
                Op::Input => node.output_shape.clone(),
                _ => {
                    let inputs: Vec<&Shape> = node.inputs.iter().map(|&i| &shapes[i]).collect();
                    // The shapes of a run, not Keras' static report: an unknown dimension
                    // broadcast against a known one takes it, as at run time (the merge
                    // layers' rule differs only there).
                    infer_shape(&node.op, &inputs, Broadcast::Numpy).map_err(|e| {
                        let given: Vec<String> = inputs.iter().map(|s| fmt_shape(s)).collect();
                        ImportError::new(
                            e.kind,
                            SOURCE,
                            format!(
                                "layer '{}': {} at input {height}×{width}; input shapes: {}",
                                node.path,
                                e.message,
                                given.join(", ")
                            ),
                        )
                    })?
                }
            };
            shapes.push(shape);
        }
        Ok(shapes)
    }
}

/// The input shape `shape` (`[H, W, C]`) with its height and width set.
fn sized_input(shape: &Shape, height: usize, width: usize) -> std::result::Result<Shape, String> {
    let [h, w, c] = shape[..] else {
        return Err(format!("the input {} is not an image", fmt_shape(shape)));
    };
    for (have, want) in [(h, height), (w, width)] {
        if have.is_some_and(|have| have != want) {
            return Err(format!(
                "the input {} cannot take {height}×{width} pixels",
                fmt_shape(shape)
            ));
        }
    }
    let sized = vec![Some(height), Some(width), c];
    check_size(&sized).map_err(|e| e.message)?;
    Ok(sized)
}

/// An [`ErrorKind::InvalidGraph`] error at layer `path`.
fn error(path: &str, message: String) -> ImportError {
    ImportError::new(
        ErrorKind::InvalidGraph,
        SOURCE,
        format!("layer '{path}': {message}"),
    )
}

#[cfg(test)]
mod tests {
    use crate::graph_from_config_json;

    /// A free-size model: Conv2D stride 2 'same', MaxPool 2, Conv2D 'valid' 3×3.
    fn free_size() -> crate::ir::Graph {
        let json = r#"{"class_name": "Sequential", "config": {"name": "s", "layers": [
            {"class_name": "InputLayer", "config": {"name": "in", "batch_shape": [null, null, null, 3]}},
            {"class_name": "Conv2D", "config": {"name": "a", "filters": 4, "kernel_size": [3, 3],
                "strides": [2, 2], "padding": "same"}},
            {"class_name": "MaxPooling2D", "config": {"name": "p", "pool_size": [2, 2]}},
            {"class_name": "Conv2D", "config": {"name": "b", "filters": 5, "kernel_size": [3, 3]}}
        ]}, "keras_version": "3.5.0"}"#;
        graph_from_config_json(json, "free.json").expect("graph")
    }

    #[test]
    fn shapes_follow_the_input_size() {
        let g = free_size();
        assert_eq!(g.nodes[1].output_shape, vec![None, None, Some(4)]);
        let shapes = g.shapes_at_input_size(37, 64).expect("shapes");
        assert_eq!(shapes[1], vec![Some(19), Some(32), Some(4)]);
        assert_eq!(shapes[2], vec![Some(9), Some(16), Some(4)]);
        assert_eq!(shapes[3], vec![Some(7), Some(14), Some(5)]);
    }

    #[test]
    fn a_size_too_small_for_a_valid_window_is_an_error_naming_the_layer() {
        let err = free_size().shapes_at_input_size(4, 4).unwrap_err();
        assert!(err.message.contains("layer 'b'"), "{}", err.message);
    }
}
