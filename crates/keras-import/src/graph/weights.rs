//! The variables each op needs (names, shapes and trainability, derived from the op and its
//! input shape by Keras' formulas) and their binding to stored tensors.

use super::shape::{fmt_shape, MAX_ELEMENTS};
use crate::config::Dialect;
use crate::error::{ErrorKind, ImportError, Result};
use crate::ir::{Graph, Op, Shape, Weight, WeightId};
use crate::weights::WeightStore;

/// One variable a layer owns, in Keras variable order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WeightSpec {
    /// Variable name (`kernel`, `moving_mean`, ...).
    pub var: &'static str,
    /// Required shape.
    pub shape: Vec<usize>,
    /// Whether the variable itself is trainable (BN moving statistics are not).
    pub trainable: bool,
}

fn spec(var: &'static str, shape: Vec<usize>, trainable: bool) -> WeightSpec {
    WeightSpec {
        var,
        shape,
        trainable,
    }
}

/// The variables of `op` applied to an input of shape `input`, in Keras order.
/// `Err` carries a message when a dimension the weights need is unknown.
pub(crate) fn weight_specs(
    op: &Op,
    input: Option<&Shape>,
    dialect: Dialect,
) -> std::result::Result<Vec<WeightSpec>, String> {
    let shape = input.cloned().unwrap_or_default();
    let dim = |axis: i64| -> std::result::Result<usize, String> {
        let index = if axis < 0 {
            shape.len() as i64 + axis
        } else {
            axis - 1
        };
        usize::try_from(index)
            .ok()
            .and_then(|i| shape.get(i).copied().flatten())
            .ok_or_else(|| {
                format!(
                    "the weights need a known axis {axis} of the input, got {}",
                    fmt_shape(&shape)
                )
            })
    };
    let bias = |use_bias: bool, n: usize| use_bias.then(|| spec("bias", vec![n], true));
    let specs: Vec<WeightSpec> = match op {
        Op::Conv2D(c) => {
            let kernel = vec![
                c.kernel[0],
                c.kernel[1],
                dim(-1)? / c.groups.max(1),
                c.filters,
            ];
            std::iter::once(spec("kernel", kernel, true))
                .chain(bias(c.use_bias, c.filters))
                .collect()
        }
        Op::DepthwiseConv2D {
            conv,
            depth_multiplier,
        } => {
            let name = match dialect {
                Dialect::Keras2 => "depthwise_kernel",
                Dialect::Keras3 => "kernel",
            };
            let kernel = vec![conv.kernel[0], conv.kernel[1], dim(-1)?, *depth_multiplier];
            std::iter::once(spec(name, kernel, true))
                .chain(bias(conv.use_bias, conv.filters))
                .collect()
        }
        Op::SeparableConv2D {
            conv,
            depth_multiplier,
        } => {
            let channels = dim(-1)?;
            vec![
                spec(
                    "depthwise_kernel",
                    vec![conv.kernel[0], conv.kernel[1], channels, *depth_multiplier],
                    true,
                ),
                spec(
                    "pointwise_kernel",
                    vec![1, 1, channels * depth_multiplier, conv.filters],
                    true,
                ),
            ]
            .into_iter()
            .chain(bias(conv.use_bias, conv.filters))
            .collect()
        }
        Op::Conv2DTranspose { conv, .. } => {
            let kernel = vec![conv.kernel[0], conv.kernel[1], conv.filters, dim(-1)?];
            std::iter::once(spec("kernel", kernel, true))
                .chain(bias(conv.use_bias, conv.filters))
                .collect()
        }
        Op::Dense {
            units, use_bias, ..
        } => std::iter::once(spec("kernel", vec![dim(-1)?, *units], true))
            .chain(bias(*use_bias, *units))
            .collect(),
        Op::BatchNorm {
            axis,
            center,
            scale,
            ..
        } => {
            let n = dim(*axis)?;
            [
                scale.then(|| spec("gamma", vec![n], true)),
                center.then(|| spec("beta", vec![n], true)),
                Some(spec("moving_mean", vec![n], false)),
                Some(spec("moving_variance", vec![n], false)),
            ]
            .into_iter()
            .flatten()
            .collect()
        }
        Op::LayerNorm {
            axes,
            center,
            scale,
            ..
        } => {
            let dims = axes
                .iter()
                .map(|&a| dim(a))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            [
                scale.then(|| spec("gamma", dims.clone(), true)),
                center.then(|| spec("beta", dims.clone(), true)),
            ]
            .into_iter()
            .flatten()
            .collect()
        }
        Op::PRelu { shared_axes } => {
            let mut alpha = Vec::with_capacity(shape.len());
            for (i, _) in shape.iter().enumerate() {
                let axis = i as i64 + 1;
                alpha.push(if shared_axes.contains(&axis) {
                    1
                } else {
                    dim(axis)?
                });
            }
            vec![spec("alpha", alpha, true)]
        }
        Op::Normalization { mean: None, .. } => {
            let n = dim(-1)?;
            vec![
                spec("mean", vec![n], false),
                spec("variance", vec![n], false),
                spec("count", Vec::new(), false),
            ]
        }
        Op::LayerScale => vec![spec("gamma", vec![dim(-1)?], true)],
        _ => Vec::new(),
    };
    Ok(specs)
}

fn element_count(shape: &[usize]) -> Option<u64> {
    shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .filter(|&n| n <= MAX_ELEMENTS)
}

fn fmt_dims(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    format!("({})", dims.join(", "))
}

/// Adds the weights of the layer at `path` to the graph: shapes from `specs`, data from
/// `store` (checked variable by variable) or empty without a store.
pub(crate) fn create_weights(
    graph: &mut Graph,
    file: &str,
    path: &str,
    specs: &[WeightSpec],
    layer_trainable: bool,
    store: Option<&WeightStore>,
) -> Result<Vec<WeightId>> {
    for s in specs {
        if element_count(&s.shape).is_none() {
            return Err(ImportError::new(
                ErrorKind::TooLarge,
                file,
                format!(
                    "layer '{path}': weight '{}' of shape {} has more than {MAX_ELEMENTS} elements",
                    s.var,
                    fmt_dims(&s.shape)
                ),
            ));
        }
    }
    let stored = match store {
        Some(store) if !specs.is_empty() => Some(stored_variables(store, file, path, specs)?),
        _ => None,
    };
    let mut ids = Vec::with_capacity(specs.len());
    for (i, s) in specs.iter().enumerate() {
        let data = stored
            .and_then(|vars| vars.get(i))
            .map(|t| t.data.clone())
            .unwrap_or_default();
        graph.weights.push(Weight {
            name: format!("{path}/{}", s.var),
            shape: s.shape.clone(),
            data,
            trainable: s.trainable && layer_trainable,
        });
        ids.push(graph.weights.len() - 1);
    }
    Ok(ids)
}

/// The stored variables of `path`, checked against `specs` (count, shapes, data length).
fn stored_variables<'a>(
    store: &'a WeightStore,
    file: &str,
    path: &str,
    specs: &[WeightSpec],
) -> Result<&'a [crate::weights::RawTensor]> {
    let mismatch = |message: String| {
        ImportError::new(
            ErrorKind::ShapeMismatch,
            file,
            format!("layer '{path}': {message}"),
        )
    };
    let expected: Vec<String> = specs
        .iter()
        .map(|s| format!("{} {}", s.var, fmt_dims(&s.shape)))
        .collect();
    let vars = store
        .by_layer
        .get(path)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if vars.len() != specs.len() {
        return Err(mismatch(format!(
            "needs {} variables [{}] but the file has {}",
            specs.len(),
            expected.join(", "),
            vars.len()
        )));
    }
    for (s, v) in specs.iter().zip(vars) {
        if v.shape != s.shape {
            return Err(mismatch(format!(
                "weight '{}' ({}) expected shape {}, found {}",
                s.var,
                v.name,
                fmt_dims(&s.shape),
                fmt_dims(&v.shape)
            )));
        }
        let count = element_count(&v.shape).unwrap_or(u64::MAX);
        if v.data.len() as u64 != count {
            return Err(mismatch(format!(
                "weight '{}' ({}) of shape {} holds {} values",
                s.var,
                v.name,
                fmt_dims(&v.shape),
                v.data.len()
            )));
        }
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Activation, Conv2dParams, Padding};
    use crate::weights::RawTensor;

    fn conv_op(groups: usize) -> Op {
        Op::Conv2D(Conv2dParams {
            filters: 8,
            kernel: [3, 3],
            strides: [1, 1],
            dilation: [1, 1],
            padding: Padding::Same,
            groups,
            use_bias: true,
            activation: Activation::Linear,
        })
    }

    #[test]
    fn conv_specs_follow_groups() {
        let x = vec![Some(5), Some(5), Some(4)];
        let specs = weight_specs(&conv_op(2), Some(&x), Dialect::Keras3).unwrap();
        assert_eq!(specs[0].shape, vec![3, 3, 2, 8]);
        assert_eq!(specs[1].shape, vec![8]);
    }

    #[test]
    fn batch_norm_statistics_are_not_trainable() {
        let op = Op::BatchNorm {
            axis: 3,
            epsilon: 1e-3,
            center: true,
            scale: false,
        };
        let specs =
            weight_specs(&op, Some(&vec![Some(2), Some(2), Some(6)]), Dialect::Keras2).unwrap();
        let vars: Vec<_> = specs.iter().map(|s| (s.var, s.trainable)).collect();
        assert_eq!(
            vars,
            vec![
                ("beta", true),
                ("moving_mean", false),
                ("moving_variance", false)
            ]
        );
    }

    #[test]
    fn unknown_channels_are_reported() {
        let x = vec![Some(5), Some(5), None];
        assert!(weight_specs(&conv_op(1), Some(&x), Dialect::Keras3).is_err());
    }

    #[test]
    fn stored_shapes_are_checked() {
        let specs = vec![
            spec("kernel", vec![2, 4], true),
            spec("bias", vec![4], true),
        ];
        let mut store = WeightStore::default();
        let tensor = |name: &str, shape: Vec<usize>| RawTensor {
            name: name.into(),
            data: vec![0.0; shape.iter().product()],
            shape,
        };
        store.by_layer.insert(
            "d".into(),
            vec![
                tensor("d/kernel:0", vec![2, 5]),
                tensor("d/bias:0", vec![4]),
            ],
        );
        let mut graph = Graph::default();
        let err = create_weights(&mut graph, "m.h5", "d", &specs, true, Some(&store)).unwrap_err();
        assert_eq!(err.kind, ErrorKind::ShapeMismatch);
        assert!(err.message.contains("(2, 4)") && err.message.contains("(2, 5)"));
        store.by_layer.insert(
            "d".into(),
            vec![tensor("k", vec![2, 4]), tensor("b", vec![4])],
        );
        let ids = create_weights(&mut graph, "m.h5", "d", &specs, false, Some(&store)).unwrap();
        assert_eq!(graph.weights[ids[0]].data.len(), 8);
        assert!(!graph.weights[ids[0]].trainable);
        store.by_layer.remove("d");
        let err = create_weights(&mut graph, "m.h5", "d", &specs, true, Some(&store)).unwrap_err();
        assert_eq!(err.kind, ErrorKind::ShapeMismatch);
    }
}
