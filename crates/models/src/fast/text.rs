//! The fused CPU path of [`TextCnn`](crate::TextCnn).
//!
//! Per example with tokens `t_1..t_L`: `E = [emb[t_1] .. emb[t_L]]` (`[e, L]`),
//! `z1 = W1 U(E) + b1`, `a1 = relu(z1)`, `z2 = W2 U(a1) + b2` (`[h, L]`), `phi_c = relu(max_l
//! z2[c, l])` at `l = l_c`, `f = Wh^T phi + bh`.
//!
//! Backward for output weights `g`: the max over time keeps one position `l_c` per channel, so
//! `dz2` has at most `h` non-zeros and `dW2[c, :] = dphi_c R2[l_c, :]`,
//! `dR2[l_c, :] += dphi_c W2[c, :]` (`R2 = U(a1)^T`, position-major) cost `O(h^2 k)` instead of a
//! product over all positions; then `da1 = U^T(dR2)`, `dz1 = da1 [z1 > 0]`, `dW1 = dz1 U(E)^T`,
//! `dE = U^T(W1^T dz1)`, and column `l` of `dE` is the gradient of embedding row `t_l` (a sparse
//! table gradient: the `[V, e]` matrix is never formed).
//!
//! Tangent: `tE` = the tangent's embedding rows, `tz1 = W1 U(tE) + V1 U(E) + c1`,
//! `ta1 = tz1 [z1 > 0]`, and only the kept positions of the second layer,
//! `tphi_c = W2[c, :] U(ta1)[:, l_c] + V2[c, :] U(a1)[:, l_c] + c2_c`.

use super::{sink_dense_with, ExampleNet, GradSink, Table};
use crate::text_cnn::TextCnnConfig;
use genrep_data::{Examples, Inputs};
use genrep_kernels::conv::{self, ConvShape, SparseRows};
use genrep_kernels::matmul::{matmul, View};
use genrep_kernels::pool;
use std::ops::Range;

/// [`TextCnn`](crate::TextCnn)'s parameters as one flat vector, with its fused passes.
#[derive(Debug, Clone)]
pub struct TextFast {
    params: Vec<f32>,
    cfg: TextCnnConfig,
    /// Offsets of emb, W1, b1, W2, b2, Wh, bh (visiting order) and the end.
    off: [usize; 8],
}

/// Buffers of one example (see the module docs for the names); `len` is the sequence length
/// they are sized for.
pub struct TextWs {
    len: usize,
    tokens: Vec<u32>,
    emb: Vec<f32>,
    col1: Vec<f32>,
    z1: Vec<f32>,
    a1: Vec<f32>,
    rows2: Vec<f32>,
    z2: Vec<f32>,
    phi: Vec<f32>,
    arg: Vec<u32>,
    logits: Vec<f32>,
    // tangents
    temb: Vec<f32>,
    tcol: Vec<f32>,
    trows2: Vec<f32>,
    tz1: Vec<f32>,
    tphi: Vec<f32>,
    tlogits: Vec<f32>,
    // backward
    dphi: Vec<f32>,
    drows2: SparseRows,
    da1: Vec<f32>,
    dcol1: Vec<f32>,
    demb: Vec<f32>,
    tmp: Vec<f32>,
    bias: Vec<f32>,
    row: Vec<f32>,
}

impl TextFast {
    /// The fused path of a network with configuration `cfg` and flat parameters `params`.
    ///
    /// # Panics
    /// If `params` does not have `cfg.num_params()` entries.
    pub fn new(cfg: &TextCnnConfig, params: Vec<f32>) -> Self {
        assert_eq!(params.len(), cfg.num_params(), "TextFast: parameter count");
        let (v, e, h, k, c) = (cfg.vocab_size, cfg.embed_dim, cfg.hidden, cfg.kernel, cfg.num_classes);
        let lens = [v * e, h * e * k, h, h * h * k, h, h * c, c];
        let mut off = [0; 8];
        for (j, l) in lens.iter().enumerate() {
            off[j + 1] = off[j] + l;
        }
        Self { params, cfg: cfg.clone(), off }
    }

    fn part(&self, j: usize) -> Range<usize> {
        self.off[j]..self.off[j + 1]
    }

    fn shapes(&self, len: usize) -> (ConvShape, ConvShape) {
        let (e, h, k) = (self.cfg.embed_dim, self.cfg.hidden, self.cfg.kernel);
        (
            ConvShape { c_in: e, c_out: h, h: 1, w: len, kh: 1, kw: k },
            ConvShape { c_in: h, c_out: h, h: 1, w: len, kh: 1, kw: k },
        )
    }

    /// Sizes the buffers for sequences of `len` tokens (workspaces are pooled across networks;
    /// the resizes are no-ops when they already fit).
    fn fit(&self, ws: &mut TextWs, len: usize) {
        let (s1, s2) = self.shapes(len);
        let h = self.cfg.hidden;
        ws.len = len;
        ws.emb.resize(s1.input_len(), 0.0);
        ws.col1.resize(s1.col_len(), 0.0);
        ws.z1.resize(s1.output_len(), 0.0);
        ws.a1.resize(s1.output_len(), 0.0);
        ws.rows2.resize(s2.col_len(), 0.0);
        ws.z2.resize(s2.output_len(), 0.0);
        ws.phi.resize(h, 0.0);
        ws.arg.resize(h, 0);
        ws.logits.resize(self.cfg.num_classes, 0.0);
    }

    /// `E[c, l] = table[t_l, c]` (`[e, L]`) for the tokens in `ws.tokens`.
    fn embed(&self, table: &[f32], tokens: &[u32], out: &mut [f32]) {
        let (e, l) = (self.cfg.embed_dim, tokens.len());
        for (pos, &t) in tokens.iter().enumerate() {
            let row = &table[t as usize * e..(t as usize + 1) * e];
            for (ch, &v) in row.iter().enumerate() {
                out[ch * l + pos] = v;
            }
        }
    }
}

impl ExampleNet for TextFast {
    type Ws = TextWs;

    fn workspace(&self) -> TextWs {
        TextWs {
            len: 0,
            tokens: Vec::new(),
            emb: Vec::new(),
            col1: Vec::new(),
            z1: Vec::new(),
            a1: Vec::new(),
            rows2: Vec::new(),
            z2: Vec::new(),
            phi: Vec::new(),
            arg: Vec::new(),
            logits: vec![0.0; self.cfg.num_classes],
            temb: Vec::new(),
            tcol: Vec::new(),
            trows2: Vec::new(),
            tz1: Vec::new(),
            tphi: Vec::new(),
            tlogits: Vec::new(),
            dphi: Vec::new(),
            drows2: SparseRows::default(),
            da1: Vec::new(),
            dcol1: Vec::new(),
            demb: Vec::new(),
            tmp: Vec::new(),
            bias: Vec::new(),
            row: Vec::new(),
        }
    }

    fn params(&self) -> &[f32] {
        &self.params
    }

    fn params_mut(&mut self) -> &mut [f32] {
        &mut self.params
    }

    fn num_classes(&self) -> usize {
        self.cfg.num_classes
    }

    fn feature_dim(&self) -> usize {
        self.cfg.hidden
    }

    fn head_range(&self) -> Range<usize> {
        self.off[5]..self.off[7]
    }

    fn table(&self) -> Option<Table> {
        Some(Table { offset: 0, rows: self.cfg.vocab_size, width: self.cfg.embed_dim })
    }

    fn check_inputs(&self, ex: &Examples) -> Result<(), String> {
        match &ex.inputs {
            Inputs::Tokens { seq_len, ids, .. } => {
                if *seq_len == 0 || ids.len() != ex.len() * seq_len {
                    return Err(format!("{} token ids for {} examples of {seq_len} tokens", ids.len(), ex.len()));
                }
                if let Some(bad) = ids.iter().find(|&&t| t as usize >= self.cfg.vocab_size) {
                    return Err(format!("token ids below {}, found {bad}", self.cfg.vocab_size));
                }
                Ok(())
            }
            other => Err(format!("token ids, found {}", other.kind())),
        }
    }

    fn forward(&self, ws: &mut TextWs, ex: &Examples, i: usize, tangent: Option<&[f32]>) {
        let Inputs::Tokens { seq_len, ids, .. } = &ex.inputs else {
            panic!("TextFast: {} (check_inputs first)", ex.inputs.kind())
        };
        let len = *seq_len;
        self.fit(ws, len);
        let (s1, s2) = self.shapes(len);
        let (h, c) = (self.cfg.hidden, self.cfg.num_classes);
        let p = &self.params;
        ws.tokens.clear();
        ws.tokens.extend_from_slice(&ids[i * len..(i + 1) * len]);
        self.embed(&p[self.part(0)], &ws.tokens, &mut ws.emb);
        conv::im2col(&s1, &ws.emb, &mut ws.col1);
        conv::forward(&s1, &p[self.part(1)], Some(&p[self.part(2)]), &ws.col1, &mut ws.z1, false);
        pool::relu(&ws.z1, &mut ws.a1);
        conv::im2row(&s2, &ws.a1, &mut ws.rows2);
        conv::forward_rows(&s2, &p[self.part(3)], &p[self.part(4)], &ws.rows2, &mut ws.z2);
        pool::relu_max_time(h, len, &ws.z2, &mut ws.phi, &mut ws.arg);
        let wh = &p[self.part(5)];
        ws.logits.copy_from_slice(&p[self.part(6)]);
        matmul(&mut ws.logits, c, View::rm(&ws.phi, 1, h), View::rm(wh, h, c), true);

        let Some(v) = tangent else { return };
        assert_eq!(v.len(), p.len(), "TextFast: tangent length");
        ws.temb.resize(s1.input_len(), 0.0);
        ws.tcol.resize(s1.col_len(), 0.0);
        ws.trows2.resize(s2.col_len(), 0.0);
        ws.tz1.resize(s1.output_len(), 0.0);
        ws.tphi.resize(h, 0.0);
        ws.tlogits.resize(c, 0.0);
        self.embed(&v[self.part(0)], &ws.tokens, &mut ws.temb);
        conv::im2col(&s1, &ws.temb, &mut ws.tcol);
        conv::forward(&s1, &p[self.part(1)], Some(&v[self.part(2)]), &ws.tcol, &mut ws.tz1, false);
        conv::forward(&s1, &v[self.part(1)], None, &ws.col1, &mut ws.tz1, true);
        pool::relu_mask(&ws.z1, &mut ws.tz1);
        // The second layer's tangent is needed at the kept positions only.
        conv::im2row(&s2, &ws.tz1, &mut ws.trows2);
        conv::forward_at(&s2, &p[self.part(3)], Some(&v[self.part(4)]), &ws.trows2, &ws.arg, &mut ws.tphi);
        conv::forward_at(&s2, &v[self.part(3)], None, &ws.rows2, &ws.arg, &mut ws.tphi);
        ws.tlogits.copy_from_slice(&v[self.part(6)]);
        matmul(&mut ws.tlogits, c, View::rm(&ws.tphi, 1, h), View::rm(wh, h, c), true);
        matmul(&mut ws.tlogits, c, View::rm(&ws.phi, 1, h), View::rm(&v[self.part(5)], h, c), true);
    }

    fn logits<'a>(&self, ws: &'a TextWs) -> &'a [f32] {
        &ws.logits
    }

    fn tangent_logits<'a>(&self, ws: &'a TextWs) -> &'a [f32] {
        &ws.tlogits
    }

    fn features<'a>(&self, ws: &'a TextWs) -> &'a [f32] {
        &ws.phi
    }

    fn backward(&self, ws: &mut TextWs, g: &[f32], sink: &mut dyn GradSink) {
        let len = ws.len;
        let (s1, s2) = self.shapes(len);
        let (e, h, c) = (self.cfg.embed_dim, self.cfg.hidden, self.cfg.num_classes);
        let p = &self.params;
        // Head.
        let phi = &ws.phi;
        sink_dense_with(sink, self.off[5], h * c, &mut ws.tmp, |t, acc| {
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
        sink.dense(self.off[6], g);
        let wh = &p[self.part(5)];
        ws.dphi.resize(h, 0.0);
        for (j, dp) in ws.dphi.iter_mut().enumerate() {
            *dp = if ws.arg[j] == pool::INACTIVE { 0.0 } else { (0..c).map(|k| wh[j * c + k] * g[k]).sum() };
        }
        // Second convolution: one kept position per channel.
        ws.drows2.clear(&s2);
        ws.bias.clear();
        ws.bias.resize(h, 0.0);
        let (dphi, arg, rows2, w2) = (&ws.dphi, &ws.arg, &ws.rows2, &p[self.part(3)]);
        let (bias, drows2) = (&mut ws.bias, &mut ws.drows2);
        sink_dense_with(sink, self.off[3], s2.weight_len(), &mut ws.tmp, |t, acc| {
            if !acc {
                t.fill(0.0);
            }
            conv::backward_at(&s2, dphi, arg, rows2, w2, t, bias, Some(drows2));
        });
        sink.dense(self.off[4], &ws.bias);
        ws.da1.clear();
        ws.da1.resize(s2.input_len(), 0.0);
        ws.drows2.scatter_add(&s2, &mut ws.da1);
        pool::relu_mask(&ws.z1, &mut ws.da1);
        // First convolution.
        let (dz1, col1) = (&ws.da1, &ws.col1);
        sink_dense_with(sink, self.off[1], s1.weight_len(), &mut ws.tmp, |t, acc| {
            conv::backward_weight(&s1, dz1, col1, t, acc)
        });
        ws.bias.resize(h, 0.0);
        conv::bias_grad(&s1, &ws.da1, &mut ws.bias);
        sink.dense(self.off[2], &ws.bias);
        // Embedding rows.
        ws.dcol1.resize(s1.col_len(), 0.0);
        conv::backward_col(&s1, &p[self.part(1)], &ws.da1, &mut ws.dcol1);
        ws.demb.clear();
        ws.demb.resize(s1.input_len(), 0.0);
        conv::col2im_add(&s1, &ws.dcol1, &mut ws.demb);
        let table = Table { offset: 0, rows: self.cfg.vocab_size, width: e };
        ws.row.resize(e, 0.0);
        for (pos, &t) in ws.tokens.iter().enumerate() {
            for ch in 0..e {
                ws.row[ch] = ws.demb[ch * len + pos];
            }
            sink.row(&table, t as usize, &ws.row);
        }
    }
}
