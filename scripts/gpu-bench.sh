#!/usr/bin/env bash
# gpu-bench.sh: Burn's GPU backends (a built sae-bench) against PyTorch on CUDA, side by side.
#
#   scripts/gpu-bench.sh [PATH-TO-sae-bench-BINARY]
#
# Needs no cargo and no network: build sae-bench beforehand (with the wgpu and/or cuda
# features) and bring the binary. Which binary: the argument, else $SAE_BENCH, else
# target/release/sae-bench, else $CARGO_TARGET_DIR/release/sae-bench.
#
# It runs, from the repository root:
#   sae-bench penalties --size $SIZE --backends wgpu,cuda --json OUT/rust-penalties.json
#   sae-bench step      --size $SIZE --backends wgpu,cuda [--shapes $SHAPES] --json OUT/rust-step.json
#     (sae-bench skips, with one line, a backend it was built without or that has no device;
#      step's --size gpu shapes: 256x784x1024, 4096x784x4096, 4096x768x24576)
# then, only when `python3 -c "import torch; assert torch.cuda.is_available()"` works,
#   python3 benches/python/torch_bench.py penalties --device cuda --size $SIZE --json OUT/torch-penalties.json
#   python3 benches/python/torch_bench.py step      --device cuda --size $SIZE [--shapes ...] --json OUT/torch-step.json
# and prints the merged tables (python3 benches/python/vs_torch.py --merge ...), also written to
# OUT/penalties.md and OUT/step.md. Without a CUDA PyTorch it prints the Burn tables alone,
# with one line saying why. It uses the system's python3 as it is and never creates a venv.
#
# Environment:
#   BENCH_OUT   folder for the JSON and Markdown files (default: $OUT when set, else a new
#               temporary folder; the path is printed at the end)
#   BACKENDS    Burn backends to ask for (default wgpu,cuda)
#   REPS, STEPS when set, passed to both sides (--reps for penalties, --steps for step)
#   SIZE        the shape preset, gpu (default) or cpu: small shapes, to check the script's
#               path on a software Vulkan device (lavapipe) or a small GPU
#   SHAPES      when set, step's shapes (BATCHxINPUTxHIDDEN, comma-separated), both sides
#   XDG_RUNTIME_DIR is set to a private temporary folder when unset (wgpu wants one).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

bin="${1:-}"
if [[ -z "$bin" ]]; then
    for candidate in "${SAE_BENCH:-}" target/release/sae-bench \
        "${CARGO_TARGET_DIR:+$CARGO_TARGET_DIR/release/sae-bench}"; do
        if [[ -n "$candidate" && -x "$candidate" ]]; then
            bin="$candidate"
            break
        fi
    done
fi
if [[ -z "$bin" || ! -x "$bin" ]]; then
    echo "gpu-bench: no sae-bench binary${bin:+ at $bin} (give its path, or set SAE_BENCH)" >&2
    exit 2
fi

out="${BENCH_OUT:-${OUT:-}}"
if [[ -z "$out" ]]; then
    out="$(mktemp -d -t gpu-bench.XXXXXX)"
fi
mkdir -p "$out"
if [[ -z "${XDG_RUNTIME_DIR:-}" ]]; then
    XDG_RUNTIME_DIR="$(mktemp -d -t xdg-runtime.XXXXXX)"
    export XDG_RUNTIME_DIR
    trap 'rm -rf "$XDG_RUNTIME_DIR"' EXIT
fi
backends="${BACKENDS:-wgpu,cuda}"
size="${SIZE:-gpu}"
case "$size" in
    gpu | cpu) ;;
    *)
        echo "gpu-bench: SIZE must be gpu or cpu, not '$size'" >&2
        exit 2
        ;;
esac
reps=(); steps=()
if [[ -n "${REPS:-}" ]]; then reps=(--reps "$REPS"); fi
if [[ -n "${STEPS:-}" ]]; then steps=(--steps "$STEPS"); fi
if [[ -n "${SHAPES:-}" ]]; then steps+=(--shapes "$SHAPES"); fi

run() {
    echo "+ $*" >&2
    "$@"
}

# The Rust side. Its own tables go to stderr; the merged ones below go to stdout.
rust_pen=("$bin" penalties --size "$size" --backends "$backends" ${reps[@]+"${reps[@]}"} --json "$out/rust-penalties.json")
rust_step=("$bin" step --size "$size" --backends "$backends" ${steps[@]+"${steps[@]}"} --json "$out/rust-step.json")
run "${rust_pen[@]}" >&2
run "${rust_step[@]}" >&2
pen_cmd=(--command "${rust_pen[*]}")
step_cmd=(--command "${rust_step[*]}")

if python3 -c "import torch; assert torch.cuda.is_available()" >/dev/null 2>&1; then
    run python3 benches/python/torch_bench.py penalties --device cuda --size "$size" ${reps[@]+"${reps[@]}"} \
        --json "$out/torch-penalties.json" >&2
    run python3 benches/python/torch_bench.py step --device cuda --size "$size" ${steps[@]+"${steps[@]}"} \
        --json "$out/torch-step.json" >&2
    python3 benches/python/vs_torch.py --merge "$out/rust-penalties.json" "$out/torch-penalties.json" \
        "${pen_cmd[@]}" --out "$out/penalties.md"
    echo
    python3 benches/python/vs_torch.py --merge "$out/rust-step.json" "$out/torch-step.json" "${step_cmd[@]}" \
        --out "$out/step.md"
else
    why="python3 -c 'import torch; assert torch.cuda.is_available()' failed: no PyTorch with CUDA on this machine"
    echo "PyTorch side skipped: $why"
    python3 benches/python/vs_torch.py --merge "$out/rust-penalties.json" --torch-missing "$why" \
        "${pen_cmd[@]}" --out "$out/penalties.md"
    echo
    python3 benches/python/vs_torch.py --merge "$out/rust-step.json" --torch-missing "$why" "${step_cmd[@]}" \
        --out "$out/step.md"
fi
echo
echo "gpu-bench: files in $out" >&2
