//! ReLU fused with max-pooling: 2x2 windows over images and the maximum over time of a
//! sequence. Each output records the input element it came from (its "arg"), so the backward
//! pass ([`scatter_add`]) and the tangent ([`gather`]) are index copies.
//!
//! `relu(max(window)) = max(relu(window))` (ReLU is monotone), and the gradient reaches the
//! window's first maximum (row-major order, as burn's max-pool) only when that maximum is
//! positive; [`INACTIVE`] marks outputs with no gradient. A NaN in a window is its maximum
//! (propagated, as burn does), so non-finite inputs surface as non-finite outputs.

/// Arg of an output whose window maximum is not positive (ReLU'd to 0, no gradient).
pub const INACTIVE: u32 = u32::MAX;

/// `out[c, y, x] = relu(max of z[c, 2y..2y+2, 2x..2x+2])` for `z` of shape `[c, h, w]` (`h`, `w`
/// even); `arg` gets the flat index into `z` of each output's first maximum, or [`INACTIVE`].
pub fn relu_maxpool2(c: usize, h: usize, w: usize, z: &[f32], out: &mut [f32], arg: &mut [u32]) {
    relu_maxpool2_mv(c, h, w, z, out, arg)
}

crate::simd::multiversion!(
    fn relu_maxpool2_mv(c: usize, h: usize, w: usize, z: &[f32], out: &mut [f32], arg: &mut [u32]) => relu_maxpool2_impl
);

#[inline(always)]
fn relu_maxpool2_impl<const FMA: bool>(c: usize, h: usize, w: usize, z: &[f32], out: &mut [f32], arg: &mut [u32]) {
    let (oh, ow) = (h / 2, w / 2);
    assert!(z.len() >= c * h * w && out.len() >= c * oh * ow && arg.len() >= c * oh * ow, "relu_maxpool2: buffers");
    // NaN (or an infinity) anywhere: the careful path. Otherwise branch-free selects (the
    // careful path's data-dependent branches cost ~3x on real activations).
    let finite = z[..c * h * w].iter().fold(0.0f32, |a, &v| a + v * 0.0) == 0.0;
    for ch in 0..c {
        for y in 0..oh {
            let top = &z[(ch * h + 2 * y) * w..][..w];
            let bottom = &z[(ch * h + 2 * y + 1) * w..][..w];
            let base = ((ch * h + 2 * y) * w) as u32;
            let o0 = (ch * oh + y) * ow;
            let (out, arg) = (&mut out[o0..o0 + ow], &mut arg[o0..o0 + ow]);
            if finite {
                for x in 0..ow {
                    let (a, b, cc, d) = (top[2 * x], top[2 * x + 1], bottom[2 * x], bottom[2 * x + 1]);
                    let (m1, k1) = if b > a { (b, 1) } else { (a, 0) };
                    let (m2, k2) = if d > cc { (d, w as u32 + 1) } else { (cc, w as u32) };
                    // The top pair wins ties (row-major first maximum).
                    let (m, k) = if m2 > m1 { (m2, k2) } else { (m1, k1) };
                    out[x] = m.max(0.0);
                    arg[x] = if m > 0.0 { base + 2 * x as u32 + k } else { INACTIVE };
                }
                continue;
            }
            // `better(x, m)`: x replaces the running maximum m (strictly greater, or the first NaN).
            let better = |x: f32, m: f32| x > m || (x.is_nan() && !m.is_nan());
            for x in 0..ow {
                let (a, b, cc, d) = (top[2 * x], top[2 * x + 1], bottom[2 * x], bottom[2 * x + 1]);
                let (mut m, mut k) = (a, 0u32);
                if better(b, m) {
                    (m, k) = (b, 1);
                }
                if better(cc, m) {
                    (m, k) = (cc, w as u32);
                }
                if better(d, m) {
                    (m, k) = (d, w as u32 + 1);
                }
                let active = m > 0.0 || m.is_nan();
                out[x] = if active { m } else { 0.0 };
                arg[x] = if active { base + 2 * x as u32 + k } else { INACTIVE };
            }
        }
    }
}

/// `out[ch] = relu(max_t z[ch, t])` for `z` of shape `[c, l]`; `arg[ch]` is the flat index into
/// `z` of the first maximum, or [`INACTIVE`].
pub fn relu_max_time(c: usize, l: usize, z: &[f32], out: &mut [f32], arg: &mut [u32]) {
    relu_max_time_mv(c, l, z, out, arg)
}

crate::simd::multiversion!(
    fn relu_max_time_mv(c: usize, l: usize, z: &[f32], out: &mut [f32], arg: &mut [u32]) => relu_max_time_impl
);

#[inline(always)]
fn relu_max_time_impl<const FMA: bool>(c: usize, l: usize, z: &[f32], out: &mut [f32], arg: &mut [u32]) {
    assert!(z.len() >= c * l && out.len() >= c && arg.len() >= c && l > 0, "relu_max_time: buffers");
    for ch in 0..c {
        let row = &z[ch * l..(ch + 1) * l];
        let mut best = 0;
        for (t, &v) in row.iter().enumerate().skip(1) {
            if v > row[best] || (v.is_nan() && !row[best].is_nan()) {
                best = t;
            }
        }
        if row[best] > 0.0 || row[best].is_nan() {
            out[ch] = row[best];
            arg[ch] = (ch * l + best) as u32;
        } else {
            out[ch] = 0.0;
            arg[ch] = INACTIVE;
        }
    }
}

/// Backward pass: `dz[arg[o]] += dout[o]` for every active output (`dz` is not cleared).
pub fn scatter_add(dout: &[f32], arg: &[u32], dz: &mut [f32]) {
    for (g, &a) in dout.iter().zip(arg) {
        if a != INACTIVE {
            dz[a as usize] += g;
        }
    }
}

/// Tangent: `tout[o] = tz[arg[o]]` for active outputs, 0 for inactive ones.
pub fn gather(tz: &[f32], arg: &[u32], tout: &mut [f32]) {
    for (t, &a) in tout.iter_mut().zip(arg) {
        *t = if a == INACTIVE { 0.0 } else { tz[a as usize] };
    }
}

/// `a = relu(z)` elementwise (NaN stays NaN, as in burn).
pub fn relu(z: &[f32], a: &mut [f32]) {
    a.iter_mut().zip(z).for_each(|(a, &z)| *a = if z > 0.0 || z.is_nan() { z } else { 0.0 });
}

crate::simd::multiversion!(
    /// `d *= [z > 0]` elementwise: the ReLU's backward pass and its tangent.
    pub fn relu_mask(z: &[f32], d: &mut [f32]) => relu_mask_impl
);

#[inline(always)]
fn relu_mask_impl<const FMA: bool>(z: &[f32], d: &mut [f32]) {
    d.iter_mut().zip(z).for_each(|(d, &z)| *d = if z > 0.0 { *d } else { 0.0 });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_takes_the_first_positive_maximum_and_marks_nonpositive_windows() {
        // one channel, 2x4: windows [1, 3 | 3, 0] and [-1, -2 | -3, -1]
        let z = [1.0, 3.0, -1.0, -2.0, 3.0, 0.0, -3.0, -1.0];
        let (mut out, mut arg) = ([9.0; 2], [0u32; 2]);
        relu_maxpool2(1, 2, 4, &z, &mut out, &mut arg);
        assert_eq!(out, [3.0, 0.0]);
        assert_eq!(arg, [1, INACTIVE]);
        let mut dz = [0.0; 8];
        scatter_add(&[2.0, 5.0], &arg, &mut dz);
        assert_eq!(dz, [0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        let mut t = [7.0; 2];
        gather(&[0.0, 4.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], &arg, &mut t);
        assert_eq!(t, [4.0, 0.0]);
    }

    #[test]
    fn nan_propagates() {
        let z = [1.0, f32::NAN, -1.0, 0.5];
        let (mut out, mut arg) = ([0.0; 1], [0u32; 1]);
        relu_maxpool2(1, 2, 2, &z, &mut out, &mut arg);
        assert!(out[0].is_nan());
        relu_max_time(1, 4, &z, &mut out, &mut arg);
        assert!(out[0].is_nan());
        let mut a = [0.0; 4];
        relu(&z, &mut a);
        assert!(a[1].is_nan() && a[2] == 0.0);
    }

    #[test]
    fn max_over_time_per_channel() {
        let z = [0.5, 2.0, 2.0, -1.0, -0.5, -2.0];
        let (mut out, mut arg) = ([0.0; 2], [0u32; 2]);
        relu_max_time(2, 3, &z, &mut out, &mut arg);
        assert_eq!(out, [2.0, 0.0]);
        assert_eq!(arg, [1, INACTIVE]);
    }
}
