//! InputLayer: the network feeds its one input itself, so an input node that reaches
//! evaluation is a second model input.

use candle_core::Tensor;

use super::{Evaluated, Fusion, Kernel};
use crate::error::{CamError, ErrorKind, Result};

/// An input node other than the model's one image input.
#[derive(Debug, Clone)]
pub(crate) struct SecondInput;

impl Kernel for SecondInput {
    fn evaluate(&self, _: &[Tensor], _: &Fusion) -> Result<Evaluated> {
        Err(CamError::new(
            ErrorKind::Unsupported,
            "a second model input",
        ))
    }
}
