//! Layers that move values without arithmetic (Flatten, Reshape, Permute, Identity) and
//! the mean over axes.

use candle_core::Tensor;

use super::{first, norm_axes, Evaluated, Fusion, Kernel};
use crate::error::{CamError, ErrorKind, Result};

/// Flatten (row-major over H, W, C, as Keras).
#[derive(Debug, Clone)]
pub(crate) struct Flatten;

impl Kernel for Flatten {
    fn evaluate(&self, inputs: &[Tensor], _: &Fusion) -> Result<Evaluated> {
        let x = first(inputs)?;
        let n = x.dim(0)?;
        Ok(Evaluated::linear(
            x.reshape((n, x.elem_count() / n.max(1)))?,
        ))
    }
}

/// Reshape to a target shape without batch (at most one −1).
#[derive(Debug, Clone)]
pub(crate) struct Reshape(pub Vec<i64>);

impl Kernel for Reshape {
    fn evaluate(&self, inputs: &[Tensor], _: &Fusion) -> Result<Evaluated> {
        let x = first(inputs)?;
        let target = &self.0;
        let n = x.dim(0)?;
        let per = x.elem_count() / n.max(1);
        let known: i64 = target.iter().filter(|&&d| d >= 0).product();
        let cannot = || {
            CamError::new(
                ErrorKind::InvalidGraph,
                format!("cannot reshape {:?} to {target:?}", x.dims()),
            )
        };
        let mut dims = vec![n];
        for &d in target {
            if d >= 0 {
                dims.push(d as usize);
            } else if known > 0 && per as i64 % known == 0 {
                dims.push(per / known as usize);
            } else {
                return Err(cannot());
            }
        }
        if dims.iter().skip(1).product::<usize>() != per {
            return Err(cannot());
        }
        Ok(Evaluated::linear(x.reshape(dims)?))
    }
}

/// Permute (1-based axes without batch, as Keras).
#[derive(Debug, Clone)]
pub(crate) struct Permute {
    /// The permutation with batch.
    perm: Vec<usize>,
}

impl Permute {
    /// Keras' `dims` for tensors of `rank` (with batch).
    pub fn prepare(dims: &[usize], rank: usize) -> Result<Permute> {
        let mut perm = vec![0usize];
        perm.extend(dims.iter().copied());
        if perm.len() != rank || perm.iter().any(|&d| d >= rank) {
            return Err(CamError::new(
                ErrorKind::Unsupported,
                format!("permutation {dims:?} for rank {rank}"),
            ));
        }
        Ok(Permute { perm })
    }
}

impl Kernel for Permute {
    fn evaluate(&self, inputs: &[Tensor], _: &Fusion) -> Result<Evaluated> {
        let y = first(inputs)?.permute(self.perm.clone())?.contiguous()?;
        Ok(Evaluated::linear(y))
    }
}

/// Mean over axes.
#[derive(Debug, Clone)]
pub(crate) struct ReduceMean {
    /// Sorted, distinct axes (with batch).
    axes: Vec<usize>,
    /// Keep the reduced axes as size 1.
    keepdims: bool,
}

impl ReduceMean {
    /// Mean over Keras `axes` of tensors of `rank`.
    pub fn prepare(axes: &[i64], keepdims: bool, rank: usize) -> Result<ReduceMean> {
        Ok(ReduceMean {
            axes: norm_axes(axes, rank)?,
            keepdims,
        })
    }
}

impl Kernel for ReduceMean {
    fn evaluate(&self, inputs: &[Tensor], _: &Fusion) -> Result<Evaluated> {
        let mut y = first(inputs)?.mean_keepdim(self.axes.as_slice())?;
        if !self.keepdims {
            for &a in self.axes.iter().rev() {
                y = y.squeeze(a)?;
            }
        }
        Ok(Evaluated::linear(y))
    }
}

/// A layer that is the identity at inference (Dropout, GaussianNoise, …).
#[derive(Debug, Clone)]
pub(crate) struct Identity;

impl Kernel for Identity {
    fn evaluate(&self, inputs: &[Tensor], _: &Fusion) -> Result<Evaluated> {
        Ok(Evaluated::linear(first(inputs)?.clone()))
    }
}
