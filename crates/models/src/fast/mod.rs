//! Fused CPU paths for the built-in models: forward, backward and forward-mode (tangent)
//! passes written layer by layer on `genrep-kernels`, one example at a time, examples in
//! parallel.
//!
//! burn stays the framework: a model's parameters live in its burn `Module`, and
//! [`Classifier::fast_net`](crate::Classifier::fast_net) copies them into a flat vector (the
//! module's visiting order, as [`crate::params::flat_values`]) for a [`FastNet`], which the
//! trainer and the explanation kernels use when the device is the CPU. Custom architectures
//! have none and take burn's generic autodiff path, which is also the oracle these paths are
//! tested against (`tests/fast_paths.rs`: logits, every gradient, per-example gradient
//! contractions and Jacobian-vector products, to 1e-5 relative).
//!
//! Why a fused path: per example, the whole network's activations fit in one core's L2 cache,
//! every layer's buffers are reused across examples (no allocator churn), the ReLU + max-pool
//! backward is an index scatter, and the text model's backward exploits the one position per
//! channel that the max over time keeps. Results are deterministic: examples are split into
//! fixed chunks whose partial gradients are summed in chunk order, whatever the thread count.

mod text;
mod vision;

pub use text::TextFast;
pub use vision::VisionFast;

use genrep_data::Examples;
use rayon::prelude::*;
use std::any::Any;
use std::ops::Range;
use std::sync::Mutex;

/// Examples per parallel work item (fixed, so results do not depend on the thread count).
pub const CHUNK: usize = 8;

/// A table of parameter rows addressed by index (an embedding): rows of `width` parameters
/// starting at parameter `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table {
    /// First parameter of the table.
    pub offset: usize,
    /// Number of rows.
    pub rows: usize,
    /// Parameters per row.
    pub width: usize,
}

impl Table {
    /// The table's parameter range.
    pub fn range(&self) -> Range<usize> {
        self.offset..self.offset + self.rows * self.width
    }
}

/// Where a backward pass puts the gradient of one example.
pub trait GradSink {
    /// A slice to accumulate the gradient of parameters `offset..offset + len` into, if this
    /// sink keeps one (lets a layer write its weight gradient with one accumulating product).
    fn target(&mut self, offset: usize, len: usize) -> Option<&mut [f32]>;
    /// Adds `values` as the gradient of parameters `offset..offset + values.len()`.
    fn dense(&mut self, offset: usize, values: &[f32]);
    /// Adds `values` as the gradient of row `row` of `table`.
    fn row(&mut self, table: &Table, row: usize, values: &[f32]);
}

/// Adds a gradient block into a sink: directly if it keeps a buffer, else through `tmp`.
pub(crate) fn sink_dense_with(
    sink: &mut dyn GradSink,
    offset: usize,
    len: usize,
    tmp: &mut Vec<f32>,
    compute: impl FnOnce(&mut [f32], bool),
) {
    match sink.target(offset, len) {
        Some(t) => compute(t, true),
        None => {
            tmp.resize(len, 0.0);
            compute(&mut tmp[..len], false);
            sink.dense(offset, &tmp[..len]);
        }
    }
}

/// One model's per-example passes; [`FastNet`] runs them over batches.
pub trait ExampleNet: Send + Sync {
    /// Buffers of one example's passes, reused across the examples of a chunk.
    type Ws: Send;
    /// Fresh buffers.
    fn workspace(&self) -> Self::Ws;
    /// Flat parameters (visiting order).
    fn params(&self) -> &[f32];
    /// Mutable flat parameters.
    fn params_mut(&mut self) -> &mut [f32];
    /// Number of logits `C`.
    fn num_classes(&self) -> usize;
    /// Dimension of the penultimate features.
    fn feature_dim(&self) -> usize;
    /// The head's weights and bias in the flat vector.
    fn head_range(&self) -> Range<usize>;
    /// The embedding table, if the model has one.
    fn table(&self) -> Option<Table>;
    /// Errors (with what was expected) if `ex` does not fit the model.
    fn check_inputs(&self, ex: &Examples) -> Result<(), String>;
    /// Forward pass of example `i` of `ex`, keeping what [`ExampleNet::backward`] needs; with a
    /// parameter `tangent` also the tangent of every layer (forward mode).
    fn forward(&self, ws: &mut Self::Ws, ex: &Examples, i: usize, tangent: Option<&[f32]>);
    /// Logits of the last forward pass.
    fn logits<'a>(&self, ws: &'a Self::Ws) -> &'a [f32];
    /// Tangent of the logits of the last forward pass (`J v`).
    fn tangent_logits<'a>(&self, ws: &'a Self::Ws) -> &'a [f32];
    /// Penultimate features of the last forward pass.
    fn features<'a>(&self, ws: &'a Self::Ws) -> &'a [f32];
    /// Backward pass of the last forward pass for output weights `g` (`C`): the gradient of
    /// `g . f(x)` with respect to every parameter, into `sink`.
    fn backward(&self, ws: &mut Self::Ws, g: &[f32], sink: &mut dyn GradSink);
}

/// Output weights of a weighted-gradient pass, computed per example from its row in the batch,
/// its logits and (if a tangent was given) its logit tangent; written into the last argument.
pub type Weights<'a> = dyn Fn(usize, &[f32], &[f32], &mut [f32]) + Sync + 'a;

/// Batched exact passes of a model on the CPU (object safe; implemented for every
/// [`ExampleNet`]). Batches are examples `idx` of an [`Examples`] split.
pub trait FastNet: Send + Sync {
    /// Flat parameters (visiting order).
    fn params(&self) -> &[f32];
    /// Mutable flat parameters.
    fn params_mut(&mut self) -> &mut [f32];
    /// Number of logits `C`.
    fn num_classes(&self) -> usize;
    /// The head's weights and bias in the flat vector.
    fn head_range(&self) -> Range<usize>;
    /// The embedding table, if any.
    fn table(&self) -> Option<Table>;
    /// Errors (with what was expected) if `ex` does not fit the model.
    fn check_inputs(&self, ex: &Examples) -> Result<(), String>;
    /// Logits, `[B, C]` row-major.
    fn logits(&self, ex: &Examples, idx: &[usize]) -> Vec<f32>;
    /// Penultimate features, `[B, d]` row-major.
    fn features(&self, ex: &Examples, idx: &[usize]) -> Vec<f32>;
    /// Logits and their tangent `J_i v` for the parameter tangent `v`, both `[B, C]`: the exact
    /// Jacobian-vector product, by forward-mode differentiation.
    fn jvp(&self, ex: &Examples, idx: &[usize], v: &[f32]) -> (Vec<f32>, Vec<f32>);
    /// `grad += d/dtheta sum_i w_i . f(x_i)`, where the weights `w_i` are computed from each
    /// example's logits (and logit tangent for `tangent = Some(v)`) by `weights`; returns the
    /// logits `[B, C]`.
    fn weighted_grad(
        &self,
        ex: &Examples,
        idx: &[usize],
        tangent: Option<&[f32]>,
        weights: &Weights<'_>,
        grad: &mut [f32],
    ) -> Vec<f32>;
    /// `S[i, t] = < d/dtheta [ w_i . f(x_i) ], v_t >` (`w` is `[B, C]`), `[B, T]` row-major,
    /// without forming the per-example gradients of table parameters.
    fn per_example_dots(&self, ex: &Examples, idx: &[usize], w: &[f32], vs: &[&[f32]]) -> Vec<f64>;
}

/// Accumulates the gradients of a chunk: table rows as a list, everything else densely.
struct ChunkAcc {
    table: Option<Table>,
    dense: Vec<f32>,
    rows: Vec<u32>,
    row_values: Vec<f32>,
}

impl ChunkAcc {
    /// A zeroed accumulator for `p` parameters (from the pool when one is there).
    fn new(p: usize, table: Option<Table>) -> Self {
        let len = p - table.map_or(0, |t| t.rows * t.width);
        let mut acc = take(|| Self { table, dense: Vec::new(), rows: Vec::new(), row_values: Vec::new() });
        acc.table = table;
        acc.dense.clear();
        acc.dense.resize(len, 0.0);
        acc.rows.clear();
        acc.row_values.clear();
        acc
    }

    /// Index in `dense` of parameter `offset` (which must lie outside the table).
    fn map(&self, offset: usize, len: usize) -> usize {
        match self.table {
            Some(t) if offset >= t.offset => {
                assert!(offset >= t.range().end, "dense gradient inside the table");
                offset - t.rows * t.width
            }
            Some(t) => {
                assert!(offset + len <= t.offset, "dense gradient overlaps the table");
                offset
            }
            None => offset,
        }
    }

    /// Adds this chunk's gradient into the full-length `grad`.
    fn add_into(&self, grad: &mut [f32]) {
        match self.table {
            None => grad.iter_mut().zip(&self.dense).for_each(|(g, d)| *g += d),
            Some(t) => {
                let r = t.range();
                grad[..r.start].iter_mut().zip(&self.dense[..r.start]).for_each(|(g, d)| *g += d);
                grad[r.end..].iter_mut().zip(&self.dense[r.start..]).for_each(|(g, d)| *g += d);
                for (k, &row) in self.rows.iter().enumerate() {
                    let dst = &mut grad[t.offset + row as usize * t.width..][..t.width];
                    dst.iter_mut().zip(&self.row_values[k * t.width..(k + 1) * t.width]).for_each(|(g, d)| *g += d);
                }
            }
        }
    }
}

impl GradSink for ChunkAcc {
    fn target(&mut self, offset: usize, len: usize) -> Option<&mut [f32]> {
        let at = self.map(offset, len);
        Some(&mut self.dense[at..at + len])
    }

    fn dense(&mut self, offset: usize, values: &[f32]) {
        let at = self.map(offset, values.len());
        self.dense[at..at + values.len()].iter_mut().zip(values).for_each(|(g, v)| *g += v);
    }

    fn row(&mut self, _table: &Table, row: usize, values: &[f32]) {
        self.rows.push(row as u32);
        self.row_values.extend_from_slice(values);
    }
}

/// `sum_j a_j b_j` accumulated in f64 with independent partial sums (vectorisable).
pub fn dot_f64(a: &[f32], b: &[f32]) -> f64 {
    let mut acc = [0.0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| *x as f64 * *y as f64).sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..4 {
            acc[l] += x[l] as f64 * y[l] as f64;
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// Contracts one example's gradient with fixed vectors as it is produced.
struct Dots<'a> {
    vs: &'a [&'a [f32]],
    out: Vec<f64>,
}

impl GradSink for Dots<'_> {
    fn target(&mut self, _: usize, _: usize) -> Option<&mut [f32]> {
        None
    }

    fn dense(&mut self, offset: usize, values: &[f32]) {
        for (o, v) in self.out.iter_mut().zip(self.vs) {
            *o += dot_f64(values, &v[offset..offset + values.len()]);
        }
    }

    fn row(&mut self, table: &Table, row: usize, values: &[f32]) {
        let at = table.offset + row * table.width;
        for (o, v) in self.out.iter_mut().zip(self.vs) {
            *o += dot_f64(values, &v[at..at + values.len()]);
        }
    }
}

/// Buffers kept between calls (workspaces, gradient accumulators), by type: allocating them
/// afresh for every batch costs page faults that showed up as 6% of a training step.
static POOL: Mutex<Vec<Box<dyn Any + Send>>> = Mutex::new(Vec::new());

/// A pooled value of type `T`, or `make()`.
fn take<T: Any + Send>(make: impl FnOnce() -> T) -> T {
    let mut pool = POOL.lock().unwrap_or_else(|p| p.into_inner());
    match pool.iter().position(|b| b.is::<T>()) {
        Some(k) => *pool.swap_remove(k).downcast::<T>().expect("checked type"),
        None => {
            drop(pool);
            make()
        }
    }
}

/// Returns a value to the pool (the pool keeps at most 64 buffers).
fn give<T: Any + Send>(value: T) {
    let mut pool = POOL.lock().unwrap_or_else(|p| p.into_inner());
    if pool.len() < 64 {
        pool.push(Box::new(value));
    }
}

/// Runs `f(ws, position in idx, example index)` over `idx` in fixed chunks, chunks in parallel,
/// and returns the per-chunk results in order.
fn map_chunks<N: ExampleNet, R: Send>(
    net: &N,
    idx: &[usize],
    f: impl Fn(&mut N::Ws, usize, usize, &mut R) + Sync,
    init: impl Fn() -> R + Sync,
) -> Vec<R>
where
    N::Ws: 'static,
{
    idx.par_chunks(CHUNK)
        .enumerate()
        .map(|(c, chunk)| {
            let mut ws = take(|| net.workspace());
            let mut r = init();
            for (k, &i) in chunk.iter().enumerate() {
                f(&mut ws, c * CHUNK + k, i, &mut r);
            }
            give(ws);
            r
        })
        .collect()
}

impl<N: ExampleNet> FastNet for N
where
    N::Ws: 'static,
{
    fn params(&self) -> &[f32] {
        ExampleNet::params(self)
    }

    fn params_mut(&mut self) -> &mut [f32] {
        ExampleNet::params_mut(self)
    }

    fn num_classes(&self) -> usize {
        ExampleNet::num_classes(self)
    }

    fn head_range(&self) -> Range<usize> {
        ExampleNet::head_range(self)
    }

    fn table(&self) -> Option<Table> {
        ExampleNet::table(self)
    }

    fn check_inputs(&self, ex: &Examples) -> Result<(), String> {
        ExampleNet::check_inputs(self, ex)
    }

    fn logits(&self, ex: &Examples, idx: &[usize]) -> Vec<f32> {
        let parts = map_chunks(
            self,
            idx,
            |ws, _, i, out: &mut Vec<f32>| {
                self.forward(ws, ex, i, None);
                out.extend_from_slice(ExampleNet::logits(self, ws));
            },
            Vec::new,
        );
        parts.concat()
    }

    fn features(&self, ex: &Examples, idx: &[usize]) -> Vec<f32> {
        let parts = map_chunks(
            self,
            idx,
            |ws, _, i, out: &mut Vec<f32>| {
                self.forward(ws, ex, i, None);
                out.extend_from_slice(ExampleNet::features(self, ws));
            },
            Vec::new,
        );
        parts.concat()
    }

    fn jvp(&self, ex: &Examples, idx: &[usize], v: &[f32]) -> (Vec<f32>, Vec<f32>) {
        assert_eq!(v.len(), ExampleNet::params(self).len(), "jvp: tangent length");
        let parts = map_chunks(
            self,
            idx,
            |ws, _, i, out: &mut (Vec<f32>, Vec<f32>)| {
                self.forward(ws, ex, i, Some(v));
                out.0.extend_from_slice(ExampleNet::logits(self, ws));
                out.1.extend_from_slice(self.tangent_logits(ws));
            },
            || (Vec::new(), Vec::new()),
        );
        let (mut f, mut t) = (Vec::new(), Vec::new());
        for (a, b) in parts {
            f.extend(a);
            t.extend(b);
        }
        (f, t)
    }

    fn weighted_grad(
        &self,
        ex: &Examples,
        idx: &[usize],
        tangent: Option<&[f32]>,
        weights: &Weights<'_>,
        grad: &mut [f32],
    ) -> Vec<f32> {
        let p = ExampleNet::params(self).len();
        assert_eq!(grad.len(), p, "weighted_grad: gradient length");
        let c = ExampleNet::num_classes(self);
        let table = ExampleNet::table(self);
        let parts = map_chunks(
            self,
            idx,
            |ws, r, i, (acc, logits): &mut (ChunkAcc, Vec<f32>)| {
                self.forward(ws, ex, i, tangent);
                let mut w = vec![0.0f32; c];
                let tl = if tangent.is_some() { self.tangent_logits(ws) } else { &[] };
                weights(r, ExampleNet::logits(self, ws), tl, &mut w);
                logits.extend_from_slice(ExampleNet::logits(self, ws));
                if w.iter().any(|&x| x != 0.0) {
                    self.backward(ws, &w, acc);
                }
            },
            || (ChunkAcc::new(p, table), Vec::new()),
        );
        let mut logits = Vec::with_capacity(idx.len() * c);
        for (acc, l) in parts {
            acc.add_into(grad);
            logits.extend_from_slice(&l);
            give(acc);
        }
        logits
    }

    fn per_example_dots(&self, ex: &Examples, idx: &[usize], w: &[f32], vs: &[&[f32]]) -> Vec<f64> {
        let c = ExampleNet::num_classes(self);
        assert_eq!(w.len(), idx.len() * c, "per_example_dots: weights shape");
        let p = ExampleNet::params(self).len();
        assert!(vs.iter().all(|v| v.len() == p), "per_example_dots: vector length");
        let parts = map_chunks(
            self,
            idx,
            |ws, r, i, out: &mut Vec<f64>| {
                let wr = &w[r * c..(r + 1) * c];
                let mut sink = Dots { vs, out: vec![0.0; vs.len()] };
                if wr.iter().any(|&x| x != 0.0) {
                    self.forward(ws, ex, i, None);
                    self.backward(ws, wr, &mut sink);
                }
                out.extend(sink.out);
            },
            Vec::new,
        );
        parts.concat()
    }
}
