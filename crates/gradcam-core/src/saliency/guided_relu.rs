//! The guided ReLU of guided backpropagation: the forward value is `max(x, 0)`, the backward
//! pass lets through only positive gradients where the input was positive,
//! `∂x = ∂y · 1[x > 0] · 1[∂y > 0]` (pytorch-grad-cam's `GuidedBackpropReLU`, tf-keras-vis'
//! `GuidedBackpropagation` gradient).
//!
//! It is written as `gate(x · 1[x > 0])` with the mask a constant: the product gives the
//! `1[x > 0]` factor, and `gate` is a candle custom operation whose forward pass is the
//! identity and whose backward pass is `max(∂y, 0)`. The identity copies the storage, so the
//! operation runs on every device.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};
use keras_import::Activation;

use crate::error::Result;
use crate::ops::activation;

/// How the ReLU activations of a forward pass send gradients back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum ReluBackward {
    /// TensorFlow's gradient, `∂y · 1[x > 0]`.
    #[default]
    Exact,
    /// Guided backpropagation's, `∂y · 1[x > 0] · 1[∂y > 0]`.
    Guided,
}

/// `act(x)`; with the guided rule, a `relu` on a tracked tensor becomes [`guided_relu`].
/// Only `relu` itself is guided (the `relu` activation of any layer, `Activation("relu")`
/// and a ReLU layer without options): pytorch-grad-cam replaces only `nn.ReLU` modules, so
/// ReLU6, LeakyReLU, swish, GELU and the rest keep their exact gradient.
pub(crate) fn activate(x: &Tensor, act: Activation, rule: ReluBackward) -> Result<Tensor> {
    if rule == ReluBackward::Guided && act == Activation::Relu && x.track_op() {
        return guided_relu(x);
    }
    activation::apply(x, act)
}

/// `max(x, 0)` whose backward pass is guided backpropagation's.
pub(crate) fn guided_relu(x: &Tensor) -> Result<Tensor> {
    let positive = x.detach().gt(0.0)?.to_dtype(x.dtype())?;
    let masked = x.mul(&positive)?;
    Ok(masked.apply_op1(PositiveGradient)?)
}

/// The identity forward, `max(∂y, 0)` backward.
struct PositiveGradient;

impl CustomOp1 for PositiveGradient {
    fn name(&self) -> &'static str {
        "guided-relu"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        Ok((copy_whole(storage, layout)?, layout.shape().clone()))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        storage: &candle_core::CudaStorage,
        layout: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        Ok((copy_whole(storage, layout)?, layout.shape().clone()))
    }

    #[cfg(feature = "metal")]
    fn metal_fwd(
        &self,
        storage: &candle_core::MetalStorage,
        layout: &Layout,
    ) -> candle_core::Result<(candle_core::MetalStorage, Shape)> {
        Ok((copy_whole(storage, layout)?, layout.shape().clone()))
    }

    fn bwd(
        &self,
        _arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let zero = Tensor::zeros((), grad_res.dtype(), grad_res.device())?;
        Ok(Some(grad_res.broadcast_maximum(&zero)?))
    }
}

/// A copy of `storage`, whose tensor must be contiguous from offset 0 (true of the fresh
/// product [`guided_relu`] passes in): the copy is read with a fresh contiguous layout.
fn copy_whole<S: BackendStorage>(storage: &S, layout: &Layout) -> candle_core::Result<S> {
    match layout.contiguous_offsets() {
        Some((0, _)) => storage.try_clone(layout),
        _ => Err(candle_core::Error::Msg(format!(
            "guided ReLU: the input is not contiguous from offset 0 ({layout:?})"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Var};

    use super::*;

    /// Backward of `Σ w · guided_relu(x)` for weights `w` of both signs.
    #[test]
    fn passes_only_positive_gradients_where_the_input_was_positive() {
        let dev = Device::Cpu;
        let x = Var::from_vec(vec![-1.0f32, 0.0, 2.0, 3.0, 0.5, -0.2], (2, 3), &dev).unwrap();
        let w = Tensor::from_vec(vec![5.0f32, 1.0, -2.0, 4.0, 0.0, 7.0], (2, 3), &dev).unwrap();
        let y = guided_relu(x.as_tensor()).unwrap();
        assert_eq!(
            y.to_vec2::<f32>().unwrap(),
            vec![vec![0.0, 0.0, 2.0], vec![3.0, 0.5, 0.0]]
        );
        let grads = y.mul(&w).unwrap().sum_all().unwrap().backward().unwrap();
        let g = grads.get(x.as_tensor()).unwrap().to_vec2::<f32>().unwrap();
        // x ≤ 0 → 0; x > 0 and ∂y < 0 → 0; x > 0 and ∂y > 0 → ∂y.
        assert_eq!(g, vec![vec![0.0, 0.0, 0.0], vec![4.0, 0.0, 0.0]]);
    }

    #[test]
    fn only_relu_is_guided() {
        let dev = Device::Cpu;
        let x = Var::from_vec(vec![1.0f32, 2.0], 2, &dev).unwrap();
        let w = Tensor::from_vec(vec![-1.0f32, 1.0], 2, &dev).unwrap();
        for (act, want) in [
            (Activation::Relu, vec![0.0, 1.0]),
            (Activation::Relu6, vec![-1.0, 1.0]),
            (Activation::Linear, vec![-1.0, 1.0]),
        ] {
            let y = activate(x.as_tensor(), act, ReluBackward::Guided).unwrap();
            let grads = y.mul(&w).unwrap().sum_all().unwrap().backward().unwrap();
            let g = grads.get(x.as_tensor()).unwrap().to_vec1::<f32>().unwrap();
            assert_eq!(g, want, "{act:?}");
        }
    }
}
