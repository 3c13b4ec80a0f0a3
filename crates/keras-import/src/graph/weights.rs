//! The variables each op needs — its layer family's templates resolved against the input
//! shape — and their binding to stored tensors.

use super::layers::{rules, Dim, WeightShape};
use super::shape::{fmt_shape, MAX_ELEMENTS};
use crate::config::Dialect;
use crate::error::{ErrorKind, ImportError, Result};
use crate::ir::{Graph, Op, Shape, Weight, WeightId};
use crate::normalize_axis;
use crate::weights::WeightStore;

/// One variable a layer owns, resolved against its input shape, in Keras variable order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WeightSpec {
    /// Variable name (`kernel`, `moving_mean`, ...).
    pub var: &'static str,
    /// Required shape.
    pub shape: Vec<usize>,
    /// Whether the variable itself is trainable (BN moving statistics are not).
    pub trainable: bool,
}

/// The variables of `op` applied to an input of shape `input`, in Keras order, as its
/// layer family describes them. `Err` carries a message when a dimension the weights need
/// is unknown.
pub(crate) fn weight_specs(
    op: &Op,
    input: Option<&Shape>,
    dialect: Dialect,
) -> std::result::Result<Vec<WeightSpec>, String> {
    let shape = input.cloned().unwrap_or_default();
    let rules = rules(op);
    rules
        .weights()
        .into_iter()
        .map(|template| {
            Ok(WeightSpec {
                var: rules.var_name(template.role, dialect),
                shape: resolve_shape(&template.shape, &shape)?,
                trainable: template.role.trainable(),
            })
        })
        .collect()
}

/// The dimensions `shape` describes for an input of shape `input`.
fn resolve_shape(shape: &WeightShape, input: &Shape) -> std::result::Result<Vec<usize>, String> {
    match shape {
        WeightShape::Dims(dims) => dims.iter().map(|&d| resolve(d, input)).collect(),
        WeightShape::InputSharing(shared) => (1..=input.len() as i64)
            .map(|axis| match shared.contains(&axis) {
                true => Ok(1),
                false => resolve(Dim::axis(axis), input),
            })
            .collect(),
    }
}

/// The size `dim` describes for an input of shape `input`.
fn resolve(dim: Dim, input: &Shape) -> std::result::Result<usize, String> {
    match dim {
        Dim::Fixed(n) => Ok(n),
        Dim::Input { axis, times, per } => normalize_axis(axis, input.len() + 1)
            .and_then(|index| index.checked_sub(1))
            .and_then(|i| input.get(i).copied().flatten())
            .map(|n| n.saturating_mul(times) / per.max(1))
            .ok_or_else(|| {
                format!(
                    "the weights need a known axis {axis} of the input, got {}",
                    fmt_shape(input)
                )
            }),
    }
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
    fn prelu_alpha_is_shaped_like_the_input_but_its_shared_axes() {
        let op = Op::PRelu {
            shared_axes: vec![1, 2],
        };
        let x = vec![Some(4), Some(5), Some(3)];
        let specs = weight_specs(&op, Some(&x), Dialect::Keras3).unwrap();
        assert_eq!(specs.len(), 1);
        assert_eq!((specs[0].var, &specs[0].shape), ("alpha", &vec![1, 1, 3]));
    }

    #[test]
    fn normalization_statistics_are_weights_only_when_not_in_the_config() {
        let op = |mean: Option<Vec<f32>>| Op::Normalization {
            variance: mean.clone(),
            mean,
            invert: false,
        };
        let x = vec![Some(2), Some(3)];
        let specs = weight_specs(&op(None), Some(&x), Dialect::Keras3).unwrap();
        let vars: Vec<_> = specs
            .iter()
            .map(|s| (s.var, s.shape.clone(), s.trainable))
            .collect();
        assert_eq!(
            vars,
            [
                ("mean", vec![3], false),
                ("variance", vec![3], false),
                ("count", vec![], false)
            ]
        );
        let given = op(Some(vec![0.0; 3]));
        assert!(weight_specs(&given, Some(&x), Dialect::Keras3)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn unknown_channels_are_reported() {
        let x = vec![Some(5), Some(5), None];
        assert!(weight_specs(&conv_op(1), Some(&x), Dialect::Keras3).is_err());
    }

    #[test]
    fn stored_shapes_are_checked() {
        let x = vec![Some(2)];
        let dense = Op::Dense {
            units: 4,
            use_bias: true,
            activation: Activation::Linear,
        };
        let specs = weight_specs(&dense, Some(&x), Dialect::Keras2).unwrap();
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
