//! The product of a tracked CPU matrix by a constant one (a layer's weights) whose backward
//! pass computes only the tracked side's gradient. candle's own `matmul` also computes the
//! weights' gradient, which Grad-CAM never reads: for a classifier's `Dense` head that is a
//! `[K, O]` outer product per backward pass (2048 × 1000 for ResNet50), most of the backward
//! pass's time at batch 1.

use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp1, DType, Layout, Shape, Tensor};

use super::host::with_host;
use super::matmul::matmul_into;
use super::threads;
use crate::error::Result;

/// `x [M, K] · kernel [K, O]`. A tracked f32 CPU `x` goes through [`ByConstant`]; anything
/// else (untracked, another device or dtype) through candle's `matmul`.
pub(crate) fn matmul_by_constant(x: &Tensor, kernel: &Tensor) -> Result<Tensor> {
    let takes = x.track_op()
        && x.device().is_cpu()
        && x.dtype() == DType::F32
        && kernel.device().is_cpu()
        && kernel.dtype() == DType::F32
        && x.rank() == 2
        && kernel.rank() == 2;
    if !takes {
        return Ok(x.matmul(kernel)?);
    }
    let op = ByConstant {
        kernel: kernel.detach().contiguous()?,
    };
    Ok(x.contiguous()?.apply_op1_arc(Arc::new(Box::new(op)))?)
}

/// The product by `kernel [K, O]` as a candle custom operation.
struct ByConstant {
    kernel: Tensor,
}

fn op_error(msg: String) -> candle_core::Error {
    candle_core::Error::Msg(format!("product by a constant: {msg}"))
}

impl CustomOp1 for ByConstant {
    fn name(&self) -> &'static str {
        "matmul-by-constant"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (m, k) = layout.shape().dims2()?;
        let (kernel_k, o) = self.kernel.dims2()?;
        let (CpuStorage::F32(data), Some((start, end))) = (storage, layout.contiguous_offsets())
        else {
            return Err(op_error("the input is not contiguous f32".into()));
        };
        if kernel_k != k {
            return Err(op_error(format!(
                "input [{m}, {k}] against kernel [{kernel_k}, {o}]"
            )));
        }
        let x = &data[start..end];
        let product = with_host(&[&self.kernel], |h| {
            let mut out = vec![0f32; m * o];
            matmul_into(&mut out, x, h[0], (m, k, o), false, threads());
            out
        })
        .map_err(|e| op_error(e.to_string()))?
        .ok_or_else(|| op_error("the kernel is not an f32 CPU tensor".into()))?;
        Ok((CpuStorage::F32(product), Shape::from((m, o))))
    }

    fn bwd(
        &self,
        _arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(grad_res.matmul(&self.kernel.t()?)?))
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Var};

    use super::*;

    #[test]
    fn matches_candle_in_value_and_input_gradient() {
        let dev = Device::Cpu;
        let x: Vec<f32> = (0..3 * 5).map(|i| (i % 7) as f32 * 0.3 - 1.0).collect();
        let w: Vec<f32> = (0..5 * 4).map(|i| (i % 5) as f32 * 0.2 - 0.4).collect();
        let kernel = Tensor::from_vec(w, (5, 4), &dev).unwrap();
        let weigh = Tensor::from_vec((0..12).map(|i| i as f32).collect(), (3, 4), &dev).unwrap();
        let run = |ours: bool| {
            let x = Var::from_tensor(&Tensor::from_vec(x.clone(), (3, 5), &dev).unwrap()).unwrap();
            let y = if ours {
                matmul_by_constant(x.as_tensor(), &kernel).unwrap()
            } else {
                x.as_tensor().matmul(&kernel).unwrap()
            };
            let grads = y
                .mul(&weigh)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let g = grads.get(x.as_tensor()).unwrap().to_vec2::<f32>().unwrap();
            (y.to_vec2::<f32>().unwrap(), g, grads.get(&kernel).is_some())
        };
        let (ours, theirs) = (run(true), run(false));
        let close = |a: &[Vec<f32>], b: &[Vec<f32>]| {
            a.iter()
                .flatten()
                .zip(b.iter().flatten())
                .all(|(x, y)| (x - y).abs() <= 1e-5 * (1.0 + y.abs()))
        };
        assert!(close(&ours.0, &theirs.0), "{:?} vs {:?}", ours.0, theirs.0);
        assert!(close(&ours.1, &theirs.1), "{:?} vs {:?}", ours.1, theirs.1);
        assert!(!ours.2, "no gradient is computed for the constant");
        assert!(theirs.2, "candle's matmul computes one");
    }

    #[test]
    fn untracked_inputs_take_candles_product() {
        let dev = Device::Cpu;
        let x = Tensor::ones((2, 3), DType::F32, &dev).unwrap();
        let kernel = Tensor::ones((3, 2), DType::F32, &dev).unwrap();
        let y = matmul_by_constant(&x, &kernel).unwrap();
        assert_eq!(y.to_vec2::<f32>().unwrap(), vec![vec![3.0, 3.0]; 2]);
        assert!(!y.track_op());
    }
}
