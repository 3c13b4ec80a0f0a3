//! The per-channel affine map a chain of normalising ops computes, and which
//! keras.applications `preprocess_input` mode it equals: each output channel `c` is
//! `scale[c] · x[source[c]] + offset[c]` of the raw RGB input.

use keras_import::{BinaryOp, Graph, Node, Op, Operand, SliceAxis};

use crate::preprocessing::Preprocessing;

/// ImageNet's mean pixel in BGR order (caffe mode).
const CAFFE_MEAN_BGR: [f64; 3] = [103.939, 116.779, 123.68];
/// ImageNet's RGB mean and standard deviation on `[0, 1]` (torch mode).
const TORCH_MEAN: [f64; 3] = [0.485, 0.456, 0.406];
const TORCH_STD: [f64; 3] = [0.229, 0.224, 0.225];

/// A per-channel affine map of a 3-channel input, or `None` once an op leaves that form.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ChannelAffine(Option<Map>);

#[derive(Debug, Clone, Copy, PartialEq)]
struct Map {
    source: [usize; 3],
    scale: [f64; 3],
    offset: [f64; 3],
}

impl Default for ChannelAffine {
    fn default() -> Self {
        ChannelAffine(Some(Map {
            source: [0, 1, 2],
            scale: [1.0; 3],
            offset: [0.0; 3],
        }))
    }
}

impl ChannelAffine {
    /// Composes the op of `node` (a node of the input region) after the map so far.
    pub(crate) fn apply(&mut self, graph: &Graph, node: &Node) {
        self.0 = self.0.and_then(|map| step(map, graph, node));
    }

    /// The mode the whole map equals, if any.
    pub(crate) fn mode(&self) -> Option<Preprocessing> {
        let map = self.0?;
        let close = |a: [f64; 3], b: [f64; 3]| {
            a.iter()
                .zip(b)
                .all(|(x, y)| (x - y).abs() <= 1e-5 * y.abs().max(1e-3))
        };
        let torch_scale = TORCH_STD.map(|s| 1.0 / (255.0 * s));
        let torch_offset = [0, 1, 2].map(|c| -TORCH_MEAN[c] / TORCH_STD[c]);
        if map.source == [2, 1, 0] && close(map.scale, [1.0; 3]) {
            close(map.offset, CAFFE_MEAN_BGR.map(|m| -m)).then_some(Preprocessing::Caffe)
        } else if map.source != [0, 1, 2] {
            None
        } else if close(map.scale, [1.0 / 127.5; 3]) && close(map.offset, [-1.0; 3]) {
            Some(Preprocessing::Tf)
        } else if close(map.scale, torch_scale) && close(map.offset, torch_offset) {
            Some(Preprocessing::Torch)
        } else {
            None
        }
    }
}

/// Per-channel values of a constant of 1 or 3 elements.
fn per_channel(values: &[f32]) -> Option<[f64; 3]> {
    match values {
        [v] => Some([f64::from(*v); 3]),
        [a, b, c] => Some([f64::from(*a), f64::from(*b), f64::from(*c)]),
        _ => None,
    }
}

fn arithmetic(map: Map, op: BinaryOp, k: [f64; 3], constant_first: bool) -> Option<Map> {
    let mut m = map;
    let channels = m.scale.iter_mut().zip(m.offset.iter_mut()).zip(k);
    for ((scale, offset), k) in channels {
        match (op, constant_first) {
            (BinaryOp::Add, _) => *offset += k,
            (BinaryOp::Subtract, false) => *offset -= k,
            (BinaryOp::Subtract, true) => {
                *scale = -*scale;
                *offset = k - *offset;
            }
            (BinaryOp::Multiply, _) => {
                *scale *= k;
                *offset *= k;
            }
            (BinaryOp::Divide, false) if k != 0.0 => {
                *scale /= k;
                *offset /= k;
            }
            _ => return None,
        }
    }
    Some(m)
}

/// The map after `node`.
fn step(map: Map, graph: &Graph, node: &Node) -> Option<Map> {
    match &node.op {
        Op::ConstantBinary {
            op,
            constant,
            constant_first,
        } => arithmetic(map, *op, per_channel(&constant.values)?, *constant_first),
        Op::Binary { op, lhs, rhs } => match (lhs, rhs) {
            (Operand::Input(_), Operand::Scalar(k)) => {
                arithmetic(map, *op, per_channel(&[*k])?, false)
            }
            (Operand::Scalar(k), Operand::Input(_)) => {
                arithmetic(map, *op, per_channel(&[*k])?, true)
            }
            _ => None,
        },
        Op::Rescaling { scale, offset } => {
            let m = arithmetic(map, BinaryOp::Multiply, per_channel(scale)?, false)?;
            arithmetic(m, BinaryOp::Add, per_channel(offset)?, false)
        }
        Op::Normalization {
            mean: Some(mean),
            variance: Some(variance),
            invert: false,
        } => {
            let m = arithmetic(map, BinaryOp::Subtract, per_channel(mean)?, false)?;
            let std = per_channel(variance)?.map(f64::sqrt);
            arithmetic(m, BinaryOp::Divide, std, false)
        }
        Op::Slice { axes } => match axes.last()? {
            SliceAxis::Range {
                start: None,
                stop: None,
                step: -1,
            } => Some(reorder(map, [2, 1, 0])),
            // The channels kept in order, or one taken out for a Stack or Concatenate to
            // put together again (which reorders them).
            _ => Some(map),
        },
        Op::Stack { .. } | Op::Concatenate { .. } => {
            let order = channel_order(graph, &node.inputs)?;
            Some(reorder(map, order))
        }
        _ => None,
    }
}

/// The channels a Stack or Concatenate of single-channel slices puts in order.
fn channel_order(graph: &Graph, inputs: &[usize]) -> Option<[usize; 3]> {
    let picks: Vec<usize> = inputs
        .iter()
        .map(|&i| match &graph.nodes.get(i)?.op {
            Op::Slice { axes } => match axes.last()? {
                SliceAxis::Index(c) => usize::try_from(c.rem_euclid(3)).ok(),
                range @ SliceAxis::Range { .. } => match range.positions(3)? {
                    (first, 1, _) => usize::try_from(first).ok(),
                    _ => None,
                },
                SliceAxis::NewAxis => None,
            },
            _ => None,
        })
        .collect::<Option<_>>()?;
    picks.try_into().ok()
}

fn reorder(map: Map, order: [usize; 3]) -> Map {
    Map {
        source: order.map(|c| map.source[c]),
        scale: order.map(|c| map.scale[c]),
        offset: order.map(|c| map.offset[c]),
    }
}
