//! Converts a node's Keras-layout weights into device tensors in the executor's layout, once,
//! at load time. Every weight is checked for count, shape and finiteness.

use candle_core::{Device, Tensor};
use keras_import::{Graph, Node, Op, Weight};

use crate::cpu::{self, KeptTransform};
use crate::error::{CamError, ErrorKind, Result};
use crate::ops::conv::Window2d;

/// A node's parameters in executor layout (NHWC activations).
#[derive(Debug, Clone)]
pub(crate) enum Layer {
    /// A node without weights: evaluated from its [`Op`] alone.
    Plain,
    /// Conv2D: `kernel` is `[kh·kw·in, out]`, or `[G, kh·kw·in_g, out_g]` when `grouped`.
    Conv {
        win: Window2d,
        kernel: Tensor,
        /// The kernel's Winograd transform, once a call has computed it.
        kept: KeptTransform,
        grouped: bool,
        /// Whether `kernel` is held as `[O / 64, in, 64]` panels ([`arrange_panels`]) instead
        /// of `[in, out]` rows: 1×1 kernels too large for the cache, on the CPU.
        arranged: bool,
        bias: Option<Tensor>,
    },
    /// DepthwiseConv2D: `kernel [kh·kw, C·m]`, one row of channel weights per kernel position.
    Depthwise {
        win: Window2d,
        kernel: Tensor,
        multiplier: usize,
        bias: Option<Tensor>,
    },
    /// SeparableConv2D: depthwise `kernel [kh·kw, C·m]`, then `pointwise [C·m, out]`.
    Separable {
        win: Window2d,
        kernel: Tensor,
        multiplier: usize,
        pointwise: Tensor,
        bias: Option<Tensor>,
    },
    /// Conv2DTranspose: flipped kernel `[kh·kw·in, out]`.
    ConvTranspose {
        win: Window2d,
        kernel: Tensor,
        bias: Option<Tensor>,
    },
    /// Dense: `kernel [in, units]`.
    Dense {
        kernel: Tensor,
        bias: Option<Tensor>,
    },
    /// `x · scale + shift`, both broadcastable against the input (BatchNormalization,
    /// Rescaling, Normalization, LayerScale, Scale).
    Affine {
        scale: Option<Tensor>,
        shift: Option<Tensor>,
    },
    /// LayerNormalization with gamma/beta shaped for broadcasting.
    Normalize {
        gamma: Option<Tensor>,
        beta: Option<Tensor>,
    },
    /// PReLU with alpha shaped `[1, ...]`.
    PRelu { alpha: Tensor },
}

/// Normalises a Keras axis (negative counts from the end) for a tensor of `rank` (with batch).
pub(crate) fn norm_axis(axis: i64, rank: usize) -> Result<usize> {
    let a = if axis < 0 { axis + rank as i64 } else { axis };
    if a < 0 || a as usize >= rank {
        return Err(CamError::new(
            ErrorKind::InvalidGraph,
            format!("axis {axis} out of range for rank {rank}"),
        ));
    }
    Ok(a as usize)
}

struct WeightReader<'a> {
    node: &'a Node,
    weights: Vec<&'a Weight>,
    next: usize,
    device: &'a Device,
}

impl<'a> WeightReader<'a> {
    fn new(graph: &'a Graph, node: &'a Node, device: &'a Device) -> Result<Self> {
        let mut weights = Vec::with_capacity(node.weights.len());
        for &id in &node.weights {
            let w = graph.weights.get(id).ok_or_else(|| {
                CamError::at(
                    ErrorKind::InvalidGraph,
                    &node.path,
                    format!("weight id {id} does not exist"),
                )
            })?;
            let expected: usize = w.shape.iter().product();
            if w.data.len() != expected {
                return Err(CamError::at(
                    ErrorKind::InvalidGraph,
                    &node.path,
                    format!(
                        "weight '{}' of shape {:?} holds {} values, expected {expected}",
                        w.name,
                        w.shape,
                        w.data.len()
                    ),
                ));
            }
            if let Some(bad) = w.data.iter().find(|v| !v.is_finite()) {
                return Err(CamError::at(
                    ErrorKind::NonFinite,
                    &node.path,
                    format!("weight '{}' contains the non-finite value {bad}", w.name),
                ));
            }
            weights.push(w);
        }
        Ok(WeightReader {
            node,
            weights,
            next: 0,
            device,
        })
    }

    fn err(&self, msg: String) -> CamError {
        CamError::at(ErrorKind::InvalidGraph, &self.node.path, msg)
    }

    /// The next weight, required to have `shape` (`None` entries match anything).
    fn take(&mut self, what: &str, shape: &[Option<usize>]) -> Result<&'a Weight> {
        let w = *self.weights.get(self.next).ok_or_else(|| {
            self.err(format!(
                "missing weight '{what}' (has {} weights)",
                self.weights.len()
            ))
        })?;
        self.next += 1;
        let ok = w.shape.len() == shape.len()
            && w.shape
                .iter()
                .zip(shape)
                .all(|(a, b)| b.is_none_or(|b| b == *a));
        if !ok {
            return Err(self.err(format!(
                "weight '{what}' has shape {:?}, expected {shape:?}",
                w.shape
            )));
        }
        Ok(w)
    }

    /// The next weight, whatever its shape.
    fn take_any(&mut self, what: &str) -> Result<&'a Weight> {
        let w = *self.weights.get(self.next).ok_or_else(|| {
            self.err(format!(
                "missing weight '{what}' (has {} weights)",
                self.weights.len()
            ))
        })?;
        self.next += 1;
        Ok(w)
    }

    fn tensor(&self, w: &Weight, dims: &[usize]) -> Result<Tensor> {
        Ok(Tensor::from_slice(&w.data, dims, self.device)?)
    }

    fn vector(&mut self, what: &str, len: usize) -> Result<Tensor> {
        let w = self.take(what, &[Some(len)])?;
        self.tensor(w, &[len])
    }

    /// The bias vector of `len` values when the layer has one.
    fn bias(&mut self, use_bias: bool, len: usize) -> Result<Option<Tensor>> {
        use_bias.then(|| self.vector("bias", len)).transpose()
    }

    fn finish(&self) -> Result<()> {
        if self.next != self.weights.len() {
            return Err(self.err(format!(
                "expected {} weights, found {}",
                self.next,
                self.weights.len()
            )));
        }
        Ok(())
    }
}

fn host(t: &[f32]) -> Vec<f64> {
    t.iter().map(|&v| v as f64).collect()
}

/// Prepares the parameters of `node`.
pub(crate) fn prepare(graph: &Graph, node: &Node, device: &Device) -> Result<Layer> {
    let mut r = WeightReader::new(graph, node, device)?;
    let rank = node.output_shape.len() + 1;
    let layer = match &node.op {
        Op::Conv2D(p) => {
            let [kh, kw] = p.kernel;
            let groups = p.groups.max(1);
            let k = r.take("kernel", &[Some(kh), Some(kw), None, Some(p.filters)])?;
            let in_g = k.shape[2];
            if p.filters % groups != 0 {
                return Err(r.err(format!(
                    "{} filters do not split into {groups} groups",
                    p.filters
                )));
            }
            let kernel = if groups == 1 {
                r.tensor(k, &[kh * kw * in_g, p.filters])?
            } else {
                let out_g = p.filters / groups;
                r.tensor(k, &[kh, kw, in_g, groups, out_g])?
                    .permute((3, 0, 1, 2, 4))?
                    .contiguous()?
                    .reshape((groups, kh * kw * in_g, out_g))?
            };
            let bias = r.bias(p.use_bias, p.filters)?;
            Layer::Conv {
                win: Window2d::new(p.kernel, p.strides, p.dilation, p.padding),
                kernel,
                kept: KeptTransform::default(),
                grouped: groups > 1,
                arranged: false,
                bias,
            }
        }
        Op::DepthwiseConv2D {
            conv: p,
            depth_multiplier: m,
        } => {
            let [kh, kw] = p.kernel;
            let k = r.take("depthwise_kernel", &[Some(kh), Some(kw), None, Some(*m)])?;
            let channels = k.shape[2] * m;
            let kernel = r.tensor(k, &[kh * kw, channels])?;
            let bias = r.bias(p.use_bias, channels)?;
            Layer::Depthwise {
                win: Window2d::new(p.kernel, p.strides, p.dilation, p.padding),
                kernel,
                multiplier: *m,
                bias,
            }
        }
        Op::SeparableConv2D {
            conv: p,
            depth_multiplier: m,
        } => {
            let [kh, kw] = p.kernel;
            let k = r.take("depthwise_kernel", &[Some(kh), Some(kw), None, Some(*m)])?;
            let channels = k.shape[2] * m;
            let kernel = r.tensor(k, &[kh * kw, channels])?;
            let pw = r.take(
                "pointwise_kernel",
                &[Some(1), Some(1), Some(channels), Some(p.filters)],
            )?;
            let pointwise = r.tensor(pw, &[channels, p.filters])?;
            let bias = r.bias(p.use_bias, p.filters)?;
            Layer::Separable {
                win: Window2d::new(p.kernel, p.strides, p.dilation, p.padding),
                kernel,
                multiplier: *m,
                pointwise,
                bias,
            }
        }
        Op::Conv2DTranspose { conv: p, .. } => {
            let [kh, kw] = p.kernel;
            let k = r.take("kernel", &[Some(kh), Some(kw), Some(p.filters), None])?;
            let cin = k.shape[3];
            let kernel = r
                .tensor(k, &[kh, kw, p.filters, cin])?
                .flip(&[0, 1])?
                .permute((0, 1, 3, 2))?
                .contiguous()?
                .reshape((kh * kw * cin, p.filters))?;
            let bias = r.bias(p.use_bias, p.filters)?;
            Layer::ConvTranspose {
                win: Window2d::new(p.kernel, p.strides, p.dilation, p.padding),
                kernel,
                bias,
            }
        }
        Op::Dense {
            units, use_bias, ..
        } => {
            let k = r.take("kernel", &[None, Some(*units)])?;
            let kernel = r.tensor(k, &k.shape.clone())?;
            let bias = r.bias(*use_bias, *units)?;
            Layer::Dense { kernel, bias }
        }
        Op::BatchNorm {
            axis,
            epsilon,
            center,
            scale,
        } => {
            let axis = norm_axis(*axis, rank)?;
            let gamma = if *scale {
                Some(r.take("gamma", &[None])?)
            } else {
                None
            };
            let c = gamma.map(|g| g.shape[0]);
            let beta = if *center {
                Some(r.take("beta", &[c])?)
            } else {
                None
            };
            let c = c.or(beta.map(|b| b.shape[0]));
            let mean = r.take("moving_mean", &[c])?;
            let var = r.take("moving_variance", &[Some(mean.shape[0])])?;
            let n = mean.shape[0];
            let mut sc = vec![0f32; n];
            let mut sh = vec![0f32; n];
            for i in 0..n {
                let g = gamma.map_or(1.0, |g| g.data[i] as f64);
                let b = beta.map_or(0.0, |b| b.data[i] as f64);
                let inv = g / (var.data[i] as f64 + *epsilon as f64).sqrt();
                sc[i] = inv as f32;
                sh[i] = (b - mean.data[i] as f64 * inv) as f32;
            }
            let mut dims = vec![1usize; rank];
            dims[axis] = n;
            Layer::Affine {
                scale: Some(Tensor::from_vec(sc, dims.clone(), device)?),
                shift: Some(Tensor::from_vec(sh, dims, device)?),
            }
        }
        Op::Rescaling { scale, offset } => Layer::Affine {
            scale: Some(Tensor::from_slice(scale, scale.len(), device)?),
            shift: Some(Tensor::from_slice(offset, offset.len(), device)?),
        },
        Op::Normalization {
            mean,
            variance,
            invert,
        } => {
            let (mean, var) = match (mean, variance) {
                (Some(m), Some(v)) => (host(m), host(v)),
                _ => {
                    let m = r.take_any("mean")?;
                    let v = r.take_any("variance")?;
                    r.take_any("count")?;
                    (host(&m.data), host(&v.data))
                }
            };
            if mean.len() != var.len() {
                return Err(r.err(format!(
                    "mean has {} values, variance {}",
                    mean.len(),
                    var.len()
                )));
            }
            let std: Vec<f64> = var.iter().map(|v| v.sqrt().max(1e-7)).collect();
            let (sc, sh): (Vec<f32>, Vec<f32>) = if *invert {
                (
                    std.iter().map(|&s| s as f32).collect(),
                    mean.iter().map(|&m| m as f32).collect(),
                )
            } else {
                mean.iter()
                    .zip(&std)
                    .map(|(m, s)| ((1.0 / s) as f32, (-m / s) as f32))
                    .unzip()
            };
            let n = sc.len();
            Layer::Affine {
                scale: Some(Tensor::from_vec(sc, n, device)?),
                shift: Some(Tensor::from_vec(sh, n, device)?),
            }
        }
        Op::LayerScale => {
            let g = r.take("gamma", &[None])?;
            Layer::Affine {
                scale: Some(r.tensor(g, &g.shape.clone())?),
                shift: None,
            }
        }
        Op::Scale { factor } => Layer::Affine {
            scale: Some(Tensor::from_slice(&[*factor], 1, device)?),
            shift: None,
        },
        Op::LayerNorm {
            axes,
            center,
            scale,
            ..
        } => {
            let axes = axes
                .iter()
                .map(|&a| norm_axis(a, rank))
                .collect::<Result<Vec<_>>>()?;
            let mut read = |what: &str, present: bool| -> Result<Option<Tensor>> {
                if !present {
                    return Ok(None);
                }
                let w = r.take(
                    what,
                    &vec![None; if axes.len() == 1 { 1 } else { axes.len() }],
                )?;
                let mut dims = vec![1usize; rank];
                if axes.len() == 1 {
                    dims[axes[0]] = w.shape[0];
                } else {
                    for (a, d) in axes.iter().zip(&w.shape) {
                        dims[*a] = *d;
                    }
                }
                Ok(Some(Tensor::from_slice(&w.data, dims, device)?))
            };
            let gamma = read("gamma", *scale)?;
            let beta = read("beta", *center)?;
            Layer::Normalize { gamma, beta }
        }
        Op::PRelu { .. } => {
            let a = r.take("alpha", &vec![None; node.output_shape.len()])?;
            let mut dims = vec![1usize];
            dims.extend_from_slice(&a.shape);
            Layer::PRelu {
                alpha: r.tensor(a, &dims)?,
            }
        }
        _ => Layer::Plain,
    };
    r.finish()?;
    Ok(layer)
}

/// Rearranges the large 1×1 kernels of ungrouped CPU f32 convolutions into panels
/// ([`crate::cpu::panels`]), except those in `excluded` (expansion convolutions, whose
/// kernel a depthwise convolution reads as rows).
pub(crate) fn arrange_panels(layers: &mut [Layer], excluded: impl Fn(usize) -> bool) -> Result<()> {
    for (id, layer) in layers.iter_mut().enumerate() {
        let Layer::Conv {
            win,
            kernel,
            grouped: false,
            arranged: arranged @ false,
            ..
        } = layer
        else {
            continue;
        };
        if win.positions() != 1 || excluded(id) {
            continue;
        }
        if let Some(panels) = cpu::panels_of(kernel)? {
            *kernel = panels;
            *arranged = true;
        }
    }
    Ok(())
}

/// A convolution kernel as `[in, out]` rows: `kernel` itself, or its panels put back in
/// rows when `arranged` (a copy, for the paths other than the CPU kernels).
pub(crate) fn kernel_rows(kernel: &Tensor, arranged: bool) -> Result<std::borrow::Cow<'_, Tensor>> {
    if !arranged {
        return Ok(std::borrow::Cow::Borrowed(kernel));
    }
    let (panels, k, width) = kernel.dims3()?;
    Ok(std::borrow::Cow::Owned(
        kernel
            .permute((1, 0, 2))?
            .contiguous()?
            .reshape((k, panels * width))?,
    ))
}
