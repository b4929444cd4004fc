#!/usr/bin/env python3
"""Pruning one large layer, ours against PyTorch, in one run on the same machine and threads.

`sae-bench prune --save DIR` writes the layer (W [4096, 4096], X [2048, 4096] by default) as
w.npy and x.npy; this script times PyTorch on exactly those arrays, then runs
`sae-bench prune --load DIR` (ours, on flex), and prints both side by side:

- magnitude 50 %: `torch.nn.utils.prune.l1_unstructured` on a `Linear`;
- Wanda 50 % (|W| · ‖X_col‖₂, per output row): a few torch ops;
- SparseGPT 50 % and 2:4: the reference algorithm (SPEC.md "Pruning (v3)": block size 128,
  damp 0.01) written here in torch float32, as the IST-DASLab implementation structures it
  (Cholesky, Cholesky inverse, upper Cholesky; a column loop inside each block; the block's
  error applied to the remaining columns with one product).

    python3 benches/python/prune_vs_torch.py --python /var/tmp/interop-venv/bin/python \
        --bench target/release/sae-bench --threads 2

(--python: an interpreter with torch and numpy; the script re-runs itself with it.)
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def torch_side(directory, threads):
    import numpy as np
    import torch
    import torch.nn.utils.prune as torch_prune

    torch.set_num_threads(threads)
    w = torch.tensor(np.load(os.path.join(directory, "w.npy")))
    x = torch.tensor(np.load(os.path.join(directory, "x.npy")))
    out, cols = w.shape
    records = []

    def timed(name, pattern, f):
        f()  # warm-up (allocations, thread pool)
        t0 = time.time()
        mask = f()
        records.append({"method": name, "pattern": pattern, "seconds": time.time() - t0,
                        "sparsity": float((mask == 0).float().mean())})

    def magnitude():
        layer = torch.nn.Linear(cols, out, bias=False)
        with torch.no_grad():
            layer.weight.copy_(w)
        torch_prune.l1_unstructured(layer, "weight", amount=0.5)
        return layer.weight_mask

    def wanda():
        score = w.abs() * x.norm(dim=0)
        k = int(0.5 * cols)
        idx = torch.sort(score, dim=1, stable=True)[1][:, :k]
        mask = torch.ones_like(w)
        mask.scatter_(1, idx, 0.0)
        return mask

    def sparsegpt(nm, block=128, damp=0.01):
        W = w.clone()
        n = x.shape[0]
        H = (2.0 / n) * (x.T @ x)
        dead = torch.diag(H) == 0
        H[dead, dead] = 1.0
        W[:, dead] = 0.0
        H += damp * torch.mean(torch.diag(H)) * torch.eye(cols)
        L = torch.linalg.cholesky(H)
        Hinv = torch.cholesky_inverse(L)
        U = torch.linalg.cholesky(Hinv, upper=True)
        mask = torch.ones_like(W)
        for i1 in range(0, cols, block):
            i2 = min(i1 + block, cols)
            W1 = W[:, i1:i2].clone()
            U1 = U[i1:i2, i1:i2]
            d = torch.diag(U1)
            Q1 = torch.zeros_like(W1)
            E1 = torch.zeros_like(W1)
            pruned = torch.zeros_like(W1, dtype=torch.bool)
            if nm is None:
                score = (W1 ** 2 / d.reshape(1, -1) ** 2).flatten()
                k = int(0.5 * score.numel())
                pruned.view(-1)[torch.sort(score, stable=True)[1][:k]] = True
            for c in range(i2 - i1):
                if nm is not None and c % nm[1] == 0:
                    g = W1[:, c:c + nm[1]] ** 2 / d[c:c + nm[1]].reshape(1, -1) ** 2
                    low = torch.sort(g, dim=1, stable=True)[1][:, :nm[1] - nm[0]]
                    pruned[:, c:c + nm[1]].scatter_(1, low, True)
                col = W1[:, c]
                q = col.clone()
                q[pruned[:, c]] = 0.0
                err = (col - q) / d[c]
                W1[:, c:] -= err.unsqueeze(1) @ U1[c, c:].unsqueeze(0)
                Q1[:, c] = q
                E1[:, c] = err
            W[:, i1:i2] = Q1
            W[:, i2:] -= E1 @ U[i1:i2, i2:]
            mask[:, i1:i2][pruned] = 0.0
        return mask

    with torch.no_grad():
        timed("magnitude", "50 %", magnitude)
        timed("wanda", "50 %", wanda)
        timed("sparsegpt", "50 %", lambda: sparsegpt(None))
        timed("sparsegpt", "2:4", lambda: sparsegpt((2, 4)))
    return {"torch": torch.__version__, "threads": threads, "records": records}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--bench", default="target/release/sae-bench")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--torch-only", metavar="DIR", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.torch_only:
        print(json.dumps(torch_side(a.torch_only, a.threads)))
        return
    directory = a.dir or tempfile.mkdtemp(prefix="prune-bench-")
    env = dict(os.environ, RAYON_NUM_THREADS=str(a.threads))
    subprocess.run([a.bench, "prune", "--save", directory], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    theirs = json.loads(subprocess.run([a.python, __file__, "--torch-only", directory,
                                        "--threads", str(a.threads)], check=True,
                                       capture_output=True, text=True).stdout)
    ours_json = os.path.join(directory, "ours.json")
    subprocess.run([a.bench, "prune", "--load", directory, "--json", ours_json], check=True,
                   env=env, stdout=subprocess.DEVNULL)
    ours = json.load(open(ours_json))
    print(f"W [{ours['out']}, {ours['in']}], X [{ours['rows']}, {ours['in']}]; "
          f"{a.threads} threads; torch {theirs['torch']}\n")
    print("| method | pattern | ours (s) | PyTorch (s) | ours / PyTorch |")
    print("| --- | --- | --- | --- | --- |")
    for o, t in zip(ours["records"], theirs["records"]):
        assert (o["method"], o["pattern"]) == (t["method"], t["pattern"]), (o, t)
        print(f"| {o['method']} | {o['pattern']} | {o['seconds']:.2f} | {t['seconds']:.2f} | "
              f"{o['seconds'] / t['seconds']:.2f} |")


if __name__ == "__main__":
    main()
