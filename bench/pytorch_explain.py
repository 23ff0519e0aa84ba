#!/usr/bin/env python3
r"""PyTorch + Captum reference for `genrep bench explain`.

Explains test points of a genrep run directory (written by `genrep train`, image tasks on
MNIST) with the same network, the same weights, the same data and the same method definitions
as genrep's explain crate, and times each method with the protocol of `genrep bench explain`:
the first `--tests` test points, one at a time, each explained at its predicted class over the
whole training split, end to end (everything a `genrep explain` call redoes per test point is
redone here too), then each method's peak resident memory.

Methods (names as in `genrep explain`; `tracking-ntk-final` = `tracking:ntk-final`):

  tracincp            captum.influence.TracInCP over the epoch-K and final checkpoints, with
                      the training loss CE and the test-side function -f_c(x) (the predicted-class
                      logit, negated so that Captum's lr * <dL_i, d(test fn)> equals genrep's
                      -lr * <dL_i/dtheta, df_c(x)/dtheta>).
  influence           alpha_i = -(softmax(f_i) - e_yi) at the final weights; kernel
                      g_i^T (G + damping I)^-1 df_c(x)/dtheta with the Gauss-Newton matrix G over
                      a seeded sample of `--hessian-sample` training points (the same sample as
                      genrep: rand 0.9 `index::sample` on ChaCha8Rng, ported below); CG from 0,
                      relative residual tol 1e-3, at most 50 iterations.
  representer         last layer refit with L2 lambda |Theta|^2 (bias included) to the model's
                      softmax outputs, from the trained head, by L-BFGS until
                      |grad| <= 1e-6 max(1, |2 lambda Theta|); alpha_i = -(1/(2 lambda n)) dL_i/dz_i;
                      phi_i = alpha_{i,c} <[phi(x_i), 1], [phi(x), 1]>.
  tracking-ntk-final  alpha_i = -A_i (record.json `tracking_sum`) times the NTK at the final
                      weights: phi_i = <d/dtheta alpha_i . f(x_i), df_c(x)/dtheta>.

Modes:
  timing (default)    prints a markdown table; `--json` writes the raw numbers.
  --check             writes `py_<method>-<test>.csv` (`train_index,score`, like
                      `genrep explain --csv`) for `--test-index` into `--out-dir`, and, with
                      `--genrep-csv 'DIR/g_{method}-{test}.csv'`, compares them with genrep's
                      files (Pearson r, max |difference| / max |genrep|, top-10 overlap).

Usage (see bench/README.md):
    bench/.venv/bin/python bench/pytorch_explain.py --run runs/mnist38 --tests 10 \
        --methods tracincp,influence,representer,tracking-ntk-final --hessian-sample 1000 \
        --threads 2 --json /tmp/pytorch-explain.json
"""

import argparse
import csv
import json
import math
import os
import resource
import struct
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_common import VisionCnn, read_idx, stats  # noqa: E402
from torch.func import functional_call, grad, jvp, vmap

# Harmless notices: Captum sets requires_grad on the inputs itself; torch.func's JVP rules
# touch the deprecated torch.jit.script.
warnings.filterwarnings("ignore", message="Input Tensor 0 did not already require gradients")
warnings.filterwarnings("ignore", message=".*torch.jit.script.*is deprecated", category=FutureWarning)

METHODS = ("tracincp", "influence", "representer", "tracking-ntk-final")
MASK32 = 0xFFFFFFFF
MASK64 = 0xFFFFFFFFFFFFFFFF


# ---------------------------------------------------------------------------------------------
# genrep's seeded subsampling: rand_chacha 0.9 ChaCha8Rng + rand 0.9 `seq::index::sample`
# ---------------------------------------------------------------------------------------------


def _rotl32(x, n):
    return ((x << n) | (x >> (32 - n))) & MASK32


class ChaChaRng:
    """rand_chacha's ChaCha{8,12,20}Rng: 32-byte key, 64-bit block counter (words 12-13) and a
    64-bit stream id (words 14-15, 0), blocks output in order as little-endian u32 words."""

    def __init__(self, seed_bytes, rounds=8):
        assert len(seed_bytes) == 32
        self.key = list(struct.unpack("<8I", bytes(seed_bytes)))
        self.rounds = rounds
        self.counter = 0
        self.buf = []
        self.pos = 0

    @classmethod
    def seed_from_u64(cls, state, rounds=8):
        """rand_core 0.9 `SeedableRng::seed_from_u64`: PCG32 output fills the 32-byte seed."""
        out = bytearray()
        for _ in range(8):
            state = (state * 6364136223846793005 + 11634580027462260723) & MASK64
            xorshifted = (((state >> 18) ^ state) >> 27) & MASK32
            rot = state >> 59
            x = ((xorshifted >> rot) | (xorshifted << ((32 - rot) & 31))) & MASK32
            out += struct.pack("<I", x)
        return cls(bytes(out), rounds)

    def _block(self):
        c = self.counter
        s = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574, *self.key, c & MASK32, c >> 32, 0, 0]
        x = list(s)

        def qr(a, b, c_, d):
            x[a] = (x[a] + x[b]) & MASK32
            x[d] = _rotl32(x[d] ^ x[a], 16)
            x[c_] = (x[c_] + x[d]) & MASK32
            x[b] = _rotl32(x[b] ^ x[c_], 12)
            x[a] = (x[a] + x[b]) & MASK32
            x[d] = _rotl32(x[d] ^ x[a], 8)
            x[c_] = (x[c_] + x[d]) & MASK32
            x[b] = _rotl32(x[b] ^ x[c_], 7)

        for _ in range(self.rounds // 2):
            qr(0, 4, 8, 12), qr(1, 5, 9, 13), qr(2, 6, 10, 14), qr(3, 7, 11, 15)
            qr(0, 5, 10, 15), qr(1, 6, 11, 12), qr(2, 7, 8, 13), qr(3, 4, 9, 14)
        self.counter = (c + 1) & MASK64
        return [(a + b) & MASK32 for a, b in zip(x, s)]

    def next_u32(self):
        if self.pos >= len(self.buf):
            self.buf, self.pos = self._block(), 0
        v = self.buf[self.pos]
        self.pos += 1
        return v

    def range_inclusive_u32(self, low, high):
        """rand 0.9 `UniformInt::<u32>::sample_single_inclusive` (Canon's method, the default
        biased variant: at most one extra draw)."""
        rng = (high - low + 1) & MASK32
        if rng == 0:
            return self.next_u32()
        m = self.next_u32() * rng
        result, lo = m >> 32, m & MASK32
        if lo > ((-rng) & MASK32):
            new_hi = (self.next_u32() * rng) >> 32
            if lo + new_hi > MASK32:
                result += 1
        return (low + result) & MASK32


def rand_index_sample(rng, length, amount):
    """rand 0.9 `seq::index::sample(rng, length, amount)` for length < 2^32, in its own order."""
    if amount > length:
        raise ValueError("amount > length")
    if amount < 163:
        # f32 arithmetic as in rand; exact enough for the comparison below at these sizes.
        j = 1 if length >= 500_000 else 0
        c0 = (1.6, 8.0 / 45.0)[j]
        c1 = (10.0, 70.0 / 9.0)[j]
        use_inplace = amount > 11 and float(np.float32(length)) < float(
            np.float32(np.float32(c1) + np.float32(c0) * np.float32(amount)) * np.float32(amount)
        )
    else:
        j = 1 if length >= 500_000 else 0
        cj = (270.0, 330.0 / 9.0)[j]
        use_inplace = float(np.float32(length)) < float(np.float32(cj) * np.float32(amount))
        if not use_inplace:
            raise NotImplementedError("rand's rejection sampler (amount >= 163, length >= 270 amount) is not ported")
    if use_inplace:
        idx = list(range(length))
        for i in range(amount):
            jx = rng.range_inclusive_u32(i, length - 1)
            idx[i], idx[jx] = idx[jx], idx[i]
        return idx[:amount]
    # Floyd's combination algorithm.
    out = []
    for jx in range(length - amount, length):
        t = rng.range_inclusive_u32(0, jx)
        if t in out:
            out[out.index(t)] = jx
        out.append(t)
    return out


def _selftest_chacha():
    """ChaCha20 test vectors from rand_chacha 0.9's own tests (same code path, 20 rounds)."""
    r = ChaChaRng(bytes(32), rounds=20)
    first = [r.next_u32() for _ in range(16)]
    assert first[:4] == [0xADE0B876, 0x903DF1A0, 0xE56A5D40, 0x28BD8653], first[:4]
    second = [r.next_u32() for _ in range(16)]
    assert second[:2] == [0xBEE7079F, 0x7A385155], second[:2]
    seed = bytes([0] * 8 + [1] + [0] * 7 + [2] + [0] * 7 + [3] + [0] * 7)
    assert ChaChaRng(seed, rounds=20).next_u32() == 137206642


# ---------------------------------------------------------------------------------------------
# Data: MNIST IDX files and genrep's task builder (crates/data/src/task.rs)
# ---------------------------------------------------------------------------------------------

MNIST_MEAN, MNIST_STD = np.float32(0.1307), np.float32(0.3081)



def select_classes(labels, classes, cap, rng):
    """genrep_data::task::select_classes: per task class (in task order), all its indices in
    file order, or a seeded sample of `cap` of them; the union sorted by file index."""
    chosen = []
    for task_label, c in enumerate(classes):
        idx = np.flatnonzero(labels == c)
        if cap is not None and cap < len(idx):
            pick = sorted(int(idx[j]) for j in rand_index_sample(rng, len(idx), cap))
            chosen += [(i, task_label) for i in pick]
        else:
            chosen += [(int(i), task_label) for i in idx]
    chosen.sort()
    return chosen


def build_task(data_dir, cfg):
    """Rebuilds the run's task (MNIST only) exactly as genrep_data::task::build does."""
    task, opts = cfg["task"], cfg["task_options"]
    if task["dataset"] != "mnist":
        sys.exit(f"only MNIST tasks are supported here (run has {task['dataset']})")
    classes = list(task["pair"]) if task.get("pair") else list(range(10))
    rng = ChaChaRng.seed_from_u64(int(opts.get("seed", 0)))
    splits = {}
    for split, prefix, cap in (
        ("train", "train", opts.get("train_per_class")),
        ("test", "t10k", opts.get("test_per_class")),
    ):
        images = read_idx(os.path.join(data_dir, "mnist", f"{prefix}-images-idx3-ubyte.gz"))
        labels = read_idx(os.path.join(data_dir, "mnist", f"{prefix}-labels-idx1-ubyte.gz"))
        chosen = select_classes(labels, classes, cap, rng)
        src = np.array([i for i, _ in chosen], dtype=np.int64)
        x = (images[src].astype(np.float32) / np.float32(255.0) - MNIST_MEAN) / MNIST_STD
        y = np.array([l for _, l in chosen], dtype=np.int64)
        splits[split] = (torch.from_numpy(np.ascontiguousarray(x[:, None])), torch.from_numpy(y), src)
    return splits, len(classes)


# ---------------------------------------------------------------------------------------------
# Model: genrep_models::VisionCnn and its safetensors checkpoints
# ---------------------------------------------------------------------------------------------





def model_from_config(cfg):
    m = cfg["model"]
    if m.get("model") != "vision-cnn":
        sys.exit(f"only vision-cnn runs are supported (run has {m.get('model')})")
    return VisionCnn(m["num_classes"], m["in_channels"], m["height"], m["width"], tuple(m["channels"]), m["kernel"])


def load_checkpoint(model, path):
    """Loads a genrep/burn safetensors checkpoint. burn's Linear stores its weight as
    [in, out]; torch's is [out, in]. Conv weights are [out, in, k, k] in both."""
    from safetensors.torch import load_file

    t = load_file(path)
    state = {k: v for k, v in t.items()}
    state["head.weight"] = state["head.weight"].t().contiguous()
    model.load_state_dict(state, strict=True)
    return model


class Run:
    """A genrep run directory: config, checkpoint index, record, rebuilt task, final model."""

    def __init__(self, path, data_dir):
        self.path = path
        with open(os.path.join(path, "config.json")) as f:
            self.cfg = json.load(f)
        with open(os.path.join(path, "checkpoints.json")) as f:
            self.checkpoints = json.load(f)
        rec = os.path.join(path, "record.json")
        self.record = None
        if os.path.exists(rec):
            with open(rec) as f:
                self.record = json.load(f)
        splits, self.num_classes = build_task(data_dir, self.cfg)
        self.x_train, self.y_train, self.src_train = splits["train"]
        self.x_test, self.y_test, self.src_test = splits["test"]
        self.model = self.load("final")

    def checkpoint_path(self, name):
        entry = next((c for c in self.checkpoints if c["name"] == name), None)
        if entry is None:
            sys.exit(f"no checkpoint {name!r} in {self.path}")
        return os.path.join(self.path, "checkpoints", entry["file"])

    def load(self, name):
        return load_checkpoint(model_from_config(self.cfg), self.checkpoint_path(name)).eval()

    def tracin_checkpoints(self):
        """genrep's TracInCP checkpoints: kind epoch-K or final, in index order, with their lr."""
        out = []
        for c in self.checkpoints:
            kind = c["kind"]
            if kind == "final" or (isinstance(kind, dict) and "epoch" in kind):
                out.append((self.checkpoint_path(c["name"]), float(c["lr"])))
        return out


# ---------------------------------------------------------------------------------------------
# Gradient machinery (torch.func)
# ---------------------------------------------------------------------------------------------


def params_of(model):
    return {k: v.detach() for k, v in model.named_parameters()}


def flat(tensors):
    return torch.cat([t.reshape(-1) for t in tensors])


def unflat(vec, like):
    out, i = {}, 0
    for k, v in like.items():
        out[k] = vec[i : i + v.numel()].view_as(v)
        i += v.numel()
    return out


@torch.no_grad()
def predict(model, x, batch=256):
    return torch.cat([model(x[s : s + batch]) for s in range(0, len(x), batch)])


def test_points(model, run, indices):
    """genrep Context::test_points: each test point at its predicted class (first arg-max),
    with the explained score f_c(x)."""
    logits = predict(model, run.x_test[indices])
    cls = logits.argmax(1)
    return [(i, int(c), float(logits[r, c])) for r, (i, c) in enumerate(zip(indices, cls.tolist()))]


def output_grad(model, x, c):
    """df_c(x)/dtheta, flattened (parameter order of model.named_parameters())."""
    params = [p for _, p in model.named_parameters()]
    out = model(x[None])[0, c]
    return flat(torch.autograd.grad(out, params)).detach()


def target_derivative(logits, labels):
    """-(softmax(f_i) - e_yi), softmax in float64 as in genrep's softmax_cross_entropy."""
    p = torch.softmax(logits.double(), 1)
    return -(p - F.one_hot(labels, p.shape[1]).double())


def contract(model, x_train, alpha, vecs, how="grads", chunk=64):
    """phi[t, i] = < d/dtheta (alpha_i . f(x_i)), vecs[t] > for every training example i.

    how = 'grads': per-example gradients of the alpha-weighted outputs by torch.func.vmap(grad)
    in chunks, times the [p, T] matrix of test vectors (genrep's algorithm: one gradient per
    training example). how = 'jvp': the same numbers as alpha_i . (J_i v_t) by forward-mode
    torch.func.jvp over whole batches (an algorithmic shortcut genrep does not take)."""
    params = params_of(model)
    names = list(params)
    n, T = len(x_train), len(vecs)
    alpha32 = alpha.float()
    out = torch.empty(T, n, dtype=torch.float64)
    if how == "jvp":
        tangents = [unflat(v, params) for v in vecs]
        f = lambda p, xb: functional_call(model, p, (xb,))  # noqa: E731
        for s in range(0, n, 256):
            xb, ab = x_train[s : s + 256], alpha32[s : s + 256]
            for t, tan in enumerate(tangents):
                _, jv = jvp(lambda p: f(p, xb), (params,), (tan,))
                out[t, s : s + len(xb)] = (jv.double() * ab.double()).sum(1)
        return out
    V = torch.stack(vecs, 1)  # [p, T]

    def weighted(p, x, w):
        return (functional_call(model, p, (x[None],))[0] * w).sum()

    per_example = vmap(grad(weighted), in_dims=(None, 0, 0))
    for s in range(0, n, chunk):
        g = per_example(params, x_train[s : s + chunk], alpha32[s : s + chunk])
        G = torch.cat([g[k].reshape(g[k].shape[0], -1) for k in names], 1)
        out[:, s : s + G.shape[0]] = (G @ V).double().t()
    return out


# ---------------------------------------------------------------------------------------------
# Methods. Each takes the run, the options and a list of test indices and returns
# (scores [T, n] float64, info dict); everything a genrep `explain` call redoes per call is
# redone here (train logits, features, refits, CG solves).
# ---------------------------------------------------------------------------------------------


class NegLogit(nn.Module):
    """Captum test-side 'loss': -sum_b f_{c_b}(x_b) (reduction 'sum', as Captum requires with
    sample_wise_grads_per_batch=True)."""

    reduction = "sum"

    def forward(self, logits, targets):
        return -logits.gather(1, targets[:, None]).sum()


def m_tracincp(run, args, tests):
    from captum.influence import TracInCP

    cps = run.tracin_checkpoints()
    if not cps:
        sys.exit("the run has no epoch-K or final checkpoints")
    lr = dict(cps)
    pts = test_points(run.model, run, tests)
    model = model_from_config(run.cfg)

    def load(m, path):
        load_checkpoint(m, path)
        return lr[path]

    train = torch.utils.data.TensorDataset(run.x_train, run.y_train)
    tracin = TracInCP(
        model,
        train,
        checkpoints=[p for p, _ in cps],
        checkpoints_load_func=load,
        loss_fn=nn.CrossEntropyLoss(reduction="sum"),
        batch_size=args.batch_size,
        test_loss_fn=NegLogit(),
        sample_wise_grads_per_batch=True,
    )
    x = run.x_test[[t for t, _, _ in pts]]
    c = torch.tensor([c for _, c, _ in pts])
    scores = tracin.influence((x, c), k=None)
    return scores.double(), {"explained": pts, "checkpoints": [os.path.basename(p) for p, _ in cps]}


def hessian_sample(n, k, seed):
    """genrep: rand::seq::index::sample(ChaCha8Rng::seed_from_u64(seed), n, min(k, n).max(1)),
    sorted."""
    k = max(1, min(k, n))
    if k == n:
        return list(range(n))
    return sorted(rand_index_sample(ChaChaRng.seed_from_u64(seed), n, k))


def gauss_newton_op(model, xs, damping, mode):
    """v -> (G + damping I) v, G = (1/m) sum_i J_i^T (diag(p_i) - p_i p_i^T) J_i over xs
    (chunks of 256 as in genrep). mode: 'jvp' (exact J v by forward-mode torch.func.jvp, then
    J^T u by one backward), 'double-backward' (exact J v by the double-backward trick), 'fd'
    (genrep's central difference of logits, eps = 1e-5 max(|theta|, 1) / |v|, GN_FD_STEP in
    crates/explain/src/kernel.rs; it was 1e-3 before commit c69c20c)."""
    params = params_of(model)
    plist = [p for _, p in model.named_parameters()]
    m = len(xs)
    theta_norm = float(flat(list(params.values())).double().norm())
    f = lambda p, xb: functional_call(model, p, (xb,))  # noqa: E731

    def apply(v64):
        vnorm = float(v64.norm())
        if vnorm == 0.0:
            return torch.zeros_like(v64)
        v = v64.float()
        out = damping * v64.clone()
        tan = unflat(v, params)
        eps = 1e-5 * max(theta_norm, 1.0) / vnorm
        for s in range(0, m, 256):
            xb = xs[s : s + 256]
            if mode == "jvp":
                with torch.no_grad():
                    _, jv = jvp(lambda p: f(p, xb), (params,), (tan,))
                z = model(xb)
            elif mode == "double-backward":
                z = model(xb)
                w = torch.zeros_like(z, requires_grad=True)
                g = torch.autograd.grad(z, plist, w, create_graph=True)
                jv = torch.autograd.grad(g, w, list(tan.values()), retain_graph=True)[0]
            else:  # fd
                with torch.no_grad():
                    plus = {k: params[k] + eps * tan[k] for k in params}
                    minus = {k: params[k] - eps * tan[k] for k in params}
                    jv = (f(plus, xb).double() - f(minus, xb).double()) / (2 * eps)
                z = model(xb)
            p = torch.softmax(z.detach().double(), 1)
            jv = jv.detach().double()
            u = (p * (jv - (p * jv).sum(1, keepdim=True)) / m).float()
            out += flat(torch.autograd.grad(z, plist, u)).double()
        return out

    return apply


def conjugate_gradient(apply, b, tol, max_iter):
    """genrep's CG (crates/explain/src/solve.rs): from u = 0, stop at |r|/|b| <= tol."""
    bnorm = float(b.norm())
    if bnorm == 0.0:
        return torch.zeros_like(b), {"iterations": 0, "relative_residual": 0.0, "converged": True}
    u = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    rr = float(r @ r)
    it = 0
    while it < max_iter and math.sqrt(rr) / bnorm > tol:
        ap = apply(p)
        pap = float(p @ ap)
        if pap <= 0.0 or not math.isfinite(pap):
            raise RuntimeError(f"CG: Hessian not positive definite along a search direction (p^T H p = {pap:e})")
        a = rr / pap
        u += a * p
        r -= a * ap
        rr_new = float(r @ r)
        p = r + (rr_new / rr) * p
        rr = rr_new
        it += 1
    rel = math.sqrt(rr) / bnorm
    return u, {"iterations": it, "relative_residual": rel, "converged": rel <= tol}


def m_influence(run, args, tests):
    model = run.model
    n = len(run.y_train)
    alpha = target_derivative(predict(model, run.x_train), run.y_train)
    pts = test_points(model, run, tests)
    sample = hessian_sample(n, args.hessian_sample, args.seed)
    op = gauss_newton_op(model, run.x_train[sample], args.damping, args.gn_jvp)
    vecs, reports = [], []
    for t, c, _ in pts:
        g = output_grad(model, run.x_test[t], c).double()
        u, rep = conjugate_gradient(op, g, args.cg_tol, args.cg_max_iter)
        vecs.append(u.float())
        reports.append(rep)
    scores = contract(model, run.x_train, alpha, vecs, args.contract, args.chunk)
    return scores, {"explained": pts, "cg": reports, "hessian_sample": len(sample)}


def m_tracking(run, args, tests):
    if run.record is None:
        sys.exit("tracking-ntk-final needs the run's record.json")
    c = run.record["num_classes"]
    alpha = -torch.tensor(run.record["tracking_sum"], dtype=torch.float64).view(-1, c)
    model = run.model
    pts = test_points(model, run, tests)
    vecs = [output_grad(model, run.x_test[t], cl) for t, cl, _ in pts]
    return contract(model, run.x_train, alpha, vecs, args.contract, args.chunk), {"explained": pts}


def m_representer(run, args, tests):
    """Representer points (Yeh et al. 2018) as genrep's `representer`."""
    model = run.model
    t0 = time.perf_counter()
    with torch.no_grad():
        # genrep's LastLayerKernel::new: features of both whole splits, a 1 appended.
        ones = lambda k: torch.ones(k, 1, dtype=torch.float64)  # noqa: E731
        ft = torch.cat([model.features(run.x_train[s : s + 256]) for s in range(0, len(run.x_train), 256)])
        phi = torch.cat([ft.double(), ones(len(ft))], 1)
        fs = torch.cat([model.features(run.x_test[s : s + 256]) for s in range(0, len(run.x_test), 256)])
        phi_test = torch.cat([fs.double(), ones(len(fs))], 1)
        logits = model.head(ft)
    targets = torch.softmax(logits.double(), 1)
    n, lam = len(phi), args.lam
    head = torch.cat([model.head.weight.detach().t(), model.head.bias.detach()[None]], 0).double()
    theta = head.clone().requires_grad_(True)

    def objective():
        z = phi @ theta
        return -(targets * torch.log_softmax(z, 1)).sum() / n + lam * (theta * theta).sum()

    opt = torch.optim.LBFGS(
        [theta], lr=1, max_iter=10, history_size=10, tolerance_grad=0.0, tolerance_change=0.0,
        line_search_fn="strong_wolfe",
    )

    def closure():
        opt.zero_grad()
        loss = objective()
        loss.backward()
        return loss

    iterations, gnorm = 0, float("inf")
    while iterations < args.lbfgs_max_iter:
        with torch.enable_grad():
            theta.grad = None
            objective().backward()
        gnorm = float(theta.grad.norm())
        if gnorm <= args.lbfgs_tol * max(1.0, 2 * lam * float(theta.detach().norm())):
            break
        opt.step(closure)
        iterations = opt.state[opt._params[0]]["n_iter"]
    with torch.no_grad():
        z = phi @ theta
        dz = torch.softmax(z, 1) - targets
        alpha = -dz / (2 * lam * n)
    fine_tune = time.perf_counter() - t0
    t1 = time.perf_counter()
    pts = test_points(model, run, tests)
    scores = torch.stack([alpha[:, c] * (phi @ phi_test[t]) for t, c, _ in pts])
    # The refit head's logit is the explained score (sum_i phi_i = Theta^T phi_t).
    pts = [(t, c, float(phi_test[t] @ theta.detach()[:, c])) for t, c, _ in pts]
    computation = time.perf_counter() - t1
    info = {"explained": pts, "fine_tune": fine_tune, "computation": computation,
            "lbfgs_iterations": iterations, "grad_norm": gnorm}
    return scores, info


RUNNERS = {
    "tracincp": m_tracincp,
    "influence": m_influence,
    "representer": m_representer,
    "tracking-ntk-final": m_tracking,
}


# ---------------------------------------------------------------------------------------------
# Timing, checking, CLI
# ---------------------------------------------------------------------------------------------





def reset_peak():
    """Resets the resident high-water mark (VmHWM) as genrep's bench does (Linux)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def vm_status_mib(key="VmHWM"):
    """VmHWM (resident high-water mark) or VmRSS from /proc/self/status, in MiB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def ru_maxrss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def canonical(name):
    name = name.strip()
    name = {"tracking:ntk-final": "tracking-ntk-final", "tracin": "tracincp"}.get(name, name)
    if name not in RUNNERS:
        sys.exit(f"unknown method {name!r}; expected one of {', '.join(METHODS)}")
    return name


def bench(run, args, methods):
    n_tests = min(args.tests, len(run.y_test))
    tests = list(range(n_tests))
    print(
        f"{run.cfg['task']['dataset']}:{'-vs-'.join(map(str, run.cfg['task']['pair'] or []))}: "
        f"{len(run.y_train)} training points, {n_tests} test points, methods {', '.join(methods)}; "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads",
        file=sys.stderr,
    )
    results = []
    for name in methods:
        reset_peak()
        rss_before = vm_status_mib("VmRSS")
        warmup = []
        for _ in range(args.warmup):
            start = time.perf_counter()
            RUNNERS[name](run, args, [tests[0]])
            warmup.append(time.perf_counter() - start)
            print(f"  {name}: warm-up (untimed): {warmup[-1]:.2f}s", file=sys.stderr)
        per_test, fine, comp, extra = [], [], [], []
        for t in tests:
            start = time.perf_counter()
            scores, info = RUNNERS[name](run, args, [t])
            per_test.append(time.perf_counter() - start)
            if "fine_tune" in info:
                fine.append(info["fine_tune"])
                comp.append(info["computation"])
            extra.append({k: v for k, v in info.items() if k not in ("fine_tune", "computation")})
            del scores
            print(f"  {name}: test {t}: {per_test[-1]:.2f}s", file=sys.stderr)
        batched = None
        if args.batched:
            start = time.perf_counter()
            RUNNERS[name](run, args, tests)
            batched = time.perf_counter() - start
        results.append({
            "method": name,
            "tests": n_tests,
            "total_seconds": sum(per_test),
            "per_test": stats(per_test),
            "per_test_seconds": per_test,
            "warmup_seconds": warmup,
            "fine_tune": stats(fine) if fine else None,
            "computation": stats(comp) if comp else None,
            "batched_seconds": batched,
            "peak_rss_mib": vm_status_mib("VmHWM"),
            "rss_before_mib": rss_before,
            "ru_maxrss_mib": ru_maxrss_mib(),
            "details": extra,
        })
    print(f"| method | {n_tests} test points, total (s) | per test point, mean ± sd (s) | min-max (s) | "
          f"{n_tests} test points in one call (s) | peak RSS (MiB) | RSS before (MiB) | ru_maxrss (MiB) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        p = r["per_test"]
        split = ""
        if r["fine_tune"]:
            f, c = r["fine_tune"], r["computation"]
            split = f" (fine-tune {f['mean']:.2f} ± {f['sd']:.2f} + computation {c['mean']:.3f} ± {c['sd']:.3f})"
        fmt = lambda v, d: "-" if v is None else f"{v:.{d}f}"  # noqa: E731
        print(f"| `{r['method']}` (PyTorch) | {r['total_seconds']:.2f} | {p['mean']:.2f} ± {p['sd']:.2f}{split} | "
              f"{p['min']:.2f}-{p['max']:.2f} | {fmt(r['batched_seconds'], 1)} | {fmt(r['peak_rss_mib'], 0)} | "
              f"{fmt(r['rss_before_mib'], 0)} | {r['ru_maxrss_mib']:.0f} |")
    if args.json:
        meta = {
            "run": os.path.abspath(run.path),
            "train_points": len(run.y_train),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "options": {k: v for k, v in vars(args).items() if k not in ("json",)},
        }
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "methods": results}, f, indent=2)


def read_scores_csv(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return np.array([float(r["score"]) for r in sorted(rows, key=lambda r: int(r["train_index"]))])


def compare(py, g):
    d = np.abs(py - g)
    scale = np.max(np.abs(g))
    r = float(np.corrcoef(py, g)[0, 1]) if np.std(py) > 0 and np.std(g) > 0 else float("nan")
    k = min(10, len(g))
    top = lambda s: set(np.argsort(-s)[:k].tolist())  # noqa: E731
    bot = lambda s: set(np.argsort(s)[:k].tolist())  # noqa: E731
    return {
        "pearson": r,
        "max_abs_diff": float(d.max()),
        "max_rel_diff": float(d.max() / scale) if scale > 0 else float("nan"),
        "top10_overlap": len(top(py) & top(g)) / k,
        "bottom10_overlap": len(bot(py) & bot(g)) / k,
        "sign_agreement": float(np.mean(np.sign(py) == np.sign(g))),
    }


def check(run, args, methods):
    os.makedirs(args.out_dir, exist_ok=True)
    rows = []
    for name in methods:
        scores, info = RUNNERS[name](run, args, args.test_index)
        for r, (t, c, s) in enumerate(info["explained"]):
            path = os.path.join(args.out_dir, f"py_{name}-{t}.csv")
            with open(path, "w") as f:
                f.write("train_index,score\n")
                for i, v in enumerate(scores[r].tolist()):
                    f.write(f"{i},{v!r}\n")
            row = {"method": name, "test": t, "class": c, "score": s, "sum_phi": float(scores[r].sum()), "csv": path}
            if "cg" in info:
                row["cg"] = info["cg"][r]
            if "lbfgs_iterations" in info:
                row["lbfgs_iterations"] = info["lbfgs_iterations"]
            if args.genrep_csv:
                gpath = args.genrep_csv.format(method=name, test=t)
                if os.path.exists(gpath):
                    row.update(compare(scores[r].numpy(), read_scores_csv(gpath)))
                    gj = os.path.splitext(gpath)[0] + ".json"
                    if os.path.exists(gj):
                        with open(gj) as f:
                            meta = json.load(f)
                        row["genrep_class"], row["genrep_score"] = meta["explained_class"], meta["score"]
                else:
                    row["missing"] = gpath
            rows.append(row)
    print("| method | test | class (genrep) | s(x) PyTorch / genrep | Pearson r | max abs diff | "
          "max diff / max abs genrep | top-10 / bottom-10 overlap |")
    print("|---|---|---|---|---|---|---|---|")
    for w in rows:
        if "pearson" in w:
            print(f"| `{w['method']}` | {w['test']} | {w['class']} ({w.get('genrep_class', '?')}) | "
                  f"{w['score']:.6g} / {w.get('genrep_score', float('nan')):.6g} | {w['pearson']:.6f} | "
                  f"{w['max_abs_diff']:.3g} | {w['max_rel_diff']:.3g} | "
                  f"{w['top10_overlap']:.1f} / {w['bottom10_overlap']:.1f} |")
        else:
            print(f"| `{w['method']}` | {w['test']} | {w['class']} | {w['score']:.6g} | - | - | - | - |"
                  f"{' (no genrep CSV at ' + w['missing'] + ')' if 'missing' in w else ''}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="run directory written by `genrep train`")
    ap.add_argument("--data", default=os.environ.get("GENREP_DATA", "/work/shared/datasets"),
                    help="datasets directory holding mnist/*.gz (default: $GENREP_DATA)")
    ap.add_argument("--tests", type=int, default=10, help="number of test points (the first ones)")
    ap.add_argument("--methods", default="tracincp,influence,representer,tracking-ntk-final")
    ap.add_argument("--hessian-sample", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="write the results as JSON here")
    ap.add_argument("--warmup", type=int, default=1,
                    help="untimed calls per method before timing (lazy init of torch/vmap/Captum); "
                         "0 = genrep's protocol exactly")
    ap.add_argument("--batched", action="store_true", help="also time one call for all test points")
    ap.add_argument("--lambda", dest="lam", type=float, default=3e-3, help="representer L2 penalty")
    ap.add_argument("--damping", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=0, help="seed of the Hessian subsample")
    ap.add_argument("--cg-tol", type=float, default=1e-3)
    ap.add_argument("--cg-max-iter", type=int, default=50)
    ap.add_argument("--lbfgs-tol", type=float, default=1e-6)
    ap.add_argument("--lbfgs-max-iter", type=int, default=5000)
    ap.add_argument("--gn-jvp", choices=("jvp", "double-backward", "fd"), default="jvp",
                    help="how the Gauss-Newton product gets J v (fd = genrep's central difference)")
    ap.add_argument("--contract", choices=("grads", "jvp"), default="grads",
                    help="influence / tracking contraction: per-example gradients (genrep's "
                         "algorithm) or one forward-mode JVP per batch")
    ap.add_argument("--chunk", type=int, default=128, help="per-example gradient chunk (vmap batch)")
    ap.add_argument("--batch-size", type=int, default=256, help="Captum TracInCP training batch")
    ap.add_argument("--check", action="store_true", help="write scores as CSV (and compare with genrep's)")
    ap.add_argument("--test-index", default="0", help="--check: comma-separated test indices")
    ap.add_argument("--out-dir", default=".", help="--check: where py_<method>-<test>.csv go")
    ap.add_argument("--genrep-csv", help="--check: genrep CSV path pattern with {method} and {test}, "
                    "e.g. 'DIR/g_{method}-{test}.csv' (from `genrep explain --csv DIR/g_METHOD.csv`)")
    ap.add_argument("--selftest", action="store_true", help="check the ChaCha port against test vectors")
    args = ap.parse_args()
    _selftest_chacha()
    if args.selftest:
        print("ChaCha test vectors: ok")
        return
    torch.set_num_threads(args.threads)
    methods = [canonical(m) for m in args.methods.split(",") if m.strip()]
    args.test_index = [int(t) for t in args.test_index.split(",")]
    t0 = time.perf_counter()
    run = Run(args.run, args.data)
    print(f"loaded run and task in {time.perf_counter() - t0:.1f}s: {len(run.y_train)} train / "
          f"{len(run.y_test)} test", file=sys.stderr)
    if args.check:
        check(run, args, methods)
    else:
        bench(run, args, methods)


if __name__ == "__main__":
    main()
