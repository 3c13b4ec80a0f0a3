//! A safe front to the `gemm` crate's row-major f32 matrix product.

use gemm::Parallelism;

/// `dst[m×n] (+)= lhs[m×k] · rhs[k×n]`, all row-major and densely packed. With `accumulate`
/// the product is added to what `dst` holds (used to start from the bias).
///
/// # Panics
/// When a slice is shorter than its dimensions say; callers size them from the same numbers.
pub(crate) fn matmul_into(
    dst: &mut [f32],
    lhs: &[f32],
    rhs: &[f32],
    (m, k, n): (usize, usize, usize),
    accumulate: bool,
    threads: usize,
) {
    matmul_columns_into(dst, lhs, rhs, (m, k, n), 0..n, accumulate, threads);
}

/// Like [`matmul_into`] for the columns `cols` of `rhs [k×n]` only: `dst` is `m × cols.len()`.
///
/// # Panics
/// When a slice is shorter than its dimensions say, or `cols` is not inside `0..n`.
pub(crate) fn matmul_columns_into(
    dst: &mut [f32],
    lhs: &[f32],
    rhs: &[f32],
    (m, k, n): (usize, usize, usize),
    cols: std::ops::Range<usize>,
    accumulate: bool,
    threads: usize,
) {
    assert!(cols.start <= cols.end && cols.end <= n);
    let width = cols.end - cols.start;
    assert!(dst.len() >= m * width && lhs.len() >= m * k && rhs.len() >= k * n);
    if m == 0 || width == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst[..m * width].fill(0.0);
        }
        return;
    }
    let parallelism = if threads > 1 {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    };
    // SAFETY: `dst` and `lhs` hold at least m·width and m·k elements, dense row-major; the
    // columns cols of `rhs` (row stride n) end at (k−1)·n + cols.end ≤ k·n ≤ rhs.len() (all
    // asserted above); `dst` is borrowed mutably so it cannot alias `lhs` or `rhs`.
    unsafe {
        gemm::gemm(
            m,
            width,
            k,
            dst.as_mut_ptr(),
            1,
            width as isize,
            accumulate,
            lhs.as_ptr(),
            1,
            k as isize,
            rhs.as_ptr().add(cols.start),
            1,
            n as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_naive_product_and_accumulates() {
        let (m, k, n) = (5, 7, 3);
        let lhs: Vec<f32> = (0..m * k).map(|i| (i % 11) as f32 - 5.0).collect();
        let rhs: Vec<f32> = (0..k * n).map(|i| (i % 7) as f32 * 0.5 - 1.0).collect();
        let mut want = vec![1.0f32; m * n];
        for r in 0..m {
            for c in 0..n {
                for i in 0..k {
                    want[r * n + c] += lhs[r * k + i] * rhs[i * n + c];
                }
            }
        }
        for threads in [1, 2] {
            let mut dst = vec![1.0f32; m * n];
            matmul_into(&mut dst, &lhs, &rhs, (m, k, n), true, threads);
            assert_eq!(dst, want);
        }
        let mut part = vec![1.0f32; m * 2];
        matmul_columns_into(&mut part, &lhs, &rhs, (m, k, n), 1..3, true, 1);
        for r in 0..m {
            assert_eq!(part[r * 2..r * 2 + 2], want[r * n + 1..r * n + 3]);
        }
    }
}
