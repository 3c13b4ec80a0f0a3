//! `aug_smooth`, as pytorch-grad-cam 1.5.x's `BaseCAM.forward_augmentation_smoothing` with
//! ttach's default transforms: the six passes `HorizontalFlip ∈ {no, yes}` × `Multiply ∈
//! {0.9, 1, 1.1}` of the model-ready input (ttach multiplies the tensor the model takes, not
//! the photo), each pass's map flipped back and the finished maps averaged (heatmaps and raw
//! maps alike, without normalising again, so the heatmap's maximum may be below 1).
//!
//! One difference: pytorch-grad-cam with `targets=None` takes each pass's own top class;
//! here every pass explains the classes chosen on the unmodified input, so the six maps
//! explain the same class (identical whenever the top class does not change).

use candle_core::Tensor;

use super::fusion::{Finished, Map};
use super::pipeline::{run_pass, Classes, Layer, Method, Pass};
use super::CamRequest;
use crate::error::Result;
use crate::network::Network;

/// ttach's `Multiply` factors.
const FACTORS: [f64; 3] = [0.9, 1.0, 1.1];

/// The batch `x` (`[N, H, W, C]`) mirrored left to right.
fn flip_width(x: &Tensor) -> Result<Tensor> {
    let w = x.dim(2)?;
    let index: Vec<u32> = (0..w as u32).rev().collect();
    let index = Tensor::from_vec(index, w, x.device())?;
    Ok(x.index_select(&index, 2)?)
}

/// The finished maps (per target, per image) averaged over the six augmented passes;
/// `plain` is the pass on the unmodified input.
pub(crate) fn augmented(
    net: &Network,
    method: Method<'_>,
    x: &Tensor,
    layers: &[Layer],
    plain: &Pass,
    request: &CamRequest,
) -> Result<Vec<Vec<Finished>>> {
    let mut sum = plain.finished.clone();
    for flip in [false, true] {
        for factor in FACTORS {
            if !flip && factor == 1.0 {
                continue; // the plain pass, already in `sum`
            }
            let xa = if flip { flip_width(x)? } else { x.clone() };
            let xa = xa.affine(factor, 0.0)?;
            let classes = Classes::Fixed(&plain.scores);
            let pass = run_pass(net, method, &xa, layers, classes, request)?;
            for (acc, maps) in sum.iter_mut().zip(pass.finished) {
                for (a, m) in acc.iter_mut().zip(maps) {
                    let m = if flip { flipped(m) } else { m };
                    add(&mut a.raw, &m.raw);
                    add(&mut a.heatmap, &m.heatmap);
                }
            }
        }
    }
    let passes = (2 * FACTORS.len()) as f32;
    for f in sum.iter_mut().flatten() {
        f.raw.data.iter_mut().for_each(|v| *v /= passes);
        f.heatmap.data.iter_mut().for_each(|v| *v /= passes);
    }
    Ok(sum)
}

fn flipped(f: Finished) -> Finished {
    Finished {
        raw: f.raw.flipped(),
        heatmap: f.heatmap.flipped(),
    }
}

fn add(acc: &mut Map, m: &Map) {
    acc.data.iter_mut().zip(&m.data).for_each(|(a, v)| *a += v);
}
