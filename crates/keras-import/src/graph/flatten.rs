//! Flattens a [`ModelConfig`] tree into one [`Graph`]: nested models are expanded in place
//! (their inputs alias the caller's tensors), every layer call becomes a node with its
//! typed op, inferred shape and weights.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use serde_json::Map;

use super::layers::{parse_op, Arg, LayerInput, LayerKind};
use super::shape::{check_size, fmt_shape, infer_shape, Broadcast};
use super::weights::{create_weights, weight_specs, WeightSpec};
use crate::config::fields::{parse_batch_shape, Fields, MAX_DIM};
use crate::config::{CallArg, Dialect, InboundCall, LayerConfig, ModelConfig, TensorRef, PIPELINE};
use crate::error::{ErrorKind, ImportError, Result};
use crate::ir::{Graph, Node, NodeId, Op, Scope, ScopeId, Shape, WeightId};
use crate::weights::WeightStore;

/// Most nodes a flattened graph may have (nested models called many times multiply).
pub(crate) const MAX_NODES: usize = 200_000;

/// Where a model's layers are being placed.
#[derive(Debug, Clone)]
struct Site {
    /// Path prefix of the layers (`""` or `outer/nested/`).
    prefix: String,
    /// Scope of the layers.
    scope: ScopeId,
    /// True when this model or an enclosing one is not trainable.
    frozen: bool,
}

/// Accumulates the flat graph.
pub(crate) struct Builder<'a> {
    file: &'a str,
    dialect: Dialect,
    store: Option<&'a WeightStore>,
    graph: Graph,
    weights_by_path: HashMap<String, Vec<WeightId>>,
    calls_by_path: HashMap<String, usize>,
    scopes_by_path: HashMap<String, ScopeId>,
}

/// A call of a Functional model's layer, waiting for its inputs.
struct Item<'m> {
    layer: usize,
    call: usize,
    inbound: Option<&'m InboundCall>,
}

/// Every call of a Functional model's layers and how they wait for each other.
struct Plan<'m> {
    /// The calls.
    items: Vec<Item<'m>>,
    /// How many inputs each call still waits for.
    waiting: Vec<usize>,
    /// The calls reading each call's outputs.
    dependents: Vec<Vec<usize>>,
}

/// A Functional model being expanded at a site.
struct Functional<'m, 's> {
    model: &'m ModelConfig,
    /// Position of each layer by name.
    index: HashMap<&'m str, usize>,
    site: &'s Site,
    /// The caller's tensors for a nested model's inputs.
    given: Option<&'s [NodeId]>,
    /// The layers that are the model's inputs, in input order.
    input_layers: Vec<usize>,
}

/// One call of a (non-model) layer with its resolved operands.
struct LayerCall<'m> {
    layer: &'m LayerConfig,
    /// The call as written (its raw keyword arguments), `None` in a Sequential model.
    inbound: Option<&'m InboundCall>,
    args: Vec<Arg>,
    kwargs: Vec<(String, Arg)>,
}

impl<'a> Builder<'a> {
    /// A builder for `file` (used in messages) reading weights from `store` when given.
    pub(crate) fn new(file: &'a str, dialect: Dialect, store: Option<&'a WeightStore>) -> Self {
        Builder {
            file,
            dialect,
            store,
            graph: Graph::default(),
            weights_by_path: HashMap::new(),
            calls_by_path: HashMap::new(),
            scopes_by_path: HashMap::new(),
        }
    }

    fn error(&self, kind: ErrorKind, message: String) -> ImportError {
        ImportError::new(kind, self.file, message)
    }

    /// Flattens `model` (the outermost one).
    pub(crate) fn build(mut self, model: &ModelConfig) -> Result<Graph> {
        self.graph.scopes.push(Scope {
            path: String::new(),
            name: model.name.clone(),
            class_name: model.class_name.clone(),
            parent: None,
            input_shape: Vec::new(),
            output_shape: Vec::new(),
        });
        let site = Site {
            prefix: String::new(),
            scope: 0,
            frozen: !model.trainable,
        };
        let outputs = self.expand(model, &site, None)?;
        self.graph.outputs = outputs;
        let first_shape = |ids: &[NodeId], g: &Graph| {
            ids.first()
                .and_then(|&id| g.nodes.get(id))
                .map(|n| n.output_shape.clone())
                .unwrap_or_default()
        };
        let input_shape = first_shape(&self.graph.inputs, &self.graph);
        let output_shape = first_shape(&self.graph.outputs, &self.graph);
        if let Some(scope) = self.graph.scopes.first_mut() {
            scope.input_shape = input_shape;
            scope.output_shape = output_shape;
        }
        Ok(self.graph)
    }

    fn expand(
        &mut self,
        model: &ModelConfig,
        site: &Site,
        given: Option<&[NodeId]>,
    ) -> Result<Vec<NodeId>> {
        // A Pipeline runs its layers in order, as a Sequential model does.
        if model.class_name == "Sequential" || model.class_name == PIPELINE {
            self.expand_sequential(model, site, given)
        } else {
            self.expand_functional(model, site, given)
        }
    }

    fn expand_sequential(
        &mut self,
        model: &ModelConfig,
        site: &Site,
        given: Option<&[NodeId]>,
    ) -> Result<Vec<NodeId>> {
        let mut current = match given {
            None => None,
            Some([x]) => Some(*x),
            Some(other) => {
                return Err(self.error(
                    ErrorKind::InvalidGraph,
                    format!(
                        "Sequential model '{}' is called with {} inputs",
                        model.name,
                        other.len()
                    ),
                ))
            }
        };
        for layer in &model.layers {
            if is_input_layer(layer) {
                if current.is_none() {
                    let shape = self.declared_input_shape(layer, &site.prefix)?;
                    current = Some(self.push_input(layer.name.clone(), shape, site)?);
                }
                continue;
            }
            let x = match current {
                Some(x) => x,
                None => {
                    let shape = self.sequential_input_shape(model, layer, &site.prefix)?;
                    self.push_input(format!("{}_input", layer.name), shape, site)?
                }
            };
            current = Some(if let Some(nested) = &layer.nested {
                let outputs = self.expand_nested(layer, nested, site, &[x])?;
                match outputs.as_slice() {
                    [y] => *y,
                    _ => {
                        return Err(self.error(
                            ErrorKind::InvalidGraph,
                            format!(
                                "layer '{}{}' in Sequential model '{}' has {} outputs",
                                site.prefix,
                                layer.name,
                                model.name,
                                outputs.len()
                            ),
                        ))
                    }
                }
            } else {
                let call = LayerCall {
                    layer,
                    inbound: None,
                    args: vec![self.tensor_arg(x)],
                    kwargs: Vec::new(),
                };
                self.add_layer_node(call, site)?
            });
        }
        current.map(|c| vec![c]).ok_or_else(|| {
            self.error(
                ErrorKind::InvalidGraph,
                format!("Sequential model '{}' has no layers", model.name),
            )
        })
    }

    /// The input shape of a Sequential model without InputLayer: the first layer's
    /// `batch_input_shape` / `batch_shape`, else the model's build shape.
    fn sequential_input_shape(
        &self,
        model: &ModelConfig,
        first: &LayerConfig,
        prefix: &str,
    ) -> Result<Shape> {
        if first.config.get("batch_input_shape").is_some()
            || first.config.get("batch_shape").is_some()
        {
            return self.declared_input_shape(first, prefix);
        }
        match &model.build_input_shape {
            Some(dims) => self.checked_dims(dims, &format!("{prefix}{}", model.name)),
            None => Err(self.error(
                ErrorKind::InvalidGraph,
                format!(
                    "Sequential model '{}' has no input shape (no InputLayer, batch_input_shape or build_input_shape)",
                    model.name
                ),
            )),
        }
    }

    fn declared_input_shape(&self, layer: &LayerConfig, prefix: &str) -> Result<Shape> {
        let path = format!("{prefix}{}", layer.name);
        let value = layer
            .config
            .get("batch_shape")
            .filter(|v| !v.is_null())
            .or_else(|| layer.config.get("batch_input_shape"))
            .ok_or_else(|| {
                self.error(
                    ErrorKind::InvalidGraph,
                    format!("input '{path}' has no batch_shape / batch_input_shape"),
                )
            })?;
        let dims = parse_batch_shape(value).ok_or_else(|| {
            self.error(
                ErrorKind::BadJson,
                format!("input '{path}': the batch shape is not a list of sizes"),
            )
        })?;
        self.checked_dims(&dims, &path)
    }

    fn checked_dims(&self, dims: &[Option<u64>], path: &str) -> Result<Shape> {
        dims.iter()
            .map(|d| match d {
                None => Ok(None),
                Some(0) => Err(self.error(
                    ErrorKind::InvalidGraph,
                    format!("input '{path}' has a zero dimension"),
                )),
                Some(n) => usize::try_from(*n)
                    .ok()
                    .filter(|&n| n <= MAX_DIM)
                    .map(Some)
                    .ok_or_else(|| {
                        self.error(
                            ErrorKind::TooLarge,
                            format!("input '{path}' dimension {n} exceeds the limit {MAX_DIM}"),
                        )
                    }),
            })
            .collect()
    }

    fn push_input(&mut self, name: String, shape: Shape, site: &Site) -> Result<NodeId> {
        check_size(&shape)
            .map_err(|e| self.error(e.kind, format!("input '{name}': {}", e.message)))?;
        let id = self.push_node(Node {
            path: format!("{}{name}", site.prefix),
            name,
            call_index: 0,
            class_name: "InputLayer".into(),
            scope: site.scope,
            op: Op::Input,
            inputs: Vec::new(),
            output_shape: shape,
            weights: Vec::new(),
        })?;
        self.graph.inputs.push(id);
        Ok(id)
    }

    fn push_node(&mut self, node: Node) -> Result<NodeId> {
        if self.graph.nodes.len() >= MAX_NODES {
            return Err(self.error(
                ErrorKind::TooLarge,
                format!("the flattened graph has more than {MAX_NODES} nodes"),
            ));
        }
        self.graph.nodes.push(node);
        Ok(self.graph.nodes.len() - 1)
    }

    fn tensor_arg(&self, node: NodeId) -> Arg {
        Arg::Tensor {
            node,
            shape: self
                .graph
                .nodes
                .get(node)
                .map(|n| n.output_shape.clone())
                .unwrap_or_default(),
        }
    }

    /// Node index offset of a layer's calls: Keras 2 numbers the calls of a nested model
    /// that starts with an InputLayer from 1 (node 0 is its own construction).
    fn node_offset(&self, layer: &LayerConfig) -> usize {
        match (&layer.nested, self.dialect) {
            (Some(nested), Dialect::Keras2)
                if nested.layers.first().is_some_and(is_input_layer) =>
            {
                1
            }
            _ => 0,
        }
    }

    fn expand_functional(
        &mut self,
        model: &ModelConfig,
        site: &Site,
        given: Option<&[NodeId]>,
    ) -> Result<Vec<NodeId>> {
        let index = self.layer_index(model)?;
        let input_layers: Vec<usize> = if model.inputs.is_empty() {
            (0..model.layers.len())
                .filter(|&i| is_input_layer(&model.layers[i]))
                .collect()
        } else {
            model
                .inputs
                .iter()
                .map(|r| self.lookup(&index, &r.layer, &model.name))
                .collect::<Result<_>>()?
        };
        if let Some(given) = given.filter(|g| g.len() != input_layers.len()) {
            return Err(self.error(
                ErrorKind::InvalidGraph,
                format!(
                    "model '{}' has {} inputs but is called with {}",
                    model.name,
                    input_layers.len(),
                    given.len()
                ),
            ));
        }
        let functional = Functional {
            model,
            index,
            site,
            given,
            input_layers,
        };
        let outputs_of = self.run_calls(&functional)?;
        if model.inputs.is_empty() && given.is_none() && functional.input_layers.is_empty() {
            return Err(self.error(
                ErrorKind::InvalidGraph,
                format!("model '{}' has no inputs", model.name),
            ));
        }
        if model.outputs.is_empty() {
            return Err(self.error(
                ErrorKind::InvalidGraph,
                format!("model '{}' has no output_layers", model.name),
            ));
        }
        let reader = format!("model '{}' output", model.name);
        model
            .outputs
            .iter()
            .map(|r| self.produced(&functional, &outputs_of, r, &reader))
            .collect()
    }

    /// The position of every layer of `model` by name; two layers may not share one.
    fn layer_index<'m>(&self, model: &'m ModelConfig) -> Result<HashMap<&'m str, usize>> {
        let mut index = HashMap::with_capacity(model.layers.len());
        for (i, layer) in model.layers.iter().enumerate() {
            if index.insert(layer.name.as_str(), i).is_some() {
                return Err(self.error(
                    ErrorKind::InvalidGraph,
                    format!(
                        "model '{}' has two layers named '{}'",
                        model.name, layer.name
                    ),
                ));
            }
        }
        Ok(index)
    }

    /// Every call of the model's layers, each with the calls it waits for.
    fn plan_calls<'m>(&self, f: &Functional<'m, '_>) -> Result<Plan<'m>> {
        let mut items: Vec<Item> = Vec::new();
        let mut item_of: HashMap<(usize, usize), usize> = HashMap::new();
        for (i, layer) in f.model.layers.iter().enumerate() {
            // An InputLayer is one call without dependencies.
            if is_input_layer(layer) && layer.calls.is_empty() {
                item_of.insert((i, 0), items.len());
                items.push(Item {
                    layer: i,
                    call: 0,
                    inbound: None,
                });
            }
            for (k, call) in layer.calls.iter().enumerate() {
                item_of.insert((i, k), items.len());
                items.push(Item {
                    layer: i,
                    call: k,
                    inbound: Some(call),
                });
            }
        }
        let mut waiting = vec![0usize; items.len()];
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); items.len()];
        for (n, item) in items.iter().enumerate() {
            for r in item.inbound.into_iter().flat_map(InboundCall::tensor_refs) {
                let key = self.producer_key(f, r)?;
                let producer = *item_of.get(&key).ok_or_else(|| {
                    self.error(
                        ErrorKind::InvalidGraph,
                        format!(
                            "layer '{}{}' reads call {} of layer '{}', which does not exist",
                            f.site.prefix, f.model.layers[item.layer].name, r.node_index, r.layer
                        ),
                    )
                })?;
                waiting[n] += 1;
                dependents[producer].push(n);
            }
        }
        Ok(Plan {
            items,
            waiting,
            dependents,
        })
    }

    /// Runs every call once its inputs exist, in layer order among the ready ones (so the
    /// graph follows the config's order); returns the nodes each call produced.
    fn run_calls(&mut self, f: &Functional) -> Result<HashMap<(usize, usize), Vec<NodeId>>> {
        let Plan {
            items,
            mut waiting,
            dependents,
        } = self.plan_calls(f)?;
        let mut ready: BinaryHeap<Reverse<(usize, usize, usize)>> = items
            .iter()
            .enumerate()
            .filter(|(n, _)| waiting[*n] == 0)
            .map(|(n, it)| Reverse((it.layer, it.call, n)))
            .collect();
        let mut outputs_of = HashMap::new();
        let mut done = 0usize;
        while let Some(Reverse((layer, call, n))) = ready.pop() {
            let produced = match items[n].inbound {
                None => vec![self.feed_input(f, layer)?],
                Some(inbound) => self.call_layer(f, layer, inbound, &outputs_of)?,
            };
            outputs_of.insert((layer, call), produced);
            done += 1;
            for &d in &dependents[n] {
                waiting[d] -= 1;
                if waiting[d] == 0 {
                    ready.push(Reverse((items[d].layer, items[d].call, d)));
                }
            }
        }
        if done < items.len() {
            let stuck: Vec<&str> = items
                .iter()
                .enumerate()
                .filter(|(n, _)| waiting[*n] > 0)
                .map(|(_, it)| f.model.layers[it.layer].name.as_str())
                .take(5)
                .collect();
            return Err(self.error(
                ErrorKind::InvalidGraph,
                format!(
                    "model '{}' has a cycle among its layers ({})",
                    f.model.name,
                    stuck.join(", ")
                ),
            ));
        }
        Ok(outputs_of)
    }

    /// The node an InputLayer of the model stands for: the caller's tensor for a nested
    /// model, a new graph input for the outer one.
    fn feed_input(&mut self, f: &Functional, layer_index: usize) -> Result<NodeId> {
        let layer = &f.model.layers[layer_index];
        let position = f.input_layers.iter().position(|&i| i == layer_index);
        match (f.given, position) {
            (Some(given), Some(p)) => Ok(given[p]),
            (Some(_), None) => Err(self.error(
                ErrorKind::InvalidGraph,
                format!(
                    "input '{}{}' of model '{}' is not fed by the caller",
                    f.site.prefix, layer.name, f.model.name
                ),
            )),
            (None, _) => {
                let shape = self.declared_input_shape(layer, &f.site.prefix)?;
                self.push_input(layer.name.clone(), shape, f.site)
            }
        }
    }

    /// One call of a layer (or nested model) on the tensors `inbound` names.
    fn call_layer(
        &mut self,
        f: &Functional,
        layer_index: usize,
        inbound: &InboundCall,
        outputs_of: &HashMap<(usize, usize), Vec<NodeId>>,
    ) -> Result<Vec<NodeId>> {
        let layer = &f.model.layers[layer_index];
        let reader = format!("layer '{}{}'", f.site.prefix, layer.name);
        let resolve = |arg: &CallArg| -> Result<Arg> {
            match arg {
                CallArg::Scalar(x) => Ok(Arg::Scalar(*x as f32)),
                CallArg::Tensor(r) => {
                    Ok(self.tensor_arg(self.produced(f, outputs_of, r, &reader)?))
                }
            }
        };
        let args = inbound
            .args
            .iter()
            .map(&resolve)
            .collect::<Result<Vec<_>>>()?;
        let kwargs = inbound
            .operand_kwargs
            .iter()
            .map(|(k, a)| resolve(a).map(|a| (k.clone(), a)))
            .collect::<Result<Vec<_>>>()?;
        match &layer.nested {
            Some(nested) => {
                let tensors: Vec<NodeId> = args
                    .iter()
                    .filter_map(|a| match a {
                        Arg::Tensor { node, .. } => Some(*node),
                        Arg::Scalar(_) => None,
                    })
                    .collect();
                self.expand_nested(layer, nested, f.site, &tensors)
            }
            None => {
                let call = LayerCall {
                    layer,
                    inbound: Some(inbound),
                    args,
                    kwargs,
                };
                Ok(vec![self.add_layer_node(call, f.site)?])
            }
        }
    }

    /// The node holding tensor `r`, already produced by an earlier call; `reader` names who
    /// asks, for the message.
    fn produced(
        &self,
        f: &Functional,
        outputs_of: &HashMap<(usize, usize), Vec<NodeId>>,
        r: &TensorRef,
        reader: &str,
    ) -> Result<NodeId> {
        let key = self.producer_key(f, r)?;
        outputs_of
            .get(&key)
            .and_then(|outs| outs.get(r.tensor_index))
            .copied()
            .ok_or_else(|| {
                self.error(
                    ErrorKind::InvalidGraph,
                    format!(
                        "{reader} reads output {} of call {} of layer '{}', which does not exist",
                        r.tensor_index, r.node_index, r.layer
                    ),
                )
            })
    }

    fn lookup(&self, index: &HashMap<&str, usize>, name: &str, model: &str) -> Result<usize> {
        index.get(name).copied().ok_or_else(|| {
            self.error(
                ErrorKind::InvalidGraph,
                format!("model '{model}' refers to an unknown layer '{name}'"),
            )
        })
    }

    /// `(layer index, call index)` of the call producing `r`.
    fn producer_key(&self, f: &Functional, r: &TensorRef) -> Result<(usize, usize)> {
        let i = self.lookup(&f.index, &r.layer, &f.model.name)?;
        let offset = self.node_offset(&f.model.layers[i]);
        let call = r.node_index.checked_sub(offset).ok_or_else(|| {
            self.error(
                ErrorKind::InvalidGraph,
                format!(
                    "model '{}' refers to node {} of nested model '{}', which numbers calls from {offset}",
                    f.model.name, r.node_index, r.layer
                ),
            )
        })?;
        Ok((i, call))
    }

    fn expand_nested(
        &mut self,
        layer: &LayerConfig,
        nested: &ModelConfig,
        site: &Site,
        inputs: &[NodeId],
    ) -> Result<Vec<NodeId>> {
        let path = format!("{}{}", site.prefix, layer.name);
        let input_shape = inputs
            .first()
            .and_then(|&id| self.graph.nodes.get(id))
            .map(|n| n.output_shape.clone())
            .unwrap_or_default();
        let (scope, is_new) = match self.scopes_by_path.get(&path) {
            Some(&scope) => (scope, false),
            None => {
                self.graph.scopes.push(Scope {
                    path: path.clone(),
                    name: nested.name.clone(),
                    class_name: nested.class_name.clone(),
                    parent: Some(site.scope),
                    input_shape,
                    output_shape: Vec::new(),
                });
                let scope = self.graph.scopes.len() - 1;
                self.scopes_by_path.insert(path.clone(), scope);
                (scope, true)
            }
        };
        let child = Site {
            prefix: format!("{path}/"),
            scope,
            frozen: site.frozen || !nested.trainable || !layer.trainable,
        };
        let outputs = self.expand(nested, &child, Some(inputs))?;
        if is_new {
            let shape = outputs
                .first()
                .and_then(|&id| self.graph.nodes.get(id))
                .map(|n| n.output_shape.clone())
                .unwrap_or_default();
            if let Some(s) = self.graph.scopes.get_mut(scope) {
                s.output_shape = shape;
            }
        }
        Ok(outputs)
    }

    /// Adds the node of one layer call: its op, output shape and weights (created on the
    /// first call, shared by later ones).
    fn add_layer_node(&mut self, call: LayerCall, site: &Site) -> Result<NodeId> {
        let layer = call.layer;
        let path = format!("{}{}", site.prefix, layer.name);
        let kind = LayerKind::of(layer).ok_or_else(|| {
            self.error(
                ErrorKind::UnknownLayer,
                format!("unsupported layer: {path} ({})", layer.display_class()),
            )
        })?;
        let empty = Map::new();
        let input = LayerInput {
            fields: Fields::new(self.file, &path, &layer.config),
            dialect: self.dialect,
            args: &call.args,
            kwargs: &call.kwargs,
            raw_kwargs: call.inbound.map(|c| &c.kwargs).unwrap_or(&empty),
            raw_args: call.inbound.map_or(&[], |c| c.raw_args.as_slice()),
        };
        let parsed = parse_op(kind, &input)?;
        let shapes: Vec<&Shape> = parsed
            .inputs
            .iter()
            .filter_map(|&id| self.graph.nodes.get(id).map(|n| &n.output_shape))
            .collect();
        let broadcast = match kind {
            LayerKind::Merge(_) => Broadcast::MergeLayer,
            _ => Broadcast::Numpy,
        };
        // Owned, so that an error can still be built once the weights are bound.
        let input_shapes: Vec<String> = shapes.iter().map(|s| fmt_shape(s)).collect();
        let file = self.file;
        let shape_error = |kind: ErrorKind, message: String| {
            ImportError::new(
                kind,
                file,
                format!(
                    "layer '{path}' ({}): {message}; input shapes: {}",
                    layer.class_name,
                    input_shapes.join(", ")
                ),
            )
        };
        let output_shape = infer_shape(&parsed.op, &shapes, broadcast)
            .map_err(|e| shape_error(e.kind, e.message))?;
        let specs = weight_specs(&parsed.op, shapes.first().copied(), self.dialect)
            .map_err(|m| shape_error(ErrorKind::InvalidGraph, m))?;
        let call_index = {
            let count = self.calls_by_path.entry(path.clone()).or_insert(0);
            *count += 1;
            *count - 1
        };
        let trainable = layer.trainable && !site.frozen;
        let weights = self
            .layer_weights(&path, &specs, trainable)?
            .ok_or_else(|| {
                shape_error(
                    ErrorKind::InvalidGraph,
                    format!("call {call_index} needs other weight shapes than the first call"),
                )
            })?;
        self.push_node(Node {
            name: layer.name.clone(),
            call_index,
            class_name: layer.class_name.clone(),
            scope: site.scope,
            op: parsed.op,
            inputs: parsed.inputs,
            output_shape,
            weights,
            path,
        })
    }

    /// The weights of the layer at `path`: created from `specs` on its first call, shared
    /// by later calls (`None` when a later call needs other shapes).
    fn layer_weights(
        &mut self,
        path: &str,
        specs: &[WeightSpec],
        trainable: bool,
    ) -> Result<Option<Vec<WeightId>>> {
        if let Some(ids) = self.weights_by_path.get(path) {
            let same = ids.len() == specs.len()
                && ids.iter().zip(specs).all(|(&id, s)| {
                    self.graph
                        .weights
                        .get(id)
                        .is_some_and(|w| w.shape == s.shape)
                });
            return Ok(same.then(|| ids.clone()));
        }
        let ids = create_weights(
            &mut self.graph,
            self.file,
            path,
            specs,
            trainable,
            self.store,
        )?;
        self.weights_by_path.insert(path.to_string(), ids.clone());
        Ok(Some(ids))
    }
}

fn is_input_layer(layer: &LayerConfig) -> bool {
    layer.class_name == "InputLayer" && layer.nested.is_none()
}
