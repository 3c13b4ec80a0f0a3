//! Merges and element-wise arithmetic: binary ops with scalar operands, n-ary merge layers,
//! InceptionResNetV2's scaled residual sum and Concatenate. A residual sum of two layer
//! outputs runs on the CPU kernel that can also apply a folded activation.

use candle_core::{Device, Tensor};
use keras_import::{Activation, BinaryOp, Constant, Op, Operand};

use super::fast::with_epilogue;
use super::{first, norm_axis, Evaluated, Fusion, Kernel};
use crate::cpu;
use crate::error::{CamError, ErrorKind, Result};
use crate::ops::activation;

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

/// A sum of layer outputs through the CPU kernel (with the folded activation) when it can.
fn sum(inputs: &[Tensor], fusion: &Fusion) -> Result<Evaluated> {
    with_epilogue(
        fusion,
        fusion.activation.unwrap_or(Activation::Linear),
        |ep| cpu::add(inputs, ep),
        || reduce(BinaryOp::Add, inputs),
    )
}

/// Whether `op` with these operands is a sum of two layer outputs (a residual sum).
pub(crate) fn is_residual_sum(op: BinaryOp, lhs: Operand, rhs: Operand) -> bool {
    matches!(
        (op, lhs, rhs),
        (BinaryOp::Add, Operand::Input(_), Operand::Input(_))
    )
}

/// Whether `op` is a plain sum of layer outputs, which a CPU kernel can follow with an
/// activation.
pub(crate) fn is_sum(op: &Op) -> bool {
    match op {
        Op::Merge { op, average } => *op == BinaryOp::Add && !average,
        Op::Binary { op, lhs, rhs } => is_residual_sum(*op, *lhs, *rhs),
        _ => false,
    }
}

/// A binary element-wise op on inputs or scalar constants.
#[derive(Debug, Clone)]
pub(crate) struct Binary {
    op: BinaryOp,
    lhs: Operand,
    rhs: Operand,
}

impl Binary {
    /// `lhs op rhs`.
    pub fn new(op: BinaryOp, lhs: Operand, rhs: Operand) -> Binary {
        Binary { op, lhs, rhs }
    }
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

impl Kernel for Binary {
    fn evaluate(&self, inputs: &[Tensor], fusion: &Fusion) -> Result<Evaluated> {
        let x = first(inputs)?;
        let a = operand(self.lhs, inputs, x)?;
        let b = operand(self.rhs, inputs, x)?;
        if is_residual_sum(self.op, self.lhs, self.rhs) {
            return sum(&[a, b], fusion);
        }
        Ok(Evaluated::linear(binary(self.op, &a, &b)?))
    }
}

/// A binary element-wise op between the input and a constant tensor held on the device.
#[derive(Debug, Clone)]
pub(crate) struct ConstantBinary {
    op: BinaryOp,
    constant: Tensor,
    constant_first: bool,
}

impl ConstantBinary {
    /// `x op constant` (`constant op x` when `constant_first`), the constant put on `device`.
    pub fn prepare(
        op: BinaryOp,
        constant: &Constant,
        constant_first: bool,
        device: &Device,
    ) -> Result<ConstantBinary> {
        let tensor = Tensor::from_vec(constant.values.clone(), constant.shape.as_slice(), device)?;
        Ok(ConstantBinary {
            op,
            constant: tensor,
            constant_first,
        })
    }
}

impl Kernel for ConstantBinary {
    fn evaluate(&self, inputs: &[Tensor], _: &Fusion) -> Result<Evaluated> {
        let x = first(inputs)?;
        let y = if self.constant_first {
            binary(self.op, &self.constant, x)?
        } else {
            binary(self.op, x, &self.constant)?
        };
        Ok(Evaluated::linear(y))
    }
}

/// An n-ary merge layer (Add, Multiply, Maximum, Minimum, Average).
#[derive(Debug, Clone)]
pub(crate) struct Merge {
    op: BinaryOp,
    average: bool,
}

impl Merge {
    /// Reduction by `op`, divided by the input count when `average`.
    pub fn new(op: BinaryOp, average: bool) -> Merge {
        Merge { op, average }
    }

    /// Whether this merge is a plain sum (a residual sum when it has two inputs).
    pub fn is_sum(&self) -> bool {
        self.op == BinaryOp::Add && !self.average
    }
}

impl Kernel for Merge {
    fn evaluate(&self, inputs: &[Tensor], fusion: &Fusion) -> Result<Evaluated> {
        if self.is_sum() {
            return sum(inputs, fusion);
        }
        let acc = reduce(self.op, inputs)?;
        Ok(Evaluated::linear(if self.average {
            acc.affine(1.0 / inputs.len() as f64, 0.0)?
        } else {
            acc
        }))
    }
}

/// InceptionResNetV2's `CustomScaleLayer` on `[x, residual]`: `x + residual · factor`.
#[derive(Debug, Clone)]
pub(crate) struct ScaleAdd(pub f32);

impl Kernel for ScaleAdd {
    fn evaluate(&self, inputs: &[Tensor], _: &Fusion) -> Result<Evaluated> {
        match inputs {
            [a, b] => Ok(Evaluated::linear(
                a.broadcast_add(&b.affine(f64::from(self.0), 0.0)?)?,
            )),
            _ => Err(CamError::new(
                ErrorKind::Unsupported,
                format!("CustomScaleLayer takes two inputs, got {}", inputs.len()),
            )),
        }
    }
}

/// Concatenate along one axis.
#[derive(Debug, Clone)]
pub(crate) struct Concatenate {
    axis: usize,
}

impl Concatenate {
    /// Concatenation along Keras axis `axis` of tensors of `rank`.
    pub fn prepare(axis: i64, rank: usize) -> Result<Concatenate> {
        Ok(Concatenate {
            axis: norm_axis(axis, rank)?,
        })
    }
}

impl Kernel for Concatenate {
    fn evaluate(&self, inputs: &[Tensor], _: &Fusion) -> Result<Evaluated> {
        Ok(Evaluated::linear(Tensor::cat(inputs, self.axis)?))
    }
}
