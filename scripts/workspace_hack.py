#!/usr/bin/env python3
"""Keeps crates/workspace-hack/Cargo.toml in step with the workspace (a small cargo-hakari).

Cargo resolves features per command, so two commands that enable different features of a crate
Burn depends on build Burn twice. This script asks `cargo tree` how every command of the README
and of .ci/run resolves each third-party crate, and writes the union of the features of every
crate that differs into the workspace-hack crate, which every member depends on. It repeats
until all commands agree.

    python3 scripts/workspace_hack.py          # rewrite the hack crate until the commands agree
    python3 scripts/workspace_hack.py --check  # exit 1 if any command still differs (CI)
"""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HACK = ROOT / "crates" / "workspace-hack" / "Cargo.toml"
# (cargo tree arguments, whether dev-dependencies are built): the README's commands, CI's, and
# each library crate built alone.
COMMANDS = [
    (["-p", "sae-mnist"], False),                       # cargo run --release -p sae-mnist
    (["-p", "sae-mnist", "--features", "wgpu"], False),  # the same with the GPU backend
    (["-p", "sae-bench"], False),                       # cargo run --release -p sae-bench
    (["-p", "sae-bench", "--features", "wgpu"], False),  # the same with the GPU backend
    (["--workspace", "--features", "wgpu"], True),       # cargo test/clippy --workspace --features wgpu
    (["--workspace", "--features", "wgpu"], False),      # cargo doc --workspace --features wgpu
    (["--workspace"], True),                             # cargo test --workspace
    (["-p", "sparse-losses"], True),
    (["-p", "sparse-autoencoders"], True),
]
# Host-side crates (proc macros and their dependencies) go in [build-dependencies] too.
HOST = {"proc-macro2", "syn", "quote", "derive_more-impl", "serde", "serde_core", "serde_derive"}


def resolve(args, dev):
    edges = "normal,build,dev" if dev else "normal,build"
    out = subprocess.run(
        ["cargo", "tree", *args, "-e", edges, "-f", "{p}|{f}", "--prefix", "none"],
        cwd=ROOT, check=True, capture_output=True, text=True).stdout
    feats = {}
    for line in out.splitlines():
        line = line.removesuffix(" (*)")
        if "|" not in line:
            continue
        pkg, f = line.split("|", 1)
        parts = pkg.split(" ")
        if len(parts) > 2 and parts[2].startswith("(/"):
            continue  # a workspace member
        key = (parts[0], parts[1].lstrip("v"))
        feats.setdefault(key, set()).update(x for x in f.split(",") if x)
    return feats


def differing():
    resolved = [resolve(a, d) for a, d in COMMANDS]
    diff = {}
    for key in set().union(*resolved):
        sets = [r[key] for r in resolved if key in r]
        if len({frozenset(s) for s in sets}) > 1:
            diff[key] = set().union(*sets)
    return diff


def read_hack():
    text = HACK.read_text()
    deps = {}
    block = text.split("[dependencies]\n", 1)[1].split("\n[build-dependencies]", 1)[0]
    for line in block.splitlines():
        m = re.match(r'^(\S+) = \{ (?:package = "([^"]+)", )?version = "([^"]+)"(.*)\}$', line)
        if not m:
            continue
        name = m.group(2) or m.group(1)
        feats = set(re.findall(r'"([^"]+)"', m.group(4).split("features =", 1)[-1])) \
            if "features" in m.group(4) else set()
        if "default-features = false" not in m.group(4):
            feats.add("default")
        deps[(name, m.group(3))] = feats
    return text, deps


def write_hack(deps):
    text, _ = read_hack()
    head = text.split("[dependencies]\n", 1)[0]
    names = [n for n, _ in deps]
    lines, host = [], []
    for (name, ver), feats in sorted(deps.items()):
        key = name if names.count(name) == 1 else f"{name}-{ver.replace('.', '-')}"
        s = f"{key} = {{ " + (f'package = "{name}", ' if key != name else "") + f'version = "{ver}"'
        if "default" not in feats:
            s += ", default-features = false"
        rest = sorted(feats - {"default"})
        if rest:
            s += ", features = [" + ", ".join(f'"{f}"' for f in rest) + "]"
        s += " }"
        lines.append(s)
        if name in HOST:
            host.append(s)
    HACK.write_text(head + "[dependencies]\n" + "\n".join(lines) + "\n\n[build-dependencies]\n"
                    + "\n".join(host) + "\n")


def main():
    check = "--check" in sys.argv
    for _ in range(10):
        diff = differing()
        if not diff:
            print("workspace-hack: every command resolves the same features")
            return 0
        if check:
            for (name, ver), feats in sorted(diff.items()):
                print(f"workspace-hack is stale: {name} {ver} resolves to different features "
                      f"across commands (union: {sorted(feats)})")
            print("run `python3 scripts/workspace_hack.py` and commit the result")
            return 1
        _, deps = read_hack()
        for key, feats in diff.items():
            deps[key] = deps.get(key, set()) | feats
        write_hack(deps)
    print("workspace-hack: did not converge in 10 rounds", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
