//! A bounds-checked front to the `gemm` crate's f32 matrix product.

/// A read-only strided matrix: element `(r, c)` is `data[r * rs + c * cs]`.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    /// The elements.
    pub data: &'a [f32],
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Stride between rows.
    pub rs: usize,
    /// Stride between columns.
    pub cs: usize,
}

impl<'a> View<'a> {
    /// A row-major `rows x cols` matrix.
    pub fn rm(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self { data, rows, cols, rs: cols, cs: 1 }
    }

    /// The transpose (no copy).
    pub fn t(self) -> Self {
        Self { data: self.data, rows: self.cols, cols: self.rows, rs: self.cs, cs: self.rs }
    }

    fn check(&self, what: &str) {
        if self.rows > 0 && self.cols > 0 {
            let last = (self.rows - 1) * self.rs + (self.cols - 1) * self.cs;
            assert!(
                last < self.data.len(),
                "{what}: a {}x{} view needs {} elements, has {}",
                self.rows,
                self.cols,
                last + 1,
                self.data.len()
            );
        }
    }
}

/// `C = A B` (or `C += A B` with `accumulate`), `C` row-major `[m, n]` with row stride `ldc`,
/// `A` `[m, k]` and `B` `[k, n]` strided views. Single-threaded: callers parallelise over
/// examples, which keeps each product's operands in the core's own cache.
///
/// # Panics
/// If the shapes disagree or a view or `c` is too short for its shape.
pub fn matmul(c: &mut [f32], ldc: usize, a: View<'_>, b: View<'_>, accumulate: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "matmul: inner dimensions {k} and {} differ", b.rows);
    assert!(ldc >= n, "matmul: row stride {ldc} below {n} columns");
    if m == 0 || n == 0 {
        return;
    }
    assert!((m - 1) * ldc + n <= c.len(), "matmul: output of {} elements for {m}x{n} (stride {ldc})", c.len());
    if k == 0 {
        if !accumulate {
            for r in 0..m {
                c[r * ldc..r * ldc + n].fill(0.0);
            }
        }
        return;
    }
    a.check("matmul lhs");
    b.check("matmul rhs");
    // SAFETY: every index the product touches was bounds-checked above: rows r < m, columns
    // j < n of `c` at r * ldc + j, and the last element of each view.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            ldc as isize,
            accumulate,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// `C = A B` (or `C += A B`) in f64 for row-major `A` (`[m, k]`, row stride `lda`) and `B`
/// (`[k, n]`), `C` row-major `[m, n]`; `transpose_a` reads `A` as `[k, m]` instead (so
/// `C = A^T B`). Multi-threaded (rayon) when `parallel`: for the few large products of a
/// last-layer refit, not for per-example work.
///
/// # Panics
/// If a buffer is too short for its shape.
#[allow(clippy::too_many_arguments)]
pub fn matmul_f64(
    c: &mut [f64],
    a: &[f64],
    b: &[f64],
    m: usize,
    k: usize,
    n: usize,
    transpose_a: bool,
    accumulate: bool,
    parallel: bool,
) {
    assert!(c.len() >= m * n && a.len() >= m * k && b.len() >= k * n, "matmul_f64: buffers too short for {m}x{k}x{n}");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c[..m * n].fill(0.0);
        }
        return;
    }
    let (a_rs, a_cs) = if transpose_a { (1, m) } else { (k, 1) };
    // SAFETY: the shapes were checked against the buffer lengths above.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            a_cs as isize,
            a_rs as isize,
            b.as_ptr(),
            1,
            n as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            if parallel { gemm::Parallelism::Rayon(0) } else { gemm::Parallelism::None },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: View<'_>, b: View<'_>) -> Vec<f32> {
        let mut c = vec![0.0; a.rows * b.cols];
        for r in 0..a.rows {
            for j in 0..b.cols {
                c[r * b.cols + j] = (0..a.cols)
                    .map(|t| a.data[r * a.rs + t * a.cs] as f64 * b.data[t * b.rs + j * b.cs] as f64)
                    .sum::<f64>() as f32;
            }
        }
        c
    }

    #[test]
    fn matches_a_naive_product_with_transposes_and_accumulation() {
        let a: Vec<f32> = (0..35).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..35).map(|i| (i as f32 * 0.91).cos()).collect();
        // [5, 7] x [7, 5]
        let (va, vb) = (View::rm(&a, 5, 7), View::rm(&b, 7, 5));
        let mut c = vec![1.0; 25];
        matmul(&mut c, 5, va, vb, true);
        let want = naive(va, vb);
        for (x, y) in c.iter().zip(&want) {
            assert!((x - (y + 1.0)).abs() < 1e-5);
        }
        // A^T B^T: [7, 5] x [5, 7]
        let mut c2 = vec![0.0; 49];
        matmul(&mut c2, 7, va.t(), vb.t(), false);
        let want = naive(va.t(), vb.t());
        for (x, y) in c2.iter().zip(&want) {
            assert!((x - y).abs() < 1e-5);
        }
    }

    #[test]
    fn f64_product_and_its_transpose() {
        let a: Vec<f64> = (0..12).map(|i| i as f64 * 0.5 - 2.0).collect(); // [3, 4]
        let b: Vec<f64> = (0..8).map(|i| (i as f64).sin()).collect(); // [4, 2]
        let mut c = vec![0.0; 6];
        matmul_f64(&mut c, &a, &b, 3, 4, 2, false, false, true);
        for r in 0..3 {
            for j in 0..2 {
                let want: f64 = (0..4).map(|t| a[r * 4 + t] * b[t * 2 + j]).sum();
                assert!((c[r * 2 + j] - want).abs() < 1e-12);
            }
        }
        // A^T (A read as [4, 3]) times a [3, 2] matrix.
        let d: Vec<f64> = (0..6).map(|i| i as f64).collect();
        let mut e = vec![1.0; 8];
        matmul_f64(&mut e, &a, &d, 4, 3, 2, true, true, false);
        for r in 0..4 {
            for j in 0..2 {
                let want: f64 = 1.0 + (0..3).map(|t| a[t * 4 + r] * d[t * 2 + j]).sum::<f64>();
                assert!((e[r * 2 + j] - want).abs() < 1e-12);
            }
        }
    }

    #[test]
    #[should_panic(expected = "inner dimensions")]
    fn refuses_mismatched_shapes() {
        let a = vec![0.0; 6];
        let mut c = vec![0.0; 4];
        matmul(&mut c, 2, View::rm(&a, 2, 3), View::rm(&a, 2, 3), false);
    }
}
