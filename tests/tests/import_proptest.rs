//! Property tests of the config importer: random small CNNs written as Keras 2 and Keras 3
//! JSON (Sequential and Functional, nested submodels) import with the shapes and parameter
//! counts computed here independently; random mutations of such JSON never panic.

use keras_import::{graph_from_config_json, ErrorKind};
use proptest::prelude::*;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Dialect {
    K2,
    K3,
}

#[derive(Debug, Clone)]
enum Spec {
    Conv {
        filters: usize,
        k: usize,
        stride: usize,
        dilation: usize,
        same: bool,
        bias: bool,
    },
    Depthwise {
        k: usize,
        stride: usize,
        dm: usize,
        same: bool,
    },
    Separable {
        filters: usize,
        k: usize,
        dm: usize,
        same: bool,
    },
    Pool {
        max: bool,
        pool: usize,
        stride: usize,
        same: bool,
    },
    Pad {
        t: usize,
        b: usize,
        l: usize,
        r: usize,
    },
    Crop {
        t: usize,
        b: usize,
        l: usize,
        r: usize,
    },
    Bn {
        scale: bool,
        center: bool,
    },
    Act(&'static str),
    Up(usize),
    /// conv(same, stride 1) + identity.
    Residual,
    /// concat of two 1x1 convs.
    Concat {
        a: usize,
        b: usize,
    },
    /// x + 3.0 as a Keras 3 operation node / tf_keras TFOpLambda.
    ScalarAdd,
    /// Keras 3 CLAHE: shape kept, no weights.
    Clahe {
        grid: [usize; 2],
        clip: f64,
    },
    Nested {
        sequential: bool,
        with_input: bool,
        frozen: bool,
        body: Vec<Spec>,
    },
}

fn leaf() -> impl Strategy<Value = Spec> {
    prop_oneof![
        (
            1usize..6,
            1usize..4,
            1usize..3,
            1usize..3,
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(|(filters, k, stride, dilation, same, bias)| Spec::Conv {
                filters,
                k,
                stride,
                dilation: if stride == 1 { dilation } else { 1 },
                same,
                bias
            }),
        (1usize..4, 1usize..3, 1usize..3, any::<bool>()).prop_map(|(k, stride, dm, same)| {
            Spec::Depthwise {
                k,
                stride,
                dm,
                same,
            }
        }),
        (1usize..6, 1usize..4, 1usize..3, any::<bool>()).prop_map(|(filters, k, dm, same)| {
            Spec::Separable {
                filters,
                k,
                dm,
                same,
            }
        }),
        (any::<bool>(), 1usize..4, 1usize..3, any::<bool>()).prop_map(
            |(max, pool, stride, same)| Spec::Pool {
                max,
                pool,
                stride,
                same
            }
        ),
        (0usize..3, 0usize..3, 0usize..3, 0usize..3).prop_map(|(t, b, l, r)| Spec::Pad {
            t,
            b,
            l,
            r
        }),
        (0usize..3, 0usize..3, 0usize..3, 0usize..3).prop_map(|(t, b, l, r)| Spec::Crop {
            t,
            b,
            l,
            r
        }),
        (any::<bool>(), any::<bool>()).prop_map(|(scale, center)| Spec::Bn { scale, center }),
        prop::sample::select(vec![
            "relu",
            "sigmoid",
            "hard_sigmoid",
            "swish",
            "tanh",
            "linear",
            "gelu"
        ])
        .prop_map(Spec::Act),
        (1usize..3).prop_map(Spec::Up),
        Just(Spec::Residual),
        (1usize..5, 1usize..5).prop_map(|(a, b)| Spec::Concat { a, b }),
        Just(Spec::ScalarAdd),
        (1usize..5, 1usize..5, 0u8..3).prop_map(|(gh, gw, clip)| Spec::Clahe {
            grid: [gh, gw],
            clip: f64::from(clip) * 1.5
        }),
    ]
}

fn spec_list() -> impl Strategy<Value = Vec<Spec>> {
    let nested = (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(leaf(), 1..5),
        prop::collection::vec(leaf(), 0..3),
    )
        .prop_map(|(sequential, with_input, frozen, inner_body, after)| {
            let inner = Spec::Nested {
                sequential: !sequential,
                with_input: true,
                frozen: false,
                body: inner_body,
            };
            let mut body = vec![inner];
            body.extend(after);
            Spec::Nested {
                sequential,
                with_input,
                frozen,
                body,
            }
        });
    prop::collection::vec(prop_oneof![4 => leaf(), 1 => nested], 1..8)
}

/// Shape (h, w, c) arithmetic computed independently of the importer.
fn out_len(n: usize, k: usize, s: usize, d: usize, same: bool) -> Option<usize> {
    let eff = d * (k - 1) + 1;
    if same {
        Some(n.div_ceil(s))
    } else if n >= eff {
        Some((n - eff) / s + 1)
    } else {
        None
    }
}

type Hwc = (usize, usize, usize);

/// Writes layers as JSON in one dialect, tracking expected shapes and parameter counts.
#[derive(Debug)]
struct Writer {
    dialect: Dialect,
    counter: usize,
    /// (path, expected shape) of every emitted layer.
    expected: Vec<(String, Vec<Option<usize>>)>,
    params: u64,
    trainable: u64,
}

/// A tensor in the model being written: producing layer name, node index, shape.
#[derive(Clone)]
struct T {
    layer: String,
    node: usize,
    shape: Hwc,
}

impl Writer {
    fn name(&mut self, kind: &str) -> String {
        self.counter += 1;
        format!("{kind}_{}", self.counter)
    }

    fn dtype(&self) -> Value {
        match self.dialect {
            Dialect::K2 => json!("float32"),
            Dialect::K3 => json!({"module": "keras", "class_name": "DTypePolicy",
                "config": {"name": "float32"}, "registered_name": null}),
        }
    }

    fn tensor(&self, t: &T) -> Value {
        json!({"class_name": "__keras_tensor__", "config": {
            "shape": [null, t.shape.0, t.shape.1, t.shape.2], "dtype": "float32",
            "keras_history": [t.layer, t.node, 0]}})
    }

    /// One layer entry; `inputs` empty in Sequential models.
    fn entry(
        &self,
        class: &str,
        name: &str,
        mut config: Value,
        inputs: &[T],
        merge: bool,
    ) -> Value {
        config["name"] = json!(name);
        config["trainable"] = json!(true);
        config["dtype"] = self.dtype();
        let mut entry = json!({"class_name": class, "config": config, "name": name});
        if self.dialect == Dialect::K3 {
            entry["module"] = json!("keras.layers");
            entry["registered_name"] = Value::Null;
        }
        if !inputs.is_empty() {
            entry["inbound_nodes"] = match self.dialect {
                Dialect::K3 => {
                    let ts: Vec<Value> = inputs.iter().map(|t| self.tensor(t)).collect();
                    let args = if merge { json!([ts]) } else { Value::Array(ts) };
                    json!([{"args": args, "kwargs": {}}])
                }
                Dialect::K2 => {
                    let ts: Vec<Value> = inputs
                        .iter()
                        .map(|t| json!([t.layer, t.node, 0, {}]))
                        .collect();
                    json!([ts])
                }
            };
        }
        entry
    }

    fn input_entry(&self, name: &str, shape: Hwc) -> Value {
        let key = match self.dialect {
            Dialect::K2 => "batch_input_shape",
            Dialect::K3 => "batch_shape",
        };
        let mut config = json!({"dtype": "float32", "sparse": false, "name": name});
        config[key] = json!([null, shape.0, shape.1, shape.2]);
        let mut entry = json!({"class_name": "InputLayer", "config": config, "name": name, "inbound_nodes": []});
        if self.dialect == Dialect::K3 {
            entry["module"] = json!("keras.layers");
        }
        entry
    }

    fn record(
        &mut self,
        prefix: &str,
        name: &str,
        shape: Vec<Option<usize>>,
        params: u64,
        trainable: u64,
        frozen: bool,
    ) {
        self.expected.push((format!("{prefix}{name}"), shape));
        self.params += params;
        if !frozen {
            self.trainable += trainable;
        }
    }

    /// Appends `spec` applied to `x` to `layers`; returns the new tensor (or `x` when the
    /// spec does not fit the current shape and is skipped).
    #[allow(clippy::too_many_arguments)]
    fn layer(
        &mut self,
        spec: &Spec,
        x: &T,
        layers: &mut Vec<Value>,
        sequential: bool,
        prefix: &str,
        frozen: bool,
    ) -> T {
        let (h, w, c) = x.shape;
        let ins = |t: &T| if sequential { vec![] } else { vec![t.clone()] };
        let pad = |same: bool| if same { "same" } else { "valid" };
        let full = |s: Hwc| vec![Some(s.0), Some(s.1), Some(s.2)];
        let mut emit = |me: &mut Self,
                        class: &str,
                        kind: &str,
                        config: Value,
                        shape: Hwc,
                        params: u64,
                        trainable: u64| {
            let name = me.name(kind);
            layers.push(me.entry(class, &name, config, &ins(x), false));
            me.record(prefix, &name, full(shape), params, trainable, frozen);
            T {
                layer: name,
                node: 0,
                shape,
            }
        };
        match spec {
            Spec::Conv {
                filters,
                k,
                stride,
                dilation,
                same,
                bias,
            } => {
                let (Some(oh), Some(ow)) = (
                    out_len(h, *k, *stride, *dilation, *same),
                    out_len(w, *k, *stride, *dilation, *same),
                ) else {
                    return x.clone();
                };
                let p = (k * k * c * filters + if *bias { *filters } else { 0 }) as u64;
                emit(
                    self,
                    "Conv2D",
                    "conv",
                    json!({"filters": filters, "kernel_size": [k, k],
                    "strides": [stride, stride], "dilation_rate": [dilation, dilation], "padding": pad(*same),
                    "data_format": "channels_last", "groups": 1, "activation": "linear", "use_bias": bias}),
                    (oh, ow, *filters),
                    p,
                    p,
                )
            }
            Spec::Depthwise {
                k,
                stride,
                dm,
                same,
            } => {
                let (Some(oh), Some(ow)) = (
                    out_len(h, *k, *stride, 1, *same),
                    out_len(w, *k, *stride, 1, *same),
                ) else {
                    return x.clone();
                };
                let p = (k * k * c * dm + c * dm) as u64;
                emit(
                    self,
                    "DepthwiseConv2D",
                    "dw",
                    json!({"kernel_size": [k, k], "strides": [stride, stride],
                    "depth_multiplier": dm, "padding": pad(*same), "use_bias": true, "activation": "relu"}),
                    (oh, ow, c * dm),
                    p,
                    p,
                )
            }
            Spec::Separable {
                filters,
                k,
                dm,
                same,
            } => {
                let (Some(oh), Some(ow)) =
                    (out_len(h, *k, 1, 1, *same), out_len(w, *k, 1, 1, *same))
                else {
                    return x.clone();
                };
                let p = (k * k * c * dm + c * dm * filters + filters) as u64;
                emit(
                    self,
                    "SeparableConv2D",
                    "sep",
                    json!({"filters": filters, "kernel_size": k,
                    "depth_multiplier": dm, "padding": pad(*same)}),
                    (oh, ow, *filters),
                    p,
                    p,
                )
            }
            Spec::Pool {
                max,
                pool,
                stride,
                same,
            } => {
                let (Some(oh), Some(ow)) = (
                    out_len(h, *pool, *stride, 1, *same),
                    out_len(w, *pool, *stride, 1, *same),
                ) else {
                    return x.clone();
                };
                let class = if *max {
                    "MaxPooling2D"
                } else {
                    "AveragePooling2D"
                };
                emit(
                    self,
                    class,
                    "pool",
                    json!({"pool_size": [pool, pool], "strides": [stride, stride],
                    "padding": pad(*same)}),
                    (oh, ow, c),
                    0,
                    0,
                )
            }
            Spec::Pad { t, b, l, r } => emit(
                self,
                "ZeroPadding2D",
                "pad",
                json!({"padding": [[t, b], [l, r]]}),
                (h + t + b, w + l + r, c),
                0,
                0,
            ),
            Spec::Crop { t, b, l, r } => {
                if h <= t + b || w <= l + r {
                    return x.clone();
                }
                emit(
                    self,
                    "Cropping2D",
                    "crop",
                    json!({"cropping": [[t, b], [l, r]]}),
                    (h - t - b, w - l - r, c),
                    0,
                    0,
                )
            }
            Spec::Bn { scale, center } => {
                let trainable = (c * (*scale as usize + *center as usize)) as u64;
                emit(
                    self,
                    "BatchNormalization",
                    "bn",
                    json!({"axis": -1, "epsilon": 1e-3, "scale": scale,
                    "center": center}),
                    (h, w, c),
                    trainable + 2 * c as u64,
                    trainable,
                )
            }
            Spec::Act(name) => emit(
                self,
                "Activation",
                "act",
                json!({"activation": name}),
                (h, w, c),
                0,
                0,
            ),
            Spec::Up(s) => emit(
                self,
                "UpSampling2D",
                "up",
                json!({"size": [s, s], "interpolation": "nearest"}),
                (h * s, w * s, c),
                0,
                0,
            ),
            Spec::Clahe { grid, clip } => emit(
                self,
                "ContrastLimitedAdaptiveHistogramEqualization",
                "clahe",
                json!({"value_range": [0, 255], "clip_limit": clip, "tile_grid_size": grid,
                       "data_format": "channels_last"}),
                (h, w, c),
                0,
                0,
            ),
            Spec::Residual | Spec::Concat { .. } | Spec::ScalarAdd if sequential => x.clone(),
            Spec::Residual => {
                let conv = Spec::Conv {
                    filters: c,
                    k: 3,
                    stride: 1,
                    dilation: 1,
                    same: true,
                    bias: true,
                };
                let branch = self.layer(&conv, x, layers, false, prefix, frozen);
                let name = self.name("add");
                layers.push(self.entry("Add", &name, json!({}), &[branch, x.clone()], true));
                self.record(prefix, &name, full(x.shape), 0, 0, frozen);
                T {
                    layer: name,
                    node: 0,
                    shape: x.shape,
                }
            }
            Spec::Concat { a, b } => {
                let one = |f: usize| Spec::Conv {
                    filters: f,
                    k: 1,
                    stride: 1,
                    dilation: 1,
                    same: false,
                    bias: false,
                };
                let ta = self.layer(&one(*a), x, layers, false, prefix, frozen);
                let tb = self.layer(&one(*b), x, layers, false, prefix, frozen);
                let name = self.name("concat");
                layers.push(self.entry("Concatenate", &name, json!({"axis": -1}), &[ta, tb], true));
                let shape = (h, w, a + b);
                self.record(prefix, &name, full(shape), 0, 0, frozen);
                T {
                    layer: name,
                    node: 0,
                    shape,
                }
            }
            Spec::ScalarAdd => {
                let name = self.name("scalar_add");
                let entry = match self.dialect {
                    Dialect::K3 => json!({"module": "keras.src.ops.numpy", "class_name": "Add",
                        "config": {"name": name}, "registered_name": "Add", "name": name,
                        "inbound_nodes": [{"args": [self.tensor(x), 3.0], "kwargs": {}}]}),
                    Dialect::K2 => json!({"class_name": "TFOpLambda", "config": {"name": name,
                        "trainable": true, "dtype": "float32", "function": "__operators__.add"},
                        "name": name, "inbound_nodes": [[x.layer, x.node, 0, {"y": 3.0, "name": null}]]}),
                };
                layers.push(entry);
                self.record(prefix, &name, full(x.shape), 0, 0, frozen);
                T {
                    layer: name,
                    node: 0,
                    shape: x.shape,
                }
            }
            Spec::Nested {
                sequential: inner_seq,
                with_input,
                frozen: inner_frozen,
                body,
            } => {
                let name = self.name(if *inner_seq { "seq" } else { "func" });
                let inner_prefix = format!("{prefix}{name}/");
                let (model, out, has_input) = self.model(
                    &name,
                    *inner_seq,
                    *with_input,
                    *inner_frozen,
                    body,
                    x.shape,
                    &inner_prefix,
                    frozen || *inner_frozen,
                );
                let mut entry = model;
                entry["name"] = json!(name);
                if !sequential {
                    // Keras 2 numbers calls of a nested model that has an InputLayer from 1.
                    let node = usize::from(self.dialect == Dialect::K2 && has_input);
                    entry["inbound_nodes"] = match self.dialect {
                        Dialect::K3 => {
                            json!([{"args": [self.tensor(x)], "kwargs": {"training": false}}])
                        }
                        Dialect::K2 => json!([[[x.layer, x.node, 0, {"training": false}]]]),
                    };
                    layers.push(entry);
                    return T {
                        layer: name,
                        node,
                        shape: out,
                    };
                }
                layers.push(entry);
                T {
                    layer: name,
                    node: 0,
                    shape: out,
                }
            }
        }
    }

    /// A whole model entry; returns it, its output shape and whether it has an InputLayer.
    #[allow(clippy::too_many_arguments)]
    fn model(
        &mut self,
        name: &str,
        sequential: bool,
        with_input: bool,
        trainable_off: bool,
        body: &[Spec],
        input: Hwc,
        prefix: &str,
        frozen: bool,
    ) -> (Value, Hwc, bool) {
        let mut layers = Vec::new();
        let input_name = self.name("input");
        let has_input = with_input || !sequential;
        if has_input {
            layers.push(self.input_entry(&input_name, input));
        }
        let mut x = T {
            layer: input_name.clone(),
            node: 0,
            shape: input,
        };
        for spec in body {
            x = self.layer(spec, &x, &mut layers, sequential, prefix, frozen);
        }
        if !has_input && layers.is_empty() {
            let act = Spec::Act("relu");
            x = self.layer(&act, &x, &mut layers, sequential, prefix, frozen);
        }
        if !has_input {
            let key = match self.dialect {
                Dialect::K2 => "batch_input_shape",
                Dialect::K3 => "batch_shape",
            };
            layers[0]["config"][key] = json!([null, input.0, input.1, input.2]);
        }
        let mut config = json!({"name": name, "trainable": !trainable_off, "layers": layers});
        if !sequential {
            let refs = |n: &str, node: usize| match self.dialect {
                Dialect::K2 => json!([[n, node, 0]]),
                Dialect::K3 => json!([n, node, 0]),
            };
            config["input_layers"] = refs(&input_name, 0);
            config["output_layers"] = refs(&x.layer, x.node);
        }
        let class = if sequential {
            "Sequential"
        } else {
            "Functional"
        };
        (
            json!({"class_name": class, "config": config}),
            x.shape,
            has_input,
        )
    }
}

fn write_model(
    dialect: Dialect,
    sequential: bool,
    body: &[Spec],
    input: Hwc,
    units: usize,
) -> (Value, Writer) {
    let mut writer = Writer {
        dialect,
        counter: 0,
        expected: Vec::new(),
        params: 0,
        trainable: 0,
    };
    let mut body = body.to_vec();
    body.push(Spec::Act("relu"));
    let (mut model, out, _) = writer.model(
        "random_cnn",
        sequential,
        true,
        false,
        &body,
        input,
        "",
        false,
    );
    // Head: GAP + Dense, appended to the outer model.
    let gap = writer.name("gap");
    let dense = writer.name("dense");
    let layers = model["config"]["layers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let last = model["config"]["output_layers"].clone();
    let (last_name, last_node) = match dialect {
        Dialect::K2 if !sequential => (
            last[0][0].clone(),
            last[0][1].as_u64().unwrap_or(0) as usize,
        ),
        _ if !sequential => (last[0].clone(), last[1].as_u64().unwrap_or(0) as usize),
        _ => (Value::Null, 0),
    };
    let x = T {
        layer: last_name.as_str().unwrap_or("").to_string(),
        node: last_node,
        shape: out,
    };
    let gap_in = if sequential { vec![] } else { vec![x.clone()] };
    let mut all = layers;
    all.push(writer.entry(
        "GlobalAveragePooling2D",
        &gap,
        json!({"keepdims": false}),
        &gap_in,
        false,
    ));
    let flat = T {
        layer: gap.clone(),
        node: 0,
        shape: (1, 1, out.2),
    };
    let dense_in = if sequential { vec![] } else { vec![flat] };
    all.push(writer.entry(
        "Dense",
        &dense,
        json!({"units": units, "activation": "softmax", "use_bias": true}),
        &dense_in,
        false,
    ));
    writer.expected.push((gap, vec![Some(out.2)]));
    writer.expected.push((dense.clone(), vec![Some(units)]));
    let p = (out.2 * units + units) as u64;
    writer.params += p;
    writer.trainable += p;
    model["config"]["layers"] = Value::Array(all);
    if !sequential {
        model["config"]["output_layers"] = match dialect {
            Dialect::K2 => json!([[dense, 0, 0]]),
            Dialect::K3 => json!([dense, 0, 0]),
        };
    }
    if dialect == Dialect::K2 {
        model["keras_version"] = json!("2.15.0");
    }
    (model, writer)
}

fn model_strategy() -> impl Strategy<Value = (Value, Writer)> {
    (
        prop::sample::select(vec![Dialect::K2, Dialect::K3]),
        any::<bool>(),
        spec_list(),
        (6usize..33, 6usize..33, 1usize..5),
        1usize..5,
    )
        .prop_map(|(dialect, sequential, body, input, units)| {
            write_model(dialect, sequential, &body, input, units)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_cnns_import_with_expected_shapes_and_counts((model, writer) in model_strategy()) {
        let text = model.to_string();
        let graph = graph_from_config_json(&text, "random.json")
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        for (path, shape) in &writer.expected {
            let id = graph.node_by_path(path)
                .ok_or_else(|| TestCaseError::fail(format!("no node {path}\n{text}")))?;
            prop_assert_eq!(&graph.nodes[id].output_shape, shape, "node {}", path);
        }
        let counts = graph.param_counts();
        prop_assert_eq!(counts.total, writer.params);
        prop_assert_eq!(counts.trainable, writer.trainable);
        prop_assert_eq!(counts.non_trainable, writer.params - writer.trainable);
        for (id, node) in graph.nodes.iter().enumerate() {
            prop_assert!(node.inputs.iter().all(|&i| i < id), "node {} reads a later node", node.path);
        }
        prop_assert_eq!(graph.inputs.len(), 1);
    }

    #[test]
    fn mutated_text_never_panics(
        (model, _w) in model_strategy(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, any::<u8>()), 1..8),
    ) {
        let mut bytes = model.to_string().into_bytes();
        for (at, how, byte) in edits {
            if bytes.is_empty() {
                break;
            }
            let i = at.index(bytes.len());
            match how {
                0 => bytes[i] = byte,
                1 => { bytes.remove(i); }
                _ => bytes.insert(i, byte),
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        let _ = graph_from_config_json(&text, "mutated.json");
    }

    #[test]
    fn mutated_values_never_panic(
        (model, _w) in model_strategy(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0usize..9), 1..4),
    ) {
        let mut model = model;
        let replacements = [json!(-1), json!(0), json!(1u64 << 40), json!("x"), Value::Null,
            json!([]), json!({}), json!([1 << 30, 1 << 30]), json!(2.5)];
        for (at, what) in edits {
            let mut slots = Vec::new();
            collect_slots(&model, &mut Vec::new(), &mut slots);
            if slots.is_empty() {
                break;
            }
            let path = &slots[at.index(slots.len())];
            if let Some(slot) = slot_mut(&mut model, path) {
                *slot = replacements[what].clone();
            }
        }
        match graph_from_config_json(&model.to_string(), "mutated.json") {
            Ok(graph) => {
                for (id, node) in graph.nodes.iter().enumerate() {
                    prop_assert!(node.inputs.iter().all(|&i| i < id));
                }
            }
            Err(e) => prop_assert!(e.kind != ErrorKind::Io),
        }
    }
}

#[derive(Clone)]
enum Step {
    Key(String),
    At(usize),
}

fn collect_slots(v: &Value, here: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(here.clone());
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                here.push(Step::Key(k.clone()));
                collect_slots(child, here, out);
                here.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                here.push(Step::At(i));
                collect_slots(child, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

fn slot_mut<'a>(v: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    path.iter().try_fold(v, |v, step| match step {
        Step::Key(k) => v.get_mut(k.as_str()),
        Step::At(i) => v.get_mut(*i),
    })
}

#[test]
fn lambda_and_unknown_layers_are_listed_together() {
    let (mut model, _) = write_model(Dialect::K3, true, &[Spec::Act("relu")], (8, 8, 3), 2);
    let layers = model["config"]["layers"].as_array_mut().expect("layers");
    layers.insert(1, json!({"class_name": "Mystery", "config": {"name": "m1"}, "registered_name": "pkg>Mystery"}));
    layers.insert(
        2,
        json!({"class_name": "Mystery2", "config": {"name": "m2"}}),
    );
    let err = graph_from_config_json(&model.to_string(), "u.json").unwrap_err();
    assert_eq!(err.kind, ErrorKind::UnknownLayer);
    assert!(
        err.message.contains("m1 (pkg>Mystery)") && err.message.contains("m2 (Mystery2)"),
        "{err}"
    );
    let layers = model["config"]["layers"].as_array_mut().expect("layers");
    layers.insert(
        3,
        json!({"class_name": "Lambda", "config": {"name": "lam", "function": "AAAA"}}),
    );
    let err = graph_from_config_json(&model.to_string(), "u.json").unwrap_err();
    assert_eq!(err.kind, ErrorKind::LambdaRefused);
    assert!(
        err.message.contains("lam") && err.message.contains("never decoded or run"),
        "{err}"
    );
}

/// `preprocess_input`'s ops as each dialect writes them: a slice with `spec` (a list of
/// entries), then, when `full`, the caffe and torch tails (Stack, a `__tensor__` mean,
/// `nn.bias_add`, a division by a list). Input `(8, 8, 3)`.
fn preprocess_config(dialect: Dialect, spec: Vec<Value>, full: bool) -> Value {
    let shape = json!([null, 8, 8, 3]);
    let t = |name: &str| {
        json!({"class_name": "__keras_tensor__",
        "config": {"shape": shape, "dtype": "float32", "keras_history": [name, 0, 0]}})
    };
    let op = |class: &str, name: &str, config: Value, args: Value| {
        json!({
        "module": "keras.src.ops.numpy", "class_name": class, "registered_name": class,
        "name": name, "config": config, "inbound_nodes": [{"args": args, "kwargs": {}}]})
    };
    let lambda = |class: &str, name: &str, function: &str, inbound: Value| {
        json!({
        "class_name": class, "name": name, "inbound_nodes": inbound,
        "config": {"name": name, "trainable": true, "dtype": "float32", "function": function}})
    };
    let mut layers = Vec::new();
    let last = match dialect {
        Dialect::K3 => {
            layers.push(
                json!({"module": "keras.layers", "class_name": "InputLayer", "name": "image",
                "config": {"batch_shape": shape, "dtype": "float32", "name": "image"},
                "registered_name": null, "inbound_nodes": []}),
            );
            layers.push(op(
                "GetItem",
                "s",
                json!({"name": "s"}),
                json!([t("image"), spec]),
            ));
            if full {
                for (i, c) in [2, 1, 0].iter().enumerate() {
                    let spec = json!([{"class_name": "__ellipsis__", "config": {}}, c]);
                    layers.push(op(
                        "GetItem",
                        &format!("c{i}"),
                        json!({"name": format!("c{i}")}),
                        json!([t("image"), spec]),
                    ));
                }
                layers.push(op(
                    "Stack",
                    "st",
                    json!({"name": "st", "axis": -1}),
                    json!([[t("c0"), t("c1"), t("c2")]]),
                ));
                let mean = json!({"class_name": "__tensor__",
                    "config": {"value": [[[[-103.9, -116.8, -123.7]]]], "dtype": "float32"}});
                layers.push(op("Add", "a", json!({"name": "a"}), json!([t("st"), mean])));
                let std = json!({"class_name": "__tensor__",
                    "config": {"value": [0.229, 0.224, 0.225], "dtype": "float32"}});
                layers.push(op(
                    "TrueDivide",
                    "d",
                    json!({"name": "d"}),
                    json!([t("a"), std]),
                ));
                "d"
            } else {
                "s"
            }
        }
        Dialect::K2 => {
            layers.push(
                json!({"class_name": "InputLayer", "name": "image", "inbound_nodes": [],
                "config": {"batch_input_shape": shape, "dtype": "float32", "name": "image"}}),
            );
            layers.push(lambda(
                "SlicingOpLambda",
                "s",
                "__operators__.getitem",
                json!([["image", 0, 0, {"slice_spec": spec}]]),
            ));
            if full {
                layers.push(lambda("TFOpLambda", "b", "nn.bias_add",
                    json!([["image", 0, 0, {"bias": [-0.485, -0.456, -0.406], "data_format": "NHWC"}]])));
                layers.push(lambda(
                    "TFOpLambda",
                    "d",
                    "math.truediv",
                    json!([["b", 0, 0, {"y": [0.229, 0.224, 0.225], "name": null}]]),
                ));
                layers.push(lambda(
                    "TFOpLambda",
                    "r",
                    "reverse",
                    json!([["d", 0, 0, {"axis": [-1]}]]),
                ));
                layers.push(lambda(
                    "TFOpLambda",
                    "st",
                    "stack",
                    json!([[["r", 0, 0, {"axis": -1}], ["d", 0, 0, {"axis": -1}]]]),
                ));
                "st"
            } else {
                "s"
            }
        }
    };
    json!({"class_name": "Functional", "keras_version": "2.21.0", "config": {"name": "m",
        "layers": layers, "input_layers": [["image", 0, 0]], "output_layers": [[last, 0, 0]]}})
}

/// One slice spec entry in `dialect`'s spelling: Ellipsis, an index, a new axis or a range.
fn slice_entry(dialect: Dialect) -> impl Strategy<Value = Value> {
    let bound = prop::option::of(-10i64..10);
    prop_oneof![
        Just(match dialect {
            Dialect::K3 => json!({"class_name": "__ellipsis__", "config": {}}),
            Dialect::K2 => json!({"class_name": "__ellipsis__"}),
        }),
        (-5i64..5).prop_map(|i| json!(i)),
        Just(Value::Null),
        (bound.clone(), bound, prop::option::of(-3i64..3)).prop_map(move |(start, stop, step)| {
            let range = json!({"start": start, "stop": stop, "step": step});
            match dialect {
                Dialect::K3 => json!({"class_name": "__slice__", "config": range}),
                Dialect::K2 => range,
            }
        }),
    ]
}

fn slice_case() -> impl Strategy<Value = (Dialect, Vec<Value>)> {
    prop_oneof![Just(Dialect::K3), Just(Dialect::K2)].prop_flat_map(|dialect| {
        (
            Just(dialect),
            prop::collection::vec(slice_entry(dialect), 0..6),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random slice specs in both dialects import with a shape of the right rank, or give a
    /// typed error (a second Ellipsis, a zero step, the batch axis sliced, an index out of
    /// range); never a panic.
    #[test]
    fn random_slice_specs_import_or_give_typed_errors((dialect, spec) in slice_case()) {
        let rank_change: i64 = spec
            .iter()
            .map(|e| match e {
                Value::Null => 1,
                Value::Number(_) => -1,
                _ => 0,
            })
            .sum();
        let model = preprocess_config(dialect, spec, false);
        match graph_from_config_json(&model.to_string(), "slice.json") {
            Ok(graph) => {
                let out = &graph.nodes[graph.outputs[0]].output_shape;
                prop_assert_eq!(out.len() as i64, 3 + rank_change);
                prop_assert!(out.iter().all(|d| d.is_some_and(|d| d <= 8)), "{:?}", out);
            }
            Err(e) => prop_assert!(
                matches!(e.kind, ErrorKind::UnsupportedOption | ErrorKind::InvalidGraph | ErrorKind::BadJson),
                "{e}"
            ),
        }
    }

    /// Hostile values anywhere in the caffe and torch op sequences of both dialects (slice
    /// specs, constant tensors, biases, axes, dtypes) give a typed error, never a panic.
    #[test]
    fn mutated_preprocess_ops_never_panic(
        k2 in any::<bool>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0usize..12), 1..4),
    ) {
        let dialect = if k2 { Dialect::K2 } else { Dialect::K3 };
        let spec = vec![json!({"class_name": "__ellipsis__"}), json!({"start": null, "stop": null, "step": -1})];
        let mut model = preprocess_config(dialect, spec, true);
        prop_assert!(graph_from_config_json(&model.to_string(), "pre.json").is_ok());
        let replacements = [json!(-7), json!(0), json!(1u64 << 40), json!("x"), Value::Null,
            json!([]), json!({}), json!([[1, 2], [3]]), json!(2.5),
            json!({"class_name": "__ellipsis__"}), json!({"step": 0}),
            json!({"class_name": "__tensor__", "config": {"value": [1, 2], "dtype": "int4"}})];
        for (at, what) in edits {
            let mut slots = Vec::new();
            collect_slots(&model, &mut Vec::new(), &mut slots);
            let path = &slots[at.index(slots.len())];
            if let Some(slot) = slot_mut(&mut model, path) {
                *slot = replacements[what].clone();
            }
        }
        if let Err(e) = graph_from_config_json(&model.to_string(), "pre.json") {
            prop_assert!(e.kind != ErrorKind::Io, "{e}");
        }
    }
}
