//! Sensitivity maps of representer values (Yeh et al. 2018, Section 4.4): which pixels of the
//! test image make a training image a strong proponent or opponent.

use crate::error::{ExplainError, Result};
use genrep_data::Examples;
use genrep_models::{Classifier, Input};

/// The gradient of the representer value `alpha_{i,c} f_i^T f(x_t)` with respect to the pixels
/// of test image `t` (normalised input space), flattened `[C, H, W]`; `f` are the penultimate
/// features (the appended bias 1 of the last-layer kernel has zero derivative), `f_i` is held
/// fixed and `alpha_ic` is the training point's global importance for the explained class.
/// `model` must live on an autodiff device.
pub fn representer_sensitivity<M: Classifier>(
    model: &M,
    train: &Examples,
    i: usize,
    test: &Examples,
    t: usize,
    alpha_ic: f64,
) -> Result<Vec<f32>> {
    if i >= train.len() {
        return Err(ExplainError::Index { what: "train", index: i, len: train.len() });
    }
    if t >= test.len() {
        return Err(ExplainError::Index { what: "test", index: t, len: test.len() });
    }
    let device = genrep_models::params::device_of(model);
    let plain = device.clone().inner();
    let fi = model.valid().features(&Input::gather(train, &[i], &plain));
    let Input::Images(x) = Input::gather(test, &[t], &plain) else {
        return Err(ExplainError::Numeric("sensitivity maps need image inputs".into()));
    };
    let x = x.autodiff().require_grad();
    let ft = model.features(&Input::Images(x.clone()));
    let value = (ft * fi.autodiff()).sum() * alpha_ic;
    let grads = value.backward();
    let g = x.grad(&grads).ok_or_else(|| ExplainError::Numeric("no gradient reached the test image".into()))?;
    Ok(genrep_models::params::f32_values(g.into_data()))
}

/// One sensitivity map of [`representer_sensitivity_maps`].
#[derive(Debug, Clone)]
pub struct SensitivityMap {
    /// The training image whose representer value is differentiated.
    pub train_index: usize,
    /// Its representer value `phi(x_i -> x_t)` for the explained score.
    pub value: f64,
    /// The weight `w` of `f_i^T f(x_t)` in that value: `alpha_{i,c}` for the logit `f_c`,
    /// `alpha_{i,c} - alpha_{i,r}` for the margin `f_c - f_r`.
    pub weight: f64,
    /// `d phi(x_i -> x_t) / d x_t`, flattened `[C, H, W]` (normalised input space).
    pub gradient: Vec<f32>,
}

/// Representer points (Yeh et al. 2018, Eqn 2 with the refit of [`crate::representer_alpha`])
/// for test image `t` of `ctx`, and the sensitivity map (Section 4.4) of each training image in
/// `train_indices`, or, when it is `None`, of the top proponent and the top opponent. The value
/// of training image `i` for the explained score `s = f_c` (or `f_c - f_r`, per `opts.score`)
/// is `phi_i = w (f_i^T f(x_t) + 1)` with `w = alpha_{i,c}` (or `alpha_{i,c} - alpha_{i,r}`);
/// its gradient is `w d(f_i^T f(x_t))/dx_t`. Returns the explanation and the maps.
pub fn representer_sensitivity_maps<M: Classifier>(
    ctx: &crate::Context<'_, M>,
    t: usize,
    train_indices: Option<&[usize]>,
    opts: &crate::ExplainOptions,
) -> Result<(crate::Attribution, Vec<SensitivityMap>)> {
    use crate::Kernel as _;
    if t >= ctx.test.len() {
        return Err(ExplainError::Index { what: "test", index: t, len: ctx.test.len() });
    }
    let (alpha, _, report, ll) = crate::representer_alpha(ctx, opts)?;
    tracing::info!("representer refit: {} iterations, gradient norm {:.2e}", report.iterations, report.grad_norm);
    let (point, score) = ctx.test_points_for(&[t], opts.score, opts.target)?[0];
    let scores = ll.contract(&alpha, &[point], &mut |_, _| {})?;
    let attr = crate::method::attributions("representer", &[point], scores, vec![score])?.remove(0);
    let picks: Vec<usize> = match train_indices {
        Some(ix) => ix.to_vec(),
        None => [crate::Polarity::Proponents, crate::Polarity::Opponents]
            .into_iter()
            .filter_map(|p| attr.top_k(1, p).first().map(|r| r.index))
            .collect(),
    };
    let c = ctx.model.num_classes();
    let mut maps = Vec::with_capacity(picks.len());
    for i in picks {
        if i >= ctx.train.len() {
            return Err(ExplainError::Index { what: "train", index: i, len: ctx.train.len() });
        }
        let weight = alpha[i * c + point.class] - point.versus.map_or(0.0, |r| alpha[i * c + r]);
        let gradient = representer_sensitivity(&ctx.model, ctx.train, i, ctx.test, t, weight)?;
        maps.push(SensitivityMap { train_index: i, value: attr.scores[i], weight, gradient });
    }
    Ok((attr, maps))
}
