//! The five input preprocessing modes of the conformance corpus, applied in float32 exactly as
//! `keras.applications.<module>.preprocess_input` computes them.

use std::fmt;
use std::str::FromStr;

/// Caffe means, in B, G, R order (subtracted after the RGB -> BGR swap).
const CAFFE_MEAN_BGR: [f32; 3] = [103.939, 116.779, 123.68];
/// Torch (ImageNet) means, in R, G, B order.
const TORCH_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// Torch (ImageNet) standard deviations, in R, G, B order.
const TORCH_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// How RGB pixels in `[0, 255]` become the network input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Preprocessing {
    /// Reverse channels RGB -> BGR, then subtract `[103.939, 116.779, 123.68]` (VGG, ResNet v1).
    Caffe,
    /// `x / 127.5 - 1`, range `[-1, 1]` (MobileNet v1/v2, ResNet v2, Inception, Xception, NASNet).
    Tf,
    /// `(x / 255 - mean) / std` with the ImageNet mean and std (DenseNet).
    Torch,
    /// Unchanged: the model normalises internally (Rescaling / Normalization layers).
    None,
    /// `x / 255`, range `[0, 1]` (custom models without a known backbone).
    Unit,
}

impl Preprocessing {
    /// Every mode, in declaration order.
    pub const ALL: [Preprocessing; 5] = [
        Preprocessing::Caffe,
        Preprocessing::Tf,
        Preprocessing::Torch,
        Preprocessing::None,
        Preprocessing::Unit,
    ];

    /// The stable lower-case name (`caffe`, `tf`, `torch`, `none`, `unit`).
    pub fn as_str(self) -> &'static str {
        match self {
            Preprocessing::Caffe => "caffe",
            Preprocessing::Tf => "tf",
            Preprocessing::Torch => "torch",
            Preprocessing::None => "none",
            Preprocessing::Unit => "unit",
        }
    }

    /// Whether the mode is defined for images of `channels` channels: `caffe` and `torch`
    /// have per-RGB-channel constants (3 only); `tf`, `unit` and `none` act on each value.
    pub fn accepts_channels(self, channels: usize) -> bool {
        !matches!(self, Preprocessing::Caffe | Preprocessing::Torch) || channels == 3
    }

    /// Preprocesses NHWC RGB pixels in `[0, 255]` in place. The length should be a multiple of
    /// 3 (channels last); a trailing partial pixel is left unchanged.
    pub fn apply(self, nhwc: &mut [f32]) {
        match self {
            Preprocessing::Caffe => {
                for px in nhwc.chunks_exact_mut(3) {
                    px.reverse();
                    for (v, mean) in px.iter_mut().zip(CAFFE_MEAN_BGR) {
                        *v -= mean;
                    }
                }
            }
            Preprocessing::Tf => nhwc.iter_mut().for_each(|v| *v = *v / 127.5 - 1.0),
            Preprocessing::Torch => {
                for px in nhwc.chunks_exact_mut(3) {
                    for ((v, mean), std) in px.iter_mut().zip(TORCH_MEAN).zip(TORCH_STD) {
                        *v = (*v / 255.0 - mean) / std;
                    }
                }
            }
            Preprocessing::None => {}
            Preprocessing::Unit => nhwc.iter_mut().for_each(|v| *v /= 255.0),
        }
    }
}

impl fmt::Display for Preprocessing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A preprocessing name that is not one of `caffe`, `tf`, `torch`, `none`, `unit`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown preprocessing `{0}` (expected caffe, tf, torch, none or unit)")]
pub struct UnknownPreprocessing(pub String);

impl FromStr for Preprocessing {
    type Err = UnknownPreprocessing;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Preprocessing::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownPreprocessing(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Preprocessing::ALL {
            assert_eq!(p.to_string().parse::<Preprocessing>(), Ok(p));
        }
        assert!("auto".parse::<Preprocessing>().is_err());
    }

    #[test]
    fn caffe_swaps_then_subtracts() {
        let mut px = [10.0f32, 20.0, 30.0];
        Preprocessing::Caffe.apply(&mut px);
        assert_eq!(px, [30.0 - 103.939, 20.0 - 116.779, 10.0 - 123.68]);
    }

    #[test]
    fn tf_none_and_unit_endpoints() {
        let mut px = [0.0f32, 127.5, 255.0];
        Preprocessing::Tf.apply(&mut px);
        assert_eq!(px, [-1.0, 0.0, 1.0]);
        let mut px = [0.0f32, 51.0, 255.0];
        Preprocessing::Unit.apply(&mut px);
        assert_eq!(px, [0.0, 0.2, 1.0]);
        Preprocessing::None.apply(&mut px);
        assert_eq!(px, [0.0, 0.2, 1.0]);
    }

    #[test]
    fn torch_normalises_per_channel() {
        let mut px = [255.0f32, 0.0, 127.5];
        Preprocessing::Torch.apply(&mut px);
        assert_eq!(px[0], (1.0 - 0.485) / 0.229);
        assert_eq!(px[1], (0.0 - 0.456) / 0.224);
        assert_eq!(px[2], (127.5f32 / 255.0 - 0.406) / 0.225);
    }
}
