//! The explain engine against independent oracles: finite differences, closed forms on a
//! logistic-regression model (where the NTK *is* the last-layer kernel), dense solves, and the
//! representer identity.

#![allow(clippy::needless_range_loop)] // the oracles index training points by i on purpose

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use genrep_data::{Examples, Inputs};
use genrep_explain::importance::surrogate_last_layer;
use genrep_explain::params::{dot, flat_values, shifted};
use genrep_explain::solve::{cholesky, cholesky_solve, conjugate_gradient};
use genrep_explain::{
    grads::weighted_output_grad, Attribution, Context, ExplainOptions, ExplainedScore, GradientKernel, HessianKind,
    Kernel, LastLayerInfluenceKernel, LastLayerKernel, Polarity, Preconditioner, TestPoint,
};
use genrep_models::Architecture;
use genrep_models::{Classifier, Input, ModelSpec, TextCnnConfig, VisionCnnConfig};
use genrep_trainer::{fit, try_init_seeded, FitOptions, TrainConfig};
use proptest::prelude::*;

/// Multinomial logistic regression: features are the raw pixels, the head is the only layer.
#[derive(Module, Debug)]
struct LogReg {
    head: Linear,
}

impl Classifier for LogReg {
    fn features(&self, x: &Input) -> Tensor<2> {
        let Input::Images(t) = x else { panic!("images only") };
        t.clone().flatten(1, 3)
    }
    fn head(&self) -> &Linear {
        &self.head
    }
    fn architecture(&self) -> String {
        "logreg".into()
    }
}

fn lcg(seed: u64) -> impl FnMut() -> f32 {
    let mut s = seed.wrapping_add(0x9E3779B97F4A7C15);
    move || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 33) as f32 / (1u64 << 31) as f32) - 0.5
    }
}

fn images(n: usize, side: usize, classes: usize, seed: u64) -> Examples {
    let mut r = lcg(seed);
    let data: Vec<f32> = (0..n * side * side).map(|_| r()).collect();
    let labels = (0..n)
        .map(|i| {
            let s: f32 = data[i * side * side..(i + 1) * side * side].iter().take(side).sum();
            ((s + 10.0) * 3.0) as usize % classes
        })
        .collect();
    Examples {
        inputs: Inputs::Images { channels: 1, height: side, width: side, data, mean: vec![0.0], std: vec![1.0] },
        labels,
        source_index: (0..n).collect(),
        texts: None,
    }
}

fn logreg(d: usize, c: usize, seed: u64) -> LogReg {
    try_init_seeded(&Device::flex(), seed, |dev| Ok::<_, ()>(LogReg { head: LinearConfig::new(d, c).init(dev) }))
        .unwrap()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / (1e-8 + a.abs().max(b.abs()))
}

/// A two-layer CNN (3 and 4 channels, 3x3 kernels) on `side` x `side` one-channel images with
/// `classes` outputs: small enough for explicit Jacobians and finite differences.
fn tiny_cnn(side: usize, classes: usize) -> ModelSpec {
    ModelSpec::VisionCnn(VisionCnnConfig {
        channels: [3, 4],
        kernel: 3,
        ..VisionCnnConfig::new(1, side, side, classes)
    })
}

/// `test` with test image `t` moved by `eps * v` (`v` has one entry per pixel).
fn with_image_moved(test: &Examples, t: usize, v: &[f32], eps: f32) -> Examples {
    let mut ex = test.clone();
    if let Inputs::Images { data, .. } = &mut ex.inputs {
        data[v.len() * t..v.len() * (t + 1)].iter_mut().zip(v).for_each(|(x, d)| *x += eps * d);
    }
    ex
}

#[test]
fn per_example_gradients_match_finite_differences() {
    // A real CNN: <grad(w.f(x_i)), v> vs the central difference of w.f along v.
    let ex = images(3, 8, 3, 1);
    let spec = tiny_cnn(8, 3);
    let model = try_init_seeded(&Device::flex(), 2, |d| spec.init(d)).unwrap();
    let w = [0.7f32, -1.3, 0.4];
    let g = weighted_output_grad(&model, &ex, 1, &w);
    let p = flat_values(&model).len();
    assert_eq!(g.len(), p);
    let mut r = lcg(9);
    let v: Vec<f32> = (0..p).map(|_| r()).collect();
    let wf = |m: &genrep_models::Model| -> f64 {
        let l = m.valid().logits(&Input::gather(&ex, &[1], &Device::flex())).into_data().try_to_vec::<f32>().unwrap();
        l.iter().zip(&w).map(|(a, b)| (*a as f64) * (*b as f64)).sum()
    };
    let an = dot(&g, &v);
    // eps = 1e-3: small enough not to cross ReLU/max-pool kinks along v (1e-2 does, by ~4%),
    // large enough that f32 round-off stays below ~1e-5 relative.
    let eps = 1e-3f32;
    let fd = (wf(&shifted(&model, &v, eps)) - wf(&shifted(&model, &v, -eps))) / (2.0 * eps as f64);
    assert!(rel(fd, an) < 1e-4, "finite difference {fd} vs autodiff {an}");
}

#[test]
fn ntk_equals_last_layer_kernel_for_logistic_regression() {
    let (train, test) = (images(20, 4, 3, 2), images(5, 4, 3, 3));
    let model = logreg(16, 3, 4);
    let mut r = lcg(5);
    let alpha: Vec<f64> = (0..20 * 3).map(|_| r() as f64).collect();
    let tests = [TestPoint::logit(0, 1), TestPoint::logit(3, 2)];
    let ll = LastLayerKernel::new(&model, &train, &test, 8).contract(&alpha, &tests, &mut |_, _| {}).unwrap();
    let ntk = GradientKernel::new(model, &train, &test, Preconditioner::Identity, "ntk")
        .contract(&alpha, &tests, &mut |_, _| {})
        .unwrap();
    for (a, b) in ll.iter().flatten().zip(ntk.iter().flatten()) {
        assert!((a - b).abs() < 1e-4 * (1.0 + a.abs()), "ll {a} vs ntk {b}");
    }
}

#[test]
fn finite_difference_hvp_matches_the_exact_head_hessian() {
    // For logistic regression all parameters are the head, so the FD Hessian-vector product of
    // the gradient kernel must equal the exact softmax-CE Hessian of the last-layer kernel.
    let (train, test) = (images(40, 3, 2, 6), images(2, 3, 2, 7));
    let model = logreg(9, 2, 8);
    let exact = LastLayerInfluenceKernel::new(&model, &train, &test, 0.0, 16);
    let gk = GradientKernel::new(model.clone(), &train, &test, Preconditioner::Identity, "x");
    let theta_norm = flat_values(&model).iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
    // Parameter order: burn visits weight [d, C] then bias [C]; the exact kernel uses rows j*C+k
    // with the bias as row d: the same layout.
    let mut r = lcg(10);
    let v: Vec<f64> = (0..10 * 2).map(|_| r() as f64).collect();
    let all: Vec<usize> = (0..40).collect();
    let fd = gk.hvp(&v, 0.0, &all, theta_norm);
    let gn = gk.gnvp(&v, 0.0, &all, theta_norm);
    let ex = exact.hvp(&v);
    let norm = ex.iter().map(|x| x * x).sum::<f64>().sqrt();
    // Logistic regression is linear in its parameters, so Gauss-Newton equals the Hessian.
    for ((a, g), b) in fd.iter().zip(&gn).zip(&ex) {
        assert!((a - b).abs() < 5e-3 * norm, "fd {a} vs exact {b} (|Hv| = {norm})");
        assert!((g - b).abs() < 5e-3 * norm, "gauss-newton {g} vs exact {b} (|Hv| = {norm})");
    }
}

#[test]
fn conjugate_gradient_and_cholesky_agree_with_a_dense_solve() {
    let n = 12;
    let mut r = lcg(11);
    let m: Vec<f64> = (0..n * n).map(|_| r() as f64).collect();
    // A = M M^T + 0.5 I is SPD.
    let mut a = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            a[i * n + j] = (0..n).map(|k| m[i * n + k] * m[j * n + k]).sum::<f64>() + if i == j { 0.5 } else { 0.0 };
        }
    }
    let b: Vec<f64> = (0..n).map(|_| r() as f64).collect();
    let apply = |v: &[f64]| -> Vec<f64> { (0..n).map(|i| (0..n).map(|j| a[i * n + j] * v[j]).sum()).collect() };
    let (u, rep) = conjugate_gradient(apply, &b, 1e-10, 200).unwrap();
    assert!(rep.converged && rep.relative_residual < 1e-10);
    let mut l = a.clone();
    cholesky(&mut l, n).unwrap();
    let w = cholesky_solve(&l, n, &b);
    for (x, y) in u.iter().zip(&w) {
        assert!((x - y).abs() < 1e-7, "cg {x} vs cholesky {y}");
    }
    // Residual check against the original matrix.
    let aw = apply(&w);
    for (x, y) in aw.iter().zip(&b) {
        assert!((x - y).abs() < 1e-9);
    }
    let mut bad = vec![1.0, 2.0, 2.0, 1.0];
    assert!(cholesky(&mut bad, 2).unwrap_err().to_string().contains("not positive definite"));
}

#[test]
fn influence_equals_the_closed_form_with_the_exact_inverse_hessian() {
    // Binary logistic regression, last-layer influence with damping: phi_i = -g_i^T (H+lI)^{-1} e_c (x) phi_t,
    // against an independently assembled Hessian and a dense Gaussian elimination.
    let (train, test) = (images(30, 3, 2, 12), images(3, 3, 2, 13));
    let model = logreg(9, 2, 14);
    let damping = 0.05;
    let kern = LastLayerInfluenceKernel::new(&model, &train, &test, damping, 8);
    let feats = genrep_explain::kernel::features_with_bias(&model, &train, 8);
    let tfeats = genrep_explain::kernel::features_with_bias(&model, &test, 8);
    let logits = genrep_trainer::predict_logits(&model, &train, 8, &Device::flex());
    let (d, c, n) = (10, 2, 30);
    let mut h = vec![0.0; (d * c) * (d * c)];
    for i in 0..n {
        let z0 = logits[i * 2] as f64;
        let z1 = logits[i * 2 + 1] as f64;
        let p1 = 1.0 / (1.0 + (z0 - z1).exp());
        let p = [1.0 - p1, p1];
        for a in 0..d * c {
            for b in 0..d * c {
                let (ja, ka, jb, kb) = (a / c, a % c, b / c, b % c);
                let s = if ka == kb { p[ka] - p[ka] * p[kb] } else { -p[ka] * p[kb] };
                h[a * d * c + b] += feats[i * d + ja] * feats[i * d + jb] * s / n as f64;
            }
        }
    }
    for a in 0..d * c {
        h[a * d * c + a] += damping;
    }
    let alpha = genrep_explain::importance::target_derivative(&logits, &train.labels, c);
    let t = TestPoint::logit(1, 1);
    let mut rhs = vec![0.0; d * c];
    for j in 0..d {
        rhs[j * c + t.class] = tfeats[t.index * d + j];
    }
    let u = gauss_solve(h, rhs, d * c);
    let got = kern.contract(&alpha, &[t], &mut |_, _| {}).unwrap();
    for i in 0..n {
        let want: f64 =
            (0..c).map(|k| alpha[i * c + k] * (0..d).map(|j| feats[i * d + j] * u[j * c + k]).sum::<f64>()).sum();
        assert!((got[0][i] - want).abs() < 1e-8 * (1.0 + want.abs()), "i={i}: {} vs {want}", got[0][i]);
    }
}

fn gauss_solve(mut a: Vec<f64>, mut b: Vec<f64>, n: usize) -> Vec<f64> {
    for col in 0..n {
        let piv = (col..n).max_by(|&x, &y| a[x * n + col].abs().total_cmp(&a[y * n + col].abs())).unwrap();
        for k in 0..n {
            a.swap(col * n + k, piv * n + k);
        }
        b.swap(col, piv);
        for row in col + 1..n {
            let f = a[row * n + col] / a[col * n + col];
            for k in col..n {
                a[row * n + k] -= f * a[col * n + k];
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|k| a[row * n + k] * x[k]).sum();
        x[row] = (b[row] - s) / a[row * n + row];
    }
    x
}

/// Theorem 3.1's identity for every test point and class: `sum_i phi(x_i -> x_t)` through the
/// kernel equals the head's logit `Theta^T phi_t` to 1e-4 relative (or 1e-6 absolute near 0).
fn assert_representer_identity(ll: &LastLayerKernel, alpha: &[f64], theta: &[f64], tests: usize, c: usize) {
    for t in 0..tests {
        for class in 0..c {
            let ft = &ll.test[t * ll.dim..(t + 1) * ll.dim];
            let direct: f64 = (0..ll.dim).map(|j| ft[j] * theta[j * c + class]).sum();
            let phi = ll.contract(alpha, &[TestPoint::logit(t, class)], &mut |_, _| {}).unwrap();
            let total: f64 = phi[0].iter().sum();
            assert!(rel(total, direct) < 1e-4 || (total - direct).abs() < 1e-6, "t={t} c={class}: {total} vs {direct}");
        }
    }
}

#[test]
fn representer_identity_holds_at_the_refit_stationary_point() {
    // Theorem 3.1 (Yeh et al. 2018): Theta^T phi_t = sum_i alpha_i phi_i^T phi_t.
    let (train, test) = (images(60, 4, 3, 15), images(4, 4, 3, 16));
    let spec = tiny_cnn(4, 3);
    let model = try_init_seeded(&Device::flex(), 3, |d| spec.init(d)).unwrap();
    let cfg = TrainConfig { epochs: 3, batch_size: 10, checkpoint_every_epoch: false, ..TrainConfig::default() };
    let model = fit(model, &train, None, &cfg, &FitOptions::new(Device::flex()), &mut []).unwrap().model;
    let ll = LastLayerKernel::new(&model, &train, &test, 16);
    let logits = genrep_trainer::predict_logits(&model, &train, 16, &Device::flex());
    let head = genrep_explain::method::head_matrix(&model);
    let (alpha, theta, report) = surrogate_last_layer(&ll.train, ll.dim, &logits, 3, 3e-3, head, 1e-8, 2000).unwrap();
    // |grad| <= 1e-8 (f64 round-off floors near 1e-9 here): the identity error is |grad|/(2 lambda) |phi_t|.
    assert!(report.grad_norm <= 1e-8, "stationary point not reached: {report:?}");
    eprintln!("surrogate fit: {report:?}");
    assert_representer_identity(&ll, &alpha, &theta, 4, 3);
}

#[test]
fn top_k_is_ordered_and_stable() {
    let a = Attribution {
        method: "m".into(),
        test_index: 0,
        explained_class: 0,
        versus: None,
        score: 1.0,
        scores: vec![0.5, -2.0, 3.0, -2.0, 0.0],
    };
    let p: Vec<usize> = a.top_k(2, Polarity::Proponents).iter().map(|r| r.index).collect();
    assert_eq!(p, vec![2, 0]);
    let o: Vec<usize> = a.top_k(3, Polarity::Opponents).iter().map(|r| r.index).collect();
    assert_eq!(o, vec![1, 3, 4], "ties broken by index");
    assert_eq!(a.top_k(10, Polarity::Opponents).len(), 5);
    assert!((a.efficiency_residual() - 1.5).abs() < 1e-12, "|(-0.5) - 1.0|");
    assert_eq!(a.most_negative_first(), vec![1, 3, 4, 0, 2]);
    let nan = Attribution { scores: vec![f64::NAN, 1.0, -1.0], ..a.clone() };
    assert_eq!(nan.top_k(1, Polarity::Proponents)[0].index, 1, "NaN never ranks first");
    assert_eq!(nan.top_k(3, Polarity::Opponents)[2].index, 0, "NaN ranks last");
    // The safetensors export round-trips through its own header.
    let bytes = a.to_safetensors();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    assert_eq!(header["scores"]["shape"][0], 5);
    let back: Vec<f64> = bytes[8 + n..].chunks(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect();
    assert_eq!(back, a.scores);
    // Byte-identical to the format written by hand before the `safetensors` crate did it: a
    // sorted JSON header padded with spaces to 8 bytes, then the little-endian f64 data.
    let meta = serde_json::json!({
        "__metadata__": {"method": a.method, "test_index": "0", "explained_class": "0", "score": "1"},
        "scores": {"dtype": "F64", "shape": [5], "data_offsets": [0, 40]},
    });
    let mut header = serde_json::to_vec(&meta).unwrap();
    while !header.len().is_multiple_of(8) {
        header.push(b' ');
    }
    let mut expected = (header.len() as u64).to_le_bytes().to_vec();
    expected.extend_from_slice(&header);
    expected.extend(a.scores.iter().flat_map(|v| v.to_le_bytes()));
    assert_eq!(bytes, expected);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, .. ProptestConfig::default() })]

    #[test]
    fn last_layer_gram_matrices_are_symmetric_psd(seed in 0u64..1000) {
        let ex = images(8, 3, 2, seed);
        let model = logreg(9, 2, seed + 1);
        let f = genrep_explain::kernel::features_with_bias(&model, &ex, 4);
        let d = 10;
        let mut k = vec![0.0; 64];
        for i in 0..8 {
            for j in 0..8 {
                k[i * 8 + j] = (0..d).map(|m| f[i * d + m] * f[j * d + m]).sum();
            }
        }
        for i in 0..8 {
            for j in 0..8 {
                prop_assert!((k[i * 8 + j] - k[j * 8 + i]).abs() < 1e-12);
            }
            k[i * 8 + i] += 1e-9; // PSD: Cholesky of K + tiny jitter succeeds
        }
        prop_assert!(cholesky(&mut k, 8).is_ok());
    }
}

#[test]
fn influence_predicts_leave_one_out_retraining_on_a_strongly_convex_problem() {
    // L2-regularised logistic regression trained to convergence by full-batch gradient descent.
    // Removing x_i moves the optimum by ~(1/n) H^{-1} grad L_i, so the change of the explained
    // logit is ~ -phi_i / n for phi = target derivative x last-layer influence kernel with the
    // damping equal to the weight decay (the regulariser's Hessian).
    let (n, wd) = (40usize, 0.05f64);
    let (train, test) = (images(n, 3, 2, 21), images(2, 3, 2, 22));
    let cfg = TrainConfig {
        epochs: 1500,
        batch_size: n,
        lr: 0.5,
        weight_decay: wd,
        checkpoint_every_epoch: false,
        ..TrainConfig::default()
    };
    let fit_without = |excluded: Vec<usize>| {
        let mut opts = FitOptions::new(Device::flex());
        opts.excluded = excluded;
        fit(logreg(9, 2, 23), &train, None, &cfg, &opts, &mut []).unwrap().model
    };
    let full = fit_without(vec![]);
    let logits = genrep_trainer::predict_logits(&full, &train, 64, &Device::flex());
    let alpha = genrep_explain::importance::target_derivative(&logits, &train.labels, 2);
    let test_logits = genrep_trainer::predict_logits(&full, &test, 64, &Device::flex());
    let class = usize::from(test_logits[1] > test_logits[0]);
    let t = TestPoint::logit(0, class);
    let phi =
        LastLayerInfluenceKernel::new(&full, &train, &test, wd, 64).contract(&alpha, &[t], &mut |_, _| {}).unwrap();
    let s0 = test_logits[class] as f64;
    let (mut predicted, mut actual) = (Vec::new(), Vec::new());
    for i in 0..n {
        let m = fit_without(vec![i]);
        let s = genrep_trainer::predict_logits(&m, &test, 64, &Device::flex())[class] as f64;
        actual.push(s - s0);
        predicted.push(-phi[0][i] / n as f64);
    }
    let r = pearson(&predicted, &actual);
    assert!(r > 0.9, "Pearson correlation of influence vs leave-one-out: {r}");
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

#[test]
fn self_influence_matches_the_diagonal_of_the_attribution() {
    let (train, test) = (images(12, 3, 2, 31), images(2, 3, 2, 32));
    let model = logreg(9, 2, 33);
    let ctx = genrep_explain::Context {
        model: model.clone(),
        train: &train,
        test: &train,
        record: None,
        batch_size: 8,
        cache: None,
    };
    let opts = genrep_explain::ExplainOptions::default();
    for name in ["target:ll", "target:ntk-final"] {
        let method: genrep_explain::Method = name.parse().unwrap();
        let diag = genrep_explain::self_influence(&ctx, &method, name, &opts).unwrap();
        // Oracle: explain training point i as a test point, at its label, and read entry i.
        for i in [0usize, 5, 11] {
            let ll = LastLayerKernel::new(&model, &train, &train, 8);
            let logits = genrep_trainer::predict_logits(&model, &train, 8, &Device::flex());
            let alpha = genrep_explain::importance::target_derivative(&logits, &train.labels, 2);
            let t = TestPoint::logit(i, train.labels[i]);
            let full = ll.contract(&alpha, &[t], &mut |_, _| {}).unwrap();
            assert!(
                (full[0][i] - diag[i]).abs() < 1e-4 * (1.0 + diag[i].abs()),
                "{name} i={i}: {} vs {}",
                full[0][i],
                diag[i]
            );
        }
    }
    let _ = test;
}

#[test]
fn batched_per_example_gradients_match_the_batch_one_path() {
    let ex = images(6, 8, 3, 41);
    let spec =
        ModelSpec::VisionCnn(VisionCnnConfig { channels: [3, 5], kernel: 3, ..VisionCnnConfig::new(1, 8, 8, 3) });
    let model = try_init_seeded(&Device::flex(), 42, |d| spec.init(d)).unwrap();
    // Train a little so that ReLUs and pools are in a generic state.
    let cfg = TrainConfig { epochs: 2, batch_size: 3, checkpoint_every_epoch: false, ..TrainConfig::default() };
    let model = fit(model, &ex, None, &cfg, &FitOptions::new(Device::flex()), &mut []).unwrap().model;
    let mut r = lcg(43);
    let w: Vec<f32> = (0..6 * 3).map(|_| r()).collect();
    let idx: Vec<usize> = (0..6).collect();
    let x = Input::gather(&ex, &idx, &Device::flex());
    let wt = Tensor::<2>::from_data(TensorData::new(w.clone(), [6, 3]), &Device::flex());
    let fast = model.per_example_grads(&x, &wt).expect("VisionCnn has a fast path");
    let p = flat_values(&model).len();
    assert_eq!(fast.dims(), [6, p]);
    let fast = fast.into_data().try_to_vec::<f32>().unwrap();
    // And the kernel contraction gives the same scores on both paths.
    let tests = [TestPoint::logit(1, 2)];
    let alpha: Vec<f64> = w.iter().map(|&v| v as f64 * 1e-3).collect();
    let mut k = GradientKernel::new(model.clone(), &ex, &ex, Preconditioner::Identity, "ntk");
    k.batched = false;
    let slow_phi = k.contract(&alpha, &tests, &mut |_, _| {}).unwrap();
    k.batched = true;
    let fast_phi = k.contract(&alpha, &tests, &mut |_, _| {}).unwrap();
    for (a, b) in slow_phi[0].iter().zip(&fast_phi[0]) {
        assert!((a - b).abs() < 1e-4 * (1e-6 + a.abs()), "batch-1 {a} vs batched {b}");
    }
    for i in 0..6 {
        let slow = weighted_output_grad(&model, &ex, i, &w[i * 3..(i + 1) * 3]);
        let norm = slow.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
        let err = slow.iter().zip(&fast[i * p..(i + 1) * p]).map(|(a, b)| ((a - b) as f64).powi(2)).sum::<f64>().sqrt();
        assert!(err / norm < 1e-4, "example {i}: relative error {}", err / norm);
    }
}

/// `per_example_dots` against the batch-1 autodiff path: `<g_i(w_i), v_t>` for random output
/// weights and random parameter-space vectors, relative to `|g_i| |v_t|`.
fn assert_dots_match_batch_one<M: Classifier>(model: &M, ex: &Examples, tests: usize, seed: u64) {
    let c = model.num_classes();
    let n = ex.len();
    let p = flat_values(model).len();
    let mut r = lcg(seed);
    let w: Vec<f32> = (0..n * c).map(|_| r()).collect();
    let v: Vec<f32> = (0..p * tests).map(|_| r()).collect();
    let idx: Vec<usize> = (0..n).collect();
    let x = Input::gather(ex, &idx, &Device::flex());
    let wt = Tensor::<2>::from_data(TensorData::new(w.clone(), [n, c]), &Device::flex());
    let vt = Tensor::<2>::from_data(TensorData::new(v.clone(), [tests, p]), &Device::flex()).transpose();
    let s = model.per_example_dots(&x, &wt, &vt).expect("the model has a fast path");
    assert_eq!(s.dims(), [n, tests]);
    let s = s.into_data().try_to_vec::<f32>().unwrap();
    let mut largest = 0.0f64;
    for i in 0..n {
        let g = weighted_output_grad(model, ex, i, &w[i * c..(i + 1) * c]);
        let gn = dot(&g, &g).sqrt();
        for t in 0..tests {
            let vt = &v[t * p..(t + 1) * p];
            let exact = dot(&g, vt);
            let err = (exact - s[i * tests + t] as f64).abs() / (gn * dot(vt, vt).sqrt());
            assert!(
                err < 1e-5,
                "example {i}, vector {t}: batch-1 {exact} vs fast {} (relative {err:e})",
                s[i * tests + t]
            );
            largest = largest.max(exact.abs() / (gn * dot(vt, vt).sqrt()));
        }
    }
    // Not vacuous: some products are far above the error bound.
    assert!(largest > 1e-3, "all products are tiny ({largest:e})");
}

fn tokens(n: usize, len: usize, vocab: usize, classes: usize, seed: u64) -> Examples {
    let mut r = lcg(seed);
    let ids: Vec<u32> = (0..n * len).map(|_| ((r() + 0.5) * vocab as f32) as u32 % vocab as u32).collect();
    let labels = (0..n).map(|i| ids[i * len] as usize % classes).collect();
    Examples {
        inputs: Inputs::Tokens { seq_len: len, ids, vocab_size: vocab },
        labels,
        source_index: (0..n).collect(),
        texts: None,
    }
}

#[test]
fn per_example_dots_match_the_batch_one_path_for_both_models() {
    // VisionCnn (padding 1 exercised by kernel 3) and TextCnn (embedding rows of repeated tokens
    // accumulate; the max over time routes the gradient), each trained a little first so that
    // ReLUs, pools and maxima are in a generic state.
    let cfg = TrainConfig { epochs: 2, batch_size: 3, checkpoint_every_epoch: false, ..TrainConfig::default() };
    let ex = images(6, 8, 3, 51);
    let spec =
        ModelSpec::VisionCnn(VisionCnnConfig { channels: [3, 5], kernel: 3, ..VisionCnnConfig::new(1, 8, 8, 3) });
    let model = try_init_seeded(&Device::flex(), 52, |d| spec.init(d)).unwrap();
    let model = fit(model, &ex, None, &cfg, &FitOptions::new(Device::flex()), &mut []).unwrap().model;
    assert_dots_match_batch_one(&model, &ex, 3, 53);

    let ex = tokens(6, 9, 13, 2, 54);
    let spec = ModelSpec::TextCnn(TextCnnConfig {
        vocab_size: 13,
        embed_dim: 4,
        hidden: 5,
        kernel: 3,
        num_classes: 2,
        embed_init_std: None,
    });
    let model = try_init_seeded(&Device::flex(), 55, |d| spec.init(d)).unwrap();
    let model = fit(model, &ex, None, &cfg, &FitOptions::new(Device::flex()), &mut []).unwrap().model;
    assert_dots_match_batch_one(&model, &ex, 3, 56);
    // The kernel contraction takes the fast path when asked and agrees with the batch-1 path.
    let alpha: Vec<f64> = (0..6 * 2).map(|i| ((i * 7 % 5) as f64 - 2.0) * 1e-3).collect();
    let tests = [TestPoint::logit(2, 1)];
    let mut k = GradientKernel::new(model.clone(), &ex, &ex, Preconditioner::Identity, "ntk");
    k.batched = false;
    let slow = k.contract(&alpha, &tests, &mut |_, _| {}).unwrap();
    k.batched = true;
    let fast = k.contract(&alpha, &tests, &mut |_, _| {}).unwrap();
    let scale = slow[0].iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(scale > 0.0);
    for (a, b) in slow[0].iter().zip(&fast[0]) {
        assert!((a - b).abs() < 1e-5 * scale, "batch-1 {a} vs batched {b}");
    }
}

#[test]
fn ntk_surrogate_equals_the_last_layer_surrogate_for_logistic_regression() {
    // For a model linear in its parameters the NTK feature map is the last-layer feature map
    // (bias included), so fitting the kernel machine in parameter space (finite-difference JVPs,
    // backward-pass VJPs) must give the global importances of the closed last-layer problem.
    let train = images(40, 4, 3, 21);
    let model = logreg(16, 3, 22);
    let logits = genrep_trainer::predict_logits(&model, &train, 16, &Device::flex());
    let ll = LastLayerKernel::new(&model, &train, &train, 16);
    let lambda = 1e-2;
    let (a_ll, _, rep_ll) =
        surrogate_last_layer(&ll.train, ll.dim, &logits, 3, lambda, vec![0.0; ll.dim * 3], 1e-10, 5000).unwrap();
    let (a_ntk, rep) =
        genrep_explain::importance::surrogate_ntk(&model, &train, &logits, lambda, 1e-7, 500, 16, &mut |_, _| {})
            .unwrap();
    eprintln!("last-layer fit {rep_ll:?}; NTK fit {rep:?}");
    let scale = a_ll.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(scale > 1e-4, "degenerate problem");
    for (a, b) in a_ll.iter().zip(&a_ntk) {
        assert!((a - b).abs() <= 1e-3 * scale, "last-layer alpha {a} vs NTK alpha {b} (scale {scale})");
    }
}

#[test]
fn ntk_surrogate_fit_on_a_cnn_reaches_its_tolerance_with_exact_jvps() {
    // With exact J w (forward mode) and J^T dz from the same fused pass, the value and gradient
    // L-BFGS sees are consistent, so the fit reaches its stated tolerance on a ReLU / max-pool
    // CNN; and at that stationary point the representer identity holds: the kernel machine
    // sum_i alpha_i K(x_i, x) reproduces the fit's own outputs J_x w on held-out points.
    let (train, test) = (images(40, 8, 2, 81), images(3, 8, 2, 82));
    let spec = tiny_cnn(8, 2);
    let model = try_init_seeded(&Device::flex(), 9, |d| spec.init(d)).unwrap();
    let logits = genrep_trainer::predict_logits(&model, &train, 16, &Device::flex());
    let (lambda, tol) = (1e-2, 1e-4);
    let (alpha, rep) =
        genrep_explain::importance::surrogate_ntk(&model, &train, &logits, lambda, tol, 2000, 16, &mut |_, _| {})
            .unwrap();
    eprintln!("NTK surrogate fit on a CNN: {rep:?}");
    assert!(rep.converged, "{rep:?}");
    // Efficiency of the kernel machine at its own stationary point: w = sum_i J_i^T alpha_i, so
    // for any x, sum_i phi_i(x) = J_x w, whatever x is; check it is the same vector from two
    // independent directions: contract alpha on the NTK, and recompute J_x w from w.
    let k = GradientKernel::new(model.clone(), &train, &test, Preconditioner::Identity, "ntk-final");
    let fast = k.fast.as_ref().unwrap();
    let idx: Vec<usize> = (0..40).collect();
    let p = fast.params().len();
    let mut w = vec![0.0f32; p];
    let wts: Vec<f32> = alpha.iter().map(|&a| a as f32).collect();
    fast.weighted_grad(
        &train,
        &idx,
        None,
        &|r, _, _, out: &mut [f32]| out.copy_from_slice(&wts[r * 2..r * 2 + 2]),
        &mut w,
    );
    let (_, jw) = fast.jvp(&test, &[0, 1, 2], &w);
    for t in 0..3 {
        let phi = k.contract(&alpha, &[TestPoint::logit(t, 1)], &mut |_, _| {}).unwrap();
        let total: f64 = phi[0].iter().sum();
        assert!((total - jw[t * 2 + 1] as f64).abs() <= 1e-4 * (1.0 + total.abs()), "{total} vs {}", jw[t * 2 + 1]);
    }
}

#[test]
fn last_layer_l2_training_gives_an_exact_representer_decomposition() {
    // Theorem 3.1 of Yeh et al. (2018): train with lambda |Theta|^2 on the last layer, fine-tune
    // the last layer to a stationary point of the same objective (true labels), and the logits
    // are exactly sum_i alpha_i phi_i^T phi_t. Training with the penalty leaves the head close
    // to that stationary point; training without it does not.
    let (train, test) = (images(60, 4, 3, 31), images(5, 4, 3, 32));
    let spec = tiny_cnn(4, 3);
    // Full-batch gradient descent contracts the head's penalised directions by (1 - 2 lr lambda)
    // per step: lambda = 0.1, lr = 0.5 and 300 steps leave ~1e-14 of the initial gap.
    let lambda = 0.1;
    let train_with = |l2: f64| {
        let model = try_init_seeded(&Device::flex(), 5, |d| spec.init(d)).unwrap();
        let cfg = TrainConfig {
            epochs: 300,
            batch_size: 60,
            lr: 0.5,
            last_layer_l2: l2,
            checkpoint_every_epoch: false,
            ..TrainConfig::default()
        };
        fit(model, &train, None, &cfg, &FitOptions::new(Device::flex()), &mut []).unwrap().model
    };
    let mut one_hot = vec![0.0; 60 * 3];
    for (i, &y) in train.labels.iter().enumerate() {
        one_hot[i * 3 + y] = 1.0;
    }
    let refit = |model: &genrep_models::Model| {
        let ll = LastLayerKernel::new(model, &train, &test, 16);
        let head = genrep_explain::method::head_matrix(model);
        let (alpha, theta, report) = genrep_explain::importance::refit_last_layer(
            &ll.train,
            ll.dim,
            &one_hot,
            3,
            lambda,
            head.clone(),
            1e-10,
            5000,
        )
        .unwrap();
        let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
        let moved = norm(&theta.iter().zip(&head).map(|(a, b)| a - b).collect::<Vec<_>>()) / norm(&head);
        (ll, alpha, theta, report, moved)
    };
    let (ll, alpha, theta, report, moved) = refit(&train_with(lambda));
    let (.., moved_without) = refit(&train_with(0.0));
    eprintln!(
        "fine-tune: {report:?}; head moved {moved:.4} (trained with the penalty) vs {moved_without:.4} (without)"
    );
    assert!(report.grad_norm <= 1e-8, "stationary point not reached: {report:?}");
    assert!(moved < 0.5 * moved_without, "the penalty did not bring the head near the stationary point");
    assert_representer_identity(&ll, &alpha, &theta, 5, 3);
}

#[test]
fn debugging_self_influences_match_their_closed_forms() {
    // Binary logistic regression: the per-example loss gradient of the head is phi_i (x) r_i with
    // r_i = softmax(f_i) - e_{y_i}, and the head Hessian is available explicitly.
    let train = images(30, 4, 2, 41);
    let model = logreg(16, 2, 42);
    let n = train.len();
    let logits = genrep_trainer::predict_logits(&model, &train, 8, &Device::flex());
    let feats = genrep_explain::kernel::features_with_bias(&model, &train, 8);
    let d = 17;
    let r: Vec<[f64; 2]> = (0..n)
        .map(|i| {
            let (a, b) = (logits[2 * i] as f64, logits[2 * i + 1] as f64);
            let p0 = 1.0 / (1.0 + (b - a).exp());
            let y = train.labels[i];
            [p0 - (y == 0) as u8 as f64, (1.0 - p0) - (y == 1) as u8 as f64]
        })
        .collect();
    let g = |i: usize| -> Vec<f64> {
        (0..d).flat_map(|j| (0..2).map(move |k| (j, k))).map(|(j, k)| feats[i * d + j] * r[i][k]).collect()
    };

    // TracIn with one checkpoint of learning rate 0.5: 0.5 |g_i|^2.
    let tracin =
        genrep_explain::self_influence::tracin_self_influence(&[(model.clone(), 0.5)], &train, 8, &mut |_, _| {});
    for i in 0..n {
        let want = 0.5 * g(i).iter().map(|v| v * v).sum::<f64>();
        assert!(rel(tracin[i], want) < 1e-4, "tracin {i}: {} vs {want}", tracin[i]);
    }

    // Influence over the last layer: g_i^T (H + damping I)^{-1} g_i with the explicit Hessian.
    let damping = 0.01;
    let inf = genrep_explain::self_influence::influence_ll_self_influence(&model, &train, damping, 8).unwrap();
    let k = LastLayerInfluenceKernel::new(&model, &train, &train, damping, 8);
    let mut h = k.hessian();
    cholesky(&mut h, 2 * d).unwrap();
    for i in 0..n {
        let gi = g(i);
        let u = cholesky_solve(&h, 2 * d, &gi);
        let want: f64 = gi.iter().zip(&u).map(|(a, b)| a * b).sum();
        assert!(rel(inf[i], want) < 1e-6, "influence {i}: {} vs {want}", inf[i]);
    }
    // A 3-class model is refused with a clear error.
    let err =
        genrep_explain::self_influence::influence_ll_self_influence(&logreg(16, 3, 1), &images(5, 4, 3, 1), 0.01, 8)
            .unwrap_err()
            .to_string();
    assert!(err.contains("binary"), "{err}");
}

#[test]
fn last_layer_hessian_spectrum_matches_power_iteration_on_the_explicit_matrix() {
    // 17 x 2 = 34 head parameters. The softmax ignores a shift common to both classes, so H has
    // a 17-dimensional null space; on its complement (17 dimensions, 30 training points) H is
    // positive definite and the smallest eigenvalue exceeds the damping.
    let train = images(30, 4, 2, 41);
    let model = logreg(16, 2, 42);
    let damping = 0.01;
    let k = LastLayerInfluenceKernel::new(&model, &train, &train, damping, 8);
    let p = 34;
    let h = k.hessian();
    // The projection onto the complement of the null space: per feature, minus the class mean.
    let project =
        |v: &[f64]| -> Vec<f64> { v.chunks(2).flat_map(|r| [(r[0] - r[1]) / 2.0, (r[1] - r[0]) / 2.0]).collect() };
    let apply = |m: &[f64], v: &[f64]| -> Vec<f64> {
        project(&(0..p).map(|i| m[i * p..(i + 1) * p].iter().zip(v).map(|(a, b)| a * b).sum()).collect::<Vec<_>>())
    };
    // The null space is really there: H + damping I maps a common shift to damping times itself.
    let shift: Vec<f64> = (0..p).map(|i| ((i / 2) as f64).sin()).collect();
    let hs: Vec<f64> = (0..p).map(|i| h[i * p..(i + 1) * p].iter().zip(&shift).map(|(a, b)| a * b).sum()).collect();
    assert!(hs.iter().zip(&shift).all(|(a, b)| (a - damping * b).abs() < 1e-9), "not a null direction");
    // Independent oracle: power iteration from a seeded random start inside the complement, for
    // the largest eigenvalue, then on lambda_max I - H there for the smallest.
    let mut r = lcg(77);
    let start = project(&(0..p).map(|_| r() as f64).collect::<Vec<_>>());
    let power = |m: &[f64]| -> f64 {
        let mut v = start.clone();
        let mut lambda = 0.0;
        for _ in 0..20000 {
            let w = apply(m, &v);
            let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            lambda = v.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>() / v.iter().map(|x| x * x).sum::<f64>();
            v = w.into_iter().map(|x| x / norm).collect();
        }
        lambda
    };
    let max = power(&h);
    let shifted: Vec<f64> = (0..p * p).map(|ij| if ij / p == ij % p { max - h[ij] } else { -h[ij] }).collect();
    let min = max - power(&shifted);
    let s = k.spectrum(p, 5).unwrap();
    assert!((s.max - max).abs() < 1e-8 * max, "{s:?} vs max {max}");
    assert!((s.min - min).abs() < 1e-6 * max, "{s:?} vs min {min}");
    // Positive definite there: the smallest eigenvalue is above the damping by far more than
    // round-off (it is 0.0138 here, against 0.01).
    assert!(s.min - damping > 1e-3, "{s:?}: on the complement H itself has positive curvature");
    assert!((s.condition() - max / min).abs() < 1e-3 * s.condition());
}

#[test]
fn sensitivity_map_matches_finite_differences_of_the_representer_value() {
    // d/dx_t [a f_i^T f(x_t)] against a central difference along a random pixel direction.
    let (train, test) = (images(6, 8, 2, 51), images(2, 8, 2, 52));
    let spec = tiny_cnn(8, 2);
    let model = try_init_seeded(&Device::flex(), 6, |d| spec.init(d)).unwrap();
    let a = 0.37;
    let g = genrep_explain::sensitivity::representer_sensitivity(&model, &train, 2, &test, 1, a).unwrap();
    assert_eq!(g.len(), 64);
    let value = |ex: &Examples| -> f64 {
        let m = model.valid();
        let fi = m.features(&Input::gather(&train, &[2], &Device::flex())).into_data().try_to_vec::<f32>().unwrap();
        let ft = m.features(&Input::gather(ex, &[1], &Device::flex())).into_data().try_to_vec::<f32>().unwrap();
        a * fi.iter().zip(&ft).map(|(x, y)| *x as f64 * *y as f64).sum::<f64>()
    };
    let mut r = lcg(53);
    let v: Vec<f32> = (0..64).map(|_| r()).collect();
    let shifted_test = |eps: f32| with_image_moved(&test, 1, &v, eps);
    let eps = 1e-3f32;
    let fd = (value(&shifted_test(eps)) - value(&shifted_test(-eps))) / (2.0 * eps as f64);
    let an = dot(&g, &v);
    assert!(rel(fd, an) < 1e-3, "finite difference {fd} vs autodiff {an}");
    assert!(genrep_explain::sensitivity::representer_sensitivity(&model, &train, 6, &test, 1, a).is_err());
}

#[test]
fn lissa_agrees_with_a_dense_solve_and_reports_divergence() {
    // A = M M^T / n + 0.5 I (eigenvalues in [0.5, ~3]); the recursion contracts the error by
    // (1 - 0.5 / scale) per step: scale 4 and 300 steps leave ~4e-18.
    let n = 10;
    let mut r = lcg(12);
    let m: Vec<f64> = (0..n * n).map(|_| r() as f64).collect();
    let mut a = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            a[i * n + j] =
                (0..n).map(|k| m[i * n + k] * m[j * n + k]).sum::<f64>() / n as f64 + if i == j { 0.5 } else { 0.0 };
        }
    }
    let b: Vec<f64> = (0..n).map(|_| r() as f64).collect();
    let apply = |v: &[f64]| -> Vec<f64> { (0..n).map(|i| (0..n).map(|j| a[i * n + j] * v[j]).sum()).collect() };
    let opts = genrep_explain::solve::LissaOptions { depth: 300, scale: 4.0, batch: 1, repeats: 2 };
    let (u, rep) = genrep_explain::solve::lissa(|v, _| apply(v), apply, &b, &opts, 1e-8).unwrap();
    assert!(rep.converged, "{rep:?}");
    assert_eq!(rep.iterations, 600);
    let mut l = a.clone();
    cholesky(&mut l, n).unwrap();
    let w = cholesky_solve(&l, n, &b);
    for (x, y) in u.iter().zip(&w) {
        assert!((x - y).abs() < 1e-9, "lissa {x} vs cholesky {y}");
    }
    // A scale below the largest eigenvalue makes the recursion blow up: a clear error.
    let bad = genrep_explain::solve::LissaOptions { depth: 5000, scale: 0.1, batch: 1, repeats: 1 };
    let err = genrep_explain::solve::lissa(|v, _| apply(v), apply, &b, &bad, 1e-8).unwrap_err().to_string();
    assert!(err.contains("diverged"), "{err}");
}

#[test]
fn gauss_newton_product_matches_explicit_jacobians_on_a_cnn() {
    // On a ReLU / max-pool CNN (where finite differences can cross kinks) the finite-difference
    // Gauss-Newton product must equal (1/m) sum_i J_i^T (diag(p_i) - p_i p_i^T) J_i v built from
    // explicit per-example Jacobian rows (one backward pass per example and class).
    let (train, test) = (images(24, 8, 2, 61), images(2, 8, 2, 62));
    let spec = tiny_cnn(8, 2);
    let model = try_init_seeded(&Device::flex(), 7, |d| spec.init(d)).unwrap();
    let theta_norm = flat_values(&model).iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
    let p = flat_values(&model).len();
    let mut r = lcg(63);
    let v: Vec<f64> = (0..p).map(|_| r() as f64).collect();
    let vf: Vec<f32> = v.iter().map(|&x| x as f32).collect();
    let sample: Vec<usize> = (0..24).collect();
    let logits = genrep_trainer::predict_logits(&model, &train, 8, &Device::flex());
    let mut exact = vec![0.0f64; p];
    for &i in &sample {
        let rows: Vec<Vec<f32>> = (0..2)
            .map(|c| {
                let mut e = [0.0f32; 2];
                e[c] = 1.0;
                weighted_output_grad(&model, &train, i, &e)
            })
            .collect();
        let jv: Vec<f64> = rows.iter().map(|row| dot(row, &vf)).collect();
        let (a, b) = (logits[2 * i] as f64, logits[2 * i + 1] as f64);
        let p0 = 1.0 / (1.0 + (b - a).exp());
        let pr = [p0, 1.0 - p0];
        let pjv = pr[0] * jv[0] + pr[1] * jv[1];
        for c in 0..2 {
            let u = pr[c] * (jv[c] - pjv) / sample.len() as f64;
            exact.iter_mut().zip(&rows[c]).for_each(|(x, g)| *x += u * *g as f64);
        }
    }
    let norm = exact.iter().map(|x| x * x).sum::<f64>().sqrt();
    let rel = |gn: &[f64]| gn.iter().zip(&exact).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt() / norm;
    // The built-in model's exact product: forward-mode J v and a backward pass, fused.
    let gk = GradientKernel::new(model.clone(), &train, &test, Preconditioner::Identity, "x");
    assert!(gk.fast.is_some());
    let err = rel(&gk.gnvp(&v, 0.0, &sample, theta_norm));
    eprintln!("exact Gauss-Newton product: relative error {err:.2e} against explicit Jacobians");
    assert!(err < 1e-5, "exact Gauss-Newton product off by {err:.2e}");
    // The fallback for models without a forward mode: J v by central differences.
    let fd = GradientKernel::new(model, &train, &test, Preconditioner::Identity, "x").without_fast_path();
    let err = rel(&fd.gnvp(&v, 0.0, &sample, theta_norm));
    // Measured: 8.1e-4 with GN_FD_STEP = 1e-5 (9.6e-5 at 1e-4, 1.2e-2 at 1e-6: round-off).
    eprintln!("finite-difference Gauss-Newton product: relative error {err:.2e} against explicit Jacobians");
    assert!(err < 1e-3, "finite-difference Gauss-Newton product off by {err:.2e}");
}

#[test]
fn fused_kernels_match_the_burn_path() {
    // NTK and influence contractions (margin and logit scores) on the fused path against burn's
    // batch-1 backward passes with the finite-difference-free solve on the same data.
    let (train, test) = (images(30, 8, 2, 71), images(4, 8, 2, 72));
    let spec = tiny_cnn(8, 2);
    let model = try_init_seeded(&Device::flex(), 8, |d| spec.init(d)).unwrap();
    let mut r = lcg(73);
    let alpha: Vec<f64> = (0..60).map(|_| r() as f64).collect();
    let tests = [TestPoint::logit(0, 1), TestPoint::margin(2, 0, 1), TestPoint::margin(3, 1, 0)];
    let fast = GradientKernel::new(model.clone(), &train, &test, Preconditioner::Identity, "ntk");
    let slow = GradientKernel::new(model.clone(), &train, &test, Preconditioner::Identity, "ntk").without_fast_path();
    let a = fast.contract(&alpha, &tests, &mut |_, _| {}).unwrap();
    let b = slow.contract(&alpha, &tests, &mut |_, _| {}).unwrap();
    for (x, y) in a.iter().zip(&b) {
        let scale = y.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (u, w) in x.iter().zip(y) {
            assert!((u - w).abs() <= 1e-5 * scale, "ntk: fused {u} vs burn {w}");
        }
    }
    // Margin = difference of the two logits' contractions.
    let l0 = fast.contract(&alpha, &[TestPoint::logit(2, 0)], &mut |_, _| {}).unwrap();
    let l1 = fast.contract(&alpha, &[TestPoint::logit(2, 1)], &mut |_, _| {}).unwrap();
    for i in 0..30 {
        assert!((a[1][i] - (l0[0][i] - l1[0][i])).abs() <= 1e-6 * (1.0 + a[1][i].abs()));
    }
    let influence = |k: GradientKernel<'_, genrep_models::Model>| {
        let k = GradientKernel {
            precondition: Preconditioner::Influence {
                hessian: HessianKind::GaussNewton,
                damping: 0.01,
                hessian_sample: (0..30).collect(),
                tol: 1e-10,
                max_iter: 500,
                lissa: None,
                seed: 0,
            },
            ..k
        };
        let out = k.contract(&alpha, &tests, &mut |_, _| {}).unwrap();
        let reports = k.cg_reports.borrow().clone();
        (out, reports)
    };
    let (fi, reports) = influence(fast);
    assert!(reports.iter().all(|r| r.converged), "{reports:?}");
    let (si, _) = influence(slow);
    for (x, y) in fi.iter().zip(&si) {
        let scale = y.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (u, w) in x.iter().zip(y) {
            // The burn side's J v is a central difference (relative error ~1e-3, above).
            assert!((u - w).abs() <= 1e-2 * scale, "influence: fused {u} vs burn {w}");
        }
    }
}

#[test]
fn surrogate_fit_is_cached_by_fingerprint() {
    cached_by_fingerprint("surrogate:ntk-final");
}

#[test]
fn representer_refit_is_cached_by_fingerprint() {
    cached_by_fingerprint("representer");
}

/// The global importance of `name` is cached in the given directory: the second call reads it
/// back (same scores), a corrupt entry is recomputed, and another model gets another entry.
fn cached_by_fingerprint(name: &str) {
    let (train, test) = (images(20, 8, 2, 91), images(2, 8, 2, 92));
    let spec = tiny_cnn(8, 2);
    let dir = std::env::temp_dir().join(format!("genrep-cache-{}-{}", name.replace(':', "-"), std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let method: genrep_explain::Method = name.parse().unwrap();
    let opts = genrep_explain::ExplainOptions { surrogate_max_iter: 20, ..Default::default() };
    let run = |seed: u64| {
        let model = try_init_seeded(&Device::flex(), seed, |d| spec.init(d)).unwrap();
        let ctx = genrep_explain::Context {
            model,
            train: &train,
            test: &test,
            record: None,
            batch_size: 8,
            cache: Some(&dir),
        };
        genrep_explain::explain(&ctx, &method, name, &[0, 1], &opts, None, false, &mut |_, _| {}).unwrap().0
    };
    let entries = || std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
    let first = run(3);
    assert_eq!(entries(), 1);
    let second = run(3);
    assert_eq!(first, second);
    let entry = std::fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
    std::fs::write(&entry, "not json").unwrap();
    assert_eq!(run(3), first, "a corrupt entry is recomputed");
    run(4);
    assert_eq!(entries(), 2, "another model, another entry");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn non_finite_importances_and_scores_are_errors_naming_the_training_index() {
    let (train, test) = (images(12, 3, 2, 41), images(2, 3, 2, 42));
    let model = logreg(9, 2, 43);
    let mut record = genrep_trainer::TrainingRecord::new(train.len(), 2, false);
    record.tracking_sum.iter_mut().enumerate().for_each(|(i, v)| *v = 0.01 * i as f64);
    record.tracking_sum[7 * 2 + 1] = f64::NAN;
    let ctx = genrep_explain::Context {
        model: model.clone(),
        train: &train,
        test: &test,
        record: Some(&record),
        batch_size: 8,
        cache: None,
    };
    let opts = genrep_explain::ExplainOptions::default();
    for name in ["tracking:ll", "tracking:ntk-final"] {
        let method: genrep_explain::Method = name.parse().unwrap();
        let e = genrep_explain::explain(&ctx, &method, name, &[0], &opts, None, false, &mut |_, _| {})
            .unwrap_err()
            .to_string();
        assert!(e.contains(name) && e.contains("training example 7") && e.contains("NaN"), "{e}");
    }
    // A model whose weights hold an infinity: the kernel values (hence phi) are not finite.
    let mut bad = model.clone();
    bad.head = bad.head.clone().map(&mut SetFirst(f32::INFINITY));
    let ctx = genrep_explain::Context { model: bad, record: None, ..ctx };
    let method: genrep_explain::Method = "target:ll".parse().unwrap();
    let e = genrep_explain::explain(&ctx, &method, "target:ll", &[1], &opts, None, false, &mut |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("target:ll") && e.contains("non-finite"), "{e}");
}

/// Sets the first element of every float parameter.
struct SetFirst(f32);

impl burn::module::ModuleMapper for SetFirst {
    fn map_float<const D: usize>(&mut self, p: burn::module::Param<Tensor<D>>) -> burn::module::Param<Tensor<D>> {
        let v = self.0;
        p.map(|t| {
            let mut data = genrep_models::params::f32_values(t.to_data());
            data[0] = v;
            Tensor::from_data(TensorData::new(data, t.shape()), &t.device())
        })
    }
}

#[test]
fn lissa_minibatches_follow_the_seed() {
    // Influence by LiSSA with minibatches of 2 of 16 points: the seed picks the minibatches, so
    // the same seed repeats the scores bit for bit and another seed changes them.
    let (train, test) = (images(16, 3, 2, 51), images(1, 3, 2, 52));
    let model = logreg(9, 2, 53);
    let ctx = genrep_explain::Context { model, train: &train, test: &test, record: None, batch_size: 8, cache: None };
    let method: genrep_explain::Method = "influence".parse().unwrap();
    let scores = |seed: u64| {
        let opts = genrep_explain::ExplainOptions {
            seed,
            lissa: Some(genrep_explain::solve::LissaOptions { depth: 40, scale: 10.0, batch: 2, repeats: 1 }),
            ..Default::default()
        };
        genrep_explain::explain(&ctx, &method, "influence", &[0], &opts, None, false, &mut |_, _| {}).unwrap().0[0]
            .scores
            .clone()
    };
    let (a, b, c) = (scores(1), scores(1), scores(2));
    assert_eq!(a, b, "the same seed gave other scores");
    assert_ne!(a, c, "the LiSSA minibatches ignore the seed");
}

#[test]
fn explainer_explains_given_classes_and_new_inputs_like_test_points() {
    let (train, test) = (images(20, 3, 3, 71), images(6, 3, 3, 72));
    let model = logreg(9, 3, 73);
    let explainer = genrep_explain::Explainer::new(model.clone(), &train).unwrap();
    use genrep_explain::Target;
    // A given class is explained as asked; the predicted one by default.
    for class in 0..3 {
        let (a, _) = explainer.explain("target:ll", &test, &[2], Target::Class(class)).unwrap();
        assert_eq!(a[0].explained_class, class);
    }
    let e = explainer.explain("target:ll", &test, &[2], Target::Class(3)).unwrap_err().to_string();
    assert!(e.contains("class 3 is out of range: the model has 3 classes (0..=2)"), "{e}");
    // An input in no split gives the same attribution as the same example explained in its split.
    let new = genrep_explain::subset(&test, &[4]);
    for method in ["target:ll", "target:ntk-final", "representer", "influence"] {
        let (a, _) = explainer.explain(method, &test, &[4], Target::Predicted).unwrap();
        let (b, _) = explainer.explain_inputs(method, &new, Target::Predicted).unwrap();
        assert_eq!((a[0].explained_class, a[0].score), (b[0].explained_class, b[0].score), "{method}");
        for (x, y) in a[0].scores.iter().zip(&b[0].scores) {
            assert!((x - y).abs() <= 1e-6 * x.abs().max(1e-3), "{method}: {x} vs {y}");
        }
    }
    // A record of another size is refused up front.
    let wrong = genrep_trainer::TrainingRecord::new(19, 3, false);
    let e =
        genrep_explain::Explainer::new(model.clone(), &train).unwrap().with_record(wrong).err().unwrap().to_string();
    assert!(e.contains("20 examples x 3 classes"), "{e}");
    let empty = genrep_explain::subset(&train, &[]);
    assert!(genrep_explain::Explainer::new(model, &empty).is_err());
}

#[test]
fn trak_with_a_full_invertible_projection_equals_the_unprojected_kernel() {
    // Logistic regression on 9 pixels, 3 classes: p = 30 parameters, n = 60 training points.
    // With d = p the projection cancels: phi_i = (1 - p_{y_i}) g_i^T (G^T G)^+ g (module docs of
    // genrep_explain::trak), G the training-margin gradients.
    let (train, test) = (images(60, 3, 3, 81), images(3, 3, 3, 82));
    let model = logreg(9, 3, 83);
    let ctx = genrep_explain::Context {
        model: model.clone(),
        train: &train,
        test: &test,
        record: None,
        batch_size: 16,
        cache: None,
    };
    let p = 30;
    let tests: Vec<genrep_explain::TestPoint> =
        ctx.test_points(&[0, 1, 2], genrep_explain::ExplainedScore::Margin).unwrap().into_iter().map(|t| t.0).collect();
    let opts = genrep_explain::trak::TrakOptions { dim: p, seed: 5 };
    let got = genrep_explain::trak::trak_scores(&ctx, vec![model.clone()], &tests, &opts, &mut |_, _| {}).unwrap();

    // Direct: margin gradients by autodiff, A = G^T G, (A + delta I)^-1 with a negligible delta.
    let logits = ctx.train_logits();
    let mut g = Vec::new();
    let mut q = Vec::new();
    for i in 0..train.len() {
        let row = &logits[i * 3..(i + 1) * 3];
        let y = train.labels[i];
        let e: Vec<f64> = row.iter().map(|&v| (v as f64).exp()).collect();
        let others: f64 = e.iter().sum::<f64>() - e[y];
        let w: Vec<f32> = (0..3).map(|k| if k == y { 1.0 } else { (-e[k] / others) as f32 }).collect();
        g.push(
            genrep_explain::grads::weighted_output_grad(&model, &train, i, &w)
                .iter()
                .map(|&v| v as f64)
                .collect::<Vec<f64>>(),
        );
        q.push(1.0 - e[y] / e.iter().sum::<f64>());
    }
    let mut a = vec![0.0; p * p];
    for gi in &g {
        for r in 0..p {
            for c in 0..p {
                a[r * p + c] += gi[r] * gi[c];
            }
        }
    }
    let delta = 1e-9 * (0..p).map(|j| a[j * p + j]).sum::<f64>() / p as f64;
    (0..p).for_each(|j| a[j * p + j] += delta);
    cholesky(&mut a, p).unwrap();
    for (t, point) in tests.iter().enumerate() {
        let gt: Vec<f64> = genrep_explain::grads::weighted_output_grad(&model, &test, point.index, &point.weights(3))
            .iter()
            .map(|&v| v as f64)
            .collect();
        let u = cholesky_solve(&a, p, &gt);
        let want: Vec<f64> =
            g.iter().zip(&q).map(|(gi, qi)| qi * gi.iter().zip(&u).map(|(x, y)| x * y).sum::<f64>()).collect();
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (i, (x, y)) in got[t].iter().zip(&want).enumerate() {
            assert!((x - y).abs() <= 2e-3 * scale, "test {t}, train {i}: trak {x} vs direct {y} (scale {scale})");
        }
    }
    // Seeded: the same seed repeats; a smaller projection depends on it.
    let small = |seed| {
        let o = genrep_explain::trak::TrakOptions { dim: 8, seed };
        genrep_explain::trak::trak_scores(&ctx, vec![model.clone()], &tests, &o, &mut |_, _| {}).unwrap()
    };
    assert_eq!(small(1), small(1));
    assert_ne!(small(1), small(2));
    // Through the method name, on the test split.
    let method: genrep_explain::Method = "trak:d=30".parse().unwrap();
    let o = genrep_explain::ExplainOptions { seed: 5, ..Default::default() };
    let (attrs, _) =
        genrep_explain::explain(&ctx, &method, "trak:d=30", &[0, 1, 2], &o, None, false, &mut |_, _| {}).unwrap();
    assert_eq!(attrs[1].scores, got[1]);
    assert!("trak:d=0".parse::<genrep_explain::Method>().is_err());
    assert!("trak:dim=4".parse::<genrep_explain::Method>().is_err());
}

/// A user's kernel: `K_{c',c}(x_i, x) = exp(-gamma |x_i - x|^2) delta_{c'c}` on raw pixels.
struct PixelRbf<'a> {
    train: &'a Examples,
    test: &'a Examples,
    gamma: f64,
}

impl genrep_explain::Kernel for PixelRbf<'_> {
    fn name(&self) -> String {
        "pixel-rbf".into()
    }
    fn contract(
        &self,
        alpha: &[f64],
        tests: &[genrep_explain::TestPoint],
        _progress: &mut dyn FnMut(usize, usize),
    ) -> genrep_explain::Result<Vec<Vec<f64>>> {
        let (Inputs::Images { data: a, .. }, Inputs::Images { data: b, .. }) = (&self.train.inputs, &self.test.inputs)
        else {
            unreachable!("images")
        };
        let s = self.train.input_size();
        let c = alpha.len() / self.train.len();
        Ok(tests
            .iter()
            .map(|t| {
                let w = t.weights(c);
                let x = &b[t.index * s..(t.index + 1) * s];
                (0..self.train.len())
                    .map(|i| {
                        let d2: f64 = a[i * s..(i + 1) * s].iter().zip(x).map(|(u, v)| ((u - v) as f64).powi(2)).sum();
                        let k = (-self.gamma * d2).exp();
                        (0..c).map(|j| alpha[i * c + j] * w[j] as f64).sum::<f64>() * k
                    })
                    .collect()
            })
            .collect())
    }
}

/// A user's importance: every training example weighs its own label by 1.
struct OwnLabel;

impl genrep_explain::GlobalImportance for OwnLabel {
    fn name(&self) -> String {
        "own-label".into()
    }
    fn alpha(&self, x: &genrep_explain::ImportanceInputs<'_>) -> genrep_explain::Result<Vec<f64>> {
        let c = x.num_classes;
        Ok(x.labels.iter().flat_map(|&y| (0..c).map(move |k| if k == y { 1.0 } else { 0.0 })).collect())
    }
}

#[test]
fn user_kernels_and_importances_contract_like_the_built_in_ones() {
    use genrep_explain::{Explainer, Target};
    let (train, test) = (images(15, 3, 2, 91), images(3, 3, 2, 92));
    let model = logreg(9, 2, 93);
    let explainer = Explainer::new(model.clone(), &train).unwrap();
    // A built-in importance and kernel through the traits equal the named method.
    let ll = LastLayerKernel::new(&model, &train, &test, 8);
    let via_traits =
        explainer.explain_with(&genrep_explain::TargetDerivative, &ll, &test, &[0, 2], Target::Predicted).unwrap();
    let (named, _) = explainer.explain("target:ll", &test, &[0, 2], Target::Predicted).unwrap();
    for (a, b) in via_traits.iter().zip(&named) {
        assert_eq!((a.explained_class, a.score), (b.explained_class, b.score));
        for (x, y) in a.scores.iter().zip(&b.scores) {
            assert!((x - y).abs() <= 1e-9 * x.abs().max(1.0), "{x} vs {y}");
        }
    }
    // A user's importance with a user's kernel: phi_i = w_{y_i} exp(-gamma |x_i - x|^2).
    let rbf = PixelRbf { train: &train, test: &test, gamma: 0.5 };
    let got = explainer.explain_with(&OwnLabel, &rbf, &test, &[1], Target::Class(0)).unwrap();
    assert_eq!(got[0].method, "own-label:pixel-rbf");
    let Inputs::Images { data: a, .. } = &train.inputs else { unreachable!() };
    let Inputs::Images { data: b, .. } = &test.inputs else { unreachable!() };
    let w = got[0].versus.map(|v| (0, v)).unwrap();
    for i in 0..train.len() {
        let d2: f64 = a[i * 9..(i + 1) * 9].iter().zip(&b[9..18]).map(|(u, v)| ((u - v) as f64).powi(2)).sum();
        let wy = if train.labels[i] == w.0 {
            1.0
        } else if train.labels[i] == w.1 {
            -1.0
        } else {
            0.0
        };
        assert!((got[0].scores[i] - wy * (-0.5 * d2).exp()).abs() < 1e-12, "train {i}");
    }
    // Tracking needs a record: a clear error without one.
    let e = explainer.explain_with(&genrep_explain::Tracking, &rbf, &test, &[1], Target::Predicted).unwrap_err();
    assert!(e.to_string().contains("training record"), "{e}");
}

/// A one-hidden-layer network with dropout after the hidden ReLU (dattri's MLP has two).
#[derive(Module, Debug)]
struct DropNet {
    hidden: Linear,
    drop: burn::nn::Dropout,
    head: Linear,
}

impl Classifier for DropNet {
    fn features(&self, x: &Input) -> Tensor<2> {
        let Input::Images(t) = x else { panic!("images only") };
        self.drop.forward(burn::tensor::activation::relu(self.hidden.forward(t.clone().flatten(1, 3))))
    }
    fn head(&self) -> &Linear {
        &self.head
    }
    fn architecture(&self) -> String {
        format!("dropnet(p={})", self.drop.prob)
    }
}

#[test]
fn a_model_with_dropout_is_explained_as_the_deterministic_network_it_computes_at_inference() {
    let (train, test) = (images(16, 3, 2, 41), images(3, 3, 2, 42));
    let model = try_init_seeded(&Device::flex(), 43, |dev| {
        Ok::<_, ()>(DropNet {
            hidden: LinearConfig::new(9, 6).init(dev),
            drop: burn::nn::DropoutConfig::new(0.5).init(),
            head: LinearConfig::new(6, 2).init(dev),
        })
    })
    .unwrap();
    // Oracle: the same weights without dropout (p = 0 is the identity in training and inference).
    let twin = DropNet {
        hidden: model.hidden.clone(),
        drop: burn::nn::DropoutConfig::new(0.0).init(),
        head: model.head.clone(),
    };
    // The raw model on its autodiff device thins its hidden layer at random ...
    let x = Input::gather(&test, &[0, 1, 2], &Device::flex().autodiff());
    let thinned = model.features(&x).into_data();
    assert_ne!(thinned, twin.features(&x).into_data(), "dropout 0.5 left 18 activations untouched");
    // ... its explaining mode does not, and still has gradients.
    let eval = genrep_models::explaining(model.clone());
    assert_eq!(eval.features(&x).into_data(), twin.features(&x).into_data());
    let grads = eval.logits(&x).sum().backward();
    assert!(eval.head.weight.grad(&grads).is_some(), "explaining mode lost the parameters' gradients");

    let idx = [0usize, 1, 2];
    for method in ["target:ntk-final", "influence", "trak:d=32"] {
        let got = genrep_explain::Explainer::new(model.clone(), &train)
            .unwrap()
            .explain(method, &test, &idx, genrep_explain::Target::Predicted)
            .unwrap()
            .0;
        let want = genrep_explain::Explainer::new(twin.clone(), &train)
            .unwrap()
            .explain(method, &test, &idx, genrep_explain::Target::Predicted)
            .unwrap()
            .0;
        for (g, w) in got.iter().zip(&want) {
            for (a, b) in g.scores.iter().zip(&w.scores) {
                assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{method}: {a} vs {b} (without dropout)");
            }
        }
    }
}

/// Logistic regression on feature vectors ([`Inputs::Features`]: tabular data).
#[derive(Module, Debug)]
struct TabularLogReg {
    head: Linear,
}

impl Classifier for TabularLogReg {
    fn features(&self, x: &Input) -> Tensor<2> {
        let Input::Features(t) = x else { panic!("feature vectors only, got {}", x.kind()) };
        t.clone()
    }
    fn head(&self) -> &Linear {
        &self.head
    }
    fn architecture(&self) -> String {
        "tabular-logreg".into()
    }
}

/// A data kind genrep has no loader or model for (rows of numbers) trains with `fit` and is
/// explained by the `Explainer`, with no change in genrep: oracles are the kernel identity of
/// logistic regression (NTK = last-layer kernel) and the representer identity
/// (sum_i phi_i = the refit head's score).
#[test]
fn feature_vectors_train_and_are_explained_like_any_other_input() {
    let mut r = lcg(51);
    let rows: Vec<Vec<f32>> = (0..60).map(|_| (0..5).map(|_| r()).collect()).collect();
    let labels: Vec<usize> = rows.iter().map(|x| usize::from(x[0] - 0.5 * x[1] + 0.1 * x[4] > 0.0)).collect();
    let train = Examples::from_features(&rows[..48], labels[..48].to_vec()).unwrap();
    let test = Examples::from_features(&rows[48..], labels[48..].to_vec()).unwrap();
    assert!(ModelSpec::default_for(&train, 2).unwrap_err().to_string().contains("feature vectors"));

    let init =
        try_init_seeded(&Device::flex(), 52, |d| Ok::<_, ()>(TabularLogReg { head: LinearConfig::new(5, 2).init(d) }))
            .unwrap();
    let cfg = TrainConfig { epochs: 30, batch_size: 8, lr: 0.5, ..TrainConfig::default() };
    let model = fit(init, &train, None, &cfg, &FitOptions::new(Device::flex()), &mut []).unwrap().model;
    let logits = genrep_trainer::predict_logits(&model, &train, 16, &Device::flex());
    let hits = (0..train.len())
        .filter(|&i| genrep_trainer::loss::argmax(&logits[i * 2..i * 2 + 2]) == train.labels[i])
        .count();
    assert!(hits >= 40, "a linearly separable rule: {hits}/48 after training");

    let explainer = genrep_explain::Explainer::new(model, &train).unwrap();
    let idx: Vec<usize> = (0..test.len()).collect();
    let ll = explainer.explain("target:ll", &test, &idx, genrep_explain::Target::Predicted).unwrap().0;
    let ntk = explainer.explain("target:ntk-final", &test, &idx, genrep_explain::Target::Predicted).unwrap().0;
    for (a, b) in ll.iter().zip(&ntk) {
        for (x, y) in a.scores.iter().zip(&b.scores) {
            assert!((x - y).abs() < 1e-4 * (1.0 + x.abs()), "ll {x} vs ntk {y}");
        }
    }
    for a in explainer.explain("representer", &test, &idx, genrep_explain::Target::Predicted).unwrap().0 {
        assert!(
            (a.total() - a.score).abs() < 1e-3 * (1.0 + a.score.abs()),
            "sum phi {} vs s(x) {}",
            a.total(),
            a.score
        );
    }
}

/// `fit` refuses a model that cannot read the split's input kind with an error, not a panic
/// in the middle of training.
#[test]
fn fit_refuses_a_model_that_cannot_read_the_inputs() {
    let train = Examples::from_features(&[vec![0.1, 0.2, 0.3, 0.4], vec![0.4, 0.3, 0.2, 0.1]], vec![0, 1]).unwrap();
    let images_only = logreg(4, 2, 61);
    let cfg = TrainConfig { epochs: 1, batch_size: 2, ..TrainConfig::default() };
    let Err(err) = fit(images_only, &train, None, &cfg, &FitOptions::new(Device::flex()), &mut []) else {
        panic!("a model of images cannot read feature vectors")
    };
    let err = err.to_string();
    assert!(err.contains("logreg cannot read this split's feature vectors") && err.contains("images only"), "{err}");
}

#[test]
fn sensitivity_maps_are_the_gradient_of_the_explained_representer_value() {
    // The map of training image i is checked against a central difference of phi(x_i -> x_t)
    // itself, as the representer explanation computes it (refit, kernel contraction), along a
    // random pixel direction of the test image, for the logit and for the margin score (the
    // margin's weight is alpha_ic - alpha_ir, twice alpha_ic on a binary softmax).
    let (train, test) = (images(12, 8, 2, 61), images(3, 8, 2, 62));
    let spec = tiny_cnn(8, 2);
    let model = try_init_seeded(&Device::flex(), 8, |d| spec.init(d)).unwrap();
    let t = 1;
    let mut r = lcg(63);
    let v: Vec<f32> = (0..64).map(|_| r()).collect();
    let moved = |eps: f32| with_image_moved(&test, t, &v, eps);
    for score in [ExplainedScore::Logit, ExplainedScore::Margin] {
        let opts = ExplainOptions { last_layer_l2: 1e-2, score, ..ExplainOptions::default() };
        let maps_at = |ex: &Examples, picks: Option<&[usize]>| {
            let ctx =
                Context { model: model.clone(), train: &train, test: ex, record: None, batch_size: 8, cache: None };
            genrep_explain::sensitivity::representer_sensitivity_maps(&ctx, t, picks, &opts).unwrap()
        };
        let (attr, maps) = maps_at(&test, None);
        assert_eq!(maps.len(), 2, "the top proponent and the top opponent");
        assert!(maps[0].value > 0.0 && maps[1].value < 0.0, "{score:?}");
        for m in &maps {
            assert_eq!(m.value, attr.scores[m.train_index]);
            let pick = [m.train_index];
            let eps = 1e-3f32;
            let plus = maps_at(&moved(eps), Some(&pick)).1[0].value;
            let minus = maps_at(&moved(-eps), Some(&pick)).1[0].value;
            let fd = (plus - minus) / (2.0 * eps as f64);
            let an = dot(&m.gradient, &v);
            assert!(rel(fd, an) < 2e-3, "{score:?}, train #{}: finite difference {fd} vs map {an}", m.train_index);
        }
    }
    let ctx = Context { model, train: &train, test: &test, record: None, batch_size: 8, cache: None };
    let opts = ExplainOptions::default();
    assert!(genrep_explain::sensitivity::representer_sensitivity_maps(&ctx, 3, None, &opts).is_err());
    assert!(genrep_explain::sensitivity::representer_sensitivity_maps(&ctx, 0, Some(&[12]), &opts).is_err());
}
