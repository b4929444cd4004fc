#!/usr/bin/env python3
"""Burn (sae-bench) against PyTorch (benches/python/torch_bench.py), side by side, on this machine's CPU:
runs both, one after the other, with the same thread count, and prints one Markdown table.

    python3 benches/python/vs_torch.py penalties                   # 2 threads, flex,flex-chain,ndarray
    python3 benches/python/vs_torch.py step --threads 2 --out results/step-vs-torch.md
    python3 benches/python/vs_torch.py --merge RUST.json [TORCH.json] [--out FILE.md]   # no running

Run mode
  Rust:    RAYON_NUM_THREADS=<threads> cargo run --release -p sae-bench --features wgpu --
           <subcommand> --json TMP --backends <backends> [--reps N | --steps N] [--warmup N]
           [--size S] [--shapes ...] [--archs ...]      (or --sae-bench BINARY instead of cargo run)
  PyTorch: <venv>/bin/python benches/python/torch_bench.py <subcommand> --device cpu --threads <threads>
           --json TMP [the same options]
  XDG_RUNTIME_DIR is set to a private temporary folder when it is unset (wgpu asks for one).
  The venv is $SAE_BENCH_VENV or /var/tmp/sae-ref-venv (--venv), created with torch and numpy
  when missing, as benches/python/sae_vs_torch.py does.

Merge mode (--merge): reads the JSON files of sae-bench and torch_bench (any records of either
tool in either file; backends named torch-* are PyTorch's) and prints the tables; it needs
neither torch nor cargo (scripts/gpu-bench.sh uses it). Without a PyTorch file the PyTorch
columns are "—".

Tables. Penalties: case | shape | ms per Burn backend | PyTorch ms | read+write ms (the first
Burn backend's copy record for that shape: one read and one write of the tensor, a floor for
any elementwise penalty) | first backend / PyTorch | first backend / read+write.
Step: arch | shape | ms per Burn backend | PyTorch ms | first backend / PyTorch. A ratio above
1 means Burn is slower. A case one side lacks shows "—".
"""
import argparse
import datetime
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))  # benches/python/ -> the workspace
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no benches/__pycache__
import torch_bench  # noqa: E402  (imports without torch: ensure_venv, cpu_model)

DASH = "—"


def fmt_ms(ms):
    if ms is None:
        return DASH
    return f"{ms:.3f}" if ms < 100 else f"{ms:.1f}"


def fmt_ratio(a, b):
    if a is None or b is None or b <= 0:
        return DASH
    return f"{a / b:.2f}"


def load(path):
    with open(path) as f:
        return json.load(f)


def gpu_name():
    smi = shutil.which("nvidia-smi")
    if not smi:
        return None
    try:
        out = subprocess.run([smi, "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=20).stdout.strip().splitlines()
        return out[0].strip() if out else None
    except (OSError, subprocess.SubprocessError):
        return None


def tables(docs):
    """The Markdown tables of the records of `docs` (parsed JSON files)."""
    records = [r for d in docs for r in d.get("records", [])]
    burn, torch_backend = [], None
    for r in records:
        b = r.get("backend", "?")
        if b.startswith("torch"):
            torch_backend = torch_backend or b
        elif b not in burn:
            burn.append(b)
    first = burn[0] if burn else None
    ms = {}  # (kind, name, shape, backend) -> ms
    order = {"penalty": [], "step": []}
    for r in records:
        kind = r.get("kind")
        shape = tuple(r.get("shape", ()))
        name = r.get("case") if kind == "penalty" else r.get("arch") if kind == "step" else None
        ms[(kind, name, shape, r.get("backend"))] = r.get("ms")
        if kind in order and (name, shape) not in order[kind]:
            order[kind].append((name, shape))
    out = []
    if order["penalty"]:
        head = ["case", "shape", *[f"{b} ms" for b in burn], "PyTorch ms", "read+write ms",
                f"{first} / PyTorch", f"{first} / read+write"]
        out += ["| " + " | ".join(head) + " |", "| --- | --- |" + " ---: |" * (len(head) - 2)]
        for name, shape in order["penalty"]:
            ours = [ms.get(("penalty", name, shape, b)) for b in burn]
            theirs = ms.get(("penalty", name, shape, torch_backend))
            copy = ms.get(("copy", None, shape, first))
            f = ours[0] if ours else None
            cells = [name, str(list(shape)), *map(fmt_ms, ours), fmt_ms(theirs), fmt_ms(copy),
                     fmt_ratio(f, theirs), fmt_ratio(f, copy)]
            out.append("| " + " | ".join(cells) + " |")
    if order["step"]:
        if out:
            out.append("")
        head = ["arch", "shape", *[f"{b} ms" for b in burn], "PyTorch ms", f"{first} / PyTorch"]
        out += ["| " + " | ".join(head) + " |", "| --- | --- |" + " ---: |" * (len(head) - 2)]
        for name, shape in order["step"]:
            ours = [ms.get(("step", name, shape, b)) for b in burn]
            theirs = ms.get(("step", name, shape, torch_backend))
            f = ours[0] if ours else None
            cells = [name, "x".join(map(str, shape)), *map(fmt_ms, ours), fmt_ms(theirs), fmt_ratio(f, theirs)]
            out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def header(docs, commands, torch_missing=None, note=None):
    subs = sorted({d.get("subcommand", "?") for d in docs})
    torch_doc = next((d for d in docs if d.get("tool") == "torch"), None)
    machine = [torch_bench.cpu_model()]
    backends = {r.get("backend", "") for d in docs for r in d.get("records", [])}
    gpu = (torch_doc or {}).get("machine") if "torch-cuda" in backends else None
    if not gpu and any(b in backends for b in ("cuda", "wgpu", "torch-cuda")):
        gpu = next((d["machine"] for d in docs if d.get("machine") and d.get("tool") != "torch"), None) or gpu_name()
    if gpu:
        machine.append(gpu)
    threads = sorted({str(d["threads"]) for d in docs if d.get("threads") is not None})
    sizes = sorted({str(d["size"]) for d in docs if d.get("size")})
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"**Burn (sae-bench) vs PyTorch: {', '.join(subs)}** — {date}; machine: {', '.join(machine)}; "
             f"threads: {'/'.join(threads) or '?'}; size: {'/'.join(sizes) or '?'}; PyTorch "
             f"{torch_doc.get('torch_version', '?') if torch_doc else DASH}"]
    if note:
        lines.append(note)
    if torch_missing:
        lines.append(f"PyTorch not run: {torch_missing}")
    if commands:
        lines.append("commands: " + "; ".join(f"`{c}`" for c in commands))
    lines.append("ms: median time of one forward + backward (penalties) or one training step; "
                 "ratios above 1: Burn slower.")
    return "\n".join(lines)


def emit(text, out):
    print(text)
    if out:
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        with open(out, "w") as f:
            f.write(text + "\n")


def merge(paths, out, torch_missing=None, given=()):
    """Tables of the JSON files `paths`. `given`: the commands that made the non-PyTorch files
    (they replace those files' own "command" fields in the header)."""
    docs = [load(p) for p in paths]
    commands = list(given) + [d["command"] for d in docs
                              if d.get("command") and not (given and d.get("tool") != "torch")]
    commands.append(shlex.join(["python3", "benches/python/vs_torch.py", "--merge", *paths]))
    if torch_missing is None and not any(d.get("tool") == "torch" for d in docs):
        torch_missing = "no PyTorch JSON given"
    emit(header(docs, commands, torch_missing) + "\n\n" + tables(docs), out)


def run(a):
    python = torch_bench.ensure_venv(a.venv)
    load1 = os.getloadavg()[0]
    if load1 > 0.5:
        print(f"vs_torch: warning: load average {load1:.2f} on {os.cpu_count()} CPUs before the run; "
              "other processes skew the timings (OpenMP's threads suffer most)", file=sys.stderr)
    env = dict(os.environ, RAYON_NUM_THREADS=str(a.threads))
    shared = []
    if a.subcommand == "penalties" and a.reps is not None:
        shared += ["--reps", str(a.reps)]
    if a.subcommand == "step" and a.steps is not None:
        shared += ["--steps", str(a.steps)]
    if a.warmup is not None:
        shared += ["--warmup", str(a.warmup)]
    if a.size:
        shared += ["--size", a.size]
    if a.shapes and a.subcommand == "step":
        shared += ["--shapes", a.shapes]
    if a.archs and a.subcommand == "step":
        shared += ["--archs", a.archs]
    with tempfile.TemporaryDirectory() as tmp:
        rust_json, torch_json = os.path.join(tmp, "rust.json"), os.path.join(tmp, "torch.json")
        if not env.get("XDG_RUNTIME_DIR"):  # wgpu wants one; private (0700), removed at the end
            env["XDG_RUNTIME_DIR"] = os.path.join(tmp, "xdg-runtime")
            os.mkdir(env["XDG_RUNTIME_DIR"], 0o700)
        rust_args = [a.subcommand, "--json", rust_json, "--backends", a.backends, *shared]
        if a.sae_bench:
            rust = [a.sae_bench, *rust_args]
        else:
            rust = ["cargo", "run", "--release", "-p", "sae-bench", "--features", "wgpu", "--", *rust_args]
        theirs = [python, os.path.join("benches", "torch_bench.py"), a.subcommand, "--device", "cpu",
                  "--threads", str(a.threads), "--json", torch_json, *shared]
        shown = [f"RAYON_NUM_THREADS={a.threads} " + shlex.join(c).replace(tmp + "/", "")
                 for c in (rust, theirs)]
        for cmd, text in zip((rust, theirs), shown):
            print(f"+ {text}", file=sys.stderr, flush=True)
            r = subprocess.run(cmd, cwd=ROOT, env=env, stdout=sys.stderr)
            if r.returncode != 0:
                sys.exit(f"vs_torch: exit status {r.returncode} from: {text}")
        docs = [load(rust_json), load(torch_json)]
        if a.keep_json:
            os.makedirs(a.keep_json, exist_ok=True)
            for name, path in (("rust", rust_json), ("torch", torch_json)):
                shutil.copy(path, os.path.join(a.keep_json, f"{name}-{a.subcommand}.json"))
    note = f"load average before the run: {load1:.2f} on {os.cpu_count()} CPUs"
    emit(header(docs, shown, note=note) + "\n\n" + tables(docs), a.out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("subcommand", nargs="?", choices=["penalties", "step"])
    ap.add_argument("--merge", nargs="+", metavar="JSON", help="RUST.json [TORCH.json ...]: merge only, run nothing")
    ap.add_argument("--torch-missing", metavar="WHY", help="merge: a line saying why PyTorch did not run")
    ap.add_argument("--command", action="append", metavar="CMD",
                    help="merge: the command that made the Burn file, for the header (repeatable)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--backends", default="flex,flex-chain,ndarray")
    ap.add_argument("--reps", type=int, help="penalties: timed reps (both sides' default when unset)")
    ap.add_argument("--steps", type=int, help="step: timed steps (both sides' default when unset)")
    ap.add_argument("--warmup", type=int)
    ap.add_argument("--size", choices=["cpu", "gpu"], help="passed to both sides when set")
    ap.add_argument("--shapes", help="step: BxDxH,... passed to both sides")
    ap.add_argument("--archs", help="step: relu-l1dec,topk,batchtopk (a subset), passed to both sides")
    ap.add_argument("--venv", default=torch_bench.DEFAULT_VENV)
    ap.add_argument("--sae-bench", help="a built sae-bench binary to run instead of cargo run")
    ap.add_argument("--keep-json", metavar="DIR", help="copy both JSON files here")
    ap.add_argument("--out", help="also write the Markdown here")
    a = ap.parse_args()
    if a.merge:
        merge(a.merge, a.out, a.torch_missing, a.command or ())
    elif a.subcommand:
        run(a)
    else:
        ap.error("give a subcommand (penalties or step) or --merge")


if __name__ == "__main__":
    main()
