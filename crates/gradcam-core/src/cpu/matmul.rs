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
    assert!(cols.start <= cols.end && cols.end <= n && rhs.len() >= k * n);
    let width = cols.end - cols.start;
    matmul_strided(
        Strided::new(dst, width),
        (lhs, k),
        (&rhs[cols.start..], n),
        (m, k, width),
        accumulate,
        threads,
    );
}

/// A destination matrix stored row-major with a row stride: row `r` starts at `r · stride`.
pub(crate) struct Strided<'a> {
    data: &'a mut [f32],
    stride: usize,
}

impl<'a> Strided<'a> {
    /// `data` holding rows `stride` values apart.
    pub fn new(data: &'a mut [f32], stride: usize) -> Self {
        Strided { data, stride }
    }
}

/// Values spanned by `rows × cols` stored with row stride `stride`.
fn extent(rows: usize, cols: usize, stride: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * stride + cols
    }
}

/// `dst (+)= lhs · rhs` for row-major matrices stored with row strides: `lhs` is `m×k`
/// (`(values, row stride)`), `rhs` `k×n`, `dst` `m×n`.
///
/// # Panics
/// When a slice is shorter than its dimensions and stride say, or a stride is shorter than
/// its row.
pub(crate) fn matmul_strided(
    dst: Strided<'_>,
    (lhs, lhs_stride): (&[f32], usize),
    (rhs, rhs_stride): (&[f32], usize),
    (m, k, n): (usize, usize, usize),
    accumulate: bool,
    threads: usize,
) {
    assert!(dst.stride >= n && lhs_stride >= k && rhs_stride >= n);
    assert!(
        dst.data.len() >= extent(m, n, dst.stride)
            && lhs.len() >= extent(m, k, lhs_stride)
            && rhs.len() >= extent(k, n, rhs_stride)
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for row in dst.data.chunks_mut(dst.stride).take(m) {
                row[..n].fill(0.0);
            }
        }
        return;
    }
    let parallelism = if threads > 1 {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    };
    // SAFETY: every matrix lies inside its slice (asserted above: row r of a matrix starts
    // at r·stride and the last one ends at (rows−1)·stride + cols ≤ len); the rows of `dst`
    // do not overlap (stride ≥ n); `dst` is borrowed mutably so it cannot alias `lhs` or
    // `rhs`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.data.as_mut_ptr(),
            1,
            dst.stride as isize,
            accumulate,
            lhs.as_ptr(),
            1,
            lhs_stride as isize,
            rhs.as_ptr(),
            1,
            rhs_stride as isize,
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
