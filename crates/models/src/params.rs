//! Flat views of a model's parameters and gradients, in the module's visiting order.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;
use burn::tensor::Gradients;

/// The values of a tensor's data as f32, any float dtype cast to f32.
///
/// # Panics
/// Only if the backend cannot read the tensor's storage, a device failure that burn's own
/// `into_data` reports by panicking too; never an empty or truncated vector.
pub fn f32_values(data: burn::tensor::TensorData) -> Vec<f32> {
    match data.try_into_vec_as::<f32>() {
        Ok(v) => v,
        Err(e) => panic!("reading a tensor's values failed: {e:?}"),
    }
}

/// The device a classifier's parameters live on (read from its head, which every
/// [`crate::Classifier`] has, so there is no fallback device to pick silently).
pub fn device_of<M: crate::Classifier>(model: &M) -> Device {
    model.head().weight.val().device()
}

struct Values(Vec<f32>);

impl ModuleVisitor for Values {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        self.0.extend(crate::params::f32_values(p.val().into_data()));
    }
}

struct Grads<'a> {
    grads: &'a Gradients,
    out: Vec<f32>,
}

impl ModuleVisitor for Grads<'_> {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        let v = p.val();
        match v.grad(self.grads) {
            Some(g) => self.out.extend(crate::params::f32_values(g.into_data())),
            None => self.out.extend(std::iter::repeat_n(0.0, v.shape().num_elements())),
        }
    }
}

struct Shift<'a> {
    delta: &'a [f32],
    scale: f32,
    offset: usize,
}

impl ModuleMapper for Shift<'_> {
    fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let n = p.lazy_shape().num_elements();
        let start = self.offset;
        self.offset += n;
        let (delta, scale) = (self.delta, self.scale);
        p.map(|t| {
            let shape = t.shape();
            let device = t.device();
            let d: Vec<f32> = delta[start..start + n].iter().map(|v| v * scale).collect();
            let d = Tensor::<D>::from_data(TensorData::new(d, shape), &device.clone().inner());
            // Build the shifted value off the graph, then make it a fresh leaf parameter.
            let ad = t.is_autodiff();
            let v = t.inner() + d;
            if ad {
                v.autodiff().require_grad()
            } else {
                v
            }
        })
    }
}

struct Assign<'a> {
    values: &'a [f32],
    offset: usize,
}

impl ModuleMapper for Assign<'_> {
    fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let n = p.lazy_shape().num_elements();
        let start = self.offset;
        self.offset += n;
        let values = &self.values[start..start + n];
        p.map(|t| {
            let shape = t.shape();
            let device = t.device();
            let v = Tensor::<D>::from_data(TensorData::new(values.to_vec(), shape), &device.clone().inner());
            if t.is_autodiff() {
                v.autodiff().require_grad()
            } else {
                v
            }
        })
    }
}

/// `model` with every float parameter replaced by the next values of `values` (visiting order,
/// as [`flat_values`] lists them), each a fresh leaf on the parameter's device.
///
/// # Panics
/// If `values` is shorter than the model's parameter count.
pub fn assign_flat<M: Module>(model: M, values: &[f32]) -> M {
    let mut a = Assign { values, offset: 0 };
    model.map(&mut a)
}

/// All float parameters of `model`, flattened in visiting order.
pub fn flat_values<M: Module>(model: &M) -> Vec<f32> {
    let mut v = Values(Vec::new());
    model.visit(&mut v);
    v.0
}

/// The gradient of every float parameter of `model` in `grads`, flattened in visiting order
/// (zeros for parameters the loss does not touch).
pub fn flat_grads<M: Module>(model: &M, grads: &Gradients) -> Vec<f32> {
    let mut g = Grads { grads, out: Vec::new() };
    model.visit(&mut g);
    g.out
}

/// `theta + scale * delta` for a flat `delta` in visiting order (length = number of parameters).
pub fn shifted<M: Module>(model: &M, delta: &[f32], scale: f32) -> M {
    let mut m = Shift { delta, scale, offset: 0 };
    model.clone().map(&mut m)
}

/// Dot product in f64.
pub fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
}
