//! The heatmap type: a validated grid of finite `f32` heat values.

use image::{ImageBuffer, Luma};

use crate::error::{OverlayError, Result};

/// A `width x height` grid of finite heat values in row-major order (`data[y * width + x]`).
///
/// Values are expected in `[0, 1]` (Grad-CAM output normalised by its maximum); values
/// outside are allowed here and clamped when coloured (see [`crate::Colormap::map`]).
/// The constructor guarantees non-zero sides, `data.len() == width * height` and that every
/// value is finite, so no later operation can index out of bounds or spread a NaN.
#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    width: u32,
    height: u32,
    data: Vec<f32>,
}

impl Heatmap {
    /// Builds a heatmap from row-major values.
    ///
    /// Errors: [`OverlayError::Empty`] for a zero side, [`OverlayError::HeatmapLength`] when
    /// `data.len() != width * height`, [`OverlayError::NonFiniteHeat`] for a NaN or infinity
    /// (naming its position).
    pub fn new(width: u32, height: u32, data: Vec<f32>) -> Result<Self> {
        if width == 0 || height == 0 {
            return Err(OverlayError::Empty {
                what: "heatmap",
                width,
                height,
            });
        }
        let expected = pixel_count(width, height);
        if data.len() != expected {
            return Err(OverlayError::HeatmapLength {
                width,
                height,
                expected,
                actual: data.len(),
            });
        }
        if let Some(index) = data.iter().position(|value| !value.is_finite()) {
            // `index < width * height`, so both coordinates fit in u32.
            let width_usize = width as usize;
            return Err(OverlayError::NonFiniteHeat {
                x: (index % width_usize) as u32,
                y: (index / width_usize) as u32,
                value: data[index],
            });
        }
        Ok(Heatmap {
            width,
            height,
            data,
        })
    }

    /// Builds a heatmap from a single-channel `f32` image (same checks as [`Heatmap::new`]).
    pub fn from_luma(image: ImageBuffer<Luma<f32>, Vec<f32>>) -> Result<Self> {
        let (width, height) = image.dimensions();
        Heatmap::new(width, height, image.into_raw())
    }

    /// Width in heat cells (columns).
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in heat cells (rows).
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The row-major values, `width * height` of them.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The value at column `x`, row `y`, or `None` outside the grid.
    pub fn get(&self, x: u32, y: u32) -> Option<f32> {
        if x >= self.width || y >= self.height {
            return None;
        }
        self.data
            .get(y as usize * self.width as usize + x as usize)
            .copied()
    }

    /// Consumes the heatmap and returns its row-major values.
    pub fn into_data(self) -> Vec<f32> {
        self.data
    }
}

/// `width * height`, saturated at `usize::MAX` (a length no `Vec` can match).
fn pixel_count(width: u32, height: u32) -> usize {
    (width as usize).saturating_mul(height as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_zero_sides_wrong_lengths_and_non_finite_values() {
        assert!(matches!(
            Heatmap::new(0, 3, vec![]),
            Err(OverlayError::Empty { width: 0, .. })
        ));
        assert!(matches!(
            Heatmap::new(2, 3, vec![0.0; 5]),
            Err(OverlayError::HeatmapLength {
                expected: 6,
                actual: 5,
                ..
            })
        ));
        let mut data = vec![0.5; 6];
        data[5] = f32::NAN;
        match Heatmap::new(2, 3, data) {
            Err(OverlayError::NonFiniteHeat { x: 1, y: 2, value }) => assert!(value.is_nan()),
            other => panic!("expected NonFiniteHeat at (1, 2), got {other:?}"),
        }
    }

    #[test]
    fn get_reads_row_major_and_is_none_outside() {
        let heat = Heatmap::new(3, 2, vec![0.0, 0.1, 0.2, 0.3, 0.4, 0.5]).unwrap();
        assert_eq!(heat.get(2, 0), Some(0.2));
        assert_eq!(heat.get(0, 1), Some(0.3));
        assert_eq!(heat.get(3, 0), None);
        assert_eq!(heat.get(0, 2), None);
    }

    #[test]
    fn from_luma_keeps_layout() {
        let image = ImageBuffer::from_fn(3, 2, |x, y| Luma([(y * 3 + x) as f32 / 10.0]));
        let heat = Heatmap::from_luma(image).unwrap();
        assert_eq!((heat.width(), heat.height()), (3, 2));
        assert_eq!(heat.get(1, 1), Some(0.4));
    }
}
