//! Where the heatmap looks: the share of its mass in the photo's outer border and in a box.
//!
//! Both are measured on the heatmap upsampled to the photo (the same bilinear resize the
//! overlay shows), so they are shares of what a reviewer sees. A pixel is in the border when
//! its centre lies within `BORDER_FRACTION` of the width (or height) from an edge.

use overlay::Heatmap;
use serde::Serialize;

use super::boxes::PixelBox;
use crate::error::Result;

/// How wide the border is, as a fraction of each side.
pub const BORDER_FRACTION: f32 = 0.1;

/// The where-it-looks numbers of one heatmap.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Looks {
    /// Share of the mass in the outer border; `None` for an all-zero heatmap.
    pub border_mass: Option<f32>,
    /// Share of the mass inside the photo's box; `None` without a box or mass.
    pub box_mass: Option<f32>,
}

/// Measures `heat` upsampled to `width x height`.
pub fn measure(heat: &Heatmap, width: u32, height: u32, bbox: Option<&PixelBox>) -> Result<Looks> {
    let full = overlay::resize_bilinear(heat, width, height)?;
    let (w, h) = (width as usize, height as usize);
    let (mut total, mut border, mut inside) = (0f64, 0f64, 0f64);
    for (y, row) in full.data().chunks_exact(w.max(1)).enumerate().take(h) {
        let edge_row = near_edge(y, h);
        let box_row = bbox.is_some_and(|b| (b.y_min..b.y_max).contains(&(y as u32)));
        for (x, &value) in row.iter().enumerate() {
            let v = f64::from(value);
            total += v;
            if edge_row || near_edge(x, w) {
                border += v;
            }
            if box_row && bbox.is_some_and(|b| (b.x_min..b.x_max).contains(&(x as u32))) {
                inside += v;
            }
        }
    }
    let share = |part: f64| (total > 0.0).then(|| (part / total) as f32);
    Ok(Looks {
        border_mass: share(border),
        box_mass: bbox.and_then(|_| share(inside)),
    })
}

/// Whether pixel `i` of `n` has its centre within the border band.
fn near_edge(i: usize, n: usize) -> bool {
    let centre = (i as f32 + 0.5) / n as f32;
    !(BORDER_FRACTION..=1.0 - BORDER_FRACTION).contains(&centre)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uniform_map_puts_the_border_area_share_in_the_border() {
        // 20 x 10 photo: the band is 2 columns and 1 row on each side, 200 - 16*8 = 72 pixels.
        let heat = Heatmap::new(4, 4, vec![1.0; 16]).unwrap();
        let b = PixelBox {
            x_min: 0,
            y_min: 0,
            x_max: 10,
            y_max: 10,
        };
        let looks = measure(&heat, 20, 10, Some(&b)).unwrap();
        assert!((looks.border_mass.unwrap() - 72.0 / 200.0).abs() < 1e-6);
        assert!((looks.box_mass.unwrap() - 0.5).abs() < 1e-6);
    }

    #[test]
    fn a_centred_map_has_no_border_mass_and_zero_maps_have_none() {
        let mut data = vec![0.0; 100];
        data[4 * 10 + 4] = 1.0;
        data[5 * 10 + 5] = 1.0;
        let looks = measure(&Heatmap::new(10, 10, data).unwrap(), 10, 10, None).unwrap();
        assert_eq!(looks.border_mass, Some(0.0));
        assert_eq!(looks.box_mass, None);
        let zero = measure(&Heatmap::new(2, 2, vec![0.0; 4]).unwrap(), 8, 8, None).unwrap();
        assert_eq!(zero.border_mass, None);
    }
}
