//! Kernels compiled twice: for AVX2 + FMA, chosen at run time on CPUs that have them, and for
//! the baseline target (the crate is built for generic x86-64, whose SSE2 code runs the
//! hand-written loops at a quarter of the speed; the `gemm` crate dispatches the same way).
//!
//! A kernel is written once as an `#[inline(always)]` function generic over `const FMA: bool`
//! and exposed through [`multiversion!`]; [`madd`] is a fused multiply-add where the CPU has one
//! (results differ from the unfused path in the last bit, so a machine's runs stay
//! bit-reproducible on that machine).

/// True when this CPU has AVX2 and FMA (cached by the standard library).
#[cfg(target_arch = "x86_64")]
#[inline]
pub fn avx2_fma() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}

/// `pub fn name(args) -> ret` running `imp::<true>` compiled for AVX2 + FMA when available,
/// else `imp::<false>`.
macro_rules! multiversion {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? => $imp:ident) => {
        $(#[$m])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                if $crate::simd::avx2_fma() {
                    #[target_feature(enable = "avx2,fma")]
                    unsafe fn fast($($arg: $ty),*) $(-> $ret)? {
                        $imp::<true>($($arg),*)
                    }
                    // SAFETY: the CPU supports AVX2 and FMA (checked just above).
                    return unsafe { fast($($arg),*) };
                }
            }
            $imp::<false>($($arg),*)
        }
    };
}
#[allow(unused_imports)]
pub(crate) use multiversion;

/// The float types the kernels run on (f32 for the networks, f64 for the last-layer refit).
pub trait Real: Copy + Default + std::ops::Add<Output = Self> + std::ops::Mul<Output = Self> + std::iter::Sum {
    /// `a b + c` in one rounding.
    fn fused(a: Self, b: Self, c: Self) -> Self;
}
impl Real for f32 {
    #[inline(always)]
    fn fused(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}
impl Real for f64 {
    #[inline(always)]
    fn fused(a: f64, b: f64, c: f64) -> f64 {
        a.mul_add(b, c)
    }
}

/// `a b + c`, fused when `FMA`.
#[inline(always)]
pub fn madd<const FMA: bool, T: Real>(a: T, b: T, c: T) -> T {
    if FMA {
        T::fused(a, b, c)
    } else {
        a * b + c
    }
}

/// `y += a x` for either float type.
#[inline(always)]
fn axpy_any<const FMA: bool, T: Real>(a: T, x: &[T], y: &mut [T]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y = madd::<FMA, T>(a, *x, *y);
    }
}

/// `sum_j a_j b_j` for either float type, in sixteen partial sums.
#[inline(always)]
fn dot_any<const FMA: bool, T: Real>(a: &[T], b: &[T]) -> T {
    let mut acc = [T::default(); 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: T = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| *x * *y).sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..16 {
            acc[l] = madd::<FMA, T>(x[l], y[l], acc[l]);
        }
    }
    acc.iter().copied().sum::<T>() + tail
}

#[inline(always)]
pub(crate) fn axpy_impl<const FMA: bool>(a: f32, x: &[f32], y: &mut [f32]) {
    axpy_any::<FMA, f32>(a, x, y)
}

#[inline(always)]
pub(crate) fn dot_impl<const FMA: bool>(a: &[f32], b: &[f32]) -> f32 {
    dot_any::<FMA, f32>(a, b)
}

#[inline(always)]
pub(crate) fn sum_impl<const FMA: bool>(v: &[f32]) -> f32 {
    let mut acc = [0.0f32; 16];
    let chunks = v.chunks_exact(16);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for l in 0..16 {
            acc[l] += c[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[inline(always)]
pub(crate) fn add_impl<const FMA: bool>(x: &[f32], y: &mut [f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += x;
    }
}

/// Soft-target cross-entropy of one logit row `z` against the probability row `t`:
/// returns `CE(z, t) = -sum_k t_k log softmax(z)_k` and writes `dCE/dz = softmax(z) - t` to `dz`
/// (max-subtracted log-sum-exp).
#[inline(always)]
pub fn soft_cross_entropy_row(z: &[f64], t: &[f64], dz: &mut [f64]) -> f64 {
    let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let lse = m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
    let mut loss = 0.0;
    for ((&zk, &tk), d) in z.iter().zip(t).zip(dz.iter_mut()) {
        loss -= tk * (zk - lse);
        *d = (zk - lse).exp() - tk;
    }
    loss
}

/// One row block of a linear softmax head's objective (see [`linear_head_block`]).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn linear_head_block_impl<const FMA: bool>(
    feats: &[f64],
    dim: usize,
    theta_t: &[f64],
    targets: &[f64],
    c: usize,
    z: &mut [f64],
    dz: &mut [f64],
    grad_t: &mut [f64],
) -> f64 {
    let mut loss = 0.0;
    let mut p = vec![0.0; c];
    for (i, phi) in feats.chunks_exact(dim).enumerate() {
        for k in 0..c {
            z[i * c + k] = dot_any::<FMA, f64>(phi, &theta_t[k * dim..(k + 1) * dim]);
        }
        loss += soft_cross_entropy_row(&z[i * c..(i + 1) * c], &targets[i * c..(i + 1) * c], &mut p);
        for k in 0..c {
            dz[i * c + k] = p[k];
            if p[k] != 0.0 {
                axpy_any::<FMA, f64>(p[k], phi, &mut grad_t[k * dim..(k + 1) * dim]);
            }
        }
    }
    loss
}

multiversion!(
    /// The soft-target cross-entropy of a linear head over a block of rows, in one pass over the
    /// features (each row is read once, for its logits and its gradient): for rows `phi_i` of
    /// `feats` (`[m, dim]`) and the class-major head `theta_t` (`[C, dim]`), writes
    /// `z_i = Theta^T phi_i` and `dz_i = softmax(z_i) - t_i` (`[m, C]`), adds
    /// `sum_i dz_{i,k} phi_i` to row `k` of `grad_t` (`[C, dim]`), and returns
    /// `sum_i CE(z_i, t_i)`.
    #[allow(clippy::too_many_arguments)]
    pub fn linear_head_block(
        feats: &[f64],
        dim: usize,
        theta_t: &[f64],
        targets: &[f64],
        c: usize,
        z: &mut [f64],
        dz: &mut [f64],
        grad_t: &mut [f64],
    ) -> f64 => linear_head_block_impl
);

multiversion!(
    /// `y += a x`.
    pub fn axpy(a: f32, x: &[f32], y: &mut [f32]) => axpy_impl
);
multiversion!(
    /// `sum_j a_j b_j` in f32 (sixteen partial sums).
    ///
    /// ```
    /// let a: Vec<f32> = (0..37).map(|i| i as f32).collect();
    /// let b = vec![2.0f32; 37];
    /// // 2 * (0 + 1 + ... + 36) = 1332, exact in f32 on either code path.
    /// assert_eq!(genrep_kernels::simd::dot(&a, &b), 1332.0);
    /// ```
    pub fn dot(a: &[f32], b: &[f32]) -> f32 => dot_impl
);
multiversion!(
    /// `sum_j v_j` in f32 (sixteen partial sums).
    pub fn sum(v: &[f32]) -> f32 => sum_impl
);
multiversion!(
    /// `y += x`.
    pub fn add(x: &[f32], y: &mut [f32]) => add_impl
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_match_plain_loops() {
        let x: Vec<f32> = (0..37).map(|i| (i as f32 * 0.3).sin()).collect();
        let mut y: Vec<f32> = (0..37).map(|i| (i as f32 * 0.7).cos()).collect();
        let want: Vec<f32> = x.iter().zip(&y).map(|(a, b)| 0.5 * a + b).collect();
        let d: f64 = x.iter().zip(&y).map(|(a, b)| *a as f64 * *b as f64).sum();
        assert!((dot(&x, &y) as f64 - d).abs() < 1e-5);
        assert!((sum(&x) as f64 - x.iter().map(|&v| v as f64).sum::<f64>()).abs() < 1e-5);
        axpy(0.5, &x, &mut y);
        for (a, b) in y.iter().zip(&want) {
            assert!((a - b).abs() < 1e-6);
        }
    }
}
