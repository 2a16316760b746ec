#!/usr/bin/env bash
# Grids on a lent GPU (docs/gpu.md, "Grids on a lent GPU"): one prepared command. It installs the
# carried wheels (.whl), builds the offline data the grids name, runs every grid through
# `surf-bench launch` at once (cells of one grid PARALLEL at a time, a remixer after its MixIT; the
# grids must not share a cell), stops them at a checkpoint at the deadline, and packs the results
# folder (scores, models, checkpoints, the launch logs; parts of 15 MiB) into $OUT. It exits 1 when a
# grid failed for another reason than the deadline (its log says which cell), after packing.
#   bash benchmarks/gpu_grids.sh RESULTS SECONDS PARALLEL GRID...      (RESULTS: the results root, carried)
# tests/test_gpu_grids.py runs it on a CPU with a smoke grid, so it is known to start.
set -u -o pipefail
results=$1 seconds=$2 parallel=$3; shift 3
out=${OUT:-/tmp/gpu_out}; mkdir -p "$out" "$results"
wheels=${WHEELS:-.whl}  # the carried wheels; a folder without wheels installs nothing (the CPU dry run)
if compgen -G "$wheels/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
        "$wheels"/*.whl || exit 1
fi
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU')"
datasets=$(python3 -c "import sys, yaml; print(' '.join(sorted({d for p in sys.argv[1:] for d in (yaml.safe_load(open(p)) or {}).get('datasets', ['mnist2-mini'])})))" "$@") || exit 1
for dataset in $datasets; do
    python3 -m surf_bench prepare "$dataset" | tail -n 3 || { echo "cannot build $dataset"; exit 1; }
done
start=$(date +%s)
pids=() logs=()
n=0
for grid in "$@"; do
    log="$results/launch_${n}_$(basename "$grid" .yaml).log"
    timeout -s INT -k 120 "$seconds" python3 -m surf_bench launch --params "$grid" --out "$results" \
        --max-parallel "$parallel" > "$log" 2>&1 &
    pids+=($!) logs+=("$log") n=$((n + 1))
done
failed=0
for i in "${!pids[@]}"; do
    wait "${pids[$i]}"; status=$?
    case $status in
        0) echo "grid ${logs[$i]}: finished" ;;
        124) echo "grid ${logs[$i]}: stopped at the deadline (its cells resume from their checkpoints)" ;;
        *) echo "grid ${logs[$i]}: failed (exit $status)"; failed=1 ;;
    esac
    tail -n 4 "${logs[$i]}"
done
echo "grids done or stopped after $(( $(date +%s) - start )) s"
find "$results" -name "metrics*.json" | sort | while read -r m; do
    python3 -c "import json, sys; d = json.load(open(sys.argv[1])); m = d.get('metrics', d); print(sys.argv[1], {k: round(v, 2) for k, v in m.items() if k.startswith('si_sdri') and isinstance(v, float)})" "$m"
done
find "$results" -name checkpoint.pt | sort | sed 's/^/  stopped: /'
tar -czf /tmp/results.tgz --exclude=.lock "$results" && split -b 15M -d /tmp/results.tgz "$out/results.tgz.part" || exit 1
ls -la "$out"
exit "$failed"
