//! Fast CPU kernels for the untracked part of the forward pass (everything before the
//! Grad-CAM target, and the whole pass of `predict`). No gradient is needed there, so
//! convolutions run straight on host buffers: one im2col tile per task, one `gemm` call,
//! bias and activation applied while the tile is still in cache, tasks spread over all cores.
//!
//! One entry point serves the tracked part instead: [`matmul_by_constant`], a product by a
//! layer's weights whose backward pass skips the weights' gradient.
//!
//! Every other entry point returns `None` when its input is not an untracked, contiguous-able
//! f32 CPU tensor, and the caller falls back to the device-generic candle formulation.

mod add;
mod constant_product;
mod conv;
mod depthwise;
mod epilogue;
mod expanded;
mod geometry;
mod host;
mod matmul;
mod pad;
pub(crate) mod panels;
mod pool;
mod winograd;

pub(crate) use add::add;
pub(crate) use constant_product::matmul_by_constant;
pub(crate) use conv::{conv2d, ConvWeights, Finish};
pub(crate) use depthwise::{depthwise_conv2d, DepthwiseWeights};
pub(crate) use epilogue::Epilogue;
pub(crate) use expanded::{expanded_depthwise_conv2d, expansion_pays, Expansion};
pub(crate) use geometry::{ZeroPad, NO_PAD};
pub(crate) use pad::zero_pad;
pub(crate) use panels::panels_of;
pub(crate) use pool::max_pool;
pub(crate) use winograd::KeptTransform;

/// How a convolution kernel's values are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KernelLayout {
    /// `[kh·kw·C, O]` rows: the im2col product's right-hand side.
    Rows,
    /// `[G, kh·kw·C/G, O/G]`: one row block per feature group.
    Grouped,
    /// `[O / 64, C, 64]` panels of a 1×1 kernel ([`panels`]), read without packing.
    Panels,
}

/// f32 values per step of the register-blocked loops: one AVX-512 register.
const LANES: usize = 16;

/// Number of worker threads the kernels split work across.
fn threads() -> usize {
    rayon::current_num_threads().max(1)
}

#[cfg(test)]
mod tests;
