//! Stride-1 "same" convolutions of one example as matrix products over an im2col buffer.
//!
//! For an input `x` of shape `[c_in, h, w]` and weights `W` of shape `[c_out, c_in, kh, kw]`
//! (burn's layout, read as the row-major matrix `[c_out, c_in kh kw]`), the output is
//! `z = W U(x) + b 1^T`, `[c_out, h w]`, where `U(x)` is the im2col matrix
//! `U[(c kh + ky) kw + kx, y w + x'] = x[c, y + ky - kh/2, x' + kx - kw/2]` (0 outside). A 1-d
//! convolution over `[c_in, l]` is the case `h = 1, kh = 1`.
//!
//! Gradients of a scalar with output gradient `dz`: `dW = dz U(x)^T`, `db = dz 1`,
//! `dx = U^T(W^T dz)` ([`col2im_add`] is the adjoint of [`im2col`]). Tangents (forward mode):
//! `dz = W U(dx) + dW U(x) + db 1^T`, by linearity of `U`.
//!
//! When a max-pool (or a max over time) follows, `dz` is non-zero at one position per pooling
//! window and channel at most. The position-major layout `R = U^T` ([`im2row`], one row of
//! `c_in kh kw` values per output position) makes that sparsity pay:
//! `dW[o, :] += g R[p, :]` and `dR[p, :] += g W[o, :]` for each kept `(o, p)` with gradient `g`
//! ([`backward_at`]), a quarter of the dense products' work behind a 2x2 pool; and a tangent is
//! only needed at the kept positions ([`forward_at`]).

use crate::matmul::{matmul, View};

/// Geometry of a stride-1 "same" convolution (padding `kh/2`, `kw/2`; kernel sizes odd).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvShape {
    /// Input channels.
    pub c_in: usize,
    /// Output channels.
    pub c_out: usize,
    /// Input (and output) height.
    pub h: usize,
    /// Input (and output) width.
    pub w: usize,
    /// Kernel height (odd).
    pub kh: usize,
    /// Kernel width (odd).
    pub kw: usize,
}

impl ConvShape {
    /// Rows of the im2col matrix, `c_in kh kw` (= columns of the weight matrix).
    pub fn col_rows(&self) -> usize {
        self.c_in * self.kh * self.kw
    }

    /// Output positions `h w` (= columns of the im2col matrix).
    pub fn positions(&self) -> usize {
        self.h * self.w
    }

    /// Elements of the weight tensor, `c_out c_in kh kw`.
    pub fn weight_len(&self) -> usize {
        self.c_out * self.col_rows()
    }

    /// Elements of one input, `c_in h w`.
    pub fn input_len(&self) -> usize {
        self.c_in * self.positions()
    }

    /// Elements of one output, `c_out h w`.
    pub fn output_len(&self) -> usize {
        self.c_out * self.positions()
    }

    /// Elements of the im2col buffer, `c_in kh kw h w`.
    pub fn col_len(&self) -> usize {
        self.col_rows() * self.positions()
    }
}

/// For each kernel offset, the destination columns `[lo, hi)` that read inside the input and
/// the shift from destination to source column.
fn column_span(w: usize, kx: usize, pw: usize) -> (usize, usize, isize) {
    let shift = kx as isize - pw as isize;
    let lo = (-shift).max(0) as usize;
    let hi = ((w as isize - shift).min(w as isize)).max(lo as isize) as usize;
    (lo, hi, shift)
}

/// Writes the im2col matrix `U(x)` (`[c_in kh kw, h w]`) of `x` (`[c_in, h, w]`) into `col`.
pub fn im2col(s: &ConvShape, x: &[f32], col: &mut [f32]) {
    let (h, w, p) = (s.h, s.w, s.positions());
    let (ph, pw) = (s.kh / 2, s.kw / 2);
    assert!(x.len() >= s.input_len() && col.len() >= s.col_len(), "im2col: buffers too short for {s:?}");
    for c in 0..s.c_in {
        let plane = &x[c * p..(c + 1) * p];
        for ky in 0..s.kh {
            for kx in 0..s.kw {
                let row = &mut col[((c * s.kh + ky) * s.kw + kx) * p..][..p];
                let (lo, hi, shift) = column_span(w, kx, pw);
                for y in 0..h {
                    let dst = &mut row[y * w..(y + 1) * w];
                    let yy = y as isize + ky as isize - ph as isize;
                    if yy < 0 || yy >= h as isize {
                        dst.fill(0.0);
                        continue;
                    }
                    let src = &plane[yy as usize * w..(yy as usize + 1) * w];
                    dst[..lo].fill(0.0);
                    dst[hi..].fill(0.0);
                    let (a, b) = ((lo as isize + shift) as usize, (hi as isize + shift) as usize);
                    dst[lo..hi].copy_from_slice(&src[a..b]);
                }
            }
        }
    }
}

/// The adjoint of [`im2col`]: `dx += U^T(dcol)`, i.e. every entry of `dcol` is added to the input
/// element it was copied from (entries that came from padding are dropped).
pub fn col2im_add(s: &ConvShape, dcol: &[f32], dx: &mut [f32]) {
    let (h, w, p) = (s.h, s.w, s.positions());
    let (ph, pw) = (s.kh / 2, s.kw / 2);
    assert!(dx.len() >= s.input_len() && dcol.len() >= s.col_len(), "col2im: buffers too short for {s:?}");
    for c in 0..s.c_in {
        let plane = &mut dx[c * p..(c + 1) * p];
        for ky in 0..s.kh {
            for kx in 0..s.kw {
                let row = &dcol[((c * s.kh + ky) * s.kw + kx) * p..][..p];
                let (lo, hi, shift) = column_span(w, kx, pw);
                for y in 0..h {
                    let yy = y as isize + ky as isize - ph as isize;
                    if yy < 0 || yy >= h as isize {
                        continue;
                    }
                    let src = &row[y * w + lo..y * w + hi];
                    let a = (lo as isize + shift) as usize;
                    let dst = &mut plane[yy as usize * w + a..][..hi - lo];
                    dst.iter_mut().zip(src).for_each(|(d, v)| *d += v);
                }
            }
        }
    }
}

/// `out = W col + b 1^T` (`[c_out, h w]`); with `accumulate`, adds to `out` instead (then `b`
/// is usually `None`).
pub fn forward(s: &ConvShape, weight: &[f32], bias: Option<&[f32]>, col: &[f32], out: &mut [f32], accumulate: bool) {
    let p = s.positions();
    let out = &mut out[..s.output_len()];
    match (bias, accumulate) {
        (Some(b), false) => {
            for (o, row) in out.chunks_exact_mut(p).enumerate() {
                row.fill(b[o]);
            }
        }
        (Some(b), true) => {
            for (o, row) in out.chunks_exact_mut(p).enumerate() {
                row.iter_mut().for_each(|v| *v += b[o]);
            }
        }
        (None, false) => out.fill(0.0),
        (None, true) => {}
    }
    matmul(
        out,
        p,
        View::rm(&weight[..s.weight_len()], s.c_out, s.col_rows()),
        View::rm(&col[..s.col_len()], s.col_rows(), p),
        true,
    );
}

/// Weight gradient of one example: `dW = dz col^T` (added to `dw` when `accumulate`).
pub fn backward_weight(s: &ConvShape, dz: &[f32], col: &[f32], dw: &mut [f32], accumulate: bool) {
    let p = s.positions();
    matmul(
        &mut dw[..s.weight_len()],
        s.col_rows(),
        View::rm(&dz[..s.output_len()], s.c_out, p),
        View::rm(&col[..s.col_len()], s.col_rows(), p).t(),
        accumulate,
    );
}

/// Bias gradient of one example: `db[o] = sum_p dz[o, p]` (overwritten).
pub fn bias_grad(s: &ConvShape, dz: &[f32], db: &mut [f32]) {
    for (o, row) in dz[..s.output_len()].chunks_exact(s.positions()).enumerate() {
        db[o] = sum(row);
    }
}

/// The gradient with respect to the im2col matrix, `dcol = W^T dz` (`[c_in kh kw, h w]`); the
/// input gradient is then [`col2im_add`] of it.
pub fn backward_col(s: &ConvShape, weight: &[f32], dz: &[f32], dcol: &mut [f32]) {
    let p = s.positions();
    matmul(
        &mut dcol[..s.col_len()],
        p,
        View::rm(&weight[..s.weight_len()], s.c_out, s.col_rows()).t(),
        View::rm(&dz[..s.output_len()], s.c_out, p),
        false,
    );
}

thread_local! {
    /// Zero-padded copy of one input (or input gradient) for the row-layout kernels.
    static PADDED: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Writes the position-major im2col matrix `R = U(x)^T` (`[h w, c_in kh kw]`): row `p` holds the
/// receptive field of output position `p`.
pub fn im2row(s: &ConvShape, x: &[f32], rows: &mut [f32]) {
    assert!(x.len() >= s.input_len() && rows.len() >= s.col_len(), "im2row: buffers too short for {s:?}");
    let mut pad = PADDED.with_borrow_mut(std::mem::take);
    {
        let pad = &mut pad;
        let (hp, wp) = (s.h + s.kh - 1, s.w + s.kw - 1);
        pad.clear();
        pad.resize(s.c_in * hp * wp, 0.0);
        let (ph, pw) = (s.kh / 2, s.kw / 2);
        for c in 0..s.c_in {
            for y in 0..s.h {
                let dst = (c * hp + y + ph) * wp + pw;
                pad[dst..dst + s.w].copy_from_slice(&x[(c * s.h + y) * s.w..][..s.w]);
            }
        }
        fill_rows(s, pad, rows);
    }
    PADDED.with_borrow_mut(|p| *p = pad);
}

multiversion!(
    /// Rows of `R` from the padded input.
    fn fill_rows(s: &ConvShape, pad: &[f32], rows: &mut [f32]) => fill_rows_impl
);

#[inline(always)]
fn fill_rows_impl<const FMA: bool>(s: &ConvShape, pad: &[f32], rows: &mut [f32]) {
    match s.kw {
        1 => rows_from_padded::<1>(s, pad, rows),
        3 => rows_from_padded::<3>(s, pad, rows),
        5 => rows_from_padded::<5>(s, pad, rows),
        7 => rows_from_padded::<7>(s, pad, rows),
        _ => rows_from_padded_any(s, pad, rows),
    }
}

/// Rows of `R` from the padded input, for a kernel width known at compile time (the copies of
/// `KW` values then compile to a few moves).
#[inline(always)]
fn rows_from_padded<const KW: usize>(s: &ConvShape, pad: &[f32], rows: &mut [f32]) {
    let (hp, wp, k) = (s.h + s.kh - 1, s.w + KW - 1, s.col_rows());
    for y in 0..s.h {
        for x in 0..s.w {
            let row = &mut rows[(y * s.w + x) * k..][..k];
            for c in 0..s.c_in {
                for ky in 0..s.kh {
                    let src: &[f32; KW] = pad[(c * hp + y + ky) * wp + x..][..KW].try_into().expect("KW values");
                    let dst: &mut [f32; KW] = (&mut row[(c * s.kh + ky) * KW..][..KW]).try_into().expect("KW values");
                    *dst = *src;
                }
            }
        }
    }
}

#[inline(always)]
fn rows_from_padded_any(s: &ConvShape, pad: &[f32], rows: &mut [f32]) {
    let (hp, wp, k, kw) = (s.h + s.kh - 1, s.w + s.kw - 1, s.col_rows(), s.kw);
    for y in 0..s.h {
        for x in 0..s.w {
            let row = &mut rows[(y * s.w + x) * k..][..k];
            for c in 0..s.c_in {
                for ky in 0..s.kh {
                    row[(c * s.kh + ky) * kw..][..kw].copy_from_slice(&pad[(c * hp + y + ky) * wp + x..][..kw]);
                }
            }
        }
    }
}

/// The adjoint of [`im2row`]: every entry of `drows` (`[h w, c_in kh kw]`) is added to the input
/// element it was copied from.
pub fn row2im_add(s: &ConvShape, drows: &[f32], dx: &mut [f32]) {
    row2im_add_where(s, drows, None, dx)
}

/// [`row2im_add`] over the rows marked in `touched` (all rows for `None`).
fn row2im_add_where(s: &ConvShape, drows: &[f32], touched: Option<&[bool]>, dx: &mut [f32]) {
    assert!(dx.len() >= s.input_len() && drows.len() >= s.col_len(), "row2im: buffers too short for {s:?}");
    let mut pad = PADDED.with_borrow_mut(std::mem::take);
    {
        let pad = &mut pad;
        let (hp, wp) = (s.h + s.kh - 1, s.w + s.kw - 1);
        pad.clear();
        pad.resize(s.c_in * hp * wp, 0.0);
        fill_padded(s, drows, touched, pad);
        let (ph, pw) = (s.kh / 2, s.kw / 2);
        for c in 0..s.c_in {
            for y in 0..s.h {
                let src = &pad[(c * hp + y + ph) * wp + pw..][..s.w];
                dx[(c * s.h + y) * s.w..][..s.w].iter_mut().zip(src).for_each(|(d, v)| *d += v);
            }
        }
    }
    PADDED.with_borrow_mut(|p| *p = pad);
}

multiversion!(
    /// Adds the given rows of `dR` into the padded input gradient.
    fn fill_padded(s: &ConvShape, drows: &[f32], touched: Option<&[bool]>, pad: &mut [f32]) => fill_padded_impl
);

#[inline(always)]
fn fill_padded_impl<const FMA: bool>(s: &ConvShape, drows: &[f32], touched: Option<&[bool]>, pad: &mut [f32]) {
    match s.kw {
        1 => padded_from_rows::<1>(s, drows, touched, pad),
        3 => padded_from_rows::<3>(s, drows, touched, pad),
        5 => padded_from_rows::<5>(s, drows, touched, pad),
        7 => padded_from_rows::<7>(s, drows, touched, pad),
        _ => padded_from_rows_any(s, drows, touched, pad),
    }
}

#[inline(always)]
fn padded_from_rows<const KW: usize>(s: &ConvShape, drows: &[f32], touched: Option<&[bool]>, pad: &mut [f32]) {
    let (hp, wp, k) = (s.h + s.kh - 1, s.w + KW - 1, s.col_rows());
    for y in 0..s.h {
        for x in 0..s.w {
            if touched.is_some_and(|t| !t[y * s.w + x]) {
                continue;
            }
            let row = &drows[(y * s.w + x) * k..][..k];
            for c in 0..s.c_in {
                for ky in 0..s.kh {
                    let src: &[f32; KW] = row[(c * s.kh + ky) * KW..][..KW].try_into().expect("KW values");
                    let dst: &mut [f32; KW] =
                        (&mut pad[(c * hp + y + ky) * wp + x..][..KW]).try_into().expect("KW values");
                    for j in 0..KW {
                        dst[j] += src[j];
                    }
                }
            }
        }
    }
}

#[inline(always)]
fn padded_from_rows_any(s: &ConvShape, drows: &[f32], touched: Option<&[bool]>, pad: &mut [f32]) {
    let (hp, wp, k, kw) = (s.h + s.kh - 1, s.w + s.kw - 1, s.col_rows(), s.kw);
    for y in 0..s.h {
        for x in 0..s.w {
            if touched.is_some_and(|t| !t[y * s.w + x]) {
                continue;
            }
            let row = &drows[(y * s.w + x) * k..][..k];
            for c in 0..s.c_in {
                for ky in 0..s.kh {
                    let dst = &mut pad[(c * hp + y + ky) * wp + x..][..kw];
                    dst.iter_mut().zip(&row[(c * s.kh + ky) * kw..][..kw]).for_each(|(d, v)| *d += v);
                }
            }
        }
    }
}

/// `out = W R^T + b 1^T` (`[c_out, h w]`) from the position-major im2col matrix `R`.
pub fn forward_rows(s: &ConvShape, weight: &[f32], bias: &[f32], rows: &[f32], out: &mut [f32]) {
    let p = s.positions();
    let out = &mut out[..s.output_len()];
    for (o, row) in out.chunks_exact_mut(p).enumerate() {
        row.fill(bias[o]);
    }
    matmul(
        out,
        p,
        View::rm(&weight[..s.weight_len()], s.c_out, s.col_rows()),
        View::rm(&rows[..s.col_len()], p, s.col_rows()).t(),
        true,
    );
}

pub use crate::simd::{axpy, dot, sum};
use crate::simd::{axpy_impl, dot_impl};

/// Rows of a position-major gradient `dR` that are zero unless marked: lets a sparse backward
/// pass clear and scatter only the rows it touched.
#[derive(Debug, Default)]
pub struct SparseRows {
    /// `[h w, c_in kh kw]`; rows not marked in `touched` hold stale values.
    pub rows: Vec<f32>,
    /// Which rows hold values.
    pub touched: Vec<bool>,
}

impl SparseRows {
    /// Marks every row zero, sized for `s`.
    pub fn clear(&mut self, s: &ConvShape) {
        self.rows.resize(s.col_len(), 0.0);
        self.touched.clear();
        self.touched.resize(s.positions(), false);
    }

    /// Row `p`, zeroed at its first use.
    fn row_mut(&mut self, p: usize, k: usize) -> &mut [f32] {
        let r = &mut self.rows[p * k..(p + 1) * k];
        if !self.touched[p] {
            r.fill(0.0);
            self.touched[p] = true;
        }
        r
    }

    /// `dx += ` the [`row2im_add`] scatter of the touched rows.
    pub fn scatter_add(&self, s: &ConvShape, dx: &mut [f32]) {
        row2im_add_where(s, &self.rows, Some(&self.touched), dx);
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn backward_at_impl<const FMA: bool>(
    s: &ConvShape,
    g: &[f32],
    at: &[u32],
    rows: &[f32],
    weight: &[f32],
    dw: &mut [f32],
    db: &mut [f32],
    mut drows: Option<&mut SparseRows>,
) {
    let (p, k) = (s.positions(), s.col_rows());
    assert!(g.len() == at.len() && rows.len() >= s.col_len() && dw.len() >= s.weight_len(), "backward_at: buffers");
    // Entries grouped by position (a counting sort), so that each row R[p] (and dR[p]) is read
    // once from memory and stays in L1 while every channel kept there uses it.
    // The scratch is taken out of its thread-local (not borrowed in a closure), so that this
    // body, loops included, is compiled with the caller's target features.
    let (mut start, mut order) = BUCKETS.with_borrow_mut(std::mem::take);
    {
        start.clear();
        start.resize(p + 1, 0);
        for (&gj, &a) in g.iter().zip(at) {
            if a != crate::pool::INACTIVE && gj != 0.0 {
                start[a as usize % p + 1] += 1;
            }
        }
        for q in 0..p {
            start[q + 1] += start[q];
        }
        order.clear();
        order.resize(start[p] as usize, 0);
        let mut fill = start.clone();
        for (j, (&gj, &a)) in g.iter().zip(at).enumerate() {
            if a != crate::pool::INACTIVE && gj != 0.0 {
                let q = a as usize % p;
                order[fill[q] as usize] = j as u32;
                fill[q] += 1;
            }
        }
        for pos in 0..p {
            let entries = &order[start[pos] as usize..start[pos + 1] as usize];
            if entries.is_empty() {
                continue;
            }
            let r = &rows[pos * k..(pos + 1) * k];
            for &j in entries {
                let (gj, o) = (g[j as usize], at[j as usize] as usize / p);
                axpy_impl::<FMA>(gj, r, &mut dw[o * k..(o + 1) * k]);
                db[o] += gj;
            }
            if let Some(dr) = drows.as_deref_mut() {
                let dr = dr.row_mut(pos, k);
                for &j in entries {
                    let (gj, o) = (g[j as usize], at[j as usize] as usize / p);
                    axpy_impl::<FMA>(gj, &weight[o * k..(o + 1) * k], dr);
                }
            }
        }
    }
    BUCKETS.with_borrow_mut(|b| *b = (start, order));
}

multiversion!(
    /// Gradients of a convolution whose output gradient is non-zero only at listed entries: for
    /// every `j` with `at[j] != INACTIVE` (`at[j] = o * h w + p`, a flat index into the
    /// `[c_out, h w]` output, as [`crate::pool`] records its args) and gradient `g[j]`:
    /// `dW[o, :] += g R[p, :]`, `db[o] += g`, and, if asked, `dR[p, :] += g W[o, :]`. `dw` and `db`
    /// are accumulated (clear them first for a per-example gradient).
    #[allow(clippy::too_many_arguments)]
    pub fn backward_at(
        s: &ConvShape,
        g: &[f32],
        at: &[u32],
        rows: &[f32],
        weight: &[f32],
        dw: &mut [f32],
        db: &mut [f32],
        drows: Option<&mut SparseRows>,
    ) => backward_at_impl
);

thread_local! {
    /// Scratch of [`backward_at`]: bucket starts per position and entry order.
    static BUCKETS: std::cell::RefCell<(Vec<u32>, Vec<u32>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

multiversion!(
    /// The convolution's output at listed entries only: `out[j] = b[o] + W[o, :] . R[p, :]` for
    /// `at[j] = o * h w + p` (0 where `at[j]` is [`INACTIVE`](crate::pool::INACTIVE)); without a
    /// bias, adds `W[o, :] . R[p, :]` to `out[j]` instead.
    pub fn forward_at(s: &ConvShape, weight: &[f32], bias: Option<&[f32]>, rows: &[f32], at: &[u32], out: &mut [f32])
        => forward_at_impl
);

#[inline(always)]
fn forward_at_impl<const FMA: bool>(
    s: &ConvShape,
    weight: &[f32],
    bias: Option<&[f32]>,
    rows: &[f32],
    at: &[u32],
    out: &mut [f32],
) {
    let (p, k) = (s.positions(), s.col_rows());
    for (oj, &a) in out.iter_mut().zip(at) {
        if a == crate::pool::INACTIVE {
            if bias.is_some() {
                *oj = 0.0;
            }
            continue;
        }
        let (o, pos) = (a as usize / p, a as usize % p);
        let v = dot_impl::<FMA>(&weight[o * k..(o + 1) * k], &rows[pos * k..(pos + 1) * k]);
        match bias {
            Some(b) => *oj = b[o] + v,
            None => *oj += v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn direct(s: &ConvShape, x: &[f32], wt: &[f32], b: &[f32]) -> Vec<f32> {
        let (ph, pw) = (s.kh as isize / 2, s.kw as isize / 2);
        let mut out = vec![0.0; s.output_len()];
        for o in 0..s.c_out {
            for y in 0..s.h {
                for xx in 0..s.w {
                    let mut acc = b[o] as f64;
                    for c in 0..s.c_in {
                        for ky in 0..s.kh {
                            for kx in 0..s.kw {
                                let (yy, xs) = (y as isize + ky as isize - ph, xx as isize + kx as isize - pw);
                                if yy >= 0 && yy < s.h as isize && xs >= 0 && xs < s.w as isize {
                                    acc += wt[((o * s.c_in + c) * s.kh + ky) * s.kw + kx] as f64
                                        * x[(c * s.h + yy as usize) * s.w + xs as usize] as f64;
                                }
                            }
                        }
                    }
                    out[(o * s.h + y) * s.w + xx] = acc as f32;
                }
            }
        }
        out
    }

    fn vals(n: usize, f: f32) -> Vec<f32> {
        (0..n).map(|i| ((i as f32 + 1.0) * f).sin()).collect()
    }

    #[test]
    fn forward_matches_a_direct_convolution_in_2d_and_1d() {
        for s in [
            ConvShape { c_in: 3, c_out: 4, h: 6, w: 5, kh: 5, kw: 5 },
            ConvShape { c_in: 2, c_out: 3, h: 1, w: 7, kh: 1, kw: 5 },
            ConvShape { c_in: 1, c_out: 2, h: 3, w: 3, kh: 3, kw: 3 },
        ] {
            let (x, wt, b) = (vals(s.input_len(), 0.7), vals(s.weight_len(), 1.3), vals(s.c_out, 2.1));
            let mut col = vec![f32::NAN; s.col_len()];
            im2col(&s, &x, &mut col);
            let mut out = vec![f32::NAN; s.output_len()];
            forward(&s, &wt, Some(&b), &col, &mut out, false);
            for (a, e) in out.iter().zip(direct(&s, &x, &wt, &b)) {
                assert!((a - e).abs() < 1e-4, "{s:?}: {a} vs {e}");
            }
        }
    }

    #[test]
    fn row_layout_is_the_transpose_of_the_column_layout() {
        for s in [
            ConvShape { c_in: 3, c_out: 4, h: 6, w: 5, kh: 5, kw: 5 },
            ConvShape { c_in: 2, c_out: 3, h: 1, w: 7, kh: 1, kw: 3 },
        ] {
            let (x, wt, b) = (vals(s.input_len(), 0.7), vals(s.weight_len(), 1.3), vals(s.c_out, 2.1));
            let (mut col, mut rows) = (vec![0.0; s.col_len()], vec![f32::NAN; s.col_len()]);
            im2col(&s, &x, &mut col);
            im2row(&s, &x, &mut rows);
            let (k, p) = (s.col_rows(), s.positions());
            for j in 0..k {
                for q in 0..p {
                    assert_eq!(col[j * p + q], rows[q * k + j]);
                }
            }
            let mut out = vec![0.0; s.output_len()];
            forward_rows(&s, &wt, &b, &rows, &mut out);
            for (a, e) in out.iter().zip(direct(&s, &x, &wt, &b)) {
                assert!((a - e).abs() < 1e-4);
            }
            // Adjoint: <R(x), Y> = <x, R^T(Y)>.
            let y = vals(s.col_len(), 0.9);
            let lhs: f64 = rows.iter().zip(&y).map(|(a, b)| *a as f64 * *b as f64).sum();
            let mut back = vec![0.0; s.input_len()];
            row2im_add(&s, &y, &mut back);
            let rhs: f64 = x.iter().zip(&back).map(|(a, b)| *a as f64 * *b as f64).sum();
            assert!((lhs - rhs).abs() < 1e-4 * lhs.abs().max(1.0));
        }
    }

    #[test]
    fn sparse_backward_and_forward_at_match_the_dense_ones() {
        let s = ConvShape { c_in: 2, c_out: 3, h: 4, w: 4, kh: 3, kw: 3 };
        let (x, wt, b) = (vals(s.input_len(), 0.7), vals(s.weight_len(), 1.3), vals(s.c_out, 2.1));
        let (mut col, mut rows) = (vec![0.0; s.col_len()], vec![0.0; s.col_len()]);
        im2col(&s, &x, &mut col);
        im2row(&s, &x, &mut rows);
        // Kept entries: one per channel and 2x2 window, some inactive.
        let at: Vec<u32> =
            vec![0, 6, 9, crate::pool::INACTIVE, 16 + 1, 16 + 7, 16 + 8, 16 + 15, 32 + 5, 32 + 2, 32 + 13, 32 + 10];
        let g = vals(at.len(), 0.53);
        let mut dz = vec![0.0; s.output_len()];
        crate::pool::scatter_add(&g, &at, &mut dz);
        let (mut dw, mut db) = (vec![0.0; s.weight_len()], vec![0.0; s.c_out]);
        backward_weight(&s, &dz, &col, &mut dw, false);
        bias_grad(&s, &dz, &mut db);
        let mut dcol = vec![0.0; s.col_len()];
        backward_col(&s, &wt, &dz, &mut dcol);
        let mut dx = vec![0.0; s.input_len()];
        col2im_add(&s, &dcol, &mut dx);
        let (mut dw2, mut db2) = (vec![0.0; s.weight_len()], vec![0.0; s.c_out]);
        let mut drows = SparseRows { rows: vec![f32::NAN; s.col_len()], touched: Vec::new() };
        drows.clear(&s);
        backward_at(&s, &g, &at, &rows, &wt, &mut dw2, &mut db2, Some(&mut drows));
        let mut dx2 = vec![0.0; s.input_len()];
        drows.scatter_add(&s, &mut dx2);
        for (a, e) in dw2.iter().zip(&dw).chain(db2.iter().zip(&db)).chain(dx2.iter().zip(&dx)) {
            assert!((a - e).abs() < 1e-4, "{a} vs {e}");
        }
        let mut z = vec![0.0; s.output_len()];
        forward(&s, &wt, Some(&b), &col, &mut z, false);
        let mut at_z = vec![7.0; at.len()];
        forward_at(&s, &wt, Some(&b), &rows, &at, &mut at_z);
        for (j, &a) in at.iter().enumerate() {
            let want = if a == crate::pool::INACTIVE { 0.0 } else { z[a as usize] };
            assert!((at_z[j] - want).abs() < 1e-4);
        }
    }

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        let s = ConvShape { c_in: 2, c_out: 1, h: 4, w: 6, kh: 5, kw: 3 };
        let x = vals(s.input_len(), 0.3);
        let y = vals(s.col_len(), 0.9);
        let mut col = vec![0.0; s.col_len()];
        im2col(&s, &x, &mut col);
        let lhs: f64 = col.iter().zip(&y).map(|(a, b)| *a as f64 * *b as f64).sum();
        let mut back = vec![0.0; s.input_len()];
        col2im_add(&s, &y, &mut back);
        let rhs: f64 = x.iter().zip(&back).map(|(a, b)| *a as f64 * *b as f64).sum();
        assert!((lhs - rhs).abs() < 1e-4 * lhs.abs().max(1.0), "{lhs} vs {rhs}");
    }

    #[test]
    fn weight_gradient_matches_finite_differences_of_a_linear_function() {
        // The convolution is linear in W, so <dz, conv(W + e E)> - <dz, conv(W)> = e <dW, E> exactly.
        let s = ConvShape { c_in: 2, c_out: 3, h: 5, w: 4, kh: 3, kw: 3 };
        let (x, wt, b) = (vals(s.input_len(), 0.7), vals(s.weight_len(), 1.3), vals(s.c_out, 2.1));
        let dz = vals(s.output_len(), 0.41);
        let mut col = vec![0.0; s.col_len()];
        im2col(&s, &x, &mut col);
        let (mut dw, mut db) = (vec![0.0; s.weight_len()], vec![0.0; s.c_out]);
        backward_weight(&s, &dz, &col, &mut dw, false);
        bias_grad(&s, &dz, &mut db);
        let want_dw: Vec<f32> = (0..s.weight_len())
            .map(|j| {
                let mut e = vec![0.0; s.weight_len()];
                e[j] = 1.0;
                let z = direct(&s, &x, &e, &vec![0.0; s.c_out]);
                z.iter().zip(&dz).map(|(a, b)| a * b).sum()
            })
            .collect();
        for (a, e) in dw.iter().zip(&want_dw) {
            assert!((a - e).abs() < 1e-4);
        }
        for (o, v) in db.iter().enumerate() {
            let want: f32 = dz[o * s.positions()..(o + 1) * s.positions()].iter().sum();
            assert!((v - want).abs() < 1e-4);
        }
        // Input gradient: <dz, conv(x + e_j)> - <dz, conv(x)> = dx_j.
        let mut dcol = vec![0.0; s.col_len()];
        backward_col(&s, &wt, &dz, &mut dcol);
        let mut dx = vec![0.0; s.input_len()];
        col2im_add(&s, &dcol, &mut dx);
        let base = direct(&s, &x, &wt, &b);
        for j in 0..s.input_len() {
            let mut xp = x.clone();
            xp[j] += 1.0;
            let z = direct(&s, &xp, &wt, &b);
            let want: f32 = z.iter().zip(&base).zip(&dz).map(|((a, c), d)| (a - c) * d).sum();
            assert!((dx[j] - want).abs() < 1e-3, "dx[{j}] {} vs {want}", dx[j]);
        }
    }
}
