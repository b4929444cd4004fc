#!/usr/bin/env python3
"""Load an SAE directory with the real Python package and compare its outputs with ours.

Usage:
    python scripts/interop/check_saelens.py DIR --input X.npy --codes CODES.npy \
        --recon RECON.npy [--atol 1e-5] [--rtol 1e-5]

DIR is detected by its weights file:
  * sae_weights.safetensors  -> SAELens 6.x: `sae_lens.SAE.load_from_disk(DIR, device="cpu")`;
                                codes = sae.encode(X), recon = sae(X) (forward: input
                                normalisation in, its inverse out).
  * sae.safetensors          -> EleutherAI sparsify: `SparseCoder.load_from_disk(DIR)`;
                                codes = top-k activations scattered into a dense [n, d_sae]
                                array, recon = sae(X).sae_out.
X is run as float32 [n, d_in]. An array matches when max|ours - theirs| <= atol + rtol *
max(|ours|, |theirs|). Exit status: 0 OK, 1 mismatch or load failure, 2 bad usage.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import struct
import sys
import traceback
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

# sparsify picks a Triton decoder when triton is importable; that kernel needs CUDA.
os.environ.setdefault("SPARSIFY_DISABLE_TRITON", "1")

import numpy as np

SAELENS_WEIGHTS = "sae_weights.safetensors"
SPARSIFY_WEIGHTS = "sae.safetensors"
CFG = "cfg.json"

SAFETENSORS_DTYPE = {
    "float32": "F32",
    "float64": "F64",
    "float16": "F16",
    "bfloat16": "BF16",
}


def pkg_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def safetensors_header(path: Path) -> dict:
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n))


def load_npy(path: str, what: str) -> np.ndarray:
    arr = np.load(path, allow_pickle=False)
    if arr.ndim != 2:
        raise ValueError(f"{what} {path}: expected a 2-D array, got shape {arr.shape}")
    return arr


def run_saelens(d: Path, x: np.ndarray, notes: list[str]):
    import torch

    with contextlib.redirect_stdout(io.StringIO()):
        from sae_lens import SAE

    cfg = json.loads((d / CFG).read_text())
    meta = cfg.get("metadata") or {}
    if not (cfg.get("sae_lens_version") or meta.get("sae_lens_version")):
        notes.append(
            "cfg.json has no metadata.sae_lens_version: SAELens takes its legacy pre-6.0 path"
        )
    # SAELens casts every stored tensor to cfg["dtype"] silently; catch a mismatch here.
    cfg_dtype = str(cfg.get("dtype", "float32")).removeprefix("torch.")
    want = SAFETENSORS_DTYPE.get(cfg_dtype)
    header = safetensors_header(d / SAELENS_WEIGHTS)
    bad = {
        k: v["dtype"]
        for k, v in header.items()
        if k != "__metadata__" and want is not None and v["dtype"] != want
    }
    if bad:
        raise ValueError(f"stored tensor dtypes {bad} differ from cfg dtype {cfg_dtype!r}")

    sae = SAE.load_from_disk(str(d), device="cpu")
    sae.eval()
    info = {
        "package": f"sae-lens {pkg_version('sae-lens')}",
        "architecture": sae.cfg.architecture(),
        "d_in": sae.cfg.d_in,
        "d_sae": sae.cfg.d_sae,
        "dtype": str(sae.dtype).removeprefix("torch."),
        "details": {
            "apply_b_dec_to_input": sae.cfg.apply_b_dec_to_input,
            "normalize_activations": sae.cfg.normalize_activations,
        },
    }
    for extra in ("k", "rescale_acts_by_decoder_norm"):
        if hasattr(sae.cfg, extra):
            info["details"][extra] = getattr(sae.cfg, extra)
    if x.shape[1] != sae.cfg.d_in:
        raise ValueError(f"input has {x.shape[1]} columns, SAE d_in is {sae.cfg.d_in}")
    xt = torch.from_numpy(x)
    with torch.no_grad():
        codes = sae.encode(xt)
        recon = sae(xt)
    return info, codes.float().numpy(), recon.float().numpy()


def run_sparsify(d: Path, x: np.ndarray, notes: list[str]):
    import torch

    with contextlib.redirect_stdout(io.StringIO()):
        from sparsify import SparseCoder

    sae = SparseCoder.load_from_disk(d, device="cpu")
    sae.eval()
    cfg = sae.cfg
    info = {
        "package": f"eai-sparsify {pkg_version('eai-sparsify')}",
        "architecture": f"sparsify {cfg.activation}"
        + (" transcoder" if cfg.transcode else "")
        + (" +skip" if cfg.skip_connection else ""),
        "d_in": sae.d_in,
        "d_sae": sae.num_latents,
        "dtype": str(sae.dtype).removeprefix("torch."),
        "details": {"k": cfg.k, "normalize_decoder": cfg.normalize_decoder},
    }
    if sae.W_dec is not None and cfg.normalize_decoder:
        norms = sae.W_dec.detach().float().norm(dim=-1)
        dev = float((norms - 1).abs().max())
        if dev > 1e-3:
            notes.append(
                f"normalize_decoder is true but W_dec rows are not unit norm (max |norm-1| = "
                f"{dev:.3g}); sparsify does not renormalise on load, so this is harmless "
                "for inference"
            )
    if x.shape[1] != sae.d_in:
        raise ValueError(f"input has {x.shape[1]} columns, SAE d_in is {sae.d_in}")
    xt = torch.from_numpy(x).to(sae.dtype)
    with torch.no_grad():
        enc = sae.encode(xt)
        dense = torch.zeros(xt.shape[0], sae.num_latents, dtype=enc.top_acts.dtype)
        dense.scatter_(-1, enc.top_indices, enc.top_acts)
        recon = sae(xt).sae_out
    return info, dense.float().numpy(), recon.float().numpy()


def compare(name: str, ours: np.ndarray, theirs: np.ndarray, atol: float, rtol: float):
    if ours.shape != theirs.shape:
        return False, f"{name}: shape mismatch: ours {ours.shape} vs package {theirs.shape}"
    ours64 = ours.astype(np.float64)
    theirs64 = theirs.astype(np.float64)
    if not np.isfinite(ours64).all():
        return False, f"{name}: our array has non-finite values"
    diff = float(np.abs(ours64 - theirs64).max()) if ours.size else 0.0
    scale = float(max(np.abs(ours64).max(), np.abs(theirs64).max())) if ours.size else 0.0
    tol = atol + rtol * scale
    ok = diff <= tol
    line = f"{name}: max abs diff {diff:.3e} (tol {tol:.3e}, max|value| {scale:.4g})"
    if name == "codes":
        # informational: entries active on one side only
        support = int(((np.abs(ours64) > tol) != (np.abs(theirs64) > tol)).sum())
        line += f", support differs at {support} entries"
    return ok, line


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dir", help="SAE directory (cfg.json + sae_weights.safetensors or sae.safetensors)")
    p.add_argument("--input", required=True, help="float32 [n, d_in] .npy inputs")
    p.add_argument("--codes", required=True, help="our codes, [n, d_sae] .npy")
    p.add_argument("--recon", required=True, help="our reconstructions, [n, d_in] .npy")
    p.add_argument("--atol", type=float, default=1e-5)
    p.add_argument("--rtol", type=float, default=1e-5, help="tolerance per unit of max|value|")
    args = p.parse_args(argv)

    d = Path(args.dir)
    print(f"== {d}")
    try:
        has_saelens = (d / SAELENS_WEIGHTS).is_file()
        has_sparsify = (d / SPARSIFY_WEIGHTS).is_file()
        if not (d / CFG).is_file():
            raise FileNotFoundError(f"{d / CFG} not found")
        if has_saelens and has_sparsify:
            raise ValueError(f"both {SAELENS_WEIGHTS} and {SPARSIFY_WEIGHTS} present: ambiguous")
        if not (has_saelens or has_sparsify):
            raise FileNotFoundError(f"neither {SAELENS_WEIGHTS} nor {SPARSIFY_WEIGHTS} in {d}")
        x = load_npy(args.input, "input").astype(np.float32)
        ours_codes = load_npy(args.codes, "codes")
        ours_recon = load_npy(args.recon, "recon")
        notes: list[str] = []
        fmt = "SAELens" if has_saelens else "sparsify"
        run = run_saelens if has_saelens else run_sparsify
        info, codes, recon = run(d, x, notes)
    except Exception as e:  # noqa: BLE001 - any load failure is a failed check
        traceback.print_exc(file=sys.stdout)
        print(f"LOAD FAILURE: {type(e).__name__}: {e}")
        return 1

    print(f"format: {fmt}  package: {info['package']}  architecture: {info['architecture']}")
    details = ", ".join(f"{k}={v}" for k, v in info["details"].items())
    print(f"d_in={info['d_in']} d_sae={info['d_sae']} dtype={info['dtype']}  {details}")
    print(f"rows: {x.shape[0]}")
    for n in notes:
        print(f"note: {n}")
    ok_c, line_c = compare("codes", ours_codes, codes, args.atol, args.rtol)
    ok_r, line_r = compare("recon", ours_recon, recon, args.atol, args.rtol)
    print(line_c)
    print(line_r)
    if ok_c and ok_r:
        print("OK")
        return 0
    print("MISMATCH")
    return 1


if __name__ == "__main__":
    sys.exit(main())
