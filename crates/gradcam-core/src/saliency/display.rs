//! What a user sees of an attribution `[H, W, C]`: a one-channel map in [0, 1] (tf-keras-vis'
//! saliency map) or an RGB picture (pytorch-grad-cam's `deprocess_image`).

use crate::error::{CamError, ErrorKind, Result};

/// The saliency map of `values` (row-major `[H, W, channels]`): per pixel the maximum over
/// channels of `|value|`, then divided by the largest (all zeros when every value is 0), as
/// tf-keras-vis' `Saliency` reduces a gradient (`keepdims=False`, `gradient_modifier=abs`).
/// Errors on NaN or Inf, and when `channels` is 0 or does not divide the length.
pub fn saliency_map(values: &[f32], channels: usize) -> Result<Vec<f32>> {
    if channels == 0 || !values.len().is_multiple_of(channels) {
        return Err(CamError::new(
            ErrorKind::InvalidInput,
            format!(
                "{} values are not pixels of {channels} channels",
                values.len()
            ),
        ));
    }
    if values.iter().any(|v| !v.is_finite()) {
        return Err(CamError::new(
            ErrorKind::NonFinite,
            "the input gradient contains NaN or Inf",
        ));
    }
    let map: Vec<f32> = values
        .chunks_exact(channels)
        .map(|pixel| pixel.iter().fold(0f32, |m, v| m.max(v.abs())))
        .collect();
    let max = map.iter().copied().fold(0f32, f32::max);
    if max > 0.0 {
        Ok(map.into_iter().map(|v| v / max).collect())
    } else {
        Ok(map)
    }
}

/// pytorch-grad-cam's `deprocess_image` (`utils/image.py`): `(x − mean) / (std + 1e-5) ·
/// 0.1 + 0.5` over all values, clipped to [0, 1], times 255 and truncated to `u8` — the grey
/// picture with coloured edges shown for guided backpropagation. `std` is the population
/// standard deviation; mean and std are accumulated in f64.
pub fn deprocess_image(attribution: &[f32]) -> Vec<u8> {
    let n = attribution.len().max(1) as f64;
    let mean = attribution.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = attribution
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n;
    let scale = 0.1 / (var.sqrt() + 1e-5);
    attribution
        .iter()
        .map(|&v| {
            let x = ((f64::from(v) - mean) * scale + 0.5).clamp(0.0, 1.0);
            (x * 255.0) as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_is_channel_max_of_magnitudes_over_the_largest() {
        let values = [1.0, -4.0, 2.0, 0.5, -1.0, 0.0];
        assert_eq!(saliency_map(&values, 3).unwrap(), vec![1.0, 0.25]);
        assert_eq!(saliency_map(&[0.0; 4], 2).unwrap(), vec![0.0, 0.0]);
        assert!(saliency_map(&values, 4).is_err());
        assert!(saliency_map(&[f32::NAN], 1).is_err());
    }

    #[test]
    fn deprocess_centres_on_grey() {
        // mean 0, std 1: −1 → 0.1 · −1 / (1 + 1e-5) + 0.5 = 0.400001 → 102.0003 → 102;
        // 1 → 0.599999 → 152.9997 → 152 (truncated, as NumPy's uint8 cast).
        assert_eq!(deprocess_image(&[-1.0, 1.0]), vec![102, 152]);
        assert_eq!(deprocess_image(&[3.0, 3.0]), vec![127, 127]);
    }
}
