//! Oracles for the fused CPU paths (`genrep_models::fast`): every quantity against burn's
//! generic autodiff on the same weights and inputs, to 1e-5 of the largest magnitude.
//!
//! - logits and penultimate features against the burn forward pass;
//! - the weighted gradient `d/dtheta sum_i w_i . f(x_i)` against one burn backward pass;
//! - per-example contractions `< d/dtheta [w_i . f(x_i)], v_t >` against batch-1 burn gradients;
//! - Jacobian-vector products `J_i v` against explicit per-example Jacobians (one burn backward
//!   pass per output).

use burn::prelude::*;
use genrep_data::{Examples, Inputs};
use genrep_models::params::{dot, flat_grads, flat_values};
use genrep_models::{Classifier, Input, TextCnnConfig, VisionCnnConfig};

fn images(n: usize, c: usize, h: usize, w: usize, seed: u64) -> Examples {
    let data: Vec<f32> =
        (0..n * c * h * w).map(|i| (((i as u64 * 7919 + seed * 104_729) % 255) as f32 / 255.0 - 0.4) * 2.0).collect();
    Examples {
        inputs: Inputs::Images { channels: c, height: h, width: w, data, mean: vec![0.0; c], std: vec![1.0; c] },
        labels: (0..n).map(|i| i % 2).collect(),
        source_index: (0..n).collect(),
        texts: None,
    }
}

/// Token sequences with a padded tail of `[PAD]` = 0 (repeated tokens, ties in the max over time).
fn tokens(n: usize, len: usize, vocab: usize) -> Examples {
    let mut ids = Vec::new();
    for i in 0..n {
        let real = 3 + (i * 5) % (len - 2);
        for t in 0..len {
            ids.push(if t < real { (1 + (i * 31 + t * 17) % (vocab - 1)) as u32 } else { 0 });
        }
    }
    Examples {
        inputs: Inputs::Tokens { seq_len: len, ids, vocab_size: vocab },
        labels: (0..n).map(|i| i % 2).collect(),
        source_index: (0..n).collect(),
        texts: None,
    }
}

fn pseudo(n: usize, seed: f32) -> Vec<f32> {
    (0..n).map(|i| ((i as f32 + 1.0) * seed).sin()).collect()
}

fn assert_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-12);
    let err = got.iter().zip(want).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        err <= tol * scale,
        "{what}: largest difference {err:.3e} = {:.3e} of the largest value {scale:.3e}",
        err / scale
    );
}

fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// Runs every oracle for one model and split.
fn check_all<M: Classifier>(model: &M, ex: &Examples, label: &str) {
    let device = model.devices()[0].clone();
    let plain = device.clone().inner();
    let fast = model.fast_net().expect("built-in models have a fast path");
    fast.check_inputs(ex).unwrap();
    let n = ex.len();
    let c = model.num_classes();
    let idx: Vec<usize> = (0..n).collect();
    let p = fast.params().len();
    assert_eq!(fast.params(), flat_values(model).as_slice(), "{label}: flat parameters");

    // Logits and features.
    let x = Input::all(ex, &plain);
    let want: Vec<f32> = model.valid().logits(&Input::all(ex, &plain)).into_data().try_to_vec::<f32>().unwrap();
    assert_close(&format!("{label} logits"), &f64s(&fast.logits(ex, &idx)), &f64s(&want), 1e-5);
    let want: Vec<f32> = model.valid().features(&x).into_data().try_to_vec::<f32>().unwrap();
    assert_close(&format!("{label} features"), &f64s(&fast.features(ex, &idx)), &f64s(&want), 1e-5);

    // Weighted gradient of the whole batch.
    let w = pseudo(n * c, 0.77);
    let logits = model.logits(&Input::all(ex, &device.clone().inner()));
    let wt = Tensor::<2>::from_data(TensorData::new(w.clone(), [n, c]), &plain);
    let grads = (logits * wt).sum().backward();
    let want = flat_grads(model, &grads);
    let mut got = vec![0.0f32; p];
    let ww = w.clone();
    fast.weighted_grad(
        ex,
        &idx,
        None,
        &|r, _, _, out: &mut [f32]| out.copy_from_slice(&ww[r * c..(r + 1) * c]),
        &mut got,
    );
    assert_close(&format!("{label} weighted gradient"), &f64s(&got), &f64s(&want), 1e-5);

    // Per-example gradients, one burn backward pass each.
    let per_example: Vec<Vec<f32>> = (0..n)
        .map(|i| {
            let xi = Input::gather(ex, &[i], &plain);
            let li = model.logits(&xi);
            let wi = Tensor::<2>::from_data(TensorData::new(w[i * c..(i + 1) * c].to_vec(), [1, c]), &plain);
            flat_grads(model, &(li * wi).sum().backward())
        })
        .collect();
    let vs: Vec<Vec<f32>> = (0..3).map(|t| pseudo(p, 0.31 + t as f32)).collect();
    let vrefs: Vec<&[f32]> = vs.iter().map(|v| v.as_slice()).collect();
    let got = fast.per_example_dots(ex, &idx, &w, &vrefs);
    let want: Vec<f64> = per_example.iter().flat_map(|g| vs.iter().map(move |v| dot(g, v))).collect();
    assert_close(&format!("{label} per-example dots"), &got, &want, 1e-5);

    // Jacobian-vector products against explicit Jacobians.
    let v = &vs[0];
    let (f0, tangent) = fast.jvp(ex, &idx, v);
    assert_close(&format!("{label} jvp primal"), &f64s(&f0), &f64s(&fast.logits(ex, &idx)), 1e-6);
    let mut want = Vec::new();
    for i in 0..n {
        let xi = Input::gather(ex, &[i], &plain);
        for k in 0..c {
            let mut e = vec![0.0f32; c];
            e[k] = 1.0;
            let li = model.logits(&xi);
            let et = Tensor::<2>::from_data(TensorData::new(e, [1, c]), &plain);
            want.push(dot(&flat_grads(model, &(li * et).sum().backward()), v));
        }
    }
    assert_close(&format!("{label} jvp"), &f64s(&tangent), &want, 1e-5);

    // The tangent-weighted gradient (what a Gauss-Newton product uses) sees J v per example.
    let mut g2 = vec![0.0f32; p];
    let jv = tangent.clone();
    fast.weighted_grad(
        ex,
        &idx,
        Some(v),
        &|r, _, t, out: &mut [f32]| {
            for k in 0..out.len() {
                assert!((t[k] - jv[r * c + k]).abs() <= 1e-6 * jv[r * c + k].abs().max(1.0));
                out[k] = t[k];
            }
        },
        &mut g2,
    );
}

#[test]
fn vision_fast_path_matches_burn_autodiff() {
    for (cfg, seed) in [
        (VisionCnnConfig { in_channels: 1, height: 8, width: 12, channels: [3, 4], kernel: 5, num_classes: 2 }, 1),
        (VisionCnnConfig { in_channels: 3, height: 8, width: 8, channels: [4, 5], kernel: 3, num_classes: 3 }, 2),
    ] {
        let device = Device::flex().autodiff();
        device.seed(seed);
        let model = cfg.init(&device).unwrap();
        check_all(&model, &images(11, cfg.in_channels, cfg.height, cfg.width, seed), &format!("vision {cfg:?}"));
    }
}

#[test]
fn text_fast_path_matches_burn_autodiff() {
    for (cfg, len, seed) in [
        (
            TextCnnConfig { vocab_size: 40, embed_dim: 6, hidden: 7, kernel: 5, num_classes: 2, embed_init_std: None },
            12,
            3,
        ),
        (
            TextCnnConfig { vocab_size: 25, embed_dim: 4, hidden: 5, kernel: 3, num_classes: 3, embed_init_std: None },
            9,
            4,
        ),
    ] {
        let device = Device::flex().autodiff();
        device.seed(seed);
        let model = cfg.init(&device).unwrap();
        check_all(&model, &tokens(10, len, cfg.vocab_size), &format!("text {cfg:?}"));
    }
}

#[test]
fn fast_path_refuses_inputs_of_another_shape() {
    let cfg = VisionCnnConfig::new(1, 8, 8, 2);
    let model = cfg.init(&Device::flex()).unwrap();
    let fast = model.fast_net().unwrap();
    let err = fast.check_inputs(&images(2, 3, 8, 8, 0)).unwrap_err();
    assert!(err.contains("1x8x8") && err.contains("3x8x8"), "{err}");
    assert!(fast.check_inputs(&tokens(2, 5, 10)).unwrap_err().contains("token"));
    let text =
        TextCnnConfig { vocab_size: 5, embed_dim: 2, hidden: 2, kernel: 3, num_classes: 2, embed_init_std: None }
            .init(&Device::flex())
            .unwrap();
    let err = text.fast_net().unwrap().check_inputs(&tokens(2, 6, 10)).unwrap_err();
    assert!(err.contains("below 5"), "{err}");
}

#[test]
fn fast_results_do_not_depend_on_batch_split_or_thread_count() {
    let cfg = VisionCnnConfig { in_channels: 1, height: 8, width: 8, channels: [3, 4], kernel: 5, num_classes: 2 };
    let model = cfg.init(&Device::flex()).unwrap();
    let fast = model.fast_net().unwrap();
    let ex = images(37, 1, 8, 8, 5);
    let idx: Vec<usize> = (0..37).collect();
    let w = |_: usize, l: &[f32], _: &[f32], out: &mut [f32]| out.copy_from_slice(l);
    let run = || {
        let mut g = vec![0.0f32; fast.params().len()];
        fast.weighted_grad(&ex, &idx, None, &w, &mut g);
        g
    };
    let a = run();
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let b = one.install(run);
    assert_eq!(a, b, "bit-identical gradients with 1 thread and the default pool");
}
