#!/usr/bin/env python3
"""The PyTorch side of `sae-bench`: every penalty's forward + backward, and one SAE training
step, in plain eager PyTorch (float32, autograd), timed the way `sae-bench` times Burn, with
the same JSON schema, so that `benches/python/vs_torch.py` can put the two side by side.

    python benches/python/torch_bench.py penalties --device cpu --threads 2 --json torch.json
    python benches/python/torch_bench.py step --device cuda --size gpu --json torch-step.json
    python benches/python/torch_bench.py check            # the penalties against their fixtures

Subcommands
  penalties  the 17 cases of sae-bench (label, shape, config as in
             crates/sparse-losses/tests/SPEC.md; λ = 1 and the other SPEC defaults).
             --size cpu: [256, 1024] codes, [784, 1024] weights, [64, 1, 28, 28] images;
             --size gpu: every 2-D case [4096, 4096], images [16, 1, 1024, 1024].
             Inputs uniform(-1, 1) (kl_sparsity: uniform(0, 1)), made once.
             One rep: x = base.detach().requires_grad_(); f(x).backward(); read x.grad[0].
             Plus one "copy" record per shape: base.clone() (one read, one write).
  step       one SAE training step (forward, loss = Σ-over-pixels MSE averaged over the batch +
             sparsity term, backward, Adam(lr 1e-3) step, zero_grad) for relu-l1dec (λ = 0.8,
             λ · mean_b Σ_j f_bj ‖W_d[j]‖₂), topk (k = 32, per row) and batchtopk (k = 32, the
             k·B largest relu(z) of the batch), the recipe of torch_sae_mnist.py /
             torch_sae_frontier.py (in ../shared/reference/, beside the workspace):
             z = (x − b_d) W_e + b_e, x̂ = f W_d + b_d, W_e ~ N(0, 1/d), W_d = W_eᵀ, b_e = 0,
             b_d = the data mean. Shapes BxDxH (--shapes); inputs uniform(0, 1).
  check      every case of the penalty fixtures (crates/sparse-losses/tests/fixtures/*.json),
             value and gradient, in float64 and float32, against SPEC.md rule 5's tolerances.
             Exit status 1 on a miss.

Timing (as sae-bench's; defaults: penalties --reps 41 --warmup 5, step --steps 10 --warmup 3).
CPU: median over --reps reps (after --warmup) of the time of one rep, which ends with
`.item()` on one gradient element (step: on the loss). CUDA: no host sync inside the timed
loop: --reps (--steps) reps back to back, then one torch.cuda.synchronize(); 3 such rounds, the median
of total/reps. Threads: torch.set_num_threads(--threads; default $RAYON_NUM_THREADS or the
CPU count).

JSON (--json FILE), the schema of sae-bench with backend "torch-cpu" or "torch-cuda":
  {"tool": "torch", "subcommand": "penalties", "threads": 2, "size": "cpu",
   "torch_version": "2.x", "machine": "...", "command": "...",
   "records": [{"kind": "penalty", "backend": "torch-cpu", "case": "l1", "shape": [256, 1024], "ms": 0.51},
               {"kind": "copy", "backend": "torch-cpu", "shape": [256, 1024], "ms": 0.03},
               {"kind": "step", "backend": "torch-cpu", "arch": "topk", "shape": [256, 784, 1024], "ms": 9.8}]}

Run with a Python that lacks torch, the CLI re-runs itself under the venv $SAE_BENCH_VENV
(default /var/tmp/sae-ref-venv), creating it (python -m venv; pip install torch numpy) when
missing. The module imports without torch (vs_torch.py uses ensure_venv and the helpers).
"""
import argparse
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time

try:
    import torch
except ImportError:  # vs_torch.py imports this module for ensure_venv, with or without torch
    torch = None

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the workspace
DEFAULT_VENV = os.environ.get("SAE_BENCH_VENV") or "/var/tmp/sae-ref-venv"


def ensure_venv(venv=DEFAULT_VENV):
    """The python of `venv`, which is created with torch and numpy when it is missing."""
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        print(f"creating {venv} with torch and numpy (about 3 GB)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "torch", "numpy"], check=True)
    return python


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# ---------------------------------------------------------------------------------------------
# The penalties, as a PyTorch user would write them (crates/sparse-losses/tests/SPEC.md; cfg
# holds the fields that differ from the SPEC defaults, as in the fixtures and sae-bench's case
# configs).
# ---------------------------------------------------------------------------------------------

def _tiny(x):
    return torch.finfo(x.dtype).tiny


def _nonzero(d):
    """d with its zeros replaced by 1, for a denominator whose numerator is 0 there (a
    clamp_min(tiny) would still give NaN gradients: tiny² underflows to 0)."""
    return torch.where(d > 0, d, torch.ones_like(d))


def l1(x, cfg):
    lam = cfg.get("lambda", 1.0)
    s = x.abs().sum()
    return lam * (s / x.numel() if cfg.get("reduction", "sum") == "mean" else s)


def elastic_net(x, cfg):
    lam, rho = cfg.get("lambda", 1.0), cfg.get("l1_ratio", 0.5)
    return lam * (rho * x.abs().sum() + 0.5 * (1 - rho) * x.pow(2).sum())


def group_index(cfg, device):
    """The group ids as a tensor on `device` and the number of indices in each group, made once
    per config and device (outside the timed loop: bincount and max would sync a GPU)."""
    key = ("_group_index", str(device))
    if key not in cfg:
        ids = torch.as_tensor(cfg["group_ids"], device=device)
        cfg[key] = ids, torch.bincount(ids)
    return cfg[key]


def group_lasso(x, cfg):
    lam, alpha = cfg.get("lambda", 1.0), cfg.get("l1_ratio", 0.0)
    axis = cfg.get("axis", 0) % x.dim()
    others = [d for d in range(x.dim()) if d != axis]
    per_index = x.numel() // x.shape[axis]  # elements of one slice along `axis`
    if cfg.get("group_ids") is None:  # one group per index along `axis`
        norms = torch.linalg.vector_norm(x, dim=others) if others else x.abs()
        sizes = torch.full_like(norms, float(per_index))
    else:  # indices sharing an id form one group: sums of squares gathered with index_add_
        ids, counts = group_index(cfg, x.device)
        sq = x.pow(2).sum(dim=others) if others else x.pow(2)
        gsq = torch.zeros(len(counts), dtype=x.dtype, device=x.device).index_add_(0, ids, sq)
        norms = gsq.clamp_min(_tiny(x)).sqrt()  # clamp: a zero group gets gradient 0, not NaN
        sizes = counts.to(x.dtype) * per_index
    w = sizes.sqrt() if cfg.get("weight_by_size", True) else torch.ones_like(sizes)
    value = (1 - alpha) * (w * norms).sum()
    if alpha:
        value = value + alpha * x.abs().sum()
    return lam * value


def kl_sparsity(x, cfg):
    rho, beta, eps = cfg.get("target", 0.05), cfg.get("beta", 1.0), cfg.get("eps", 1e-6)
    m = x.reshape(-1, x.shape[-1]).mean(0)
    rho_hat = m.clamp(eps, 1 - eps)
    # 1 − ρ̂ clamped on its own: float32's 1 − (1 − ε) is 1.3 % off ε, 1e-3 off in the value
    one_minus = (1 - m).clamp(eps, 1 - eps)
    kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / one_minus)
    return beta * kl.sum()


def hoyer(x, cfg):
    lam = cfg.get("lambda", 1.0)
    v = x.reshape(-1, x.shape[-1]) if cfg.get("per_row", False) else x.reshape(1, -1)
    l1_ = v.abs().sum(1)
    den = v.pow(2).sum(1) if cfg.get("squared", False) else torch.linalg.vector_norm(v, dim=1)
    num = l1_.pow(2) if cfg.get("squared", False) else l1_
    return lam * (num / _nonzero(den)).mean()  # a zero vector: 0 / 1 = 0


def total_variation(x, cfg):
    lam, kind = cfg.get("lambda", 1.0), cfg.get("kind", "anisotropic")
    if kind == "one_d":
        value = (x[..., 1:] - x[..., :-1]).abs().sum()
    else:
        dh = x[..., 1:, :] - x[..., :-1, :]
        dw = x[..., :, 1:] - x[..., :, :-1]
        if kind == "anisotropic":
            value = dh.abs().sum() + dw.abs().sum()
        elif kind == "squared":
            value = dh.pow(2).sum() + dw.pow(2).sum()
        elif kind == "isotropic":  # √(dh² + dw²) on the (H−1)×(W−1) grid; vector_norm's
            # gradient is 0 where both differences are 0 (hypot's and sqrt's would be NaN).
            # Stacked on a new last dim: a norm over a new first dim takes a 10x slower CPU path.
            pair = torch.stack((dh[..., :, :-1], dw[..., :-1, :]), dim=-1)
            value = torch.linalg.vector_norm(pair, dim=-1).sum()
        else:
            raise ValueError(f"total_variation kind {kind!r}")
    if cfg.get("reduction", "batch_mean") == "batch_mean":
        value = value / x.shape[0]
    return lam * value


def spike_and_slab(x, cfg):
    lam, pi = cfg.get("lambda", 1.0), cfg.get("slab_prob", 0.5)
    s_spike, s_slab = cfg.get("sigma_spike", 0.01), cfg.get("sigma_slab", 1.0)
    half_log_2pi = 0.5 * math.log(2 * math.pi)
    log_slab = math.log(pi) - x.pow(2) / (2 * s_slab ** 2) - math.log(s_slab) - half_log_2pi
    log_spike = math.log(1 - pi) - x.pow(2) / (2 * s_spike ** 2) - math.log(s_spike) - half_log_2pi
    # log-sum-exp of the two terms; logaddexp is 2x faster on the CPU than logsumexp over a stack
    return -lam * torch.logaddexp(log_slab, log_spike).sum()


def entropy(x, cfg):
    lam = cfg.get("lambda", 1.0)
    rows = x.reshape(-1, x.shape[-1])
    if cfg.get("normalize", "abs") == "softmax":
        logp = torch.log_softmax(rows / cfg.get("temperature", 1.0), dim=1)
        h = -(logp.exp() * logp).sum(1)
    else:
        a = rows.abs()
        p = a / _nonzero(a.sum(1, keepdim=True))  # a zero row gives p = 0, H = 0
        h = -(p * torch.log(p.clamp_min(_tiny(x)))).sum(1)  # 0 log 0 = 0
    return lam * h.mean()


def tanh(x, cfg):
    return cfg.get("lambda", 1.0) * torch.tanh(cfg.get("scale", 1.0) * x.abs()).sum()


def log_sum(x, cfg):
    return cfg.get("lambda", 1.0) * torch.log1p(x.abs() / cfg.get("eps", 0.1)).sum()


def lp(x, cfg):
    lam, p, eps = cfg.get("lambda", 1.0), cfg.get("p", 0.5), cfg.get("eps", 1e-3)
    return lam * ((x * x + eps * eps).pow(p / 2) - eps ** p).sum()


def scad(x, cfg):
    lam, a_ = cfg.get("lambda", 1.0), cfg.get("gamma", 3.7)
    u = x.abs()
    mid = (2 * a_ * lam * u - u * u - lam * lam) / (2 * (a_ - 1))
    flat = torch.full_like(u, lam * lam * (a_ + 1) / 2)
    return torch.where(u <= lam, lam * u, torch.where(u <= a_ * lam, mid, flat)).sum()


def mcp(x, cfg):
    lam, g = cfg.get("lambda", 1.0), cfg.get("gamma", 3.0)
    u = x.abs()
    return torch.where(u <= g * lam, lam * u - u * u / (2 * g), torch.full_like(u, g * lam * lam / 2)).sum()


PENALTIES = {f.__name__: f for f in (l1, elastic_net, group_lasso, kl_sparsity, hoyer, total_variation,
                                     spike_and_slab, entropy, tanh, log_sum, lp, scad, mcp)}


def penalty_cases(size):
    """(label, penalty, shape, config) of sae-bench's penalties subcommand."""
    gpu = size == "gpu"
    codes = [4096, 4096] if gpu else [256, 1024]
    weight = [4096, 4096] if gpu else [784, 1024]
    images = [16, 1, 1024, 1024] if gpu else [64, 1, 28, 28]
    groups = {"axis": 1, "group_ids": [i // (weight[1] // 16) for i in range(weight[1])]}
    return [
        ("l1", "l1", codes, {}),
        ("elastic_net", "elastic_net", codes, {}),
        ("group_lasso axis 0", "group_lasso", weight, {}),
        ("group_lasso 16 groups", "group_lasso", weight, groups),
        ("kl_sparsity", "kl_sparsity", codes, {}),
        ("hoyer", "hoyer", codes, {}),
        ("hoyer per_row", "hoyer", codes, {"per_row": True}),
        ("total_variation iso", "total_variation", images, {"kind": "isotropic"}),
        ("total_variation aniso", "total_variation", images, {}),
        ("spike_and_slab", "spike_and_slab", codes, {}),
        ("entropy abs", "entropy", codes, {}),
        ("entropy softmax", "entropy", codes, {"normalize": "softmax"}),
        ("tanh", "tanh", codes, {}),
        ("log_sum", "log_sum", codes, {}),
        ("lp", "lp", codes, {}),
        ("scad", "scad", codes, {}),
        ("mcp", "mcp", codes, {}),
    ]


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------

def time_ms(run, device, reps, warmup, rounds=3):
    """Median milliseconds of one `run()`. CPU: `run(True)` reads a value back (.item()) and
    each rep is timed alone. CUDA: `run(False)` reads nothing; reps run back to back and end
    with one synchronize; the median over `rounds` of total / reps."""
    if device.type == "cuda":
        for _ in range(warmup):
            run(False)
        torch.cuda.synchronize()
        totals = []
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(reps):
                run(False)
            torch.cuda.synchronize()
            totals.append((time.perf_counter() - start) / reps)
        return statistics.median(totals) * 1e3
    for _ in range(warmup):
        run(True)
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        run(True)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def bench_penalties(device, size, reps, warmup, backend):
    gen = torch.Generator(device=device).manual_seed(0)
    records, copied = [], set()
    for label, name, shape, cfg in penalty_cases(size):
        lo = 0.0 if name == "kl_sparsity" else -1.0
        base = torch.rand(shape, generator=gen, device=device) * (1 - lo) + lo
        f = PENALTIES[name]
        cfg = dict(cfg)
        if "group_ids" in cfg:
            group_index(cfg, device)  # the ids tensor, made before the timing

        def run(read, base=base, f=f, cfg=cfg):
            x = base.detach().requires_grad_()
            f(x, cfg).backward()
            probe = x.grad.view(-1)[0]
            return probe.item() if read else probe

        records.append({"kind": "penalty", "backend": backend, "case": label, "shape": list(shape),
                        "ms": round(time_ms(run, device, reps, warmup), 4)})
        if tuple(shape) not in copied:
            copied.add(tuple(shape))

            def copy(read, base=base):
                probe = base.clone().view(-1)[0]
                return probe.item() if read else probe

            records.append({"kind": "copy", "backend": backend, "shape": list(shape),
                            "ms": round(time_ms(copy, device, reps, warmup), 4)})
        del base
    return records


class Sae:
    """The reference recipe (torch_sae_mnist.py / torch_sae_frontier.py) for one arch."""

    def __init__(self, arch, d, h, data, k=32, lam=0.8, lr=1e-3):
        dev = data.device
        self.arch, self.k, self.lam = arch, k, lam
        self.We = torch.nn.Parameter(torch.randn(d, h, device=dev) * (1 / d ** 0.5))
        self.be = torch.nn.Parameter(torch.zeros(h, device=dev))
        self.Wd = torch.nn.Parameter(self.We.detach().t().clone())
        self.bd = torch.nn.Parameter(data.mean(0).clone())
        self.opt = torch.optim.Adam([self.We, self.be, self.Wd, self.bd], lr=lr)
        # batchtopk: the batches' threshold (smallest positive kept value), a running mean kept
        # on the device (the reference calls .item() on it every step; a host sync we skip)
        self.theta, self.n_theta = torch.zeros((), device=dev), 0

    def encode(self, x):
        z = (x - self.bd) @ self.We + self.be
        if self.arch == "relu-l1dec":
            return torch.relu(z)
        if self.arch == "topk":
            v, i = torch.topk(z, self.k, dim=1)
            return torch.zeros_like(z).scatter(1, i, torch.relu(v))
        if self.arch == "batchtopk":
            r = torch.relu(z).flatten()
            v, i = torch.topk(r, self.k * x.shape[0])
            with torch.no_grad():
                t = torch.where(v > 0, v, torch.full_like(v, math.inf)).amin()
                t = torch.where(torch.isinf(t), torch.zeros_like(t), t)
                self.n_theta += 1
                self.theta += (t - self.theta) / self.n_theta
            return torch.zeros_like(r).scatter(0, i, v).view_as(z)
        raise ValueError(f"arch {self.arch!r}")

    def step(self, x):
        f = self.encode(x)
        xh = f @ self.Wd + self.bd
        loss = ((xh - x) ** 2).sum(1).mean()
        if self.arch == "relu-l1dec":
            loss = loss + self.lam * (f * self.Wd.norm(dim=1)).sum(1).mean()
        loss.backward()
        self.opt.step()
        self.opt.zero_grad()
        return loss


ARCHS = ("relu-l1dec", "topk", "batchtopk")


def step_shapes(size, shapes=None):
    if shapes:
        return [[int(n) for n in s.lower().split("x")] for s in shapes.split(",")]
    out = [[256, 784, 1024], [4096, 784, 4096]]
    return out + [[4096, 768, 24576]] if size == "gpu" else out


def bench_step(device, shapes, steps, warmup, backend, archs=ARCHS):
    records = []
    for b, d, h in shapes:
        torch.manual_seed(0)
        x = torch.rand(b, d, device=device)
        for arch in archs:
            sae = Sae(arch, d, h, x)

            def run(read, sae=sae):
                loss = sae.step(x)
                return loss.item() if read else loss

            records.append({"kind": "step", "backend": backend, "arch": arch, "shape": [b, d, h],
                            "ms": round(time_ms(run, device, steps, warmup), 4)})
            del sae
        del x
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return records


# ---------------------------------------------------------------------------------------------
# Fixtures check
# ---------------------------------------------------------------------------------------------

def check_fixtures(folder, dtypes=("float64", "float32")):
    """Every case of the penalty fixtures: (lines, number of misses)."""
    lines, misses = [], 0
    for name, f in PENALTIES.items():
        path = os.path.join(folder, f"{name}.json")
        with open(path) as fh:
            cases = json.load(fh)["cases"]
        for dt in dtypes:
            dtype = getattr(torch, dt)
            worst_v = worst_g = 0.0
            bad = []
            for c in cases:
                t = c["input"]
                x = torch.tensor(t["data"], dtype=torch.float64).reshape(t["shape"]).to(dtype).requires_grad_()
                v = f(x, c["config"])
                v.backward()
                g = x.grad.double().reshape(-1)
                want_g = torch.tensor(c["grad"]["data"], dtype=torch.float64)
                ev = abs(v.item() - c["value"]) / max(abs(c["value"]), 1e-300) if c["value"] else abs(v.item())
                scale = want_g.abs().max().item()
                eg = (g - want_g).abs().max().item() / (scale if scale else 1.0)
                tol_v = 1e-4 if dt == "float32" else 1e-9
                tol_g = (1e-3 if scale else 1e-6) if dt == "float32" else (1e-9 if scale else 1e-12)
                ok = math.isfinite(v.item()) and bool(torch.isfinite(g).all()) and ev <= tol_v and eg <= tol_g
                worst_v, worst_g = max(worst_v, ev), max(worst_g, eg)
                if not ok:
                    bad.append(f"{c['id']} (value {ev:.2e}, grad {eg:.2e})")
            misses += len(bad)
            lines.append(f"{name:16s} {dt}: {len(cases)} cases, worst value rel {worst_v:.1e}, "
                         f"worst grad rel {worst_g:.1e}" + (f"; MISS: {', '.join(bad)}" if bad else ""))
    return lines, misses


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------

def markdown(records):
    out = []
    pens = [r for r in records if r["kind"] == "penalty"]
    copies = {tuple(r["shape"]): r["ms"] for r in records if r["kind"] == "copy"}
    if pens:
        out += ["| case | shape | PyTorch ms | read+write ms |", "| --- | --- | ---: | ---: |"]
        out += [f"| {r['case']} | {r['shape']} | {r['ms']:.3f} | {copies.get(tuple(r['shape']), float('nan')):.3f} |"
                for r in pens]
    steps = [r for r in records if r["kind"] == "step"]
    if steps:
        out += ["| arch | shape | PyTorch ms |", "| --- | --- | ---: |"]
        out += [f"| {r['arch']} | {'x'.join(map(str, r['shape']))} | {r['ms']:.3f} |" for r in steps]
    return "\n".join(out)


def dump_json(result):
    """The result as JSON text, one record per line."""
    head = {k: v for k, v in result.items() if k != "records"}
    lines = json.dumps(head)[:-1] + ', "records": [\n'
    lines += ",\n".join("  " + json.dumps(r) for r in result["records"])
    return lines + "\n]}\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("subcommand", choices=["penalties", "step", "check"])
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--threads", type=int,
                    default=int(os.environ.get("RAYON_NUM_THREADS") or os.cpu_count() or 1))
    ap.add_argument("--size", default="cpu", choices=["cpu", "gpu"])
    ap.add_argument("--reps", type=int, default=41, help="timed reps per penalty case")
    ap.add_argument("--warmup", type=int, help="untimed reps first (default: penalties 5, step 3)")
    ap.add_argument("--steps", type=int, default=10, help="timed steps per arch and shape")
    ap.add_argument("--shapes", help="step shapes BxDxH,... (default by --size)")
    ap.add_argument("--archs", default=",".join(ARCHS), help="step architectures, comma-separated")
    ap.add_argument("--fixtures", default=os.path.join(ROOT, "crates", "sparse-losses", "tests", "fixtures"))
    ap.add_argument("--json", help="write the records here")
    a = ap.parse_args(argv)

    torch.set_num_threads(a.threads)
    if a.subcommand == "check":
        lines, misses = check_fixtures(a.fixtures)
        print("\n".join(lines))
        print(f"{misses} case(s) outside SPEC.md rule 5's tolerances (float64: 1e-9)")
        return 1 if misses else 0

    if a.device == "cuda" and not torch.cuda.is_available():
        sys.exit("torch_bench: --device cuda but torch.cuda.is_available() is false")
    device = torch.device(a.device)
    backend = f"torch-{a.device}"
    machine = torch.cuda.get_device_name(device) if a.device == "cuda" else cpu_model()
    if a.subcommand == "penalties":
        records = bench_penalties(device, a.size, a.reps, 5 if a.warmup is None else a.warmup, backend)
    else:
        archs = a.archs.split(",")
        if not set(archs) <= set(ARCHS):
            sys.exit(f"torch_bench: --archs: choose from {', '.join(ARCHS)}")
        records = bench_step(device, step_shapes(a.size, a.shapes), a.steps,
                             3 if a.warmup is None else a.warmup, backend, archs)
    result = {"tool": "torch", "subcommand": a.subcommand, "threads": torch.get_num_threads(),
              "size": a.size, "torch_version": torch.__version__, "machine": machine,
              "command": shlex.join([sys.executable, os.path.relpath(__file__), *sys.argv[1:]]),
              "records": records}
    print(f"PyTorch {torch.__version__}, {backend}, {machine}, {torch.get_num_threads()} threads, size {a.size}")
    print(markdown(records))
    if a.json:
        with open(a.json, "w") as f:
            f.write(dump_json(result))
    return 0


if __name__ == "__main__":
    if torch is None:  # re-run under the venv's python (created when missing)
        if os.path.realpath(sys.prefix) == os.path.realpath(DEFAULT_VENV):
            sys.exit(f"torch_bench: cannot import torch with {sys.executable}")
        python = ensure_venv()
        os.execv(python, [python, os.path.abspath(__file__), *sys.argv[1:]])
    sys.exit(main())
