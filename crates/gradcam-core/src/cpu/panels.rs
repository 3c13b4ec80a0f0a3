//! Kernel panels: a `[K, O]` kernel rearranged as `⌈O / 64⌉` panels of 64 output channels,
//! each `[K][64]` contiguous (the last one narrower when 64 does not divide `O`). A panel is
//! the block `gemm` would pack for its 64-row micro-kernel, so products read it as it lies:
//! for kernels too large for the cache (ResNet50's fourth and fifth stages), whose packing
//! streamed them from memory once more at every call.

use std::ops::Range;

use candle_core::{DType, Tensor};

use super::host::{par_chunks_filled, tensor, with_host};
use super::matmul::{matmul_strided, Strided};
use crate::error::Result;

/// Output channels per panel: the rows of `gemm`'s f32 AVX-512 micro-kernel.
pub(crate) const WIDTH: usize = 64;

/// Fewest kernel values for panels to pay (1 MB, a core's L2): smaller kernels stay in cache
/// between calls, where packing them is cheap.
const MIN_VALUES: usize = 1 << 18;

/// Rows per `gemm` call: `gemm` packs its left-hand side (here the panel) for more than
/// 8 × 6 right-hand columns, which a panel does not need.
const ROWS_PER_CALL: usize = 48;

/// Whether a `[K, O]` kernel is large enough to be kept as panels.
fn pays(k: usize, o: usize) -> bool {
    k * o >= MIN_VALUES
}

/// Number of panels of `o` output channels.
pub(crate) fn count(o: usize) -> usize {
    o.div_ceil(WIDTH)
}

/// The output channels of panel `p`.
fn columns(p: usize, o: usize) -> Range<usize> {
    p * WIDTH..((p + 1) * WIDTH).min(o)
}

/// `kernel [K, O]` (row-major) rearranged into panels, one panel per task.
fn arrange(kernel: &[f32], k: usize, o: usize) -> Vec<f32> {
    let mut out = par_chunks_filled(k * o, WIDTH * k, |p, panel| {
        let cols = columns(p, o);
        for (row, dst) in panel.chunks_exact_mut(cols.len()).enumerate() {
            dst.copy_from_slice(&kernel[row * o + cols.start..row * o + cols.end]);
        }
    });
    out.shrink_to_fit();
    out
}

/// The panels of a `[K, O]` CPU f32 kernel, as a `[O / 64, K, 64]` tensor, when it is large
/// enough for them and 64 divides `O`; `None` otherwise.
pub(crate) fn panels_of(kernel: &Tensor) -> Result<Option<Tensor>> {
    let Ok((k, o)) = kernel.dims2() else {
        return Ok(None);
    };
    if !kernel.device().is_cpu() || kernel.dtype() != DType::F32 || o % WIDTH != 0 || !pays(k, o) {
        return Ok(None);
    }
    match with_host(&[kernel], |h| arrange(h[0], k, o))? {
        Some(panels) => Ok(Some(tensor(panels, &[o / WIDTH, k, WIDTH])?)),
        None => Ok(None),
    }
}

/// `dst = lhs · kernel[:, columns of panels]` for `lhs [rows × K]` (row-major) and the
/// kernel's `arranged` panels (of `o` output channels): `dst` holds `rows` rows of
/// `stride` values, whose first value is the first column of `panels.start`.
///
/// # Panics
/// When a slice is shorter than its dimensions say; callers size them from the same numbers.
pub(crate) fn multiply(
    dst: &mut [f32],
    stride: usize,
    lhs: &[f32],
    (rows, k, o): (usize, usize, usize),
    arranged: &[f32],
    panels: Range<usize>,
) {
    let first_col = panels.start * WIDTH;
    for p in panels {
        let cols = columns(p, o);
        let panel = &arranged[p * WIDTH * k..][..k * cols.len()];
        for first in (0..rows).step_by(ROWS_PER_CALL) {
            let n = ROWS_PER_CALL.min(rows - first);
            matmul_strided(
                Strided::new(&mut dst[first * stride + cols.start - first_col..], stride),
                (&lhs[first * k..], k),
                (panel, cols.len()),
                (n, k, cols.len()),
                false,
                1,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::matmul::matmul_columns_into;

    #[test]
    fn products_by_panels_match_the_row_major_kernel() {
        for (rows, k, o) in [(5, 7, 3), (49, 9, 64), (50, 4, 130), (97, 3, 200)] {
            let lhs: Vec<f32> = (0..rows * k).map(|i| (i % 11) as f32 - 5.0).collect();
            let kernel: Vec<f32> = (0..k * o).map(|i| (i % 7) as f32 * 0.5 - 1.0).collect();
            let arranged = arrange(&kernel, k, o);
            assert_eq!(arranged.len(), k * o);
            for panels in [0..count(o), 1.min(count(o) - 1)..count(o)] {
                let cols = panels.start * WIDTH..(panels.end * WIDTH).min(o);
                let mut want = vec![0f32; rows * cols.len()];
                matmul_columns_into(
                    &mut want,
                    &lhs,
                    &kernel,
                    (rows, k, o),
                    cols.clone(),
                    false,
                    1,
                );
                let mut got = vec![f32::NAN; rows * cols.len()];
                multiply(&mut got, cols.len(), &lhs, (rows, k, o), &arranged, panels);
                assert_eq!(got, want, "{rows}×{k}·{k}×{o}, columns {cols:?}");
            }
        }
    }
}
