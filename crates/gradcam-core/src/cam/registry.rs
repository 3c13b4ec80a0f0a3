//! Command-line names of the methods. A method is one entry: its name, a line of help and a
//! constructor taking the [`MethodOptions`]. Methods whose map is at the input resolution
//! (guided backpropagation, …) fit the same way: they return [`super::Contribution::Map`].

use super::methods::{
    AblationCam, EigenCam, EigenGradCam, GradCam, GradCamElementWise, GradCamPlusPlus,
    GuidedBackprop, GuidedGradCam, HiResCam, LayerCam, ScoreCam, SmoothGrad, XGradCam,
    DEFAULT_BATCH,
};
use super::CamMethod;

/// Options some methods take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodOptions {
    /// Score-CAM: channels scored per image (`None`: every channel; `Some(n)`: Faster
    /// Score-CAM).
    pub max_channels: Option<usize>,
    /// Score-CAM and Ablation-CAM: modified copies per forward pass.
    pub batch: usize,
}

impl Default for MethodOptions {
    fn default() -> MethodOptions {
        MethodOptions {
            max_channels: None,
            batch: DEFAULT_BATCH,
        }
    }
}

/// One registered method.
pub struct MethodEntry {
    /// Its command-line name.
    pub name: &'static str,
    /// One line of help.
    pub summary: &'static str,
    /// Builds it.
    pub make: fn(&MethodOptions) -> Box<dyn CamMethod>,
}

/// Every method, in the order the help lists them.
pub const METHODS: &[MethodEntry] = &[
    MethodEntry {
        name: "gradcam",
        summary: "Grad-CAM: channel weights = mean gradient",
        make: |_| Box::new(GradCam),
    },
    MethodEntry {
        name: "hirescam",
        summary: "HiResCAM: sum over channels of gradient x activation",
        make: |_| Box::new(HiResCam),
    },
    MethodEntry {
        name: "gradcam-elementwise",
        summary: "Grad-CAM element-wise: sum of ReLU(gradient x activation)",
        make: |_| Box::new(GradCamElementWise),
    },
    MethodEntry {
        name: "gradcam++",
        summary: "Grad-CAM++ (pytorch-grad-cam's weights)",
        make: |_| Box::new(GradCamPlusPlus),
    },
    MethodEntry {
        name: "xgradcam",
        summary: "XGrad-CAM: activation-weighted gradient sums",
        make: |_| Box::new(XGradCam),
    },
    MethodEntry {
        name: "layercam",
        summary: "Layer-CAM: sum of ReLU(gradient) x activation",
        make: |_| Box::new(LayerCam),
    },
    MethodEntry {
        name: "eigencam",
        summary: "Eigen-CAM: first principal component of the activations (class-agnostic)",
        make: |_| Box::new(EigenCam),
    },
    MethodEntry {
        name: "eigengradcam",
        summary: "Eigen-Grad-CAM: first principal component of gradient x activation",
        make: |_| Box::new(EigenGradCam),
    },
    MethodEntry {
        name: "scorecam",
        summary: "Score-CAM: softmax of the scores of channel-masked inputs",
        make: |o| {
            Box::new(ScoreCam {
                max_channels: o.max_channels,
                batch: o.batch,
            })
        },
    },
    MethodEntry {
        name: "ablationcam",
        summary: "Ablation-CAM: relative score drop when a channel is removed",
        make: |o| Box::new(AblationCam { batch: o.batch }),
    },
    MethodEntry {
        name: "guided-backprop",
        summary: "Guided Backpropagation: input gradient through guided ReLUs (input resolution)",
        make: |_| Box::new(GuidedBackprop),
    },
    MethodEntry {
        name: "guided-gradcam",
        summary: "Guided Grad-CAM: guided backpropagation x the upsampled Grad-CAM map",
        make: |_| Box::new(GuidedGradCam),
    },
    MethodEntry {
        name: "smoothgrad",
        summary: "SmoothGrad: mean |input gradient| over 20 noisy copies (input resolution)",
        make: |_| Box::new(SmoothGrad::default()),
    },
];

/// The method named `name`, built with `options`; `None` for an unknown name.
pub fn method_by_name(name: &str, options: &MethodOptions) -> Option<Box<dyn CamMethod>> {
    METHODS
        .iter()
        .find(|m| m.name == name)
        .map(|m| (m.make)(options))
}

/// Every registered name, comma-separated (for messages).
pub fn method_names() -> String {
    METHODS
        .iter()
        .map(|m| m.name)
        .collect::<Vec<_>>()
        .join(", ")
}
