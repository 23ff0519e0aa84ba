#!/usr/bin/env python3
"""PyTorch CPU reference for `genrep bench train`.

The same network as genrep's default VisionCnn (conv5x5 32 'same' -> relu -> maxpool2 ->
conv5x5 64 'same' -> relu -> maxpool2 -> flatten -> linear head), the same MNIST data (the IDX
.gz files read directly, normalised with mean 0.1307 / std 0.3081, classes kept in file order),
the same batch size, plain SGD and softmax cross-entropy, with the same protocol: the first
`steps * batch_size` training examples, `warmup` untimed steps, then `reps` timed epochs of
exactly `steps` shuffled full batches, carrying the model over. Each step reads the loss back
(`loss.item()`), as genrep's trainer does.

Usage (see bench/README.md for the set-up):
    bench/.venv/bin/python bench/pytorch_train.py --task mnist:3-vs-8 --steps 20 --reps 5
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_common import TextCnn, VisionCnn, load_cifar, read_idx, stats, synthetic_tokens  # noqa: E402

MEAN, STD = 0.1307, 0.3081



def load_mnist(data_dir, task, split="train"):
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(os.path.join(data_dir, "mnist", f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, "mnist", f"{prefix}-labels-idx1-ubyte.gz")).astype(np.int64)
    if task == "mnist":
        classes = list(range(10))
    elif task.startswith("mnist:") and "-vs-" in task:
        classes = [int(c) for c in task.split(":", 1)[1].split("-vs-")]
    else:
        sys.exit(f"unsupported task {task!r} (mnist or mnist:A-vs-B)")
    keep = np.isin(labels, classes)
    remap = {c: i for i, c in enumerate(classes)}
    x = (images[keep].astype(np.float32) / 255.0 - MEAN) / STD
    y = np.array([remap[v] for v in labels[keep]], dtype=np.int64)
    return x[:, None, :, :], y, len(classes)








def run_epoch(model, opt, x, y, batch_size, gen):
    """One pass over (x, y) in shuffled full batches; returns (steps, mean loss)."""
    order = torch.randperm(len(y), generator=gen)
    steps, total = 0, 0.0
    for start in range(0, len(y), batch_size):
        idx = order[start : start + batch_size]
        xb, yb = x[idx], y[idx]
        logits = model(xb)
        loss = F.cross_entropy(logits, yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.item()
        steps += 1
    return steps, total / max(steps, 1)


def profile_layers(model, x, reps=10):
    """Per-layer forward and forward+backward times (ms) at the real batch shapes."""
    with torch.no_grad():
        a1 = model.conv1(x)
        p1 = model.pool(F.relu(a1))
        a2 = model.conv2(p1)
        p2 = model.pool(F.relu(a2))
        feats = torch.flatten(p2, 1)
    leaf = lambda t: t.detach().clone().requires_grad_(True)
    a1_in, p1_in, a2_in, f_in = leaf(a1), leaf(p1), leaf(a2), leaf(feats)
    cases = [
        ("conv1", lambda: model.conv1(x)),
        ("relu+pool1", lambda: model.pool(F.relu(a1_in))),
        ("pool1+relu", lambda: F.relu(model.pool(a1_in))),  # same function; not in the sum
        ("conv2", lambda: model.conv2(p1_in)),
        ("relu+pool2", lambda: model.pool(F.relu(a2_in))),
        ("head", lambda: model.head(f_in)),
    ]

    def timed(f):
        f()
        v = []
        for _ in range(reps):
            t = time.perf_counter()
            f()
            v.append((time.perf_counter() - t) * 1e3)
        return statistics.median(v)

    b = x.shape[0]
    print(f"profile [pytorch] per layer, batch {b}, median of {reps} (ms):")
    print(f"  {'layer':<12} {'forward':>9} {'backward':>9} {'fwd+bwd':>9}")
    tot_f = tot_b = 0.0
    for name, f in cases:
        tf = timed(f)
        tb = timed(lambda: f().sum().backward())
        if name != "pool1+relu":
            tot_f, tot_b = tot_f + tf, tot_b + tb
        print(f"  {name:<12} {tf:9.2f} {max(tb - tf, 0):9.2f} {tb:9.2f}")
    print(f"  {'sum':<12} {tot_f:9.2f} {tot_b - tot_f:9.2f} {tot_b:9.2f}  (without pool1+relu)")


def profile_step(model, opt, x, y, batch_size, steps=20):
    phases = ["gather", "forward", "loss", "backward", "optimizer"]
    times = {p: [] for p in phases}
    for s in range(2 * steps):
        idx = torch.arange(s % steps * batch_size, (s % steps + 1) * batch_size) % len(y)
        t0 = time.perf_counter()
        xb, yb = x[idx], y[idx]
        t1 = time.perf_counter()
        logits = model(xb)
        t2 = time.perf_counter()
        loss = F.cross_entropy(logits, yb)
        loss.item()
        t3 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        t4 = time.perf_counter()
        opt.step()
        t5 = time.perf_counter()
        if s >= steps:
            for p, (a, b) in zip(phases, [(t0, t1), (t1, t2), (t2, t3), (t3, t4), (t4, t5)]):
                times[p].append((b - a) * 1e3)
    med = {p: statistics.median(v) for p, v in times.items()}
    total = sum(med.values())
    print(f"profile [pytorch] one step, median over {steps} steps (ms):")
    for p in phases:
        print(f"  {p:<18} {med[p]:8.2f}  {100 * med[p] / total:5.1f}%")
    print(f"  {'sum':<18} {total:8.2f}  => {1e3 * batch_size / total:.1f} examples/s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--task", default="mnist:3-vs-8")
    ap.add_argument("--data-dir", default=os.environ.get("GENREP_DATA", "datasets"))
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu or cuda (scripts/gpu-check.sh)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    if args.task.startswith("mnist"):
        x_all, y_all, num_classes = load_mnist(args.data_dir, args.task)
        model = VisionCnn(num_classes)
        arch = f"vision-cnn(1x28x28, 32-64, k5, C={num_classes})"
    elif args.task.startswith("cifar10"):
        x_all, y_all, num_classes = load_cifar(args.data_dir, args.task)
        model = VisionCnn(num_classes, in_channels=3, height=32, width=32)
        arch = f"vision-cnn(3x32x32, 32-64, k5, C={num_classes})"
    elif args.task.startswith(("agnews", "toxicity")):
        n_tok = max(args.steps, args.warmup, 1) * args.batch_size
        x_all, y_all, num_classes = synthetic_tokens(n_tok, args.seq_len, seed=args.seed)
        model = TextCnn(num_classes)
        arch = f"text-cnn(V=30522, e=48, h=128, k5, C={num_classes}, L={args.seq_len}; synthetic token ids)"
    else:
        sys.exit(f"unsupported task {args.task!r}")
    n = args.steps * args.batch_size
    idx = np.arange(n) % len(y_all)
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: this torch has no CUDA device")
    dev = torch.device(args.device)
    model = model.to(dev)
    x, y = torch.from_numpy(x_all[idx].copy()).to(dev), torch.from_numpy(y_all[idx].copy()).to(dev)
    nw = max(args.warmup, 1) * args.batch_size
    widx = np.arange(nw) % len(y_all)
    xw, yw = torch.from_numpy(x_all[widx].copy()).to(dev), torch.from_numpy(y_all[widx].copy()).to(dev)

    opt = torch.optim.SGD(model.parameters(), lr=args.lr)
    nparams = sum(p.numel() for p in model.parameters())
    print(
        f"pytorch {torch.__version__} threads {torch.get_num_threads()}: task {args.task} "
        f"({len(y_all)} train examples available), {nparams} parameters, batch {args.batch_size}, "
        f"{args.warmup} warm-up steps, {args.reps} reps x {args.steps} steps, lr {args.lr}",
        file=sys.stderr,
    )
    if args.warmup > 0:
        t = time.perf_counter()
        run_epoch(model, opt, xw, yw, args.batch_size, gen)
        print(f"  [pytorch] warm-up: {args.warmup} steps in {time.perf_counter() - t:.2f}s", file=sys.stderr)
    rates = []
    for r in range(args.reps):
        t = time.perf_counter()
        steps, loss = run_epoch(model, opt, x, y, args.batch_size, gen)
        secs = time.perf_counter() - t
        rate = steps * args.batch_size / secs
        rates.append(rate)
        print(
            f"  [pytorch] rep {r + 1}: {steps} steps in {secs:.3f}s = {rate:.1f} examples/s "
            f"({1e3 * secs / steps:.1f} ms/step), train loss {loss:.4f}",
            file=sys.stderr,
        )
    s = stats(rates)
    if args.json:
        print(json.dumps({"device": f"pytorch-{args.device}", "task": args.task, "architecture": arch, "batch_size": args.batch_size,
                          "steps_per_rep": args.steps, "warmup_steps": args.warmup, "reps": args.reps,
                          "threads": torch.get_num_threads(), "torch": torch.__version__,
                          "examples_per_s": rates, "stats": s}))
    else:
        print(
            f"pytorch-{torch.__version__} {args.device} threads {torch.get_num_threads()} {arch} "
            f"batch {args.batch_size}: {s['median']:.1f} examples/s median "
            f"({1e3 * args.batch_size / s['median']:.1f} ms/step; mean {s['mean']:.1f} sd {s['sd']:.1f} "
            f"min {s['min']:.1f} max {s['max']:.1f} over {args.reps} reps x {args.steps} steps after "
            f"{args.warmup} warm-up)"
        )
    if args.profile and isinstance(model, VisionCnn):
        profile_step(model, opt, x, y, args.batch_size, steps=min(args.steps, 20))
        profile_layers(model, x[: args.batch_size])


if __name__ == "__main__":
    main()
