//! Activation layers: `Activation` (left to the caller as the node's fused activation, so a
//! classifier's softmax can be stripped), ReLU with Keras' options, LeakyReLU, PReLU and
//! Softmax over any axis.

use candle_core::Tensor;
use keras_import::{Activation, WeightRole};

use super::weights::WeightReader;
use super::{first, norm_axis, Evaluated, Fusion, Kernel};
use crate::error::Result;
use crate::ops::activation;

/// An `Activation` layer: the input, with the activation still to apply.
#[derive(Debug, Clone)]
pub(crate) struct Fused(pub Activation);

impl Kernel for Fused {
    fn evaluate(&self, inputs: &[Tensor], _: &Fusion) -> Result<Evaluated> {
        Ok(Evaluated {
            pre: first(inputs)?.clone(),
            activation: self.0,
        })
    }
}

/// Keras' ReLU layer.
#[derive(Debug, Clone)]
pub(crate) struct Relu {
    /// Upper clip, if any.
    pub max_value: Option<f32>,
    /// Slope below the threshold.
    pub negative_slope: f32,
    /// Threshold.
    pub threshold: f32,
}

impl Kernel for Relu {
    fn evaluate(&self, inputs: &[Tensor], _: &Fusion) -> Result<Evaluated> {
        let x = first(inputs)?;
        if self.max_value.is_none() && self.negative_slope == 0.0 && self.threshold == 0.0 {
            // Plain: the `relu` activation, left to the caller so that guided
            // backpropagation (`saliency::guided_relu`) treats it as every other ReLU.
            return Ok(Evaluated {
                pre: x.clone(),
                activation: Activation::Relu,
            });
        }
        let y = activation::keras_relu(x, self.max_value, self.negative_slope, self.threshold)?;
        Ok(Evaluated::linear(y))
    }
}

/// LeakyReLU with its negative slope.
#[derive(Debug, Clone)]
pub(crate) struct LeakyRelu(pub f32);

impl Kernel for LeakyRelu {
    fn evaluate(&self, inputs: &[Tensor], _: &Fusion) -> Result<Evaluated> {
        Ok(Evaluated::linear(activation::leaky_relu(
            first(inputs)?,
            self.0,
        )?))
    }
}

/// PReLU with its learned slopes.
#[derive(Debug, Clone)]
pub(crate) struct PRelu {
    /// Alpha shaped `[1, ...]` (shared axes of size 1).
    alpha: Tensor,
}

impl PRelu {
    /// Reads alpha, shaped like an input of `rank` (without batch).
    pub fn prepare(rank: usize, r: &mut WeightReader<'_>) -> Result<PRelu> {
        let a = r.take(WeightRole::Alpha, &vec![None; rank])?;
        let mut dims = vec![1usize];
        dims.extend_from_slice(&a.shape);
        Ok(PRelu {
            alpha: r.tensor(a, &dims)?,
        })
    }
}

impl Kernel for PRelu {
    fn evaluate(&self, inputs: &[Tensor], _: &Fusion) -> Result<Evaluated> {
        Ok(Evaluated::linear(activation::prelu(
            first(inputs)?,
            &self.alpha,
        )?))
    }
}

/// A Softmax layer over one axis.
#[derive(Debug, Clone)]
pub(crate) struct Softmax {
    /// The axis (with batch).
    axis: usize,
}

impl Softmax {
    /// Softmax over Keras axis `axis` of a tensor of `rank`.
    pub fn prepare(axis: i64, rank: usize) -> Result<Softmax> {
        Ok(Softmax {
            axis: norm_axis(axis, rank)?,
        })
    }
}

impl Kernel for Softmax {
    fn evaluate(&self, inputs: &[Tensor], _: &Fusion) -> Result<Evaluated> {
        Ok(Evaluated::linear(activation::softmax(
            first(inputs)?,
            self.axis,
        )?))
    }
}
