#!/usr/bin/env python3
"""A `sae-mnist sweep --benchmark mnist` frontier against the PyTorch reference's
(shared/reference/torch_sae_frontier.py, the table "EV at equal L0" of its README: h = 256,
20 epochs, mnist-10k): test EV at L0 16 / 32 / 64, interpolated linearly in log L0, ours and
the reference's, and their difference.

    python3 benches/python/frontier_vs_reference.py results/mnist/frontier.csv
"""
import csv, math, sys

# Reference EV at equal L0 (torch_sae_frontier.py's README); None where its runs do not
# bracket that L0. jumprelu is the θ₀ = 0.3 series, jumprelu-0.5 the θ₀ = 0.5 one.
REFERENCE = {
    "l1": (0.723, 0.802, 0.851),
    "tanh": (0.753, 0.812, 0.857),
    "logsum": (0.753, 0.816, 0.860),
    "scad": (0.733, 0.808, 0.860),
    "mcp": (0.746, 0.814, 0.861),
    "lp": (0.754, 0.813, 0.858),
    "lp-anneal": (0.756, 0.811, 0.855),
    "topk": (0.781, 0.831, 0.873),
    "batchtopk": (0.788, 0.836, 0.878),
    "jumprelu": (None, 0.829, 0.880),
    "jumprelu-0.5": (0.784, None, None),
    "gated": (0.779, 0.829, 0.868),
}
L0S = (16.0, 32.0, 64.0)


def at(points, l0):
    for (a, ya), (b, yb) in zip(points, points[1:]):
        if a <= l0 <= b:
            return ya if b - a < 1e-12 else ya + (math.log(l0) - math.log(a)) / (math.log(b) - math.log(a)) * (yb - ya)
    return None


def main():
    rows = list(csv.DictReader(open(sys.argv[1])))
    curves = {}
    for r in rows:
        curves.setdefault(r["method"], []).append((float(r["l0"]), float(r["ev"])))
    print("| method | " + " | ".join(f"L0 {int(l)}: ours / reference (difference)" for l in L0S) + " |")
    print("| --- |" + " --- |" * len(L0S))
    worst = 0.0
    for method, ref in REFERENCE.items():
        pts = sorted(curves.get(method, []))
        cells = []
        for l0, want in zip(L0S, ref):
            got = at(pts, l0)
            if got is None or want is None:
                cells.append("—" if got is None else f"{got:.3f} / —")
                continue
            worst = max(worst, abs(got - want))
            cells.append(f"{got:.3f} / {want:.3f} ({got - want:+.3f})")
        print(f"| {method} | " + " | ".join(cells) + " |")
    print(f"\nlargest |difference|: {worst:.3f}")


if __name__ == "__main__":
    main()
