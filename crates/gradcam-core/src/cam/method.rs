//! The [`CamMethod`] trait and what a method hands back.

use candle_core::Tensor;

use super::context::CamContext;
use crate::error::Result;

/// What a method computes for the images of a [`CamContext`]; the pipeline reduces it to
/// one map per image and applies a ReLU ([`CamMethod::relu_map`]).
#[derive(Debug, Clone)]
pub enum Contribution {
    /// Per-image channel weights `[N, k]`: the map is `Σ_k w_k · A_k` (with `eigen_smooth`,
    /// the first principal component of `w_k · A_k`).
    ChannelWeights(Tensor),
    /// Per-element contributions `[N, h, w, k]`: the map is their channel sum (with
    /// `eigen_smooth`, their first principal component).
    Elementwise(Tensor),
    /// Finished maps `[N, h', w']` at any resolution (e.g. the input's); `eigen_smooth` does
    /// not apply to them.
    Map(Tensor),
}

/// A class-activation-map method. Adding one is one file under `cam/methods/` and one line
/// in the [`super::registry`].
pub trait CamMethod: Sync {
    /// The method's command-line name (`gradcam`, `scorecam`, …).
    fn name(&self) -> &'static str;
    /// Whether the context must carry `dScore/dA` (gradient-free methods save the backward
    /// pass).
    fn needs_gradients(&self) -> bool {
        true
    }
    /// Whether the pipeline applies a ReLU to the map (pytorch-grad-cam always does; a
    /// method whose signed map is the point, e.g. a gradient probe, says no).
    fn relu_map(&self) -> bool {
        true
    }
    /// The contribution for the context's images and class.
    fn contribution(&self, ctx: &CamContext<'_>) -> Result<Contribution>;
}

/// `Σ_k weights_k · A_k` for per-image channel weights `[N, 1, 1, k]` (or any shape that
/// broadcasts to it), as one batched product `[N, h·w, k] · [N, k, 1]`: candle's reductions
/// over the channel axis take several times longer.
pub fn weighted_channel_sum(activations: &Tensor, weights: &Tensor) -> Result<Tensor> {
    let (n, h, w, k) = activations.dims4()?;
    let weights = weights.broadcast_as((n, 1, 1, k))?.reshape((n, k, 1))?;
    let sums = activations.reshape((n, h * w, k))?.matmul(&weights)?;
    Ok(sums.reshape((n, h, w))?)
}

/// The channel sum of `[N, h, w, k]` as `[N, h, w]` (a product with ones, see
/// [`weighted_channel_sum`]).
pub(crate) fn channel_sum(x: &Tensor) -> Result<Tensor> {
    let k = x.dim(3)?;
    let ones = Tensor::ones((1, 1, 1, k), x.dtype(), x.device())?;
    weighted_channel_sum(x, &ones)
}

/// The spatial sum of `[N, h, w, k]` as `[N, k]`.
pub(crate) fn spatial_sum(x: &Tensor) -> Result<Tensor> {
    let (n, h, w, k) = x.dims4()?;
    Ok(x.reshape((n, h * w, k))?.sum(1)?)
}
