//! What a method sees: the network, the model-ready input, the target activations, the
//! gradients (when asked), and passes of the network on modified activations or inputs.

use candle_core::Tensor;
use keras_import::NodeId;

use super::Target;
use crate::error::{CamError, ErrorKind, Result};
use crate::forward::Tail;
use crate::head::HeadInfo;
use crate::network::Network;

/// One image's score for one target.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Score {
    /// The explained class.
    pub class: usize,
    /// The logit unit it reads.
    pub unit: usize,
    /// +1, or −1 for class 0 of a one-unit sigmoid.
    pub sign: f32,
    /// `sign · logit`.
    pub value: f32,
}

impl Score {
    /// The class `target` names for an image with `logits`, and the unit, sign and value
    /// that score it (the one rule for CAM and pixel-level methods alike).
    pub(crate) fn resolve(head: &HeadInfo, target: Target, logits: &[f32]) -> Result<Score> {
        let classes = head.num_classes(logits.len());
        let class = match target {
            Target::Class(c) if c < classes => c,
            Target::Class(c) => {
                return Err(CamError::new(
                    ErrorKind::InvalidInput,
                    format!("class {c} does not exist (the model has {classes} classes)"),
                ))
            }
            Target::Rank(r) => head.ranking(logits).get(r).copied().ok_or_else(|| {
                CamError::new(
                    ErrorKind::InvalidInput,
                    format!("rank {r} exceeds the {classes} classes"),
                )
            })?,
        };
        let (unit, sign) = head.score_unit(class, logits.len());
        Ok(Score {
            class,
            unit,
            sign,
            value: sign * logits[unit],
        })
    }

    /// This score read from each row of logits `[B, K]`.
    fn of_rows(&self, logits: &Tensor) -> Result<Vec<f32>> {
        let column = logits.narrow(1, self.unit, 1)?.flatten_all()?;
        let column = column.to_dtype(candle_core::DType::F32)?.to_vec1::<f32>()?;
        Ok(column.into_iter().map(|v| self.sign * v).collect())
    }
}

/// Where a long method reports how far it has got: `(done, total)` passes of the network,
/// counted over the images of one target layer and class.
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Sync);

/// A [`Progress`] that discards the reports.
pub(crate) fn no_progress(_: usize, _: usize) {}

/// The inputs of [`super::CamMethod::contribution`] for one target layer and one class.
pub struct CamContext<'a> {
    pub(crate) network: &'a Network,
    pub(crate) input: &'a Tensor,
    pub(crate) activations: &'a Tensor,
    pub(crate) gradients: Option<&'a Tensor>,
    pub(crate) target: NodeId,
    pub(crate) layer: &'a str,
    pub(crate) scores: &'a [Score],
    pub(crate) progress: Progress<'a>,
}

impl<'a> CamContext<'a> {
    /// Reports that `done` of `total` passes have run (Score-CAM's masked inputs,
    /// Ablation-CAM's ablated copies), for a progress display.
    pub fn report_progress(&self, done: usize, total: usize) {
        (self.progress)(done, total);
    }

    /// The network.
    pub fn network(&self) -> &Network {
        self.network
    }

    /// The model-ready input `[N, H, W, C]` (after the caller's preprocessing).
    pub fn input(&self) -> &Tensor {
        self.input
    }

    /// The target activations `A [N, h, w, k]`.
    pub fn activations(&self) -> &Tensor {
        self.activations
    }

    /// The gradients `dScore/dA [N, h, w, k]`; an error for a method that did not ask for
    /// them ([`super::CamMethod::needs_gradients`]).
    pub fn gradients(&self) -> Result<&Tensor> {
        self.gradients.ok_or_else(|| {
            CamError::at(
                ErrorKind::MissingGradient,
                self.layer,
                "this method did not ask for gradients",
            )
        })
    }

    /// Path of the target layer.
    pub fn layer(&self) -> &str {
        self.layer
    }

    /// Number of images.
    pub fn images(&self) -> usize {
        self.scores.len()
    }

    /// Image `image`'s explained score (the pre-activation logit, sign-adjusted).
    pub fn score(&self, image: usize) -> Result<f32> {
        Ok(self.image_score(image)?.value)
    }

    /// Image `image`'s explained class.
    pub fn class(&self, image: usize) -> Result<usize> {
        Ok(self.image_score(image)?.class)
    }

    fn image_score(&self, image: usize) -> Result<Score> {
        self.scores.get(image).copied().ok_or_else(|| {
            CamError::new(
                ErrorKind::InvalidInput,
                format!("image {image} of {}", self.scores.len()),
            )
        })
    }

    /// Image `image`'s score for each of the modified inputs `[B, H, W, C]`, by batched
    /// forward passes of the whole network (its fast path: nothing is tracked).
    pub fn scores_of_inputs(&self, image: usize, inputs: &Tensor) -> Result<Vec<f32>> {
        let score = self.image_score(image)?;
        let fwd = self.network.forward(inputs, None)?;
        score.of_rows(&fwd.logits)
    }

    /// Runs the layers after the target layer for image `image` (see [`TailRunner`]).
    pub fn tail(&self, image: usize) -> Result<TailRunner<'a>> {
        let score = self.image_score(image)?;
        let x = self.input.narrow(0, image, 1)?;
        let tail = self.network.tail(&x, self.target)?;
        Ok(TailRunner {
            network: self.network,
            tail,
            score,
        })
    }
}

/// Runs only the layers after the target layer, from modified target activations of one
/// image (other values those layers read come from the image's own pass).
pub struct TailRunner<'a> {
    network: &'a Network,
    tail: Tail,
    score: Score,
}

impl TailRunner<'_> {
    /// The image's score for each of the target activations `[B, h, w, k]`.
    pub fn scores(&self, activations: &Tensor) -> Result<Vec<f32>> {
        let logits = self.network.forward_tail(&self.tail, activations)?;
        self.score.of_rows(&logits)
    }
}
