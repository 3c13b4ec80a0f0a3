//! The choice between a fused CPU kernel and the device-generic candle formulation, shared by
//! the layers that have both.

use candle_core::Tensor;
use keras_import::Activation;

use super::{Evaluated, Fusion};
use crate::cpu::{self, Epilogue, ZeroPad, NO_PAD};
use crate::error::Result;

/// `x` zero-padded by `pad` (on the CPU fast path when it can).
pub(crate) fn zero_padded(x: &Tensor, pad: ZeroPad) -> Result<Tensor> {
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
pub(crate) fn with_epilogue(
    fusion: &Fusion,
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
pub(crate) fn on_fast_kernel(
    fusion: &Fusion,
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
