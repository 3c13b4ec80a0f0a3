//! Executes a Keras graph IR on candle (CPU by default; `cuda` / `metal` features) and
//! computes Grad-CAM heatmaps by autodiff, matching TensorFlow's definitions.
//!
//! Activations are NHWC throughout: 1×1 convolutions (most of the FLOPs of ResNet and
//! MobileNet) are then a single matrix product with no copy, Keras HWIO kernels reshape to
//! im2col matrices without transposition, and per-channel ops broadcast on the contiguous
//! last axis. Before the target layer the graph runs on plain tensors, on the CPU through
//! the fused kernels of the `cpu` module (zero padding, BatchNormalization and activations
//! folded into convolutions); after it, every op used has an exact backward pass.

pub mod cam;
mod cpu;
pub mod error;
mod forward;
pub mod head;
mod layers;
pub mod metrics;
pub mod network;
mod ops;
mod plan;
pub mod saliency;
pub mod stages;
pub mod target;

pub use cam::registry::{method_by_name, MethodOptions};
pub use cam::{
    weighted_channel_sum, CamContext, CamMethod, CamRequest, CamResult, Contribution, GradCam,
    Normalize, Target, STAGES,
};
pub use candle_core;
pub use error::{CamError, ErrorKind, Result};
pub use head::{find_head, find_head_for, resolve_output, Head, HeadInfo, OutputChoice};
pub use network::{Network, Prediction};
pub use saliency::{PixelMap, SmoothGradOptions};
pub use stages::stage_layers;
pub use target::{default_target_layer, default_target_layer_for};
