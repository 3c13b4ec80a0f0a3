//! The graph IR: one flat graph of typed nodes with explicit edges and named f32 weights.
//!
//! Nested Functional and Sequential models are flattened into a single [`Graph`]; every node
//! keeps its full path (`mobilenetv2_1.00_224/block_1_expand`) and the [`ScopeId`] of the
//! nested model it came from, so a nested backbone can be found again.

use crate::graph::layers::{rules, Cost};

/// Index of a node in [`Graph::nodes`].
pub type NodeId = usize;
/// Index of a scope in [`Graph::scopes`] (0 is the outermost model).
pub type ScopeId = usize;
/// Index of a weight in [`Graph::weights`].
pub type WeightId = usize;

/// A tensor shape without the batch axis; `None` is a dimension unknown until run time.
pub type Shape = Vec<Option<usize>>;

/// The on-disk format a model was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Keras 3 `.keras` zip archive.
    Keras3Zip,
    /// Keras 3 legacy full-model `.h5`.
    Keras3H5,
    /// tf.keras 2.x / tf_keras full-model `.h5`.
    Keras2H5,
    /// tf.keras 2.13+ `.keras` zip archive.
    Keras2Zip,
}

impl Format {
    /// The stable name used in JSON output and the conformance corpus (`keras3-zip`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Keras3Zip => "keras3-zip",
            Format::Keras3H5 => "keras3-h5",
            Format::Keras2H5 => "keras2-h5",
            Format::Keras2Zip => "keras2-zip",
        }
    }
}

/// A loaded model: the graph plus what was learned about the file.
#[derive(Debug, Clone)]
pub struct Model {
    /// The file format detected from the bytes.
    pub format: Format,
    /// `keras_version` recorded by the writer, when present.
    pub keras_version: Option<String>,
    /// The flattened graph with weights.
    pub graph: Graph,
    /// Non-fatal remarks gathered during import (for example an ignored training-only option).
    pub warnings: Vec<String>,
}

/// A flat computation graph in topological order (the order of the Keras config, with nested
/// models expanded in place).
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// Nodes in topological order; a node only reads nodes with a smaller id.
    pub nodes: Vec<Node>,
    /// The model inputs (nodes whose op is [`Op::Input`]).
    pub inputs: Vec<NodeId>,
    /// The model outputs.
    pub outputs: Vec<NodeId>,
    /// Every model scope: index 0 is the outer model, then nested models in order of appearance.
    pub scopes: Vec<Scope>,
    /// Every weight tensor. Nodes refer to weights by id, so a layer called twice shares them.
    pub weights: Vec<Weight>,
}

/// A model (outer or nested) whose layers became nodes of the flat graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    /// Full path of the scope (`""` for the outer model, `mobilenetv2_1.00_224` for a nested one).
    pub path: String,
    /// The Keras model name (`config.name`).
    pub name: String,
    /// Keras class of the model: `Functional`, `Sequential` or `Model`.
    pub class_name: String,
    /// Enclosing scope, `None` for the outer model.
    pub parent: Option<ScopeId>,
    /// Input shape of this (sub)model, without the batch axis.
    pub input_shape: Shape,
    /// Output shape of this (sub)model, without the batch axis.
    pub output_shape: Shape,
}

/// One call of one layer (or one Keras 3 operation node).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Full path: enclosing nested model names then the layer name, joined by `/`.
    /// Layer names may themselves contain `/` (Keras 2 DenseNet), so never split on it.
    pub path: String,
    /// The layer's own name (last component of the path).
    pub name: String,
    /// Which call of the layer this is (0 for the first); calls > 0 share the weights of call 0.
    pub call_index: usize,
    /// Keras class name as written in the config (`Conv2D`, `TFOpLambda`, `Add` ...).
    pub class_name: String,
    /// The scope (nested model) this node belongs to.
    pub scope: ScopeId,
    /// The typed operation with its parsed parameters.
    pub op: Op,
    /// Input tensors, in call order.
    pub inputs: Vec<NodeId>,
    /// Inferred output shape (without batch axis).
    pub output_shape: Shape,
    /// Weights in Keras variable order (e.g. Conv2D: kernel, bias; BatchNormalization: gamma,
    /// beta, moving_mean, moving_variance), each in Keras layout (kernels HWIO).
    /// [`Graph::weight`] finds one by its [`WeightRole`] without relying on that order.
    pub weights: Vec<WeightId>,
}

/// A named f32 tensor, in Keras layout.
#[derive(Debug, Clone, PartialEq)]
pub struct Weight {
    /// Variable name path (`block_1_expand/kernel`).
    pub name: String,
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Row-major data, `shape.iter().product()` values (emptied by an executor that takes the weights over).
    pub data: Vec<f32>,
    /// Whether Keras counts it as trainable.
    pub trainable: bool,
}

/// What a weight is for within its layer, so that a reader finds it by meaning with
/// [`Graph::weight`] instead of by its position in [`Node::weights`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WeightRole {
    /// The kernel of Conv2D (HWIO), Conv2DTranspose (`[kh, kw, filters, in]`) and Dense
    /// (`[in, units]`).
    Kernel,
    /// The depthwise kernel `[kh, kw, in, depth_multiplier]` of DepthwiseConv2D (in both
    /// dialects, although Keras 3 names it `kernel`) and SeparableConv2D.
    DepthwiseKernel,
    /// The pointwise kernel `[1, 1, in·depth_multiplier, filters]` of SeparableConv2D.
    PointwiseKernel,
    /// The bias added per output channel.
    Bias,
    /// The scale of BatchNormalization and LayerNormalization, the factor of LayerScale.
    Gamma,
    /// The offset of BatchNormalization and LayerNormalization.
    Beta,
    /// BatchNormalization's moving mean.
    MovingMean,
    /// BatchNormalization's moving variance.
    MovingVariance,
    /// PReLU's negative-side slopes.
    Alpha,
    /// Normalization's adapted mean.
    Mean,
    /// Normalization's adapted variance.
    Variance,
    /// Normalization's count of adapted samples (a scalar).
    Count,
}

/// Padding mode of convolutions and pooling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// No padding.
    Valid,
    /// TensorFlow `same`: output = ceil(input / stride); the odd extra row/column goes bottom/right.
    Same,
}

/// Element-wise activation functions, with Keras semantics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    /// Identity.
    Linear,
    /// max(x, 0).
    Relu,
    /// min(max(x, 0), 6).
    Relu6,
    /// 1 / (1 + exp(-x)).
    Sigmoid,
    /// clip(slope·x + offset, 0, 1): Keras 3 uses slope 1/6, offset 0.5; Keras 2 uses 0.2, 0.5.
    HardSigmoid {
        /// Multiplier of x.
        slope: f32,
        /// Added constant.
        offset: f32,
    },
    /// Softmax over the last axis.
    Softmax,
    /// x · sigmoid(x) (`swish`, `silu`).
    Swish,
    /// x · relu6(x + 3) / 6 (`hard_swish`, `hard_silu`).
    HardSwish,
    /// GELU; `approximate` selects the tanh form, otherwise the exact erf form.
    Gelu {
        /// Use the tanh approximation.
        approximate: bool,
    },
    /// tanh(x).
    Tanh,
    /// x if x > 0 else alpha·(exp(x) − 1).
    Elu {
        /// Negative-side scale.
        alpha: f32,
    },
    /// SELU with Keras' constants.
    Selu,
    /// ln(1 + exp(x)).
    Softplus,
    /// x / (1 + |x|).
    Softsign,
    /// x · tanh(softplus(x)).
    Mish,
    /// exp(x).
    Exponential,
    /// x for x > 0, alpha · x otherwise (`leaky_relu`, Keras' default alpha 0.2).
    LeakyRelu {
        /// Negative-side slope.
        alpha: f32,
    },
    /// x − max − ln Σ exp(x − max) over the last axis (`log_softmax`).
    LogSoftmax,
    /// max(x, 0) + alpha · expm1(min(x, 0) / alpha) (`celu`, alpha 1).
    Celu {
        /// Negative-side scale.
        alpha: f32,
    },
    /// −softplus(−x) (`log_sigmoid`).
    LogSigmoid,
    /// clip(x, −1, 1) (`hard_tanh`).
    HardTanh,
    /// (x + √(x² + b)) / 2 (`squareplus`, b 4).
    Squareplus {
        /// The curvature constant.
        b: f32,
    },
    /// 0 for x ≤ −1, (x + 1)² / 4 for −1 < x < 1, x otherwise (`sparse_plus`).
    SparsePlus,
    /// x − t for x > t, x + t for x < −t, 0 otherwise (`soft_shrink`, t 0.5).
    SoftShrink {
        /// The threshold t.
        threshold: f32,
    },
    /// x for |x| > t, 0 otherwise (`hard_shrink`, t 0.5).
    HardShrink {
        /// The threshold t.
        threshold: f32,
    },
    /// x − tanh(x) (`tanh_shrink`).
    TanhShrink,
}

/// Binary element-wise operations (merge layers, Keras 3 operation nodes, TF-op layers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// a + b.
    Add,
    /// a − b.
    Subtract,
    /// a · b.
    Multiply,
    /// a / b.
    Divide,
    /// max(a, b).
    Maximum,
    /// min(a, b).
    Minimum,
}

/// An operand of an element-wise node: a graph input (by position in [`Node::inputs`]) or a
/// constant scalar (Keras 3 operation nodes may carry Python numbers, e.g. `x + 3.0`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Operand {
    /// The node's `inputs[i]`.
    Input(usize),
    /// A scalar constant broadcast to the other operand.
    Scalar(f32),
}

/// What a slice does along one axis of its input (Python's `x[...]`, as `tf.strided_slice`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SliceAxis {
    /// `start:stop:step`; `None` is Python's default for the step's sign.
    Range {
        /// First position (negative counts from the end).
        start: Option<i64>,
        /// Position past the last (negative counts from the end).
        stop: Option<i64>,
        /// Stride, never 0; negative walks backwards (`::-1` reverses).
        step: i64,
    },
    /// One position (negative counts from the end); the axis is dropped.
    Index(i64),
    /// `None` / `tf.newaxis`: a new axis of size 1, consuming no input axis.
    NewAxis,
}

impl SliceAxis {
    /// The whole axis in order (`:`).
    pub const ALL: SliceAxis = SliceAxis::Range {
        start: None,
        stop: None,
        step: 1,
    };

    /// Whether this entry reads an input axis (a range or an index; not a new axis).
    pub fn consumes_axis(self) -> bool {
        !matches!(self, SliceAxis::NewAxis)
    }

    /// The positions taken from an axis of length `n` as `(first, count, step)`, by Python's
    /// `slice.indices` (bounds clamped); `None` for an index outside `-n..n` or a new axis.
    pub fn positions(self, n: usize) -> Option<(i64, usize, i64)> {
        let n = i64::try_from(n).ok()?;
        match self {
            SliceAxis::NewAxis => None,
            SliceAxis::Index(i) => {
                let i = if i < 0 { i.checked_add(n)? } else { i };
                (0..n).contains(&i).then_some((i, 1, 1))
            }
            SliceAxis::Range { start, stop, step } => {
                if step == 0 {
                    return None;
                }
                let (lower, upper) = if step > 0 { (0, n) } else { (-1, n - 1) };
                let bound = |v: Option<i64>, default: i64| match v {
                    None => default,
                    Some(v) if v < 0 => v.saturating_add(n).max(lower),
                    Some(v) => v.min(upper),
                };
                let (first, end) = if step > 0 {
                    (bound(start, lower), bound(stop, upper))
                } else {
                    (bound(start, upper), bound(stop, lower))
                };
                let span = if step > 0 { end - first } else { first - end };
                let stride = step.unsigned_abs() as i64;
                let count = if span <= 0 {
                    0
                } else {
                    (span + stride - 1) / stride
                };
                Some((first, count as usize, step))
            }
        }
    }
}

/// A constant tensor written in the config (a mean or scale vector of `preprocess_input`).
#[derive(Debug, Clone, PartialEq)]
pub struct Constant {
    /// Its shape, right-aligned against the other operand (batch axis not included).
    pub shape: Vec<usize>,
    /// Its values, row-major.
    pub values: Vec<f32>,
}

/// Interpolation of [`Op::UpSampling2D`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interpolation {
    /// Nearest neighbour (repeat).
    Nearest,
    /// Bilinear, half-pixel centres as TF's `resize(..., bilinear)`.
    Bilinear,
}

/// Sampling method of [`Op::Resize`]: the methods of TensorFlow's `tf.image.resize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResizeMethod {
    /// Bilinear, half-pixel centres (a triangle kernel when antialiased).
    Bilinear,
    /// Nearest neighbour, half-pixel centres.
    Nearest,
    /// Keys cubic (a = −0.5), half-pixel centres.
    Bicubic,
    /// Area averaging (TF's `resize_area`).
    Area,
    /// Lanczos kernel of radius 3.
    Lanczos3,
    /// Lanczos kernel of radius 5.
    Lanczos5,
    /// Gaussian kernel of radius 1.5 (σ = 0.5).
    Gaussian,
    /// Mitchell–Netravali cubic (B = C = 1/3).
    MitchellCubic,
}

/// How [`Op::Resize`] treats an input whose aspect ratio differs from the target's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AspectFit {
    /// Stretch the whole input to the target size.
    Stretch,
    /// First crop the largest centred window of the target aspect ratio.
    Crop,
    /// First pad the short side evenly with a constant.
    Pad {
        /// The padding value.
        fill: f32,
    },
}

/// Parameters of [`Op::Resize`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResizeParams {
    /// Target (height, width).
    pub size: [usize; 2],
    /// Sampling method.
    pub method: ResizeMethod,
    /// Widen the kernel when downsampling (TF's `antialias`).
    pub antialias: bool,
    /// Cropping or padding to the target aspect ratio first.
    pub fit: AspectFit,
}

/// Parameters of [`Op::Clahe`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClaheParams {
    /// The value range `[low, high]` of the images (mapped to 0–255 and back).
    pub value_range: [f32; 2],
    /// Histogram clip limit, relative to a flat histogram; 0 or less: no clipping. Kept in
    /// double precision, as Keras computes the limit in Python floats.
    pub clip_limit: f64,
    /// Tiles along (height, width).
    pub tile_grid: [usize; 2],
}

/// Parameters of a 2-D convolution (Conv2D, DepthwiseConv2D, SeparableConv2D, Conv2DTranspose).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Conv2dParams {
    /// Output channels (for DepthwiseConv2D: input channels × depth_multiplier).
    pub filters: usize,
    /// Kernel size (h, w).
    pub kernel: [usize; 2],
    /// Strides (h, w).
    pub strides: [usize; 2],
    /// Dilation rate (h, w).
    pub dilation: [usize; 2],
    /// Padding mode.
    pub padding: Padding,
    /// Feature groups (1 for a plain convolution; equals the input channels for depthwise).
    pub groups: usize,
    /// Whether a bias vector is added.
    pub use_bias: bool,
    /// Activation fused into the layer.
    pub activation: Activation,
}

/// Parameters of a 2-D pooling layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool2dParams {
    /// Window (h, w).
    pub pool: [usize; 2],
    /// Strides (h, w).
    pub strides: [usize; 2],
    /// Padding mode (`same` average pooling excludes the padding from the count, as Keras).
    pub padding: Padding,
}

/// A typed operation with the parameters parsed from the layer config.
/// Weights are not here: they are in [`Node::weights`] in Keras variable order, and
/// [`Graph::weight`] finds them by role.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Model input (InputLayer).
    Input,
    /// Conv2D (weights: kernel HWIO `[kh, kw, in/groups, filters]`, optional bias).
    Conv2D(Conv2dParams),
    /// DepthwiseConv2D (weights: kernel `[kh, kw, in, depth_multiplier]`, optional bias).
    DepthwiseConv2D {
        /// Convolution parameters (`filters` = in × depth_multiplier, `groups` = in).
        conv: Conv2dParams,
        /// Output channels per input channel.
        depth_multiplier: usize,
    },
    /// SeparableConv2D (weights: depthwise kernel `[kh, kw, in, dm]`, pointwise kernel
    /// `[1, 1, in·dm, filters]`, optional bias).
    SeparableConv2D {
        /// Parameters of the whole layer (`filters` is the pointwise output).
        conv: Conv2dParams,
        /// Depthwise multiplier.
        depth_multiplier: usize,
    },
    /// Conv2DTranspose (weights: kernel `[kh, kw, filters, in]`, optional bias).
    Conv2DTranspose {
        /// Convolution parameters.
        conv: Conv2dParams,
        /// Explicit output padding, when given.
        output_padding: Option<[usize; 2]>,
    },
    /// Dense on the last axis (weights: kernel `[in, units]`, optional bias).
    Dense {
        /// Output units.
        units: usize,
        /// Whether a bias is added.
        use_bias: bool,
        /// Fused activation.
        activation: Activation,
    },
    /// BatchNormalization in inference mode (weights: `gamma`, `beta`, `moving_mean`, `moving_variance`;
    /// gamma/beta present per `scale`/`center`).
    BatchNorm {
        /// Normalised axis, counted on the full rank with batch (−1 or 3 for NHWC channels).
        axis: i64,
        /// Variance epsilon.
        epsilon: f32,
        /// Whether beta exists.
        center: bool,
        /// Whether gamma exists.
        scale: bool,
    },
    /// LayerNormalization (weights: `gamma`, `beta`).
    LayerNorm {
        /// Normalised axes, counted on the full rank with batch.
        axes: Vec<i64>,
        /// Variance epsilon.
        epsilon: f32,
        /// Whether beta exists.
        center: bool,
        /// Whether gamma exists.
        scale: bool,
    },
    /// An element-wise activation (Activation layer, ELU layer, ...).
    Activation(Activation),
    /// ReLU layer: `max_value`, `negative_slope`, `threshold` as Keras.
    Relu {
        /// Upper clip, if any.
        max_value: Option<f32>,
        /// Slope below the threshold.
        negative_slope: f32,
        /// Threshold.
        threshold: f32,
    },
    /// LeakyReLU with the given negative slope.
    LeakyRelu {
        /// Slope for x < 0.
        alpha: f32,
    },
    /// PReLU (weights: alpha, shaped like the input with `shared_axes` set to 1).
    PRelu {
        /// Axes (full rank with batch) along which alpha is shared.
        shared_axes: Vec<i64>,
    },
    /// Softmax layer over `axis` (full rank with batch).
    Softmax {
        /// Axis.
        axis: i64,
    },
    /// Element-wise binary op with broadcasting (Add, Subtract, Multiply, Maximum, Minimum layers
    /// with two inputs, Keras 3 numpy operation nodes, TFOpLambda `__operators__.add` ...).
    Binary {
        /// Operation.
        op: BinaryOp,
        /// Left operand.
        lhs: Operand,
        /// Right operand.
        rhs: Operand,
    },
    /// Element-wise binary op between the input and a constant tensor from the config
    /// (Keras 3 `Add` of a `__tensor__`, tf_keras `nn.bias_add`, `math.truediv` by a list).
    ConstantBinary {
        /// Operation.
        op: BinaryOp,
        /// The constant operand.
        constant: Constant,
        /// Whether the constant is the left operand (`c - x`).
        constant_first: bool,
    },
    /// Slicing (Keras 3 `GetItem`, tf_keras `__operators__.getitem`; `reverse`/`Flip` as
    /// step −1): one entry per input axis (batch included, an Ellipsis already expanded)
    /// plus the new axes, in order.
    Slice {
        /// What happens along each axis.
        axes: Vec<SliceAxis>,
    },
    /// Stack the inputs along a new `axis` (counted on the output rank, with batch).
    Stack {
        /// The new axis.
        axis: i64,
    },
    /// N-ary merge layer over all inputs (Add/Multiply/Maximum/Minimum with > 2 inputs, Average).
    Merge {
        /// Reduction: Add, Multiply, Maximum, Minimum; Average is `Add` with `average = true`.
        op: BinaryOp,
        /// Divide by the number of inputs (Average).
        average: bool,
    },
    /// Concatenate along `axis` (full rank with batch).
    Concatenate {
        /// Axis.
        axis: i64,
    },
    /// ZeroPadding2D: `[[top, bottom], [left, right]]`.
    ZeroPadding2D {
        /// Padding rows/cols.
        padding: [[usize; 2]; 2],
    },
    /// Cropping2D: `[[top, bottom], [left, right]]`.
    Cropping2D {
        /// Cropped rows/cols.
        cropping: [[usize; 2]; 2],
    },
    /// MaxPooling2D.
    MaxPool2D(Pool2dParams),
    /// AveragePooling2D.
    AvgPool2D(Pool2dParams),
    /// GlobalAveragePooling2D.
    GlobalAvgPool2D {
        /// Keep the spatial axes as size 1.
        keepdims: bool,
    },
    /// GlobalMaxPooling2D.
    GlobalMaxPool2D {
        /// Keep the spatial axes as size 1.
        keepdims: bool,
    },
    /// Flatten (row-major over H, W, C as Keras).
    Flatten,
    /// Reshape to `target_shape` (without batch; at most one −1).
    Reshape {
        /// Target shape.
        target_shape: Vec<i64>,
    },
    /// Permute axes (1-based, without batch, as Keras).
    Permute {
        /// Permutation.
        dims: Vec<usize>,
    },
    /// UpSampling2D.
    UpSampling2D {
        /// Factor (h, w).
        size: [usize; 2],
        /// Interpolation.
        interpolation: Interpolation,
    },
    /// Image resizing to a fixed size as TensorFlow's `tf.image.resize` (Resizing; tf_keras'
    /// RandomCrop at inference).
    Resize(ResizeParams),
    /// CenterCrop: the centred `size` window, or, when the input is smaller on either side,
    /// the largest centred window of the target aspect ratio resized bilinearly to `size`.
    CenterCrop {
        /// Target (height, width).
        size: [usize; 2],
    },
    /// Keras 3 AutoContrast: each channel of each image stretched linearly so that its
    /// minimum and maximum become the ends of `value_range`; a constant channel is kept.
    AutoContrast {
        /// The value range `[low, high]` of the images.
        value_range: [f32; 2],
    },
    /// Keras 3 ContrastLimitedAdaptiveHistogramEqualization (active at inference): per image
    /// and channel, clipped tile histograms equalised and blended bilinearly between tiles.
    Clahe(ClaheParams),
    /// Rescaling: x · scale + offset (scalars or per-channel vectors).
    Rescaling {
        /// Multiplier(s).
        scale: Vec<f32>,
        /// Offset(s).
        offset: Vec<f32>,
    },
    /// Normalization: (x − mean) / sqrt(variance) per channel. When `mean`/`variance` are
    /// `None` they come from the weights (mean, variance, count).
    Normalization {
        /// Mean from the config, if stored there.
        mean: Option<Vec<f32>>,
        /// Variance from the config, if stored there.
        variance: Option<Vec<f32>>,
        /// Whether the inverse transform is applied.
        invert: bool,
    },
    /// ConvNeXt LayerScale: x · gamma (weight `[C]`).
    LayerScale,
    /// Multiplication by a constant (InceptionResNetV2's CustomScaleLayer).
    Scale {
        /// The constant.
        factor: f32,
    },
    /// InceptionResNetV2's `CustomScaleLayer` called on `[x, residual]`:
    /// `inputs[0] + inputs[1] · factor` (broadcasting as numpy).
    ScaleAdd {
        /// Multiplier of the second input.
        factor: f32,
    },
    /// Mean over `axes` (full rank with batch).
    ReduceMean {
        /// Axes.
        axes: Vec<i64>,
        /// Keep reduced axes.
        keepdims: bool,
    },
    /// Identity at inference (Dropout, SpatialDropout2D, GaussianNoise, ActivityRegularization,
    /// Identity ...).
    Identity,
}

impl Graph {
    /// Finds a node by its full path (first call).
    pub fn node_by_path(&self, path: &str) -> Option<NodeId> {
        self.nodes
            .iter()
            .position(|n| n.path == path && n.call_index == 0)
    }
}

/// Parameter counts as Keras' `count_params()` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParamCounts {
    /// All weights.
    pub total: u64,
    /// Weights Keras would train.
    pub trainable: u64,
    /// Frozen weights (BN statistics, weights of non-trainable layers or models).
    pub non_trainable: u64,
}

impl ParamCounts {
    fn of<'a>(weights: impl Iterator<Item = &'a Weight>) -> ParamCounts {
        let mut counts = ParamCounts::default();
        for w in weights {
            let n = w.shape.iter().map(|&d| d as u64).product::<u64>();
            counts.total += n;
            if w.trainable {
                counts.trainable += n;
            } else {
                counts.non_trainable += n;
            }
        }
        counts
    }
}

impl Graph {
    /// Counts every weight once (a layer called twice shares its weights).
    pub fn param_counts(&self) -> ParamCounts {
        ParamCounts::of(self.weights.iter())
    }

    /// Counts the weights of the nodes in `scope` and all its descendant scopes, each once.
    pub fn scope_param_counts(&self, scope: ScopeId) -> ParamCounts {
        let mut seen = vec![false; self.weights.len()];
        let ids = self
            .nodes_in_scope(scope)
            .into_iter()
            .flat_map(|n| self.nodes[n].weights.iter().copied());
        let mut unique = Vec::new();
        for id in ids {
            if let Some(flag) = seen.get_mut(id) {
                if !*flag {
                    *flag = true;
                    unique.push(id);
                }
            }
        }
        ParamCounts::of(unique.iter().filter_map(|&id| self.weights.get(id)))
    }

    /// Finds a scope by its path (`""` is the outer model).
    pub fn scope_by_path(&self, path: &str) -> Option<ScopeId> {
        self.scopes.iter().position(|s| s.path == path)
    }
}

impl Graph {
    /// Multiply-adds of one forward pass for one input, counted over the convolutions and
    /// dense layers (each output pixel of a layer costs one multiply-add per kernel weight;
    /// a transposed convolution spreads each input pixel over its kernel). Free dimensions
    /// count as 1.
    pub fn multiply_adds(&self) -> u64 {
        self.nodes
            .iter()
            .map(|node| {
                let weight_size = |role| {
                    self.weight(node, role)
                        .map_or(0, |w| w.shape.iter().map(|&d| d as u64).product())
                };
                let cost = Cost {
                    input: node
                        .inputs
                        .first()
                        .and_then(|&i| self.nodes.get(i))
                        .map(|input| &input.output_shape),
                    output: &node.output_shape,
                    weight_size: &weight_size,
                };
                rules(&node.op).multiply_adds(&cost)
            })
            .sum()
    }
}
