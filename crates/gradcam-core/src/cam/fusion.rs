//! Maps as plain row-major grids: normalisation, half-pixel bilinear resizing, and the
//! fusion of several target layers as pytorch-grad-cam 1.5.x does it (`base_cam.py::
//! compute_cam_per_layer` and `aggregate_multi_layers`), at the finest layer's resolution
//! instead of the input's:
//!
//! 1. each layer's ReLU'd map is min-max scaled, `(x − min) / (max(x − min) + 1e-7)`
//!    (`utils/image.py::scale_cam_image`);
//! 2. resized to the resolution of the layer with the most pixels with half-pixel bilinear
//!    interpolation (OpenCV's `INTER_LINEAR`, which pytorch-grad-cam applies towards the
//!    input size);
//! 3. averaged over layers (pytorch-grad-cam's `np.maximum(·, 0)` before the mean is a no-op
//!    on these maps);
//! 4. the mean is the raw map, and it is normalised as a single layer's map would be.

use super::Normalize;
use crate::error::{CamError, ErrorKind, Result};

/// A row-major `height × width` map.
#[derive(Debug, Clone, PartialEq)]
pub struct Map {
    /// Values, row-major.
    pub data: Vec<f32>,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
}

/// A map and its normalised heatmap.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Finished {
    /// The map before normalisation.
    pub raw: Map,
    /// The normalised map.
    pub heatmap: Map,
}

/// `raw` normalised as `mode` says; NaN or Inf is an error.
pub fn normalise(raw: &[f32], mode: Normalize) -> Result<Vec<f32>> {
    if raw.iter().any(|v| !v.is_finite()) {
        return Err(CamError::new(
            ErrorKind::NonFinite,
            "the class activation map contains NaN or Inf",
        ));
    }
    Ok(match mode {
        Normalize::Max => {
            let max = raw.iter().copied().fold(0f32, f32::max);
            if max > 0.0 {
                raw.iter().map(|v| v / max).collect()
            } else {
                vec![0.0; raw.len()]
            }
        }
        Normalize::MinMax => {
            let min = raw.iter().copied().fold(f32::INFINITY, f32::min);
            let shifted: Vec<f32> = raw.iter().map(|v| v - min).collect();
            let max = shifted.iter().copied().fold(0f32, f32::max);
            shifted.iter().map(|v| v / (max + 1e-7)).collect()
        }
    })
}

/// Linear interpolation weights `[out, len]` along one axis: output `i` samples the input at
/// `position(i)` (border replicated).
fn linear_weights(len: usize, out: usize, position: impl Fn(usize) -> f64) -> Vec<f32> {
    let mut m = vec![0f32; out * len];
    for i in 0..out {
        let x = position(i);
        let x0 = (x.floor() as usize).min(len - 1);
        let x1 = (x0 + 1).min(len - 1);
        let f = (x - x0 as f64) as f32;
        m[i * len + x0] += 1.0 - f;
        m[i * len + x1] += f;
    }
    m
}

/// Interpolation weights `[out, len]` of OpenCV's `INTER_LINEAR` along one axis:
/// `x = (i + 0.5)·len/out − 0.5`, clamped at 0.
fn half_pixel_weights(len: usize, out: usize) -> Vec<f32> {
    let scale = len as f64 / out as f64;
    linear_weights(len, out, |i| ((i as f64 + 0.5) * scale - 0.5).max(0.0))
}

/// Interpolation weights `[out, len]` of corner-aligned linear interpolation
/// (`align_corners=True`): `x = i·(len − 1)/(out − 1)`.
pub(crate) fn corner_aligned_weights(len: usize, out: usize) -> Vec<f32> {
    let scale = if out > 1 {
        (len - 1) as f64 / (out - 1) as f64
    } else {
        0.0
    };
    linear_weights(len, out, |i| i as f64 * scale)
}

impl Map {
    /// The map resized to `height × width` with half-pixel bilinear interpolation.
    pub fn resized(&self, height: usize, width: usize) -> Map {
        if (height, width) == (self.height, self.width) {
            return self.clone();
        }
        let mh = half_pixel_weights(self.height, height);
        let mw = half_pixel_weights(self.width, width);
        let mut rows = vec![0f32; height * self.width];
        for (i, row) in rows.chunks_mut(self.width).enumerate() {
            for (r, &wy) in mh[i * self.height..(i + 1) * self.height]
                .iter()
                .enumerate()
            {
                if wy != 0.0 {
                    let src = &self.data[r * self.width..(r + 1) * self.width];
                    row.iter_mut().zip(src).for_each(|(o, s)| *o += wy * s);
                }
            }
        }
        let mut data = vec![0f32; height * width];
        for (i, out_row) in data.chunks_mut(width).enumerate() {
            let row = &rows[i * self.width..(i + 1) * self.width];
            for (j, o) in out_row.iter_mut().enumerate() {
                let weights = &mw[j * self.width..(j + 1) * self.width];
                *o = weights.iter().zip(row).map(|(w, v)| w * v).sum();
            }
        }
        Map {
            data,
            height,
            width,
        }
    }

    /// The map mirrored left to right.
    pub fn flipped(&self) -> Map {
        let data = self
            .data
            .chunks(self.width)
            .flat_map(|row| row.iter().rev().copied())
            .collect();
        Map {
            data,
            height: self.height,
            width: self.width,
        }
    }
}

/// One class's maps of one image, one per layer, as a raw map and a heatmap (see the module
/// documentation for several layers).
pub(crate) fn finish(layers: Vec<Map>, mode: Normalize) -> Result<Finished> {
    let raw = if layers.len() == 1 {
        layers.into_iter().next().expect("one layer")
    } else {
        fuse(&layers)?
    };
    let heatmap = Map {
        data: normalise(&raw.data, mode)?,
        height: raw.height,
        width: raw.width,
    };
    Ok(Finished { raw, heatmap })
}

/// Steps 1–3 of the module documentation.
fn fuse(layers: &[Map]) -> Result<Map> {
    let finest = layers
        .iter()
        .max_by_key(|m| m.height * m.width)
        .ok_or_else(|| CamError::new(ErrorKind::InvalidInput, "no target layer"))?;
    let (height, width) = (finest.height, finest.width);
    let mut sum = vec![0f32; height * width];
    for layer in layers {
        let scaled = Map {
            data: normalise(&layer.data, Normalize::MinMax)?,
            ..layer.clone()
        };
        let resized = scaled.resized(height, width);
        sum.iter_mut().zip(&resized.data).for_each(|(s, v)| *s += v);
    }
    let n = layers.len() as f32;
    Ok(Map {
        data: sum.into_iter().map(|v| v / n).collect(),
        height,
        width,
    })
}
