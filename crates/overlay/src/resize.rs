//! Bilinear heatmap resampling with half-pixel centres (OpenCV `INTER_LINEAR`).

use crate::error::{OverlayError, Result};
use crate::heatmap::Heatmap;

/// Resamples `heat` to `width x height` by bilinear interpolation with half-pixel centres.
///
/// For every output column `dx` the source coordinate is
/// `sx = clamp((dx + 0.5) * in_width / width - 0.5, 0, in_width - 1)`, and likewise for rows;
/// the output is the bilinear blend of the (at most) four source cells around `(sx, sy)`,
/// computed in `f64` and stored as `f32`. This is `align_corners = false` with edge clamping:
/// the same sampling as `cv2.resize(..., interpolation=cv2.INTER_LINEAR)` and as TensorFlow's
/// `tf.image.resize(..., "bilinear", antialias=False)`.
///
/// It works for any pair of sizes: a 1x1 heatmap becomes a constant image, huge upsampling
/// factors are fine (each output cell reads only four inputs), and downsampling is supported
/// but *not* antialiased (each output still samples only its nearest 2x2 cells, exactly like
/// OpenCV's `INTER_LINEAR`). A linear ramp is reproduced exactly up to rounding.
///
/// Errors: [`OverlayError::Empty`] for a zero target side; [`OverlayError::TooLarge`] when
/// `width * height` cells could not be allocated.
///
/// ```
/// use overlay::{resize_bilinear, Heatmap};
/// let heat = Heatmap::new(2, 1, vec![0.0, 1.0])?;
/// let wide = resize_bilinear(&heat, 4, 1)?;
/// assert_eq!(wide.data(), &[0.0, 0.25, 0.75, 1.0]);
/// # Ok::<(), overlay::OverlayError>(())
/// ```
pub fn resize_bilinear(heat: &Heatmap, width: u32, height: u32) -> Result<Heatmap> {
    if width == 0 || height == 0 {
        return Err(OverlayError::Empty {
            what: "resize target",
            width,
            height,
        });
    }
    let cells = checked_cells(width, height)?;
    let columns = axis_samples(heat.width(), width);
    let rows = axis_samples(heat.height(), height);
    let source = heat.data();
    let source_width = heat.width() as usize;

    let mut data = Vec::with_capacity(cells);
    for row in &rows {
        // `Heatmap` guarantees `data.len() == width * height` and `AxisSample` indices are
        // below the source side, so these row slices are in bounds.
        let upper = &source[row.low * source_width..][..source_width];
        let lower = &source[row.high * source_width..][..source_width];
        for column in &columns {
            let top = column.lerp(upper[column.low], upper[column.high]);
            let bottom = column.lerp(lower[column.low], lower[column.high]);
            data.push(row.lerp_f64(top, bottom) as f32);
        }
    }
    Heatmap::new(width, height, data)
}

/// Where one output index samples along one axis: between `low` and `high` with weight
/// `fraction` on `high`.
struct AxisSample {
    low: usize,
    high: usize,
    fraction: f64,
}

impl AxisSample {
    /// Linear interpolation of two source values.
    fn lerp(&self, low: f32, high: f32) -> f64 {
        self.lerp_f64(f64::from(low), f64::from(high))
    }

    /// Linear interpolation of two already-widened values.
    fn lerp_f64(&self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.fraction
    }
}

/// Half-pixel-centre sample positions of `output_len` outputs over `input_len` inputs.
fn axis_samples(input_len: u32, output_len: u32) -> Vec<AxisSample> {
    let scale = f64::from(input_len) / f64::from(output_len);
    let last = f64::from(input_len - 1);
    (0..output_len)
        .map(|index| {
            let position = ((f64::from(index) + 0.5) * scale - 0.5).clamp(0.0, last);
            // `position` lies in [0, input_len - 1], so the floor fits in usize.
            let low = position.floor() as usize;
            AxisSample {
                low,
                high: (low + 1).min(input_len as usize - 1),
                fraction: position - low as f64,
            }
        })
        .collect()
}

/// `width * height` as a length that a `Vec<f32>` can hold.
fn checked_cells(width: u32, height: u32) -> Result<usize> {
    let cells = u64::from(width) * u64::from(height);
    let limit = (isize::MAX as u64) / std::mem::size_of::<f32>() as u64;
    usize::try_from(cells)
        .ok()
        .filter(|_| cells <= limit)
        .ok_or(OverlayError::TooLarge {
            what: "resized heatmap",
            width: u64::from(width),
            height: u64::from(height),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_size_is_identity() {
        let values: Vec<f32> = (0..12).map(|v| v as f32 / 11.0).collect();
        let heat = Heatmap::new(4, 3, values.clone()).unwrap();
        assert_eq!(resize_bilinear(&heat, 4, 3).unwrap().data(), &values[..]);
    }

    #[test]
    fn one_by_one_becomes_constant() {
        let heat = Heatmap::new(1, 1, vec![0.625]).unwrap();
        let big = resize_bilinear(&heat, 37, 5).unwrap();
        assert!(big.data().iter().all(|&v| v == 0.625));
    }

    #[test]
    fn halving_averages_neighbouring_pairs() {
        let heat = Heatmap::new(4, 1, vec![0.0, 0.5, 0.25, 1.0]).unwrap();
        let half = resize_bilinear(&heat, 2, 1).unwrap();
        assert_eq!(half.data(), &[0.25, 0.625]);
    }

    #[test]
    fn upsampling_matches_opencv_by_hand() {
        // cv2.resize(np.float32([[0, 1]]), (5, 1)) = [0, 0.1, 0.5, 0.9, 1].
        let heat = Heatmap::new(2, 1, vec![0.0, 1.0]).unwrap();
        let out = resize_bilinear(&heat, 5, 1).unwrap();
        let expected = [0.0, 0.1, 0.5, 0.9, 1.0];
        for (got, want) in out.data().iter().zip(expected) {
            assert!((got - want).abs() < 1e-6, "{:?}", out.data());
        }
    }

    #[test]
    fn zero_target_is_an_error() {
        let heat = Heatmap::new(1, 1, vec![0.0]).unwrap();
        assert!(matches!(
            resize_bilinear(&heat, 0, 4),
            Err(OverlayError::Empty { .. })
        ));
    }
}
