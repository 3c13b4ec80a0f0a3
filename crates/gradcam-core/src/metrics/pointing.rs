//! The pointing game (Zhang et al. 2016) as TorchRay's `benchmark/pointing_game.py` plays it:
//! the point is the first maximum (row-major) of the saliency map at the photo's resolution,
//! and it hits when some pixel of a ground-truth box lies at a Euclidean distance strictly
//! below the tolerance (15 px), i.e. `(y − v)² + (x − u)² < tolerance²`.

use super::invalid;
use crate::error::{CamError, ErrorKind, Result};

/// TorchRay's tolerance in pixels.
pub const POINTING_TOLERANCE: f32 = 15.0;

/// A ground-truth box in pixel coordinates of the photo, corners inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelBox {
    /// Leftmost column.
    pub x0: usize,
    /// Top row.
    pub y0: usize,
    /// Rightmost column (inclusive).
    pub x1: usize,
    /// Bottom row (inclusive).
    pub y1: usize,
}

/// One photo's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pointing {
    /// Whether the point lies within the tolerance of a box.
    pub hit: bool,
    /// The point `(x, y)`: the map's first maximum in row-major order.
    pub point: (usize, usize),
}

/// Plays the pointing game with `heatmap` (`height × width`, row-major, at the photo's
/// resolution) against `boxes` (their union is the ground truth; each must lie inside the
/// photo).
pub fn pointing_game(
    heatmap: &[f32],
    width: usize,
    height: usize,
    boxes: &[PixelBox],
    tolerance: f32,
) -> Result<Pointing> {
    if heatmap.len() != width * height || heatmap.is_empty() {
        return Err(invalid(format!(
            "the heatmap has {} values, not {width}×{height}",
            heatmap.len()
        )));
    }
    if let Some(b) = boxes
        .iter()
        .find(|b| b.x0 > b.x1 || b.y0 > b.y1 || b.x1 >= width || b.y1 >= height)
    {
        return Err(invalid(format!(
            "box {b:?} is empty or leaves the {width}×{height} photo"
        )));
    }
    let mut best = 0;
    for (i, &v) in heatmap.iter().enumerate() {
        if !v.is_finite() {
            return Err(CamError::new(
                ErrorKind::NonFinite,
                "the heatmap contains NaN or Inf",
            ));
        }
        // Strict: the first maximum wins, as torch.argmax.
        if v > heatmap[best] {
            best = i;
        }
    }
    let (u, v) = (best % width, best / width);
    let limit = f64::from(tolerance) * f64::from(tolerance);
    // The box pixel nearest to the point is the point clamped into the box.
    let hit = boxes.iter().any(|b| {
        let dx = u.clamp(b.x0, b.x1).abs_diff(u) as f64;
        let dy = v.clamp(b.y0, b.y1).abs_diff(v) as f64;
        dx * dx + dy * dy < limit
    });
    Ok(Pointing { hit, point: (u, v) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peak_at(width: usize, height: usize, x: usize, y: usize) -> Vec<f32> {
        let mut map = vec![0.0; width * height];
        map[y * width + x] = 1.0;
        map
    }

    #[test]
    fn a_map_peaking_inside_the_box_hits_and_its_inverse_misses() {
        let b = PixelBox {
            x0: 40,
            y0: 40,
            x1: 50,
            y1: 50,
        };
        let map = peak_at(64, 64, 45, 45);
        let hit = pointing_game(&map, 64, 64, &[b], POINTING_TOLERANCE).unwrap();
        assert_eq!(
            hit,
            Pointing {
                hit: true,
                point: (45, 45)
            }
        );
        let inverted: Vec<f32> = map.iter().map(|v| 1.0 - v).collect();
        let miss = pointing_game(&inverted, 64, 64, &[b], POINTING_TOLERANCE).unwrap();
        // Every other pixel ties at 1: the first one in row-major order is the point.
        assert_eq!(
            miss,
            Pointing {
                hit: false,
                point: (0, 0)
            }
        );
    }

    #[test]
    fn the_tolerance_is_a_strict_euclidean_disk() {
        let b = PixelBox {
            x0: 30,
            y0: 10,
            x1: 30,
            y1: 10,
        };
        // 15 px straight left of the box: distance 15 is not < 15.
        let at_15 = pointing_game(&peak_at(64, 32, 15, 10), 64, 32, &[b], 15.0).unwrap();
        assert!(!at_15.hit);
        let at_14 = pointing_game(&peak_at(64, 32, 16, 10), 64, 32, &[b], 15.0).unwrap();
        assert!(at_14.hit);
        // Diagonal (9, 12): 81 + 144 = 225 = 15², a miss; (9, 11): 202 < 225, a hit.
        let diag = pointing_game(&peak_at(64, 32, 21, 22), 64, 32, &[b], 15.0).unwrap();
        assert!(!diag.hit);
        let diag = pointing_game(&peak_at(64, 32, 21, 21), 64, 32, &[b], 15.0).unwrap();
        assert!(diag.hit);
    }

    #[test]
    fn any_box_of_the_union_counts_and_bad_boxes_are_refused() {
        let far = PixelBox {
            x0: 0,
            y0: 0,
            x1: 2,
            y1: 2,
        };
        let near = PixelBox {
            x0: 60,
            y0: 60,
            x1: 63,
            y1: 63,
        };
        let map = peak_at(64, 64, 62, 62);
        assert!(pointing_game(&map, 64, 64, &[far, near], 15.0).unwrap().hit);
        assert!(!pointing_game(&map, 64, 64, &[far], 15.0).unwrap().hit);
        let outside = PixelBox {
            x0: 60,
            y0: 60,
            x1: 64,
            y1: 63,
        };
        assert!(pointing_game(&map, 64, 64, &[outside], 15.0).is_err());
        assert!(pointing_game(&map[1..], 64, 64, &[near], 15.0).is_err());
    }
}
