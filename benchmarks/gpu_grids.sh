#!/usr/bin/env bash
# Grids on a lent GPU (docs/gpu.md, "Grids on a lent GPU"): one prepared command. It installs the
# carried wheels (.whl), builds the offline data the grids name, runs every grid through
# `surf-bench launch` at once (cells of one grid PARALLEL at a time, a remixer after its MixIT),
# stops them at a checkpoint at the deadline, and packs the results folder (scores, models,
# checkpoints, the launch logs; parts of 15 MiB) into $OUT.
#   bash benchmarks/gpu_grids.sh RESULTS SECONDS PARALLEL GRID...      (RESULTS: the results root, carried)
# tests/test_gpu_grids.py runs it on a CPU with a smoke grid, so it is known to start.
set -u
results=$1 seconds=$2 parallel=$3; shift 3
out=${OUT:-/tmp/gpu_out}; mkdir -p "$out" "$results"
wheels=${WHEELS:-.whl}  # the carried wheels; a folder that is not there installs nothing (the CPU dry run)
[ -d "$wheels" ] && { python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$wheels"/*.whl || exit 1; }
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
sb() { python3 -m surf_bench "$@"; }
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU')"
for dataset in $(python3 -c "import sys, yaml; print(' '.join(sorted({d for p in sys.argv[1:] for d in yaml.safe_load(open(p))['datasets']})))" "$@"); do
    sb prepare "$dataset" | tail -3
done
start=$(date +%s)
for grid in "$@"; do
    timeout -s INT "$seconds" python3 -m surf_bench launch --params "$grid" --out "$results" \
        --max-parallel "$parallel" > "$results/launch_$(basename "$grid" .yaml).log" 2>&1 &
done
wait
echo "grids done or stopped after $(( $(date +%s) - start )) s"
tail -n 4 "$results"/launch_*.log
find "$results" -name "metrics*.json" | sort | while read -r m; do
    python3 -c "import json, sys; d = json.load(open(sys.argv[1])); m = d.get('metrics', d); print(sys.argv[1], {k: round(v, 2) for k, v in m.items() if k.startswith('si_sdri') and isinstance(v, float)})" "$m"
done
find "$results" -name train_log.csv -o -name checkpoint.pt | sort | sed 's/^/  /'
tar -czf /tmp/results.tgz --exclude=.lock "$results"
split -b 15M -d /tmp/results.tgz "$out/results.tgz.part"
ls -la "$out"
