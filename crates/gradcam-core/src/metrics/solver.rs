//! Conjugate gradients for the symmetric positive definite sparse systems of the noisy
//! linear imputer. ROAD's reference solves them with SciPy's direct `spsolve`; CG in `f64`
//! iterated until the residual is `1e-10` of the right-hand side's norm gives the same
//! solution to far below float32 precision, and a system that does not converge within its
//! bound is an error, never a silent approximation.

use crate::error::{CamError, ErrorKind, Result};

/// Relative residual at which the solution is taken.
const TOLERANCE: f64 = 1e-10;

/// A square sparse matrix in compressed rows.
#[derive(Debug, Default)]
pub(crate) struct SparseMatrix {
    row_start: Vec<usize>,
    columns: Vec<usize>,
    values: Vec<f64>,
}

impl SparseMatrix {
    /// An empty matrix; rows are appended in order with [`SparseMatrix::push_row`].
    pub(crate) fn new() -> Self {
        SparseMatrix {
            row_start: vec![0],
            ..Default::default()
        }
    }

    /// Appends a row given as `(column, value)` entries.
    pub(crate) fn push_row(&mut self, entries: impl IntoIterator<Item = (usize, f64)>) {
        for (column, value) in entries {
            self.columns.push(column);
            self.values.push(value);
        }
        self.row_start.push(self.columns.len());
    }

    fn rows(&self) -> usize {
        self.row_start.len() - 1
    }

    fn multiply(&self, x: &[f64], out: &mut [f64]) {
        for (row, o) in out.iter_mut().enumerate() {
            let span = self.row_start[row]..self.row_start[row + 1];
            *o = self.columns[span.clone()]
                .iter()
                .zip(&self.values[span])
                .map(|(&c, &v)| v * x[c])
                .sum();
        }
    }

    fn diagonal(&self) -> Vec<f64> {
        (0..self.rows())
            .map(|row| {
                let span = self.row_start[row]..self.row_start[row + 1];
                self.columns[span.clone()]
                    .iter()
                    .zip(&self.values[span])
                    .find(|&(&c, _)| c == row)
                    .map_or(1.0, |(_, &v)| v)
            })
            .collect()
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Solves `matrix · x = rhs` for a symmetric positive definite `matrix` by conjugate
/// gradients with a Jacobi preconditioner.
pub(crate) fn solve_spd(matrix: &SparseMatrix, rhs: &[f64]) -> Result<Vec<f64>> {
    let n = matrix.rows();
    let mut x = vec![0.0; n];
    let target = TOLERANCE * dot(rhs, rhs).sqrt();
    if target == 0.0 {
        return Ok(x);
    }
    let inverse_diagonal: Vec<f64> = matrix.diagonal().iter().map(|d| 1.0 / d).collect();
    let mut residual = rhs.to_vec();
    let mut z: Vec<f64> = residual
        .iter()
        .zip(&inverse_diagonal)
        .map(|(r, d)| r * d)
        .collect();
    let mut direction = z.clone();
    let mut rz = dot(&residual, &z);
    let mut product = vec![0.0; n];
    // CG ends in at most n steps in exact arithmetic; rounding may ask a few more.
    for _ in 0..(2 * n + 100) {
        if dot(&residual, &residual).sqrt() <= target {
            return Ok(x);
        }
        matrix.multiply(&direction, &mut product);
        let alpha = rz / dot(&direction, &product);
        for (xi, d) in x.iter_mut().zip(&direction) {
            *xi += alpha * d;
        }
        for (r, p) in residual.iter_mut().zip(&product) {
            *r -= alpha * p;
        }
        for ((zi, r), d) in z.iter_mut().zip(&residual).zip(&inverse_diagonal) {
            *zi = r * d;
        }
        let rz_next = dot(&residual, &z);
        let beta = rz_next / rz;
        rz = rz_next;
        for (d, zi) in direction.iter_mut().zip(&z) {
            *d = zi + beta * *d;
        }
    }
    Err(CamError::new(
        ErrorKind::Backend,
        format!("the {n}×{n} imputation system did not converge"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_a_small_spd_system_exactly() {
        // [[4, 1, 0], [1, 3, -1], [0, -1, 2]] · [1, 2, 3] = [6, 4, 4]
        let mut m = SparseMatrix::new();
        m.push_row([(0, 4.0), (1, 1.0)]);
        m.push_row([(0, 1.0), (1, 3.0), (2, -1.0)]);
        m.push_row([(1, -1.0), (2, 2.0)]);
        let x = solve_spd(&m, &[6.0, 4.0, 4.0]).unwrap();
        for (got, want) in x.iter().zip([1.0, 2.0, 3.0]) {
            assert!((got - want).abs() < 1e-9, "{x:?}");
        }
        assert_eq!(solve_spd(&m, &[0.0; 3]).unwrap(), vec![0.0; 3]);
    }
}
