#!/usr/bin/env bash
# The memory-bounded run of issue 21: `sae-mnist --data FILE.npy` on a file 3× larger than the
# memory the process may use (a cgroup v1 or v2 memory limit; needs root), TopK k 32 with 1,024
# latents for one epoch. Prints the exit status, the seconds and the cgroup's peak memory.
#
#   scripts/memory-bounded-run.sh [ROWS] [DIM] [LIMIT] [SAE_MNIST]
#   defaults: 1000000 rows of 768 floats (3.07 GB), a 1 GiB limit, target/release/sae-mnist;
#   BUFFER=N sets --buffer-rows (65536), HIDDEN=N the latents (1024); F16=1 writes the rows as
#   f16 (half the bytes), which sae-mnist converts to f32 a chunk at a time as it reads.
#
# Where no memory cgroup can be made (not root, a read-only cgroup fs) it says so and exits 0.
#
# The file is written by `sae-bench rows` (synthetic rows, a chunk at a time) into
# ${SCRATCH:-/var/tmp}, and removed after.
set -euo pipefail
rows=${1:-1000000}
dim=${2:-768}
limit=${3:-1G}
target=${CARGO_TARGET_DIR:-target}
sae=${4:-$target/release/sae-mnist}
bench=$target/release/sae-bench
scratch=${SCRATCH:-/var/tmp}/memory-bounded-$$
mkdir -p "$scratch"
trap 'rm -rf "$scratch"; [ -n "${cg:-}" ] && rmdir "$cg" 2>/dev/null || true' EXIT
[ -x "$bench" ] || cargo build --release -p sae-bench
file=$scratch/rows.npy
"$bench" rows "$file" --rows "$rows" --dim "$dim" ${F16:+--f16}
ls -l "$file"

# A memory cgroup below ours: v2 (memory.max) or v1 (memory.limit_in_bytes).
self=$(awk -F: '$2=="memory"{print $3}' /proc/self/cgroup)
if [ -n "$self" ] && [ -d "/sys/fs/cgroup/memory$self" ]; then
    cg=/sys/fs/cgroup/memory$self/sae-bounded-$$
    mkdir "$cg" 2>/dev/null || { cg=; echo "skipped: cannot make a memory cgroup (root and a writable cgroup fs are needed)"; exit 0; }
    echo "$limit" > "$cg/memory.limit_in_bytes"
    echo 0 > "$cg/memory.swappiness" 2>/dev/null || true
    peak_file=$cg/memory.max_usage_in_bytes
else
    self=$(awk -F: '$1=="0"{print $3}' /proc/self/cgroup)
    cg=/sys/fs/cgroup$self/sae-bounded-$$
    mkdir "$cg" 2>/dev/null || { cg=; echo "skipped: cannot make a memory cgroup (root and a writable cgroup fs are needed)"; exit 0; }
    echo "$limit" > "$cg/memory.max"
    echo 0 > "$cg/memory.swap.max" 2>/dev/null || true
    peak_file=$cg/memory.peak
fi
start=$(date +%s.%N)
set +e
sh -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' sh "$cg" \
    "$sae" --quiet --data "$file" --arch top_k --k 32 --hidden "${HIDDEN:-1024}" --epochs 1 \
    --buffer-rows "${BUFFER:-65536}" --out "$scratch/run"
status=$?
set -e
end=$(date +%s.%N)
echo "exit status $status, $(echo "$end - $start" | bc) s, peak memory of the cgroup $(( $(cat "$peak_file") / 1048576 )) MiB (limit $limit)"
[ -f "$scratch/run/metrics.json" ] && python3 -c "import json,sys; m=json.load(open(sys.argv[1])); print('test', {k: m['test'][k] for k in ('explained_variance','l0','rows')})" "$scratch/run/metrics.json"
exit $status
