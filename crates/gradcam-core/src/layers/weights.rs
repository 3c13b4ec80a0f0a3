//! Reads a node's weights by role (the importer alone knows Keras' variable order), checking
//! count, shape and finiteness, and uploads them to the device.

use candle_core::{Device, Tensor};
use keras_import::{Graph, Node, Weight, WeightRole};

use crate::error::{CamError, ErrorKind, Result};

/// One node's weights, read by role.
pub(crate) struct WeightReader<'a> {
    graph: &'a Graph,
    node: &'a Node,
    /// How many weights were read (each role once): all of them must be.
    read: usize,
    device: &'a Device,
}

impl<'a> WeightReader<'a> {
    /// Checks every weight of `node` (existence, value count, finiteness).
    pub fn new(graph: &'a Graph, node: &'a Node, device: &'a Device) -> Result<Self> {
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
        }
        Ok(WeightReader {
            graph,
            node,
            read: 0,
            device,
        })
    }

    /// An invalid-graph error naming the node.
    pub fn err(&self, msg: String) -> CamError {
        CamError::at(ErrorKind::InvalidGraph, &self.node.path, msg)
    }

    /// The weight playing `role`, required to have `shape` (`None` entries match anything).
    pub fn take(&mut self, role: WeightRole, shape: &[Option<usize>]) -> Result<&'a Weight> {
        let w = self.take_any(role)?;
        let ok = w.shape.len() == shape.len()
            && w.shape
                .iter()
                .zip(shape)
                .all(|(a, b)| b.is_none_or(|b| b == *a));
        if !ok {
            return Err(self.err(format!(
                "weight {role:?} has shape {:?}, expected {shape:?}",
                w.shape
            )));
        }
        Ok(w)
    }

    /// The weight playing `role`, whatever its shape.
    pub fn take_any(&mut self, role: WeightRole) -> Result<&'a Weight> {
        let w = self.graph.weight(self.node, role).ok_or_else(|| {
            self.err(format!(
                "missing weight {role:?} (has {} weights)",
                self.node.weights.len()
            ))
        })?;
        self.read += 1;
        Ok(w)
    }

    /// `w` uploaded with `dims`.
    pub fn tensor(&self, w: &Weight, dims: &[usize]) -> Result<Tensor> {
        Ok(Tensor::from_slice(&w.data, dims, self.device)?)
    }

    /// The next weight, a vector of `len` values, uploaded.
    pub fn vector(&mut self, role: WeightRole, len: usize) -> Result<Tensor> {
        let w = self.take(role, &[Some(len)])?;
        self.tensor(w, &[len])
    }

    /// The bias vector of `len` values when the layer has one.
    pub fn bias(&mut self, use_bias: bool, len: usize) -> Result<Option<Tensor>> {
        use_bias
            .then(|| self.vector(WeightRole::Bias, len))
            .transpose()
    }

    /// The device the weights go to.
    pub fn device(&self) -> &'a Device {
        self.device
    }

    /// Fails unless every weight was read.
    pub fn finish(&self) -> Result<()> {
        if self.read != self.node.weights.len() {
            return Err(self.err(format!(
                "expected {} weights, found {}",
                self.read,
                self.node.weights.len()
            )));
        }
        Ok(())
    }
}
