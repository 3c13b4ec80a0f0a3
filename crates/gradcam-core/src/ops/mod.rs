//! Tensor operations on NHWC candle tensors, each with an exact backward pass.

pub(crate) mod activation;
pub(crate) mod clahe;
pub(crate) mod conv;
pub(crate) mod image_resize;
pub(crate) mod pool;
pub(crate) mod resize;
pub(crate) mod window;
