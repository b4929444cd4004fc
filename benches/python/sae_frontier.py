#!/usr/bin/env python3
"""Every sae-mnist architecture on mnist-10k (h = 256, 20 epochs, batch 256, lr 1e-3) against
the frontier of the PyTorch reference (shared/reference/torch_sae_frontier.py, figures from its
README): test EV of each run, and the reference's EV at the same L0, interpolated linearly in
log L0 between the reference's two neighbouring runs of the same method.

    cargo build --release -p sae-mnist && python3 benches/python/sae_frontier.py [--epochs 20]
"""
import argparse, json, math, os, subprocess, sys, tempfile

# (L0, test EV) of the reference runs, per method (torch_sae_frontier.py's README, 2-core
# machine, PyTorch 2.15, h = 256, 20 epochs).
REFERENCE = {
    "relu + l1-dec": [(12.6, 0.691), (22.8, 0.771), (35.8, 0.812), (60.1, 0.847), (89.1, 0.872)],
    "topk": [(8.0, 0.719), (16.0, 0.781), (32.0, 0.831), (64.0, 0.873)],
    "batchtopk": [(8.3, 0.724), (16.7, 0.792), (32.5, 0.837), (65.1, 0.879)],
    "jumprelu": [(11.0, 0.749), (14.3, 0.775), (22.6, 0.803), (26.1, 0.825), (35.1, 0.836), (72.4, 0.889)],
    "gated": [(10.9, 0.748), (23.1, 0.810), (43.8, 0.847), (81.6, 0.882)],
}

RUNS = [
    ("relu + l1-dec", "relu + l1-dec", ["--arch", "relu", "--penalty", "l1-dec", "--lambda", "0.8"]),
    ("topk k=32", "topk", ["--arch", "topk", "--k", "32"]),
    ("batchtopk k=16", "batchtopk", ["--arch", "batchtopk", "--k", "16"]),
    ("batchtopk k=32", "batchtopk", ["--arch", "batchtopk", "--k", "32"]),
    ("matryoshka k=32", "batchtopk", ["--arch", "matryoshka", "--k", "32"]),
    ("jumprelu λ=0.1", "jumprelu", ["--arch", "jumprelu", "--lambda", "0.1"]),
    ("gated λ=1.5", "gated", ["--arch", "gated", "--lambda", "1.5"]),
    ("l0 λ=0.2", "relu + l1-dec", ["--arch", "l0", "--lambda", "0.2"]),
    ("l0 λ=0.1", "relu + l1-dec", ["--arch", "l0", "--lambda", "0.1"]),
]


def interpolate(points, l0):
    for (a, ea), (b, eb) in zip(points, points[1:]):
        if a <= l0 <= b:
            t = (math.log(l0) - math.log(a)) / (math.log(b) - math.log(a))
            return ea + t * (eb - ea)
    return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--binary", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", "target"), "release", "sae-mnist"))
    p.add_argument("--only", nargs="*", help="labels to run")
    args = p.parse_args()
    out = tempfile.mkdtemp(prefix="sae-frontier-")
    print("| run | reference method | test EV | L0 | dead | γ | reference EV at this L0 | difference | s/epoch |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for label, method, flags in RUNS:
        if args.only and label not in args.only:
            continue
        run_dir = os.path.join(out, label.replace(" ", "_").replace("=", ""))
        cmd = [args.binary, "--quiet", "--epochs", str(args.epochs), "--hidden", "256", "--out", run_dir, *flags]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            print(f"| {label} | failed: {res.stderr.strip().splitlines()[-1] if res.stderr else res.returncode} |")
            continue
        m = json.load(open(os.path.join(run_dir, "metrics.json")))
        t = m["test"]
        secs = sum(e["seconds"] for e in m["epochs"]) / len(m["epochs"])
        ref = interpolate(REFERENCE[method], t["l0"])
        ref_s = f"{ref:.3f}" if ref is not None else "— (outside the reference's L0 range)"
        diff = f"{t['explained_variance'] - ref:+.3f}" if ref is not None else "—"
        print(f"| {label} | {method} | {t['explained_variance']:.3f} | {t['l0']:.1f} | {t['dead_fraction']:.3f} "
              f"| {t['gamma']:.3f} | {ref_s} | {diff} | {secs:.2f} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
