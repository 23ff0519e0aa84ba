#!/usr/bin/env python3
"""PyTorch side of `genrep bench grads`: per-example gradient contractions with torch.func.

For the first `--examples` training examples of a genrep run (same network and weights, read
from the run's final safetensors checkpoint, same data) it computes
`s[i, t] = < d/dtheta [ w_i . f(x_i) ], v_t >` for `--tests` parameter vectors `v_t` (the
gradients of test logits), with per-example gradients from `torch.func.vmap(torch.func.grad(...))`
in batches of `--batch` examples, contracted with the `v_t` by one matrix product per batch.
Output weights `w_i` are -1 at the label and 1/C elsewhere, as in `genrep bench grads`.

    bench/.venv/bin/python bench/pytorch_grads.py --run runs/mnist38 --examples 1024 --tests 1 --reps 3
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from torch.func import functional_call, grad, vmap

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_common import stats  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", required=True)
    ap.add_argument("--examples", type=int, default=1024)
    ap.add_argument("--tests", type=int, default=1)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from pytorch_explain import Run  # noqa: E402  (the run, its rebuilt task and final weights)

    run = Run(args.run, os.environ.get("GENREP_DATA", "datasets"))
    model, x_train, y_train, x_test = run.model, run.x_train, run.y_train, run.x_test
    n = min(args.examples, len(y_train))
    x, y = x_train[:n], y_train[:n]
    params = {k: v.detach() for k, v in model.named_parameters()}
    c = model.head.out_features

    def out(p, xi, wi):
        return (functional_call(model, p, (xi.unsqueeze(0),))[0] * wi).sum()

    # Test vectors: gradients of test logits (class 0), flattened in parameter order.
    vs = []
    for t in range(args.tests):
        g = grad(lambda p: functional_call(model, p, (x_test[t : t + 1],))[0, 0])(params)
        vs.append(torch.cat([g[k].reshape(-1) for k in params]))
    vt = torch.stack(vs, 1)  # [p, T]
    w = torch.full((n, c), 1.0 / c)
    w[torch.arange(n), y] = -1.0
    per_example = vmap(grad(out), in_dims=(None, 0, 0))

    def contract():
        s = []
        for start in range(0, n, args.batch):
            g = per_example(params, x[start : start + args.batch], w[start : start + args.batch])
            flat = torch.cat([g[k].reshape(g[k].shape[0], -1) for k in params], 1)
            s.append(flat @ vt)
        return torch.cat(s)

    contract()  # warm-up
    rates = []
    for r in range(args.reps):
        t0 = time.perf_counter()
        contract()
        secs = time.perf_counter() - t0
        rates.append(n / secs)
        print(f"  [torch.func] rep {r}: {secs:.2f}s ({n / secs:.0f} examples/s)", file=sys.stderr)
    st = stats(rates)
    if args.json:
        print(json.dumps({"run": args.run, "examples": n, "tests": args.tests, "examples_per_s": rates, "stats": st}))
    else:
        print(f"torch.func vmap(grad): {st['median']:.0f} examples/s median ({n} examples x {args.tests} vectors)")


if __name__ == "__main__":
    main()
