//! Drop and increase in confidence as pytorch-grad-cam's `metrics/cam_mult_image.py`
//! (`CamMultImageConfidenceChange`, `DropInConfidence`, `IncreaseInConfidence`) computes
//! them: the model-ready image is multiplied by the heatmap (broadcast over channels, so 0
//! is the value the model's preprocessing maps to 0) and `Δ = s(x ⊙ map) − s(x)`. The drop is
//! `max(−Δ, 0)` (absolute, as pytorch-grad-cam; the Grad-CAM++ paper's is relative), the
//! increase is 1 when `Δ > 0`, else 0 (its mean is the paper's "% increase in confidence").

use super::{Classifier, ModelInput};
use crate::error::Result;

/// One image's change in confidence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConfidenceChange {
    /// `s(x ⊙ map) − s(x)`.
    pub delta: f32,
    /// `max(−delta, 0)`.
    pub drop: f32,
    /// 1 when `delta > 0`, else 0.
    pub increase: f32,
}

/// The change in `class`'s score when `input` is multiplied by `heatmap`.
pub fn confidence_change(
    classifier: &mut Classifier<'_>,
    input: &ModelInput<'_>,
    class: usize,
    heatmap: &[f32],
) -> Result<ConfidenceChange> {
    input.check_heatmap(heatmap)?;
    let c = input.channels;
    let scores = classifier.scores_of(input, class, 2, |i, image| {
        image.copy_from_slice(input.pixels);
        if i == 1 {
            for (pixel, &m) in image.chunks_exact_mut(c).zip(heatmap) {
                pixel.iter_mut().for_each(|v| *v *= m);
            }
        }
        Ok(())
    })?;
    let delta = scores[1] - scores[0];
    Ok(ConfidenceChange {
        delta,
        drop: (-delta).max(0.0),
        increase: if delta > 0.0 { 1.0 } else { 0.0 },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Class 0 scores the mean of the left half, class 1 of the right half.
    fn halves<'a>() -> Classifier<'a> {
        Classifier::new(
            |batch: &[f32], n: usize| {
                let per = batch.len() / n;
                Ok(batch
                    .chunks(per)
                    .map(|img| {
                        let left: f32 = img.iter().step_by(2).sum();
                        let right: f32 = img.iter().skip(1).step_by(2).sum();
                        vec![left, right]
                    })
                    .collect())
            },
            1,
        )
    }

    #[test]
    fn a_map_on_the_evidence_keeps_the_score_and_an_inverted_one_drops_it() {
        let pixels = [1.0, 1.0, 1.0, 1.0];
        let input = ModelInput::new(&pixels, 2, 2, 1).unwrap();
        let mut net = halves();
        let perfect = confidence_change(&mut net, &input, 0, &[1.0, 0.0, 1.0, 0.0]).unwrap();
        assert_eq!(
            perfect,
            ConfidenceChange {
                delta: 0.0,
                drop: 0.0,
                increase: 0.0
            }
        );
        let inverted = confidence_change(&mut net, &input, 0, &[0.0, 1.0, 0.0, 1.0]).unwrap();
        assert_eq!(
            inverted,
            ConfidenceChange {
                delta: -2.0,
                drop: 2.0,
                increase: 0.0
            }
        );
        assert!(confidence_change(&mut net, &input, 2, &[1.0; 4]).is_err());
        assert!(confidence_change(&mut net, &input, 0, &[1.0; 3]).is_err());
    }
}
