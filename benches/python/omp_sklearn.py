#!/usr/bin/env python3
"""scikit-learn's side of `cargo bench -p sparse-losses --bench omp`
(crates/sparse-losses/benches/omp.rs).

Reads the problems the bench wrote (raw little-endian float32: D [n_features, n_atoms] and
X [n_signals, n_features]), times `sklearn.linear_model.orthogonal_mp` on them (float64, as a
user would pass numpy arrays; the fast `precompute=True` mode and the default), and writes
the timings and codes for the bench to compare. Creates its own virtual environment with
scikit-learn on first use (--venv).
"""
import json
import os
import subprocess
import sys
import time


def ensure_venv(venv):
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        print(f"creating {venv} with scikit-learn", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "scikit-learn"], check=True)
    return python


def main():
    args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
    venv, work = args["--venv"], args["--dir"]
    if os.path.realpath(sys.prefix) != os.path.realpath(venv):
        python = ensure_venv(venv)
        os.execv(python, [python, *sys.argv])
    import numpy as np
    from sklearn.linear_model import orthogonal_mp
    import sklearn
    spec = json.load(open(os.path.join(work, "problems.json")))
    out = {"sklearn": sklearn.__version__, "problems": []}
    for p in spec["problems"]:
        f, n, b, k = p["n_features"], p["n_atoms"], p["n_signals"], p["k"]
        d = np.fromfile(os.path.join(work, p["name"] + ".D.f32"), "<f4").reshape(f, n).astype(np.float64)
        x = np.fromfile(os.path.join(work, p["name"] + ".X.f32"), "<f4").reshape(b, f).astype(np.float64)
        row = {"name": p["name"]}
        for mode, pre in (("precompute", True), ("default", False)):
            times = []
            for _ in range(p["repeats"]):
                t = time.perf_counter()
                codes = orthogonal_mp(d, x.T, n_nonzero_coefs=k, precompute=pre).T
                times.append(time.perf_counter() - t)
            row[mode] = sorted(times)[len(times) // 2]
        codes.astype("<f4").tofile(os.path.join(work, p["name"] + ".C.f32"))
        out["problems"].append(row)
    json.dump(out, open(os.path.join(work, "sklearn.json"), "w"))


if __name__ == "__main__":
    main()
