//! Property tests of gradcam-core on small random networks built directly from the IR
//! (random weights, no files): classic CAM equivalence, heatmap range, batch independence,
//! invariance to positive scaling of the head, and autodiff gradients against central
//! finite differences through every tracked layer kind.
//!
//! Weights and inputs are drawn by proptest (uniform in [-1, 1), then scaled per weight), so a
//! failure shrinks them; the plain tests take one fixed draw of the same strategies.

use gradcam_core::candle_core::Tensor;
use gradcam_core::{CamContext, CamMethod, CamRequest, Contribution, Network, Target};
use keras_import::{
    Activation, BinaryOp, Conv2dParams, Graph, Interpolation, Node, NodeId, Op, Operand, Padding,
    Pool2dParams, Shape, Weight,
};
use kerascam_tests::max_abs_diff;
use proptest::collection::{vec, VecStrategy};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};

/// `n` values drawn uniformly from [-1, 1) (shrinking towards 0): weights before their
/// scaling, and network inputs.
fn unit_values(n: usize) -> VecStrategy<std::ops::Range<f32>> {
    vec(-1.0f32..1.0, n)
}

/// One draw of `strategy`, the same on every run for a given `seed`: for the plain tests,
/// whose networks are too large to draw and shrink case by case.
fn sample<S: Strategy>(strategy: S, seed: u8) -> S::Value {
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]);
    let mut runner = TestRunner::new_with_rng(ProptestConfig::default(), rng);
    strategy
        .new_tree(&mut runner)
        .expect("the strategy rejects nothing")
        .current()
}

/// A graph whose weight values are still to be drawn: element `u` of weight `i` becomes
/// `u · scale_i + offset_i`, so each layer kind gets values of a sensible size.
struct Blueprint {
    graph: Graph,
    /// `(scale, offset)` of each weight, in the order of `graph.weights`.
    affine: Vec<(f32, f32)>,
}

impl Blueprint {
    /// How many values [`Blueprint::build`] takes: the number of weight elements.
    fn value_count(&self) -> usize {
        self.graph
            .weights
            .iter()
            .map(|w| w.shape.iter().product::<usize>())
            .sum()
    }

    /// The graph with its weights made from `values` (from [`unit_values`]), in order.
    fn build(&self, values: &[f32]) -> Graph {
        assert_eq!(
            values.len(),
            self.value_count(),
            "one value per weight element"
        );
        let mut graph = self.graph.clone();
        let mut rest = values;
        for (weight, &(scale, offset)) in graph.weights.iter_mut().zip(&self.affine) {
            let (mine, tail) = rest.split_at(weight.shape.iter().product());
            weight.data = mine.iter().map(|u| u * scale + offset).collect();
            rest = tail;
        }
        graph
    }
}

/// Builds a graph node by node, recording each weight's shape and scale (see [`Blueprint`]).
struct Builder {
    g: Graph,
    affine: Vec<(f32, f32)>,
}

fn conv(filters: usize, k: usize, s: usize, padding: Padding, groups: usize) -> Conv2dParams {
    Conv2dParams {
        filters,
        kernel: [k, k],
        strides: [s, s],
        dilation: [1, 1],
        padding,
        groups,
        use_bias: true,
        activation: Activation::Linear,
    }
}

fn out_len(len: usize, k: usize, s: usize, padding: Padding) -> usize {
    match padding {
        Padding::Same => len.div_ceil(s),
        Padding::Valid => (len - k) / s + 1,
    }
}

impl Builder {
    fn new(h: usize, w: usize, c: usize) -> Builder {
        let mut b = Builder {
            g: Graph::default(),
            affine: Vec::new(),
        };
        b.g.scopes.push(keras_import::Scope {
            path: String::new(),
            name: "model".into(),
            class_name: "Functional".into(),
            parent: None,
            input_shape: vec![Some(h), Some(w), Some(c)],
            output_shape: vec![],
        });
        let id = b.node(
            "input",
            Op::Input,
            vec![],
            vec![Some(h), Some(w), Some(c)],
            vec![],
        );
        b.g.inputs.push(id);
        b
    }

    fn shape(&self, id: NodeId) -> Shape {
        self.g.nodes[id].output_shape.clone()
    }

    fn dims(&self, id: NodeId) -> Vec<usize> {
        self.shape(id).iter().map(|d| d.unwrap_or(0)).collect()
    }

    /// A weight of `shape` whose drawn values `u` become `u · scale + offset`.
    fn weight(&mut self, shape: Vec<usize>, scale: f32, offset: f32) -> usize {
        self.affine.push((scale, offset));
        self.g.weights.push(Weight {
            name: format!("w{}", self.g.weights.len()),
            shape,
            data: Vec::new(),
            trainable: true,
        });
        self.g.weights.len() - 1
    }

    fn node(
        &mut self,
        name: &str,
        op: Op,
        inputs: Vec<NodeId>,
        out: Shape,
        weights: Vec<usize>,
    ) -> NodeId {
        let name = format!("{name}_{}", self.g.nodes.len());
        self.g.nodes.push(Node {
            path: name.clone(),
            name,
            call_index: 0,
            class_name: "Test".into(),
            scope: 0,
            op,
            inputs,
            output_shape: out,
            weights,
        });
        self.g.nodes.len() - 1
    }

    fn conv(&mut self, x: NodeId, p: Conv2dParams) -> NodeId {
        let [h, w, c] = self.dims(x)[..] else {
            panic!("conv on non-4D")
        };
        let (ho, wo) = (
            out_len(h, p.kernel[0], p.strides[0], p.padding),
            out_len(w, p.kernel[1], p.strides[1], p.padding),
        );
        let fan = (p.kernel[0] * p.kernel[1] * c / p.groups) as f32;
        let k = self.weight(
            vec![p.kernel[0], p.kernel[1], c / p.groups, p.filters],
            1.5 / fan.sqrt(),
            0.0,
        );
        let b = self.weight(vec![p.filters], 0.1, 0.0);
        self.node(
            "conv",
            Op::Conv2D(p),
            vec![x],
            vec![Some(ho), Some(wo), Some(p.filters)],
            vec![k, b],
        )
    }

    fn depthwise(&mut self, x: NodeId, k: usize, s: usize, padding: Padding, dm: usize) -> NodeId {
        let [h, w, c] = self.dims(x)[..] else {
            panic!("depthwise on non-4D")
        };
        let p = conv(c * dm, k, s, padding, c);
        let kw = self.weight(vec![k, k, c, dm], 1.0 / k as f32, 0.0);
        let b = self.weight(vec![c * dm], 0.1, 0.0);
        let out = vec![
            Some(out_len(h, k, s, padding)),
            Some(out_len(w, k, s, padding)),
            Some(c * dm),
        ];
        self.node(
            "dw",
            Op::DepthwiseConv2D {
                conv: p,
                depth_multiplier: dm,
            },
            vec![x],
            out,
            vec![kw, b],
        )
    }

    fn separable(
        &mut self,
        x: NodeId,
        filters: usize,
        k: usize,
        s: usize,
        padding: Padding,
    ) -> NodeId {
        let [h, w, c] = self.dims(x)[..] else {
            panic!("separable on non-4D")
        };
        let p = conv(filters, k, s, padding, 1);
        let dk = self.weight(vec![k, k, c, 1], 1.0 / k as f32, 0.0);
        let pk = self.weight(vec![1, 1, c, filters], 1.0 / (c as f32).sqrt(), 0.0);
        let b = self.weight(vec![filters], 0.1, 0.0);
        let out = vec![
            Some(out_len(h, k, s, padding)),
            Some(out_len(w, k, s, padding)),
            Some(filters),
        ];
        self.node(
            "sep",
            Op::SeparableConv2D {
                conv: p,
                depth_multiplier: 1,
            },
            vec![x],
            out,
            vec![dk, pk, b],
        )
    }

    fn transpose(
        &mut self,
        x: NodeId,
        filters: usize,
        k: usize,
        s: usize,
        padding: Padding,
    ) -> NodeId {
        let [h, w, c] = self.dims(x)[..] else {
            panic!("transpose on non-4D")
        };
        let p = conv(filters, k, s, padding, 1);
        let len = |l: usize| match padding {
            Padding::Same => l * s,
            Padding::Valid => l * s + k.saturating_sub(s),
        };
        let kw = self.weight(
            vec![k, k, filters, c],
            1.0 / ((k * k * c) as f32).sqrt(),
            0.0,
        );
        let b = self.weight(vec![filters], 0.1, 0.0);
        let out = vec![Some(len(h)), Some(len(w)), Some(filters)];
        self.node(
            "convT",
            Op::Conv2DTranspose {
                conv: p,
                output_padding: None,
            },
            vec![x],
            out,
            vec![kw, b],
        )
    }

    fn batch_norm(&mut self, x: NodeId) -> NodeId {
        let c = *self.dims(x).last().expect("rank");
        let g = self.weight(vec![c], 0.4, 1.0);
        let b = self.weight(vec![c], 0.2, 0.0);
        let m = self.weight(vec![c], 0.2, 0.0);
        let v = self.weight(vec![c], 0.3, 1.0);
        let op = Op::BatchNorm {
            axis: -1,
            epsilon: 1e-3,
            center: true,
            scale: true,
        };
        let s = self.shape(x);
        self.node("bn", op, vec![x], s, vec![g, b, m, v])
    }

    fn layer_norm(&mut self, x: NodeId) -> NodeId {
        let c = *self.dims(x).last().expect("rank");
        let g = self.weight(vec![c], 0.3, 1.0);
        let b = self.weight(vec![c], 0.2, 0.0);
        let s = self.shape(x);
        self.node(
            "ln",
            Op::LayerNorm {
                axes: vec![-1],
                epsilon: 1e-3,
                center: true,
                scale: true,
            },
            vec![x],
            s,
            vec![g, b],
        )
    }

    fn global_avg_pool(&mut self, x: NodeId) -> NodeId {
        let c = *self.dims(x).last().expect("rank");
        let op = Op::GlobalAvgPool2D { keepdims: false };
        self.node("gap", op, vec![x], vec![Some(c)], vec![])
    }

    fn zero_pad(&mut self, x: NodeId, padding: [[usize; 2]; 2]) -> NodeId {
        let [h, w, c] = self.dims(x)[..] else {
            panic!("padding on non-4D")
        };
        let out = vec![
            Some(h + padding[0][0] + padding[0][1]),
            Some(w + padding[1][0] + padding[1][1]),
            Some(c),
        ];
        self.node("zpad", Op::ZeroPadding2D { padding }, vec![x], out, vec![])
    }

    fn unary(&mut self, x: NodeId, op: Op) -> NodeId {
        let s = self.shape(x);
        self.node("unary", op, vec![x], s, vec![])
    }

    fn pool(&mut self, x: NodeId, max: bool, k: usize, s: usize, padding: Padding) -> NodeId {
        let [h, w, c] = self.dims(x)[..] else {
            panic!("pool on non-4D")
        };
        let p = Pool2dParams {
            pool: [k, k],
            strides: [s, s],
            padding,
        };
        let op = if max {
            Op::MaxPool2D(p)
        } else {
            Op::AvgPool2D(p)
        };
        let out = vec![
            Some(out_len(h, k, s, padding)),
            Some(out_len(w, k, s, padding)),
            Some(c),
        ];
        self.node("pool", op, vec![x], out, vec![])
    }

    fn binary(&mut self, a: NodeId, b: NodeId, op: BinaryOp) -> NodeId {
        let s = self.shape(a);
        self.node(
            "bin",
            Op::Binary {
                op,
                lhs: Operand::Input(0),
                rhs: Operand::Input(1),
            },
            vec![a, b],
            s,
            vec![],
        )
    }

    fn dense(&mut self, x: NodeId, units: usize, activation: Activation) -> NodeId {
        let mut s = self.shape(x);
        let inp = s.last().copied().flatten().expect("known last axis");
        let k = self.weight(vec![inp, units], 1.5 / (inp as f32).sqrt(), 0.0);
        let b = self.weight(vec![units], 0.1, 0.0);
        if let Some(l) = s.last_mut() {
            *l = Some(units);
        }
        self.node(
            "dense",
            Op::Dense {
                units,
                use_bias: true,
                activation,
            },
            vec![x],
            s,
            vec![k, b],
        )
    }

    fn finish(mut self, out: NodeId) -> Blueprint {
        self.g.outputs.push(out);
        Blueprint {
            graph: self.g,
            affine: self.affine,
        }
    }
}

/// A CAM method exposing the gradient itself: `Σ_k G_k · v_k` for a fixed channel vector.
struct GradientProbe(Vec<f32>);

impl CamMethod for GradientProbe {
    fn name(&self) -> &'static str {
        "gradient-probe"
    }

    fn relu_map(&self) -> bool {
        false
    }

    fn contribution(&self, ctx: &CamContext<'_>) -> gradcam_core::Result<Contribution> {
        let g = ctx.gradients()?;
        let v = Tensor::from_slice(&self.0, self.0.len(), g.device())?;
        Ok(Contribution::Map(g.broadcast_mul(&v)?.sum(3)?))
    }
}

const H: usize = 9;
const W: usize = 8;
const C: usize = 3;

/// A net that exercises every tracked layer kind after the early target `ident`.
fn kitchen_sink(variant: u8) -> (Blueprint, NodeId) {
    let mut b = Builder::new(H, W, C);
    let inp = b.g.inputs[0];
    let ident = b.unary(inp, Op::Identity);
    let pad = match variant % 2 {
        0 => Padding::Same,
        _ => Padding::Valid,
    };
    let trunk = kitchen_sink_trunk(&mut b, ident);
    let out = kitchen_sink_head(&mut b, trunk, pad);
    (b.finish(out), ident)
}

/// The kitchen sink's convolutions, pooling, resampling and merges at 6×5×8.
fn kitchen_sink_trunk(b: &mut Builder, ident: NodeId) -> NodeId {
    let resc = b.unary(
        ident,
        Op::Rescaling {
            scale: vec![0.9],
            offset: vec![0.05],
        },
    );
    let c1 = b.conv(resc, conv(8, 3, 2, Padding::Same, 1)); // 5x4
    let bn = b.batch_norm(c1);
    let act = b.unary(bn, Op::Activation(Activation::Relu6));
    let zp = b.zero_pad(act, [[1, 0], [0, 1]]);
    let dw = b.depthwise(zp, 3, 1, Padding::Same, 2); // 6x5x16
    let sw = b.unary(dw, Op::Activation(Activation::Swish));
    let gc = b.conv(sw, conv(8, 3, 1, Padding::Same, 4)); // grouped
    let gl = b.unary(gc, Op::Activation(Activation::Gelu { approximate: false }));
    let mp = b.pool(gl, true, 3, 2, Padding::Same); // 3x3
    let up = b.node(
        "up",
        Op::UpSampling2D {
            size: [2, 2],
            interpolation: Interpolation::Nearest,
        },
        vec![mp],
        vec![Some(6), Some(6), Some(8)],
        vec![],
    );
    let crop = b.node(
        "crop",
        Op::Cropping2D {
            cropping: [[0, 0], [0, 1]],
        },
        vec![up],
        vec![Some(6), Some(5), Some(8)],
        vec![],
    );
    let sep = b.separable(crop, 8, 3, 1, Padding::Same);
    let add = b.binary(sep, gl, BinaryOp::Add);
    let mx = b.binary(add, gl, BinaryOp::Maximum);
    b.unary(mx, Op::LeakyRelu { alpha: 0.2 })
}

/// The kitchen sink from average pooling (with `pad`) to the softmax output.
fn kitchen_sink_head(b: &mut Builder, lr: NodeId, pad: Padding) -> NodeId {
    let ap = b.pool(lr, false, 2, 2, pad); // same: 3x3 (odd), valid: 3x2
    let [ah, aw, _] = b.dims(ap)[..] else {
        unreachable!()
    };
    let bil = b.node(
        "bil",
        Op::UpSampling2D {
            size: [2, 2],
            interpolation: Interpolation::Bilinear,
        },
        vec![ap],
        vec![Some(ah * 2), Some(aw * 2), Some(8)],
        vec![],
    );
    let ct = b.transpose(bil, 6, 3, 2, pad);
    let el = b.unary(ct, Op::Activation(Activation::Elu { alpha: 1.0 }));
    let ln = b.layer_norm(el);
    let th = b.unary(ln, Op::Activation(Activation::Tanh));
    let hs = b.unary(th, Op::Activation(Activation::HardSwish));
    let c2 = b.conv(hs, conv(6, 3, 2, Padding::Valid, 1));
    let sg = b.unary(c2, Op::Activation(Activation::Sigmoid));
    let rl = b.unary(
        sg,
        Op::Relu {
            max_value: Some(0.8),
            negative_slope: 0.1,
            threshold: 0.1,
        },
    );
    let mul = b.binary(rl, sg, BinaryOp::Multiply);
    let cat = b.node(
        "cat",
        Op::Concatenate { axis: -1 },
        vec![mul, rl],
        {
            let mut s = b.shape(mul);
            s[2] = Some(12);
            s
        },
        vec![],
    );
    let gap = b.global_avg_pool(cat);
    let gmp = b.node(
        "gmp",
        Op::GlobalMaxPool2D { keepdims: false },
        vec![cat],
        vec![Some(12)],
        vec![],
    );
    let fl = b.node(
        "flat",
        Op::Flatten,
        vec![cat],
        vec![Some(b.dims(cat).iter().product())],
        vec![],
    );
    let d0 = b.dense(fl, 12, Activation::Softplus);
    let sum = b.node(
        "merge",
        Op::Merge {
            op: BinaryOp::Add,
            average: true,
        },
        vec![gap, gmp, d0],
        vec![Some(12)],
        vec![],
    );
    b.dense(sum, 4, Activation::Softmax)
}

/// A kitchen-sink variant and as many drawn weight values as its network takes.
fn kitchen_sink_weights() -> impl Strategy<Value = (u8, Vec<f32>)> {
    (0u8..2).prop_flat_map(|variant| {
        let count = kitchen_sink(variant).0.value_count();
        (Just(variant), unit_values(count))
    })
}

fn request(layer: &Graph, target: NodeId, class: usize) -> CamRequest {
    CamRequest::for_layer(
        Some(layer.nodes[target].path.clone()),
        vec![Target::Class(class)],
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    /// (e) The autodiff gradient at an early target agrees with central finite differences.
    #[test]
    fn gradient_matches_finite_differences(
        (variant, weights) in kitchen_sink_weights(),
        class in 0usize..4,
        x in unit_values(H * W * C),
        v in unit_values(C),
        directions in vec(unit_values(H * W), 16),
    ) {
        let (blueprint, target) = kitchen_sink(variant);
        let graph = blueprint.build(&weights);
        let net = Network::load(&graph, &kerascam_tests::device()).expect("load");
        let probe = GradientProbe(v.clone());
        let cam = net.cam_with(&probe, &x, 1, &request(&graph, target, class)).expect("cam");
        let autodiff = &cam[0][0].raw_cam;
        // Small enough that kinks rarely fall within ±eps, large enough that the score
        // differences stand well above f32 rounding.
        let eps = 1e-3f64;
        let score = |x: &[f32]| net.predict(x, 1).expect("predict")[0].logits[class] as f64;
        let s0 = score(&x);
        let (mut smooth, mut bad) = (0usize, 0usize);
        let mut report = String::new();
        // Up to 16 random directions, until 8 of them are smooth at x.
        for direction in &directions {
            if smooth == 8 {
                break;
            }
            // Direction u[p, k] = a[p] · v[k]: its predicted derivative is Σ_p a[p] · probe[p].
            let a: Vec<f64> = direction.iter().copied().map(f64::from).collect();
            let moved = |sign: f64| -> Vec<f32> {
                x.iter().enumerate().map(|(i, &xi)| (xi as f64 + sign * eps * a[i / C] * v[i % C] as f64) as f32).collect()
            };
            let (sp, sm) = (score(&moved(1.0)), score(&moved(-1.0)));
            let predicted: f64 = a.iter().zip(autodiff).map(|(a, g)| a * *g as f64).sum();
            let magnitude: f64 = a.iter().zip(autodiff).map(|(a, g)| (a * *g as f64).abs()).sum();
            // f32 rounding of the forward passes, as a derivative error.
            let noise = 2e-7 * sp.abs().max(sm.abs()).max(s0.abs()).max(1.0) / eps;
            let fd = (sp - sm) / (2.0 * eps);
            // A kink (ReLU edge, max-pool winner change) within ±eps shows as one-sided slopes
            // that disagree; such a direction says nothing about the backward pass.
            let (forward, backward) = ((sp - s0) / eps, (s0 - sm) / eps);
            if (forward - backward).abs() > 6e-2 * magnitude + noise {
                continue;
            }
            smooth += 1;
            if (fd - predicted).abs() > 3e-2 * magnitude + noise {
                bad += 1;
                report.push_str(&format!("fd {fd:.6e} autodiff {predicted:.6e} (sum |terms| {magnitude:.3e}); "));
            }
        }
        // Smoothness depends on the forward pass only: a point with too few smooth directions
        // is a poor place to test the backward pass, not a failure of it.
        prop_assume!(smooth >= 4, "fewer than 4 of 16 directions are smooth");
        // A wrong backward pass spoils every smooth direction; kinks that line up within ±eps
        // can still spoil one.
        prop_assert!(bad <= 1, "{bad} of {smooth} smooth directions disagree: {report}");
    }
}

/// Conv → ReLU → GAP → Dense(softmax): the setting where Grad-CAM equals classic CAM.
fn gap_dense() -> (Blueprint, NodeId, usize) {
    let mut b = Builder::new(H, W, C);
    let inp = b.g.inputs[0];
    let mut p = conv(6, 3, 1, Padding::Same, 1);
    p.activation = Activation::Relu;
    let feat = b.conv(inp, p);
    let gap = b.global_avg_pool(feat);
    let out = b.dense(gap, 3, Activation::Softmax);
    let kernel = b.g.nodes[out].weights[0];
    (b.finish(out), feat, kernel)
}

/// Classic CAM `ReLU(Σ_k W[k, c] · A_k)` from the Dense kernel.
struct ClassicCam(Vec<f32>);

impl CamMethod for ClassicCam {
    fn name(&self) -> &'static str {
        "classic-cam"
    }

    fn contribution(&self, ctx: &CamContext<'_>) -> gradcam_core::Result<Contribution> {
        let a = ctx.activations();
        let w = Tensor::from_slice(&self.0, self.0.len(), a.device())?;
        Ok(Contribution::Map(a.broadcast_mul(&w)?.sum(3)?.relu()?))
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    /// (a) With a GAP → Dense head, Grad-CAM equals classic CAM from the Dense weights.
    #[test]
    fn gap_dense_gradcam_is_classic_cam(
        weights in unit_values(gap_dense().0.value_count()),
        class in 0usize..3,
        x in unit_values(H * W * C),
    ) {
        let (blueprint, feat, kernel) = gap_dense();
        let graph = blueprint.build(&weights);
        let net = Network::load(&graph, &kerascam_tests::device()).expect("load");
        let k = &graph.weights[kernel];
        let column: Vec<f32> = (0..6).map(|i| k.data[i * 3 + class]).collect();
        let req = request(&graph, feat, class);
        let grad = net.grad_cam(&x, 1, &req).expect("grad-cam");
        let classic = net.cam_with(&ClassicCam(column), &x, 1, &req).expect("cam");
        // Grad-CAM's raw map is classic CAM's divided by h·w; compared raw, since a map whose
        // maximum is near 0 turns f32 rounding into large normalised differences.
        let (g, c) = (&grad[0][0], &classic[0][0]);
        let hw = (g.height * g.width) as f32;
        let scale = 1.0 + c.heatmap_max_raw.abs();
        for (a, b) in g.raw_cam.iter().zip(&c.raw_cam) {
            prop_assert!((a * hw - b).abs() <= 1e-5 * scale, "{a} x {hw} vs {b}");
        }
        if c.heatmap_max_raw > 1e-2 {
            prop_assert!(max_abs_diff(&g.heatmap, &c.heatmap) <= 1e-3);
        }
    }

    /// (b) Heatmaps lie in [0, 1] and reach 1 unless all zero; (c) a batch equals one image
    /// at a time; (d) scaling the last Dense kernel and bias by c > 0 leaves them unchanged.
    #[test]
    fn heatmap_range_batch_and_scale_invariance(
        (variant, weights) in kitchen_sink_weights(),
        factor in 0.1f32..10.0,
        x in unit_values(3 * H * W * C),
    ) {
        let mut graph = kitchen_sink(variant).0.build(&weights);
        let net = Network::load(&graph, &kerascam_tests::device()).expect("load");
        let n = 3;
        let req = CamRequest::for_layer(None, Target::top_k(2));
        let batch = net.grad_cam(&x, n, &req).expect("batch");
        for (i, per_image) in batch.iter().enumerate() {
            let alone = net.grad_cam(&x[i * H * W * C..(i + 1) * H * W * C], 1, &req).expect("alone");
            for (r, a) in per_image.iter().zip(&alone[0]) {
                let max = r.heatmap.iter().copied().fold(0f32, f32::max);
                prop_assert!(r.heatmap.iter().all(|v| (0.0..=1.0).contains(v)));
                prop_assert!(max == 1.0 || r.heatmap.iter().all(|&v| v == 0.0));
                prop_assert_eq!(r.class, a.class);
                // Batch and single-image matmuls sum in different orders; when the map's
                // terms cancel (max_raw ≪ the terms) that f32 reordering shows at ~1e-5.
                let diff = max_abs_diff(&r.heatmap, &a.heatmap);
                prop_assert!(diff <= 1e-4, "batch and alone differ by {diff}");
                prop_assert!(max_abs_diff(&r.logits, &a.logits) <= 1e-5);
            }
        }
        let out = graph.outputs[0];
        for &w in &graph.nodes[out].weights.clone() {
            for v in &mut graph.weights[w].data {
                *v *= factor;
            }
        }
        let scaled = Network::load(&graph, &kerascam_tests::device()).expect("load scaled");
        let classes: Vec<Target> = batch[0].iter().map(|r| Target::Class(r.class)).collect();
        let fixed = CamRequest::for_layer(None, classes);
        let before = net.grad_cam(&x[..H * W * C], 1, &fixed).expect("before");
        let after = scaled.grad_cam(&x[..H * W * C], 1, &fixed).expect("after");
        for (a, b) in before[0].iter().zip(&after[0]) {
            prop_assert!(max_abs_diff(&a.heatmap, &b.heatmap) <= 1e-4, "scaling by {factor} changed the heatmap");
        }
    }
}

/// conv → BN → ReLU6 → ZeroPadding → depthwise → BN → swish → (+ 1×1 conv) → ReLU → conv
/// block (shortcut 1×1 conv, main 1×1 conv, then their BNs, sum, ReLU) → GAP → Dense (the 1×1
/// convolutions finish the residual sums and their ReLUs). With `separated`,
/// Identity layers between each padding, conv, BN, sum and activation stop the executor
/// from folding them together. Returns the graph and the
/// layers of the folded chains.
fn fold_chain(separated: bool) -> (Blueprint, Vec<NodeId>) {
    let mut b = Builder::new(H, W, C);
    let inp = b.g.inputs[0];
    let separate = |b: &mut Builder, x: NodeId| {
        if separated {
            b.unary(x, Op::Identity)
        } else {
            x
        }
    };
    let c1 = b.conv(inp, conv(8, 3, 2, Padding::Same, 1));
    let g1 = separate(&mut b, c1);
    let bn1 = b.batch_norm(g1);
    let g2 = separate(&mut b, bn1);
    let a1 = b.unary(
        g2,
        Op::Relu {
            max_value: Some(6.0),
            negative_slope: 0.0,
            threshold: 0.0,
        },
    );
    let zp = b.zero_pad(a1, [[1, 0], [0, 1]]);
    let g0 = separate(&mut b, zp);
    let d = b.depthwise(g0, 3, 1, Padding::Valid, 1);
    let g3 = separate(&mut b, d);
    let bn2 = b.batch_norm(g3);
    let g4 = separate(&mut b, bn2);
    let a2 = b.unary(g4, Op::Activation(Activation::Swish));
    let p0 = b.conv(a2, conv(8, 1, 1, Padding::Same, 1));
    let proj = separate(&mut b, p0);
    let sum = b.binary(a2, proj, BinaryOp::Add);
    let g5 = separate(&mut b, sum);
    let a3 = b.unary(g5, Op::Activation(Activation::Relu));
    // A conv block as Keras lists it: shortcut conv, main conv, then both BNs and the sum.
    let sc = b.conv(a3, conv(8, 1, 1, Padding::Same, 1));
    let main = b.conv(a3, conv(8, 1, 1, Padding::Same, 1));
    let g6 = separate(&mut b, sc);
    let sc_bn = b.batch_norm(g6);
    let g7 = separate(&mut b, main);
    let main_bn = b.batch_norm(g7);
    let sum2 = b.binary(sc_bn, main_bn, BinaryOp::Add);
    let g8 = separate(&mut b, sum2);
    let a4 = b.unary(g8, Op::Activation(Activation::Relu));
    let pooled = b.global_avg_pool(a4);
    let out = b.dense(pooled, 4, Activation::Softmax);
    let layers = vec![
        c1, bn1, a1, zp, d, bn2, a2, p0, sum, a3, sc, main, sc_bn, main_bn, sum2, a4,
    ];
    (b.finish(out), layers)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, .. ProptestConfig::default() })]

    /// Folding zero padding, BatchNormalization and activations into convolutions changes
    /// nothing, whichever layer of the folded chain is the target.
    #[test]
    fn folding_is_invisible_at_every_target(
        weights in unit_values(fold_chain(false).0.value_count()),
        class in 0usize..4,
        x in unit_values(2 * H * W * C),
    ) {
        // The Identity layers carry no weights: both chains take the same values in order.
        let ((fused, fused_layers), (plain, plain_layers)) = (fold_chain(false), fold_chain(true));
        let (fused, plain) = (fused.build(&weights), plain.build(&weights));
        let (fused_net, plain_net) = (
            Network::load(&fused, &kerascam_tests::device()).expect("load"),
            Network::load(&plain, &kerascam_tests::device()).expect("load"),
        );
        let (fused_debug, plain_debug) = (format!("{fused_net:?}"), format!("{plain_net:?}"));
        prop_assert!(fused_debug.contains("fused_residual_sums: 2"), "{}", fused_debug);
        prop_assert!(plain_debug.contains("fused_residual_sums: 0"), "{}", plain_debug);
        for (&f, &p) in fused_layers.iter().zip(&plain_layers) {
            let a = fused_net.grad_cam(&x, 2, &request(&fused, f, class)).expect("fused");
            let b = plain_net.grad_cam(&x, 2, &request(&plain, p, class)).expect("plain");
            for (ra, rb) in a.iter().flatten().zip(b.iter().flatten()) {
                let scale = ra.raw_cam.iter().chain(&rb.raw_cam).fold(1e-6f32, |m, v| m.max(v.abs()));
                let diff = max_abs_diff(&ra.raw_cam, &rb.raw_cam);
                // Relative to the largest map value, with a floor for maps that are all ~0.
                prop_assert!(diff <= 1e-4 * scale + 1e-8, "target {}: raw maps differ by {diff} (scale {scale})", fused.nodes[f].path);
                prop_assert!(max_abs_diff(&ra.logits, &rb.logits) <= 1e-5);
            }
        }
    }
}

/// Asserts that Grad-CAM of class 1 on batch `x` (2 images) gives the same raw maps (within
/// 1e-4 of the largest value) and logits (within `logit_tol`) for network `a` at each layer
/// of its chain as for network `b` at the matching layer of its own.
fn assert_same_cams(
    (a_net, a_graph, a_layers): (&Network, &Graph, &[NodeId]),
    (b_net, b_graph, b_layers): (&Network, &Graph, &[NodeId]),
    x: &[f32],
    logit_tol: f32,
) {
    for (&la, &lb) in a_layers.iter().zip(b_layers) {
        let path = &a_graph.nodes[la].path;
        let got = a_net.grad_cam(x, 2, &request(a_graph, la, 1)).expect(path);
        let want = b_net.grad_cam(x, 2, &request(b_graph, lb, 1)).expect(path);
        for (ra, rb) in got.iter().flatten().zip(want.iter().flatten()) {
            let scale = ra
                .raw_cam
                .iter()
                .chain(&rb.raw_cam)
                .fold(1e-6f32, |m, v| m.max(v.abs()));
            let diff = max_abs_diff(&ra.raw_cam, &rb.raw_cam);
            assert!(
                diff <= 1e-4 * scale + 1e-8,
                "target {path}: maps differ by {diff} (scale {scale})"
            );
            assert!(
                max_abs_diff(&ra.logits, &rb.logits) <= logit_tol,
                "target {path}: logits"
            );
        }
    }
}

/// 3×3 conv → ReLU → two 1×1 blocks of 512 × 512 weights (each BN, ReLU; the second
/// finished by a residual sum) → GAP → Dense, on 4×4×512 images: the 1×1 kernels are large
/// enough for the executor to hold them as panels. With `as_dense`, each 1×1 convolution is
/// the same product written as a Dense layer over the channels, whose kernel stays in rows.
/// Returns the graph and the layers from the first ReLU on.
fn panel_chain(as_dense: bool) -> (Blueprint, Vec<NodeId>) {
    let (h, w, c) = (4, 4, 512);
    let mut b = Builder::new(h, w, c);
    let inp = b.g.inputs[0];
    let c0 = b.conv(inp, conv(c, 3, 1, Padding::Same, 1));
    let a0 = b.unary(c0, Op::Activation(Activation::Relu));
    let pointwise = |b: &mut Builder, x: NodeId| {
        if as_dense {
            b.dense(x, c, Activation::Linear)
        } else {
            b.conv(x, conv(c, 1, 1, Padding::Same, 1))
        }
    };
    let p1 = pointwise(&mut b, a0);
    let bn1 = b.batch_norm(p1);
    let a1 = b.unary(bn1, Op::Activation(Activation::Relu));
    let p2 = pointwise(&mut b, a1);
    let bn2 = b.batch_norm(p2);
    let sum = b.binary(bn2, a1, BinaryOp::Add);
    let a2 = b.unary(sum, Op::Activation(Activation::Relu));
    let pooled = b.global_avg_pool(a2);
    let out = b.dense(pooled, 4, Activation::Softmax);
    (b.finish(out), vec![a0, p1, bn1, a1, p2, bn2, sum, a2])
}

/// Kernels held as panels change nothing, whichever layer is the target: before them (they
/// run on the tracked path, put back in rows), the convolution itself (its BatchNormalization
/// taken out of the panels again) or after them.
#[test]
fn panels_are_invisible_at_every_target() {
    for seed in [1, 2] {
        // A 1×1 kernel and its Dense twin hold the same values in the same order.
        let ((convs, conv_layers), (dense, dense_layers)) = (panel_chain(false), panel_chain(true));
        let weights = sample(unit_values(convs.value_count()), seed);
        let (convs, dense) = (convs.build(&weights), dense.build(&weights));
        let conv_net = Network::load(&convs, &kerascam_tests::device()).expect("load");
        let dense_net = Network::load(&dense, &kerascam_tests::device()).expect("load");
        let debug = format!("{conv_net:?}");
        assert!(debug.contains("kernels_as_panels: 2"), "{debug}");
        assert!(format!("{dense_net:?}").contains("kernels_as_panels: 0"));
        let x = sample(unit_values(2 * 4 * 4 * 512), seed + 10);
        assert_same_cams(
            (&conv_net, &convs, &conv_layers),
            (&dense_net, &dense, &dense_layers),
            &x,
            1e-4,
        );
    }
}

/// 1×1 expansion (256 channels) → BN → ReLU6 → ZeroPadding → stride-2 depthwise → BN → ReLU6
/// → 1×1 projection → GAP → Dense, on 64×64×4 images: at batch 2 the expanded tensor
/// (2.1 M values) is large enough for the executor to compute the expansion inside the
/// depthwise convolution. With `separated`, Identity layers stop every fold. Returns the
/// graph and the layers of the chain.
fn expansion_chain(separated: bool) -> (Blueprint, Vec<NodeId>) {
    let mut b = Builder::new(64, 64, 4);
    let inp = b.g.inputs[0];
    let separate = |b: &mut Builder, x: NodeId| {
        if separated {
            b.unary(x, Op::Identity)
        } else {
            x
        }
    };
    let relu6 = Op::Relu {
        max_value: Some(6.0),
        negative_slope: 0.0,
        threshold: 0.0,
    };
    let expand = b.conv(inp, conv(256, 1, 1, Padding::Same, 1));
    let g1 = separate(&mut b, expand);
    let bn1 = b.batch_norm(g1);
    let g2 = separate(&mut b, bn1);
    let a1 = b.unary(g2, relu6.clone());
    let g3 = separate(&mut b, a1);
    let zp = b.zero_pad(g3, [[0, 1], [0, 1]]);
    let g4 = separate(&mut b, zp);
    let d = b.depthwise(g4, 3, 2, Padding::Valid, 1);
    let bn2 = b.batch_norm(d);
    let a2 = b.unary(bn2, relu6);
    let proj = b.conv(a2, conv(8, 1, 1, Padding::Same, 1));
    let pooled = b.global_avg_pool(proj);
    let out = b.dense(pooled, 4, Activation::Softmax);
    (b.finish(out), vec![expand, bn1, a1, zp, d, bn2, a2, proj])
}

/// Computing the expansion inside the depthwise convolution changes nothing, whichever layer
/// of the chain is the target (inside it, the layers run apart).
#[test]
fn expansion_fused_into_depthwise_is_invisible_at_every_target() {
    for seed in [1, 2] {
        let ((fused, fused_layers), (plain, plain_layers)) =
            (expansion_chain(false), expansion_chain(true));
        let weights = sample(unit_values(fused.value_count()), seed);
        let (fused, plain) = (fused.build(&weights), plain.build(&weights));
        let fused_net = Network::load(&fused, &kerascam_tests::device()).expect("load");
        let plain_net = Network::load(&plain, &kerascam_tests::device()).expect("load");
        assert!(
            format!("{fused_net:?}").contains("fused_expansions: 1"),
            "{fused_net:?}"
        );
        assert!(
            format!("{plain_net:?}").contains("fused_expansions: 0"),
            "{plain_net:?}"
        );
        let x = sample(unit_values(2 * 64 * 64 * 4), seed + 10);
        assert_same_cams(
            (&fused_net, &fused, &fused_layers),
            (&plain_net, &plain, &plain_layers),
            &x,
            1e-5,
        );
    }
}

/// `load_releasing` frees the graph's weight values and runs exactly like `load`.
#[test]
fn load_releasing_matches_load_and_frees_the_weights() {
    let blueprint = kitchen_sink(0).0;
    let graph = blueprint.build(&sample(unit_values(blueprint.value_count()), 7));
    let mut released = graph.clone();
    let kept = Network::load(&graph, &kerascam_tests::device()).expect("load");
    let taken =
        Network::load_releasing(&mut released, &kerascam_tests::device()).expect("load_releasing");
    assert!(released.weights.iter().all(|w| w.data.is_empty()));
    assert_eq!(released.param_counts(), graph.param_counts());
    let x = sample(unit_values(2 * H * W * C), 5);
    assert_eq!(
        kept.predict(&x, 2).expect("kept"),
        taken.predict(&x, 2).expect("taken")
    );
}
