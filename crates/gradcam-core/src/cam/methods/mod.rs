//! One file per method. Each raw map is pytorch-grad-cam 1.5.x's formula; the file named in
//! each method's documentation is the reference.

mod ablationcam;
mod eigencam;
mod eigengradcam;
mod gradcam;
mod gradcam_elementwise;
mod gradcam_plusplus;
mod guided_backprop;
mod guided_gradcam;
mod hirescam;
mod layercam;
mod pixel;
mod scorecam;
mod smoothgrad;
mod xgradcam;

pub use ablationcam::AblationCam;
pub use eigencam::EigenCam;
pub use eigengradcam::EigenGradCam;
pub use gradcam::GradCam;
pub use gradcam_elementwise::GradCamElementWise;
pub use gradcam_plusplus::GradCamPlusPlus;
pub use guided_backprop::GuidedBackprop;
pub use guided_gradcam::GuidedGradCam;
pub use hirescam::HiResCam;
pub use layercam::LayerCam;
pub use scorecam::ScoreCam;
pub use smoothgrad::SmoothGrad;
pub use xgradcam::XGradCam;

/// How many masked or ablated copies one batched pass runs (pytorch-grad-cam's default
/// `batch_size` of Ablation-CAM is 32, Score-CAM's 16; the result does not depend on it).
pub const DEFAULT_BATCH: usize = 32;
