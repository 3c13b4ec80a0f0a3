//! Reads a node's weights in Keras variable order, checking count, shape and finiteness, and
//! uploads them to the device.

use candle_core::{Device, Tensor};
use keras_import::{Graph, Node, Weight};

use crate::error::{CamError, ErrorKind, Result};

/// A cursor over one node's weights.
pub(crate) struct WeightReader<'a> {
    node: &'a Node,
    weights: Vec<&'a Weight>,
    next: usize,
    device: &'a Device,
}

impl<'a> WeightReader<'a> {
    /// Checks every weight of `node` (existence, value count, finiteness).
    pub fn new(graph: &'a Graph, node: &'a Node, device: &'a Device) -> Result<Self> {
        let mut weights = Vec::with_capacity(node.weights.len());
        for &id in &node.weights {
            let w = graph.weights.get(id).ok_or_else(|| {
                CamError::at(
                    ErrorKind::InvalidGraph,
                    &node.path,
                    format!("weight id {id} does not exist"),
                )
            })?;
            let expected: usize = w.shape.iter().product();
            if w.data.len() != expected {
                return Err(CamError::at(
                    ErrorKind::InvalidGraph,
                    &node.path,
                    format!(
                        "weight '{}' of shape {:?} holds {} values, expected {expected}",
                        w.name,
                        w.shape,
                        w.data.len()
                    ),
                ));
            }
            if let Some(bad) = w.data.iter().find(|v| !v.is_finite()) {
                return Err(CamError::at(
                    ErrorKind::NonFinite,
                    &node.path,
                    format!("weight '{}' contains the non-finite value {bad}", w.name),
                ));
            }
            weights.push(w);
        }
        Ok(WeightReader {
            node,
            weights,
            next: 0,
            device,
        })
    }

    /// An invalid-graph error naming the node.
    pub fn err(&self, msg: String) -> CamError {
        CamError::at(ErrorKind::InvalidGraph, &self.node.path, msg)
    }

    /// The next weight, required to have `shape` (`None` entries match anything).
    pub fn take(&mut self, what: &str, shape: &[Option<usize>]) -> Result<&'a Weight> {
        let w = self.take_any(what)?;
        let ok = w.shape.len() == shape.len()
            && w.shape
                .iter()
                .zip(shape)
                .all(|(a, b)| b.is_none_or(|b| b == *a));
        if !ok {
            return Err(self.err(format!(
                "weight '{what}' has shape {:?}, expected {shape:?}",
                w.shape
            )));
        }
        Ok(w)
    }

    /// The next weight, whatever its shape.
    pub fn take_any(&mut self, what: &str) -> Result<&'a Weight> {
        let w = *self.weights.get(self.next).ok_or_else(|| {
            self.err(format!(
                "missing weight '{what}' (has {} weights)",
                self.weights.len()
            ))
        })?;
        self.next += 1;
        Ok(w)
    }

    /// `w` uploaded with `dims`.
    pub fn tensor(&self, w: &Weight, dims: &[usize]) -> Result<Tensor> {
        Ok(Tensor::from_slice(&w.data, dims, self.device)?)
    }

    /// The next weight, a vector of `len` values, uploaded.
    pub fn vector(&mut self, what: &str, len: usize) -> Result<Tensor> {
        let w = self.take(what, &[Some(len)])?;
        self.tensor(w, &[len])
    }

    /// The bias vector of `len` values when the layer has one.
    pub fn bias(&mut self, use_bias: bool, len: usize) -> Result<Option<Tensor>> {
        use_bias.then(|| self.vector("bias", len)).transpose()
    }

    /// The device the weights go to.
    pub fn device(&self) -> &'a Device {
        self.device
    }

    /// Fails unless every weight was read.
    pub fn finish(&self) -> Result<()> {
        if self.next != self.weights.len() {
            return Err(self.err(format!(
                "expected {} weights, found {}",
                self.next,
                self.weights.len()
            )));
        }
        Ok(())
    }
}
