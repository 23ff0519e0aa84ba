//! The fused CPU path of [`VisionCnn`](crate::VisionCnn).
//!
//! Per example `x` (`[c0, H, W]`): `z1 = W1 U(x) + b1`, `h1 = relu(maxpool2(z1))`,
//! `z2 = W2 U(h1) + b2`, `phi = relu(maxpool2(z2))` (flattened channel-major, as burn's
//! `flatten(1, 3)`), `f = Wh^T phi + bh` (burn's `Linear` stores `Wh` as `[d, C]`). `U` is the
//! im2col matrix, kept position-major (`R = U^T`, one receptive field per row).
//!
//! Backward for output weights `g`: `dWh = phi g^T`, `dbh = g`, `dphi = Wh g`; each pooled
//! output's gradient goes to the one position its max came from, so for the kept `(o, p)` of
//! the second pool `dW2[o, :] += dphi R2[p, :]`, `db2[o] += dphi`, `dR2[p, :] += dphi W2[o, :]`
//! (a quarter of a dense product's work), `dh1 = U^T(dR2)`, and likewise `dW1`, `db1` from
//! `dh1` at the first pool's kept positions.
//!
//! Tangent for a parameter tangent `(V1, c1, V2, c2, Vh, ch)`, needed at kept positions only:
//! `th1 = (V1 R1[p, :] + c1)` at the first pool's kept positions (the input has no tangent),
//! `tphi = W2 U(th1) + V2 U(h1) + c2` at the second pool's kept positions,
//! `tf = Wh^T tphi + Vh^T phi + ch`.

use super::{sink_dense_with, ExampleNet, GradSink, Table};
use crate::vision_cnn::VisionCnnConfig;
use genrep_data::{Examples, Inputs};
use genrep_kernels::conv::{self, ConvShape, SparseRows};
use genrep_kernels::matmul::{matmul, View};
use genrep_kernels::pool;
use std::ops::Range;

/// [`VisionCnn`](crate::VisionCnn)'s parameters as one flat vector, with its fused passes.
#[derive(Debug, Clone)]
pub struct VisionFast {
    params: Vec<f32>,
    s1: ConvShape,
    s2: ConvShape,
    d: usize,
    c: usize,
    /// Offsets of W1, b1, W2, b2, Wh, bh (visiting order) and the end.
    off: [usize; 7],
}

/// Buffers of one example (see the module docs for the names).
#[derive(Default)]
pub struct VisionWs {
    rows1: Vec<f32>,
    z1: Vec<f32>,
    h1: Vec<f32>,
    arg1: Vec<u32>,
    rows2: Vec<f32>,
    z2: Vec<f32>,
    phi: Vec<f32>,
    arg2: Vec<u32>,
    logits: Vec<f32>,
    // tangents
    th1: Vec<f32>,
    trows2: Vec<f32>,
    tphi: Vec<f32>,
    tlogits: Vec<f32>,
    // backward
    dphi: Vec<f32>,
    drows2: SparseRows,
    dh1: Vec<f32>,
    tmp: Vec<f32>,
    bias: Vec<f32>,
}

impl VisionFast {
    /// The fused path of a network with configuration `cfg` and flat parameters `params`.
    ///
    /// # Panics
    /// If `params` does not have `cfg.num_params()` entries.
    pub fn new(cfg: &VisionCnnConfig, params: Vec<f32>) -> Self {
        assert_eq!(params.len(), cfg.num_params(), "VisionFast: parameter count");
        let [c1, c2] = cfg.channels;
        let k = cfg.kernel;
        let s1 = ConvShape { c_in: cfg.in_channels, c_out: c1, h: cfg.height, w: cfg.width, kh: k, kw: k };
        let s2 = ConvShape { c_in: c1, c_out: c2, h: cfg.height / 2, w: cfg.width / 2, kh: k, kw: k };
        let d = cfg.feature_dim();
        let c = cfg.num_classes;
        let lens = [s1.weight_len(), c1, s2.weight_len(), c2, d * c, c];
        let mut off = [0; 7];
        for (j, l) in lens.iter().enumerate() {
            off[j + 1] = off[j] + l;
        }
        Self { params, s1, s2, d, c, off }
    }

    fn part(&self, v: &[f32], j: usize) -> Range<usize> {
        debug_assert_eq!(v.len(), self.params.len());
        self.off[j]..self.off[j + 1]
    }

    fn image<'a>(&self, ex: &'a Examples, i: usize) -> &'a [f32] {
        match &ex.inputs {
            Inputs::Images { data, .. } => &data[i * self.s1.input_len()..(i + 1) * self.s1.input_len()],
            other => panic!("VisionFast: {} (check_inputs first)", other.kind()),
        }
    }
}

impl ExampleNet for VisionFast {
    type Ws = VisionWs;

    fn workspace(&self) -> VisionWs {
        VisionWs::default()
    }

    fn params(&self) -> &[f32] {
        &self.params
    }

    fn params_mut(&mut self) -> &mut [f32] {
        &mut self.params
    }

    fn num_classes(&self) -> usize {
        self.c
    }

    fn feature_dim(&self) -> usize {
        self.d
    }

    fn head_range(&self) -> Range<usize> {
        self.off[4]..self.off[6]
    }

    fn table(&self) -> Option<Table> {
        None
    }

    fn check_inputs(&self, ex: &Examples) -> Result<(), String> {
        match &ex.inputs {
            Inputs::Images { channels, height, width, data, .. } => {
                let s = &self.s1;
                if (*channels, *height, *width) != (s.c_in, s.h, s.w) {
                    return Err(format!("{}x{}x{} images, found {channels}x{height}x{width}", s.c_in, s.h, s.w));
                }
                if data.len() != ex.len() * s.input_len() {
                    return Err(format!("{} image values for {} examples", data.len(), ex.len()));
                }
                Ok(())
            }
            other => Err(format!("images, found {}", other.kind())),
        }
    }

    fn forward(&self, ws: &mut VisionWs, ex: &Examples, i: usize, tangent: Option<&[f32]>) {
        let (s1, s2, p) = (&self.s1, &self.s2, &self.params);
        // Workspaces are pooled across networks: size them for this one (no-ops when they fit).
        let (p1, p2) = (s1.output_len() / 4, s2.output_len() / 4);
        ws.rows1.resize(s1.col_len(), 0.0);
        ws.z1.resize(s1.output_len(), 0.0);
        ws.h1.resize(p1, 0.0);
        ws.arg1.resize(p1, 0);
        ws.rows2.resize(s2.col_len(), 0.0);
        ws.z2.resize(s2.output_len(), 0.0);
        ws.phi.resize(p2, 0.0);
        ws.arg2.resize(p2, 0);
        ws.logits.resize(self.c, 0.0);
        let x = self.image(ex, i);
        conv::im2row(s1, x, &mut ws.rows1);
        conv::forward_rows(s1, &p[self.part(p, 0)], &p[self.part(p, 1)], &ws.rows1, &mut ws.z1);
        pool::relu_maxpool2(s1.c_out, s1.h, s1.w, &ws.z1, &mut ws.h1, &mut ws.arg1);
        conv::im2row(s2, &ws.h1, &mut ws.rows2);
        conv::forward_rows(s2, &p[self.part(p, 2)], &p[self.part(p, 3)], &ws.rows2, &mut ws.z2);
        pool::relu_maxpool2(s2.c_out, s2.h, s2.w, &ws.z2, &mut ws.phi, &mut ws.arg2);
        let (wh, bh) = (&p[self.part(p, 4)], &p[self.part(p, 5)]);
        ws.logits.copy_from_slice(bh);
        matmul(&mut ws.logits, self.c, View::rm(&ws.phi, 1, self.d), View::rm(wh, self.d, self.c), true);

        let Some(v) = tangent else { return };
        assert_eq!(v.len(), p.len(), "VisionFast: tangent length");
        ws.th1.resize(p1, 0.0);
        ws.trows2.resize(s2.col_len(), 0.0);
        ws.tphi.resize(p2, 0.0);
        ws.tlogits.resize(self.c, 0.0);
        conv::forward_at(s1, &v[self.part(v, 0)], Some(&v[self.part(v, 1)]), &ws.rows1, &ws.arg1, &mut ws.th1);
        conv::im2row(s2, &ws.th1, &mut ws.trows2);
        conv::forward_at(s2, &p[self.part(p, 2)], Some(&v[self.part(v, 3)]), &ws.trows2, &ws.arg2, &mut ws.tphi);
        conv::forward_at(s2, &v[self.part(v, 2)], None, &ws.rows2, &ws.arg2, &mut ws.tphi);
        ws.tlogits.copy_from_slice(&v[self.part(v, 5)]);
        matmul(&mut ws.tlogits, self.c, View::rm(&ws.tphi, 1, self.d), View::rm(wh, self.d, self.c), true);
        matmul(
            &mut ws.tlogits,
            self.c,
            View::rm(&ws.phi, 1, self.d),
            View::rm(&v[self.part(v, 4)], self.d, self.c),
            true,
        );
    }

    fn logits<'a>(&self, ws: &'a VisionWs) -> &'a [f32] {
        &ws.logits
    }

    fn tangent_logits<'a>(&self, ws: &'a VisionWs) -> &'a [f32] {
        &ws.tlogits
    }

    fn features<'a>(&self, ws: &'a VisionWs) -> &'a [f32] {
        &ws.phi
    }

    fn backward(&self, ws: &mut VisionWs, g: &[f32], sink: &mut dyn GradSink) {
        let (s1, s2, p) = (&self.s1, &self.s2, &self.params);
        let (d, c) = (self.d, self.c);
        // Head.
        let phi = &ws.phi;
        sink_dense_with(sink, self.off[4], d * c, &mut ws.tmp, |t, acc| {
            for (j, row) in t.chunks_exact_mut(c).enumerate() {
                for (k, r) in row.iter_mut().enumerate() {
                    let v = phi[j] * g[k];
                    if acc {
                        *r += v
                    } else {
                        *r = v
                    }
                }
            }
        });
        sink.dense(self.off[5], g);
        let wh = &p[self.part(p, 4)];
        ws.dphi.resize(d, 0.0);
        for (j, dp) in ws.dphi.iter_mut().enumerate() {
            *dp = (0..c).map(|k| wh[j * c + k] * g[k]).sum();
        }
        // Second convolution, at the kept positions of the second pool.
        ws.drows2.clear(s2);
        ws.bias.clear();
        ws.bias.resize(s2.c_out, 0.0);
        let (dphi, arg2, rows2, w2) = (&ws.dphi, &ws.arg2, &ws.rows2, &p[self.part(p, 2)]);
        let (bias, drows2) = (&mut ws.bias, &mut ws.drows2);
        sink_dense_with(sink, self.off[2], s2.weight_len(), &mut ws.tmp, |t, acc| {
            if !acc {
                t.fill(0.0);
            }
            conv::backward_at(s2, dphi, arg2, rows2, w2, t, bias, Some(drows2));
        });
        sink.dense(self.off[3], &ws.bias);
        ws.dh1.clear();
        ws.dh1.resize(s2.input_len(), 0.0);
        ws.drows2.scatter_add(s2, &mut ws.dh1);
        // First convolution, at the kept positions of the first pool.
        ws.bias.clear();
        ws.bias.resize(s1.c_out, 0.0);
        let (dh1, arg1, rows1, w1) = (&ws.dh1, &ws.arg1, &ws.rows1, &p[self.part(p, 0)]);
        let bias = &mut ws.bias;
        sink_dense_with(sink, self.off[0], s1.weight_len(), &mut ws.tmp, |t, acc| {
            if !acc {
                t.fill(0.0);
            }
            conv::backward_at(s1, dh1, arg1, rows1, w1, t, bias, None);
        });
        sink.dense(self.off[1], &ws.bias[..s1.c_out]);
    }
}
