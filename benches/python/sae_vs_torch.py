#!/usr/bin/env python3
"""Side-by-side quality benchmark: sae-mnist against the plain PyTorch reference recipe.

Runs both implementations on the same data with the same settings (256 latents, 20 epochs,
batch 256, lr 1e-3) for the two configurations of the quality table (topk k = 32; relu with
the decoder-norm-weighted L1, lambda = 0.8), one after the other on this machine, and prints a
Markdown table of test EV, L0, dead fraction, gamma and seconds per epoch, with the checks
(|dEV| <= 0.02, L0 within 15 %).

The reference script is not part of this repository; pass its path (it lives beside the
project, ../shared/reference/torch_sae_mnist.py, in the team's workspace). PyTorch comes from
a virtual environment that this script creates when it is missing:

    python3 benches/python/sae_vs_torch.py --reference ../shared/reference/torch_sae_mnist.py

It builds nothing: build the example first (cargo build --release -p sae-mnist, or the test
build with --features wgpu) and point --sae at the binary if it is not target/release/sae-mnist.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

CONFIGS = [
    ("topk k=32", ["--arch", "topk", "--k", "32"], ["--arch", "topk", "--k", "32"]),
    ("relu + L1·‖W_d‖, λ=0.8", ["--arch", "relu", "--penalty", "l1-dec", "--lambda", "0.8"],
     ["--arch", "relu", "--l1", "0.8"]),
]


def ensure_venv(venv):
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        print(f"creating {venv} with torch and numpy (about 3 GB)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "torch", "numpy"], check=True)
    return python


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # benches/python/ -> the workspace
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reference", required=True, help="path of torch_sae_mnist.py")
    ap.add_argument("--venv", default="/var/tmp/sae-ref-venv")
    ap.add_argument("--sae", default=os.path.join(root, "target", "release", "sae-mnist"))
    ap.add_argument("--data", default=os.path.join(root, "data", "mnist-10k"))
    ap.add_argument("--backend", default="flex")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    python = ensure_venv(a.venv)
    common = ["--hidden", "256", "--epochs", str(a.epochs)]
    rows = []
    for name, ours, theirs in CONFIGS:
        out = subprocess.run(
            [python, a.reference, a.data, *theirs, *common, "--threads", str(a.threads)],
            check=True, capture_output=True, text=True).stdout
        m = re.search(r"ev=([\d.]+) l0=([\d.]+) dead=([\d.]+) gamma=([\d.]+) train_s=([\d.]+)", out)
        if not m:
            sys.exit(f"cannot parse the reference's output:\n{out}")
        t_ev, t_l0, t_dead, t_gamma, t_s = map(float, m.groups())
        with tempfile.TemporaryDirectory() as tmp:
            run_dir = os.path.join(tmp, "run")
            start = time.perf_counter()
            subprocess.run([a.sae, *ours, *common, "--batch-size", "256", "--lr", "1e-3",
                            "--data-dir", a.data, "--backend", a.backend, "--out", run_dir, "--quiet"],
                           check=True, capture_output=True, text=True)
            wall = time.perf_counter() - start
            with open(os.path.join(run_dir, "metrics.json")) as f:
                metrics = json.load(f)
        test = metrics["test"]
        s_epoch = sum(e["seconds"] for e in metrics["epochs"]) / len(metrics["epochs"])
        ok_ev = abs(test["explained_variance"] - t_ev) <= 0.02
        ok_l0 = abs(test["l0"] - t_l0) <= 0.15 * t_l0
        rows.append((name, test, s_epoch, wall, (t_ev, t_l0, t_dead, t_gamma, t_s / a.epochs), ok_ev and ok_l0))
    print(f"| setting | implementation | test EV | L0 | dead | γ | s/epoch | within 0.02 EV and 15 % L0 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, test, s_epoch, wall, (t_ev, t_l0, t_dead, t_gamma, t_se), ok in rows:
        print(f"| {name} | PyTorch reference ({a.threads} threads) | {t_ev:.4f} | {t_l0:.1f} | {t_dead:.3f} | {t_gamma:.3f} | {t_se:.3f} | |")
        print(f"| {name} | sae-mnist ({a.backend}) | {test['explained_variance']:.4f} | {test['l0']:.1f} | "
              f"{test['dead_fraction']:.3f} | {test['gamma']:.3f} | {s_epoch:.3f} | {'yes' if ok else 'NO'} |")
    sys.exit(0 if all(r[-1] for r in rows) else 1)


if __name__ == "__main__":
    main()
