#!/usr/bin/env python3
"""Write small reference SAE fixtures with the real `sae-lens` and `eai-sparsify` packages.

Each case directory under crates/sparse-autoencoders/tests/fixtures/interop/<case>/ holds
exactly what the package's own save function wrote (SAELens: `SAE.save_model`, i.e.
cfg.json + sae_weights.safetensors; sparsify: `SparseCoder.save_to_disk`, i.e.
cfg.json + sae.safetensors) plus three float32 .npy arrays computed by the package itself:

* inputs.npy  [12, 8]   inputs (rows of very different scales)
* codes.npy   [12, 24]  `sae.encode(x)` (sparsify: top_acts scattered into a dense array)
* recon.npy   [12, 8]   SAELens: `sae(x)` (forward, normalisation in and out);
                        sparsify: `sae(x).sae_out` (= decode(encode(x)))

Regenerate with:
    /var/tmp/interop-venv/bin/python scripts/interop/make_fixtures.py
The output is deterministic for fixed package versions (fixed torch seeds, CPU, float32).
"""

from __future__ import annotations

import os

# sparsify picks a Triton decoder when triton is importable; that kernel needs CUDA.
# Force its eager (embedding_bag) decoder so everything runs on CPU.
os.environ.setdefault("SPARSIFY_DISABLE_TRITON", "1")

import json
import shutil
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch

D_IN = 8
D_SAE = 24
N_ROWS = 12
K = 5

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "crates" / "sparse-autoencoders" / "tests" / "fixtures" / "interop"


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def uniform(g: torch.Generator, shape, lo: float, hi: float) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(shape, generator=g)


def random_signs(g: torch.Generator, shape) -> torch.Tensor:
    return torch.where(torch.rand(shape, generator=g) < 0.5, -1.0, 1.0)


def base_weights(seed: int) -> dict[str, torch.Tensor]:
    """W_enc [d_in, d_sae], b_enc, W_dec [d_sae, d_in] with non-unit rows, b_dec (all nonzero)."""
    g = gen(seed)
    w_enc = torch.randn(D_IN, D_SAE, generator=g) * 0.5
    b_enc = random_signs(g, (D_SAE,)) * uniform(g, (D_SAE,), 0.01, 0.08)
    w_dec_dir = torch.randn(D_SAE, D_IN, generator=g)
    w_dec_dir = w_dec_dir / w_dec_dir.norm(dim=-1, keepdim=True)
    # Row norms spread over [0.3, 1.6] so folding/rescaling by decoder norms matters.
    row_norms = uniform(g, (D_SAE, 1), 0.3, 1.6)
    w_dec = w_dec_dir * row_norms
    b_dec = random_signs(g, (D_IN,)) * uniform(g, (D_IN,), 0.02, 0.2)
    return {
        "W_enc": w_enc.contiguous(),
        "b_enc": b_enc.contiguous(),
        "W_dec": w_dec.contiguous(),
        "b_dec": b_dec.contiguous(),
    }


def base_inputs(seed: int) -> torch.Tensor:
    g = gen(seed)
    x = torch.randn(N_ROWS, D_IN, generator=g)
    # Mixed scales so input normalisation matters.
    scales = torch.tensor([1.0, 1.0, 5.0, 0.2, 1.0, 5.0, 2.0, 0.5, 10.0, 1.0, 0.05, 1.0])
    x = x * scales[:, None]
    # A row with a constant offset (layer-norm mean matters).
    x[9] = x[9] + 3.0
    return x.contiguous()


def few_positive_row(sae, pre_fn, seed: int) -> torch.Tensor:
    """Search candidate rows for one whose pre-activations have fewer than K positive entries,
    so the fixture exercises 'top-k of pre-ReLU values, then ReLU' (fewer than K nonzero codes)."""
    g = gen(seed)
    n = 200_000
    cand = torch.randn(n, D_IN, generator=g) * uniform(g, (n, 1), 0.1, 4.0)
    with torch.no_grad():
        pre = pre_fn(cand)
    n_pos = (pre > 0).sum(-1)
    # fewest positives, but at least one (so the row still has a nonzero code)
    n_pos_masked = torch.where(n_pos >= 1, n_pos, torch.full_like(n_pos, D_SAE + 1))
    best = int(torch.argmin(n_pos_masked))
    assert int(n_pos[best]) < K, f"no candidate row with < {K} positive pre-activations"
    return cand[best].clone(), int(n_pos[best])


def dense_codes_from_topk(top_acts: torch.Tensor, top_idx: torch.Tensor) -> torch.Tensor:
    codes = torch.zeros(top_acts.shape[0], D_SAE, dtype=top_acts.dtype)
    codes.scatter_(-1, top_idx, top_acts)
    return codes


def write_npy(d: Path, name: str, t: torch.Tensor) -> None:
    arr = t.detach().cpu().numpy().astype(np.float32)
    np.save(d / name, arr, allow_pickle=False)


def fresh_dir(name: str) -> Path:
    d = OUT / name
    if d.exists():
        shutil.rmtree(d)
    return d


# --------------------------------------------------------------------------- SAELens


def saelens_case(name: str, arch: str, seed: int, extra_cfg: dict, tweak=None) -> dict:
    from sae_lens import (
        GatedSAE,
        GatedSAEConfig,
        JumpReLUSAE,
        JumpReLUSAEConfig,
        StandardSAE,
        StandardSAEConfig,
        TopKSAE,
        TopKSAEConfig,
    )

    classes = {
        "standard": (StandardSAE, StandardSAEConfig),
        "topk": (TopKSAE, TopKSAEConfig),
        "jumprelu": (JumpReLUSAE, JumpReLUSAEConfig),
        "gated": (GatedSAE, GatedSAEConfig),
    }
    sae_cls, cfg_cls = classes[arch]
    cfg = cfg_cls(d_in=D_IN, d_sae=D_SAE, dtype="float32", device="cpu", **extra_cfg)
    sae = sae_cls(cfg)
    sae.eval()

    w = base_weights(seed)
    g = gen(seed + 1000)
    if arch == "jumprelu":
        thr = uniform(g, (D_SAE,), 0.1, 0.5)
        thr[3] = 1e-3
        thr[17] = 1e-3
        w["threshold"] = thr
    if arch == "gated":
        b_enc = w.pop("b_enc")
        w["b_gate"] = b_enc
        w["r_mag"] = torch.randn(D_SAE, generator=g) * 0.3
        w["b_mag"] = random_signs(g, (D_SAE,)) * uniform(g, (D_SAE,), 0.01, 0.1)
    if tweak is not None:
        tweak(w)

    expected = set(sae.state_dict().keys())
    assert expected == set(w), (name, expected, set(w))
    sae.load_state_dict(w, strict=True)

    x = base_inputs(seed + 2000)
    if arch == "topk":
        # Replace the last row with one that has < K positive pre-activations.
        def pre_fn(inp):
            sae_in = sae.process_sae_in(inp)
            h = sae_in @ sae.W_enc + sae.b_enc
            if sae.cfg.rescale_acts_by_decoder_norm:
                h = h * sae.W_dec.norm(dim=-1)
            return h

        row, npos = few_positive_row(sae, pre_fn, seed + 3000)
        x[N_ROWS - 1] = row
        print(f"  [{name}] last row has {npos} positive pre-activations (k={K})")
        # clear any per-call normalisation state the search may have left
        sae._setup_activation_normalization()

    d = fresh_dir(name)
    sae.save_model(d)

    with torch.no_grad():
        codes = sae.encode(x)
        sae._setup_activation_normalization()
        recon = sae(x)
        # decode(encode(x)) must equal forward
        recon2 = sae.decode(sae.encode(x))
        assert torch.allclose(recon, recon2), name

    if arch == "jumprelu":
        h = sae.process_sae_in(x) @ sae.W_enc + sae.b_enc
        between = int(((h > 0) & (h <= sae.threshold)).sum())
        print(f"  [{name}] {between} pre-activations in (0, threshold] (ReLU would keep them)")
        assert between > 0, name

    write_npy(d, "inputs.npy", x)
    write_npy(d, "codes.npy", codes)
    write_npy(d, "recon.npy", recon)
    return summarize(name, codes, recon, x, topk=(arch == "topk"))


# --------------------------------------------------------------------------- sparsify


def sparsify_case(name: str, seed: int) -> dict:
    from sparsify import SparseCoder, SparseCoderConfig

    cfg = SparseCoderConfig(k=K, num_latents=D_SAE)  # normalize_decoder default (True)
    sae = SparseCoder(D_IN, cfg, device="cpu", dtype=torch.float32)
    sae.eval()
    w = base_weights(seed)
    with torch.no_grad():
        sae.encoder.weight.copy_(w["W_enc"].T)  # nn.Linear weight is [d_sae, d_in]
        sae.encoder.bias.copy_(w["b_enc"])
        sae.W_dec.copy_(w["W_dec"])  # [d_sae, d_in]; deliberately NOT unit norm
        sae.b_dec.copy_(w["b_dec"])

    x = base_inputs(seed + 2000)

    def pre_fn(inp):
        # sparsify applies ReLU before top-k; count positives of the linear pre-activation.
        return torch.nn.functional.linear(inp - sae.b_dec, sae.encoder.weight, sae.encoder.bias)

    row, npos = few_positive_row(sae, pre_fn, seed + 3000)
    x[N_ROWS - 1] = row
    print(f"  [{name}] last row has {npos} positive pre-activations (k={K})")

    d = fresh_dir(name)
    sae.save_to_disk(d)

    with torch.no_grad():
        enc = sae.encode(x)
        codes = dense_codes_from_topk(enc.top_acts, enc.top_indices)
        out = sae(x)
        recon = out.sae_out
        recon2 = sae.decode(enc.top_acts, enc.top_indices)
        assert torch.allclose(recon, recon2), name

    write_npy(d, "inputs.npy", x)
    write_npy(d, "codes.npy", codes)
    write_npy(d, "recon.npy", recon)
    return summarize(name, codes, recon, x, topk=True)


# --------------------------------------------------------------------------- checks


def summarize(name, codes, recon, x, topk: bool) -> dict:
    codes = codes.detach()
    nnz = (codes != 0).sum(-1)
    max_abs = float(codes.abs().max())
    assert max_abs > 0, f"{name}: all codes are zero"
    assert int((nnz > 0).sum()) >= N_ROWS // 2, f"{name}: too many all-zero rows: {nnz.tolist()}"
    if topk:
        assert int(nnz.max()) <= K, f"{name}: more than {K} nonzeros in a row: {nnz.tolist()}"
    assert torch.isfinite(recon).all(), name
    rel = float(((recon - x).norm(dim=-1) / x.norm(dim=-1)).mean())
    print(
        f"{name:34s} max|codes|={max_abs:9.5f}  nnz/row={nnz.tolist()}  "
        f"max|recon|={float(recon.abs().max()):8.4f}  mean rel err={rel:.3f}"
    )
    return {"name": name, "max_abs_codes": max_abs, "nnz": nnz.tolist()}


def main() -> int:
    torch.manual_seed(0)
    torch.set_grad_enabled(False)
    OUT.mkdir(parents=True, exist_ok=True)
    print(
        f"sae-lens {version('sae-lens')}, eai-sparsify {version('eai-sparsify')}, "
        f"torch {torch.__version__}, numpy {np.__version__}"
    )

    saelens_case(
        "saelens-standard", "standard", 11,
        dict(normalize_activations="none", apply_b_dec_to_input=True),
    )
    saelens_case(
        "saelens-standard-no-bdec", "standard", 12,
        dict(normalize_activations="none", apply_b_dec_to_input=False),
    )
    saelens_case(
        "saelens-topk", "topk", 13,
        dict(k=K, rescale_acts_by_decoder_norm=False),
    )
    saelens_case(
        "saelens-topk-rescale", "topk", 14,
        dict(k=K, rescale_acts_by_decoder_norm=True),
    )
    saelens_case("saelens-jumprelu", "jumprelu", 15, dict())
    saelens_case("saelens-gated", "gated", 16, dict())
    saelens_case(
        "saelens-standard-constant-norm", "standard", 17,
        dict(normalize_activations="constant_norm_rescale"),
    )
    saelens_case(
        "saelens-standard-layer-norm", "standard", 18,
        dict(normalize_activations="layer_norm"),
    )
    saelens_case(
        "saelens-topk-layer-norm", "topk", 19,
        dict(k=K, normalize_activations="layer_norm"),
    )
    sparsify_case("sparsify-topk", 20)

    for d in sorted(p for p in OUT.iterdir() if p.is_dir()):
        files = sorted(f.name for f in d.iterdir())
        cfg = json.loads((d / "cfg.json").read_text())
        print(f"  {d.name}: {files}  cfg keys={list(cfg)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
