//! Runs one node: its operation on NHWC tensors, returning the value before the layer's fused
//! activation together with that activation (so a classifier's logits can be read off).

use candle_core::Tensor;
use keras_import::{Activation, BinaryOp, Interpolation, Node, Op, Operand, Padding};

use crate::cpu::{self, Epilogue, ZeroPad, NO_PAD};
use crate::error::{CamError, ErrorKind, Result};
use crate::ops::{activation, conv, pool, resize};
use crate::prepare::{kernel_rows, norm_axis, Layer};

/// A node's result: the value before its fused activation, and that activation.
pub(crate) struct Evaluated {
    /// Value before the fused activation (the logits of a classifier layer).
    pub pre: Tensor,
    /// The fused activation still to apply.
    pub activation: Activation,
}

/// How a node is to run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fusion {
    /// The activation of a following layer folded into this convolution.
    pub activation: Option<Activation>,
    /// Whether the CPU kernels may apply the activation in place (not when the node's
    /// pre-activation value is needed, as for the logits layer).
    pub fast: bool,
    /// The zero padding of a ZeroPadding2D layer folded into this convolution.
    pub pad: ZeroPad,
}

/// `x` zero-padded by `pad` (on the CPU fast path when it can).
fn zero_padded(x: &Tensor, pad: ZeroPad) -> Result<Tensor> {
    if pad == NO_PAD {
        return Ok(x.clone());
    }
    Ok(match cpu::zero_pad(x, pad)? {
        Some(y) => y,
        None => x
            .pad_with_zeros(1, pad[0][0], pad[0][1])?
            .pad_with_zeros(2, pad[1][0], pad[1][1])?,
    })
}

/// Runs an op that a CPU kernel can finish with an activation (convolutions, residual sums):
/// through `fast_kernel` (applying the activation in place when it can) if allowed and
/// possible, else through `generic`, leaving the activation to the caller.
fn with_epilogue(
    fusion: Fusion,
    activation: Activation,
    fast_kernel: impl FnOnce(Epilogue) -> Result<Option<Tensor>>,
    generic: impl FnOnce() -> Result<Tensor>,
) -> Result<Evaluated> {
    if let Some(e) = on_fast_kernel(fusion, activation, fast_kernel)? {
        return Ok(e);
    }
    Ok(Evaluated {
        pre: generic()?,
        activation,
    })
}

/// The fast half of [`with_epilogue`]: `fast_kernel`'s result, with `activation` applied by
/// it when it has an epilogue (else left to the caller); `None` when the kernel may not or
/// cannot run.
fn on_fast_kernel(
    fusion: Fusion,
    activation: Activation,
    fast_kernel: impl FnOnce(Epilogue) -> Result<Option<Tensor>>,
) -> Result<Option<Evaluated>> {
    if !fusion.fast {
        return Ok(None);
    }
    let epilogue = Epilogue::of(activation);
    let y = fast_kernel(epilogue.unwrap_or(Epilogue::Linear))?;
    Ok(y.map(|pre| Evaluated {
        pre,
        activation: if epilogue.is_some() {
            Activation::Linear
        } else {
            activation
        },
    }))
}

/// The 1×1 stride-1 window of a pointwise convolution.
fn pointwise_window() -> conv::Window2d {
    conv::Window2d::new([1, 1], [1, 1], [1, 1], Padding::Valid)
}

fn linear(t: Tensor) -> Evaluated {
    Evaluated {
        pre: t,
        activation: Activation::Linear,
    }
}

fn unsupported(msg: String) -> CamError {
    CamError::new(ErrorKind::Unsupported, msg)
}

fn first(inputs: &[Tensor]) -> Result<&Tensor> {
    inputs
        .first()
        .ok_or_else(|| CamError::new(ErrorKind::InvalidGraph, "node has no input"))
}

fn binary(op: BinaryOp, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    Ok(match op {
        BinaryOp::Add => a.broadcast_add(b)?,
        BinaryOp::Subtract => a.broadcast_sub(b)?,
        BinaryOp::Multiply => a.broadcast_mul(b)?,
        BinaryOp::Divide => a.broadcast_div(b)?,
        BinaryOp::Maximum => activation::select_extreme(a, b, false)?,
        BinaryOp::Minimum => activation::select_extreme(a, b, true)?,
    })
}

/// Folds `op` over all inputs, left to right.
fn reduce(op: BinaryOp, inputs: &[Tensor]) -> Result<Tensor> {
    let mut acc = first(inputs)?.clone();
    for other in &inputs[1..] {
        acc = binary(op, &acc, other)?;
    }
    Ok(acc)
}

fn operand(o: Operand, inputs: &[Tensor], like: &Tensor) -> Result<Tensor> {
    match o {
        Operand::Input(i) => inputs.get(i).cloned().ok_or_else(|| {
            CamError::new(
                ErrorKind::InvalidGraph,
                format!("operand refers to missing input {i}"),
            )
        }),
        Operand::Scalar(v) => Ok(Tensor::full(v, (), like.device())?),
    }
}

fn reshape_per_sample(x: &Tensor, target: &[i64]) -> Result<Tensor> {
    let n = x.dim(0)?;
    let per = x.elem_count() / n.max(1);
    let known: i64 = target.iter().filter(|&&d| d >= 0).product();
    let mut dims = vec![n];
    for &d in target {
        if d >= 0 {
            dims.push(d as usize);
        } else if known > 0 && per as i64 % known == 0 {
            dims.push(per / known as usize);
        } else {
            return Err(CamError::new(
                ErrorKind::InvalidGraph,
                format!("cannot reshape {:?} to {target:?}", x.dims()),
            ));
        }
    }
    if dims.iter().skip(1).product::<usize>() != per {
        return Err(CamError::new(
            ErrorKind::InvalidGraph,
            format!("cannot reshape {:?} to {target:?}", x.dims()),
        ));
    }
    Ok(x.reshape(dims)?)
}

fn conv_out_size(
    input: usize,
    win: &conv::Window2d,
    axis: usize,
    output_padding: Option<[usize; 2]>,
) -> usize {
    let aw = if axis == 0 { win.h } else { win.w };
    let extent = aw.extent();
    match output_padding {
        None => match win.padding {
            Padding::Valid => input * aw.stride + extent.saturating_sub(aw.stride),
            Padding::Same => input * aw.stride,
        },
        Some(op) => {
            let pad = if win.padding == Padding::Same {
                extent / 2
            } else {
                0
            };
            ((input.max(1) - 1) * aw.stride + extent + op[axis]).saturating_sub(2 * pad)
        }
    }
}

/// A 1×1 expansion convolution left to the depthwise convolution that reads it: its node,
/// prepared layer, and how it would run on its own.
pub(crate) struct ExpansionStep<'a> {
    /// The convolution node.
    pub node: &'a Node,
    /// Its prepared parameters.
    pub layer: &'a Layer,
    /// How it would run on its own.
    pub fusion: Fusion,
}

/// Evaluates depthwise `node` (prepared `layer`, `fusion`) on what `expansion` makes of `x`:
/// as one CPU kernel when it can, else the two layers one after the other.
pub(crate) fn evaluate_after_expansion(
    expansion: &ExpansionStep<'_>,
    node: &Node,
    layer: &Layer,
    x: &Tensor,
    fusion: Fusion,
) -> Result<Evaluated> {
    if let Some(e) = fused_expansion(expansion, node, layer, x, fusion)? {
        return Ok(e);
    }
    let e = evaluate(
        expansion.node,
        expansion.layer,
        std::slice::from_ref(x),
        expansion.fusion,
    )?;
    let expanded = activation::apply(&e.pre, e.activation)?;
    evaluate(node, layer, &[expanded], fusion)
}

/// [`evaluate_after_expansion`] as one CPU kernel; `None` when it cannot run so.
fn fused_expansion(
    expansion: &ExpansionStep<'_>,
    node: &Node,
    layer: &Layer,
    x: &Tensor,
    fusion: Fusion,
) -> Result<Option<Evaluated>> {
    let (
        Op::Conv2D(expand),
        Layer::Conv {
            kernel: expand_kernel,
            bias: expand_bias,
            grouped: false,
            arranged: false,
            ..
        },
    ) = (&expansion.node.op, expansion.layer)
    else {
        return Ok(None);
    };
    let (
        Op::DepthwiseConv2D { conv: p, .. },
        Layer::Depthwise {
            win,
            kernel,
            multiplier: 1,
            bias,
        },
    ) = (&node.op, layer)
    else {
        return Ok(None);
    };
    let expand_activation = expansion.fusion.activation.unwrap_or(expand.activation);
    let Some(expand_epilogue) = Epilogue::of(expand_activation) else {
        return Ok(None);
    };
    if !expansion.fusion.fast {
        return Ok(None);
    }
    let steps = cpu::Expansion {
        kernel: expand_kernel,
        bias: expand_bias.as_ref(),
        epilogue: expand_epilogue,
    };
    on_fast_kernel(fusion, fusion.activation.unwrap_or(p.activation), |ep| {
        cpu::expanded_depthwise_conv2d(x, &steps, (kernel, bias.as_ref()), win, fusion.pad, ep)
    })
}

/// Evaluates `node` (with prepared parameters `layer`) on `inputs`.
pub(crate) fn evaluate(
    node: &Node,
    layer: &Layer,
    inputs: &[Tensor],
    fusion: Fusion,
) -> Result<Evaluated> {
    let x = first(inputs)?;
    let rank = x.rank();
    let out = match (&node.op, layer) {
        (
            Op::Conv2D(p),
            Layer::Conv {
                win,
                kernel,
                kept,
                grouped,
                arranged,
                bias,
            },
        ) => {
            let act = fusion.activation.unwrap_or(p.activation);
            let bias = bias.as_ref();
            return if *grouped {
                Ok(Evaluated {
                    pre: conv::grouped_conv2d(&zero_padded(x, fusion.pad)?, kernel, bias, win)?,
                    activation: act,
                })
            } else {
                with_epilogue(
                    fusion,
                    act,
                    |ep| cpu::conv2d(x, (kernel, bias, Some(kept)), win, fusion.pad, (None, ep)),
                    || {
                        let rows = kernel_rows(kernel, *arranged)?;
                        conv::conv2d(&zero_padded(x, fusion.pad)?, &rows, bias, win)
                    },
                )
            };
        }
        (
            Op::DepthwiseConv2D { conv: p, .. },
            Layer::Depthwise {
                win,
                kernel,
                multiplier,
                bias,
            },
        ) => {
            let xr = conv::repeat_channels(x, *multiplier)?;
            let bias = bias.as_ref();
            return with_epilogue(
                fusion,
                fusion.activation.unwrap_or(p.activation),
                |ep| cpu::depthwise_conv2d(&xr, kernel, bias, win, fusion.pad, ep),
                || conv::depthwise_conv2d(&zero_padded(&xr, fusion.pad)?, kernel, bias, win),
            );
        }
        (
            Op::SeparableConv2D { conv: p, .. },
            Layer::Separable {
                win,
                kernel,
                multiplier,
                pointwise,
                bias,
            },
        ) => {
            let xr = zero_padded(&conv::repeat_channels(x, *multiplier)?, fusion.pad)?;
            let bias = bias.as_ref();
            let d = conv::depthwise_conv2d(&xr, kernel, None, win)?;
            return with_epilogue(
                fusion,
                fusion.activation.unwrap_or(p.activation),
                |ep| {
                    cpu::conv2d(
                        &d,
                        (pointwise, bias, None),
                        &pointwise_window(),
                        NO_PAD,
                        (None, ep),
                    )
                },
                || conv::pointwise_conv(&d, pointwise, bias),
            );
        }
        (
            Op::Conv2DTranspose {
                conv: p,
                output_padding,
            },
            Layer::ConvTranspose { win, kernel, bias },
        ) => {
            let (_, h, w, _) = x.dims4()?;
            if h == 0 || w == 0 {
                return Err(CamError::new(ErrorKind::InvalidInput, "empty input"));
            }
            let size = [
                conv_out_size(h, win, 0, *output_padding),
                conv_out_size(w, win, 1, *output_padding),
            ];
            let y = conv::conv_transpose2d(x, kernel, bias.as_ref(), win, size)?;
            return Ok(Evaluated {
                pre: y,
                activation: p.activation,
            });
        }
        (Op::Dense { activation, .. }, Layer::Dense { kernel, bias }) => {
            let y = conv::pointwise_conv(x, kernel, bias.as_ref())?;
            return Ok(Evaluated {
                pre: y,
                activation: *activation,
            });
        }
        (_, Layer::Affine { scale, shift }) => {
            let mut y = x.clone();
            if let Some(s) = scale {
                y = y.broadcast_mul(s)?;
            }
            if let Some(s) = shift {
                y = y.broadcast_add(s)?;
            }
            y
        }
        (Op::LayerNorm { axes, epsilon, .. }, Layer::Normalize { gamma, beta }) => {
            let mut axes = axes
                .iter()
                .map(|&a| norm_axis(a, rank))
                .collect::<Result<Vec<_>>>()?;
            axes.sort_unstable();
            let mean = x.mean_keepdim(axes.as_slice())?;
            let centred = x.broadcast_sub(&mean)?;
            let var = centred.sqr()?.mean_keepdim(axes.as_slice())?;
            let mut y = centred.broadcast_div(&var.affine(1.0, *epsilon as f64)?.sqrt()?)?;
            if let Some(g) = gamma {
                y = y.broadcast_mul(g)?;
            }
            if let Some(b) = beta {
                y = y.broadcast_add(b)?;
            }
            y
        }
        (Op::PRelu { .. }, Layer::PRelu { alpha }) => activation::prelu(x, alpha)?,
        (Op::Identity, _) => x.clone(),
        (Op::Activation(a), _) => {
            return Ok(Evaluated {
                pre: x.clone(),
                activation: *a,
            })
        }
        (
            Op::Relu {
                max_value,
                negative_slope,
                threshold,
            },
            _,
        ) => activation::keras_relu(x, *max_value, *negative_slope, *threshold)?,
        (Op::LeakyRelu { alpha }, _) => activation::leaky_relu(x, *alpha)?,
        (Op::Softmax { axis }, _) => activation::softmax(x, norm_axis(*axis, rank)?)?,
        (
            Op::Binary {
                op: BinaryOp::Add,
                lhs: lhs @ Operand::Input(_),
                rhs: rhs @ Operand::Input(_),
            },
            _,
        ) => {
            let pair = [operand(*lhs, inputs, x)?, operand(*rhs, inputs, x)?];
            return with_epilogue(
                fusion,
                fusion.activation.unwrap_or(Activation::Linear),
                |ep| cpu::add(&pair, ep),
                || binary(BinaryOp::Add, &pair[0], &pair[1]),
            );
        }
        (Op::Binary { op, lhs, rhs }, _) => {
            let a = operand(*lhs, inputs, x)?;
            let b = operand(*rhs, inputs, x)?;
            binary(*op, &a, &b)?
        }
        (
            Op::Merge {
                op: BinaryOp::Add,
                average: false,
            },
            _,
        ) => {
            let act = fusion.activation.unwrap_or(Activation::Linear);
            return with_epilogue(
                fusion,
                act,
                |ep| cpu::add(inputs, ep),
                || reduce(BinaryOp::Add, inputs),
            );
        }
        (Op::Merge { op, average }, _) => {
            let acc = reduce(*op, inputs)?;
            if *average {
                acc.affine(1.0 / inputs.len() as f64, 0.0)?
            } else {
                acc
            }
        }
        (Op::ScaleAdd { factor }, _) => match inputs {
            [a, b] => a.broadcast_add(&b.affine(f64::from(*factor), 0.0)?)?,
            _ => {
                return Err(unsupported(format!(
                    "{} takes two inputs, got {}",
                    node.class_name,
                    inputs.len()
                )))
            }
        },
        (Op::Concatenate { axis }, _) => Tensor::cat(inputs, norm_axis(*axis, rank)?)?,
        (Op::ZeroPadding2D { padding }, _) => zero_padded(x, *padding)?,
        (Op::Cropping2D { cropping }, _) => {
            let (_, h, w, _) = x.dims4()?;
            let [[t, b], [l, r]] = *cropping;
            if t + b > h || l + r > w {
                return Err(CamError::new(
                    ErrorKind::InvalidInput,
                    format!("cropping {cropping:?} exceeds the input {:?}", x.dims()),
                ));
            }
            x.narrow(1, t, h - t - b)?.narrow(2, l, w - l - r)?
        }
        (Op::MaxPool2D(p), _) => pool::max_pool(x, p)?,
        (Op::AvgPool2D(p), _) => pool::avg_pool(x, p)?,
        (Op::GlobalAvgPool2D { keepdims }, _) => pool::global_avg_pool(x, *keepdims)?,
        (Op::GlobalMaxPool2D { keepdims }, _) => pool::global_max_pool(x, *keepdims)?,
        (Op::Flatten, _) => {
            let n = x.dim(0)?;
            x.reshape((n, x.elem_count() / n.max(1)))?
        }
        (Op::Reshape { target_shape }, _) => reshape_per_sample(x, target_shape)?,
        (Op::Permute { dims }, _) => {
            let mut perm = vec![0usize];
            perm.extend(dims.iter().copied());
            if perm.len() != rank || perm.iter().any(|&d| d >= rank) {
                return Err(unsupported(format!("permutation {dims:?} for rank {rank}")));
            }
            x.permute(perm)?.contiguous()?
        }
        (
            Op::UpSampling2D {
                size,
                interpolation,
            },
            _,
        ) => match interpolation {
            Interpolation::Nearest => resize::upsample_nearest(x, *size)?,
            Interpolation::Bilinear => resize::upsample_bilinear(x, *size)?,
        },
        (Op::ReduceMean { axes, keepdims }, _) => {
            let mut axes = axes
                .iter()
                .map(|&a| norm_axis(a, rank))
                .collect::<Result<Vec<_>>>()?;
            axes.sort_unstable();
            axes.dedup();
            let mut y = x.mean_keepdim(axes.as_slice())?;
            if !keepdims {
                for &a in axes.iter().rev() {
                    y = y.squeeze(a)?;
                }
            }
            y
        }
        (op, _) => {
            return Err(unsupported(format!(
                "operation {op:?} ({}) has no executor",
                node.class_name
            )))
        }
    };
    Ok(linear(out))
}
