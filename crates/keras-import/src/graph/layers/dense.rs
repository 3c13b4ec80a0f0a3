//! The `Dense` layer: options, output shape, kernel and bias, multiply-adds.

use super::activation::parse_activation_option;
use super::normalization::reject_set;
use super::{positions, Cost, Dim, LayerInput, LayerRules, WeightTemplate};
use crate::error::Result;
use crate::graph::shape::{fmt_shape, invalid, one_input, Broadcast, ShapeResult};
use crate::ir::{Op, Shape, WeightRole};

/// `Dense` on the last axis.
pub(crate) fn dense(input: &LayerInput) -> Result<Op> {
    reject_set(input, &["lora_rank", "quantization_config"])?;
    let f = &input.fields;
    Ok(Op::Dense {
        units: f.size("units")?,
        use_bias: f.bool_or("use_bias", true)?,
        activation: parse_activation_option(f, input.dialect)?,
    })
}

/// The dense family's view of an op.
pub(crate) struct Dense {
    /// Output units.
    pub units: usize,
    /// Whether a bias is added.
    pub use_bias: bool,
}

impl LayerRules for Dense {
    fn output_shape(&self, inputs: &[&Shape], _: Broadcast) -> ShapeResult<Shape> {
        let x = one_input(inputs)?;
        match x.last() {
            Some(Some(_)) => {
                let mut out = x.clone();
                if let Some(last) = out.last_mut() {
                    *last = Some(self.units);
                }
                Ok(out)
            }
            _ => Err(invalid(format!(
                "Dense needs a known last axis, input shape is {}",
                fmt_shape(x)
            ))),
        }
    }

    fn weights(&self) -> Vec<WeightTemplate> {
        let units = Dim::Fixed(self.units);
        let kernel = WeightTemplate::new(WeightRole::Kernel, vec![Dim::channels(), units]);
        let bias = WeightTemplate::vector(WeightRole::Bias, units);
        std::iter::once(kernel)
            .chain(self.use_bias.then_some(bias))
            .collect()
    }

    /// Each output position costs one multiply-add per kernel weight.
    fn multiply_adds(&self, cost: &Cost) -> u64 {
        positions(cost.output) * (cost.weight_size)(WeightRole::Kernel)
    }
}
