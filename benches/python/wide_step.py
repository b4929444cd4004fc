#!/usr/bin/env python3
"""Wide SAEs on the CPU: one training step of ours (sae-bench step, Flex) against the same SAE in
eager PyTorch (torch_bench.py step), at LLM widths, with the peak memory of each.

Every (architecture, shape) runs in a process of its own on each side, one after the other, so
that the peak resident memory the kernel reports for that process (wait4's ru_maxrss) is that
step's: the model, Adam's state, the batch and everything the step allocates. Both sides use the
same thread count. Prints one Markdown table: ms per step, rows per second, the ratio of rows per
second (above 1: ours is faster) and both peaks.

    cargo build --release -p sae-bench
    python3 benches/python/wide_step.py --threads 2 --steps 2 --warmup 1

Defaults: batch 4096, d_in 768, d_sae 16384 and 65536, k = 32 (topk, batchtopk) and relu with
L1 on the decoder-weighted codes (λ = 0.8); the recipe of torch_bench.py's Sae class.
PyTorch comes from the venv $SAE_BENCH_VENV (see torch_bench.py).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import torch_bench  # noqa: E402  (imports without torch)


def run_measured(cmd, env):
    """Runs cmd; returns (exit status, peak RSS in MiB) from wait4."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    err = proc.stderr.read().decode(errors="replace")
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-2000:]}")
    return usage.ru_maxrss / 1024.0


def step_ms(path):
    with open(path) as f:
        records = json.load(f)["records"]
    steps = [r for r in records if r["kind"] == "step"]
    if len(steps) != 1:
        sys.exit(f"{path}: expected one step record, got {len(steps)}")
    return steps[0]["ms"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", default="4096x768x16384,4096x768x65536", help="BxDxH,...")
    ap.add_argument("--archs", default="topk,batchtopk,relu-l1dec")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=2, help="timed steps per case")
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    ap.add_argument("--sae-bench", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "sae-bench"))
    ap.add_argument("--venv", default=torch_bench.DEFAULT_VENV)
    ap.add_argument("--json", help="also write the rows here")
    args = ap.parse_args()

    if not os.path.exists(args.sae_bench):
        sys.exit(f"{args.sae_bench} not found: cargo build --release -p sae-bench (or --sae-bench)")
    python = torch_bench.ensure_venv(args.venv)
    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads),
               MKL_NUM_THREADS=str(args.threads))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for shape in args.shapes.split(","):
            batch = int(shape.lower().split("x")[0])
            for arch in args.archs.split(","):
                ours_json = os.path.join(tmp, "ours.json")
                torch_json = os.path.join(tmp, "torch.json")
                ours_mib = run_measured(
                    [args.sae_bench, "step", "--backends", "flex", "--shapes", shape, "--archs", arch,
                     "--steps", str(args.steps), "--warmup", str(args.warmup), "--json", ours_json], env)
                torch_mib = run_measured(
                    [python, os.path.join(HERE, "torch_bench.py"), "step", "--device", "cpu",
                     "--threads", str(args.threads), "--shapes", shape, "--archs", arch,
                     "--steps", str(args.steps), "--warmup", str(args.warmup), "--json", torch_json], env)
                ours, theirs = step_ms(ours_json), step_ms(torch_json)
                row = {"arch": arch, "shape": shape, "ours_ms": ours, "torch_ms": theirs,
                       "ours_rows_s": batch / ours * 1e3, "torch_rows_s": batch / theirs * 1e3,
                       "ours_peak_mib": round(ours_mib), "torch_peak_mib": round(torch_mib)}
                rows.append(row)
                print(f"  {arch} {shape}: ours {ours:.0f} ms ({ours_mib:.0f} MiB), "
                      f"torch {theirs:.0f} ms ({torch_mib:.0f} MiB)", file=sys.stderr, flush=True)
    print(f"| arch | shape | ours ms | PyTorch ms | ours rows/s | PyTorch rows/s | rows/s ours ÷ PyTorch "
          f"| ours peak MiB | PyTorch peak MiB |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['arch']} | {r['shape']} | {r['ours_ms']:.0f} | {r['torch_ms']:.0f} | "
              f"{r['ours_rows_s']:.0f} | {r['torch_rows_s']:.0f} | {r['torch_ms'] / r['ours_ms']:.2f} | "
              f"{r['ours_peak_mib']} | {r['torch_peak_mib']} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": args.threads, "steps": args.steps, "warmup": args.warmup, "rows": rows}, f,
                      indent=1)


if __name__ == "__main__":
    main()
